package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
)

func TestSignUpRefusesBadInputAndWritesNothing(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			signUp(t, base, "taken@example.com")
			tooYoung := time.Now().UTC().AddDate(-16, 0, 1).Format(time.DateOnly)
			tests := []struct {
				name   string
				change map[string]any
				want   string
			}{
				{"under 16", map[string]any{"birthDate": tooYoung}, "TOO_YOUNG@input.birthDate"},
				{"born in the future", map[string]any{"birthDate": "2099-01-01"}, "INVALID@input.birthDate"},
				{"duplicate email in another case", map[string]any{"email": "TAKEN@Example.COM"}, "TAKEN@input.email"},
				{"wrong policy version", map[string]any{"acceptPolicyVersion": "0.9"}, "POLICY_NOT_ACCEPTED@input.acceptPolicyVersion"},
				{"malformed email", map[string]any{"email": "not-an-email"}, "INVALID@input.email"},
				{"email with a display name", map[string]any{"email": "Ann <ann@example.com>"}, "INVALID@input.email"},
				{"short password", map[string]any{"password": "short"}, "INVALID@input.password"},
				{"empty name", map[string]any{"name": "   "}, "INVALID@input.name"},
				{"malformed phone", map[string]any{"phone": "12345"}, "INVALID@input.phone"},
				{"bad website", map[string]any{"business": map[string]any{"website": "javascript:alert(1)"}}, "INVALID@input.business.website"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					in := signUpInput("new-" + strings.ReplaceAll(tt.name, " ", "-") + "@example.com")
					for k, v := range tt.change {
						in[k] = v
					}
					r := gql(t, base, "", signUpMutation, map[string]any{"i": in})
					if len(r.Errors) > 0 {
						t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
					}
					got := userErrorCodes(get(r.Data, "signUp"))
					if !slices.Contains(got, tt.want) {
						t.Fatalf("userErrors = %v; want %s", got, tt.want)
					}
					if get(r.Data, "signUp", "token") != nil || get(r.Data, "signUp", "account") != nil {
						t.Fatalf("refused sign-up returned a token or account: %+v", r.Data)
					}
					lr := gql(t, base, "", `mutation($e: String!) { logIn(input: {email: $e, password: "correct horse battery"}) { token } }`,
						map[string]any{"e": in["email"]})
					if tt.want != "TAKEN@input.email" && str(lr.Data, "logIn", "token") != "" {
						t.Fatal("the refused account exists: it can log in")
					}
				})
			}
		})
	}
}

func TestLogInAndSessions(t *testing.T) {
	base := startServer(t, nil)
	token, id := signUp(t, base, "ann@example.com")

	r := gql(t, base, token, `{ viewer { id email status consents { policyVersion acceptedAt ip } } }`, nil)
	if str(r.Data, "viewer", "id") != id || str(r.Data, "viewer", "consents", 0, "policyVersion") != "1.0" ||
		str(r.Data, "viewer", "consents", 0, "ip") != "127.0.0.1" {
		t.Fatalf("viewer = %+v", r)
	}

	logIn := `mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { token userErrors { field code } } }`
	t.Run("unknown email and wrong password look the same", func(t *testing.T) {
		a := gql(t, base, "", logIn, map[string]any{"e": "nobody@example.com", "p": "correct horse battery"})
		b := gql(t, base, "", logIn, map[string]any{"e": "ann@example.com", "p": "wrong password!"})
		ua, ub := userErrorCodes(get(a.Data, "logIn")), userErrorCodes(get(b.Data, "logIn"))
		if !slices.Equal(ua, ub) || len(ua) != 1 || !strings.HasPrefix(ua[0], "WRONG_CREDENTIALS") {
			t.Fatalf("unknown email %v, wrong password %v; want the same WRONG_CREDENTIALS", ua, ub)
		}
	})
	t.Run("email in another case logs in", func(t *testing.T) {
		r := gql(t, base, "", logIn, map[string]any{"e": "ANN@EXAMPLE.COM", "p": "correct horse battery"})
		if str(r.Data, "logIn", "token") == "" {
			t.Fatalf("logIn = %+v", r)
		}
	})
	t.Run("session after logOut is refused", func(t *testing.T) {
		r := gql(t, base, "", logIn, map[string]any{"e": "ann@example.com", "p": "correct horse battery"})
		tok := str(r.Data, "logIn", "token")
		if out := gql(t, base, tok, `mutation { logOut }`, nil); get(out.Data, "logOut") != true {
			t.Fatalf("logOut = %+v", out)
		}
		after := gql(t, base, tok, `{ viewer { id } }`, nil)
		if after.Status != http.StatusUnauthorized || after.code() != "UNAUTHENTICATED" {
			t.Fatalf("after logOut: %d %+v", after.Status, after.Errors)
		}
		if still := gql(t, base, token, `{ viewer { id } }`, nil); str(still.Data, "viewer", "id") != id {
			t.Fatal("logging out one session ended another")
		}
	})
	t.Run("logOut needs a session", func(t *testing.T) {
		if r := gql(t, base, "", `mutation { logOut }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("logOut without credentials: %+v", r.Errors)
		}
	})
	t.Run("login attempts are rate limited per email", func(t *testing.T) {
		signUp(t, base, "target@example.com")
		var last *gqlResponse
		for i := 0; i < 12; i++ {
			last = gql(t, base, "", logIn, map[string]any{"e": "target@example.com", "p": "guess number " + fmt.Sprint(i)})
			if last.code() == "RATE_LIMITED" {
				break
			}
		}
		if last.code() != "RATE_LIMITED" {
			t.Fatalf("12 wrong passwords were not rate limited: %+v", last)
		}
		if ms, _ := last.Errors[0].Extensions["retryAfterMs"].(float64); ms <= 0 || ms > 60_000 {
			t.Fatalf("retryAfterMs = %v", last.Errors[0].Extensions["retryAfterMs"])
		}
	})
}

const createKey = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  secret apiKey { id name prefix scopes expiresAt } userErrors { field code message } } }`

func TestAPIKeys(t *testing.T) {
	base := startServer(t, nil)
	token, id := signUp(t, base, "keys@example.com")

	r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "ci", "scopes": []string{"READ"}}})
	secret, keyID := str(r.Data, "createApiKey", "secret"), str(r.Data, "createApiKey", "apiKey", "id")
	if !strings.HasPrefix(secret, "apiws_") || !strings.HasPrefix(secret, str(r.Data, "createApiKey", "apiKey", "prefix")) {
		t.Fatalf("createApiKey = %+v", r)
	}

	t.Run("a key reads its account and is listed without its secret", func(t *testing.T) {
		r := gql(t, base, secret, `{ viewer { id apiKeys { id prefix lastUsedAt } } }`, nil)
		if str(r.Data, "viewer", "id") != id || str(r.Data, "viewer", "apiKeys", 0, "id") != keyID {
			t.Fatalf("viewer with key = %+v", r)
		}
		if get(r.Data, "viewer", "apiKeys", 0, "lastUsedAt") == nil {
			t.Fatal("lastUsedAt not set after use")
		}
	})
	t.Run("an API key cannot call a dashboard-only mutation", func(t *testing.T) {
		r := gql(t, base, secret, createKey, map[string]any{"i": map[string]any{"name": "x", "scopes": []string{"SEND"}}})
		if r.code() != "FORBIDDEN" {
			t.Fatalf("createApiKey with an API key: %+v", r)
		}
		if n := len(get(gql(t, base, token, `{ viewer { apiKeys { id } } }`, nil).Data, "viewer", "apiKeys").([]any)); n != 1 {
			t.Fatalf("%d keys after the refused create", n)
		}
	})
	t.Run("an API key cannot change the account", func(t *testing.T) {
		r := gql(t, base, secret, `mutation { updateAccount(input: {name: "Mallory"}) { account { name } } }`, nil)
		if r.code() != "FORBIDDEN" {
			t.Fatalf("updateAccount with an API key: %+v", r)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		for _, tt := range []struct {
			in   map[string]any
			want string
		}{
			{map[string]any{"name": "", "scopes": []string{"READ"}}, "INVALID@input.name"},
			{map[string]any{"name": "x", "scopes": []string{}}, "INVALID@input.scopes"},
			{map[string]any{"name": "x", "scopes": []string{"READ"}, "expiresAt": past}, "INVALID@input.expiresAt"},
		} {
			r := gql(t, base, token, createKey, map[string]any{"i": tt.in})
			if got := userErrorCodes(get(r.Data, "createApiKey")); !slices.Contains(got, tt.want) || get(r.Data, "createApiKey", "secret") != nil {
				t.Errorf("createApiKey(%v) userErrors = %v; want %s and no secret", tt.in, got, tt.want)
			}
		}
	})
	t.Run("malformed, mistyped and unknown keys are refused", func(t *testing.T) {
		mistyped := secret[:10] + string(rune(secret[10]^1)) + secret[11:]
		for _, bad := range []string{"apiws_nope", mistyped, "apiws_" + strings.Repeat("A", 38), "Basic abc"} {
			r := gql(t, base, bad, `{ viewer { id } }`, nil)
			if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
				t.Errorf("token %q: %d %+v", bad, r.Status, r.Errors)
			}
		}
	})
	t.Run("revoked key is refused", func(t *testing.T) {
		r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "tmp", "scopes": []string{"READ"}}})
		s, kid := str(r.Data, "createApiKey", "secret"), str(r.Data, "createApiKey", "apiKey", "id")
		rv := gql(t, base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } userErrors { code } } }`, map[string]any{"id": kid})
		if get(rv.Data, "revokeApiKey", "apiKey", "revokedAt") == nil {
			t.Fatalf("revokeApiKey = %+v", rv)
		}
		if r := gql(t, base, s, `{ viewer { id } }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("revoked key: %+v", r)
		}
	})
	t.Run("another account's key is not found", func(t *testing.T) {
		other, _ := signUp(t, base, "other@example.com")
		rv := gql(t, base, other, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } userErrors { field code } } }`, map[string]any{"id": keyID})
		if got := userErrorCodes(get(rv.Data, "revokeApiKey")); !slices.Equal(got, []string{"NOT_FOUND@id"}) {
			t.Fatalf("revoking another account's key: %v", got)
		}
		if n := gql(t, base, other, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": keyID}); get(n.Data, "node") != nil {
			t.Fatalf("node(another account's key) = %+v", n.Data)
		}
		if r := gql(t, base, secret, `{ viewer { id } }`, nil); str(r.Data, "viewer", "id") != id {
			t.Fatal("the key stopped working after another account tried to revoke it")
		}
	})
}

func TestScopesAndOperators(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"APIWS_DATABASE_URL": dir + "/apiws.db"}
	base := startServer(t, env)
	token, id := signUp(t, base, "scoped@example.com")

	// An operator key made by the CLI while the server runs on the same file.
	var out bytes.Buffer
	getenv := func(k string) string { return env[k] }
	if err := run(t.Context(), []string{"operator-key", "create", "--name", "ops"}, getenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(out.String())
	if !strings.HasPrefix(op, "apiwsop_") {
		t.Fatalf("operator-key create printed %q", op)
	}

	r := gql(t, base, op, `{ accounts(first: 10, search: "scoped") { totalCount edges { node { id email } } pageInfo { hasNextPage } } }`, nil)
	if get(r.Data, "accounts", "totalCount") != float64(1) || str(r.Data, "accounts", "edges", 0, "node", "id") != id {
		t.Fatalf("accounts as operator = %+v", r)
	}
	if r := gql(t, base, token, `{ accounts { totalCount } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("accounts as an account: %+v", r)
	}
	if r := gql(t, base, "", `{ accounts { totalCount } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("accounts without credentials: %+v", r)
	}

	send := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "sender", "scopes": []string{"SEND"}}})
	sendOnly := str(send.Data, "createApiKey", "secret")
	if r := gql(t, base, sendOnly, `{ viewer { apiKeys { id } } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("listing keys with a SEND-only key: %+v", r)
	}
}

func TestLimits(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "limits@example.com")

	t.Run("deep query", func(t *testing.T) {
		if r := gql(t, base, token, "{ "+nestedIntrospection(10)+" }", nil); len(r.Errors) > 0 {
			t.Fatalf("a 13-level query was refused: %+v", r.Errors)
		}
		deep := "{ viewer { id } " + nestedIntrospection(16) + " }"
		r := gql(t, base, token, deep, nil)
		if r.code() != "COMPLEXITY_LIMIT" || r.Data != nil {
			t.Fatalf("a 17-level query: %+v", r)
		}
	})
	t.Run("too many aliases", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{ ")
		for i := 0; i < 101; i++ {
			fmt.Fprintf(&b, "a%d: privacyPolicy { version } ", i)
		}
		b.WriteString("}")
		if r := gql(t, base, "", b.String(), nil); r.code() != "COMPLEXITY_LIMIT" {
			t.Fatalf("101 aliases: %+v", r.Errors)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := []byte(`{"query":"{ privacyPolicy { version } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`)
		if r := gqlRaw(t, base, token, big); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 2 MiB body without media: HTTP %d", r.Status)
		}
		huge := bytes.Repeat([]byte("media"), 7<<20)
		if r := gqlRaw(t, base, token, huge); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 35 MiB body: HTTP %d", r.Status)
		}
	})
	t.Run("GET runs queries only", func(t *testing.T) {
		resp, err := http.Get(base + "/graphql?query=" + urlQueryEscape(`{ privacyPolicy { version } }`))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET query: %v %v", resp, err)
		}
		resp.Body.Close()
		resp, err = http.Get(base + "/graphql?query=" + urlQueryEscape(`mutation { logOut }`))
		if err != nil || resp.StatusCode == http.StatusOK && !bodyHasErrors(resp) {
			t.Fatalf("GET mutation ran: %v %v", resp, err)
		}
	})
}

// nestedIntrospection returns a selection n levels deep through the schema's
// own types, which nest without limit.
func nestedIntrospection(n int) string {
	q := "name"
	for i := 0; i < n; i++ {
		q = "ofType { " + q + " }"
	}
	return `__type(name: "Account") { fields { type { ` + q + ` } } }`
}

func TestNoSecretInClearInTheDatabase(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			e := env(t)
			if e == nil {
				e = map[string]string{"APIWS_DATABASE_URL": t.TempDir() + "/apiws.db"}
			}
			base := startServer(t, e)
			const password = "correct horse battery"
			token, _ := signUp(t, base, "secret@example.com")
			r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "k", "scopes": []string{"READ"}}})
			secret := str(r.Data, "createApiKey", "secret")
			db, err := storage.Open(t.Context(), e["APIWS_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, needle := range []string{password, token, secret, token[7:20], secret[6:20]} {
				if where := findInDatabase(t, db, needle); where != "" {
					t.Errorf("%q found in clear in %s", needle, where)
				}
			}
			if where := findInDatabase(t, db, "secret@example.com"); where == "" {
				t.Fatal("the scan finds nothing at all: it is broken")
			}
		})
	}
}

// findInDatabase scans every column of every table (as text) for needle and
// returns "table.column" of the first hit.
func findInDatabase(t *testing.T, db *storage.DB, needle string) string {
	t.Helper()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.Dialect == storage.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.SQL().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, table := range tables {
		rows, err := db.SQL().Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var s string
				switch x := v.(type) {
				case []byte:
					s = string(x)
				case nil:
				default:
					s = fmt.Sprint(x)
				}
				if strings.Contains(s, needle) {
					rows.Close()
					return table + "." + cols[i]
				}
			}
		}
		rows.Close()
	}
	return ""
}

func TestUpdateAccount(t *testing.T) {
	base := startServer(t, nil)
	token, id := signUp(t, base, "rect@example.com")
	signUp(t, base, "taken2@example.com")
	update := `mutation($i: UpdateAccountInput!) { updateAccount(input: $i) {
	  account { name email phone business { name country website } } userErrors { field code message } } }`

	r := gql(t, base, token, update, map[string]any{"i": map[string]any{
		"name": "Ann Rectified", "phone": "+1 (415) 555-0123", "business": map[string]any{"name": "Acme", "country": "de"}}})
	acc := get(r.Data, "updateAccount", "account")
	if str(acc, "name") != "Ann Rectified" || str(acc, "phone") != "+14155550123" || str(acc, "business", "country") != "DE" {
		t.Fatalf("updateAccount = %+v", r)
	}
	for _, tt := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"email": "TAKEN2@example.com", "currentPassword": "correct horse battery"}, "TAKEN@input.email"},
		{map[string]any{"email": "nope"}, "INVALID@input.email"},
		{map[string]any{"phone": "+1 555"}, "INVALID@input.phone"},
		{map[string]any{"name": "Changed", "business": map[string]any{"country": "Germany"}}, "INVALID@input.business.country"},
	} {
		r := gql(t, base, token, update, map[string]any{"i": tt.in})
		if got := userErrorCodes(get(r.Data, "updateAccount")); !slices.Contains(got, tt.want) {
			t.Errorf("updateAccount(%v) = %v; want %s", tt.in, got, tt.want)
		}
	}
	r = gql(t, base, token, `query($id: ID!) { node(id: $id) { id ... on Account { name email phone } } }`, map[string]any{"id": id})
	if str(r.Data, "node", "name") != "Ann Rectified" || str(r.Data, "node", "email") != "rect@example.com" {
		t.Fatalf("refused updates changed the account: %+v", r.Data)
	}
	other, _ := signUp(t, base, "nosy@example.com")
	if r := gql(t, base, other, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}); get(r.Data, "node") != nil || len(r.Errors) > 0 {
		t.Fatalf("node(another account) = %+v", r)
	}
	if r := gql(t, base, "", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("node without credentials = %+v", r)
	}
}

func TestAcceptPolicy(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "policy@example.com")
	r := gql(t, base, token, `mutation { acceptPolicy(version: "9.9") { account { id } userErrors { field code } } }`, nil)
	if got := userErrorCodes(get(r.Data, "acceptPolicy")); !slices.Equal(got, []string{"NOT_FOUND@version"}) {
		t.Fatalf("acceptPolicy(unknown) = %v", got)
	}
	r = gql(t, base, token, `mutation { acceptPolicy(version: "1.0") { account { consents { policyVersion } } userErrors { code } } }`, nil)
	if n := len(get(r.Data, "acceptPolicy", "account", "consents").([]any)); n != 2 {
		t.Fatalf("consents after acceptPolicy: %d (%+v)", n, r)
	}
	r = gql(t, base, "", `{ policyVersions { version material } }`, nil)
	if str(r.Data, "policyVersions", 0, "version") != "1.0" {
		t.Fatalf("policyVersions = %+v", r)
	}
}

func TestProductionMode(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_ENV": "production"})
	if r := gql(t, base, "", `{ __schema { types { name } } }`, nil); len(r.Errors) == 0 {
		t.Fatal("introspection answered in production")
	}
	r := gql(t, base, "", `{ privacyPolic { version } }`, nil)
	if len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("field suggestion in production: %+v", r.Errors)
	}
	resp, err := http.Get(base + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/playground in production: %d", resp.StatusCode)
	}
	if r := gql(t, base, "", `{ privacyPolicy { version } }`, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("queries stopped working in production: %+v", r)
	}
}

func TestDevelopmentSuggestsFields(t *testing.T) {
	base := startServer(t, nil)
	r := gql(t, base, "", `{ privacyPolic { version } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("no suggestion outside production: %+v", r.Errors)
	}
}

func TestReadiness(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_REDIS_URL": "redis://127.0.0.1:1/0"})
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with Redis unreachable: %d", resp.StatusCode)
	}
	if r := gql(t, base, "", `{ privacyPolicy { version } }`, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("queries fail with Redis down: %+v", r)
	}
	if len(metricLines(t, base, `apiws_graphql_operations_total{type="query"}`)) != 1 {
		t.Fatal("/metrics lacks the operation counter")
	}
}

func TestPlaygroundIsServedOffline(t *testing.T) {
	base := startServer(t, nil)
	resp, err := http.Get(base + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("/playground: %d %v", resp.StatusCode, resp.Header)
	}
	for _, ref := range []string{"https://", "http://"} {
		if strings.Contains(string(body), `src="`+ref) || strings.Contains(string(body), `href="`+ref) {
			t.Fatalf("the playground loads from another origin: %s", body)
		}
	}
}

// Rate limits kept in Redis are shared by the servers with the same key
// prefix and by no other: test servers, each test's own, do not carry
// limits over to the next test on the shared Redis.
func TestRateLimitsArePerRedisKeyPrefix(t *testing.T) {
	env := map[string]string{"APIWS_REDIS_URL": sharedRedisURL()}
	first, sibling := startServer(t, env), startServer(t, env)
	env["APIWS_REDIS_KEY_PREFIX"] = "apiws-test:" + rand.Text() + ":"
	stranger := startServer(t, env)

	const logIn = `mutation($e: String!) { logIn(input: {email: $e, password: "not the password"}) { token } }`
	email := strings.ToLower(rand.Text()) + "@example.com"
	limited := func(base string) bool {
		return gql(t, base, "", logIn, map[string]any{"e": email}).code() == "RATE_LIMITED"
	}
	for i := 0; !limited(first); i++ {
		if i == 20 {
			t.Fatal("20 log-ins of one email were not rate limited")
		}
	}
	if !limited(sibling) {
		t.Error("a server with the same key prefix does not share the limit")
	}
	if limited(stranger) {
		t.Error("a server with another key prefix shares the limit")
	}
}

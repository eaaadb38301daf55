package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// accountSelection selects every field of Account, as the schema has it
// now (introspection), with a __typename under object fields: a field added
// later is covered without changing the test.
func accountSelection(t *testing.T, base string) (selection string, fields []string) {
	t.Helper()
	r := gql(t, base, "", `{ __type(name: "Account") { fields { name
	  type { kind ofType { kind ofType { kind ofType { kind } } } }
	  args { name type { kind } } } } }`, nil)
	list, _ := get(r.Data, "__type", "fields").([]any)
	if len(list) == 0 {
		t.Fatalf("introspection of Account = %+v", r)
	}
	argValues := map[string]string{"from": `"2026-12-01T00:00:00Z"`, "to": `"2026-12-02T00:00:00Z"`}
	var parts []string
	for _, f := range list {
		name := str(f, "name")
		fields = append(fields, name)
		var args []string
		for _, a := range get(f, "args").([]any) {
			if str(a, "type", "kind") != "NON_NULL" {
				continue
			}
			v, ok := argValues[str(a, "name")]
			if !ok {
				t.Fatalf("Account.%s has a required argument %s this test does not know", name, str(a, "name"))
			}
			args = append(args, str(a, "name")+": "+v)
		}
		sel := name
		if len(args) > 0 {
			sel += "(" + strings.Join(args, ", ") + ")"
		}
		kind := get(f, "type")
		for str(kind, "kind") == "NON_NULL" || str(kind, "kind") == "LIST" {
			kind = get(kind, "ofType")
		}
		switch str(kind, "kind") {
		case "OBJECT", "INTERFACE", "UNION":
			sel += " { __typename }"
		}
		parts = append(parts, sel)
	}
	sort.Strings(fields)
	return strings.Join(parts, " "), fields
}

func TestAuthPayloadsResolveEveryAccountFieldAsTheNewSession(t *testing.T) {
	base := startServer(t, nil)
	sel, fields := accountSelection(t, base)
	check := func(t *testing.T, r *gqlResponse, payload string) string {
		t.Helper()
		if len(r.Errors) > 0 {
			t.Fatalf("%s selecting every Account field: errors %+v", payload, r.Errors)
		}
		acc, _ := get(r.Data, payload, "account").(map[string]any)
		var got []string
		for k := range acc {
			got = append(got, k)
		}
		sort.Strings(got)
		if !slices.Equal(got, fields) {
			t.Fatalf("%s account has fields %v; want %v", payload, got, fields)
		}
		token := str(r.Data, payload, "token")
		viewer := gql(t, base, token, `{ viewer { id name email consents { policyVersion } apiKeys { id } } }`, nil)
		if len(viewer.Errors) > 0 || str(viewer.Data, "viewer", "id") != str(acc, "id") || str(viewer.Data, "viewer", "email") != str(acc, "email") ||
			str(viewer.Data, "viewer", "consents", 0, "policyVersion") != "1.0" || len(get(acc, "consents").([]any)) != 1 {
			t.Fatalf("%s account %v; the session's viewer %+v", payload, acc, viewer)
		}
		return token
	}

	r := gql(t, base, "", `mutation($i: SignUpInput!) { signUp(input: $i) { token account { `+sel+` } userErrors { code } } }`,
		map[string]any{"i": signUpInput("payload@example.com")})
	token := check(t, r, "signUp")

	r = gql(t, base, "", `mutation { logIn(input: {email: "payload@example.com", password: "correct horse battery"}) { token account { `+sel+` } userErrors { code } } }`, nil)
	check(t, r, "logIn")

	r = gql(t, base, token, `mutation { changePassword(input: {currentPassword: "correct horse battery", newPassword: "a new horse battery"}) { token account { `+sel+` } userErrors { code } } }`, nil)
	check(t, r, "changePassword")

	t.Run("a refused logIn has no account", func(t *testing.T) {
		r := gql(t, base, "", `mutation { logIn(input: {email: "payload@example.com", password: "wrong password!"}) { token account { `+sel+` } userErrors { code } } }`, nil)
		if len(r.Errors) > 0 || get(r.Data, "logIn", "account") != nil || str(r.Data, "logIn", "userErrors", 0, "code") != "WRONG_CREDENTIALS" {
			t.Fatalf("wrong password = %+v", r)
		}
	})
	t.Run("the payload's session does not reach the rest of the operation", func(t *testing.T) {
		r := gql(t, base, "", `mutation { logIn(input: {email: "payload@example.com", password: "a new horse battery"}) { token } logOut }`, nil)
		// logOut is non-null: its error nulls the whole data.
		if r.code() != "UNAUTHENTICATED" || len(r.Errors) != 1 || fmt.Sprint(r.Errors[0].Path) != "[logOut]" {
			t.Fatalf("logIn then logOut in one anonymous request = %+v", r)
		}
	})
}

func TestPersonalDataNeedsTheReadScope(t *testing.T) {
	base := startServer(t, nil)
	token, id := signUp(t, base, "scopes@example.com")
	personal := []string{"name", "email", "phone", "business { name }"}
	for _, scopes := range [][]string{{"SEND"}, {"MANAGE_NUMBERS"}, {"SEND", "MANAGE_NUMBERS"}} {
		key := apiKey(t, base, token, scopes...)
		for _, f := range personal {
			r := gql(t, base, key, `{ viewer { id `+f+` } }`, nil)
			if r.code() != "FORBIDDEN" {
				t.Errorf("a %v key reading viewer.%s = %+v; want FORBIDDEN", scopes, f, r)
			}
		}
		if r := gql(t, base, key, `{ viewer { id status } }`, nil); len(r.Errors) > 0 || str(r.Data, "viewer", "id") != id {
			t.Errorf("a %v key reading viewer { id status } = %+v", scopes, r)
		}
	}
	read := apiKey(t, base, token, "READ")
	r := gql(t, base, read, `{ viewer { name email phone business { name } } }`, nil)
	if len(r.Errors) > 0 || str(r.Data, "viewer", "email") != "scopes@example.com" {
		t.Fatalf("a READ key reading personal data = %+v", r)
	}
}

func TestPairingNeedsManageNumbers(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "pairscope@example.com")
	id := connectSandbox(t, base, token)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for _, scopes := range [][]string{{"READ"}, {"READ", "SEND"}} {
			ws := openWS(t, base, proto, apiKey(t, base, token, scopes...))
			ws.subscribe("p", pairingSub, map[string]any{"id": id})
			m := ws.next("p")
			code := str(m, "payload", 0, "extensions", "code")
			if code == "" {
				code = str(m, "payload", "errors", 0, "extensions", "code")
			}
			if code != "FORBIDDEN" {
				t.Errorf("%s: pairing with a %v key = %v; want FORBIDDEN", proto, scopes, m)
			}
		}
		ws := openWS(t, base, proto, apiKey(t, base, token, "MANAGE_NUMBERS"))
		ws.subscribe("p", pairingSub, map[string]any{"id": id})
		if d := ws.data("p"); str(d, "pairing", "__typename") == "" {
			t.Errorf("%s: pairing with a MANAGE_NUMBERS key = %v", proto, d)
		}
	}
}

func TestAPICallKeysAreLoadedInOneBatch(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "callkeys@example.com")
	var keys []string
	for i := 0; i < 5; i++ {
		keys = append(keys, apiKey(t, base, token, "READ"))
	}
	for i := 0; i < 60; i++ {
		gql(t, base, keys[i%len(keys)], `{ viewer { id } }`, nil)
	}
	// Read by a key, so the newest calls (these reads among them) all
	// have one.
	page := `query($n: Int) { viewer { apiCalls(first: $n) { totalCount edges { node { id apiKey { id name lastUsedAt } } } } } }`
	eventually(t, "the 60 calls logged", 15*time.Second, func() bool {
		r := gql(t, base, keys[0], page, map[string]any{"n": 100})
		n, _ := get(r.Data, "viewer", "apiCalls", "totalCount").(float64)
		return n >= 60
	})
	statements := func(n int) float64 {
		best := -1.0
		for i := 0; i < 10; i++ { // the fewest of ten: background work may add to some
			before := metric(t, base, "apiws_db_statements_total")
			r := gql(t, base, keys[0], page, map[string]any{"n": n})
			edges, _ := get(r.Data, "viewer", "apiCalls", "edges").([]any)
			withKey := 0
			for _, e := range edges {
				if str(e, "node", "apiKey", "id") != "" {
					withKey++
				}
			}
			if len(r.Errors) > 0 || len(edges) != n || withKey != n {
				t.Fatalf("page of %d: %d edges, %d with their key: %+v", n, len(edges), withKey, r)
			}
			d := metric(t, base, "apiws_db_statements_total") - before
			if best < 0 || d < best {
				best = d
			}
		}
		return best
	}
	if five, fifty := statements(5), statements(50); five != fifty {
		t.Fatalf("a page of 5 API calls with their keys takes %v statements, a page of 50 %v", five, fifty)
	}
}

func TestHiddenSenderHasNoPeerButItsLID(t *testing.T) {
	env, sink := privacyEnv(t, nil)
	base := startServer(t, env)
	token, accID := signUp(t, base, "hidden@example.com")
	num := connectedNumber(t, base, token)
	db, err := storage.Open(t.Context(), serverOf(t, base).dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Now().UTC()
	lid := "100015550100001"
	for _, m := range []*apiws.Message{
		{ID: apiws.NewID(apiws.PrefixMessage), AccountID: accID, NumberID: num, Direction: apiws.Inbound, Peer: "", PeerLID: &lid,
			Kind: apiws.KindText, Status: apiws.StatusReceived, ReceivedAt: &at},
		{ID: apiws.NewID(apiws.PrefixMessage), AccountID: accID, NumberID: num, Direction: apiws.Inbound, Peer: "+14155550123",
			Kind: apiws.KindText, Status: apiws.StatusReceived, ReceivedAt: &at},
	} {
		if _, err := db.InsertInbound(t.Context(), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := gql(t, base, token, `{ viewer { messages(first: 10) { edges { node { peer peerLid } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("messages = %+v", r)
	}
	got := map[string]any{}
	for _, e := range get(r.Data, "viewer", "messages", "edges").([]any) {
		got[fmt.Sprint(get(e, "node", "peerLid"))] = get(e, "node", "peer")
	}
	if p, ok := got[lid]; !ok || p != nil {
		t.Errorf("the hidden sender's message: peer %v (want null), lid present %v; all %v", p, ok, got)
	}
	if got["<nil>"] != "+14155550123" {
		t.Errorf("the known sender's message: peer %v, want +14155550123; all %v", got["<nil>"], got)
	}

	t.Run("the export says the same", func(t *testing.T) {
		pr := carryOut(t, base, sink, token, "hidden@example.com", "ACCESS", false)
		status, body := download(t, base, str(pr, "downloadUrl"), token)
		var doc map[string]any
		if status != http.StatusOK || json.Unmarshal(body, &doc) != nil {
			t.Fatalf("export: %d %s", status, body)
		}
		peers := map[string]any{}
		for _, m := range get(doc, "messages").([]any) {
			peers[fmt.Sprint(get(m, "peerLid"))] = get(m, "peer")
		}
		if p, ok := peers[lid]; !ok || p != nil || peers["<nil>"] != "+14155550123" {
			t.Fatalf("exported messages' peers by LID: %v", peers)
		}
	})
}

// emailCode waits for the email change mail to the address and returns
// its code.
func emailCode(t *testing.T, sink *smtpSink, to string) string {
	t.Helper()
	m := sink.waitMail(t, to, "Confirm the new email of your apiws account")
	c := codePattern.FindStringSubmatch(m.Data)
	if c == nil {
		t.Fatalf("no code in the mail: %s", m.Data)
	}
	return c[1]
}

func TestChangePassword(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env, sink := privacyEnv(t, dbEnv(t))
			testChangePassword(t, startServer(t, env), sink)
		})
	}
}

func testChangePassword(t *testing.T, base string, sink *smtpSink) {
	token, id := signUp(t, base, "pw@example.com")
	logIn := `mutation($p: String!) { logIn(input: {email: "pw@example.com", password: $p}) { token userErrors { code } } }`
	other := str(gql(t, base, "", logIn, map[string]any{"p": "correct horse battery"}).Data, "logIn", "token")
	key := apiKey(t, base, token, "READ")
	change := `mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) {
	  token account { id name } userErrors { field code } } }`

	for _, tt := range []struct {
		name, current, next, want string
	}{
		{"a wrong current password", "wrong password!", "a new horse battery", "WRONG_CREDENTIALS@input.currentPassword"},
		{"a short new password", "correct horse battery", "short", "INVALID@input.newPassword"},
		{"a too long new password", "correct horse battery", strings.Repeat("x", 257), "INVALID@input.newPassword"},
	} {
		t.Run(tt.name+" changes nothing", func(t *testing.T) {
			r := gql(t, base, token, change, map[string]any{"c": tt.current, "n": tt.next})
			if got := userErrorCodes(get(r.Data, "changePassword")); !slices.Equal(got, []string{tt.want}) || get(r.Data, "changePassword", "token") != nil {
				t.Fatalf("changePassword = %+v; want %s", r, tt.want)
			}
			if r := gql(t, base, token, `{ viewer { id } }`, nil); str(r.Data, "viewer", "id") != id {
				t.Fatalf("the session ended after a refused change: %+v", r)
			}
		})
	}
	t.Run("API keys cannot change it", func(t *testing.T) {
		if r := gql(t, base, key, change, map[string]any{"c": "correct horse battery", "n": "a new horse battery"}); r.code() != "FORBIDDEN" {
			t.Fatalf("changePassword with an API key = %+v", r)
		}
		if r := gql(t, base, "", change, map[string]any{"c": "correct horse battery", "n": "a new horse battery"}); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("changePassword without credentials = %+v", r)
		}
	})

	r := gql(t, base, token, change, map[string]any{"c": "correct horse battery", "n": "a new horse battery"})
	fresh := str(r.Data, "changePassword", "token")
	if fresh == "" || str(r.Data, "changePassword", "account", "name") != "Ann Example" {
		t.Fatalf("changePassword = %+v", r)
	}
	for name, tok := range map[string]string{"the calling session": token, "another session": other} {
		if r := gql(t, base, tok, `{ viewer { id } }`, nil); r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s after changePassword: %d %+v", name, r.Status, r)
		}
	}
	if r := gql(t, base, fresh, `{ viewer { id } }`, nil); str(r.Data, "viewer", "id") != id {
		t.Fatalf("the new session = %+v", r)
	}
	sink.waitMail(t, "pw@example.com", "Your apiws password was changed")
	if r := gql(t, base, key, `{ viewer { id } }`, nil); str(r.Data, "viewer", "id") != id {
		t.Fatalf("an API key after changePassword = %+v", r)
	}
	if got := userErrorCodes(get(gql(t, base, "", logIn, map[string]any{"p": "correct horse battery"}).Data, "logIn")); len(got) != 1 || !strings.HasPrefix(got[0], "WRONG_CREDENTIALS") {
		t.Fatalf("the old password logs in: %v", got)
	}
	if r := gql(t, base, "", logIn, map[string]any{"p": "a new horse battery"}); str(r.Data, "logIn", "token") == "" {
		t.Fatalf("the new password does not log in: %+v", r)
	}
}

func TestEmailChangeNeedsThePasswordAndTheNewAddress(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env, sink := privacyEnv(t, dbEnv(t))
			testEmailChange(t, startServer(t, env), sink)
		})
	}
}

func testEmailChange(t *testing.T, base string, sink *smtpSink) {
	const old, next = "old@example.com", "new@example.com"
	token, _ := signUp(t, base, old)
	signUp(t, base, "taken3@example.com")
	update := `mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { account { email name } userErrors { field code } } }`
	confirm := `mutation($c: String!) { confirmEmailChange(code: $c) { account { email } userErrors { field code message } } }`
	email := func() string {
		t.Helper()
		return str(gql(t, base, token, `{ viewer { email } }`, nil).Data, "viewer", "email")
	}

	for _, tt := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"without the password", map[string]any{"email": next, "name": "Ann New"}, "INVALID@input.currentPassword"},
		{"with a wrong password", map[string]any{"email": next, "name": "Ann New", "currentPassword": "wrong password!"}, "WRONG_CREDENTIALS@input.currentPassword"},
		{"to a taken email", map[string]any{"email": "TAKEN3@example.com", "name": "Ann New", "currentPassword": "correct horse battery"}, "TAKEN@input.email"},
	} {
		t.Run(tt.name+" is refused and changes nothing", func(t *testing.T) {
			r := gql(t, base, token, update, map[string]any{"i": tt.in})
			if got := userErrorCodes(get(r.Data, "updateAccount")); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("updateAccount = %+v; want %s", r, tt.want)
			}
			if r := gql(t, base, token, `{ viewer { name email } }`, nil); str(r.Data, "viewer", "name") != "Ann Example" || str(r.Data, "viewer", "email") != old {
				t.Fatalf("the account changed: %+v", r)
			}
		})
	}
	if r := gql(t, base, token, confirm, map[string]any{"c": "123456"}); !slices.Equal(userErrorCodes(get(r.Data, "confirmEmailChange")), []string{"NOT_FOUND@code"}) {
		t.Fatalf("confirmEmailChange with no change waiting = %+v", r)
	}

	r := gql(t, base, token, update, map[string]any{"i": map[string]any{"email": next, "name": "Ann New", "currentPassword": "correct horse battery"}})
	if len(userErrorCodes(get(r.Data, "updateAccount"))) > 0 || str(r.Data, "updateAccount", "account", "email") != old ||
		str(r.Data, "updateAccount", "account", "name") != "Ann New" {
		t.Fatalf("updateAccount with a new email = %+v; want the name changed and the email not yet", r)
	}
	code := emailCode(t, sink, next)
	sink.waitMail(t, old, "A new email was asked for your apiws account")

	t.Run("privacy codes go to the old address until the change is confirmed", func(t *testing.T) {
		submit(t, base, token, "ACCESS", false)
		sink.code(t, old)
	})
	t.Run("wrong codes are counted", func(t *testing.T) {
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
		r := gql(t, base, token, confirm, map[string]any{"c": wrong})
		if got := userErrorCodes(get(r.Data, "confirmEmailChange")); !slices.Equal(got, []string{"INVALID@code"}) || email() != old {
			t.Fatalf("a wrong code = %+v", r)
		}
	})
	t.Run("API keys cannot confirm", func(t *testing.T) {
		if r := gql(t, base, apiKey(t, base, token, "READ", "SEND", "MANAGE_NUMBERS"), confirm, map[string]any{"c": code}); r.code() != "FORBIDDEN" || email() != old {
			t.Fatalf("confirmEmailChange with an API key = %+v", r)
		}
	})
	r = gql(t, base, token, confirm, map[string]any{"c": code})
	if len(userErrorCodes(get(r.Data, "confirmEmailChange"))) > 0 || str(r.Data, "confirmEmailChange", "account", "email") != next || email() != next {
		t.Fatalf("confirmEmailChange = %+v", r)
	}
	if r := gql(t, base, token, confirm, map[string]any{"c": code}); !slices.Equal(userErrorCodes(get(r.Data, "confirmEmailChange")), []string{"NOT_FOUND@code"}) {
		t.Fatalf("a used code again = %+v", r)
	}
	submit(t, base, token, "ACCESS", false)
	sink.code(t, next)

	t.Run("five wrong codes end the change", func(t *testing.T) {
		token, _ := signUp(t, base, "second@example.com")
		email := func() string {
			t.Helper()
			return str(gql(t, base, token, `{ viewer { email } }`, nil).Data, "viewer", "email")
		}
		r := gql(t, base, token, update, map[string]any{"i": map[string]any{"email": "third@example.com", "currentPassword": "correct horse battery"}})
		if len(userErrorCodes(get(r.Data, "updateAccount"))) > 0 {
			t.Fatalf("updateAccount = %+v", r)
		}
		code := emailCode(t, sink, "third@example.com")
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
		var got []string
		for i := 0; i < 5; i++ {
			got = userErrorCodes(get(gql(t, base, token, confirm, map[string]any{"c": wrong}).Data, "confirmEmailChange"))
		}
		if !slices.Equal(got, []string{"EXPIRED@code"}) {
			t.Fatalf("the fifth wrong code = %v; want EXPIRED", got)
		}
		r = gql(t, base, token, confirm, map[string]any{"c": code})
		if got := userErrorCodes(get(r.Data, "confirmEmailChange")); !slices.Equal(got, []string{"NOT_FOUND@code"}) || email() != "second@example.com" {
			t.Fatalf("the right code after five wrong ones = %+v", r)
		}
	})
}

// apiKey makes an API key with the scopes and returns its secret.
func apiKey(t *testing.T, base, token string, scopes ...string) string {
	t.Helper()
	secret, _ := createAPIKey(t, base, token, scopes...)
	return secret
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

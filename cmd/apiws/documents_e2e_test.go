package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/documents"
)

// persistedQuery posts an automatic persisted query: the hash, with the
// document when query is not "".
func persistedQuery(t *testing.T, base, token, query, hash string, vars map[string]any) *gqlResponse {
	t.Helper()
	body := map[string]any{"variables": vars, "extensions": map[string]any{
		"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	raw, _ := json.Marshal(body)
	return gqlRaw(t, base, token, raw)
}

const policyQuery = `query Policy { privacyPolicy { version } }`

func TestAutomaticPersistedQueries(t *testing.T) {
	base := startServer(t, nil)
	hash := documents.Hash(policyQuery)

	r := persistedQuery(t, base, "", "", hash, nil)
	if r.code() != "PERSISTED_QUERY_NOT_FOUND" || r.Errors[0].Message != "PersistedQueryNotFound" || r.Data != nil {
		t.Fatalf("unknown hash = %+v; want PersistedQueryNotFound", r)
	}
	if r := persistedQuery(t, base, "", policyQuery, hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("the document with its hash = %+v", r)
	}
	if r := persistedQuery(t, base, "", "", hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("the hash alone, once known = %+v", r)
	}
	t.Run("a hash that is not the document's is refused", func(t *testing.T) {
		other := `query Other { privacyPolicy { version } }`
		if r := persistedQuery(t, base, "", other, hash, nil); len(r.Errors) == 0 || r.Data != nil {
			t.Fatalf("mismatched hash = %+v", r)
		}
		if r := persistedQuery(t, base, "", "", documents.Hash(other), nil); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("the mismatched document was remembered: %+v", r)
		}
	})
}

func TestPersistedQueriesAreSharedThroughRedis(t *testing.T) {
	env := map[string]string{"APIWS_REDIS_URL": sharedRedisURL()}
	one, two := startServer(t, env), startServer(t, env)
	query := `query SharedPolicy { privacyPolicy { version } }`
	hash := documents.Hash(query)
	if r := persistedQuery(t, one, "", query, hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("learning on one instance = %+v", r)
	}
	if r := persistedQuery(t, two, "", "", hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("the hash alone on the other instance = %+v", r)
	}
}

// writeFile writes content to name in a temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrustedDocuments(t *testing.T) {
	const apiCalls = `query Calls($f: ApiCallFilter) { viewer { apiCalls(first: 5, filter: $f) { edges { node { operationName operationType ok errorCode } } } } }`
	// One file of hashes only, one of hash to document (GraphQL Code
	// Generator's form), so a listed document may also be sent by hash.
	hashes := "# the test's own documents\n" + strings.Join([]string{
		documents.Hash(signUpMutation), documents.Hash(createKey), documents.Hash(connectMutation), documents.Hash(pairingSub),
	}, "\n") + "\n"
	byHash, _ := json.Marshal(map[string]string{documents.Hash(policyQuery): policyQuery, documents.Hash(apiCalls): apiCalls})
	list := writeFile(t, "hashes.txt", hashes) + string(filepath.ListSeparator) + writeFile(t, "persisted-documents.json", string(byHash))
	base := startServer(t, map[string]string{"APIWS_TRUSTED_DOCUMENTS": list, "APIWS_ENV": "production"})
	dbURL := serverOf(t, base).dbURL

	token, _ := signUp(t, base, "trusted@example.com")

	t.Run("a listed document runs by hash alone", func(t *testing.T) {
		if r := persistedQuery(t, base, "", "", documents.Hash(policyQuery), nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
			t.Fatalf("listed hash = %+v", r)
		}
	})
	t.Run("an unlisted document is refused and not run", func(t *testing.T) {
		r := gql(t, base, token, `mutation Sneaky($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`,
			map[string]any{"i": map[string]any{"name": "sneaky", "scopes": []string{"READ"}}})
		if r.code() != "DOCUMENT_NOT_ALLOWED" || r.Data != nil {
			t.Fatalf("unlisted mutation = %+v", r)
		}
		if n := countRows(t, dbURL, "api_keys"); n != 0 {
			t.Fatalf("%d API keys after a refused createApiKey", n)
		}
		// The same operation in a listed document runs.
		createAPIKey(t, base, token, "READ")
		if n := countRows(t, dbURL, "api_keys"); n != 1 {
			t.Fatalf("%d API keys after createApiKey", n)
		}
	})
	t.Run("an unknown hash is not found, then its document refused", func(t *testing.T) {
		query := `query Viewer { viewer { id } }`
		if r := persistedQuery(t, base, token, "", documents.Hash(query), nil); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("unknown hash = %+v", r)
		}
		if r := persistedQuery(t, base, token, query, documents.Hash(query), nil); r.code() != "DOCUMENT_NOT_ALLOWED" || r.Data != nil {
			t.Fatalf("the unlisted document with its hash = %+v", r)
		}
	})
	t.Run("the refusal is an API call of the account", func(t *testing.T) {
		var node any
		eventually(t, "the refused call in the log", 10*time.Second, func() bool {
			r := gql(t, base, token, apiCalls, map[string]any{"f": map[string]any{"operationName": "Sneaky"}})
			node = get(r.Data, "viewer", "apiCalls", "edges", 0, "node")
			return node != nil
		})
		if get(node, "ok") != false || str(node, "errorCode") != "DOCUMENT_NOT_ALLOWED" || str(node, "operationType") != "mutation" {
			t.Fatalf("logged call = %v", node)
		}
	})
	t.Run("websocket subscriptions", func(t *testing.T) {
		id := connectSandbox(t, base, token)
		for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
			ws := openWS(t, base, proto, token)
			ws.subscribe("unlisted", `subscription($id: ID!) { pairing(numberId: $id) { __typename } }`, map[string]any{"id": id})
			if m := ws.next("unlisted"); str(m, "payload", "errors", 0, "extensions", "code") != "DOCUMENT_NOT_ALLOWED" {
				t.Fatalf("%s: unlisted subscription answered %v", proto, m)
			}
			ws.subscribe("listed", pairingSub, map[string]any{"id": id})
			if d := ws.data("listed"); get(d, "pairing") == nil {
				t.Fatalf("%s: listed subscription = %v", proto, d)
			}
			ws.close()
		}
	})
	t.Run("event streams", func(t *testing.T) {
		s := openSSE(t, base, token, `subscription { events { cursor } }`, nil)
		if code := s.failed(); code != "DOCUMENT_NOT_ALLOWED" {
			t.Fatalf("unlisted event stream: %s", code)
		}
	})
}

func TestTrustedDocumentsThatCannotBeTrustedStopTheStart(t *testing.T) {
	for name, content := range map[string]string{
		"not a hash":           "not-a-hash\n",
		"a hash of another":    `{"` + documents.Hash("query A { __typename }") + `": "query B { __typename }"}`,
		"empty":                "\n# nothing\n",
		"an operation without": `{"operations": [{"operationName": "A"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "list", content)
			_, err := loadConfig(func(k string) string {
				return map[string]string{"APIWS_TRUSTED_DOCUMENTS": path}[k]
			})
			if err == nil || !strings.Contains(err.Error(), "APIWS_TRUSTED_DOCUMENTS") {
				t.Fatalf("loadConfig = %v; want an APIWS_TRUSTED_DOCUMENTS error", err)
			}
		})
	}
	if _, err := loadConfig(func(k string) string {
		return map[string]string{"APIWS_TRUSTED_DOCUMENTS": filepath.Join(t.TempDir(), "missing.json")}[k]
	}); err == nil {
		t.Fatal("a missing list was accepted")
	}
}

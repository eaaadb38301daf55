package main

import (
	"regexp"
	"strings"
	"testing"
)

// nAPIKey makes an API key with the scopes and returns its secret.
func nAPIKey(t *testing.T, base, token string, scopes ...string) string {
	t.Helper()
	resp := nGQL(t, base, token, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`,
		map[string]any{"i": map[string]any{"name": "test", "scopes": scopes}})
	secret := str(resp, "data", "createApiKey", "secret")
	if secret == "" {
		t.Fatalf("createApiKey: %v", resp)
	}
	return secret
}

func TestNumbersBelongToTheirAccountOnly(t *testing.T) {
	base := startServer(t, nSQLiteEnv(t))
	owner := nSignUp(t, base, "owner@example.com")
	stranger := nSignUp(t, base, "stranger@example.com")
	id := nConnectSandbox(t, base, owner)

	if resp := nGQL(t, base, stranger, nNode, map[string]any{"id": id}); get(resp, "data", "node") != nil || get(resp, "errors") != nil {
		t.Fatalf("stranger's node = %v; want null", resp)
	}
	for _, m := range []struct{ name, query string }{
		{"disconnectNumber", `mutation($id: ID!) { disconnectNumber(id: $id) { number { id } userErrors { code field } } }`},
		{"reconnectNumber", `mutation($id: ID!) { reconnectNumber(id: $id) { number { id } userErrors { code field } } }`},
		{"removeNumber", `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { code field } } }`},
		{"requestPairingCode", `mutation($id: ID!) { requestPairingCode(numberId: $id, phone: "+14155550123") { code userErrors { code field } } }`},
	} {
		for who, id := range map[string]string{"another account's": id, "an unknown": "num_nope"} {
			resp := nGQL(t, base, stranger, m.query, map[string]any{"id": id})
			if code, _ := nUserErrorCode(resp, m.name); code != "NOT_FOUND" {
				t.Errorf("%s on %s number = %v; want userError NOT_FOUND", m.name, who, resp)
			}
		}
	}
	resp := nGQL(t, base, stranger, `{ viewer { numbers { totalCount edges { node { id } } } } }`, nil)
	if get(resp, "data", "viewer", "numbers", "totalCount") != float64(0) {
		t.Fatalf("stranger's numbers = %v", resp)
	}

	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		ws := nDialWS(t, base, proto, stranger)
		for _, sub := range []struct{ id, query string }{{"pair", nPairingSub}, {"status", nStatusSub}} {
			ws.subscribe(sub.id, sub.query, map[string]any{"id": id})
			m := ws.next(sub.id)
			code := str(m, "payload", 0, "extensions", "code")
			if code == "" {
				code = str(m, "payload", "errors", 0, "extensions", "code")
			}
			if code != "NOT_FOUND" {
				t.Errorf("%s: stranger's %s subscription got %v; want a NOT_FOUND error", proto, sub.id, m)
			}
		}
	}

	// The owner still has it, untouched.
	if resp := nGQL(t, base, owner, nNode, map[string]any{"id": id}); str(resp, "data", "node", "id") != id {
		t.Fatalf("owner's node = %v", resp)
	}
}

func TestNumberMutationsRules(t *testing.T) {
	base := startServer(t, nSQLiteEnv(t))
	token := nSignUp(t, base, "rules@example.com")

	t.Run("a READ key cannot connect but can follow", func(t *testing.T) {
		key := nAPIKey(t, base, token, "READ")
		resp := nGQL(t, base, key, nConnect, map[string]any{"i": map[string]any{"sandbox": true}})
		if nErrorCode(resp) != "FORBIDDEN" {
			t.Fatalf("connectNumber with a READ key = %v; want FORBIDDEN", resp)
		}
		resp = nGQL(t, base, key, `{ viewer { numbers { totalCount } } }`, nil)
		if get(resp, "errors") != nil {
			t.Fatalf("numbers with a READ key = %v", resp)
		}
	})

	manager := nAPIKey(t, base, token, "MANAGE_NUMBERS")
	id := nConnectSandbox(t, base, manager)

	t.Run("a second pairing while one is under way is a conflict", func(t *testing.T) {
		resp := nGQL(t, base, token, nConnect, map[string]any{"i": map[string]any{"sandbox": true}})
		if code, _ := nUserErrorCode(resp, "connectNumber"); code != "CONFLICT" {
			t.Fatalf("second connectNumber = %v; want CONFLICT", resp)
		}
	})

	t.Run("a pairing code for the pairing under way", func(t *testing.T) {
		const q = `mutation($id: ID!, $p: PhoneNumber!) { requestPairingCode(numberId: $id, phone: $p) { code userErrors { code field } } }`
		resp := nGQL(t, base, token, q, map[string]any{"id": id, "p": "12"})
		if code, field := nUserErrorCode(resp, "requestPairingCode"); code != "INVALID" || len(field) != 1 || field[0] != "phone" {
			t.Fatalf("bad phone = %v; want INVALID on phone", resp)
		}
		resp = nGQL(t, base, token, q, map[string]any{"id": id, "p": "+1 (415) 555-0123"})
		if !regexp.MustCompile(`^[0-9A-Z]{4}-[0-9A-Z]{4}$`).MatchString(str(resp, "data", "requestPairingCode", "code")) {
			t.Fatalf("requestPairingCode = %v", resp)
		}
	})

	t.Run("labels are checked", func(t *testing.T) {
		resp := nGQL(t, base, token, nConnect, map[string]any{"i": map[string]any{"sandbox": true, "label": strings.Repeat("x", 101)}})
		if code, field := nUserErrorCode(resp, "connectNumber"); code != "INVALID" || len(field) != 2 || field[1] != "label" {
			t.Fatalf("long label = %v; want INVALID on input.label", resp)
		}
	})

	t.Run("disconnect cancels the pairing; reconnect pairs again; remove deletes", func(t *testing.T) {
		const disc = `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`
		if resp := nGQL(t, base, token, disc, map[string]any{"id": id}); str(resp, "data", "disconnectNumber", "number", "status") != "LOGGED_OUT" {
			t.Fatalf("disconnect while pairing = %v", resp)
		}
		const rec = `mutation($id: ID!) { reconnectNumber(id: $id) { number { status } userErrors { code } } }`
		if resp := nGQL(t, base, token, rec, map[string]any{"id": id}); str(resp, "data", "reconnectNumber", "number", "status") != "PAIRING" {
			t.Fatalf("reconnect of an unpaired number = %v", resp)
		}
		resp := nGQL(t, base, token, `{ viewer { numbers(status: [PAIRING]) { totalCount edges { cursor node { id } } } } }`, nil)
		if get(resp, "data", "viewer", "numbers", "totalCount") != float64(1) || str(resp, "data", "viewer", "numbers", "edges", 0, "node", "id") != id {
			t.Fatalf("PAIRING numbers = %v", resp)
		}
		const rm = `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { code } } }`
		if resp := nGQL(t, base, manager, rm, map[string]any{"id": id}); str(resp, "data", "removeNumber", "removedNumberId") != id {
			t.Fatalf("removeNumber = %v", resp)
		}
		if resp := nGQL(t, base, token, nNode, map[string]any{"id": id}); get(resp, "data", "node") != nil {
			t.Fatalf("removed number's node = %v", resp)
		}
		// The pairing slot is free again.
		nConnectSandbox(t, base, token)
	})
}

package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestNumbersBelongToTheirAccountOnly(t *testing.T) {
	base := startServer(t, pairingEnv())
	owner, _ := signUp(t, base, "owner@example.com")
	stranger, _ := signUp(t, base, "stranger@example.com")
	id := connectSandbox(t, base, owner)

	if resp := gql(t, base, stranger, numberNode, map[string]any{"id": id}); get(resp.Data, "node") != nil || len(resp.Errors) > 0 {
		t.Fatalf("stranger's node = %v; want null", resp)
	}
	for _, m := range []struct{ name, query string }{
		{"disconnectNumber", `mutation($id: ID!) { disconnectNumber(id: $id) { number { id } userErrors { code field } } }`},
		{"reconnectNumber", `mutation($id: ID!) { reconnectNumber(id: $id) { number { id } userErrors { code field } } }`},
		{"removeNumber", `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { code field } } }`},
		{"requestPairingCode", `mutation($id: ID!) { requestPairingCode(numberId: $id, phone: "+14155550123") { code userErrors { code field } } }`},
	} {
		for who, id := range map[string]string{"another account's": id, "an unknown": "num_nope"} {
			resp := gql(t, base, stranger, m.query, map[string]any{"id": id})
			if code := firstUserError(get(resp.Data, m.name)); !strings.HasPrefix(code, "NOT_FOUND@") {
				t.Errorf("%s on %s number = %v; want userError NOT_FOUND", m.name, who, resp)
			}
		}
	}
	resp := gql(t, base, stranger, `{ viewer { numbers { totalCount edges { node { id } } } } }`, nil)
	if get(resp.Data, "viewer", "numbers", "totalCount") != float64(0) {
		t.Fatalf("stranger's numbers = %v", resp)
	}

	for _, proto := range subprotocols {
		ws := openWS(t, base, proto, stranger)
		for _, sub := range []struct{ id, query string }{{"pair", pairingSub}, {"status", numberStatusSub}} {
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
	if resp := gql(t, base, owner, numberNode, map[string]any{"id": id}); str(resp.Data, "node", "id") != id {
		t.Fatalf("owner's node = %v", resp)
	}
}

func TestNumberMutationsRules(t *testing.T) {
	base := startServer(t, pairingEnv())
	token, _ := signUp(t, base, "rules@example.com")

	t.Run("a READ key cannot connect but can follow", func(t *testing.T) {
		key, _ := createAPIKey(t, base, token, "READ")
		resp := gql(t, base, key, connectMutation, map[string]any{"i": map[string]any{"sandbox": true}})
		if resp.code() != "FORBIDDEN" {
			t.Fatalf("connectNumber with a READ key = %v; want FORBIDDEN", resp)
		}
		resp = gql(t, base, key, `{ viewer { numbers { totalCount } } }`, nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("numbers with a READ key = %v", resp)
		}
	})

	manager, _ := createAPIKey(t, base, token, "MANAGE_NUMBERS")
	id := connectSandbox(t, base, manager)

	t.Run("a second pairing while one is under way is a conflict", func(t *testing.T) {
		resp := gql(t, base, token, connectMutation, map[string]any{"i": map[string]any{"sandbox": true}})
		if code := firstUserError(get(resp.Data, "connectNumber")); !strings.HasPrefix(code, "CONFLICT@") {
			t.Fatalf("second connectNumber = %v; want CONFLICT", resp)
		}
	})

	t.Run("a pairing code for the pairing under way", func(t *testing.T) {
		const q = `mutation($id: ID!, $p: PhoneNumber!) { requestPairingCode(numberId: $id, phone: $p) { code userErrors { code field } } }`
		resp := gql(t, base, token, q, map[string]any{"id": id, "p": "12"})
		if code := firstUserError(get(resp.Data, "requestPairingCode")); code != "INVALID@phone" {
			t.Fatalf("bad phone = %v; want INVALID on phone", resp)
		}
		resp = gql(t, base, token, q, map[string]any{"id": id, "p": "+1 (415) 555-0123"})
		if !regexp.MustCompile(`^[0-9A-Z]{4}-[0-9A-Z]{4}$`).MatchString(str(resp.Data, "requestPairingCode", "code")) {
			t.Fatalf("requestPairingCode = %v", resp)
		}
	})

	t.Run("labels are checked", func(t *testing.T) {
		resp := gql(t, base, token, connectMutation, map[string]any{"i": map[string]any{"sandbox": true, "label": strings.Repeat("x", 101)}})
		if code := firstUserError(get(resp.Data, "connectNumber")); code != "INVALID@input.label" {
			t.Fatalf("long label = %v; want INVALID on input.label", resp)
		}
	})

	t.Run("disconnect cancels the pairing; reconnect pairs again; remove deletes", func(t *testing.T) {
		const disc = `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`
		if resp := gql(t, base, token, disc, map[string]any{"id": id}); str(resp.Data, "disconnectNumber", "number", "status") != "LOGGED_OUT" {
			t.Fatalf("disconnect while pairing = %v", resp)
		}
		const rec = `mutation($id: ID!) { reconnectNumber(id: $id) { number { status } userErrors { code } } }`
		if resp := gql(t, base, token, rec, map[string]any{"id": id}); str(resp.Data, "reconnectNumber", "number", "status") != "PAIRING" {
			t.Fatalf("reconnect of an unpaired number = %v", resp)
		}
		resp := gql(t, base, token, `{ viewer { numbers(status: [PAIRING]) { totalCount edges { cursor node { id } } } } }`, nil)
		if get(resp.Data, "viewer", "numbers", "totalCount") != float64(1) || str(resp.Data, "viewer", "numbers", "edges", 0, "node", "id") != id {
			t.Fatalf("PAIRING numbers = %v", resp)
		}
		const rm = `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { code } } }`
		if resp := gql(t, base, manager, rm, map[string]any{"id": id}); str(resp.Data, "removeNumber", "removedNumberId") != id {
			t.Fatalf("removeNumber = %v", resp)
		}
		if resp := gql(t, base, token, numberNode, map[string]any{"id": id}); get(resp.Data, "node") != nil {
			t.Fatalf("removed number's node = %v", resp)
		}
		// The pairing slot is free again.
		connectSandbox(t, base, token)
	})
}

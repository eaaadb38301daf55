package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebsocketNeedsCredentials(t *testing.T) {
	base := startServer(t, nil)
	token, id := signUp(t, base, "ws@example.com")
	for _, sp := range subprotocols {
		t.Run(sp, func(t *testing.T) {
			for name, payload := range map[string]map[string]any{
				"no credentials":  {},
				"wrong token":     {"authorization": "Bearer apiwss_wrong"},
				"malformed token": {"authorization": "Bearer " + token[:len(token)-1] + "x"},
			} {
				t.Run(name, func(t *testing.T) {
					ws := dialWS(t, base, sp, nil)
					ws.send(map[string]any{"type": "connection_init", "payload": payload})
					if code, msgs := ws.closed(5 * time.Second); code != 4403 || len(msgs) > 0 {
						t.Fatalf("closed with %d after %v; want close 4403 and nothing sent", code, msgs)
					}
				})
			}
			t.Run("valid token runs operations", func(t *testing.T) {
				ws := openWS(t, base, sp, token)
				ws.subscribe("1", "{ viewer { id } }", nil)
				if got := str(ws.data("1"), "viewer", "id"); got != id {
					t.Fatalf("query over websocket: viewer %q, want %q", got, id)
				}
			})
			t.Run("token on the upgrade request", func(t *testing.T) {
				ws := dialWS(t, base, sp, http.Header{"Authorization": {"Bearer " + token}})
				ws.init("")
			})
		})
	}
}

func TestWebsocketOrigin(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_ALLOWED_ORIGINS": "https://dash.example.com"})
	dial := func(origin string) (*http.Response, error) {
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
		conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql", http.Header{"Origin": {origin}})
		if conn != nil {
			conn.Close()
		}
		return resp, err
	}
	if _, err := dial("https://dash.example.com"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if _, err := dial(base); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	if resp, err := dial("https://evil.example.com"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
}

func TestRevokedKeyClosesItsWebsocket(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_WS_AUTH_RECHECK": "200ms"})
	token, _ := signUp(t, base, "revoke-ws@example.com")
	r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "live", "scopes": []string{"READ"}}})
	key, keyID := str(r.Data, "createApiKey", "secret"), str(r.Data, "createApiKey", "apiKey", "id")
	ws := openWS(t, base, "graphql-transport-ws", key)
	ws.subscribe("1", "subscription { messageStatus { cursor } }", nil)
	time.Sleep(600 * time.Millisecond) // several rechecks pass while the key is valid
	gql(t, base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }`, map[string]any{"id": keyID})
	if code, _ := ws.closed(5 * time.Second); code != 4403 {
		t.Fatalf("the websocket of a revoked key closed with %d; want 4403", code)
	}
}

// A closed websocket's session ends: its credentials are no longer
// rechecked (each recheck is a query, counted by the statements metric).
func TestClosedWebsocketsStopTheirRechecks(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_WS_AUTH_RECHECK": "100ms"})
	token, _ := signUp(t, base, "recheck-stop@example.com")
	window := func() float64 {
		before := metric(t, base, "apiws_db_statements_total")
		time.Sleep(500 * time.Millisecond)
		return metric(t, base, "apiws_db_statements_total") - before
	}
	idle := window()
	var conns []*wsClient
	for range 20 {
		conns = append(conns, openWS(t, base, "graphql-transport-ws", token))
	}
	if open := window(); open < idle+40 {
		t.Fatalf("%v statements in 500 ms with 20 sockets rechecked every 100 ms, %v idle: rechecks not seen", open, idle)
	}
	for _, c := range conns {
		c.close()
	}
	time.Sleep(300 * time.Millisecond)
	if closed := window(); closed > idle+15 {
		t.Fatalf("%v statements in 500 ms after the sockets closed, %v idle: their rechecks go on", closed, idle)
	}
}

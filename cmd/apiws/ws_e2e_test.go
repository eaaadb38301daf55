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
	host := strings.TrimPrefix(base, "http://")
	port := host[strings.LastIndexByte(host, ':')+1:]
	// Compared as exact scheme, host and port: the host alone let these in.
	for _, foreign := range []string{"https://evil.example.com", "https://" + host, "http://evil@" + host,
		"http://localhost:" + port, "http://dash.example.com", "https://dash.example.com:8443"} {
		if resp, err := dial(foreign); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin %s: %v %v", foreign, resp, err)
		}
	}
}

func TestRevokedKeyClosesItsWebsocket(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_WS_AUTH_RECHECK": "200ms"})
	token, _ := signUp(t, base, "revoke-ws@example.com")
	r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "live", "scopes": []string{"READ"}}})
	key, keyID := str(r.Data, "createApiKey", "secret"), str(r.Data, "createApiKey", "apiKey", "id")
	before := metric(t, base, "apiws_ws_auth_rechecks_total")
	ws := openWS(t, base, "graphql-transport-ws", key)
	ws.subscribe("1", "subscription { messageStatus { cursor } }", nil)
	// Several rechecks pass while the key is valid.
	waitMetric(t, base, "apiws_ws_auth_rechecks_total", func(n float64) bool { return n >= before+3 })
	gql(t, base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }`, map[string]any{"id": keyID})
	if code, _ := ws.closed(5 * time.Second); code != 4403 {
		t.Fatalf("the websocket of a revoked key closed with %d; want 4403", code)
	}
}

// A closed websocket's session ends: its credentials are no longer
// rechecked.
func TestClosedWebsocketsStopTheirRechecks(t *testing.T) {
	// 20 sockets opened at once, and the metric reads, stay under the
	// request rate limit.
	base := startServer(t, map[string]string{"APIWS_WS_AUTH_RECHECK": "100ms", "APIWS_RATE_LIMIT_PER_SECOND": "1000"})
	token, _ := signUp(t, base, "recheck-stop@example.com")
	const sockets = 20
	before := metric(t, base, "apiws_ws_auth_rechecks_total")
	var conns []*wsClient
	for range sockets {
		conns = append(conns, openWS(t, base, "graphql-transport-ws", token))
	}
	if n := metric(t, base, "apiws_ws_auth_rechecked"); n != sockets {
		t.Fatalf("%v websockets rechecked; want %d", n, sockets)
	}
	waitMetric(t, base, "apiws_ws_auth_rechecks_total", func(n float64) bool { return n >= before+2*sockets })

	for _, c := range conns {
		c.close()
	}
	waitMetric(t, base, "apiws_ws_auth_rechecked", func(n float64) bool { return n == 0 })
	// While a new socket is rechecked three times, the closed ones would
	// have been rechecked about sixty times.
	closed := metric(t, base, "apiws_ws_auth_rechecks_total")
	openWS(t, base, "graphql-transport-ws", token)
	after := waitMetric(t, base, "apiws_ws_auth_rechecks_total", func(n float64) bool { return n >= closed+3 })
	if after-closed >= sockets {
		t.Fatalf("%v rechecks while one open socket had 3: the closed sockets' rechecks go on", after-closed)
	}
}

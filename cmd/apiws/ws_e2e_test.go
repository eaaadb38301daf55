package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsDial opens a GraphQL websocket with the subprotocol.
func wsDial(t *testing.T, base, subprotocol string, header http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{subprotocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql", header)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if conn.Subprotocol() != subprotocol {
		t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), subprotocol)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wsSend(t *testing.T, conn *websocket.Conn, msg map[string]any) {
	t.Helper()
	if err := conn.WriteJSON(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// wsRead reads the next message that is not a keep-alive.
func wsRead(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		switch m["type"] {
		case "ka", "ping", "pong":
			continue
		}
		return m
	}
}

var subprotocols = []string{"graphql-transport-ws", "graphql-ws"}

// startMessage is the message that starts an operation in each protocol.
func startMessage(subprotocol string) string {
	if subprotocol == "graphql-ws" {
		return "start"
	}
	return "subscribe"
}

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
					conn := wsDial(t, base, sp, nil)
					wsSend(t, conn, map[string]any{"type": "connection_init", "payload": payload})
					_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, msg, err := conn.ReadMessage()
					var ce *websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != 4403 {
						t.Fatalf("got message %q, err %v; want close 4403 and nothing sent", msg, err)
					}
				})
			}
			t.Run("valid token runs operations", func(t *testing.T) {
				conn := wsDial(t, base, sp, nil)
				wsSend(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
				if m := wsRead(t, conn); m["type"] != "connection_ack" {
					t.Fatalf("after init: %v", m)
				}
				wsSend(t, conn, map[string]any{"id": "1", "type": startMessage(sp), "payload": map[string]any{"query": "{ viewer { id } }"}})
				m := wsRead(t, conn)
				b, _ := json.Marshal(m)
				if !strings.Contains(string(b), id) {
					t.Fatalf("query over websocket: %s", b)
				}
			})
			t.Run("token on the upgrade request", func(t *testing.T) {
				conn := wsDial(t, base, sp, http.Header{"Authorization": {"Bearer " + token}})
				wsSend(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
				if m := wsRead(t, conn); m["type"] != "connection_ack" {
					t.Fatalf("after init: %v", m)
				}
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
	conn := wsDial(t, base, "graphql-transport-ws", nil)
	wsSend(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + key}})
	if m := wsRead(t, conn); m["type"] != "connection_ack" {
		t.Fatalf("after init: %v", m)
	}
	wsSend(t, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { messageStatus { cursor } }"}})
	time.Sleep(600 * time.Millisecond) // several rechecks pass while the key is valid
	gql(t, base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }`, map[string]any{"id": keyID})
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m map[string]any
		err := conn.ReadJSON(&m)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 4403 {
				t.Fatalf("closed with %d; want 4403", ce.Code)
			}
			return
		}
		if err != nil {
			t.Fatalf("the websocket of a revoked key: %v", err)
		}
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
	var conns []*websocket.Conn
	for range 20 {
		conn := wsDial(t, base, "graphql-transport-ws", nil)
		wsSend(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
		if m := wsRead(t, conn); m["type"] != "connection_ack" {
			t.Fatalf("after init: %v", m)
		}
		conns = append(conns, conn)
	}
	if open := window(); open < idle+40 {
		t.Fatalf("%v statements in 500 ms with 20 sockets rechecked every 100 ms, %v idle: rechecks not seen", open, idle)
	}
	for _, c := range conns {
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		_ = c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	if closed := window(); closed > idle+15 {
		t.Fatalf("%v statements in 500 ms after the sockets closed, %v idle: their rechecks go on", closed, idle)
	}
}

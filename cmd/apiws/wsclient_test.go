package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// subprotocols are the GraphQL websocket subprotocols apiws speaks.
var subprotocols = []string{"graphql-transport-ws", "graphql-ws"}

// wsClient is the tests' GraphQL websocket client, in either subprotocol.
// A goroutine reads every message into msgs; next sorts them by operation.
type wsClient struct {
	t     *testing.T
	conn  *websocket.Conn
	proto string
	msgs  chan map[string]any
	held  map[string][]map[string]any // messages read while waiting for another id
	err   error                       // why reading stopped; set before msgs is closed
}

// dialWS opens a websocket to base's /graphql in the subprotocol, with the
// upgrade request's header, and sends nothing yet.
func dialWS(t *testing.T, base, proto string, header http.Header) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql", header)
	if err != nil {
		t.Fatalf("dial websocket: %v (%v)", err, resp)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), proto)
	}
	w := &wsClient{t: t, conn: conn, proto: proto, msgs: make(chan map[string]any, 100), held: map[string][]map[string]any{}}
	t.Cleanup(func() { conn.Close() })
	go func() {
		defer close(w.msgs)
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				w.err = err
				return
			}
			w.msgs <- m
		}
	}()
	return w
}

// openWS opens a websocket authenticated by token in connection_init and
// waits for its connection_ack.
func openWS(t *testing.T, base, proto, token string) *wsClient {
	t.Helper()
	w := dialWS(t, base, proto, nil)
	w.init("Bearer " + token)
	return w
}

// init sends connection_init with the authorization ("" for none) and
// expects connection_ack.
func (w *wsClient) init(authorization string) {
	w.t.Helper()
	payload := map[string]any{}
	if authorization != "" {
		payload["authorization"] = authorization
	}
	w.send(map[string]any{"type": "connection_init", "payload": payload})
	if m := w.next(""); m["type"] != "connection_ack" {
		w.t.Fatalf("connection_init answered %v", m)
	}
}

func (w *wsClient) send(m map[string]any) {
	w.t.Helper()
	if err := w.conn.WriteJSON(m); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// subscribe starts an operation under id.
func (w *wsClient) subscribe(id, query string, vars map[string]any) {
	w.t.Helper()
	typ := "subscribe"
	if w.proto == "graphql-ws" {
		typ = "start"
	}
	w.send(map[string]any{"id": id, "type": typ, "payload": map[string]any{"query": query, "variables": vars}})
}

// next returns the next message of operation id ("" for connection
// messages), skipping keep-alives; it fails the test after 10 s.
func (w *wsClient) next(id string) map[string]any {
	w.t.Helper()
	if held := w.held[id]; len(held) > 0 {
		w.held[id] = held[1:]
		return held[0]
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				w.t.Fatalf("websocket closed (%v) while waiting for %q", w.err, id)
			}
			switch m["type"] {
			case "ka", "ping", "pong":
				continue
			}
			mid, _ := m["id"].(string)
			if mid == id {
				return m
			}
			w.held[mid] = append(w.held[mid], m)
		case <-timeout:
			w.t.Fatalf("no message for %q within 10s", id)
		}
	}
}

// data returns the payload's data of the next message of id, failing on
// anything but a data message.
func (w *wsClient) data(id string) map[string]any {
	w.t.Helper()
	m := w.next(id)
	if typ := m["type"]; typ != "next" && typ != "data" {
		w.t.Fatalf("operation %s: got %v, want data", id, m)
	}
	if errs := get(m, "payload", "errors"); errs != nil {
		w.t.Fatalf("operation %s: errors %v", id, errs)
	}
	d, _ := get(m, "payload", "data").(map[string]any)
	return d
}

// complete expects operation id to end.
func (w *wsClient) complete(id string) {
	w.t.Helper()
	if m := w.next(id); m["type"] != "complete" {
		w.t.Fatalf("operation %s: got %v, want complete", id, m)
	}
}

// closed waits up to within for the server to end the connection and
// returns its close code (0 when it ended otherwise) and the messages,
// keep-alives aside, that came first.
func (w *wsClient) closed(within time.Duration) (code int, before []map[string]any) {
	w.t.Helper()
	for _, held := range w.held {
		before = append(before, held...)
	}
	w.held = map[string][]map[string]any{}
	timeout := time.After(within)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				var ce *websocket.CloseError
				if errors.As(w.err, &ce) {
					return ce.Code, before
				}
				return 0, before
			}
			switch m["type"] {
			case "ka", "ping", "pong":
				continue
			}
			before = append(before, m)
		case <-timeout:
			w.t.Fatalf("the server did not close the websocket within %v", within)
		}
	}
}

// close ends the connection from the client's side with a normal closure.
func (w *wsClient) close() {
	_ = w.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	_ = w.conn.Close()
}

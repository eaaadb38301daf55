package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// These end-to-end tests run the real server (run, on 127.0.0.1:0) and talk
// to it over HTTP and real websockets in both subprotocols. Their helpers
// carry an n prefix to stay apart from the shared e2e helpers.

const nSecretKey = "8f3c0a9d2b7e4f61a5c8d3e2f1b0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2"

// nSandboxDelay makes the sandbox pair in about a second: slow enough for
// a subscriber to join while QR codes still rotate.
const nSandboxDelay = "0.5"

// nSQLiteEnv is the environment of a server on a fresh SQLite file.
func nSQLiteEnv(t *testing.T) map[string]string {
	return map[string]string{
		"APIWS_DATABASE_URL":  filepath.Join(t.TempDir(), "apiws.db"),
		"APIWS_MAIL_DIR":      t.TempDir(),
		"APIWS_SANDBOX_DELAY": nSandboxDelay,
	}
}

// nGQL posts a GraphQL operation and returns the decoded response.
func nGQL(t *testing.T, base, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out
}

// nErrorCode is the extensions.code of a response's first error.
func nErrorCode(resp map[string]any) string {
	return str(resp, "errors", 0, "extensions", "code")
}

// nUserErrorCode is the code of a payload's first userError, and its field.
func nUserErrorCode(resp map[string]any, field string) (string, []any) {
	ue := get(resp, "data", field, "userErrors", 0)
	f, _ := get(ue, "field").([]any)
	return str(ue, "code"), f
}

// nSignUp makes an account and returns its session token.
func nSignUp(t *testing.T, base, email string) string {
	t.Helper()
	token, _ := signUp(t, base, email)
	return token
}

const nConnect = `mutation($i: ConnectNumberInput!) { connectNumber(input: $i) {
  number { id status sandbox label phone } userErrors { code field message } } }`

// nConnectSandbox connects a sandbox number and returns its id.
func nConnectSandbox(t *testing.T, base, token string) string {
	t.Helper()
	resp := nGQL(t, base, token, nConnect, map[string]any{"i": map[string]any{"sandbox": true, "label": "shop"}})
	n := get(resp, "data", "connectNumber", "number")
	if str(n, "status") != "PAIRING" || get(n, "sandbox") != true || str(n, "label") != "shop" {
		t.Fatalf("connectNumber = %v", resp)
	}
	return str(n, "id")
}

// nWS is a GraphQL websocket client speaking one subprotocol.
type nWS struct {
	t     *testing.T
	conn  *websocket.Conn
	proto string
	msgs  chan map[string]any
	held  map[string][]map[string]any // messages read while waiting for another id
}

// nDialWS opens a websocket to base, authenticated in connection_init.
func nDialWS(t *testing.T, base, proto, token string) *nWS {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql", nil)
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), proto)
	}
	w := &nWS{t: t, conn: conn, proto: proto, msgs: make(chan map[string]any, 100), held: map[string][]map[string]any{}}
	t.Cleanup(func() { conn.Close() })
	go func() {
		defer close(w.msgs)
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			w.msgs <- m
		}
	}()
	w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
	if m := w.next(""); m["type"] != "connection_ack" {
		t.Fatalf("connection_init answered %v", m)
	}
	return w
}

func (w *nWS) send(m map[string]any) {
	w.t.Helper()
	if err := w.conn.WriteJSON(m); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// subscribe starts an operation under id.
func (w *nWS) subscribe(id, query string, vars map[string]any) {
	typ := "subscribe"
	if w.proto == "graphql-ws" {
		typ = "start"
	}
	w.send(map[string]any{"id": id, "type": typ, "payload": map[string]any{"query": query, "variables": vars}})
}

// next returns the next message of operation id ("" for connection
// messages), skipping keep-alives; it fails the test after 10 s.
func (w *nWS) next(id string) map[string]any {
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
				w.t.Fatalf("websocket closed while waiting for %q", id)
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
func (w *nWS) data(id string) map[string]any {
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
func (w *nWS) complete(id string) {
	w.t.Helper()
	if m := w.next(id); m["type"] != "complete" {
		w.t.Fatalf("operation %s: got %v, want complete", id, m)
	}
}

const nPairingSub = `subscription($id: ID!) { pairing(numberId: $id) {
  __typename
  ... on PairingQRCode { code image expiresAt }
  ... on PairingSuccess { number { id status phone pushName connectedAt } }
  ... on PairingFailure { reason message } } }`

const nStatusSub = `subscription($id: ID) { numberStatus(numberId: $id) { number { id phone } status at reason } }`

const nNode = `query($id: ID!) { node(id: $id) { ... on WhatsAppNumber { id status phone sandbox connectedAt } } }`

// nPairOverWebsocket follows a sandbox pairing started on actBase from a
// websocket to subBase: QR codes, then success, and CONNECTED on
// numberStatus.
func nPairOverWebsocket(t *testing.T, subBase, actBase, proto string) {
	token := nSignUp(t, actBase, "pair-"+strings.ReplaceAll(proto, "-", "")+"@example.com")
	id := nConnectSandbox(t, actBase, token)

	ws := nDialWS(t, subBase, proto, token)
	ws.subscribe("status", nStatusSub, map[string]any{"id": id})
	ws.subscribe("pair", nPairingSub, map[string]any{"id": id})

	qrs := 0
	for {
		ev := get(ws.data("pair"), "pairing")
		typename := str(ev, "__typename")
		if typename == "PairingQRCode" {
			qrs++
			nCheckQR(t, ev)
			continue
		}
		if typename != "PairingSuccess" {
			t.Fatalf("pairing ended with %v", ev)
		}
		n := get(ev, "number")
		if str(n, "id") != id || str(n, "status") != "CONNECTED" || !strings.HasPrefix(str(n, "phone"), "+155501") {
			t.Fatalf("PairingSuccess.number = %v", n)
		}
		break
	}
	if qrs == 0 {
		t.Fatal("no QR code before the success")
	}
	ws.complete("pair")

	for {
		ev := get(ws.data("status"), "numberStatus")
		if str(ev, "number", "id") != id {
			t.Fatalf("numberStatus of another number: %v", ev)
		}
		if str(ev, "status") == "CONNECTED" {
			break
		}
	}

	resp := nGQL(t, actBase, token, nNode, map[string]any{"id": id})
	if str(resp, "data", "node", "status") != "CONNECTED" || str(resp, "data", "node", "connectedAt") == "" {
		t.Fatalf("node after pairing = %v", resp)
	}
}

// nCheckQR asserts a PairingQRCode's image is a PNG data URL.
func nCheckQR(t *testing.T, ev any) {
	t.Helper()
	img := str(ev, "image")
	const prefix = "data:image/png;base64,"
	if str(ev, "code") == "" || str(ev, "expiresAt") == "" || !strings.HasPrefix(img, prefix) {
		t.Fatalf("PairingQRCode = %.200v", ev)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(img, prefix))
	if err != nil {
		t.Fatalf("QR image is not base64: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("QR image is not a PNG: %v", err)
	}
}

func TestPairingOverWebsocket(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			base := startServer(t, nSQLiteEnv(t))
			nPairOverWebsocket(t, base, base, proto)
		})
	}
}

func TestPairingAcrossInstancesOverRedis(t *testing.T) {
	redisURL := os.Getenv("APIWS_TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			env := map[string]string{
				"APIWS_DATABASE_URL":  storagetest.URL(t, storage.Postgres),
				"APIWS_REDIS_URL":     redisURL,
				"APIWS_SECRET_KEY":    nSecretKey,
				"APIWS_MAIL_DIR":      t.TempDir(),
				"APIWS_SANDBOX_DELAY": nSandboxDelay,
			}
			subscriber := startServer(t, env)
			actor := startServer(t, env)
			nPairOverWebsocket(t, subscriber, actor, proto)
		})
	}
}

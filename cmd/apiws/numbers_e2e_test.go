package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

var nListening = regexp.MustCompile(`apiws listening on (http://\S+)`)

// nStartServer runs apiws with env until the test ends and returns its
// base URL once /healthz answers.
func nStartServer(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "APIWS_ADDR" {
			return "127.0.0.1:0"
		}
		return env[k]
	}
	go func() {
		err := run(ctx, []string{"serve"}, getenv, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not shut down")
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := nListening.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not say where it listens")
	}
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if i == 100 {
			t.Fatalf("/healthz never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

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

// nAt walks decoded JSON by keys and indexes; nil when absent.
func nAt(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func nStr(v any, path ...any) string {
	s, _ := nAt(v, path...).(string)
	return s
}

// nErrorCode is the extensions.code of a response's first error.
func nErrorCode(resp map[string]any) string {
	return nStr(resp, "errors", 0, "extensions", "code")
}

// nUserErrorCode is the code of a payload's first userError, and its field.
func nUserErrorCode(resp map[string]any, field string) (string, []any) {
	ue := nAt(resp, "data", field, "userErrors", 0)
	f, _ := nAt(ue, "field").([]any)
	return nStr(ue, "code"), f
}

// nSignUp makes an account and returns its session token.
func nSignUp(t *testing.T, base, email string) string {
	t.Helper()
	resp := nGQL(t, base, "", `mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { code field } } }`,
		map[string]any{"i": map[string]any{"name": "Numbers Test", "email": email, "password": "correct horse battery",
			"birthDate": "1990-01-01", "acceptPolicyVersion": "1.0"}})
	token := nStr(resp, "data", "signUp", "token")
	if token == "" {
		t.Fatalf("signUp: %v", resp)
	}
	return token
}

const nConnect = `mutation($i: ConnectNumberInput!) { connectNumber(input: $i) {
  number { id status sandbox label phone } userErrors { code field message } } }`

// nConnectSandbox connects a sandbox number and returns its id.
func nConnectSandbox(t *testing.T, base, token string) string {
	t.Helper()
	resp := nGQL(t, base, token, nConnect, map[string]any{"i": map[string]any{"sandbox": true, "label": "shop"}})
	n := nAt(resp, "data", "connectNumber", "number")
	if nStr(n, "status") != "PAIRING" || nAt(n, "sandbox") != true || nStr(n, "label") != "shop" {
		t.Fatalf("connectNumber = %v", resp)
	}
	return nStr(n, "id")
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
	if errs := nAt(m, "payload", "errors"); errs != nil {
		w.t.Fatalf("operation %s: errors %v", id, errs)
	}
	d, _ := nAt(m, "payload", "data").(map[string]any)
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
		ev := nAt(ws.data("pair"), "pairing")
		typename := nStr(ev, "__typename")
		if typename == "PairingQRCode" {
			qrs++
			nCheckQR(t, ev)
			continue
		}
		if typename != "PairingSuccess" {
			t.Fatalf("pairing ended with %v", ev)
		}
		n := nAt(ev, "number")
		if nStr(n, "id") != id || nStr(n, "status") != "CONNECTED" || !strings.HasPrefix(nStr(n, "phone"), "+155501") {
			t.Fatalf("PairingSuccess.number = %v", n)
		}
		break
	}
	if qrs == 0 {
		t.Fatal("no QR code before the success")
	}
	ws.complete("pair")

	for {
		ev := nAt(ws.data("status"), "numberStatus")
		if nStr(ev, "number", "id") != id {
			t.Fatalf("numberStatus of another number: %v", ev)
		}
		if nStr(ev, "status") == "CONNECTED" {
			break
		}
	}

	resp := nGQL(t, actBase, token, nNode, map[string]any{"id": id})
	if nStr(resp, "data", "node", "status") != "CONNECTED" || nStr(resp, "data", "node", "connectedAt") == "" {
		t.Fatalf("node after pairing = %v", resp)
	}
}

// nCheckQR asserts a PairingQRCode's image is a PNG data URL.
func nCheckQR(t *testing.T, ev any) {
	t.Helper()
	img := nStr(ev, "image")
	const prefix = "data:image/png;base64,"
	if nStr(ev, "code") == "" || nStr(ev, "expiresAt") == "" || !strings.HasPrefix(img, prefix) {
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
			base := nStartServer(t, nSQLiteEnv(t))
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
			subscriber := nStartServer(t, env)
			actor := nStartServer(t, env)
			nPairOverWebsocket(t, subscriber, actor, proto)
		})
	}
}

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
)

const sendMutation = `mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  message { id status peer kind waMessageId clientReference } userErrors { field code message } } }`

// connectedNumber pairs a sandbox number and waits until it is CONNECTED.
func connectedNumber(t *testing.T, base, token string) string {
	t.Helper()
	id := connectSandbox(t, base, token)
	eventually(t, "the sandbox number to connect", 10*time.Second, func() bool {
		return str(gql(t, base, token, numberNode, map[string]any{"id": id}).Data, "node", "status") == "CONNECTED"
	})
	return id
}

// send queues a message and returns its id, failing on any error.
func send(t *testing.T, base, token string, in map[string]any) string {
	t.Helper()
	r := gql(t, base, token, sendMutation, map[string]any{"i": in})
	id := str(r.Data, "sendMessage", "message", "id")
	if id == "" {
		t.Fatalf("sendMessage(%v) = %+v", in, r)
	}
	return id
}

const messagesQuery = `query($after: String) { viewer { messages(first: 100, after: $after) { totalCount
  pageInfo { hasNextPage endCursor } edges { node {
  id status peer kind direction waMessageId error { code retryable } sentAt deliveredAt readAt playedAt failedAt
  events { cursor status } } } } } }`

// messagesByID returns all the account's messages keyed by id, page by page.
func messagesByID(t *testing.T, base, token string) map[string]any {
	t.Helper()
	out := map[string]any{}
	var after any
	for {
		r := gql(t, base, token, messagesQuery, map[string]any{"after": after})
		edges, _ := get(r.Data, "viewer", "messages", "edges").([]any)
		for _, e := range edges {
			out[str(e, "node", "id")] = get(e, "node")
		}
		if get(r.Data, "viewer", "messages", "pageInfo", "hasNextPage") != true {
			return out
		}
		after = get(r.Data, "viewer", "messages", "pageInfo", "endCursor")
	}
}

// waitMessages polls until done holds for the account's messages.
func waitMessages(t *testing.T, base, token string, what string, done func(map[string]any) bool) map[string]any {
	t.Helper()
	var ms map[string]any
	defer func() {
		if t.Failed() {
			byStatus := map[string]int{}
			for _, m := range ms {
				byStatus[str(m, "status")]++
			}
			t.Logf("messages by status: %v", byStatus)
		}
	}()
	eventually(t, what, 20*time.Second, func() bool {
		ms = messagesByID(t, base, token)
		return done(ms)
	})
	return ms
}

func statusOf(ms map[string]any, id string) string { return str(ms[id], "status") }

func eventStatuses(m any) []string {
	var out []string
	evs, _ := get(m, "events").([]any)
	for _, e := range evs {
		out = append(out, str(e, "status"))
	}
	return out
}

func TestSandboxRules(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "rules@example.com")
			num := connectedNumber(t, base, token)
			ws := openWS(t, base, "graphql-transport-ws", token)
			subscribed(t, base, func() {
				ws.subscribe("in", `subscription { incomingMessages { message { id direction status peer kind } text } }`, nil)
			})

			normal := send(t, base, token, map[string]any{"numberId": num, "to": "+1 415 555 0123", "text": "hello", "clientReference": "order-7"})
			notOn := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550000", "text": "x"})
			unread := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550001", "text": "x"})
			retry := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550002", "text": "x"})
			echo := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "echo me"})
			audio := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123",
				"media": map[string]any{"kind": "AUDIO", "mimeType": "audio/mpeg", "data": base64.StdEncoding.EncodeToString([]byte("ID3 fake mp3 frames"))}})

			// 0001 stays DELIVERED: it is still DELIVERED once the messages
			// sent after it are READ (the sandbox plays every message's
			// receipts after the same delays).
			ms := waitMessages(t, base, token, "every message's final status", func(ms map[string]any) bool {
				return statusOf(ms, normal) == "READ" && statusOf(ms, notOn) == "FAILED" && statusOf(ms, unread) == "DELIVERED" &&
					statusOf(ms, retry) == "READ" && statusOf(ms, echo) == "READ" && statusOf(ms, audio) == "PLAYED"
			})
			if got := eventStatuses(ms[normal]); !slices.Equal(got, []string{"QUEUED", "SENT", "DELIVERED", "READ"}) {
				t.Errorf("events of a normal message: %v", got)
			}
			if str(ms[notOn], "error", "code") != "NOT_ON_WHATSAPP" || get(ms[notOn], "error", "retryable") != false {
				t.Errorf("0000: %v", ms[notOn])
			}
			if got := eventStatuses(ms[audio]); !slices.Equal(got, []string{"QUEUED", "SENT", "DELIVERED", "READ", "PLAYED"}) {
				t.Errorf("events of audio: %v", got)
			}
			if str(ms[normal], "waMessageId") == "" || ms[notOn].(map[string]any)["waMessageId"] != nil {
				t.Errorf("waMessageId: sent %v, failed %v", ms[normal], ms[notOn])
			}

			in := ws.data("in")
			if str(in, "incomingMessages", "text") != "echo me" || str(in, "incomingMessages", "message", "direction") != "INBOUND" ||
				str(in, "incomingMessages", "message", "peer") != "+14155550003" {
				t.Errorf("incoming echo: %v", in)
			}
			r := gql(t, base, token, `{ viewer { messages(filter: {clientReference: "order-7"}) { totalCount edges { node { id } } } } }`, nil)
			if get(r.Data, "viewer", "messages", "totalCount") != float64(1) {
				t.Errorf("filter by clientReference: %+v", r)
			}
			r = gql(t, base, token, `{ viewer { messages(filter: {direction: INBOUND}) { totalCount edges { node { status peer } } } } }`, nil)
			if get(r.Data, "viewer", "messages", "totalCount") != float64(1) || str(r.Data, "viewer", "messages", "edges", 0, "node", "status") != "RECEIVED" {
				t.Errorf("inbound metadata: %+v", r)
			}
			counts := transmissions(t, serverOf(t, base).dbURL)
			for _, id := range []string{normal, unread, echo, audio} {
				if counts[waID(t, base, token, id)] != 1 {
					t.Errorf("message %s transmitted %d times", id, counts[waID(t, base, token, id)])
				}
			}
		})
	}
}

// waID returns the WhatsApp id of a message, read from the database (the
// API shows it only once sent).
func waID(t *testing.T, base, token, id string) string {
	t.Helper()
	return waIDs(t, serverOf(t, base).dbURL, id)[id]
}

// waIDs returns the WhatsApp ids of messages, read from the database.
func waIDs(t *testing.T, dbURL string, ids ...string) map[string]string {
	t.Helper()
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := db.MessagesByIDs(t.Context(), ids)
	if err != nil || len(ms) != len(ids) {
		t.Fatalf("messages %v: %d found, %v", ids, len(ms), err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.ID] = *m.WAMessageID
	}
	return out
}

// transmissions counts every send the sandbox recorded per WhatsApp
// message id, repeated sends of an id included.
func transmissions(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	_, _, record := sandboxRecord(t, dbURL)
	out := map[string]int{}
	for _, tr := range record {
		out[tr.MessageID]++
	}
	return out
}

func TestIdempotency(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "idem@example.com")
	num := connectedNumber(t, base, token)
	in := map[string]any{"numberId": num, "to": "+14155550123", "text": "pay invoice 42", "idempotencyKey": "invoice-42"}
	first := send(t, base, token, in)
	again := send(t, base, token, in)
	if again != first {
		t.Fatalf("a retry with the same key made message %s, not %s", again, first)
	}
	other := map[string]any{"numberId": num, "to": "+14155550123", "text": "something else", "idempotencyKey": "invoice-42"}
	r := gql(t, base, token, sendMutation, map[string]any{"i": other})
	if got := userErrorCodes(get(r.Data, "sendMessage")); !slices.Equal(got, []string{"CONFLICT@input.idempotencyKey"}) {
		t.Fatalf("same key, different message: %v", got)
	}
	ms := waitMessages(t, base, token, "the message read", func(ms map[string]any) bool { return statusOf(ms, first) == "READ" })
	if len(ms) != 1 {
		t.Fatalf("%d messages after retries; want 1", len(ms))
	}
	if n := transmissions(t, serverOf(t, base).dbURL)[waID(t, base, token, first)]; n != 1 {
		t.Fatalf("transmitted %d times", n)
	}
	other2, _ := signUp(t, base, "idem2@example.com")
	num2 := connectedNumber(t, base, other2)
	in["numberId"] = num2
	if send(t, base, other2, in) == first {
		t.Fatal("idempotency keys are shared between accounts")
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "badsend@example.com")
	num := connectedNumber(t, base, token)
	otherToken, _ := signUp(t, base, "stranger@example.com")
	otherNum := connectedNumber(t, base, otherToken)
	b64 := base64.StdEncoding.EncodeToString([]byte("\x89PNG fake"))
	long := strings.Repeat("a", 4097)
	key := strings.Repeat("k", 256)
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"malformed recipient", map[string]any{"to": "12345", "text": "x"}, "INVALID@input.to"},
		{"recipient with letters", map[string]any{"to": "+1 415 CALL NOW", "text": "x"}, "INVALID@input.to"},
		{"text too long", map[string]any{"text": long}, "INVALID@input.text"},
		{"no text and no media", map[string]any{"text": "  "}, "INVALID@input.text"},
		{"unknown number", map[string]any{"numberId": "num_01M8A9N1KD0002AGDFB2MH75JP", "text": "x"}, "NOT_FOUND@input.numberId"},
		{"another account's number", map[string]any{"numberId": otherNum, "text": "x"}, "NOT_FOUND@input.numberId"},
		{"idempotency key too long", map[string]any{"text": "x", "idempotencyKey": key}, "INVALID@input.idempotencyKey"},
		{"media of a kind that is not media", map[string]any{"media": map[string]any{"kind": "TEXT", "mimeType": "text/plain", "data": b64}}, "INVALID@input.media.kind"},
		{"wrong MIME type for the kind", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "application/pdf", "data": b64}}, "INVALID@input.media.mimeType"},
		{"bad base64", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": "%%%"}}, "INVALID@input.media.data"},
		{"data and url", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": b64, "url": "https://example.com/a.png"}}, "INVALID@input.media"},
		{"plain http url", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": "http://example.com/a.png"}}, "INVALID@input.media.url"},
		{"loopback url", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": "https://127.0.0.1/a.png"}}, "INVALID@input.media.url"},
		{"localhost url", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": "https://localhost/a.png"}}, "INVALID@input.media.url"},
		{"private url", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": "https://10.1.2.3/a.png"}}, "INVALID@input.media.url"},
		{"metadata url", map[string]any{"media": map[string]any{"kind": "DOCUMENT", "mimeType": "application/json", "url": "https://169.254.169.254/latest/meta-data"}}, "INVALID@input.media.url"},
		{"url with credentials", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": "https://u:p@example.com/a.png"}}, "INVALID@input.media.url"},
		{"image too large", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png",
			"data": base64.StdEncoding.EncodeToString(make([]byte, 5<<20+1))}}, "INVALID@input.media"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{"numberId": num, "to": "+14155550123"}
			for k, v := range tt.in {
				in[k] = v
			}
			r := gql(t, base, token, sendMutation, map[string]any{"i": in})
			if len(r.Errors) > 0 {
				t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
			}
			if got := userErrorCodes(get(r.Data, "sendMessage")); !slices.Contains(got, tt.want) {
				t.Fatalf("userErrors = %v; want %s", got, tt.want)
			}
			if get(r.Data, "sendMessage", "message") != nil {
				t.Fatal("a message came back with the userErrors")
			}
		})
	}
	t.Run("API key without SEND", func(t *testing.T) {
		key, _ := createAPIKey(t, base, token, "READ")
		r := gql(t, base, key, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": "x"}})
		if r.code() != "FORBIDDEN" {
			t.Fatalf("sendMessage with a READ key: %+v", r)
		}
	})
	t.Run("number not connected", func(t *testing.T) {
		r := gql(t, base, token, `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`, map[string]any{"id": num})
		if str(r.Data, "disconnectNumber", "number", "status") != "DISCONNECTED" {
			t.Fatalf("disconnectNumber = %+v", r)
		}
		r = gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": "x"}})
		if got := userErrorCodes(get(r.Data, "sendMessage")); !slices.Equal(got, []string{"NOT_CONNECTED@input.numberId"}) {
			t.Fatalf("send through a disconnected number: %v", got)
		}
	})
	if r := gql(t, base, token, `{ viewer { messages { totalCount } } }`, nil); get(r.Data, "viewer", "messages", "totalCount") != float64(0) {
		t.Fatalf("refused sends queued messages: %v", r.Data)
	}
	if n := len(transmissions(t, serverOf(t, base).dbURL)); n != 0 {
		t.Fatalf("refused sends were transmitted: %d", n)
	}
}

// statusEvents reads messageStatus events from a websocket until done
// holds, returning them in order.
func statusEvents(t *testing.T, ws *wsClient, id string, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for !done(evs) {
		d := ws.data(id)
		evs = append(evs, get(d, "messageStatus").(map[string]any))
	}
	return evs
}

// cursors returns the events' cursors as integers.
func cursors(t *testing.T, evs []map[string]any) []int64 {
	t.Helper()
	var out []int64
	for _, e := range evs {
		c, err := strconv.ParseInt(str(e, "cursor"), 10, 64)
		if err != nil {
			t.Fatalf("cursor %v is not a decimal integer", e["cursor"])
		}
		out = append(out, c)
	}
	return out
}

// increasing fails unless cs strictly increase from after on: no event
// twice, none out of order. (Cursors are shared by every event type, so a
// filtered stream skips some; the callers count what they got.)
func increasing(t *testing.T, cs []int64, after int64) {
	t.Helper()
	for i, c := range cs {
		if c <= after {
			t.Fatalf("cursors %v: %d at %d is not after %d (a duplicate, or out of order)", cs, c, i, after)
		}
		after = c
	}
}

const statusSub = `subscription($after: Cursor) { messageStatus(after: $after) { cursor messageId numberId status at message { id status } } }`

// readCount counts READ events.
func readCount(evs []map[string]any) int {
	n := 0
	for _, e := range evs {
		if str(e, "status") == "READ" {
			n++
		}
	}
	return n
}

func TestStatusReplayAfterDroppedConnection(t *testing.T) {
	for _, proto := range subprotocols {
		t.Run(proto, func(t *testing.T) {
			base := startServer(t, nil)
			token, _ := signUp(t, base, "replay@example.com")
			num := connectedNumber(t, base, token)
			ws := openWS(t, base, proto, token)
			ws.subscribe("s", statusSub, map[string]any{"after": "0"})
			send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "one"})
			seen := statusEvents(t, ws, "s", func(evs []map[string]any) bool { return readCount(evs) == 1 })
			increasing(t, cursors(t, seen), 0)
			ws.conn.Close() // the connection drops

			for i := 0; i < 5; i++ {
				send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("while away ", i)})
			}
			last := cursors(t, seen)[len(seen)-1]
			ws2 := openWS(t, base, proto, token)
			ws2.subscribe("s", statusSub, map[string]any{"after": strconv.FormatInt(last, 10)})
			rest := statusEvents(t, ws2, "s", func(evs []map[string]any) bool { return readCount(evs) == 5 })
			increasing(t, cursors(t, rest), last)
			if n := len(seen) + len(rest); n != 6*4 {
				t.Fatalf("%d events for 6 messages; want 24", n)
			}
			for _, e := range rest {
				if str(e, "message", "id") != str(e, "messageId") {
					t.Fatalf("event's message: %v", e)
				}
			}
		})
	}
}

// privateRedis runs a redis-server of the test's own on a free port, so the
// test can stop and start it; it returns its URL and a restart function.
func privateRedis(t *testing.T) (url string, stop, start func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	var cmd *exec.Cmd
	start = func() {
		cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		eventually(t, "redis-server to start", 5*time.Second, func() bool {
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	stop = func() {
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	start()
	t.Cleanup(stop)
	return "redis://127.0.0.1:" + port + "/0", stop, start
}

func TestStatusAcrossRedisOutage(t *testing.T) {
	redisURL, stopRedis, startRedis := privateRedis(t)
	base := startServer(t, map[string]string{"APIWS_REDIS_URL": redisURL})
	token, _ := signUp(t, base, "outage@example.com")
	num := connectedNumber(t, base, token)
	ws := openWS(t, base, "graphql-transport-ws", token)
	ws.subscribe("s", statusSub, map[string]any{"after": "0"})
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "before"})
	evs := statusEvents(t, ws, "s", func(evs []map[string]any) bool { return readCount(evs) == 1 })

	stopRedis()
	for i := 0; i < 3; i++ { // sends are still accepted
		send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("during ", i)})
	}
	eventually(t, "/readyz to see the outage", 10*time.Second, func() bool { return statusCode(t, base+"/readyz") == 503 })
	startRedis()
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "after"})
	evs = append(evs, statusEvents(t, ws, "s", func(more []map[string]any) bool { return readCount(more) == 4 })...)
	increasing(t, cursors(t, evs), 0)
	if len(evs) != 5*4 {
		t.Fatalf("%d events for 5 messages; want 20", len(evs))
	}
}

func TestRestartWithQueuedMessages(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"APIWS_DATABASE_URL": filepath.Join(dir, "apiws.db"), "APIWS_PLAN_SENDS_PER_SECOND": "40", "APIWS_RATE_LIMIT_PER_SECOND": "0"}
	ctx, cancel := context.WithCancel(context.Background())
	base := startServerCtx(t, ctx, env)
	token, _ := signUp(t, base, "restart@example.com")
	num := connectedNumber(t, base, token)
	var ids []string
	for i := 0; i < 100; i++ {
		ids = append(ids, send(t, base, token, map[string]any{"numberId": num, "to": "+14155550001", "text": fmt.Sprint("queued ", i)}))
	}
	cancel() // graceful stop with most of the queue still waiting
	waitStopped(t, base)
	sentBefore := len(transmissions(t, env["APIWS_DATABASE_URL"]))
	if sentBefore >= 100 {
		t.Fatalf("all %d were sent before the restart; the test proves nothing", sentBefore)
	}

	base = startServer(t, env)
	// Receipts of messages sent just before the stop were the stopped
	// sandbox's to play, so SENT is as far as some of them get.
	waitMessages(t, base, token, "all 100 sent", func(ms map[string]any) bool {
		for _, id := range ids {
			if s := statusOf(ms, id); s != "SENT" && s != "DELIVERED" {
				return false
			}
		}
		return true
	})
	counts := transmissions(t, env["APIWS_DATABASE_URL"])
	if len(counts) != 100 {
		t.Fatalf("%d distinct messages transmitted; want 100", len(counts))
	}
	for id, n := range counts {
		if n != 1 {
			t.Fatalf("message %s transmitted %d times", id, n)
		}
	}
	t.Logf("%d sent before the restart, %d after", sentBefore, 100-sentBefore)
}

func TestNoMessageContentAtRest(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "apiws.db")
	base := startServer(t, map[string]string{"APIWS_DATABASE_URL": dbPath})
	token, _ := signUp(t, base, "content@example.com")
	num := connectedNumber(t, base, token)
	grant := `mutation($i: DebugCaptureInput!) { grantDebugCapture(input: $i) { debugCapture { id until number { id } } userErrors { field code } } }`

	// Plain sends, then a capture that is revoked, then one that expires.
	plain := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "MARKER-plain-alpha"})
	waitMessages(t, base, token, "sent", func(ms map[string]any) bool { return statusOf(ms, plain) == "READ" })
	r := gql(t, base, token, grant, map[string]any{"i": map[string]any{"numberId": num, "reason": "ticket 1", "until": time.Now().Add(time.Hour).Format(time.RFC3339)}})
	capID := str(r.Data, "grantDebugCapture", "debugCapture", "id")
	if capID == "" {
		t.Fatalf("grantDebugCapture = %+v", r)
	}
	captured := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "MARKER-captured-beta"})
	waitMessages(t, base, token, "sent", func(ms map[string]any) bool { return statusOf(ms, captured) == "READ" })
	if n := countRows(t, dbPath, "captured_contents"); n != 1 {
		t.Fatalf("%d captured contents under an active capture; want 1", n)
	}
	r = gql(t, base, token, `mutation($id: ID!) { revokeDebugCapture(id: $id) { debugCapture { revokedAt } userErrors { code } } }`, map[string]any{"id": capID})
	if get(r.Data, "revokeDebugCapture", "debugCapture", "revokedAt") == nil {
		t.Fatalf("revokeDebugCapture = %+v", r)
	}
	if n := countRows(t, dbPath, "captured_contents"); n != 0 {
		t.Fatalf("%d captured contents after revocation", n)
	}

	r = gql(t, base, token, grant, map[string]any{"i": map[string]any{"numberId": num, "reason": "ticket 2", "until": time.Now().Add(time.Hour).Format(time.RFC3339)}})
	if str(r.Data, "grantDebugCapture", "debugCapture", "id") == "" {
		t.Fatalf("grantDebugCapture = %+v", r)
	}
	expiring := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "MARKER-expiring-gamma"})
	waitMessages(t, base, token, "sent", func(ms map[string]any) bool { return statusOf(ms, expiring) == "READ" })
	if n := countRows(t, dbPath, "captured_contents"); n != 1 {
		t.Fatalf("%d captured contents; want 1", n)
	}
	out := retentionRun(t, base, time.Now().Add(2*time.Hour))
	if n := countRows(t, dbPath, "captured_contents"); n != 0 {
		t.Fatalf("%d captured contents after the capture ended (%s)", n, out)
	}

	// Not in any column, nor anywhere in the database files.
	db, err := storage.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, marker := range []string{"MARKER-plain-alpha", "MARKER-captured-beta", "MARKER-expiring-gamma"} {
		if where := findInDatabase(t, db, marker); where != "" {
			t.Errorf("%s found in %s", marker, where)
		}
		for _, f := range []string{dbPath, dbPath + "-wal"} {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), marker) {
				t.Errorf("%s found in the file %s", marker, filepath.Base(f))
			}
		}
	}
}

func countRows(t *testing.T, dbURL, table string) int {
	t.Helper()
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatementCountDoesNotGrowWithPageSize(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_SANDBOX_DELAY": "0", "APIWS_PLAN_SENDS_PER_SECOND": "1000", "APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "pages@example.com")
	num := connectedNumber(t, base, token)
	var last string
	for i := 0; i < 50; i++ {
		last = send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "x"})
	}
	waitMessages(t, base, token, "all read", func(ms map[string]any) bool { return statusOf(ms, last) == "READ" })
	// The journal committed the 50 sends, their acceptances and receipts,
	// several writes a transaction at most.
	commits, writes := metric(t, base, "apiws_journal_commits_total"), metric(t, base, "apiws_journal_writes_total")
	if busy := metric(t, base, "apiws_journal_busy_seconds_total"); commits < 1 || writes < 50+3 || writes < commits || busy <= 0 {
		t.Errorf("journal metrics: %v commits of %v writes, busy %v s; want at least the 50 sends and a receipt, in fewer commits, taking time", commits, writes, busy)
	}
	page := `query($n: Int) { viewer { messages(first: $n) { edges { node { id status number { id phone } events { cursor status } } } } } }`
	counted := `query($n: Int) { viewer { messages(first: $n) { totalCount edges { node { id status number { id phone } events { cursor status } } } } } }`
	statementsOf := func(query string, n int) float64 {
		best := -1.0
		for i := 0; i < 10; i++ { // the fewest of ten runs: background work (lease heartbeats, outbox scans) may add to some
			before := metric(t, base, "apiws_db_statements_total")
			r := gql(t, base, token, query, map[string]any{"n": n})
			if got := len(get(r.Data, "viewer", "messages", "edges").([]any)); got != n {
				t.Fatalf("page of %d has %d edges", n, got)
			}
			if query == counted && get(r.Data, "viewer", "messages", "totalCount") != float64(50) {
				t.Fatalf("totalCount = %v; want 50", get(r.Data, "viewer", "messages", "totalCount"))
			}
			d := metric(t, base, "apiws_db_statements_total") - before
			if best < 0 || d < best {
				best = d
			}
		}
		return best
	}
	five, fifty := statementsOf(page, 5), statementsOf(page, 50)
	if five != fifty {
		t.Fatalf("a page of 5 takes %v statements, a page of 50 %v", five, fifty)
	}
	// The messages are counted only when totalCount is asked for.
	if c := statementsOf(counted, 5); c != five+1 {
		t.Fatalf("a page of 5 with totalCount takes %v statements, without %v; want one more", c, five)
	}
	t.Logf("statements per page: %v", five)
}

func TestQuotaRefusesSendsOverThePlan(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_PLAN_MONTHLY_MESSAGES": "2"})
	token, _ := signUp(t, base, "quota@example.com")
	num := connectedNumber(t, base, token)
	a := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "1"})
	b := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "2"})
	r := gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": "3"}})
	if got := userErrorCodes(get(r.Data, "sendMessage")); len(got) != 1 || !strings.HasPrefix(got[0], "QUOTA_EXCEEDED") {
		t.Fatalf("a send over the quota: %v", got)
	}
	q := gql(t, base, token, `{ viewer { quota { used limit resetsAt } plan { name monthlyMessages } messages { totalCount } } }`, nil)
	if get(q.Data, "viewer", "quota", "used") != float64(2) || get(q.Data, "viewer", "quota", "limit") != float64(2) ||
		get(q.Data, "viewer", "messages", "totalCount") != float64(2) {
		t.Fatalf("after a refused send: %v\n%s", q.Data, serverOf(t, base).log.String())
	}
	waitMessages(t, base, token, "read", func(ms map[string]any) bool { return statusOf(ms, a) == "READ" && statusOf(ms, b) == "READ" })
	now := time.Now().UTC()
	u := gql(t, base, token, `query($from: Time!, $to: Time!) { viewer { usage(from: $from, to: $to, granularity: DAY) { start messagesSent messagesRead apiCalls } } }`,
		map[string]any{"from": now.Truncate(24 * time.Hour).Format(time.RFC3339), "to": now.Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)})
	if get(u.Data, "viewer", "usage", 0, "messagesSent") != float64(2) || get(u.Data, "viewer", "usage", 0, "messagesRead") != float64(2) {
		t.Fatalf("usage today: %v %v", u.Data, u.Errors)
	}
}

func TestRemovedNumberFailsItsQueue(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_PLAN_SENDS_PER_SECOND": "1", "APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "removed@example.com")
	num := connectedNumber(t, base, token)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, send(t, base, token, map[string]any{"numberId": num, "to": "+14155550001", "text": fmt.Sprint("MARKER-queued-", i)}))
	}
	r := gql(t, base, token, `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { code } } }`, map[string]any{"id": num})
	if str(r.Data, "removeNumber", "removedNumberId") != num {
		t.Fatalf("removeNumber = %+v", r)
	}
	ms := waitMessages(t, base, token, "the queue failed", func(ms map[string]any) bool {
		for _, id := range ids {
			if s := statusOf(ms, id); s == "QUEUED" {
				return false
			}
		}
		return true
	})
	failed := 0
	for _, id := range ids {
		if statusOf(ms, id) == "FAILED" {
			failed++
			if str(ms[id], "error", "code") != "NOT_CONNECTED" {
				t.Fatalf("failed with %v", ms[id])
			}
		}
	}
	if failed == 0 {
		t.Fatal("no queued message failed: all were sent before the removal")
	}
	if n := countRows(t, serverOf(t, base).dbURL, "outbox"); n != 0 {
		t.Fatalf("%d outbox rows (with content) kept after the number was removed", n)
	}
}

func TestCursorAheadOfTheLogIsRefused(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "ahead@example.com")
	ws := openWS(t, base, "graphql-transport-ws", token)
	ws.subscribe("s", statusSub, map[string]any{"after": "999"})
	m := ws.next("s")
	if m["type"] != "error" && get(m, "payload", "errors") == nil {
		t.Fatalf("a cursor ahead of the log: %v", m)
	}
}

// TestInboundDuringRedisOutageIsNotLost: an inbound message that arrives
// while Redis is away is in the log, its content in transit; subscribers
// on both protocols get it, content included, once Redis is back.
func TestInboundDuringRedisOutageIsNotLost(t *testing.T) {
	redisURL, stopRedis, startRedis := privateRedis(t)
	base := startServer(t, map[string]string{"APIWS_REDIS_URL": redisURL})
	token, _ := signUp(t, base, "incoming-outage@example.com")
	num := connectedNumber(t, base, token)
	var sockets []*wsClient
	for _, proto := range subprotocols {
		ws := openWS(t, base, proto, token)
		ws.subscribe("in", `subscription { incomingMessages { message { id } text } }`, nil)
		ws.subscribe("ev", `subscription { events(types: [MESSAGE_RECEIVED]) { cursor ... on MessageReceivedEvent { content { text } } } }`, nil)
		sockets = append(sockets, ws)
	}
	// The streams are live once an echo (sandbox 0003) comes through.
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "live?"})
	for _, ws := range sockets {
		if d := ws.data("in"); str(d, "incomingMessages", "text") != "live?" {
			t.Fatalf("first inbound message: %v", d)
		}
		if d := ws.data("ev"); str(d, "events", "content", "text") != "live?" {
			t.Fatalf("first inbound event: %v", d)
		}
	}
	stopRedis()
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "while Redis is away"})
	waitMessages(t, base, token, "the echo received", func(ms map[string]any) bool { return countInbound(ms) == 2 })
	startRedis()
	for _, ws := range sockets {
		if d := ws.data("in"); str(d, "incomingMessages", "text") != "while Redis is away" {
			t.Fatalf("after the outage: %v", d)
		}
		if d := ws.data("ev"); str(d, "events", "content", "text") != "while Redis is away" {
			t.Fatalf("event after the outage: %v", d)
		}
	}
}

// countInbound counts the inbound messages of a waitMessages map.
func countInbound(ms map[string]any) int {
	n := 0
	for _, m := range ms {
		if str(m, "direction") == "INBOUND" {
			n++
		}
	}
	return n
}

// TestPrivateMediaURLsOnlyWhenAllowed: APIWS_ALLOW_PRIVATE_URLS=true lets a
// media URL on this machine (plain http) through, for development and
// tests; without it such a URL is refused and nothing is queued.
func TestPrivateMediaURLsOnlyWhenAllowed(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nnot really a png")
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	}))
	defer files.Close()
	media := map[string]any{"kind": "IMAGE", "mimeType": "image/png", "url": files.URL + "/a.png"}
	for _, allowed := range []bool{false, true} {
		t.Run(fmt.Sprint("allowed=", allowed), func(t *testing.T) {
			env := map[string]string{}
			if allowed {
				env["APIWS_ALLOW_PRIVATE_URLS"] = "true"
			}
			base := startServer(t, env)
			token, _ := signUp(t, base, "media-url@example.com")
			num := connectedNumber(t, base, token)
			r := gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "media": media}})
			codes := userErrorCodes(get(r.Data, "sendMessage"))
			id := str(r.Data, "sendMessage", "message", "id")
			if !allowed {
				if len(codes) != 1 || !strings.HasPrefix(codes[0], "INVALID@input.media") || id != "" {
					t.Fatalf("a loopback media URL without APIWS_ALLOW_PRIVATE_URLS: %v, message %q", codes, id)
				}
				return
			}
			if len(codes) != 0 || id == "" {
				t.Fatalf("a loopback media URL with APIWS_ALLOW_PRIVATE_URLS=true: %v %+v", codes, r)
			}
			waitMessages(t, base, token, "sent", func(ms map[string]any) bool { return statusOf(ms, id) == "READ" })
		})
	}
}

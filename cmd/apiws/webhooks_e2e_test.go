package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/apiws/apiws/storage"
)

const (
	createWebhook = `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  secret webhookEndpoint { id url description types numberIds enabled disabledReason createdAt } userErrors { field code message } } }`
	updateWebhook = `mutation($i: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $i) {
  webhookEndpoint { id url types numberIds enabled disabledReason } userErrors { field code message } } }`
	pingWebhook   = `mutation($id: ID!) { pingWebhookEndpoint(id: $id) { webhookEndpoint { id } userErrors { field code message } } }`
	rotateWebhook = `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhookEndpoint { id } userErrors { field code message } } }`
	replayWebhook = `mutation($id: ID!, $after: Cursor!) { replayWebhookDeliveries(endpointId: $id, after: $after) {
  webhookEndpoint { id } userErrors { field code message } } }`
	deleteWebhook  = `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { webhookEndpoint { id } userErrors { field code message } } }`
	webhookDeliver = `query($id: ID!, $status: [WebhookDeliveryStatus!], $first: Int, $after: String) { node(id: $id) { ... on WebhookEndpoint {
  id enabled disabledReason deliveries(first: $first, after: $after, status: $status) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id eventType eventCursor status attempts lastAttemptAt nextAttemptAt responseStatus error createdAt endpoint { id } } } } } } }`
)

// hook is one request a test receiver got.
type hook struct {
	Path string
	ID   string
	Sigs int
	Body struct {
		Type      string         `json:"type"`
		Cursor    *string        `json:"cursor"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
}

// hookReceiver is a webhook endpoint of the test's own: every request must
// verify, with the Standard Webhooks library, under each secret its path
// expects; answer chooses the response of the n-th request to a path (200
// by default).
type hookReceiver struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	secrets map[string][]string
	got     []hook
	answer  func(w http.ResponseWriter, path string, n int)
}

func newHookReceiver(t *testing.T, answer func(w http.ResponseWriter, path string, n int)) *hookReceiver {
	r := &hookReceiver{t: t, secrets: map[string][]string{}, answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	h := hook{Path: req.URL.Path, ID: req.Header.Get("webhook-id"), Sigs: len(strings.Fields(req.Header.Get("webhook-signature")))}
	if err := json.Unmarshal(raw, &h.Body); err != nil {
		r.t.Errorf("%s: body %q: %v", h.Path, raw, err)
	}
	if ct := req.Header.Get("content-type"); req.Method != http.MethodPost || ct != "application/json" {
		r.t.Errorf("%s: %s with content-type %q", h.Path, req.Method, ct)
	}
	r.mu.Lock()
	secrets := r.secrets[h.Path]
	r.got = append(r.got, h)
	n := 0
	for _, g := range r.got {
		if g.Path == h.Path {
			n++
		}
	}
	r.mu.Unlock()
	if len(secrets) == 0 {
		r.t.Errorf("%s: no secret to verify with", h.Path)
	}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err == nil {
			err = wh.Verify(raw, req.Header)
		}
		if err != nil {
			r.t.Errorf("%s: %s does not verify with %s...: %v", h.Path, h.ID, s[:12], err)
		}
	}
	if r.answer != nil {
		r.answer(w, h.Path, n)
	}
}

func (r *hookReceiver) expect(path string, secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[path] = secrets
}

// of returns the requests to path so far.
func (r *hookReceiver) of(path string) []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hook
	for _, h := range r.got {
		if h.Path == path {
			out = append(out, h)
		}
	}
	return out
}

// createEndpoint creates an endpoint on the receiver's path and tells the
// receiver its secret; it returns the endpoint's id.
func (r *hookReceiver) createEndpoint(t *testing.T, base, token, path string, in map[string]any) string {
	t.Helper()
	if in == nil {
		in = map[string]any{}
	}
	in["url"] = r.URL + path
	res := gql(t, base, token, createWebhook, map[string]any{"i": in})
	p := get(res.Data, "createWebhookEndpoint")
	id, secret := str(p, "webhookEndpoint", "id"), str(p, "secret")
	if !strings.HasPrefix(id, "whe_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("createWebhookEndpoint(%v) = %+v", in, res)
	}
	r.expect(path, secret)
	return id
}

var digits = regexp.MustCompile(`^[0-9]+$`)

func TestWebhooks(t *testing.T) {
	mailDir := t.TempDir()
	base := startServer(t, serverEnv(t, map[string]string{"APIWS_ALLOW_PRIVATE_URLS": "true", "APIWS_MAIL_DIR": mailDir,
		"APIWS_RATE_LIMIT_PER_SECOND": "1000"}))
	token, _ := signUp(t, base, "hooks@example.com")
	num := connectedNumber(t, base, token)
	recv := newHookReceiver(t, func(w http.ResponseWriter, path string, n int) {
		switch {
		case path == "/flaky" && n == 1:
			w.WriteHeader(http.StatusInternalServerError)
		case path == "/gone":
			w.WriteHeader(http.StatusGone)
		case path == "/redirect":
			w.Header().Set("Location", "/status")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case path == "/huge":
			w.WriteHeader(http.StatusInternalServerError)
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 256 { // 16 MiB, of which apiws reads a few KiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	status := recv.createEndpoint(t, base, token, "/status", map[string]any{"types": []string{"MESSAGE_STATUS"}, "description": "orders"})
	other := connectSandbox(t, base, token) // a second number, of which nothing is sent
	byNumber := recv.createEndpoint(t, base, token, "/other-number", map[string]any{"numberIds": []string{other}})
	byType := recv.createEndpoint(t, base, token, "/received", map[string]any{"types": []string{"MESSAGE_RECEIVED"}})

	t.Run("ping is delivered and signed", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		r := gql(t, base, token, pingWebhook, map[string]any{"id": status})
		if firstUserError(get(r.Data, "pingWebhookEndpoint")) != "" || r.Errors != nil {
			t.Fatalf("ping = %+v", r)
		}
		eventually(t, "the PING", 10*time.Second, func() bool { return len(recv.of("/status")) == 1 })
		h := recv.of("/status")[0]
		at, err := time.Parse(time.RFC3339, h.Body.Timestamp)
		if h.Body.Type != "PING" || h.Body.Cursor != nil || h.Body.Data["endpointId"] != status || !strings.HasPrefix(h.ID, "whd_") ||
			err != nil || at.Before(before) || h.Sigs != 1 {
			t.Fatalf("PING = %+v (%v)", h, err)
		}
	})

	t.Run("message statuses are delivered in cursor order", func(t *testing.T) {
		msg := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "hello"})
		eventually(t, "QUEUED, SENT and DELIVERED", 20*time.Second, func() bool {
			seen := map[string]bool{}
			for _, h := range recv.of("/status") {
				if h.Body.Type == "MESSAGE_STATUS" {
					seen[str(h.Body.Data, "status")] = true
				}
			}
			return seen["QUEUED"] && seen["SENT"] && seen["DELIVERED"]
		})
		var last int64
		for _, h := range recv.of("/status")[1:] {
			c := *h.Body.Cursor
			if h.Body.Type != "MESSAGE_STATUS" || !digits.MatchString(c) || str(h.Body.Data, "messageId") != msg ||
				str(h.Body.Data, "numberId") != num || str(h.Body.Data, "cursor") != c {
				t.Fatalf("delivery %+v", h)
			}
			n, _ := strconv.ParseInt(c, 10, 64)
			if n <= last {
				t.Fatalf("cursor %s after %d", c, last)
			}
			last = n
		}
		// The filters: the other type's endpoint gets nothing, the other
		// number's only that number's events (its status changes).
		r := gql(t, base, token, webhookDeliver, map[string]any{"id": byType})
		if n := get(r.Data, "node", "deliveries", "totalCount"); n != float64(0) || len(recv.of("/received")) != 0 {
			t.Fatalf("the MESSAGE_RECEIVED endpoint has %v deliveries: %+v", n, r)
		}
		r = gql(t, base, token, webhookDeliver, map[string]any{"id": byNumber, "first": 100})
		for _, e := range get(r.Data, "node", "deliveries", "edges").([]any) {
			if str(e, "node", "eventType") != "NUMBER_STATUS" {
				t.Fatalf("the other number's endpoint got %+v", e)
			}
		}
		for _, h := range recv.of("/other-number") {
			if h.Body.Type != "NUMBER_STATUS" || str(h.Body.Data, "numberId") != other {
				t.Fatalf("the other number's endpoint got %+v", h)
			}
		}
	})

	t.Run("an inbound message is delivered with its content, which then leaves transit", func(t *testing.T) {
		send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "echo me"}) // 0003 answers with an echo
		eventually(t, "the MESSAGE_RECEIVED", 20*time.Second, func() bool { return len(recv.of("/received")) == 1 })
		h := recv.of("/received")[0]
		if h.Body.Type != "MESSAGE_RECEIVED" || str(h.Body.Data, "content", "text") != "echo me" || str(h.Body.Data, "numberId") != num ||
			!strings.HasPrefix(str(h.Body.Data, "message", "id"), "msg_") || str(h.Body.Data, "cursor") != *h.Body.Cursor {
			t.Fatalf("MESSAGE_RECEIVED = %+v", h)
		}
		// Every enabled endpoint selecting it has it: the content goes.
		eventually(t, "the transit row to go", 10*time.Second, func() bool {
			return countRows(t, serverOf(t, base).dbURL, "inbound_transit") == 0
		})
	})

	t.Run("deliveries page newest first", func(t *testing.T) {
		eventually(t, "every delivery to succeed", 10*time.Second, func() bool {
			r := gql(t, base, token, webhookDeliver, map[string]any{"id": status, "status": []string{"PENDING"}})
			return get(r.Data, "node", "deliveries", "totalCount") == float64(0)
		})
		r := gql(t, base, token, webhookDeliver, map[string]any{"id": status, "status": []string{"SUCCEEDED"}, "first": 2})
		conn := get(r.Data, "node", "deliveries")
		edges, _ := get(conn, "edges").([]any)
		total := int(get(conn, "totalCount").(float64))
		if total != len(recv.of("/status")) || len(edges) != 2 || get(conn, "pageInfo", "hasNextPage") != true {
			t.Fatalf("deliveries = %+v", r)
		}
		first := get(edges[0], "node")
		if str(first, "id") <= str(edges[1], "node", "id") || str(first, "status") != "SUCCEEDED" || get(first, "attempts") != float64(1) ||
			get(first, "responseStatus") != float64(200) || str(first, "endpoint", "id") != status || get(first, "nextAttemptAt") != nil {
			t.Fatalf("newest delivery = %+v", first)
		}
		r = gql(t, base, token, webhookDeliver, map[string]any{"id": status, "first": 100, "after": str(conn, "pageInfo", "endCursor")})
		if n := len(get(r.Data, "node", "deliveries", "edges").([]any)); n != total-2 {
			t.Fatalf("second page has %d edges, want %d", n, total-2)
		}
	})

	t.Run("replay makes new deliveries of the same cursors", func(t *testing.T) {
		before := recv.of("/status")
		var cursors []string
		for _, h := range before[1:] {
			cursors = append(cursors, *h.Body.Cursor)
		}
		r := gql(t, base, token, replayWebhook, map[string]any{"id": status, "after": "0"})
		if firstUserError(get(r.Data, "replayWebhookDeliveries")) != "" || r.Errors != nil {
			t.Fatalf("replay = %+v", r)
		}
		eventually(t, "the replayed deliveries", 10*time.Second, func() bool { return len(recv.of("/status")) == len(before)+len(cursors) })
		old := map[string]bool{}
		for _, h := range before {
			old[h.ID] = true
		}
		var again []string
		for _, h := range recv.of("/status")[len(before):] {
			if old[h.ID] {
				t.Fatalf("a replay reused webhook-id %s", h.ID)
			}
			again = append(again, *h.Body.Cursor)
		}
		if strings.Join(again, ",") != strings.Join(cursors, ",") {
			t.Fatalf("replayed cursors %v, want %v", again, cursors)
		}
	})

	t.Run("a rotation signs with both secrets", func(t *testing.T) {
		old := recv.secrets["/status"][0]
		r := gql(t, base, token, rotateWebhook, map[string]any{"id": status})
		secret := str(r.Data, "rotateWebhookSecret", "secret")
		if !strings.HasPrefix(secret, "whsec_") || secret == old {
			t.Fatalf("rotate = %+v", r)
		}
		recv.expect("/status", secret, old)
		n := len(recv.of("/status"))
		gql(t, base, token, pingWebhook, map[string]any{"id": status})
		eventually(t, "the PING after the rotation", 10*time.Second, func() bool { return len(recv.of("/status")) == n+1 })
		if h := recv.of("/status")[n]; h.Sigs != 2 {
			t.Fatalf("%d signatures after a rotation", h.Sigs)
		}
	})

	t.Run("a failed attempt is retried under the same webhook-id", func(t *testing.T) {
		id := recv.createEndpoint(t, base, token, "/flaky", nil)
		gql(t, base, token, pingWebhook, map[string]any{"id": id})
		// The first retry comes 5 s (±10 %) after the failure.
		eventually(t, "the retry", 15*time.Second, func() bool { return len(recv.of("/flaky")) == 2 })
		got := recv.of("/flaky")
		if got[0].ID != got[1].ID {
			t.Fatalf("webhook-ids %s then %s", got[0].ID, got[1].ID)
		}
		eventually(t, "the success to be recorded", 10*time.Second, func() bool {
			d := get(gql(t, base, token, webhookDeliver, map[string]any{"id": id}).Data, "node", "deliveries", "edges", 0, "node")
			return str(d, "status") == "SUCCEEDED" && get(d, "attempts") == float64(2)
		})
	})

	t.Run("redirects and huge bodies cost one attempt", func(t *testing.T) {
		for _, path := range []string{"/redirect", "/huge"} {
			id := recv.createEndpoint(t, base, token, path, nil)
			gql(t, base, token, pingWebhook, map[string]any{"id": id})
			var d any
			eventually(t, path+" to be tried", 10*time.Second, func() bool {
				d = get(gql(t, base, token, webhookDeliver, map[string]any{"id": id}).Data, "node", "deliveries", "edges", 0, "node")
				return get(d, "attempts") == float64(1)
			})
			if str(d, "status") != "PENDING" || str(d, "nextAttemptAt") == "" || str(d, "error") == "" {
				t.Fatalf("%s: %+v", path, d)
			}
		}
	})

	t.Run("410 Gone disables the endpoint with a notice and a mail", func(t *testing.T) {
		id := recv.createEndpoint(t, base, token, "/gone", nil)
		gql(t, base, token, pingWebhook, map[string]any{"id": id})
		var node any
		eventually(t, "the endpoint to be disabled", 10*time.Second, func() bool {
			node = get(gql(t, base, token, webhookDeliver, map[string]any{"id": id}).Data, "node")
			return get(node, "enabled") == false
		})
		d := get(node, "deliveries", "edges", 0, "node")
		if !strings.Contains(str(node, "disabledReason"), "410") || str(d, "status") != "FAILED" || str(d, "error") != "endpoint disabled" ||
			get(d, "responseStatus") != float64(410) {
			t.Fatalf("disabled endpoint = %+v", node)
		}
		r := gql(t, base, token, `{ viewer { notices { title body } } }`, nil)
		if !strings.Contains(str(r.Data, "viewer", "notices", 0, "body"), recv.URL+"/gone") {
			t.Fatalf("notices = %+v", r.Data)
		}
		eventually(t, "the mail", 10*time.Second, func() bool {
			files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				if strings.Contains(string(b), recv.URL+"/gone") {
					return true
				}
			}
			return false
		})
		// Ping refuses a disabled endpoint; enabling it clears the reason.
		if c := firstUserError(get(gql(t, base, token, pingWebhook, map[string]any{"id": id}).Data, "pingWebhookEndpoint")); c != "INVALID@id" {
			t.Fatalf("ping of a disabled endpoint = %s", c)
		}
		e := get(gql(t, base, token, updateWebhook, map[string]any{"i": map[string]any{"id": id, "enabled": true}}).Data, "updateWebhookEndpoint", "webhookEndpoint")
		if get(e, "enabled") != true || get(e, "disabledReason") != nil {
			t.Fatalf("enabled again = %+v", e)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		otherToken, _ := signUp(t, base, "hooks-other@example.com")
		foreign := connectSandbox(t, base, otherToken)
		foreignEndpoint := recv.createEndpoint(t, base, otherToken, "/foreign", nil)
		readOnly, _ := createAPIKey(t, base, token, "READ", "SEND", "MANAGE_NUMBERS")
		manager, _ := createAPIKey(t, base, token, "MANAGE_WEBHOOKS")
		count := func() int {
			return len(get(gql(t, base, token, `{ viewer { webhookEndpoints { id } } }`, nil).Data, "viewer", "webhookEndpoints").([]any))
		}
		n := count()
		for _, c := range []struct {
			name, token, query, field string
			vars                      map[string]any
			want                      string
		}{
			{"another account's number", token, createWebhook, "createWebhookEndpoint",
				map[string]any{"i": map[string]any{"url": recv.URL + "/x", "numberIds": []string{foreign}}}, "INVALID@input.numberIds"},
			{"not a URL", token, createWebhook, "createWebhookEndpoint", map[string]any{"i": map[string]any{"url": "hooks"}}, "INVALID@input.url"},
			{"a URL too long", token, createWebhook, "createWebhookEndpoint",
				map[string]any{"i": map[string]any{"url": recv.URL + "/" + strings.Repeat("a", 2048)}}, "INVALID@input.url"},
			{"another account's endpoint", token, updateWebhook, "updateWebhookEndpoint",
				map[string]any{"i": map[string]any{"id": foreignEndpoint, "enabled": false}}, "NOT_FOUND@input.id"},
			{"an unknown endpoint", token, deleteWebhook, "deleteWebhookEndpoint", map[string]any{"id": "whe_nope"}, "NOT_FOUND@id"},
			{"a cursor beyond the log", token, replayWebhook, "replayWebhookDeliveries", map[string]any{"id": status, "after": "999999"}, "INVALID@after"},
		} {
			r := gql(t, base, c.token, c.query, c.vars)
			if got := firstUserError(get(r.Data, c.field)); got != c.want || r.Errors != nil {
				t.Errorf("%s: %s (%+v), want %s", c.name, got, r, c.want)
			}
		}
		if r := gql(t, base, token, replayWebhook, map[string]any{"id": status, "after": "ten"}); r.code() != "BAD_REQUEST" {
			t.Errorf("a malformed cursor = %+v", r)
		}
		if r := gql(t, base, readOnly, pingWebhook, map[string]any{"id": status}); r.code() != "FORBIDDEN" {
			t.Errorf("a key without MANAGE_WEBHOOKS = %+v", r)
		}
		if count() != n {
			t.Fatalf("bad input changed the endpoints")
		}
		// Deleting answers the endpoint, then it is gone.
		r := gql(t, base, token, deleteWebhook, map[string]any{"id": byType})
		if str(r.Data, "deleteWebhookEndpoint", "webhookEndpoint", "id") != byType || count() != n-1 {
			t.Fatalf("delete = %+v", r)
		}
		if r := gql(t, base, token, webhookDeliver, map[string]any{"id": byType}); get(r.Data, "node") != nil {
			t.Fatalf("deleted endpoint = %+v", r)
		}
		// A key with the scope manages; the 11th endpoint is refused.
		for count() < 10 {
			recv.createEndpoint(t, base, manager, "/more", nil)
		}
		r = gql(t, base, manager, createWebhook, map[string]any{"i": map[string]any{"url": recv.URL + "/11"}})
		if got := firstUserError(get(r.Data, "createWebhookEndpoint")); got != "INVALID@input" || count() != 10 {
			t.Fatalf("11th endpoint = %+v", r)
		}
	})
}

// Two instances deliver one endpoint's stream; the one delivering is
// killed (SIGKILL) mid-stream. Every event still reaches the receiver,
// duplicates come only under the same webhook-id, and no delivery is left
// pending.
func TestWebhooksSurviveAKilledDeliverer(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_ALLOW_PRIVATE_URLS"] = "true"
	env["APIWS_PLAN_SENDS_PER_SECOND"] = "100"
	procs := []*process{startProcess(t, env), startProcess(t, env)}
	token, _ := signUp(t, procs[0].base, "hooks-fleet@example.com")
	num := connectedNumber(t, procs[0].base, token)
	// A slow receiver keeps the stream going long enough to be cut.
	recv := newHookReceiver(t, func(w http.ResponseWriter, _ string, _ int) { time.Sleep(20 * time.Millisecond) })
	endpoint := recv.createEndpoint(t, procs[0].base, token, "/fleet", map[string]any{"types": []string{"MESSAGE_STATUS"}})

	for i := range 30 {
		if _, err := tryGQL(procs[i%2].base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := storage.Open(t.Context(), env["APIWS_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var victim, survivor *process
	eventually(t, "a delivering instance to kill, mid-stream", 20*time.Second, func() bool {
		if len(recv.of("/fleet")) < 10 {
			return false
		}
		var owner string
		err := db.SQL().QueryRow("SELECT lease_owner FROM webhook_endpoints WHERE id = $1 AND lease_until > now()", endpoint).Scan(&owner)
		if err != nil {
			return false
		}
		for i, p := range procs {
			if p.instanceID(t) == owner {
				victim, survivor = p, procs[1-i]
				return true
			}
		}
		return false
	})
	_ = victim.cmd.Process.Kill()
	got := len(recv.of("/fleet"))
	t.Logf("killed the deliverer after %d deliveries", got)

	// More events after the kill, through the survivor.
	for range 5 {
		send(t, survivor.base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "after"})
	}
	var seqs []int64
	var pending, queued int
	defer func() {
		if t.Failed() {
			t.Logf("pending %d, queued %d, %d events, %d received", pending, queued, len(seqs), len(recv.of("/fleet")))
		}
	}()
	eventually(t, "every event delivered, none pending", 90*time.Second, func() bool {
		if err := db.SQL().QueryRow("SELECT count(*) FROM webhook_deliveries WHERE status <> 'SUCCEEDED'").Scan(&pending); err != nil || pending > 0 {
			return false
		}
		// Every message sent (their receipts are the messaging tests' concern).
		if err := db.SQL().QueryRow("SELECT count(*) FROM messages WHERE status = 'QUEUED'").Scan(&queued); err != nil || queued > 0 {
			return false
		}
		rows, err := db.SQL().Query("SELECT seq FROM log_events WHERE type = 'MESSAGE_STATUS' ORDER BY seq")
		if err != nil {
			return false
		}
		defer rows.Close()
		seqs = seqs[:0]
		for rows.Next() {
			var s int64
			_ = rows.Scan(&s)
			seqs = append(seqs, s)
		}
		return len(recv.of("/fleet")) >= len(seqs)
	})
	ids := map[string]string{} // cursor -> webhook-id
	dups := 0
	for _, h := range recv.of("/fleet") {
		c := *h.Body.Cursor
		if id, ok := ids[c]; ok {
			if id != h.ID {
				t.Fatalf("cursor %s came under webhook-ids %s and %s", c, id, h.ID)
			}
			dups++
		}
		ids[c] = h.ID
	}
	for _, s := range seqs {
		if ids[strconv.FormatInt(s, 10)] == "" {
			t.Fatalf("event %d never reached the receiver", s)
		}
	}
	t.Logf("%d events delivered, %d again after the kill under the same webhook-id", len(seqs), dups)
}

// Without APIWS_ALLOW_PRIVATE_URLS, an endpoint must be https and not a
// literal private address; a host name is judged at each connection, after
// DNS, so one that resolves to loopback is refused when delivering.
func TestWebhookURLsArePublicOnly(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "hooks-public@example.com")
	for _, url := range []string{"http://hooks.example.com/x", "https://127.0.0.1/x", "https://[::1]:8443/x",
		"https://10.0.0.7/x", "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/x"} {
		r := gql(t, base, token, createWebhook, map[string]any{"i": map[string]any{"url": url}})
		if got := firstUserError(get(r.Data, "createWebhookEndpoint")); got != "INVALID@input.url" {
			t.Errorf("%s: %s (%+v)", url, got, r)
		}
	}
	r := gql(t, base, token, createWebhook, map[string]any{"i": map[string]any{"url": "https://localhost:1/x"}})
	id := str(r.Data, "createWebhookEndpoint", "webhookEndpoint", "id")
	if id == "" {
		t.Fatalf("a host name was refused at creation: %+v", r)
	}
	gql(t, base, token, pingWebhook, map[string]any{"id": id})
	var d any
	eventually(t, "the ping's attempt", 10*time.Second, func() bool {
		d = get(gql(t, base, token, webhookDeliver, map[string]any{"id": id}).Data, "node", "deliveries", "edges", 0, "node")
		return get(d, "attempts") == float64(1)
	})
	if !strings.Contains(str(d, "error"), "not public") || str(d, "status") != "PENDING" || get(d, "responseStatus") != nil {
		t.Fatalf("delivery to a host name that resolves to loopback: %+v", d)
	}
}

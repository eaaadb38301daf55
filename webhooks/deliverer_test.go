package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// testData renders an event's data as its cursor, type and message id.
type testData struct{}

func (testData) EventData(_ context.Context, evs []*apiws.LogEvent) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(evs))
	for i, ev := range evs {
		out[i], _ = json.Marshal(map[string]any{"cursor": strconv.FormatInt(ev.Seq, 10), "type": ev.Type, "messageId": ev.MessageID})
	}
	return out, nil
}

// clock is the real time moved on by a skip the test controls.
type clock struct{ skip atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.skip.Load())) }
func (c *clock) advance(d time.Duration) { c.skip.Add(int64(d)) }

// hits records the requests a test receiver got, by path.
type hits struct {
	mu  sync.Mutex
	ids map[string][]string // path -> webhook-ids in arrival order
}

func (h *hits) add(path, id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[path] = append(h.ids[path], id)
	return len(h.ids[path])
}

func (h *hits) of(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids[path]...)
}

// waitFor polls ok until it holds or 15 s passed.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The deliverer against a receiver of every kind: one that answers, one
// that fails once, one that is gone, one that stalls, redirects, sends an
// endless body or closes the connection. Each misbehaviour costs one
// attempt and nothing else.
func TestDeliverer(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	svc := newService(t, db, true)
	ctx, _ := testAccount(t, db, "deliver@example.com")
	release := make(chan struct{})
	var got hits
	got.ids = map[string][]string{}
	secrets := map[string]string{}
	var secretsMu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secretsMu.Lock()
		secret := secrets[r.URL.Path]
		secretsMu.Unlock()
		wh, _ := standardwebhooks.NewWebhook(secret)
		// The deliverer's clock runs ahead of the real one here.
		if err := wh.VerifyIgnoringTimestamp(body, r.Header); err != nil {
			t.Errorf("%s: signature: %v", r.URL.Path, err)
		}
		var b struct {
			Type   string         `json:"type"`
			Cursor *string        `json:"cursor"`
			Data   map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &b); err != nil || b.Type != "PING" || b.Cursor != nil || !strings.HasPrefix(b.Data["endpointId"].(string), "whe_") {
			t.Errorf("%s: body %s", r.URL.Path, body)
		}
		n := got.add(r.URL.Path, r.Header.Get("webhook-id"))
		switch r.URL.Path {
		case "/fail-once":
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/stall":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/endless":
			w.WriteHeader(http.StatusInternalServerError)
			chunk := []byte(strings.Repeat("x", 1024))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/hangup":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}))
	defer receiver.Close()
	defer close(release)

	paths := []string{"/ok", "/fail-once", "/gone", "/stall", "/redirect", "/endless", "/hangup"}
	ids := map[string]string{}
	for _, p := range paths {
		e, secret, err := svc.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: receiver.URL + p})
		if err != nil {
			t.Fatal(err)
		}
		secretsMu.Lock()
		secrets[p] = secret
		secretsMu.Unlock()
		ids[p] = e.ID
	}

	var clk clock
	var mails atomic.Int32
	bus := events.NewMemory(events.Options{})
	defer bus.Close()
	d, err := NewDeliverer(db, DelivererOptions{Owner: "test", SecretKey: make([]byte, 32), AllowPrivate: true, Bus: bus, Data: testData{},
		Now: clk.now, Jitter: func() float64 { return 0.5 }, Timeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond,
		MailQueued: func() { mails.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	svc.queued = d.Nudge
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	for _, p := range paths {
		if _, err := svc.Ping(ctx, ids[p]); err != nil {
			t.Fatal(err)
		}
	}
	delivery := func(p string) *apiws.WebhookDelivery {
		l, err := db.WebhookDeliveries(context.Background(), ids[p], nil, apiws.Page{First: 1})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("deliveries of %s: %+v, %v", p, l, err)
		}
		return l.Items[0]
	}
	waitFor(t, "every receiver to be tried once", func() bool {
		for _, p := range paths {
			if delivery(p).Attempts < 1 {
				return false
			}
		}
		return true
	})
	if d := delivery("/ok"); d.Status != apiws.DeliverySucceeded || *d.ResponseStatus != 200 || d.NextAttemptAt != nil {
		t.Errorf("/ok: %+v", d)
	}
	for _, p := range []string{"/fail-once", "/stall", "/redirect", "/endless", "/hangup"} {
		d := delivery(p)
		if d.Status != apiws.DeliveryPending || d.Attempts != 1 || d.Error == nil || d.NextAttemptAt == nil ||
			d.NextAttemptAt.Sub(*d.LastAttemptAt) != 5*time.Second {
			t.Errorf("%s: %+v", p, d)
		}
	}
	if e := *delivery("/redirect").Error; !strings.Contains(e, "302") {
		t.Errorf("redirect error %q", e)
	}
	if e := *delivery("/stall").Error; !strings.Contains(e, "no response within") {
		t.Errorf("stall error %q", e)
	}
	if n := len(got.of("/ok")); n != 1 {
		t.Errorf("the redirect was followed: /ok got %d requests", n)
	}

	// 410 Gone disables the endpoint, with a notice and a mail.
	waitFor(t, "/gone to be disabled", func() bool {
		e, err := db.WebhookEndpoint(context.Background(), "", ids["/gone"])
		return err == nil && !e.Enabled
	})
	if d := delivery("/gone"); d.Status != apiws.DeliveryFailed || *d.Error != "endpoint disabled" || *d.ResponseStatus != 410 {
		t.Errorf("/gone: %+v", d)
	}
	waitFor(t, "the mail to be queued", func() bool { return mails.Load() == 1 })

	// Five seconds on, the retries go, under the same webhook-id.
	clk.advance(5 * time.Second)
	waitFor(t, "/fail-once to succeed", func() bool { return delivery("/fail-once").Status == apiws.DeliverySucceeded })
	if ids := got.of("/fail-once"); len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("/fail-once webhook-ids %v", ids)
	}
	waitFor(t, "the others' second attempts", func() bool {
		for _, p := range []string{"/stall", "/redirect", "/endless", "/hangup"} {
			if delivery(p).Attempts != 2 {
				return false
			}
		}
		return true
	})

	// Failing on, pinged every 6 hours, for three days without one
	// success: the endpoint is disabled; the one that succeeded stays.
	var elapsed time.Duration
	for ; elapsed <= failingLimit; elapsed += 6 * time.Hour {
		clk.advance(6 * time.Hour)
		if _, err := svc.Ping(ctx, ids["/redirect"]); err != nil {
			if apiws.ErrorCodeOf(err) == apiws.EINVALID {
				break // disabled
			}
			t.Fatal(err)
		}
		disabled := false
		waitFor(t, "the ping's attempt, or the endpoint disabled", func() bool {
			e, err := db.WebhookEndpoint(context.Background(), "", ids["/redirect"])
			disabled = err == nil && !e.Enabled
			return disabled || delivery("/redirect").Attempts == 1
		})
		if disabled {
			break
		}
	}
	if elapsed+6*time.Hour < failingLimit {
		t.Fatalf("disabled after %v of failures", elapsed+6*time.Hour)
	}
	waitFor(t, "/redirect to be disabled", func() bool {
		e, err := db.WebhookEndpoint(context.Background(), "", ids["/redirect"])
		if err != nil || e.Enabled {
			return false
		}
		if !strings.Contains(*e.DisabledReason, "3 days") {
			t.Fatalf("disabled for %q", *e.DisabledReason)
		}
		return true
	})
	if e, _ := db.WebhookEndpoint(context.Background(), "", ids["/fail-once"]); !e.Enabled {
		t.Error("/fail-once was disabled")
	}
}

// A logged event reaches every endpoint that selects it, its body made
// of the event and its data, signed.
func TestDeliverLoggedEvents(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	svc := newService(t, db, true)
	ctx, number := testAccount(t, db, "logged@example.com")
	type got struct {
		path string
		body map[string]any
	}
	var mu sync.Mutex
	var bodies []got
	var secret sync.Map
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s, _ := secret.Load(r.URL.Path)
		wh, _ := standardwebhooks.NewWebhook(s.(string))
		if err := wh.Verify(raw, r.Header); err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		var b map[string]any
		_ = json.Unmarshal(raw, &b)
		mu.Lock()
		bodies = append(bodies, got{r.URL.Path, b})
		mu.Unlock()
	}))
	defer receiver.Close()
	for _, p := range []string{"/a", "/b"} {
		_, s, err := svc.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: receiver.URL + p, NumberIDs: []string{number}})
		if err != nil {
			t.Fatal(err)
		}
		secret.Store(p, s)
	}
	d, err := NewDeliverer(db, DelivererOptions{Owner: "test", SecretKey: make([]byte, 32), AllowPrivate: true, Data: testData{}, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db.OnDeliveriesQueued(d.Nudge)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()
	defer func() { stop(); <-done }()

	now := time.Now().UTC()
	m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: apiws.CallerFrom(ctx).AccountID, NumberID: number,
		Direction: apiws.Outbound, Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
	ev, err := db.QueueMessage(context.Background(), m, []byte("sealed"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bodies) == 2
	})
	cursor := strconv.FormatInt(ev.Seq, 10)
	for _, b := range bodies {
		data, _ := b.body["data"].(map[string]any)
		if b.body["type"] != "MESSAGE_STATUS" || b.body["cursor"] != cursor || b.body["timestamp"] != formatTime(ev.At) ||
			data["messageId"] != m.ID || data["cursor"] != cursor {
			t.Fatalf("%s got %v", b.path, b.body)
		}
	}
}

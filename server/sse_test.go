package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// numberStatusFeed resolves the numberStatus subscription with what the
// test sends; nothing else of the schema is resolved.
type numberStatusFeed struct {
	generated.ResolverRoot
	generated.SubscriptionResolver
	started chan context.Context
	events  chan *apiws.NumberStatusEvent
}

func (f *numberStatusFeed) Subscription() generated.SubscriptionResolver { return f }

func (f *numberStatusFeed) NumberStatus(ctx context.Context, _ *string) (<-chan *apiws.NumberStatusEvent, error) {
	f.started <- ctx
	return f.events, nil
}

// An idle event stream, POST or GET, gets keep-alive comments, and lives
// past the read timeout that bounds reading its request; its events come
// as next, its end as complete.
func TestEventStreamKeepAliveOutlivesTheReadTimeout(t *testing.T) {
	keys := accounts.New(storagetest.Open(t, storage.SQLite), accounts.Options{})
	_, secret, err := keys.CreateOperatorKey(t.Context(), "event stream test", nil)
	if err != nil {
		t.Fatal(err)
	}
	const query = "subscription { numberStatus { status } }"
	post, _ := http.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query": "`+query+`"}`))
	post.Header.Set("Content-Type", "application/json")
	get, _ := http.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(query), nil)
	for _, req := range []*http.Request{post, get} {
		t.Run(req.Method, func(t *testing.T) {
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer "+secret)
			testIdleStream(t, keys, req)
		})
	}
}

// testIdleStream sends req, to a path on a new server, and follows its
// stream.
func testIdleStream(t *testing.T, keys apiws.KeyService, req *http.Request) {
	feed := &numberStatusFeed{started: make(chan context.Context, 1), events: make(chan *apiws.NumberStatusEvent)}
	const readTimeout = 100 * time.Millisecond
	srv := New(Config{SSEKeepAlive: 20 * time.Millisecond, ReadTimeout: readTimeout}, Deps{
		Schema: generated.NewExecutableSchema(generated.Config{Resolvers: feed}),
		Keys:   keys,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	u, _ := url.Parse(ts.URL)
	req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("nothing on the stream within 10s")
		}
		return ""
	}
	var sub context.Context
	select {
	case sub = <-feed.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not start")
	}

	// Twenty keep-alives take four read timeouts at least.
	for pings := 0; pings < 20; {
		switch l := next(); {
		case strings.HasPrefix(l, ":") && l != ":":
			pings++
		case l != "" && l != ":":
			t.Fatalf("%q on an idle stream", l)
		}
	}
	if sub.Err() != nil {
		t.Fatalf("the subscription ended while idle: %v", context.Cause(sub))
	}

	feed.events <- &apiws.NumberStatusEvent{Status: apiws.NumberConnected, At: time.Now()}
	close(feed.events)
	var got []string
	for l := next(); l != "event: complete"; l = next() {
		if l != "" && !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	want := []string{"event: next", `data: {"data":{"numberStatus":{"status":"CONNECTED"}}}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events %q; want %q", got, want)
	}
}

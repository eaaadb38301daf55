package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// pairingFeed resolves the pairing subscription with what the test sends;
// nothing else of the schema is resolved.
type pairingFeed struct {
	generated.ResolverRoot
	generated.SubscriptionResolver
	started chan context.Context
	events  chan apiws.PairingEvent
}

func (f *pairingFeed) Subscription() generated.SubscriptionResolver { return f }

func (f *pairingFeed) Pairing(ctx context.Context, _ string) (<-chan apiws.PairingEvent, error) {
	f.started <- ctx
	return f.events, nil
}

// pairingSub is the subscription the tests stream.
const pairingSub = `subscription { pairing(numberId: "num_1") { ... on PairingFailure { reason } } }`

// An idle event stream, POST or GET, gets keep-alive comments, and lives
// past the read timeout that bounds reading its request; its events come
// as next, its end as complete.
func TestEventStreamKeepAliveOutlivesTheReadTimeout(t *testing.T) {
	keys, secret := operatorKey(t)
	post, _ := http.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query": `+strconv.Quote(pairingSub)+`}`))
	post.Header.Set("Content-Type", "application/json")
	get, _ := http.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(pairingSub), nil)
	for _, req := range []*http.Request{post, get} {
		t.Run(req.Method, func(t *testing.T) {
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer "+secret)
			st := startStream(t, keys, req)
			// Twenty keep-alives take four read timeouts at least.
			for pings := 0; pings < 20; {
				switch l := st.line(); {
				case strings.HasPrefix(l, ":") && l != ":":
					pings++
				case l != "" && l != ":":
					t.Fatalf("%q on an idle stream", l)
				}
			}
			if st.sub.Err() != nil {
				t.Fatalf("the subscription ended while idle: %v", context.Cause(st.sub))
			}
			st.feed.events <- &apiws.PairingFailure{Reason: "TIMEOUT", Message: "no scan"}
			close(st.feed.events)
			st.expect(`data: {"data":{"pairing":{"reason":"TIMEOUT"}}}`)
		})
	}
}

// A subscription its service ends with an error (apiws.EndStream) sends
// the error as its last next event, then complete.
func TestEventStreamEndsWithTheServicesError(t *testing.T) {
	keys, secret := operatorKey(t)
	req, _ := http.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query": `+strconv.Quote(pairingSub)+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+secret)
	st := startStream(t, keys, req)
	apiws.EndStream(st.sub, apiws.Errorf(apiws.EUNAVAILABLE, "events were lost"))
	close(st.feed.events)
	st.expect(`data: {"errors":[{"message":"events were lost","extensions":{"code":"UNAVAILABLE"}}],"data":null}`)
}

// operatorKey is a key service over a new SQLite database, and the secret
// of an operator key it knows.
func operatorKey(t *testing.T) (apiws.KeyService, string) {
	t.Helper()
	keys := accounts.New(storagetest.Open(t, storage.SQLite), accounts.Options{})
	_, secret, err := keys.CreateOperatorKey(t.Context(), "event stream test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys, secret
}

// stream is an event stream of a test server, read line by line.
type stream struct {
	t     *testing.T
	feed  *pairingFeed
	sub   context.Context // the subscription resolver's
	lines chan string
}

// startStream sends req, to a path, to a new server (keep-alives every
// 20ms, a read timeout of 100ms) whose pairing subscription streams what
// the test sends, and waits for the subscription to start.
func startStream(t *testing.T, keys apiws.KeyService, req *http.Request) *stream {
	t.Helper()
	feed := &pairingFeed{started: make(chan context.Context, 1), events: make(chan apiws.PairingEvent)}
	srv := New(Config{SSEKeepAlive: 20 * time.Millisecond, ReadTimeout: 100 * time.Millisecond}, Deps{
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
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	st := &stream{t: t, feed: feed, lines: make(chan string, 100)}
	go func() {
		defer close(st.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			st.lines <- sc.Text()
		}
	}()
	select {
	case st.sub = <-feed.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not start")
	}
	return st
}

// line is the stream's next line.
func (st *stream) line() string {
	st.t.Helper()
	select {
	case l, ok := <-st.lines:
		if !ok {
			st.t.Fatal("the stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		st.t.Fatal("nothing on the stream within 10s")
	}
	return ""
}

// expect reads the stream to its complete event and its end, and fails
// unless one next event with data came first, keep-alives aside, and
// nothing but keep-alives after.
func (st *stream) expect(data string) {
	st.t.Helper()
	var got []string
	for l := st.line(); l != "event: complete"; l = st.line() {
		if l != "" && !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	if want := []string{"event: next", data}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		st.t.Fatalf("events %q; want %q", got, want)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-st.lines:
			if !ok {
				return
			}
			if l != "" && !strings.HasPrefix(l, ":") {
				st.t.Fatalf("%q after complete", l)
			}
		case <-timeout:
			st.t.Fatal("the stream did not end within 10s of complete")
		}
	}
}

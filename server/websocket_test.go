package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/internal/poll"
)

// wsServer is a test server whose pairing subscription streams what the
// test sends, with an operator key to open sockets with.
type wsServer struct {
	t      *testing.T
	srv    *Server
	url    string
	secret string
	feed   *pairingFeed
	hold   chan struct{} // closed: pairing subscriptions of "held" start
}

func newWSServer(t *testing.T, cfg Config) *wsServer {
	t.Helper()
	keys, secret := operatorKey(t)
	feed := &pairingFeed{started: make(chan context.Context, 100), events: make(chan apiws.PairingEvent)}
	hold := make(chan struct{})
	srv := New(cfg, Deps{
		Schema: generated.NewExecutableSchema(generated.Config{Resolvers: panicky{feed, hold}}),
		Keys:   keys,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		AroundOperations: []graphql.OperationMiddleware{func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Name == "Panic" {
				panic("a middleware's bug")
			}
			return next(ctx)
		}},
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &wsServer{t: t, srv: srv, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/graphql", secret: secret, feed: feed, hold: hold}
}

// panicky panics at the start of a pairing subscription of number
// "panic"; one of number "held" starts once hold is closed.
type panicky struct {
	*pairingFeed
	hold chan struct{}
}

func (p panicky) Subscription() generated.SubscriptionResolver { return p }

func (p panicky) Pairing(ctx context.Context, numberID string) (<-chan apiws.PairingEvent, error) {
	switch numberID {
	case "panic":
		panic("a resolver's bug")
	case "held":
		select {
		case <-p.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return p.pairingFeed.Pairing(ctx, numberID)
}

// wsClient is a test's side of a socket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

// dial opens a socket speaking protocol ("" for none named).
func (s *wsServer) dial(protocol string) *wsClient {
	s.t.Helper()
	d := websocket.Dialer{}
	if protocol != "" {
		d.Subprotocols = []string{protocol}
	}
	ws, _, err := d.Dial(s.url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { ws.Close() })
	return &wsClient{t: s.t, ws: ws}
}

// open dials and initialises a socket with the operator key.
func (s *wsServer) open(protocol string) *wsClient {
	s.t.Helper()
	c := s.dial(protocol)
	c.send(`{"type":"connection_init","payload":{"Authorization":"Bearer ` + s.secret + `"}}`)
	c.expect(`{"type":"connection_ack"}`)
	return c
}

// started waits for the next pairing subscription to start.
func (s *wsServer) started() context.Context {
	s.t.Helper()
	select {
	case ctx := <-s.feed.started:
		return ctx
	case <-time.After(10 * time.Second):
		s.t.Fatal("the subscription did not start")
	}
	return nil
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// next is the next message the server sends, "ka" skipped.
func (c *wsClient) next() (string, error) {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil || string(b) != `{"type":"ka"}` {
			return string(b), err
		}
	}
}

// expect fails unless the next message is want.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	got, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", want, err)
	}
	if !jsonEqual(got, want) {
		c.t.Fatalf("got %s, want %s", got, want)
	}
}

// closed fails unless the server closes the socket with code, and nothing
// else comes first.
func (c *wsClient) closed(code int) {
	c.t.Helper()
	msg, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		c.t.Fatalf("got %q (%v); want close %d", msg, err, code)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// graphql-transport-ws: a subscription's events come as next; the client's
// complete ends it with nothing more sent; a query is answered by next and
// complete; ping is answered by pong with its payload.
func TestTransportWS(t *testing.T) {
	s := newWSServer(t, Config{})
	c := s.open(protocolTransportWS)
	c.send(`{"type":"ping","payload":{"n":1}}`)
	c.expect(`{"type":"pong","payload":{"n":1}}`)
	c.send(`{"type":"subscribe","id":"s1","payload":{"query":` + quote(pairingSub) + `}}`)
	sub := s.started()
	s.feed.events <- &apiws.PairingFailure{Reason: "TIMEOUT", Message: "no scan"}
	c.expect(`{"type":"next","id":"s1","payload":{"data":{"pairing":{"reason":"TIMEOUT"}}}}`)
	c.send(`{"type":"complete","id":"s1"}`)
	<-sub.Done()
	c.send(`{"type":"subscribe","id":"q1","payload":{"query":"{ __typename }"}}`)
	// Nothing was sent for s1 after the client completed it.
	c.expect(`{"type":"next","id":"q1","payload":{"data":{"__typename":"Query"}}}`)
	c.expect(`{"type":"complete","id":"q1"}`)
	// A document that does not validate: error, which ends the operation.
	c.send(`{"type":"subscribe","id":"q2","payload":{"query":"{ nope }"}}`)
	got, err := c.next()
	var m struct {
		Type, ID string
		Payload  gqlerror.List
	}
	if err != nil || json.Unmarshal([]byte(got), &m) != nil || m.Type != "error" || m.ID != "q2" || len(m.Payload) != 1 ||
		m.Payload[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("got %s (%v); want an error with GRAPHQL_VALIDATION_FAILED", got, err)
	}
	// A resolver that panics gets an internal error as its result; a
	// panic outside resolvers ends its operation with one. The socket
	// goes on.
	c.send(`{"type":"subscribe","id":"p1","payload":{"query":"subscription { pairing(numberId: \"panic\") { __typename } }"}}`)
	c.expect(`{"type":"next","id":"p1","payload":{"errors":[{"message":"internal error","path":["pairing"],"extensions":{"code":"INTERNAL"}}],"data":null}}`)
	c.expect(`{"type":"complete","id":"p1"}`)
	c.send(`{"type":"subscribe","id":"p2","payload":{"query":"query Panic { __typename }"}}`)
	c.expect(`{"type":"error","id":"p2","payload":[{"message":"internal error"}]}`)
	c.send(`{"type":"subscribe","id":"q3","payload":{"query":"{ __typename }"}}`)
	c.expect(`{"type":"next","id":"q3","payload":{"data":{"__typename":"Query"}}}`)
	c.expect(`{"type":"complete","id":"q3"}`)
}

// The older graphql-ws protocol (also when the client names none): ack
// and keep-alives, data, and complete after the client's stop.
func TestGraphQLWS(t *testing.T) {
	for _, protocol := range []string{protocolGraphQLWS, ""} {
		t.Run("protocol "+protocol, func(t *testing.T) {
			s := newWSServer(t, Config{})
			c := s.open(protocol)
			c.send(`{"type":"start","id":"1","payload":{"query":` + quote(pairingSub) + `}}`)
			sub := s.started()
			s.feed.events <- &apiws.PairingFailure{Reason: "TIMEOUT", Message: "no scan"}
			c.expect(`{"type":"data","id":"1","payload":{"data":{"pairing":{"reason":"TIMEOUT"}}}}`)
			c.send(`{"type":"stop","id":"1"}`)
			<-sub.Done()
			c.expect(`{"type":"complete","id":"1"}`)
			c.send(`{"type":"connection_terminate"}`)
			c.closed(websocket.CloseNormalClosure)
		})
	}
}

// The protocol's refusals, each a close code with nothing sent first.
// A subscription whose start takes its time (its resolver reads first)
// holds up nothing else of the socket: a ping is answered, another
// subscription starts; then it starts too.
func TestSlowStartHoldsNothingElse(t *testing.T) {
	s := newWSServer(t, Config{})
	c := s.open("graphql-transport-ws")
	c.send(`{"id":"held","type":"subscribe","payload":{"query":"subscription { pairing(numberId: \"held\") { ... on PairingFailure { reason } } }"}}`)
	c.send(`{"type":"ping"}`)
	c.expect(`{"type":"pong"}`)
	c.send(`{"id":"other","type":"subscribe","payload":{"query":` + strconv.Quote(pairingSub) + `}}`)
	s.started()
	close(s.hold)
	s.started()
	// Both read the same feed: whichever gets the event sends it.
	s.feed.events <- &apiws.PairingFailure{Reason: "TIMEOUT", Message: "no scan"}
	msg, err := c.next()
	var m struct{ ID, Type string }
	if err != nil || json.Unmarshal([]byte(msg), &m) != nil || m.Type != "next" || (m.ID != "held" && m.ID != "other") {
		t.Fatalf("got %s (%v); want next of held or other", msg, err)
	}
}

func TestWebsocketRefusals(t *testing.T) {
	s := newWSServer(t, Config{})
	sub := `{"type":"subscribe","id":"1","payload":{"query":` + quote(pairingSub) + `}}`
	for _, c := range []struct {
		name        string
		initialised bool // the socket was acknowledged before msg
		msg         string
		code        int
	}{
		{"bad credentials", false, `{"type":"connection_init","payload":{"Authorization":"Bearer apiwsk_nope"}}`, closeForbidden},
		{"no credentials", false, `{"type":"connection_init"}`, closeForbidden},
		{"subscribe before init", false, sub, closeUnauthorized},
		{"second init", true, `{"type":"connection_init"}`, closeTooMany},
		{"not JSON", true, `{"type":`, closeInvalidMessage},
		{"unknown type", true, `{"type":"start","id":"1"}`, closeInvalidMessage}, // the older protocol's
		{"subscribe without id", true, `{"type":"subscribe","payload":{"query":"{ __typename }"}}`, closeInvalidMessage},
	} {
		t.Run(c.name, func(t *testing.T) {
			open := s.dial
			if c.initialised {
				open = s.open
			}
			ws := open(protocolTransportWS)
			ws.send(c.msg)
			ws.closed(c.code)
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		c := s.open(protocolTransportWS)
		c.send(sub)
		ctx := s.started()
		c.send(sub)
		c.closed(closeDuplicateID)
		<-ctx.Done() // the socket's operations end with it
	})
}

// A socket that sends no connection_init in time is closed with 4408.
func TestWebsocketInitTimeout(t *testing.T) {
	s := newWSServer(t, Config{WSInitTimeout: 50 * time.Millisecond})
	s.dial(protocolTransportWS).closed(closeInitTimeout)
}

// An idle subscription costs two goroutines: its socket's reader and the
// operation waiting for its events.
func TestIdleSubscriptionGoroutines(t *testing.T) {
	s := newWSServer(t, Config{})
	base := runtime.NumGoroutine()
	const n = 40
	for i := range n {
		c := s.open(protocolTransportWS)
		c.send(`{"type":"subscribe","id":"` + string(rune('a'+i%26)) + `","payload":{"query":` + quote(pairingSub) + `}}`)
		s.started()
	}
	poll.Until(t, 10*time.Second, "at most two goroutines per idle subscription", func() bool {
		return runtime.NumGoroutine()-base <= 2*n+4
	})
}

// Messages written while the socket is held go out in one write.
func TestBatchConnWritesOnce(t *testing.T) {
	conn := &countingConn{}
	b := &batchConn{Conn: conn}
	if _, err := b.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	b.hold()
	for _, p := range []string{"b", "c", "d"} {
		if _, err := b.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if len(conn.writes) != 1 {
		t.Fatalf("%d writes while held", len(conn.writes))
	}
	if err := b.release(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(conn.writes, "|") != "a|bcd" {
		t.Fatalf("writes %q; want a, then bcd at once", conn.writes)
	}
}

// A response is encoded as encoding/json would encode it, its data as it
// is when it comes alone.
func TestResponsePayload(t *testing.T) {
	yes := true
	for _, r := range []*graphql.Response{
		{Data: json.RawMessage(`{"a":{"b":"<&>"}}`)},
		{},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "x", Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		{Data: json.RawMessage(`{"a":1}`), HasNext: &yes, Label: "l", Extensions: map[string]any{"k": "v"}},
	} {
		want, _ := json.Marshal(r)
		if got := appendResponse(nil, r); !jsonEqual(string(got), string(want)) {
			t.Errorf("%+v: got %s, want %s", r, got, want)
		}
	}
	for _, id := range []string{"1", `sub "<&>" ☃`, ""} {
		got := appendMessage(nil, "next", id, []byte(`{"data":null}`))
		want, _ := json.Marshal(map[string]any{"type": "next", "id": id, "payload": map[string]any{"data": nil}})
		if id == "" {
			want = []byte(`{"type":"next","payload":{"data":null}}`)
		}
		if !jsonEqual(string(got), string(want)) {
			t.Errorf("id %q: got %s, want %s", id, got, want)
		}
	}
}

type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A socket whose client does not read holds at most maxQueued messages
// waiting, besides those being written (at most as many): whoever writes
// more waits for room, and goes on once the client reads.
func TestSocketQueueIsBounded(t *testing.T) {
	release := make(chan struct{})
	var written atomic.Int64
	c := &wsConn{ops: map[string]*wsOp{}}
	c.room.L = &c.mu
	c.send = func(msgs [][]byte) error {
		<-release // a client that does not read, until released
		written.Add(int64(len(msgs)))
		return nil
	}
	const total = 3 * maxQueued
	var queued atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range total {
			c.write(nil, []byte(`{"type":"next"}`))
			queued.Add(1)
		}
	}()
	// A batch is being written, maxQueued more wait; the writer waits
	// with the rest.
	poll.Until(t, 10*time.Second, "a full queue", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.out) == maxQueued
	})
	select {
	case <-done:
		t.Fatal("every message was queued while the client read none")
	default:
	}
	if n := queued.Load(); n > 2*maxQueued {
		t.Fatalf("%d messages queued while the client read none; want at most %d", n, 2*maxQueued)
	}
	close(release)
	<-done
	poll.Until(t, 10*time.Second, "every message written", func() bool { return written.Load() == total })
}

// An id the client completed may be used again at once; the older
// protocol's start of a running id replaces it.
func TestWebsocketIDsReused(t *testing.T) {
	s := newWSServer(t, Config{})
	sub := `"payload":{"query":` + quote(pairingSub) + `}}`
	c := s.open(protocolTransportWS)
	for range 3 {
		c.send(`{"type":"subscribe","id":"x",` + sub)
		ctx := s.started()
		c.send(`{"type":"complete","id":"x"}`)
		<-ctx.Done()
	}
	c.send(`{"type":"subscribe","id":"q","payload":{"query":"{ __typename }"}}`)
	c.expect(`{"type":"next","id":"q","payload":{"data":{"__typename":"Query"}}}`)

	legacy := s.open(protocolGraphQLWS)
	legacy.send(`{"type":"start","id":"1",` + sub)
	first := s.started()
	legacy.send(`{"type":"start","id":"1",` + sub)
	<-first.Done()
	s.started()
	s.feed.events <- &apiws.PairingFailure{Reason: "TIMEOUT", Message: "no scan"}
	legacy.expect(`{"type":"data","id":"1","payload":{"data":{"pairing":{"reason":"TIMEOUT"}}}}`)
}

// A duplicate id too long to name in a close frame's reason still closes
// the socket with 4409.
func TestWebsocketLongDuplicateID(t *testing.T) {
	s := newWSServer(t, Config{})
	c := s.open(protocolTransportWS)
	id := strings.Repeat("é", 100)
	sub := `{"type":"subscribe","id":"` + id + `","payload":{"query":` + quote(pairingSub) + `}}`
	c.send(sub)
	s.started()
	c.send(sub)
	c.closed(closeDuplicateID)
	if r := closeReason("Subscriber for " + id + " already exists"); len(r) > 123 || !utf8.ValidString(r) {
		t.Fatalf("reason %q: %d bytes", r, len(r))
	}
}

// Closing the websockets (the server stopping) closes each with 1001 and
// nothing sent first, ends its operations, and closes later ones at once.
func TestCloseWebsockets(t *testing.T) {
	s := newWSServer(t, Config{})
	c := s.open(protocolTransportWS)
	c.send(`{"type":"subscribe","id":"1","payload":{"query":` + quote(pairingSub) + `}}`)
	sub := s.started()
	s.srv.CloseWebsockets()
	c.closed(websocket.CloseGoingAway)
	<-sub.Done()
	s.dial(protocolTransportWS).closed(websocket.CloseGoingAway)
}

// A panic while a message is handled (here, authentication) closes the
// socket with 4500; the process goes on.
func TestWebsocketHandlerPanic(t *testing.T) {
	tr := &wsTransport{
		init: func(context.Context, *http.Request, map[string]any) (context.Context, error) {
			panic("an authentication bug")
		},
		readLimit: 1 << 20,
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	gql := handler.New(generated.NewExecutableSchema(generated.Config{}))
	gql.AddTransport(tr)
	ts := httptest.NewServer(gql)
	t.Cleanup(ts.Close)
	s := &wsServer{t: t, url: "ws" + strings.TrimPrefix(ts.URL, "http")}
	c := s.dial(protocolTransportWS)
	c.send(`{"type":"connection_init"}`)
	c.closed(closeInternalError)
}

// A socket keeps of its upgrade request only its address, context and the
// headers that authenticate it and name its caller.
func TestSocketRequestKeepsLittle(t *testing.T) {
	type key struct{}
	r := httptest.NewRequest(http.MethodGet, "/graphql?x=1", nil)
	r = r.WithContext(context.WithValue(r.Context(), key{}, "v"))
	r.RemoteAddr = "192.0.2.1:5000"
	r.Header.Set("Authorization", "Bearer k")
	r.Header.Set("User-Agent", "ua")
	r.Header.Add("X-Forwarded-For", "198.51.100.1")
	r.Header.Add("X-Forwarded-For", "198.51.100.2")
	r.Header.Set("Cookie", "apiws_session=s")
	r.Header.Set("Accept-Language", "en")
	r.Header.Set("Sec-Websocket-Key", "k")
	kept := socketRequest(r)
	want := http.Header{"Authorization": {"Bearer k"}, "User-Agent": {"ua"}, "X-Forwarded-For": {"198.51.100.1", "198.51.100.2"},
		"Cookie": {"apiws_session=s"}}
	if !reflect.DeepEqual(kept.Header, want) {
		t.Fatalf("headers %v; want %v", kept.Header, want)
	}
	if kept.RemoteAddr != r.RemoteAddr || kept.Context().Value(key{}) != "v" || kept.URL != nil || kept.UserAgent() != "ua" {
		t.Fatalf("kept %+v", kept)
	}
	if ck, err := kept.Cookie("apiws_session"); err != nil || ck.Value != "s" {
		t.Fatalf("cookie %v, %v", ck, err)
	}
	r.Header.Set("Authorization", "Bearer changed")
	if kept.Header.Get("Authorization") != "Bearer k" {
		t.Fatal("the kept headers share the request's")
	}
}

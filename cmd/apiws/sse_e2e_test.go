package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sseStatusSub is statusSub with a name, to find its calls in the log.
const sseStatusSub = `subscription Status($after: Cursor) { messageStatus(after: $after) { cursor messageId status } }`

// Subscriptions over Server-Sent Events (graphql-sse, distinct
// connections mode): replay then live events, resumed with after, logged
// as subscriptions of the key.
func TestStatusOverSSE(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "sse@example.com")
	key, keyID := createAPIKey(t, base, token, "READ")
	num := connectedNumber(t, base, token)

	s := openSSE(t, base, key, sseStatusSub, map[string]any{"after": "0"})
	if s.refused != nil {
		t.Fatalf("event stream refused: %+v", s.refused)
	}
	if s.resp.StatusCode != http.StatusOK || s.resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("event stream answered %d with %v", s.resp.StatusCode, s.resp.Header)
	}
	if n := metric(t, base, "apiws_sse_streams"); n != 1 {
		t.Fatalf("apiws_sse_streams = %v with one stream open", n)
	}
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "one"})
	seen := statusEventsSSE(t, s, func(evs []map[string]any) bool { return readCount(evs) == 1 })
	increasing(t, cursors(t, seen), 0)
	s.close()
	waitMetric(t, base, "apiws_sse_streams", func(n float64) bool { return n == 0 })

	for i := range 5 {
		send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("while away ", i)})
	}
	last := cursors(t, seen)[len(seen)-1]
	s = openSSE(t, base, key, sseStatusSub, map[string]any{"after": strconv.FormatInt(last, 10)})
	rest := statusEventsSSE(t, s, func(evs []map[string]any) bool { return readCount(evs) == 5 })
	increasing(t, cursors(t, rest), last)
	if n := len(seen) + len(rest); n != 6*4 {
		t.Fatalf("%d events for 6 messages; want 24", n)
	}

	// Each stream is one call of the key, a subscription.
	eventually(t, "both streams logged", 10*time.Second, func() bool {
		r := gql(t, base, token, `{ viewer { apiCalls(filter: {operationName: "Status"}) { edges { node { operationType ok apiKey { id } } } } } }`, nil)
		edges, _ := get(r.Data, "viewer", "apiCalls", "edges").([]any)
		for _, e := range edges {
			if str(e, "node", "operationType") != "subscription" || get(e, "node", "ok") != true || str(e, "node", "apiKey", "id") != keyID {
				t.Fatalf("logged as %v", e)
			}
		}
		return len(edges) == 2
	})
}

func TestSSERefusals(t *testing.T) {
	base := startServer(t, nil)
	token, accountID := signUp(t, base, "sse-refusals@example.com")
	key, _ := createAPIKey(t, base, token, "READ")
	const viewer = `{ viewer { id } }`

	t.Run("credentials", func(t *testing.T) {
		for name, token := range map[string]string{"none": "", "wrong key": "apiwss_wrong", "malformed": key + "x"} {
			s := openSSE(t, base, token, sseStatusSub, nil)
			if s.refused == nil || s.refused.Status != http.StatusUnauthorized || s.refused.code() != "UNAUTHENTICATED" ||
				s.resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s: %d %+v; want 401 UNAUTHENTICATED", name, s.resp.StatusCode, s.refused)
			}
		}
	})
	t.Run("session cookie", func(t *testing.T) {
		cookie := sessionCookieOf(t, sessionRequest(t, base, http.MethodPost, `{"token":"`+token+`"}`,
			"Content-Type", "application/json", "X-Requested-With", "fetch"))
		req := sseRequest(t, base, http.MethodPost, viewer, nil)
		req.AddCookie(cookie)
		if s := doSSE(t, req); s.refused == nil || s.refused.Status != http.StatusForbidden || s.refused.code() != "FORBIDDEN" {
			t.Fatalf("session cookie without %s: %+v", "X-Requested-With", s.refused)
		}
		req = sseRequest(t, base, http.MethodPost, viewer, nil)
		req.AddCookie(cookie)
		req.Header.Set("X-Requested-With", "fetch")
		s := doSSE(t, req)
		if got := str(s.result(), "viewer", "id"); got != accountID {
			t.Fatalf("viewer over an event stream with the session cookie: %q, want %q", got, accountID)
		}
		s.complete()
	})
	t.Run("bad operations come as events", func(t *testing.T) {
		for query, want := range map[string]string{
			"subscription {":        "GRAPHQL_PARSE_FAILED",
			"subscription { nope }": "GRAPHQL_VALIDATION_FAILED",
			`subscription { messageStatus(after: "x") { cursor } }`: "BAD_REQUEST", // a malformed cursor
		} {
			s := openSSE(t, base, key, query, nil)
			if s.resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: HTTP %d", query, s.resp.StatusCode)
			}
			if code := s.failed(); code != want {
				t.Fatalf("%s: %s, want %s", query, code, want)
			}
		}
	})
	t.Run("the body is JSON", func(t *testing.T) {
		req := sseRequest(t, base, http.MethodPost, viewer, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "text/plain")
		if s := doSSE(t, req); s.refused == nil || s.refused.Status != http.StatusUnsupportedMediaType {
			t.Fatalf("a text/plain body: %+v", s.refused)
		}
		// curl -d's JSON comes as a form.
		req = sseRequest(t, base, http.MethodPost, viewer, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		s := doSSE(t, req)
		if got := str(s.result(), "viewer", "id"); got != accountID {
			t.Fatalf("viewer with curl's form type: %q", got)
		}
		s.complete()
		req, _ = http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query": 1}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		if s := doSSE(t, req); s.refused == nil || s.refused.Status != http.StatusBadRequest {
			t.Fatalf("a body that is not a GraphQL request: %+v", s.refused)
		}
	})
	t.Run("GET", func(t *testing.T) {
		req := sseRequest(t, base, http.MethodGet, viewer, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		s := doSSE(t, req)
		if got := str(s.result(), "viewer", "id"); got != accountID {
			t.Fatalf("viewer over GET: %q", got)
		}
		s.complete()
		req = sseRequest(t, base, http.MethodGet, `mutation { logOut }`, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if code := doSSE(t, req).failed(); code != "BAD_REQUEST" {
			t.Fatalf("a mutation over GET: %s", code)
		}
		if r := gql(t, base, token, viewer, nil); r.code() != "" {
			t.Fatalf("the session ended by a GET: %+v", r.Errors)
		}
	})
	t.Run("subscriptions over plain POST are still refused", func(t *testing.T) {
		if r := gql(t, base, key, sseStatusSub, nil); r.code() != "BAD_REQUEST" {
			t.Fatalf("subscription over POST: %+v", r)
		}
	})
}

// Event streams count among the credential's sockets (APIWS_MAX_SOCKETS),
// with its websockets.
func TestSSEStreamsCountAsSockets(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_MAX_SOCKETS": "2"})
	token, _ := signUp(t, base, "sse-cap@example.com")
	key, _ := createAPIKey(t, base, token, "READ")
	other, _ := createAPIKey(t, base, token, "READ")

	openWS(t, base, "graphql-transport-ws", key)
	s := openSSE(t, base, key, sseStatusSub, nil)
	if s.refused != nil {
		t.Fatalf("second stream of the key: %+v", s.refused)
	}
	over := openSSE(t, base, key, sseStatusSub, nil)
	if over.refused == nil || over.refused.Status != http.StatusTooManyRequests || over.refused.code() != "RATE_LIMITED" {
		t.Fatalf("third stream of the key: %+v", over.refused)
	}
	ws := dialWS(t, base, "graphql-transport-ws", nil)
	ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + key}})
	if code, _ := ws.closed(5 * time.Second); code != websocket.CloseTryAgainLater {
		t.Fatalf("a websocket over the cap closed with %d; want 1013", code)
	}
	if s := openSSE(t, base, other, sseStatusSub, nil); s.refused != nil {
		t.Fatalf("another key's stream: %+v", s.refused)
	}

	s.close()
	eventually(t, "a stream's place freed when it closes", 10*time.Second, func() bool {
		s := openSSE(t, base, key, sseStatusSub, nil)
		defer s.close()
		return s.refused == nil
	})
}

func TestRevokedKeyEndsItsEventStream(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_WS_AUTH_RECHECK": "200ms"})
	token, _ := signUp(t, base, "sse-revoke@example.com")
	key, keyID := createAPIKey(t, base, token, "READ")
	before := metric(t, base, "apiws_sse_auth_rechecks_total")
	s := openSSE(t, base, key, sseStatusSub, nil)
	// Several rechecks pass while the key is valid.
	waitMetric(t, base, "apiws_sse_auth_rechecks_total", func(n float64) bool { return n >= before+3 })
	gql(t, base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }`, map[string]any{"id": keyID})
	if code := s.failed(); code != "UNAUTHENTICATED" {
		t.Fatalf("the stream of a revoked key ended with %s", code)
	}
	waitMetric(t, base, "apiws_sse_streams", func(n float64) bool { return n == 0 })
}

// An inbound message that arrives while Redis is away reaches an SSE
// subscriber once Redis is back: the stream reads the log it missed, with
// the content still in transit.
func TestInboundDuringRedisOutageOverSSE(t *testing.T) {
	redisURL, stopRedis, startRedis := privateRedis(t)
	base := startServer(t, map[string]string{"APIWS_REDIS_URL": redisURL})
	token, _ := signUp(t, base, "sse-outage@example.com")
	num := connectedNumber(t, base, token)
	s := openSSE(t, base, token, `subscription { incomingMessages { message { id } text } }`, nil)
	// The stream is live once an echo (sandbox 0003) comes through.
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "live?"})
	if d := s.result(); str(d, "incomingMessages", "text") != "live?" {
		t.Fatalf("first inbound message: %v", d)
	}
	stopRedis()
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "while Redis is away"})
	waitMessages(t, base, token, "the echo received", func(ms map[string]any) bool { return countInbound(ms) == 2 })
	startRedis()
	if d := s.result(); str(d, "incomingMessages", "text") != "while Redis is away" {
		t.Fatalf("after the outage: %v", d)
	}
}

// At shutdown an event stream is cut without complete, so that clients
// (graphql-sse's retries) subscribe again rather than take it as the end.
func TestShutdownCutsEventStreamsWithoutComplete(t *testing.T) {
	ctx, stop := context.WithCancel(t.Context())
	base := startServerCtx(t, ctx, nil)
	token, _ := signUp(t, base, "sse-shutdown@example.com")
	s := openSSE(t, base, token, sseStatusSub, nil)
	if s.refused != nil {
		t.Fatalf("event stream refused: %+v", s.refused)
	}
	stop()
	s.ended(20 * time.Second)
	waitStopped(t, base)
}

// At shutdown a websocket is closed with 1001 (going away), nothing sent on
// it first: a complete would end its client's subscription for good, where
// a closed socket makes it reconnect and resume.
func TestShutdownClosesWebsocketsWithoutComplete(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			ctx, stop := context.WithCancel(t.Context())
			base := startServerCtx(t, ctx, nil)
			token, _ := signUp(t, base, proto+"-shutdown@example.com")
			ws := openWS(t, base, proto, token)
			ws.subscribe("status", sseStatusSub, nil)
			// Operations start in order: once the query is answered, the
			// subscription runs.
			ws.subscribe("viewer", `{ viewer { id } }`, nil)
			ws.data("viewer")
			ws.complete("viewer")
			stop()
			if code, before := ws.closed(20 * time.Second); code != websocket.CloseGoingAway || len(before) > 0 {
				t.Fatalf("closed with %d after %v; want 1001 and nothing sent", code, before)
			}
			waitStopped(t, base)
		})
	}
}

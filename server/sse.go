package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/apiws/apiws"
)

// GraphQL over Server-Sent Events, graphql-sse's distinct connections mode:
// a POST (or GET) on /graphql that accepts text/event-stream runs one
// operation and streams its results as "next" events, then "complete".
// gqlgen's SSE transport does the streaming; serveEventStream gives each
// stream what a websocket has: its credentials required and rechecked, a
// place among the credential's sockets, no read deadline, bounded writes.
//
// What fails before GraphQL runs (credentials, the session cookie's rules,
// the address's rate, the body) is answered as on a plain POST: its HTTP
// status and a JSON body of errors with extensions.code. What GraphQL
// refuses (parse, validation, limits) comes as a "next" event on a 200
// stream, as graphql-sse asks; a refusal for the caller's request rate
// comes on a stream too, with HTTP 429 and Retry-After. A stream cut by
// the server's shutdown gets no "complete", so clients subscribe again.

// sseWriteTimeout bounds one write on an event stream: a client that reads
// nothing for that long loses its stream, as on a websocket.
const sseWriteTimeout = 10 * time.Second

// sseState is what an event stream's operation knows of its request.
type sseState struct {
	// get: the operation came as a GET's query parameters; it may not be a
	// mutation (a link could make one).
	get bool
}

type sseStateKey struct{}

func sseStateFrom(ctx context.Context) *sseState {
	s, _ := ctx.Value(sseStateKey{}).(*sseState)
	return s
}

// acceptsEventStream reports whether r asks for an event stream: a POST or
// GET, not a websocket upgrade, accepting text/event-stream (as gqlgen's
// SSE transport tells).
func acceptsEventStream(r *http.Request) bool {
	return (r.Method == http.MethodPost || r.Method == http.MethodGet) && !websocket.IsWebSocketUpgrade(r) &&
		strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// serveEventStream runs one event stream through gql, whose SSE transport
// streams it. The stream needs credentials, counts as one of the
// credential's sockets (Config.MaxSockets) while it is open, and ends with
// UNAUTHENTICATED once its credentials no longer pass (see recheck).
func (s *Server) serveEventStream(w http.ResponseWriter, r *http.Request, gql http.Handler) {
	c := apiws.CallerFrom(r.Context())
	if c.Kind == apiws.CredentialNone {
		s.writeError(w, r, apiws.Errorf(apiws.EUNAUTHENTICATED,
			"an event stream needs credentials: 'Authorization: Bearer <token>', or the dashboard's session cookie"))
		return
	}
	body, status, msg := sseBody(r)
	if status != 0 {
		s.writeStatus(w, status, msg)
		return
	}
	ctx, end := context.WithCancelCause(r.Context())
	defer end(nil)
	if !s.sockets.take(ctx, credentialOf(c), s.cfg.MaxSockets) {
		s.writeError(w, r, &apiws.Error{Code: apiws.ERATELIMITED, RetryAfter: time.Second, Message: fmt.Sprintf(
			"these credentials hold %d open websockets and event streams, the most they may; close one first", s.cfg.MaxSockets)})
		return
	}
	rc := http.NewResponseController(w)
	// The body is read, and the stream lives long: guard's read deadline
	// must go. net/http reads on for a closed connection once the body is
	// read (for a GET, before the handler runs, so the deadline set since
	// applies) and ends the request when that read fails on the deadline.
	_ = rc.SetReadDeadline(time.Time{})
	s.recheck(ctx, r, authorizationOf(r, c), func() {
		end(apiws.Errorf(apiws.EUNAUTHENTICATED, "the credentials of this stream were revoked or have expired"))
	}, s.metrics.sseRechecks, s.metrics.sseStreams)

	r = r.Clone(context.WithValue(ctx, sseStateKey{}, &sseState{get: r.Method == http.MethodGet}))
	r.Method = http.MethodPost // a GET's parameters are sent on as a POST's body
	r.Header.Set("Content-Type", "application/json")
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	// Proxies that buffer responses (nginx) would hold the events back.
	w.Header().Set("X-Accel-Buffering", "no")
	sw := &sseWriter{w: w, rc: rc, fail: func() { end(nil) }, ctx: ctx}
	defer sw.close()
	// A stream that ends with its request (the client left, the server
	// shuts down) says nothing more, complete included: graphql-sse's
	// client takes complete for the operation's end, where a dropped
	// connection makes it subscribe again.
	stop := context.AfterFunc(ctx, func() {
		if apiErrorCause(ctx) == nil {
			sw.close()
		}
	})
	defer stop()
	gql.ServeHTTP(sw, r)
}

// authorizationOf is the Authorization value that authenticated r's
// caller c: the header's, or the session cookie's as a bearer token.
func authorizationOf(r *http.Request, c *apiws.Caller) string {
	if a := r.Header.Get("Authorization"); a != "" {
		return a
	}
	if ck, err := r.Cookie(SessionCookie); err == nil && c.Kind == apiws.CredentialSession {
		return "Bearer " + ck.Value
	}
	return ""
}

// sseParams are a GraphQL request's parameters; a body that decodes into
// them decodes in gqlgen too.
type sseParams struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// sseBody is the operation of an event-stream request as a JSON body: a
// POST's (application/json, or curl's default form type), or a GET's query
// parameters (query, operationName, and variables and extensions as JSON). It checks the JSON itself (gqlgen would log a
// body it cannot decode, and the body may hold secrets); a bad request is
// a status and a message.
func sseBody(r *http.Request) ([]byte, int, string) {
	const shape = "send the operation as JSON: {\"query\": \"...\", \"variables\": {...}, \"operationName\": \"...\", \"extensions\": {...}}"
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		p := sseParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
		for name, into := range map[string]*map[string]any{"variables": &p.Variables, "extensions": &p.Extensions} {
			if v := q.Get(name); v != "" && json.Unmarshal([]byte(v), into) != nil {
				return nil, http.StatusBadRequest, "the " + name + " parameter must be a JSON object"
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, http.StatusBadRequest, shape
		}
		return b, 0, ""
	}
	// curl -d sends its JSON as a form; nothing else is read as JSON.
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt {
	case "application/json", "application/x-www-form-urlencoded":
	default:
		return nil, http.StatusUnsupportedMediaType, "Content-Type must be application/json; " + shape
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, http.StatusBadRequest, "could not read the request body"
	}
	var p sseParams
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, http.StatusBadRequest, shape
	}
	return b, 0, ""
}

// errStreamOver is what a write after the stream's end gets.
var errStreamOver = errors.New("the event stream is over")

// sseWriter is the response writer gqlgen's SSE transport streams to. It
// flushes (the transport needs an http.Flusher, which the middlewares'
// writer is not); it bounds each write by sseWriteTimeout and ends the
// stream when one fails; and it lets nothing through once the handler is
// done (the transport's keep-alive goroutine may outlive it briefly).
type sseWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	fail func()
	// ctx is the stream's: once it ends but for an API error (the
	// client left, the server shuts down), nothing more is written. It is
	// checked at each write, as the stream's end may reach gqlgen (which
	// then writes complete) before the AfterFunc that closes the writer.
	ctx context.Context

	mu   sync.Mutex
	over bool
}

var _ http.Flusher = (*sseWriter)(nil)

func (sw *sseWriter) Header() http.Header { return sw.w.Header() }

func (sw *sseWriter) WriteHeader(code int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if !sw.over {
		sw.w.WriteHeader(code)
	}
}

func (sw *sseWriter) Write(b []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.cut() {
		return 0, errStreamOver
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	n, err := sw.w.Write(b)
	if err != nil {
		sw.fail()
	}
	return n, err
}

// Flush sends what was written; the deadline is lifted after, so an idle
// stream keeps none.
func (sw *sseWriter) Flush() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.cut() {
		return
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if err := sw.rc.Flush(); err != nil {
		sw.fail()
	}
	_ = sw.rc.SetWriteDeadline(time.Time{})
}

// cut reports whether the stream is over for writes; call it with mu held.
func (sw *sseWriter) cut() bool {
	if !sw.over && sw.ctx != nil && sw.ctx.Err() != nil && apiErrorCause(sw.ctx) == nil {
		sw.over = true
	}
	return sw.over
}

// close ends the stream: nothing is written after.
func (sw *sseWriter) close() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.over = true
	_ = sw.rc.SetWriteDeadline(time.Time{})
}

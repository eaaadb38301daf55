package server

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws"
)

// closeForbidden is the close code of a websocket refused at
// connection_init.
const closeForbidden = 4403

// gorillaWebsocket runs gqlgen's websocket transport on gorilla/websocket.
type gorillaWebsocket struct {
	upgrader websocket.Upgrader
}

var _ transport.WebsocketImplementation = gorillaWebsocket{}

// Accept implements transport.WebsocketImplementation.
func (g gorillaWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := g.upgrader
	up.Subprotocols = opts.Subprotocols
	conn, err := up.Upgrade(w, r, opts.ResponseHeader)
	if err != nil {
		return nil, err
	}
	gc := &gorillaConn{Conn: conn, state: wsStateFrom(r.Context())}
	if gc.state != nil {
		gc.state.conn.Store(gc)
	}
	return gc, nil
}

// gorillaConn adapts *websocket.Conn to transport.WebsocketConn.
type gorillaConn struct {
	*websocket.Conn
	state *wsState
}

func (c *gorillaConn) NextReader() (int, io.Reader, error) {
	mt, r, err := c.Conn.NextReader()
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return mt, nil, transport.ErrWebsocketClosed
	}
	return mt, r, err
}

// WriteJSON writes one message, unless the connection was refused: a refused
// websocket is closed with 4403 and nothing is ever sent on it (the older
// graphql-ws protocol would otherwise send a connection_error).
func (c *gorillaConn) WriteJSON(v any) error {
	if c.state != nil && c.state.refused.Load() {
		return nil
	}
	b, ok := encodeEnvelope(v)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.Conn.WriteMessage(websocket.TextMessage, b)
}

// envelope is where the fields of one of gqlgen's websocket message types
// are: {payload, id, type}, as both protocols have them. Its payload is
// JSON that gqlgen has just encoded (a response, an error); encoding/json
// would parse and compact it again, for every subscriber of every event.
type envelope struct {
	payload, id, typ int
	ok               bool
}

var (
	envelopes   sync.Map // reflect.Type → envelope
	rawMessage  = reflect.TypeFor[json.RawMessage]()
	jsonEncoder = reflect.TypeFor[json.Marshaler]()
)

// envelopeOf finds the fields of a message type, once per type: exactly
// the exported fields Payload (json.RawMessage, "payload,omitempty"), ID
// (a string, "id,omitempty") and Type (a string, "type"), none with its
// own JSON encoding.
func envelopeOf(t reflect.Type) envelope {
	if e, ok := envelopes.Load(t); ok {
		return e.(envelope)
	}
	e := envelope{payload: -1, id: -1, typ: -1}
	exported := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		exported++
		tag := f.Tag.Get("json")
		switch {
		case f.Name == "Payload" && f.Type == rawMessage && tag == "payload,omitempty":
			e.payload = i
		case f.Name == "ID" && f.Type.Kind() == reflect.String && !f.Type.Implements(jsonEncoder) && tag == "id,omitempty":
			e.id = i
		case f.Name == "Type" && f.Type.Kind() == reflect.String && !f.Type.Implements(jsonEncoder) && tag == "type":
			e.typ = i
		}
	}
	e.ok = exported == 3 && e.payload >= 0 && e.id >= 0 && e.typ >= 0 && !t.Implements(jsonEncoder) &&
		!reflect.PointerTo(t).Implements(jsonEncoder)
	envelopes.Store(t, e)
	return e
}

// encodeEnvelope writes one of gqlgen's websocket messages as
// encoding/json would, its payload as it is; ok is false for any other
// value, which is for encoding/json then.
func encodeEnvelope(v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, false
	}
	e := envelopeOf(rv.Type())
	if !e.ok {
		return nil, false
	}
	typ, err := textOf(rv.Field(e.typ))
	if err != nil {
		return nil, false
	}
	payload, id := rv.Field(e.payload).Bytes(), rv.Field(e.id).String()
	b := make([]byte, 0, len(payload)+len(id)+len(typ)+32)
	b = append(b, '{')
	if len(payload) > 0 {
		b = append(b, `"payload":`...)
		b = append(b, payload...)
		b = append(b, ',')
	}
	if id != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, id)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendJSONString(b, typ)
	return append(b, '}'), true
}

// textOf is a string field's text as encoding/json writes it: through its
// MarshalText when it has one.
func textOf(f reflect.Value) (string, error) {
	if m, ok := f.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		return string(b), err
	}
	return f.String(), nil
}

// appendJSONString appends s as a JSON string, as encoding/json writes it;
// ids and message types are plain ASCII, which needs no escape.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (c *gorillaConn) WriteClose(code int, msg string) error {
	return c.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, msg), time.Now().Add(time.Second))
}

// wsState is shared by the init function, the connection it belongs to
// and its operations.
type wsState struct {
	refused atomic.Bool
	conn    atomic.Pointer[gorillaConn]

	mu            sync.Mutex
	subscriptions int // running on the socket
}

// refuse closes the socket with 4403; nothing is written on it after.
func (st *wsState) refuse() {
	st.refused.Store(true)
	if c := st.conn.Load(); c != nil {
		_ = c.WriteClose(closeForbidden, "Forbidden")
		_ = c.Close()
	}
}

type wsStateKey struct{}

func wsStateFrom(ctx context.Context) *wsState {
	s, _ := ctx.Value(wsStateKey{}).(*wsState)
	return s
}

// withWSState gives each websocket request its state before gqlgen sees it.
func withWSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			r = r.WithContext(context.WithValue(r.Context(), wsStateKey{}, &wsState{}))
		}
		next.ServeHTTP(w, r)
	})
}

// wsInit authenticates a websocket from its connection_init payload (or the
// upgrade request's Authorization header or session cookie, resolved by the
// authenticate middleware). Without valid credentials the socket is closed
// with 4403.
func (s *Server) wsInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	closeWith := func(code int, reason, msg string) (context.Context, *transport.InitPayload, error) {
		if st := wsStateFrom(ctx); st != nil {
			st.refused.Store(true)
		}
		ctx = transport.WithWebsocketCloseCode(ctx, code)
		return transport.AppendCloseReason(ctx, reason), nil, errors.New(msg)
	}
	refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
		return closeWith(closeForbidden, "Forbidden", msg)
	}
	r := requestFrom(ctx)
	if r == nil {
		return refuse("no request")
	}
	// Each connection_init is a request of its address, checked before
	// its credentials are.
	if s.deps.Usage != nil {
		if err := s.deps.Usage.AllowAddress(ctx, s.clientIP(r)); err != nil {
			return closeWith(closeTooMany, "Too many requests", "too many requests")
		}
	}
	auth := payload.Authorization()
	switch {
	case auth != "" && !strings.Contains(auth, " "):
		auth = "Bearer " + auth // some clients send the bare token
	case auth != "":
	case r.Header.Get("Authorization") != "":
		auth = r.Header.Get("Authorization") // checked already by the middleware
	default:
		// The dashboard's session cookie, accepted by the middleware.
		if ck, err := r.Cookie(SessionCookie); err == nil && apiws.CallerFrom(ctx).Kind == apiws.CredentialSession {
			auth = "Bearer " + ck.Value
		}
	}
	c, err := s.callerFor(r, auth)
	if err != nil {
		return refuse("invalid credentials")
	}
	if c.Kind == apiws.CredentialNone {
		return refuse("credentials required")
	}
	if !s.sockets.take(ctx, credentialOf(c), s.cfg.MaxSockets) {
		return closeWith(closeTooMany, "Too many sockets", "too many sockets")
	}
	if st := wsStateFrom(ctx); st != nil {
		s.recheck(ctx, r, auth, st.refuse, s.metrics.rechecks, s.metrics.rechecked)
	}
	return apiws.WithCaller(ctx, c), nil, nil
}

// recheck authenticates a stream's credentials (a websocket's, an event
// stream's) again every AuthRecheck while ctx lasts, so a revoked key, an
// expired key or a logged-out session stops receiving events: refuse ends
// the stream. A database outage does not count as a refusal. It runs on a
// timer, not a goroutine of its own, so an idle stream costs no stack for
// it. checks counts the rechecks run; open counts the streams rechecked.
func (s *Server) recheck(ctx context.Context, r *http.Request, auth string, refuse func(), checks prometheus.Counter, open prometheus.Gauge) {
	rc := &rechecker{}
	var check func()
	check = func() {
		if ctx.Err() != nil {
			return
		}
		checks.Inc()
		_, err := s.callerFor(r.WithContext(ctx), auth)
		if apiws.ErrorCodeOf(err) == apiws.EUNAUTHENTICATED {
			refuse()
			return
		}
		rc.schedule(s.cfg.AuthRecheck, check)
	}
	open.Inc()
	rc.schedule(s.cfg.AuthRecheck, check)
	context.AfterFunc(ctx, func() {
		rc.stop()
		open.Dec()
	})
}

// rechecker holds the timer of a socket's next credentials check.
type rechecker struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func (rc *rechecker) schedule(d time.Duration, f func()) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.stopped {
		rc.t = time.AfterFunc(d, f)
	}
}

func (rc *rechecker) stop() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stopped = true
	if rc.t != nil {
		rc.t.Stop()
	}
}

type requestKey struct{}

func requestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

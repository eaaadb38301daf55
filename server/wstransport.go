package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The websocket subprotocols: graphql-transport-ws (the graphql-ws
// library's) and the older graphql-ws (subscriptions-transport-ws'). A
// client that names neither speaks the older one, as gqlgen's transport
// had it.
const (
	protocolTransportWS = "graphql-transport-ws"
	protocolGraphQLWS   = "graphql-ws"
)

// Close codes of graphql-transport-ws.
const (
	closeInvalidMessage = 4400
	closeUnauthorized   = 4401
	closeInitTimeout    = 4408
	closeDuplicateID    = 4409
	closeTooMany        = 4429 // a second connection_init
	closeInternalError  = 4500
)

// closeTryAgain is the close code of a socket refused for a while (the
// address's rate, the credential's socket cap): clients retry later. (Not
// 4429: graphql-ws's client gives up for good on it.)
const closeTryAgain = websocket.CloseTryAgainLater

// wsTransport speaks GraphQL over websockets, both subprotocols, on
// gorilla/websocket. Operations go through gqlgen's executor as on every
// other transport (parsing, validation, extensions, middlewares); what is
// apiws's own is the socket:
//
//   - one goroutine per socket reads it, and one per running operation
//     waits for its results; nothing else runs while a socket is idle (the
//     older protocol's keep-alive is a timer);
//   - a result is written as it comes, its data as the executor made it
//     (for a shared rendering, the same bytes for every subscriber): no
//     JSON encoding per subscriber;
//   - writes are coalesced per socket: what comes while a write is under
//     way goes out with the next one, in one system call.
type wsTransport struct {
	upgrader websocket.Upgrader
	// init authenticates connection_init; its error closes the socket with
	// its code, nothing sent.
	init        func(ctx context.Context, r *http.Request, payload map[string]any) (context.Context, error)
	initTimeout time.Duration
	// keepAlive is the period of the older protocol's "ka" messages.
	keepAlive time.Duration
	readLimit int64
	log       *slog.Logger

	// The open sockets, closed together when the server stops.
	mu       sync.Mutex
	sockets  map[*wsConn]struct{}
	stopping bool
}

var _ graphql.Transport = (*wsTransport)(nil)

// wsRefusal closes a socket at connection_init.
type wsRefusal struct {
	code   int
	reason string
}

func (r *wsRefusal) Error() string { return r.reason }

func (t *wsTransport) Supports(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// socketHeaders are the upgrade request's headers a socket keeps for its
// life: those that authenticate it (connection_init, the rechecks) and
// name its caller's address and client (clientIP, callerFor).
var socketHeaders = []string{"Authorization", "Cookie", "User-Agent", "X-Forwarded-For"}

// socketRequest is what a socket keeps of its upgrade request: its address
// and socketHeaders, not the whole request (a browser's headers, its URL),
// which an idle subscription would hold as long as it lives.
func socketRequest(r *http.Request) *http.Request {
	kept := &http.Request{Method: r.Method, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		RemoteAddr: r.RemoteAddr, Host: r.Host, Header: make(http.Header, len(socketHeaders)), Body: http.NoBody}
	for _, h := range socketHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			kept.Header[h] = slices.Clone(v)
		}
	}
	return kept.WithContext(r.Context())
}

func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	bc := &batchConn{}
	ws, err := t.upgrader.Upgrade(batchingHijacker{ResponseWriter: w, conn: bc}, r, nil)
	if err != nil {
		return // the upgrader answered over HTTP
	}
	ws.SetReadLimit(t.readLimit)
	c := &wsConn{t: t, ws: ws, bc: bc, exec: exec, ctx: r.Context(), req: socketRequest(r),
		legacy: ws.Subprotocol() != protocolTransportWS, ops: map[string]*wsOp{}}
	c.room.L = &c.mu
	c.send = c.writeAll
	if !t.open(c) {
		c.close(websocket.CloseGoingAway, "The server is stopping")
		return
	}
	end := func() {}
	if st := wsStateFrom(r.Context()); st != nil {
		st.conn.Store(c)
		if st.end != nil {
			// The session goes on without the request's goroutine, on a
			// fresh one whose stack holds only what reading the socket
			// takes.
			st.adopted, end = true, st.end
			go c.session(end)
			return
		}
	}
	c.session(end)
}

// session serves the socket until it closes; then end ends the session's
// context.
func (c *wsConn) session(end func()) {
	defer end()
	defer c.t.forget(c)
	c.serve()
}

// open counts a socket among the open ones; false when the server is
// stopping.
func (t *wsTransport) open(c *wsConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		return false
	}
	if t.sockets == nil {
		t.sockets = map[*wsConn]struct{}{}
	}
	t.sockets[c] = struct{}{}
	return true
}

func (t *wsTransport) forget(c *wsConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sockets, c)
}

// closeAll closes every open socket with 1001 (going away), their
// operations ended with nothing more sent: clients reconnect, and resume
// their subscriptions from their last cursor on another instance or after
// the restart. Sockets opened later are closed at once.
func (t *wsTransport) closeAll() {
	t.mu.Lock()
	t.stopping = true
	open := make([]*wsConn, 0, len(t.sockets))
	for c := range t.sockets {
		open = append(open, c)
	}
	t.mu.Unlock()
	for _, c := range open {
		c.close(websocket.CloseGoingAway, "The server is stopping")
	}
}

// batchingHijacker hands the upgrader a connection that can hold writes
// back while a batch of messages is written.
type batchingHijacker struct {
	http.ResponseWriter
	conn *batchConn
}

func (h batchingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn.Conn = conn
	return h.conn, rw, nil
}

func (h batchingHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// batchConn is a socket's connection. While held it keeps what is written
// and sends it all at once on release: the messages of a batch go out in
// one system call instead of one each (and a long message in one instead
// of its header's and its payload's). The buffer is the pool's while
// nothing is held.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  *[]byte
}

var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// batchLimit is the most a held connection keeps before it writes.
const batchLimit = 64 << 10

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return b.Conn.Write(p)
	}
	if len(*b.buf)+len(p) > batchLimit {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

func (b *batchConn) hold() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		b.held, b.buf = true, batchBuffers.Get().(*[]byte)
	}
}

// release writes what was held and stops holding.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return nil
	}
	err := b.flush()
	if cap(*b.buf) <= batchLimit {
		batchBuffers.Put(b.buf)
	}
	b.held, b.buf = false, nil
	return err
}

func (b *batchConn) flush() error {
	if len(*b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

// wsConn is one socket.
type wsConn struct {
	t      *wsTransport
	ws     *websocket.Conn
	bc     *batchConn
	exec   graphql.GraphExecutor
	ctx    context.Context // the session's; the caller's once initialised
	req    *http.Request   // the upgrade's
	legacy bool            // the older graphql-ws protocol

	mu          sync.Mutex
	initialised bool
	ops         map[string]*wsOp
	closed      bool
	// out are the messages waiting to be written; writing is set while
	// a goroutine writes them. room is signalled when out is taken to be
	// written (or the socket closes): a writer waits for it while out is
	// full.
	out     [][]byte
	writing bool
	room    sync.Cond
	ka      *time.Timer
	// send writes messages to the socket (writeAll; tests stand in for a
	// client).
	send func(msgs [][]byte) error
}

// wsOp is a running operation of a socket.
type wsOp struct {
	cancel context.CancelFunc
	// stopped is set when the client ended it: nothing more is sent for it.
	stopped bool
}

// inMessage is a message from the client, in either protocol.
type inMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// serve reads the socket until it closes.
func (c *wsConn) serve() {
	defer c.close(websocket.CloseNormalClosure, "")
	if c.t.initTimeout > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.t.initTimeout))
	}
	for {
		_, data, err := c.ws.ReadMessage()
		start := graphql.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.close(closeInitTimeout, "Connection initialisation timeout")
			}
			return
		}
		var m inMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			c.close(closeInvalidMessage, "Invalid message received")
			return
		}
		if !c.handleAside(&m, start) {
			return
		}
	}
}

// handleAside handles a message on a goroutine of its own, and waits for
// it. Authenticating, validating and starting an operation take a deep
// stack; the reader keeps a shallow one for as long as the socket lives.
// A panic there (a bug in authentication or an extension) closes the
// socket with 4500.
func (c *wsConn) handleAside(m *inMessage, start time.Time) bool {
	done := make(chan bool)
	go func() {
		ok := false
		defer func() {
			if v := recover(); v != nil {
				c.t.log.Error("websocket message panic", "panic", v, "type", m.Type)
				c.close(closeInternalError, "Internal server error")
			}
			done <- ok
		}()
		ok = c.handle(m, start)
	}()
	return <-done
}

// handle answers one message; false when the socket is to close.
func (c *wsConn) handle(m *inMessage, start time.Time) bool {
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	switch {
	case m.Type == "connection_init":
		if initialised {
			c.close(closeTooMany, "Too many initialisation requests")
			return false
		}
		return c.initialise(m.Payload)
	case m.Type == "ping" && !c.legacy:
		pong := []byte(`{"type":"pong"}`)
		if len(m.Payload) > 0 && !bytes.Equal(m.Payload, []byte("null")) {
			pong = appendMessage(nil, "pong", "", m.Payload)
		}
		c.write(nil, pong)
	case m.Type == "pong" && !c.legacy:
	case m.Type == "connection_terminate" && c.legacy:
		c.close(websocket.CloseNormalClosure, "terminated")
		return false
	case m.Type == "subscribe" && !c.legacy, m.Type == "start" && c.legacy:
		if !initialised {
			c.close(closeUnauthorized, "Unauthorized")
			return false
		}
		return c.subscribe(m.ID, m.Payload, start)
	case m.Type == "complete" && !c.legacy, m.Type == "stop" && c.legacy:
		c.mu.Lock()
		op := c.ops[m.ID]
		if op != nil && !c.legacy {
			// Ended here: nothing more is sent for it, and its id may be
			// used again at once. The older protocol confirms a stop with
			// complete, when the operation has ended.
			op.stopped = true
			delete(c.ops, m.ID)
			c.room.Broadcast()
		}
		c.mu.Unlock()
		if op != nil {
			op.cancel()
		}
	default:
		c.close(closeInvalidMessage, "Invalid message received")
		return false
	}
	return true
}

// initialise authenticates the socket from connection_init's payload and
// acknowledges it; false when it was refused.
func (c *wsConn) initialise(payload json.RawMessage) bool {
	var init map[string]any
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &init); err != nil {
			c.close(closeInvalidMessage, "Invalid message received")
			return false
		}
	}
	ctx, err := c.t.init(c.ctx, c.req, init)
	if err != nil {
		code, reason := closeForbidden, "Forbidden"
		var refusal *wsRefusal
		if errors.As(err, &refusal) {
			code, reason = refusal.code, refusal.reason
		}
		c.close(code, reason)
		return false
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.ctx, c.initialised = ctx, true
	c.mu.Unlock()
	c.write(nil, []byte(`{"type":"connection_ack"}`))
	if c.legacy && c.t.keepAlive > 0 {
		c.write(nil, []byte(`{"type":"ka"}`))
		c.mu.Lock()
		c.ka = time.AfterFunc(c.t.keepAlive, c.keepAlive)
		c.mu.Unlock()
	}
	return true
}

// keepAlive sends the older protocol's "ka" and arms the next one.
func (c *wsConn) keepAlive() {
	c.write(nil, []byte(`{"type":"ka"}`))
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.ka.Reset(c.t.keepAlive)
	}
}

// subscribe starts an operation (a subscription, or a query or mutation
// answered once); false when the socket is to close.
func (c *wsConn) subscribe(id string, payload json.RawMessage, start time.Time) bool {
	if id == "" {
		c.close(closeInvalidMessage, "Invalid message received")
		return false
	}
	// A client that does not read, or runs too much at once, is read no
	// further until it does: the pressure goes back to it over TCP.
	c.mu.Lock()
	for (len(c.out) >= maxQueued || len(c.ops) >= maxOps) && !c.closed {
		c.room.Wait()
	}
	prev, closed, ctx := c.ops[id], c.closed, c.ctx
	if prev != nil && c.legacy {
		// The older protocol's clients start an id again to replace it.
		prev.stopped = true
		delete(c.ops, id)
	}
	c.mu.Unlock()
	switch {
	case closed:
		return false
	case prev != nil && c.legacy:
		prev.cancel()
	case prev != nil:
		c.close(closeDuplicateID, "Subscriber for "+id+" already exists")
		return false
	}
	ctx = graphql.StartOperationTrace(ctx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		c.fail(nil, id, gqlerror.List{{Message: "invalid json"}})
		return true
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.req.Header
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.fail(nil, id, resp.Errors) // it did not start: a parse or validation error
		} else {
			c.sendResponse(nil, id, &graphql.Response{Errors: resp.Errors})
			c.complete(nil, id)
		}
		return true
	}
	ctx, cancel := context.WithCancel(graphql.WithOperationContext(ctx, rc))
	op := &wsOp{cancel: cancel}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return false
	}
	c.ops[id] = op
	c.mu.Unlock()
	// Started on a goroutine of its own: a subscription's resolver runs
	// now, and may read the database first; the socket's reader goes on
	// meanwhile (a ping, this id's complete, other operations). The
	// goroutine that then waits for its results keeps a shallow stack.
	go func() {
		responses, started, panicked := c.dispatch(ctx, rc)
		if panicked != nil {
			c.end(id, op)
			c.fail(op, id, recovered(ctx, rc, panicked))
			return
		}
		go c.run(started, id, op, rc, responses)
	}()
	return true
}

// dispatch starts the operation; panicked is what a resolver panicked
// with, if one did.
func (c *wsConn) dispatch(ctx context.Context, rc *graphql.OperationContext) (responses graphql.ResponseHandler, started context.Context, panicked any) {
	defer func() { panicked = recover() }()
	responses, started = c.exec.DispatchOperation(ctx, rc)
	return responses, started, nil
}

// recovered is the error a client is told of a panic: what the server's
// recover function makes of it.
func recovered(ctx context.Context, rc *graphql.OperationContext, v any) gqlerror.List {
	var gqlErr *gqlerror.Error
	if err := rc.Recover(ctx, v); !errors.As(err, &gqlErr) {
		gqlErr = &gqlerror.Error{Message: "internal error"}
	}
	return gqlerror.List{gqlErr}
}

// run sends an operation's results until it ends.
func (c *wsConn) run(ctx context.Context, id string, op *wsOp, rc *graphql.OperationContext, responses graphql.ResponseHandler) {
	defer func() {
		panicked := recover()
		c.end(id, op)
		if panicked != nil {
			c.fail(op, id, recovered(ctx, rc, panicked))
		} else {
			c.complete(op, id)
		}
	}()
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		c.sendResponse(op, id, resp)
	}
}

// end forgets a finished operation (unless its id already runs another)
// and cancels its context.
func (c *wsConn) end(id string, op *wsOp) {
	c.mu.Lock()
	if c.ops[id] == op {
		delete(c.ops, id)
		c.room.Broadcast()
	}
	c.mu.Unlock()
	op.cancel()
}

// The messages of an operation (op nil: one refused before it started)
// are sent unless the client ended it.

func (c *wsConn) sendResponse(op *wsOp, id string, resp *graphql.Response) {
	typ := "next"
	if c.legacy {
		typ = "data"
	}
	b := appendHead(make([]byte, 0, len(resp.Data)+len(id)+48), typ, id)
	b = append(b, `,"payload":`...)
	c.write(op, append(appendResponse(b, resp), '}'))
}

// fail ends an operation with errors: graphql-transport-ws' error ends it,
// the older protocol's is followed by complete.
func (c *wsConn) fail(op *wsOp, id string, errs gqlerror.List) {
	b, err := json.Marshal(errs)
	if err != nil {
		b = []byte(`[{"message":"internal error"}]`)
	}
	c.write(op, appendMessage(nil, "error", id, b))
	if c.legacy {
		c.complete(op, id)
	}
}

func (c *wsConn) complete(op *wsOp, id string) {
	c.write(op, appendMessage(nil, "complete", id, nil))
}

// appendResponse appends a response as JSON. The common one, data alone,
// is written around the data's bytes as they are; encoding/json would
// parse and compact them again, for every subscriber of every event.
func appendResponse(b []byte, resp *graphql.Response) []byte {
	if len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Extensions) == 0 {
		b = append(b, `{"data":`...)
		if len(resp.Data) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, resp.Data...)
		}
		return append(b, '}')
	}
	enc, err := json.Marshal(resp)
	if err != nil {
		enc = []byte(`{"errors":[{"message":"internal error"}],"data":null}`)
	}
	return append(b, enc...)
}

// appendMessage appends {"type":…,"id":…,"payload":…}, id and payload
// left out when empty.
func appendMessage(b []byte, typ, id string, payload []byte) []byte {
	b = appendHead(b, typ, id)
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

// appendHead appends a message's start: {"type":…,"id":… (id left out
// when empty).
func appendHead(b []byte, typ, id string) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, typ)
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// wsWriteTimeout bounds a write to a socket: a client that does not read
// for that long is closed.
const wsWriteTimeout = 10 * time.Second

// maxQueued is the most messages a socket holds waiting (besides the
// batch being written, at most as many). Past it, whoever writes waits: a subscription whose client reads slowly stops taking
// events, falls behind its stream and catches up from the log later,
// instead of piling its events up here.
const maxQueued = 256

// maxOps is the most operations a socket runs at once (subscriptions are
// capped lower, by Config.MaxSubscriptions); one more is read when one
// ends.
const maxOps = 256

// write queues a message of op (nil: of none), waiting while the queue is
// full; it is dropped once the socket closed or the client ended op. The
// first message of an idle socket starts a goroutine that writes it;
// whatever comes meanwhile is written by it too, all at once when it finds
// several waiting.
func (c *wsConn) write(op *wsOp, msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) >= maxQueued && !c.closed && (op == nil || !op.stopped) {
		c.room.Wait()
	}
	if c.closed || (op != nil && op.stopped) {
		return
	}
	c.out = append(c.out, msg)
	if !c.writing {
		c.writing = true
		go c.drain()
	}
}

// drain writes the queued messages until none is left.
func (c *wsConn) drain() {
	for {
		c.mu.Lock()
		out := c.out
		c.out = nil
		c.room.Broadcast()
		if len(out) == 0 || c.closed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.send(out); err != nil {
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.close(websocket.CloseGoingAway, "")
			return
		}
	}
}

func (c *wsConn) writeAll(out [][]byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	c.bc.hold()
	var err error
	for _, msg := range out {
		if err = c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			break
		}
	}
	if rerr := c.bc.release(); err == nil {
		err = rerr
	}
	return err
}

// closeReason is reason cut to what a close frame carries (123 bytes),
// on a character boundary.
func closeReason(reason string) string {
	const most = 123
	if len(reason) <= most {
		return reason
	}
	cut := most - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}

// close closes the socket with code (once), ending its operations.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.out = nil
	c.room.Broadcast()
	cancels := make([]context.CancelFunc, 0, len(c.ops))
	for _, op := range c.ops {
		cancels = append(cancels, op.cancel)
	}
	if c.ka != nil {
		c.ka.Stop()
	}
	c.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, closeReason(reason)), time.Now().Add(time.Second))
	// A batch being written may hold the close frame back: it goes now,
	// before the connection closes.
	if c.bc != nil {
		_ = c.bc.release()
	}
	_ = c.ws.Close()
}

package server

import (
	"context"
	"net/http"
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

// wsState is shared by the init function, the connection it belongs to
// and its operations.
type wsState struct {
	conn atomic.Pointer[wsConn]
	// end ends the session (see detachWebsockets); adopted is set when the
	// transport took it over. Both belong to the request's goroutine.
	end     context.CancelFunc
	adopted bool

	mu            sync.Mutex
	subscriptions int // running on the socket
}

// refuse closes the socket with 4403; nothing is written on it after.
func (st *wsState) refuse() {
	if c := st.conn.Load(); c != nil {
		c.close(closeForbidden, "Forbidden")
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
func (s *Server) wsInit(ctx context.Context, r *http.Request, payload map[string]any) (context.Context, error) {
	refuse := &wsRefusal{code: closeForbidden, reason: "Forbidden"}
	// Each connection_init is a request of its address, checked before
	// its credentials are.
	if s.deps.Usage != nil {
		if err := s.deps.Usage.AllowAddress(ctx, s.clientIP(r)); err != nil {
			return nil, &wsRefusal{code: closeTryAgain, reason: "Too many requests"}
		}
	}
	auth := transport.InitPayload(payload).Authorization()
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
	if err != nil || c.Kind == apiws.CredentialNone {
		return nil, refuse
	}
	if !s.sockets.take(ctx, credentialOf(c), s.cfg.MaxSockets) {
		return nil, &wsRefusal{code: closeTryAgain, reason: "Too many sockets"}
	}
	if st := wsStateFrom(ctx); st != nil {
		s.recheck(ctx, r, auth, st.refuse, s.metrics.rechecks, s.metrics.rechecked)
	}
	return apiws.WithCaller(ctx, c), nil
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

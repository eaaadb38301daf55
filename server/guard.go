package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/apiws/apiws"
)

// guard is what every request that carries credentials or a body
// (/graphql, /session, /exports) goes through before its credentials are
// checked or its body read: a read deadline (not for
// websockets, which live long) and the request rate of its client address.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !websocket.IsWebSocketUpgrade(r) {
			// A body dripped slowly must not hold the request open (a
			// websocket upgrade is a GET, without a body).
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		}
		if s.deps.Usage != nil {
			if err := s.deps.Usage.AllowAddress(r.Context(), s.clientIP(r)); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitAnonymous counts a request without credentials against its
// address's anonymous rate, before its body is read and parsed (requests
// with credentials are counted per operation, by rateLimit).
func (s *Server) limitAnonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := apiws.CallerFrom(r.Context()); s.deps.Usage != nil && c.Kind == apiws.CredentialNone {
			if err := s.deps.Usage.AllowRequest(r.Context(), c); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isTimeout reports whether a read failed on the request's deadline.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// Failed bearer tokens: each costs a database read, so an address that
// sends many is refused for a while without one.
var failedTokenLimit = apiws.Limit{Rate: 1, Burst: 20}

// maxBlocked bounds the addresses remembered as refused.
const maxBlocked = 10000

// tokenFailures counts failed bearer tokens per client address in the
// shared limiter and remembers, in this process, the addresses refused
// until when (the limiter only counts; it cannot be asked without
// counting).
type tokenFailures struct {
	lim apiws.Limiter
	now func() time.Time

	mu    sync.Mutex
	until map[string]time.Time
}

func newTokenFailures(lim apiws.Limiter) *tokenFailures {
	return &tokenFailures{lim: lim, now: time.Now, until: map[string]time.Time{}}
}

// blocked returns ERATELIMITED while ip's network is refused.
func (f *tokenFailures) blocked(ip string) error {
	if f == nil || f.lim == nil {
		return nil
	}
	ip = apiws.ClientNetwork(ip)
	f.mu.Lock()
	defer f.mu.Unlock()
	if until, ok := f.until[ip]; ok {
		if wait := until.Sub(f.now()); wait > 0 {
			return apiws.RateLimited(wait)
		}
		delete(f.until, ip)
	}
	return nil
}

// failed counts one failed token of ip; past the limit, ip is refused
// until one more would pass.
func (f *tokenFailures) failed(ctx context.Context, ip string) {
	if f == nil || f.lim == nil {
		return
	}
	ip = apiws.ClientNetwork(ip)
	ok, wait, err := f.lim.Allow(ctx, "authfail:"+ip, failedTokenLimit)
	if err != nil || ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if len(f.until) >= maxBlocked {
		for k, t := range f.until {
			if !t.After(now) {
				delete(f.until, k)
			}
		}
		if len(f.until) >= maxBlocked {
			return // the limiter still refuses it on its next failure
		}
	}
	f.until[ip] = now.Add(wait)
}

package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/apiws/apiws"
)

// authenticate resolves the bearer token, if any, into the request's caller.
// A token that is present but wrong, revoked or expired fails the request
// with UNAUTHENTICATED; no token leaves the caller anonymous. Without an
// Authorization header, the dashboard's session cookie is the credential
// (see cookieCaller).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *apiws.Caller
		var err error
		if authz := r.Header.Get("Authorization"); authz != "" {
			c, err = s.callerFor(r, authz)
		} else {
			c, err = s.cookieCaller(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(apiws.WithCaller(r.Context(), c)))
	})
}

// callerFor authenticates an Authorization value ("Bearer <token>").
func (s *Server) callerFor(r *http.Request, authorization string) (*apiws.Caller, error) {
	anon := &apiws.Caller{Kind: apiws.CredentialNone, IP: s.clientIP(r), UserAgent: r.UserAgent()}
	if authorization == "" {
		return anon, nil
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, apiws.Errorf(apiws.EUNAUTHENTICATED, "use 'Authorization: Bearer <token>'")
	}
	if err := s.failures.blocked(anon.IP); err != nil {
		return nil, err
	}
	c, err := s.deps.Keys.Authenticate(r.Context(), strings.TrimSpace(token))
	if apiws.ErrorCodeOf(err) == apiws.EUNAUTHENTICATED {
		s.failures.failed(r.Context(), anon.IP)
	}
	if err != nil {
		return nil, err
	}
	c.IP, c.UserAgent = anon.IP, anon.UserAgent
	return c, nil
}

// clientIP is the peer's address, or, when the peer is a trusted proxy, the
// last address in X-Forwarded-For that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

// fromTrustedProxy reports whether the request's peer is a trusted proxy.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && s.trusted(peer)
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// statusOf maps an error code to the HTTP status of a request that failed
// before GraphQL ran.
func statusOf(code apiws.ErrorCode) int {
	switch code {
	case apiws.EUNAUTHENTICATED:
		return http.StatusUnauthorized
	case apiws.EFORBIDDEN:
		return http.StatusForbidden
	case apiws.ERATELIMITED:
		return http.StatusTooManyRequests
	case apiws.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers a request that failed before GraphQL ran with a
// GraphQL-shaped error body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := apiws.ErrorCodeOf(err)
	if code == apiws.EINTERNAL {
		s.log.ErrorContext(r.Context(), "request failed", "err", err)
	}
	ext := map[string]any{"code": string(code)}
	var ae *apiws.Error
	if errors.As(err, &ae) && ae.Code == apiws.ERATELIMITED {
		ext["retryAfterMs"] = ae.RetryAfter.Milliseconds()
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter.Milliseconds()+999)/1000)))
	}
	if code == apiws.EUNAUTHENTICATED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="apiws"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusOf(code))
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"message": apiws.ErrorMessage(err), "extensions": ext}},
	})
}

func (s *Server) writeStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg}}})
}

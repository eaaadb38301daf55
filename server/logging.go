package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apiws/apiws"
)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// logRequests gives each request an id (X-Request-Id, echoed back) and logs
// one line per request: never a header or body, so no credentials.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		rec := wrapResponse(w)
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(ctx))
		route := r.URL.Path
		switch {
		case route == "/graphql", route == "/healthz", route == "/readyz", route == "/metrics":
		case len(route) >= 11 && route[:11] == "/playground":
			route = "/playground"
		case strings.HasPrefix(route, apiws.MediaPath):
			route = "/media"
		default:
			route = "other"
		}
		status := rec.status
		if status == 0 {
			status = http.StatusSwitchingProtocols
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(status/100)+"xx").Inc()
		if route == "/healthz" || route == "/metrics" {
			return
		}
		path := r.URL.Path
		if route == "/media" {
			path = apiws.MediaPath + "…" // the token is a credential
		}
		s.log.InfoContext(ctx, "request", "request_id", id, "method", r.Method, "path", path,
			"status", status, "duration_ms", time.Since(start).Milliseconds(), "ip", s.clientIP(r))
	})
}

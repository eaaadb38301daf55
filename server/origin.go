package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// origin is a web origin: a scheme, a host and a port, compared exactly.
type origin struct {
	scheme, host, port string
}

// parseOrigin reads an Origin header value or a configured origin:
// http or https, a host, an optional port (the scheme's default when
// absent), and nothing else: no user information, path, query or
// fragment. "null" and anything else is not an origin.
func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.User != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return origin{}, false
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	return o.withDefaultPort()
}

// ValidOrigin reports whether s is an origin apiws can compare: http or
// https, a host, an optional port, nothing else (see Config.AllowedOrigins).
func ValidOrigin(s string) bool {
	_, ok := parseOrigin(s)
	return ok
}

// withDefaultPort fills in the scheme's port; only http and https are
// origins apiws knows.
func (o origin) withDefaultPort() (origin, bool) {
	switch o.scheme {
	case "http":
		if o.port == "" {
			o.port = "80"
		}
	case "https":
		if o.port == "" {
			o.port = "443"
		}
	default:
		return origin{}, false
	}
	return o, o.host != ""
}

// ownOrigin is the origin the request was made to: APIWS_PUBLIC_URL's when
// it is set, else the request's Host with the scheme it came over (a
// trusted proxy's X-Forwarded-Proto when it ended TLS).
func (s *Server) ownOrigin(r *http.Request) (origin, bool) {
	if s.cfg.PublicURL != "" {
		if o, ok := parseOrigin(publicOrigin(s.cfg.PublicURL)); ok {
			return o, true
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" && s.fromTrustedProxy(r) {
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(proto, ",")[0]))
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	return origin{scheme: scheme, host: strings.ToLower(strings.Trim(host, "[]")), port: port}.withDefaultPort()
}

// publicOrigin cuts a URL down to its origin (a public URL may have a
// path).
func publicOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// checkOrigin allows requests with no Origin, from the server's own
// origin, and from the configured origins, each compared as exact scheme,
// host and port.
func (s *Server) checkOrigin(r *http.Request) bool {
	header := r.Header.Get("Origin")
	if header == "" {
		return true
	}
	o, ok := parseOrigin(header)
	if !ok {
		return false
	}
	if own, ok := s.ownOrigin(r); ok && own == o {
		return true
	}
	for _, allowed := range s.cfg.AllowedOrigins {
		if a, ok := parseOrigin(allowed); ok && a == o {
			return true
		}
	}
	return false
}

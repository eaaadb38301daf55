package server

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"
)

var checkOriginTests = []struct {
	name    string
	cfg     Config
	host    string // the request's Host
	tls     bool
	proxied string // the request's X-Forwarded-Proto
	peer    string
	origin  string
	allowed bool
}{
	{name: "no Origin", host: "api.example", origin: "", allowed: true},
	{name: "own origin", host: "api.example", origin: "http://api.example", allowed: true},
	{name: "own origin, port written out", host: "api.example", origin: "http://api.example:80", allowed: true},
	{name: "own origin, case differs", host: "API.example", origin: "http://api.EXAMPLE", allowed: true},
	{name: "own origin with a port", host: "api.example:8080", origin: "http://api.example:8080", allowed: true},
	{name: "another port of the host", host: "api.example:8080", origin: "http://api.example:9090", allowed: false},
	{name: "another scheme of the host", host: "api.example", origin: "https://api.example", allowed: false},
	{name: "https when served over TLS", host: "api.example", tls: true, origin: "https://api.example", allowed: true},
	{name: "http when served over TLS", host: "api.example", tls: true, origin: "http://api.example", allowed: false},
	{name: "userinfo", host: "api.example", origin: "http://evil@api.example", allowed: false},
	{name: "a path", host: "api.example", origin: "http://api.example/x", allowed: false},
	{name: "null", host: "api.example", origin: "null", allowed: false},
	{name: "another scheme altogether", host: "api.example", origin: "ftp://api.example", allowed: false},
	{name: "a look-alike host", host: "api.example", origin: "http://api.example.evil", allowed: false},
	{name: "an IPv6 host", host: "[::1]:8080", origin: "http://[::1]:8080", allowed: true},
	{name: "the public URL", cfg: Config{PublicURL: "https://apiws.example/base"}, host: "internal:8080", origin: "https://apiws.example", allowed: true},
	{name: "not the public URL's scheme", cfg: Config{PublicURL: "https://apiws.example"}, host: "apiws.example", origin: "http://apiws.example", allowed: false},
	{name: "an allowed origin", cfg: Config{AllowedOrigins: []string{"https://app.example/"}}, host: "api.example", origin: "https://app.example", allowed: true},
	{name: "an allowed origin's default port", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, host: "api.example", origin: "https://app.example:443", allowed: true},
	{name: "an allowed origin's other scheme", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, host: "api.example", origin: "http://app.example", allowed: false},
	{name: "an allowed origin's other port", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, host: "api.example", origin: "https://app.example:8443", allowed: false},
	{name: "an allowed origin with userinfo", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, host: "api.example", origin: "https://u:p@app.example", allowed: false},
	{name: "https from a trusted proxy", cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		host: "api.example", proxied: "https", peer: "10.0.0.2:5000", origin: "https://api.example", allowed: true},
	{name: "https from an untrusted peer's header", cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		host: "api.example", proxied: "https", peer: "192.0.2.7:5000", origin: "https://api.example", allowed: false},
}

func TestCheckOrigin(t *testing.T) {
	for _, tt := range checkOriginTests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: tt.cfg}
			r := httptest.NewRequest("GET", "/graphql", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.peer != "" {
				r.RemoteAddr = tt.peer
			}
			if tt.proxied != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proxied)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := s.checkOrigin(r); got != tt.allowed {
				t.Fatalf("checkOrigin(%q to %s) = %v, want %v", tt.origin, tt.host, got, tt.allowed)
			}
		})
	}
}

var clientIPTests = []struct {
	name    string
	trusted []string
	peer    string
	xff     []string
	want    string
}{
	{name: "no proxy", peer: "192.0.2.1:1234", want: "192.0.2.1"},
	{name: "an untrusted peer's header is ignored", peer: "192.0.2.1:1234", xff: []string{"203.0.113.9"}, want: "192.0.2.1"},
	{name: "a trusted proxy's client", trusted: []string{"10.0.0.0/8"}, peer: "10.0.0.2:1234", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
	{name: "the last untrusted hop, not a spoofed first one", trusted: []string{"10.0.0.0/8"}, peer: "10.0.0.2:1234",
		xff: []string{"198.51.100.1, 203.0.113.9, 10.0.0.3"}, want: "203.0.113.9"},
	{name: "hops over several headers", trusted: []string{"10.0.0.0/8"}, peer: "10.0.0.2:1234",
		xff: []string{"198.51.100.1", "203.0.113.9"}, want: "203.0.113.9"},
	{name: "garbage stops the walk at the proxy", trusted: []string{"10.0.0.0/8"}, peer: "10.0.0.2:1234",
		xff: []string{"198.51.100.1, not-an-ip"}, want: "10.0.0.2"},
	{name: "only proxies", trusted: []string{"10.0.0.0/8"}, peer: "10.0.0.2:1234", xff: []string{"10.0.0.5"}, want: "10.0.0.2"},
	{name: "an IPv4-mapped trusted peer", trusted: []string{"10.0.0.0/8"}, peer: "[::ffff:10.0.0.2]:1234", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
	{name: "IPv6", peer: "[2001:db8::1]:1234", want: "2001:db8::1"},
}

func TestClientIP(t *testing.T) {
	for _, tt := range clientIPTests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{}
			for _, p := range tt.trusted {
				s.cfg.TrustedProxies = append(s.cfg.TrustedProxies, netip.MustParsePrefix(p))
			}
			r := httptest.NewRequest("GET", "/graphql", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != tt.want {
				t.Fatalf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

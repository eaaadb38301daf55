// Package dashboard serves apiws's realtime dashboard: one HTML page and the
// plain JavaScript modules and stylesheet it loads, embedded in the binary,
// so running apiws needs no build step and no CDN.
//
// The page speaks only the public GraphQL API: POSTs to /graphql and a
// graphql-transport-ws websocket on the same path. It never holds a token:
// after signUp or logIn it hands the token to POST /session, which keeps it
// in an HttpOnly cookie, and every request after that carries the cookie and
// the X-Requested-With header the server asks of cookie requests.
//
// Browser tests live in browsertest/ (run by scripts/browser-test.sh).
package dashboard

import (
	"embed"
	"net/http"

	"github.com/apiws/apiws/server/static"
)

//go:embed index.html assets
var files embed.FS

// ContentSecurityPolicy is sent with the page and every asset: everything
// comes from apiws itself; images may be data: URLs (the pairing QR code);
// connect-src is 'self' alone, which admits the websocket too: CSP Level 3
// matches ws: and wss: to the page's own host and port as 'self' (no
// websocket to any other host).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// AssetPrefix is the path the assets are served under.
const AssetPrefix = "/dashboard/assets/"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// policy: modules import each other by plain URLs, so every response is
// revalidated (a 304 by ETag when nothing changed) rather than cached by
// version.
var policy = static.Policy{Header: map[string]string{
	"Content-Security-Policy": ContentSecurityPolicy,
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}}

// Handler serves the page at "/" and the assets under AssetPrefix; any other
// path is 404. Mount it for "GET /{$}" and "GET /dashboard/".
func Handler() http.Handler {
	return static.Page("dashboard", files, contentTypes, policy, AssetPrefix, "/")
}

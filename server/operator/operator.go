// Package operator serves the operator console at /operator: one HTML page
// and plain JavaScript modules embedded in the binary, for the people who
// run apiws (privacy requests, legal holds, policy versions, plans, support
// tickets, accounts).
//
// The console speaks only the public GraphQL API, with an operator key
// (`apiws operator-key create`) the person types in. The key stays in the
// page's memory: never in web storage or a cookie, so closing or reloading
// the tab signs out. It reuses the dashboard's stylesheet and DOM helpers
// (served under dashboard.AssetPrefix) and is served under the dashboard's
// Content-Security-Policy: everything from apiws itself, nothing inline.
package operator

import (
	"embed"
	"net/http"

	"github.com/apiws/apiws/server/dashboard"
	"github.com/apiws/apiws/server/static"
)

//go:embed index.html assets
var files embed.FS

// Path is where the console's page is served.
const Path = "/operator"

// AssetPrefix is the path the console's own assets are served under.
const AssetPrefix = "/operator/assets/"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// policy: as the dashboard's; every response is revalidated, the console
// never goes into a frame and sends no referrer.
var policy = static.Policy{Header: map[string]string{
	"Content-Security-Policy": dashboard.ContentSecurityPolicy,
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}}

// Handler serves the page at Path and the assets under AssetPrefix; any
// other path is 404. Mount it for "GET /operator" and "GET /operator/".
func Handler() http.Handler {
	return static.Page("operator", files, contentTypes, policy, AssetPrefix, Path, Path+"/")
}

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
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
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

type file struct {
	name, contentType, etag string
	data                    []byte
}

// Handler serves the page at "/" and the assets under AssetPrefix; any other
// path is 404. Mount it for "GET /{$}" and "GET /dashboard/".
func Handler() http.Handler {
	h := &handler{assets: map[string]*file{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		f := &file{name: p, contentType: contentTypes[path.Ext(p)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`, data: data}
		if p == "index.html" {
			h.page = f
		} else {
			h.assets[strings.TrimPrefix(p, "assets/")] = f
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("dashboard: " + err.Error())
	}
	return h
}

type handler struct {
	page   *file
	assets map[string]*file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		h.page.serve(w, r)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
	f := h.assets[name]
	if !ok || f == nil || f.contentType == "" {
		http.NotFound(w, r)
		return
	}
	f.serve(w, r)
}

// serve answers with the file. Modules import each other by plain URLs, so
// every response is revalidated (a 304 by ETag when nothing changed) rather
// than cached by version.
func (f *file) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.data))
}

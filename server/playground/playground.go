package playground

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/apiws/apiws/server/static"
)

// Options configures Handler.
type Options struct {
	// Endpoint is the GraphQL endpoint's path, e.g. "/graphql". Queries and
	// mutations are POSTed to it; subscriptions open a websocket to the same
	// path on the page's own host, with ws: or wss: to match the page.
	Endpoint string
	// Title is the page title; "apiws GraphQL playground" when empty.
	Title string
	// Prefix is the path the handler is mounted at; "/playground" when empty.
	// The page answers on Prefix and Prefix+"/", the assets under
	// Prefix+"/assets/". The handler sees full request paths, so mount it
	// without http.StripPrefix.
	Prefix string
}

// ContentSecurityPolicy is the policy sent with the page. Scripts and styles
// come only from apiws; connect-src is 'self' alone: CSP Level 3 matches
// ws: and wss: to the page's own host and port as 'self', and the page
// derives its websocket URL from its own location. font-src admits
// data: because GraphiQL's stylesheet carries its fonts inline.
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// Handler returns the handler serving the playground page at opts.Prefix and
// its assets below it. It answers GET and HEAD only; any other path under the
// prefix is 404. The page is rendered once here, so a bad template or a
// missing asset fails at startup rather than on a request.
func Handler(opts Options) http.Handler {
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	if opts.Title == "" {
		opts.Title = "apiws GraphQL playground"
	}
	prefix := strings.TrimSuffix(opts.Prefix, "/")
	if prefix == "" {
		prefix = "/playground"
	}
	assets := loadAssets()
	return &handler{
		prefix: prefix,
		page:   renderPage(opts, prefix, assets),
		assets: assets,
	}
}

type handler struct {
	prefix string
	page   []byte
	assets *static.Files
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !static.GetOrHead(w, r) {
		return
	}
	p := r.URL.Path
	switch {
	case p == h.prefix || p == h.prefix+"/":
		h.servePage(w, r)
	case strings.HasPrefix(p, h.prefix+"/assets/"):
		h.assets.Serve(w, r, strings.TrimPrefix(p, h.prefix+"/assets/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	// The page names assets by content hash, so it must be revalidated for
	// a new build's assets to be picked up; it is small.
	hdr.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(h.page)
}

// renderPage fills page.html; the endpoint reaches playground.js through a
// data attribute because the CSP forbids inline scripts. Asset URLs carry
// the content's version so browsers may cache them for good.
func renderPage(opts Options, prefix string, assets *static.Files) []byte {
	url := func(name string) (string, error) {
		a := assets.Lookup(name)
		if a == nil {
			return "", fmt.Errorf("page references missing asset %s", name)
		}
		return prefix + "/assets/" + name + "?v=" + a.Version, nil
	}
	t, err := template.New("page.html").Funcs(template.FuncMap{"asset": url}).ParseFS(files, "page.html")
	if err != nil {
		panic("playground: " + err.Error())
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, opts); err != nil {
		panic("playground: " + err.Error())
	}
	return buf.Bytes()
}

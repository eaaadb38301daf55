package playground

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	h := Handler(opts)
	mux := http.NewServeMux()
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, rawURL string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// Go's transport would ask for gzip and undo it silently; the tests
	// look at what the server actually sends.
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// refPattern finds src and href attributes; page.html is ours, so a regexp
// over its fixed shape is enough to list what it loads.
var refPattern = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)

func pageRefs(t *testing.T, page string) []string {
	t.Helper()
	var refs []string
	for _, m := range refPattern.FindAllStringSubmatch(page, -1) {
		refs = append(refs, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	if len(refs) == 0 {
		t.Fatal("page references nothing")
	}
	return refs
}

func TestPage(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql", Title: "Test <playground>"})
	for _, path := range []string{"/playground", "/playground/"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, srv.URL+path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for name, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			page := string(body)
			if !strings.Contains(page, `data-endpoint="/graphql"`) {
				t.Error("page does not carry the endpoint")
			}
			if !strings.Contains(page, "<title>Test &lt;playground&gt;</title>") {
				t.Error("title missing or not escaped")
			}
		})
	}
}

func TestPolicyIsStrict(t *testing.T) {
	// The page's own code must not need these, so the policy must not grant them.
	for _, loose := range []string{"'unsafe-eval'", "script-src", "http:", "https:", "*"} {
		if strings.Contains(ContentSecurityPolicy, loose) {
			t.Errorf("policy contains %s", loose)
		}
	}
}

func TestPageHasNoInlineScript(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	_, body := get(t, srv.URL+"/playground")
	scripts := regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(body), -1)
	if len(scripts) == 0 {
		t.Fatal("no scripts")
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
		}
	}
	if regexp.MustCompile(`\son[a-z]+=`).Match(body) {
		t.Error("page has an inline event handler")
	}
}

func TestPageLoadsOnlySameOriginAssets(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	base, _ := url.Parse(srv.URL + "/playground")
	_, body := get(t, base.String())
	for _, ref := range pageRefs(t, string(body)) {
		if strings.HasPrefix(ref, "data:") {
			continue // the empty favicon; allowed by img-src data:
		}
		u, err := base.Parse(ref)
		if err != nil {
			t.Fatalf("%q: %v", ref, err)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host {
			t.Errorf("%q loads from another origin", ref)
		}
		if !strings.HasPrefix(u.Path, "/playground/assets/") {
			t.Errorf("%q is not under /playground/assets/", ref)
		}
	}
}

func TestReferencedAssets(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	_, body := get(t, srv.URL+"/playground/")
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
	}
	for _, ref := range pageRefs(t, string(body)) {
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		t.Run(ref, func(t *testing.T) {
			resp, body := get(t, srv.URL+ref)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			u, _ := url.Parse(ref)
			ext := u.Path[strings.LastIndex(u.Path, "."):]
			if got := resp.Header.Get("Content-Type"); got != wantType[ext] {
				t.Errorf("Content-Type = %q, want %q", got, wantType[ext])
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != immutable {
				t.Errorf("versioned URL: Cache-Control = %q, want %q", got, immutable)
			}
			if len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
}

func TestAssetCaching(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	const asset = "/playground/assets/playground.js"
	resp, _ := get(t, srv.URL+asset)
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("unversioned URL: Cache-Control = %q, want no-cache", got)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, _ = get(t, srv.URL+asset+"?v=stale")
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("stale version: Cache-Control = %q, want no-cache", got)
	}
	resp, body := get(t, srv.URL+asset, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("revalidation: status %d, %d bytes; want 304, none", resp.StatusCode, len(body))
	}
}

func TestAssetGzip(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	const asset = "/playground/assets/vendor/graphiql.min.js"
	_, plain := get(t, srv.URL+asset)
	resp, body := get(t, srv.URL+asset, "Accept-Encoding", "br, gzip")
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	if len(body) >= len(plain) {
		t.Errorf("compressed %d bytes, plain %d", len(body), len(plain))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(unzipped) != string(plain) {
		t.Error("gzip body differs from the asset")
	}
	resp, _ = get(t, srv.URL+asset, "Accept-Encoding", "gzip;q=0, identity")
	if got := resp.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("gzip refused with q=0, got Content-Encoding %q", got)
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	for _, path := range []string{
		"/playground/assets/nope.js",
		"/playground/assets/",
		"/playground/assets/vendor",
		"/playground/page.html",
		"/playground/other",
	} {
		t.Run(path, func(t *testing.T) {
			resp, _ := get(t, srv.URL+path)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
		})
	}
}

func TestNoEscapeFromAssets(t *testing.T) {
	// http.ServeMux would clean this path and redirect; a handler mounted
	// another way must still not reach outside assets/.
	h := Handler(Options{})
	for _, path := range []string{"/playground/assets/../page.html", "/playground/assets//playground.js"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, rec.Code)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newServer(t, Options{Endpoint: "/graphql"})
	resp, err := http.Post(srv.URL+"/playground", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestEveryAssetHasAKnownType(t *testing.T) {
	assets := loadAssets()
	for _, name := range assets.Names() {
		if assets.Lookup(name).ContentType == "" {
			t.Errorf("%s: no content type for its extension", name)
		}
	}
}

func TestLicensesShipped(t *testing.T) {
	assets := loadAssets()
	for _, name := range []string{
		"vendor/graphiql.LICENSE.txt",
		"vendor/react.LICENSE.txt",
		"vendor/react-dom.LICENSE.txt",
		"vendor/graphql-ws.LICENSE.txt",
		"vendor/THIRD_PARTY_NOTICES.txt",
	} {
		if assets.Lookup(name) == nil {
			t.Errorf("%s missing", name)
		}
	}
}

func TestPrefix(t *testing.T) {
	h := Handler(Options{Endpoint: "/api/graphql", Prefix: "/tools/gql/"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/tools/gql", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for _, ref := range pageRefs(t, rec.Body.String()) {
		if !strings.HasPrefix(ref, "data:") && !strings.HasPrefix(ref, "/tools/gql/assets/") {
			t.Errorf("%q outside the prefix", ref)
		}
	}
	if !strings.Contains(rec.Body.String(), `data-endpoint="/api/graphql"`) {
		t.Error("endpoint not passed")
	}
}

// ws: and wss: in connect-src would let the page open websockets to any
// host; 'self' admits its own.
func TestPolicyConnectsToItselfOnly(t *testing.T) {
	if !strings.Contains(ContentSecurityPolicy, "connect-src 'self';") || strings.Contains(ContentSecurityPolicy, "ws:") {
		t.Fatalf("connect-src is not 'self' alone: %s", ContentSecurityPolicy)
	}
}

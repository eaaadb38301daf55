package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestPage(t *testing.T) {
	rec := serve(t, http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for name, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestPolicy(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "img-src 'self' data:", "connect-src 'self';", "script-src 'self';", "style-src 'self';"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("policy lacks %s", want)
		}
	}
	// ws: and wss: would admit websockets to any host.
	for _, loose := range []string{"'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "ws:", "wss:", "*"} {
		if strings.Contains(ContentSecurityPolicy, loose) {
			t.Errorf("policy contains %s", loose)
		}
	}
}

// The policy forbids inline scripts, handlers and styles; the files must
// not need them, or the dashboard breaks in the browser only.
func TestNoInlineCode(t *testing.T) {
	page := serve(t, http.MethodGet, "/").Body.String()
	for _, s := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
		}
	}
	inline := regexp.MustCompile(`\son[a-z]+=|\sstyle=|<style`)
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := files.ReadFile(p)
		if strings.HasSuffix(p, ".html") && inline.Match(b) {
			t.Errorf("%s has an inline handler or style", p)
		}
		if strings.HasSuffix(p, ".js") && regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`).Match(b) {
			t.Errorf("%s builds markup or code from strings", p)
		}
		// The SVG namespace is a name, not a place anything is fetched from.
		b = []byte(strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", ""))
		if strings.HasSuffix(p, ".js") && regexp.MustCompile(`https?://`).Match(b) {
			t.Errorf("%s names another origin", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every asset the page or a module refers to is served, with its type.
func TestReferencedAssets(t *testing.T) {
	seen := map[string]bool{}
	var visit func(path string)
	ref := regexp.MustCompile(`(?:src|href)="(/dashboard/[^"]+)"|from '(\.{1,2}/[^']+)'`)
	visit = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		rec := serve(t, http.MethodGet, path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") == "" {
			t.Errorf("%s: status %d, type %q", path, rec.Code, rec.Header().Get("Content-Type"))
			return
		}
		if rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s: no CSP", path)
		}
		dir := path[:strings.LastIndex(path, "/")+1]
		for _, m := range ref.FindAllStringSubmatch(rec.Body.String(), -1) {
			switch {
			case m[1] != "":
				visit(m[1])
			case strings.HasPrefix(m[2], "./"):
				visit(dir + m[2][2:])
			default:
				visit(dir[:strings.LastIndex(strings.TrimSuffix(dir, "/"), "/")+1] + m[2][3:])
			}
		}
	}
	visit("/")
	for _, want := range []string{"/dashboard/assets/app.js", "/dashboard/assets/views/privacy.js", "/dashboard/assets/chart.js",
		"/dashboard/assets/views/events.js", "/dashboard/assets/views/webhooks.js"} {
		if !seen[want] {
			t.Errorf("%s is not reached from the page", want)
		}
	}
}

func TestRevalidation(t *testing.T) {
	rec := serve(t, http.MethodGet, AssetPrefix+"app.js")
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, rec.Header().Get("Cache-Control"))
	}
	if rec := serve(t, http.MethodGet, AssetPrefix+"app.js", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", rec.Code)
	}
}

func TestNotFound(t *testing.T) {
	for _, path := range []string{"/index.html", "/dashboard/", AssetPrefix, AssetPrefix + "nope.js", AssetPrefix + "../index.html", "/dashboard/index.html"} {
		if rec := serve(t, http.MethodGet, path); rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, rec.Code)
		}
	}
	if rec := serve(t, http.MethodPost, "/"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d", rec.Code)
	}
}

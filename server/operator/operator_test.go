package operator

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/apiws/apiws/server/dashboard"
)

// serve answers as apiws's routes do: the console and the dashboard whose
// assets it loads.
func serve(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /operator", Handler())
	mux.Handle("GET /operator/", Handler())
	mux.Handle("GET /dashboard/", dashboard.Handler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestPage(t *testing.T) {
	for _, path := range []string{"/operator", "/operator/"} {
		rec := serve(t, http.MethodGet, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
		for name, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": dashboard.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := rec.Header().Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
}

// The console runs under the dashboard's policy: no inline code, no markup
// built from strings, no other origin; and the operator key is never
// written anywhere the browser keeps.
func TestNoInlineCodeNorStoredKey(t *testing.T) {
	inline := regexp.MustCompile(`\son[a-z]+=|\sstyle=|<style|<script(?:[^>]*)>\s*[^<\s]`)
	markup := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	stored := regexp.MustCompile(`localStorage|sessionStorage|indexedDB|document\.cookie|caches\.|serviceWorker`)
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := files.ReadFile(p)
		if strings.HasSuffix(p, ".html") && inline.Match(b) {
			t.Errorf("%s has inline code or style", p)
		}
		if strings.HasSuffix(p, ".js") {
			if markup.Match(b) {
				t.Errorf("%s builds markup or code from strings", p)
			}
			if stored.Match(b) {
				t.Errorf("%s touches browser storage", p)
			}
			if regexp.MustCompile(`https?://`).Match(b) {
				t.Errorf("%s names another origin", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every asset the page or a module refers to is served, with its type and
// the policy: the console's own and the dashboard's it borrows.
func TestReferencedAssets(t *testing.T) {
	seen := map[string]bool{}
	ref := regexp.MustCompile(`(?:src|href)="(/(?:operator|dashboard)/[^"]+)"|from '((?:\.{1,2})?/[^']+)'`)
	var visit func(path string)
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
		if rec.Header().Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy {
			t.Errorf("%s: no CSP", path)
		}
		dir := path[:strings.LastIndex(path, "/")+1]
		for _, m := range ref.FindAllStringSubmatch(rec.Body.String(), -1) {
			switch {
			case m[1] != "":
				visit(m[1])
			case strings.HasPrefix(m[2], "/"):
				visit(m[2])
			case strings.HasPrefix(m[2], "./"):
				visit(dir + m[2][2:])
			default:
				visit(dir[:strings.LastIndex(strings.TrimSuffix(dir, "/"), "/")+1] + m[2][3:])
			}
		}
	}
	visit("/operator")
	for _, want := range []string{AssetPrefix + "console.js", AssetPrefix + "api.js", AssetPrefix + "views/requests.js",
		AssetPrefix + "views/support.js", AssetPrefix + "views/accounts.js", AssetPrefix + "views/plans.js",
		AssetPrefix + "views/policy.js", dashboard.AssetPrefix + "dom.js", dashboard.AssetPrefix + "api.js", dashboard.AssetPrefix + "style.css"} {
		if !seen[want] {
			t.Errorf("%s is not reached from the page", want)
		}
	}
}

func TestNotFound(t *testing.T) {
	for _, path := range []string{"/operator/index.html", AssetPrefix, AssetPrefix + "nope.js", "/operator/x"} {
		if rec := serve(t, http.MethodGet, path); rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, rec.Code)
		}
	}
}

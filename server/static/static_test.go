package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

var types = map[string]string{".js": "text/javascript", ".txt": "text/plain"}

func load(t *testing.T, p Policy) *Files {
	t.Helper()
	big := strings.Repeat("console.log(1);\n", 200) // compresses
	f, err := Load(fstest.MapFS{
		"web/app.js":    {Data: []byte(big)},
		"web/small.txt": {Data: []byte("tiny")},
		"web/data.bin":  {Data: []byte{1, 2, 3}},
		"other.js":      {Data: []byte("outside")},
	}, "web", types, p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestServe(t *testing.T) {
	plain := Policy{Header: map[string]string{"X-Frame-Options": "DENY"}}
	full := Policy{Versioned: true, Gzip: true}
	tests := []struct {
		name           string
		policy         Policy
		file, query    string
		acceptEncoding string
		wantStatus     int
		wantHeader     map[string]string // "" means absent
	}{
		{"policy headers", plain, "app.js", "", "gzip", 200, map[string]string{
			"X-Frame-Options": "DENY", "Content-Type": "text/javascript", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-cache", "Content-Encoding": "", "Vary": ""}},
		{"unversioned policy ignores v", plain, "app.js", "v=x", "", 200, map[string]string{"Cache-Control": "no-cache"}},
		{"versioned, stale v", full, "app.js", "v=stale", "", 200, map[string]string{"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}},
		{"gzip accepted", full, "app.js", "", "br, gzip", 200, map[string]string{"Content-Encoding": "gzip"}},
		{"gzip refused by q=0", full, "app.js", "", "gzip;q=0, identity", 200, map[string]string{"Content-Encoding": ""}},
		{"gzip not worth it", full, "small.txt", "", "gzip", 200, map[string]string{"Content-Encoding": ""}},
		{"unknown kind", full, "data.bin", "", "", 404, nil},
		{"missing", full, "nope.js", "", "", 404, nil},
		{"outside the folder", full, "../other.js", "", "", 404, nil},
		{"empty name", full, "", "", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := load(t, tt.policy)
			req := httptest.NewRequest(http.MethodGet, "/x?"+tt.query, nil)
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			rec := httptest.NewRecorder()
			files.Serve(rec, req, tt.file)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestServeVersionedAndRevalidated(t *testing.T) {
	files := load(t, Policy{Versioned: true, Gzip: true})
	f := files.Lookup("app.js")
	get := func(query string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/x?"+query, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		files.Serve(rec, req, "app.js")
		return rec
	}
	if got := get("v=" + f.Version).Header().Get("Cache-Control"); got != Immutable {
		t.Errorf("current version: Cache-Control %q, want %q", got, Immutable)
	}
	plainTag := get("").Header().Get("ETag")
	gz := get("", "Accept-Encoding", "gzip")
	gzTag := gz.Header().Get("ETag")
	if plainTag == "" || gzTag == "" || plainTag == gzTag {
		t.Fatalf("ETags plain %q, gzip %q: want two different", plainTag, gzTag)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(zr); !bytes.Equal(body, f.Data) {
		t.Error("gzip body differs from the file")
	}
	if rec := get("", "If-None-Match", plainTag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	if rec := get("", "If-None-Match", gzTag); rec.Code != http.StatusOK {
		t.Errorf("the gzip ETag revalidated the plain representation: %d", rec.Code)
	}
}

func TestGetOrHead(t *testing.T) {
	for _, tt := range []struct {
		method string
		ok     bool
	}{{http.MethodGet, true}, {http.MethodHead, true}, {http.MethodPost, false}, {http.MethodDelete, false}} {
		rec := httptest.NewRecorder()
		ok := GetOrHead(rec, httptest.NewRequest(tt.method, "/", nil))
		if ok != tt.ok {
			t.Errorf("%s: %v, want %v", tt.method, ok, tt.ok)
		}
		if !ok && (rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD") {
			t.Errorf("%s: status %d, Allow %q", tt.method, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

func TestNames(t *testing.T) {
	got := strings.Join(load(t, Policy{}).Names(), " ")
	if want := "app.js data.bin small.txt"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
}

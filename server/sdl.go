package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// sdl is the published schema: apiws's whole schema as SDL, built-in
// scalars and directives left out, with an ETag that changes exactly when
// the text does.
type sdl struct {
	text []byte
	etag string
}

// newSDL prints schema. The formatter sorts types and directives by name,
// so the text, and with it the ETag, depends only on the schema.
func newSDL(schema *ast.Schema) *sdl {
	var buf bytes.Buffer
	formatter.NewFormatter(&buf).FormatSchema(schema)
	sum := sha256.Sum256(buf.Bytes())
	return &sdl{text: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// ServeHTTP serves the SDL to anyone, production included: clients
// generate their types from it where introspection is off. A request
// whose If-None-Match names the current version gets 304.
func (d *sdl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", d.etag)
	h.Set("Cache-Control", "no-cache")
	if matchesETag(r.Header.Get("If-None-Match"), d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(d.text)
}

// matchesETag reports whether an If-None-Match header names etag; weak
// validators compare by their opaque part, as RFC 9110 asks for GET.
func matchesETag(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// files holds the page template and every asset. assets/vendor is written by
// npm/update.sh; the rest of assets/ is ours.
//
//go:embed page.html assets
var files embed.FS

// contentTypes lists the only kinds of file the playground serves; an asset
// of any other kind is a mistake caught by the tests, not guessed at.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".txt": "text/plain; charset=utf-8",
}

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	data        []byte
	contentType string
	// version is a prefix of the content's SHA-256: the page appends it to
	// asset URLs, so a URL names one content and can be cached forever.
	version string

	gzipOnce sync.Once
	gzipped  []byte // nil when compressing would not pay
}

// loadAssets reads every file under assets/, keyed by its path below it.
func loadAssets() map[string]*asset {
	m := make(map[string]*asset)
	err := fs.WalkDir(files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		name := strings.TrimPrefix(p, "assets/")
		m[name] = &asset{
			name:        name,
			data:        data,
			contentType: contentTypes[path.Ext(p)],
			version:     hex.EncodeToString(sum[:8]),
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("playground: " + err.Error())
	}
	return m
}

// immutable is how long a versioned asset URL may be cached: a year, the
// longest lifetime caches are expected to honour.
const immutable = "public, max-age=31536000, immutable"

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	if a.contentType == "" {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		hdr.Set("Cache-Control", immutable)
	} else {
		// An unversioned or stale URL may be cached, but must be
		// revalidated: the ETag makes that a 304 when nothing changed.
		hdr.Set("Cache-Control", "no-cache")
	}
	body, etag := a.data, `"`+a.version+`"`
	if acceptsGzip(r) {
		if gz := a.gzip(); gz != nil {
			// The compressed bytes are another representation, so they
			// get their own ETag.
			body, etag = gz, `"`+a.version+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// gzip compresses the asset on first use rather than at startup, so a
// server that never serves the playground never pays for it.
func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		if len(a.data) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.data)
		zw.Close()
		if buf.Len() < len(a.data) {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

// acceptsGzip reports whether the request's Accept-Encoding admits gzip,
// honouring an explicit q=0 refusal.
func acceptsGzip(r *http.Request) bool {
	for _, field := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(field, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// Package static serves files embedded in the binary: the dashboard's and
// the playground's. Each set of files is served under one Policy (its
// headers, whether versioned URLs may be cached for good, whether to gzip);
// every response carries an ETag, so a revalidation is a 304 when nothing
// changed.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Policy says how a set of files is served.
type Policy struct {
	// Header is set on every response (X-Content-Type-Options: nosniff is
	// set always).
	Header map[string]string
	// Versioned lets a request whose ?v= names the file's Version be cached
	// for good; any other request must revalidate.
	Versioned bool
	// Gzip sends a gzip representation, with its own ETag, to a client that
	// accepts it, where compressing pays.
	Gzip bool
}

// Immutable is the Cache-Control of a versioned URL: a year, the longest
// lifetime caches are expected to honour.
const Immutable = "public, max-age=31536000, immutable"

// File is one embedded file, ready to serve.
type File struct {
	// Name is the file's path below the loaded folder.
	Name string
	Data []byte
	// ContentType is empty for a kind of file not listed when loading: such
	// a file is never served.
	ContentType string
	// Version is a prefix of the content's SHA-256.
	Version string

	gzipOnce sync.Once
	gzipped  []byte // nil when compressing would not pay
}

// Files is a set of embedded files served under one Policy.
type Files struct {
	policy Policy
	byName map[string]*File
}

// Load reads every file below dir in fsys, keyed by its path below dir
// ("." for all of fsys). types maps an extension (".js") to its
// Content-Type.
func Load(fsys fs.FS, dir string, types map[string]string, p Policy) (*Files, error) {
	files := &Files{policy: p, byName: map[string]*File{}}
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if dir != "." {
			name = strings.TrimPrefix(name, dir+"/")
		}
		files.byName[name] = &File{
			Name:        name,
			Data:        data,
			ContentType: types[path.Ext(name)],
			Version:     hex.EncodeToString(sum[:8]),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// Lookup returns the named file, or nil.
func (s *Files) Lookup(name string) *File { return s.byName[name] }

// Names lists the files' names in order.
func (s *Files) Names() []string {
	names := make([]string, 0, len(s.byName))
	for name := range s.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Serve answers with the named file; 404 when there is none, or it is of
// a kind with no content type.
func (s *Files) Serve(w http.ResponseWriter, r *http.Request, name string) {
	f := s.byName[name]
	if f == nil || f.ContentType == "" {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	for k, v := range s.policy.Header {
		hdr.Set(k, v)
	}
	hdr.Set("Content-Type", f.ContentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if s.policy.Versioned && r.URL.Query().Get("v") == f.Version {
		hdr.Set("Cache-Control", Immutable)
	} else {
		// It may be cached, but must be revalidated: the ETag makes that a
		// 304 when nothing changed.
		hdr.Set("Cache-Control", "no-cache")
	}
	body, etag := f.Data, `"`+f.Version+`"`
	if s.policy.Gzip {
		hdr.Set("Vary", "Accept-Encoding")
		if AcceptsGzip(r) {
			if gz := f.gzip(); gz != nil {
				// The compressed bytes are another representation, so they
				// get their own ETag.
				body, etag = gz, `"`+f.Version+`-gz"`
				hdr.Set("Content-Encoding", "gzip")
			}
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, f.Name, time.Time{}, bytes.NewReader(body))
}

// gzip compresses the file on first use rather than at startup, so a
// server that never serves it never pays for it.
func (f *File) gzip() []byte {
	f.gzipOnce.Do(func() {
		if len(f.Data) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(f.Data)
		zw.Close()
		if buf.Len() < len(f.Data) {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}

// AcceptsGzip reports whether the request's Accept-Encoding admits gzip,
// honouring an explicit q=0 refusal.
func AcceptsGzip(r *http.Request) bool {
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

// GetOrHead answers any method but GET and HEAD with 405 and reports
// whether the request may go on.
func GetOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// Page serves a one-page app from fsys: its index.html at each of the
// paths pages, and the files below assets/ under assetPrefix (which ends
// in "/"); any other path is 404, any method but GET and HEAD 405. name
// names the app in the panic of a build whose embedded files are broken.
func Page(name string, fsys fs.FS, types map[string]string, p Policy, assetPrefix string, pages ...string) http.Handler {
	f, err := Load(fsys, ".", types, p)
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic(name + ": " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !GetOrHead(w, r) {
			return
		}
		for _, page := range pages {
			if r.URL.Path == page {
				f.Serve(w, r, "index.html")
				return
			}
		}
		asset, ok := strings.CutPrefix(r.URL.Path, assetPrefix)
		if !ok || asset == "" {
			http.NotFound(w, r)
			return
		}
		f.Serve(w, r, "assets/"+asset)
	})
}

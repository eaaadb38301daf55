package playground

import (
	"embed"

	"github.com/apiws/apiws/server/static"
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

// policy: the page appends each asset's version to its URL, so a URL names
// one content and can be cached forever; the vendored bundles are large, so
// they go gzipped to clients that take it.
var policy = static.Policy{Versioned: true, Gzip: true}

// immutable is how long a versioned asset URL may be cached.
const immutable = static.Immutable

// loadAssets reads every file under assets/, keyed by its path below it.
func loadAssets() *static.Files {
	f, err := static.Load(files, "assets", contentTypes, policy)
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("playground: " + err.Error())
	}
	return f
}

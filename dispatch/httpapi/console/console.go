// Package console holds the operator's console: the web page the daemon serves at /console/ (see docs/console.md).
//
// The page is built from web/ by `make console` (npm ci from the committed lock file, then esbuild) into dist/,
// which is not committed: the bundle holds third-party code (Leaflet). dist/ always holds placeholder.html, so a
// clean clone builds and serves a page that says how to build the console.
package console

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Files returns the console's files (index.html at the root once built; placeholder.html always).
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// Built reports whether the console was built (dist/index.html exists) rather than only its placeholder.
func Built() bool {
	_, err := fs.Stat(Files(), "index.html")
	return err == nil
}

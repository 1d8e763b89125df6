package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-polyline"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/httpapi/console"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// RoadMap is what the console's base layer draws: the road map's extent and its roads in a box (roads.Network).
// When Config.Travel is one, GET /v1/console/roads serves its tiles.
type RoadMap interface {
	Extent() orb.Bound
	Shapes(b orb.Bound, tolerance float64, fn func(orb.LineString))
}

// consolePage is one file of the console, read once.
type consolePage struct {
	data  []byte
	etag  string
	ctype string
}

// consolePages reads the console's files: the built page when there is one, else the placeholder as the index.
func consolePages(files fs.FS) map[string]*consolePage {
	pages := map[string]*consolePage{}
	fs.WalkDir(files, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		pages[name] = &consolePage{data: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if _, ok := pages["index.html"]; !ok {
		pages["index.html"] = pages["placeholder.html"]
	}
	return pages
}

// consoleCSP keeps every request of the page on the daemon's host: no CDN, font, tile server or beacon can be
// reached even by a library that tries.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// consoleRoutes registers the console's page (public: it holds no data; every read it makes needs a token) and
// its reads.
func (s *Server) consoleRoutes() {
	s.pages = consolePages(console.Files())
	page := http.HandlerFunc(s.consoleFile)
	s.mux.Handle("GET /console/", s.logged("console", s.cfg.Instrument("console", page)))
	s.mux.Handle("GET /console", s.logged("console", s.cfg.Instrument("console", http.RedirectHandler("/console/", http.StatusMovedPermanently))))

	s.handle("GET /v1/console/snapshot", s.consoleSnapshot, admin, operator)
	s.handle("GET /v1/console/stream", s.consoleStream, admin, operator)
	s.handle("GET /v1/console/roads/{z}/{x}/{y}", s.consoleRoads, admin, operator)
}

// consoleFile serves a file of the console. Every answer is revalidated (no-cache with an ETag of its content), so
// a new build is picked up at once and an unchanged one costs a 304.
func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/console/")
	if name == "" {
		name = "index.html"
	}
	p, ok := s.pages[name]
	if !ok {
		s.writeError(w, r, apiError(dispatch.ENotFound, "", "no such file of the console"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", p.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", p.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", consoleCSP)
	if r.Header.Get("If-None-Match") == p.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(p.data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p.data)
	}
}

// Road tiles: the base layer is drawn by the page from the roads of each 256-pixel web-Mercator tile, simplified to
// a pixel. Tiles are kept once drawn (the map never changes while the daemon runs).
const (
	minRoadZoom  = 11
	maxRoadZoom  = 19
	maxRoadTiles = 4096
)

type roadTiles struct {
	mu   sync.Mutex
	kept map[[3]int][]byte
}

func (t *roadTiles) get(k [3]int) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.kept[k]
	return b, ok
}

func (t *roadTiles) put(k [3]int, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kept == nil || len(t.kept) >= maxRoadTiles {
		t.kept = map[[3]int][]byte{}
	}
	t.kept[k] = b
}

// tileBound is the lon/lat box of web-Mercator tile x, y at zoom z.
func tileBound(z, x, y int) orb.Bound {
	n := math.Exp2(float64(z))
	lon := func(x int) float64 { return float64(x)/n*360 - 180 }
	lat := func(y int) float64 { return math.Atan(math.Sinh(math.Pi*(1-2*float64(y)/n))) * 180 / math.Pi }
	return orb.Bound{Min: orb.Point{lon(x), lat(y + 1)}, Max: orb.Point{lon(x + 1), lat(y)}}
}

// consoleRoads answers a tile of the base layer: {"lines": [encoded polyline, …]} (precision 5, latitude first).
// Zooms below minRoadZoom answer no lines (a whole region is too much to draw; the page asks no such tile).
func (s *Server) consoleRoads(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if s.roadMap == nil {
		return apiError(dispatch.EUnavailable, "", "no road map is loaded (dispatchd --map)")
	}
	var k [3]int
	for i, name := range []string{"z", "x", "y"} {
		v, err := strconv.Atoi(r.PathValue(name))
		if err != nil || v < 0 {
			return apiError(dispatch.EInvalid, name, "%s must be a whole number of at least 0", name)
		}
		k[i] = v
	}
	z, x, y := k[0], k[1], k[2]
	if z > maxRoadZoom {
		return apiError(dispatch.EInvalid, "z", "z must be at most %d", maxRoadZoom)
	}
	if n := 1 << z; x >= n || y >= n {
		return apiError(dispatch.EInvalid, "x", "x and y must be below 2^z (%d)", n)
	}
	b, ok := s.tiles.get(k)
	if !ok {
		b = []byte(`{"lines":[]}`)
		if z >= minRoadZoom {
			box := tileBound(z, x, y)
			if box.Intersects(s.roadMap.Extent()) {
				b = drawTile(s.roadMap, box, z)
			}
		}
		s.tiles.put(k, b)
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	writeRaw(w, http.StatusOK, b)
	return nil
}

// drawTile writes the roads of a tile's box as encoded polylines, simplified to about a pixel at zoom z.
func drawTile(m RoadMap, box orb.Bound, z int) []byte {
	lat := (box.Min[1] + box.Max[1]) / 2
	pixel := 40_075_016.7 * math.Cos(lat*math.Pi/180) / (256 * math.Exp2(float64(z)))
	out := []byte(`{"lines":[`)
	first := true
	coords := [][]float64{}
	m.Shapes(box, pixel, func(l orb.LineString) {
		coords = coords[:0]
		for _, p := range l {
			coords = append(coords, []float64{p[1], p[0]})
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = strconv.AppendQuote(out, string(polyline.EncodeCoords(coords)))
	})
	return append(out, "]}"...)
}

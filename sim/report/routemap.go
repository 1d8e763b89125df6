package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Map is the day on a map: the stores and drop-offs, and the way the busiest couriers rode.
type Map struct {
	// Caption says what the tracks follow (the roads of a map, or straight lines).
	Caption string
	// Geographic: points are lon/lat degrees, drawn with longitude scaled by the cosine of the latitude; else
	// planar metres.
	Geographic bool
	Stores     [][2]float64
	Dropoffs   [][2]float64
	Tracks     []Track
}

// Track is one courier's day: the legs it rode, each a polyline.
type Track struct {
	Name string
	Legs [][][2]float64
}

const (
	mapWidth   = 900
	mapMaxH    = 640
	mapPadding = 20
	// mapMaxDrops bounds the drop-offs drawn (evenly sampled), so that a big day keeps a small page.
	mapMaxDrops = 4000
)

// mapFigure draws m as an SVG in the page's style: drop-offs as grey dots, stores as dark squares, each track in a
// palette colour, with a legend and a scale bar.
func mapFigure(m *Map) figure {
	f := figure{Title: "Routes of the busiest couriers", Caption: m.Caption}
	// The extent of everything drawn, in projected units (metres for planar data, degrees × cos(lat) otherwise).
	kx := 1.0
	if m.Geographic {
		var lat, n float64
		for _, p := range m.Stores {
			lat, n = lat+p[1], n+1
		}
		if n > 0 {
			kx = math.Cos(lat / n * math.Pi / 180)
		}
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	grow := func(p [2]float64) {
		if finite(p[0]) && finite(p[1]) {
			minX, maxX = math.Min(minX, p[0]*kx), math.Max(maxX, p[0]*kx)
			minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
		}
	}
	for _, p := range m.Stores {
		grow(p)
	}
	for _, p := range m.Dropoffs {
		grow(p)
	}
	for _, t := range m.Tracks {
		for _, l := range t.Legs {
			for _, p := range l {
				grow(p)
			}
		}
	}
	if !(maxX > minX) || !(maxY > minY) {
		f.SVG = template.HTML(`<p>Nothing to draw.</p>`)
		return f
	}
	scale := math.Min(float64(mapWidth-2*mapPadding)/(maxX-minX), float64(mapMaxH-2*mapPadding)/(maxY-minY))
	height := math.Ceil((maxY-minY)*scale) + 2*mapPadding + 40
	xy := func(p [2]float64) (float64, float64) {
		return mapPadding + (p[0]*kx-minX)*scale, mapPadding + (maxY-p[1])*scale
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %.0f" role="img" aria-label="%s"><rect width="100%%" height="100%%" fill="#fff"/>`,
		mapWidth, height, esc(f.Title))
	step := max(1, (len(m.Dropoffs)+mapMaxDrops-1)/mapMaxDrops)
	b.WriteString(`<g fill="#999" fill-opacity="0.5">`)
	for i := 0; i < len(m.Dropoffs); i += step {
		x, y := xy(m.Dropoffs[i])
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.3"/>`, x, y)
	}
	b.WriteString(`</g><g fill="none" stroke-width="1.6" stroke-linejoin="round" stroke-opacity="0.85">`)
	for i, t := range m.Tracks {
		fmt.Fprintf(&b, `<g stroke="%s">`, palette[i%len(palette)])
		for _, l := range t.Legs {
			b.WriteString(`<polyline points="`)
			for k, p := range l {
				x, y := xy(p)
				if k > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", x, y)
			}
			b.WriteString(`"/>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g><g fill="#222">`)
	for _, p := range m.Stores {
		x, y := xy(p)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="5" height="5"/>`, x-2.5, y-2.5)
	}
	b.WriteString(`</g>`)
	// Legend along the bottom, then a scale bar of a round number of metres.
	ly := height - 14
	lx := float64(mapPadding)
	for i, t := range m.Tracks {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="%s"/><text x="%.0f" y="%.0f" font-size="11">%s</text>`,
			lx, ly-4, palette[i%len(palette)], lx+18, ly, esc(t.Name))
		lx += 30 + 7*float64(len(t.Name))
	}
	metresPerUnit := 1.0
	if m.Geographic {
		metresPerUnit = 111_320
	}
	bar := niceMetres(float64(mapWidth) / 5 / scale * metresPerUnit)
	px := bar / metresPerUnit * scale
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#222" stroke-width="2"/><text x="%.1f" y="%.0f" font-size="11" text-anchor="end">%s</text>`,
		float64(mapWidth-mapPadding)-px, ly, float64(mapWidth-mapPadding), ly, float64(mapWidth-mapPadding), ly-6, esc(metresLabel(bar)))
	b.WriteString(`</svg>`)
	f.SVG = template.HTML(b.String()) // built from esc-escaped text and formatted numbers only
	return f
}

// niceMetres rounds a length down to 1, 2 or 5 × 10^k metres.
func niceMetres(m float64) float64 {
	if !(m > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, k := range []float64{5, 2, 1} {
		if k*p <= m {
			return k * p
		}
	}
	return p
}

func metresLabel(m float64) string {
	if m >= 1000 {
		return fmt.Sprintf("%g km", m/1000)
	}
	return fmt.Sprintf("%g m", m)
}

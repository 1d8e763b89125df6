package report

// This file is the small SVG chart helper every figure is drawn with: number formatting, "nice" ticks, linear
// scales, and a chart (title, legend, plot areas) whose panels draw axes, bars and lines in data coordinates.
// All text reaching the SVG goes through esc; all numbers through coord or a fixed-precision formatter.

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// palette is the Okabe–Ito colour-blind-safe palette, in the order policies get their colours. Yellow, hard
// to see on white, comes last.
var palette = [...]string{"#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"}

// policyColour is the colour of the i-th policy.
func policyColour(i int) string { return palette[i%len(palette)] }

const (
	chartWidth = 960.0
	// glyphWidth is the estimated mean advance of a glyph at font-size 12, used to lay out legends and to
	// shorten labels; the SVG fonts are the system's, so this is an estimate.
	glyphWidth = 6.8
	inkColour  = "#222222"
	axisColour = "#555555"
	gridColour = "#e4e4e4"
	keyColour  = "#666666" // legend marks that stand for a line style rather than a policy
	fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
)

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// coord formats a pixel coordinate with one decimal. Coordinates are clamped far outside any viewBox so that
// extreme data cannot produce exponents or infinities in the SVG.
func coord(v float64) string {
	if math.IsNaN(v) {
		v = 0
	}
	v = math.Max(-1e6, math.Min(1e6, v))
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	if s == "-0.0" {
		s = "0.0"
	}
	return s
}

// sanitize makes s safe to put in XML text: invalid UTF-8 and control characters (other than tab and newline)
// become U+FFFD. It does not escape markup; esc does both.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return ' '
		}
		if unicode.IsControl(r) || r == '\uFFFE' || r == '\uFFFF' {
			return '\uFFFD'
		}
		return r
	}, s)
}

// esc sanitizes s and escapes it for SVG text and attribute values (valid in both HTML and XML).
func esc(s string) string { return template.HTMLEscapeString(sanitize(s)) }

// shorten cuts s to at most n runes, ending it with an ellipsis when cut.
func shorten(s string, n int) string {
	if n < 1 {
		n = 1
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// textWidth estimates the rendered width of s at font-size 12.
func textWidth(s string) float64 { return float64(len([]rune(s))) * glyphWidth }

// formatNumber prints a value for people: "n/a" when not finite, integers without decimals, two decimals below
// 100 and one above, and four significant digits in exponent form beyond ten million.
func formatNumber(v float64) string {
	var s string
	switch a := math.Abs(v); {
	case !finite(v):
		return "n/a"
	case a >= 1e7:
		s = strconv.FormatFloat(v, 'g', 4, 64)
	case v == math.Trunc(v):
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// ticks are the tick values of an axis and the decimals needed to print them.
type ticks struct {
	Values   []float64
	Step     float64
	Decimals int
}

// Label prints a tick value with the axis' decimals (exponent form for huge values).
func (t ticks) Label(v float64) string {
	var s string
	if math.Abs(v) >= 1e7 {
		s = strconv.FormatFloat(v, 'g', 4, 64)
	} else {
		s = strconv.FormatFloat(v, 'f', t.Decimals, 64)
	}
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// lo and hi are the first and last tick: the axis domain.
func (t ticks) lo() float64 { return t.Values[0] }
func (t ticks) hi() float64 { return t.Values[len(t.Values)-1] }

// niceStep is the 1, 2 or 5 × 10^k nearest to raw (raw > 0).
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f < 1.5:
		return p
	case f < 3:
		return 2 * p
	case f < 7:
		return 5 * p
	default:
		return 10 * p
	}
}

// niceTicks returns about want ticks (at least two) at a 1/2/5×10^k step whose first tick is <= lo and whose
// last is >= hi. An empty range is widened around its value ([0, 1] for zero); non-finite bounds give [0, 1].
func niceTicks(lo, hi float64, want int) ticks {
	if !finite(lo) || !finite(hi) {
		lo, hi = 0, 1
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	if hi-lo <= math.Abs(lo)*1e-9 {
		if lo == 0 {
			hi = 1
		} else {
			d := math.Abs(lo) * 0.1
			lo, hi = lo-d, hi+d
		}
	}
	want = max(want, 1)
	span := hi - lo
	if !finite(span) { // both bounds near ±MaxFloat64
		return ticks{Values: []float64{lo, hi}, Step: math.Inf(1)}
	}
	step := niceStep(span / float64(want))
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	n := int(math.Round((end - start) / step))
	if !finite(start) || !finite(end) || n < 1 || n > 4*want+4 {
		// Precision is exhausted (tiny span at a huge magnitude): show the bounds themselves.
		return ticks{Values: []float64{lo, hi}, Step: span, Decimals: decimalsFor(span)}
	}
	vs := make([]float64, 0, n+1)
	for i := 0; i <= n; i++ {
		// Multiply rather than accumulate, then round to the step's precision, so 0.1·3 prints as 0.3.
		v := start + float64(i)*step
		if d := decimalsFor(step); d <= 15 {
			v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'f', d, 64), 64)
		}
		vs = append(vs, v)
	}
	return ticks{Values: vs, Step: step, Decimals: decimalsFor(step)}
}

// decimalsFor is the number of decimals needed to print multiples of step exactly (for a 1/2/5 step).
func decimalsFor(step float64) int {
	if !(step > 0) || !finite(step) {
		return 0
	}
	d := -int(math.Floor(math.Log10(step) + 1e-9))
	return max(0, min(d, 20))
}

// countTicks is niceTicks(0, hi) for counts: the step is at least 1.
func countTicks(hi float64, want int) ticks {
	t := niceTicks(0, math.Max(hi, 1), want)
	if t.Step < 1 {
		n := int(math.Ceil(math.Max(hi, 1)))
		t = ticks{Step: 1}
		for i := 0; i <= n; i++ {
			t.Values = append(t.Values, float64(i))
		}
	}
	return t
}

// clockSteps are the candidate tick steps of a time-of-day axis, in minutes.
var clockSteps = [...]float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440}

// clockTicks returns ticks for a time axis in minutes of the day: at most about want, at a step from
// clockSteps (whole days beyond), starting and ending on a step. An empty range is widened by half an hour.
func clockTicks(lo, hi float64, want int) ticks {
	if !finite(lo) || !finite(hi) {
		lo, hi = 0, 1440
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	if hi-lo < 1 {
		lo, hi = lo-30, hi+30
	}
	want = max(want, 1)
	step := 1440 * math.Ceil((hi-lo)/1440/float64(want))
	for _, s := range clockSteps {
		if (hi-lo)/s <= float64(want) {
			step = s
			break
		}
	}
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	n := int(math.Round((end - start) / step))
	if !finite(start) || !finite(end) || n < 1 || n > 4*want+4 {
		return ticks{Values: []float64{lo, hi}, Step: hi - lo}
	}
	vs := make([]float64, 0, n+1)
	for i := 0; i <= n; i++ {
		vs = append(vs, start+float64(i)*step)
	}
	return ticks{Values: vs, Step: step}
}

// clock prints minutes from the start of the day as hh:mm; a time on a later day gets the days after the first
// ("06:30+1" is 06:30 the next morning, for a night that runs past midnight), and 24:00 ends the first day.
func clock(minute float64) string {
	if !finite(minute) || math.Abs(minute) > 1e12 {
		return formatNumber(minute)
	}
	m := int64(math.Round(minute))
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	if m <= 24*60 || sign != "" {
		return fmt.Sprintf("%s%02d:%02d", sign, m/60, m%60)
	}
	day, rest := m/(24*60), m%(24*60)
	if rest == 0 { // the end of a later day reads as its 24:00
		day, rest = day-1, 24*60
	}
	return fmt.Sprintf("%02d:%02d+%d", rest/60, rest%60, day)
}

// percentLabel prints a share in [0, 1] as a whole percentage.
func percentLabel(v float64) string { return strconv.FormatFloat(v*100, 'f', 0, 64) + " %" }

// scale maps the domain [d0, d1] linearly onto the range [r0, r1] (pixels).
type scale struct{ d0, d1, r0, r1 float64 }

func (s scale) at(v float64) float64 {
	if s.d1 == s.d0 {
		return (s.r0 + s.r1) / 2
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// contains reports whether v lies in the domain (with a little slack for rounding).
func (s scale) contains(v float64) bool {
	lo, hi := math.Min(s.d0, s.d1), math.Max(s.d0, s.d1)
	eps := (hi - lo) * 1e-9
	return v >= lo-eps && v <= hi+eps
}

// textStyle is how a text element is drawn.
type textStyle struct {
	size   float64
	anchor string // start, middle or end
	bold   bool
	fill   string
	rotate bool // -90°, around the anchor point (vertical axis titles)
}

var (
	tickText   = textStyle{size: 11, anchor: "middle", fill: axisColour}
	axisTitle  = textStyle{size: 12, anchor: "middle", fill: inkColour}
	chartTitle = textStyle{size: 15, anchor: "start", bold: true, fill: inkColour}
	legendText = textStyle{size: 12, anchor: "start", fill: inkColour}
	noteText   = textStyle{size: 11, anchor: "start", fill: axisColour}
)

// markKind is how a legend entry is drawn.
type markKind int

const (
	markBox    markKind = iota // a filled square: bars
	markLine                   // a solid line
	markDashed                 // a dashed line
	markDotted                 // a dotted line
)

// legendItem is one entry of a chart legend.
type legendItem struct {
	label  string
	colour string
	mark   markKind
}

// box is a rectangle in pixels: left, top, right, bottom.
type box struct{ l, t, r, b float64 }

// margins is the space around a chart's plot area left for tick labels and axis titles.
type margins struct{ left, right, bottom float64 }

var (
	plainMargins = margins{left: 70, right: 24, bottom: 50}
	twoAxes      = margins{left: 70, right: 70, bottom: 50}
)

// chart is one SVG figure under construction: a title, a legend and the plot area below them.
type chart struct {
	b    strings.Builder
	w, h float64
	area box
}

// newChart opens an SVG of w×h pixels with title and legend at the top; area is what is left inside m.
func newChart(title string, w, h float64, legend []legendItem, m margins) *chart {
	c := &chart{w: w, h: h}
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s" font-family="%s">`,
		coord(w), coord(h), coord(w), coord(h), esc(title), esc(fontFamily))
	c.printf(`<title>%s</title>`, esc(title))
	c.printf(`<rect x="0" y="0" width="%s" height="%s" fill="#ffffff"/>`, coord(w), coord(h))
	c.text(12, 22, chartTitle, title)
	top := 34 + c.legend(12, 36, w-24, legend) + 14
	c.area = box{l: m.left, t: top, r: w - m.right, b: h - m.bottom}
	if c.area.b-c.area.t < 40 { // an absurdly long legend: keep a minimal plot rather than an inverted one
		c.area.b = c.area.t + 40
	}
	return c
}

func (c *chart) printf(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

// svg closes the document and returns it for the page template. Every string in it was escaped by esc.
func (c *chart) svg() template.HTML {
	c.b.WriteString("</svg>")
	return template.HTML(c.b.String()) // built from esc-escaped text and formatted numbers only
}

// text draws txt (escaped here) at x, y.
func (c *chart) text(x, y float64, st textStyle, txt string) {
	attrs := fmt.Sprintf(`x="%s" y="%s" font-size="%s" text-anchor="%s" fill="%s"`,
		coord(x), coord(y), coord(st.size), st.anchor, st.fill)
	if st.bold {
		attrs += ` font-weight="bold"`
	}
	if st.rotate {
		attrs += fmt.Sprintf(` transform="rotate(-90 %s %s)"`, coord(x), coord(y))
	}
	c.printf(`<text %s>%s</text>`, attrs, esc(txt))
}

// line draws a straight line in pixels; dash is a stroke-dasharray or "".
func (c *chart) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`,
		coord(x1), coord(y1), coord(x2), coord(y2), stroke, coord(width), dashAttr(dash))
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return ` stroke-dasharray="` + dash + `"`
}

// legend lays the items out left to right from (x, y), wrapping within width, and returns its height.
func (c *chart) legend(x, y, width float64, items []legendItem) float64 {
	if len(items) == 0 {
		return 0
	}
	const rowHeight = 20
	cx, cy := x, y
	for _, it := range items {
		label := shorten(it.label, 48)
		w := 28 + textWidth(label) + 18
		if cx > x && cx+w > x+width {
			cx, cy = x, cy+rowHeight
		}
		mid := cy + 8
		switch it.mark {
		case markBox:
			c.printf(`<rect x="%s" y="%s" width="14" height="12" rx="2" fill="%s"/>`, coord(cx+4), coord(mid-6), it.colour)
		case markLine:
			c.line(cx, mid, cx+22, mid, it.colour, 2.5, "")
		case markDashed:
			c.line(cx, mid, cx+22, mid, it.colour, 2.5, "6 4")
		case markDotted:
			c.line(cx, mid, cx+22, mid, it.colour, 2.5, "2 3")
		}
		c.text(cx+28, mid+4, legendText, label)
		cx += w
	}
	return cy + rowHeight - y
}

// panel is a plot area with its scales: it draws in data coordinates.
type panel struct {
	c *chart
	box
	x, y scale
}

// panel returns a plot area over bx with the x domain [x0, x1] and the y domain [y0, y1].
func (c *chart) panel(bx box, x0, x1, y0, y1 float64) *panel {
	return &panel{c: c, box: bx, x: scale{x0, x1, bx.l, bx.r}, y: scale{y0, y1, bx.b, bx.t}}
}

// yScale is another vertical scale over the same plot area (a second axis).
func (p *panel) yScale(y0, y1 float64) scale { return scale{y0, y1, p.b, p.t} }

// xAxis draws the bottom axis with tick marks and labels at the ticks inside the domain, and a title below.
func (p *panel) xAxis(ts []float64, label func(float64) string, title string) {
	p.c.line(p.l, p.b, p.r, p.b, axisColour, 1, "")
	for _, v := range ts {
		if !p.x.contains(v) {
			continue
		}
		x := p.x.at(v)
		p.c.line(x, p.b, x, p.b+5, axisColour, 1, "")
		p.c.text(x, p.b+18, tickText, label(v))
	}
	if title != "" {
		p.c.text((p.l+p.r)/2, p.b+38, axisTitle, title)
	}
}

// yAxis draws a vertical axis for sy on the left (or right) edge with labelled ticks and a rotated title;
// grid adds light horizontal lines across the plot at the ticks.
func (p *panel) yAxis(sy scale, right bool, ts []float64, label func(float64) string, title string, grid bool) {
	edge, dir, anchor := p.l, -1.0, "end"
	if right {
		edge, dir, anchor = p.r, 1.0, "start"
	}
	st := tickText
	st.anchor = anchor
	for _, v := range ts {
		if !sy.contains(v) {
			continue
		}
		y := sy.at(v)
		if grid {
			p.c.line(p.l, y, p.r, y, gridColour, 1, "")
		}
		p.c.line(edge, y, edge+dir*5, y, axisColour, 1, "")
		p.c.text(edge+dir*8, y+4, st, label(v))
	}
	p.c.line(edge, p.t, edge, p.b, axisColour, 1, "")
	if title != "" {
		at := axisTitle
		at.rotate = true
		p.c.text(edge+dir*54, (p.t+p.b)/2, at, title)
	}
}

// bar fills the rectangle between x0 and x1 and between y0 and y1, in data coordinates (sy vertically).
func (p *panel) bar(sy scale, x0, x1, y0, y1 float64, fill string) {
	px0, px1 := p.x.at(x0), p.x.at(x1)
	py0, py1 := sy.at(y0), sy.at(y1)
	x, w := math.Min(px0, px1), math.Abs(px1-px0)
	y, h := math.Min(py0, py1), math.Abs(py1-py0)
	if !finite(x+w+y+h) || h <= 0 || w <= 0 {
		return
	}
	p.c.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, coord(x), coord(y), coord(w), coord(h), fill)
}

// point is a data point.
type point struct{ x, y float64 }

// polyline draws pts (data coordinates, y on sy) as a line. Non-finite points break it into pieces; a piece of
// a single point is drawn as a dot so that it stays visible.
func (p *panel) polyline(pts []point, sy scale, stroke string, width float64, dash string) {
	var seg []string
	flush := func() {
		switch len(seg) {
		case 0:
		case 1:
			xy := strings.SplitN(seg[0], ",", 2)
			p.c.printf(`<circle cx="%s" cy="%s" r="%s" fill="%s"/>`, xy[0], xy[1], coord(width+1), stroke)
		default:
			p.c.printf(`<polyline fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s points="%s"/>`,
				stroke, coord(width), dashAttr(dash), strings.Join(seg, " "))
		}
		seg = seg[:0]
	}
	for _, pt := range pts {
		if !finite(pt.x) || !finite(pt.y) {
			flush()
			continue
		}
		seg = append(seg, coord(p.x.at(pt.x))+","+coord(sy.at(pt.y)))
	}
	flush()
}

// vline draws a vertical line across the plot at data x, labelled at its top.
func (p *panel) vline(x float64, stroke, dash, label string) {
	if !finite(x) || !p.x.contains(x) {
		return
	}
	px := p.x.at(x)
	p.c.line(px, p.t, px, p.b, stroke, 1.5, dash)
	if label != "" {
		st := noteText
		st.fill = stroke
		if px > (p.l+p.r)/2 {
			st.anchor = "end"
			p.c.text(px-4, p.t+12, st, label)
		} else {
			p.c.text(px+4, p.t+12, st, label)
		}
	}
}

// noData writes msg in the middle of the plot area.
func (p *panel) noData(msg string) {
	st := axisTitle
	st.fill = axisColour
	p.c.text((p.l+p.r)/2, (p.t+p.b)/2, st, msg)
}

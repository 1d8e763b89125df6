package report

// This file builds the report's charts from Data with the helper in chart.go. Each builder returns a figure:
// the SVG plus the title and the one-line caption shown under it.

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
)

// figure is one chart of the page.
type figure struct {
	Title   string
	Caption string
	SVG     template.HTML
}

// finiteSorted returns the finite values of xs in increasing order (a new slice).
func finiteSorted(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if finite(x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// quantile is the nearest-rank q-quantile of a sorted, non-empty sample.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// mean is the mean of a non-empty sample.
func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// seriesPoints turns samples into points ordered by minute (stable, so equal minutes keep their order).
func seriesPoints(ss []Sample) []point {
	pts := make([]point, len(ss))
	for i, s := range ss {
		pts[i] = point{s.Minute, s.Value}
	}
	slices.SortStableFunc(pts, func(a, b point) int { return cmp.Compare(a.x, b.x) })
	return pts
}

// policyName is the name a chart shows for the i-th policy.
func policyName(p Policy, i int) string {
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Sprintf("policy %d", i+1)
	}
	return p.Name
}

// policyLegend is one legend entry per policy, drawn as mark, with an optional suffix per policy.
func policyLegend(pols []Policy, mark markKind, suffix func(i int) string) []legendItem {
	items := make([]legendItem, len(pols))
	for i, p := range pols {
		label := policyName(p, i)
		if suffix != nil {
			label += suffix(i)
		}
		items[i] = legendItem{label: label, colour: policyColour(i), mark: mark}
	}
	return items
}

// binWidths are the histogram bin widths in minutes, each easy to read off an axis.
var binWidths = []float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 240, 480, 1440}

// binning is the x axis of a histogram: nb bins of width from start; values past the last bin are counted in it.
type binning struct {
	start, width float64
	nb           int
	overflow     bool // some values are past the last bin's end
}

func (b binning) end() float64 { return b.start + float64(b.nb)*b.width }

// bin is the bin of x (values outside the axis go to the end bins).
func (b binning) bin(x float64) int {
	i := (x - b.start) / b.width
	switch {
	case !(i >= 0):
		return 0
	case i >= float64(b.nb):
		return b.nb - 1
	}
	return int(i)
}

// binsFor chooses a histogram's axis for sorted samples: it spans them (and mark, when finite), starts at zero
// when the values are durations that would not waste most of the axis so, counts a long tail (past four times the
// 99th percentile's distance from the smallest value) in its last bin, and takes the narrowest of binWidths that
// gives at most maxBins (48) bins, widened to at least minBins.
func binsFor(vals [][]float64, mark float64, fromZero bool) binning {
	const minBins, maxBins = 10, 48
	lo, hi, p99, total := math.Inf(1), math.Inf(-1), math.Inf(-1), 0
	for _, v := range vals {
		if len(v) > 0 {
			lo, hi = math.Min(lo, v[0]), math.Max(hi, v[len(v)-1])
			p99 = math.Max(p99, quantile(v, 0.99))
		}
		total += len(v)
	}
	if total == 0 {
		lo, hi, p99 = 0, 60, 60
	}
	top := hi
	if hi-lo > 4*(p99-lo) {
		top = p99 // a few very long values: they go to the last bin
	}
	if finite(mark) {
		lo, top = math.Min(lo, mark), math.Max(top, mark)
	}
	var b binning
	for _, w := range binWidths {
		b = binning{start: math.Floor(lo/w) * w, width: w}
		if fromZero && lo >= 0 && lo <= top/3 {
			b.start = 0
		}
		b.nb = int(math.Floor(top/w)) + 1 - int(math.Round(b.start/w))
		if b.nb <= maxBins {
			break
		}
	}
	if b.nb < minBins { // a narrow sample: widen the axis around it so bars stay bars
		pad := (minBins - b.nb) / 2
		if fromZero && b.start >= 0 {
			pad = min(pad, int(math.Round(b.start/b.width)))
		}
		b.start -= float64(pad) * b.width
		b.nb = minBins
	}
	b.nb = max(min(b.nb, 2*maxBins), 1)
	b.overflow = hi >= b.end()
	return b
}

// histogram draws grouped bars of each policy's share of values per bin (left axis) and their cumulative share
// (lines, right axis) on a new chart, with a dashed line at mark when it is finite.
func histogram(pols []Policy, vals [][]float64, b binning, title, xTitle string, mark float64, markLabel string) *chart {
	shares := make([][]float64, len(pols))
	maxShare := 0.0
	for i, v := range vals {
		shares[i] = make([]float64, b.nb)
		for _, x := range v {
			shares[i][b.bin(x)]++
		}
		for k := range shares[i] {
			if len(v) > 0 {
				shares[i][k] *= 100 / float64(len(v))
			}
			maxShare = math.Max(maxShare, shares[i][k])
		}
	}
	legend := policyLegend(pols, markBox, func(i int) string { return fmt.Sprintf(" (n=%d)", len(vals[i])) })
	legend = append(legend, legendItem{label: "cumulative share (right axis)", colour: keyColour, mark: markLine})
	if finite(mark) {
		legend = append(legend, legendItem{label: markLabel, colour: inkColour, mark: markDashed})
	}
	c := newChart(title, chartWidth, 420, legend, twoAxes)
	start, end := b.start, b.end()
	yt := niceTicks(0, math.Max(maxShare, 1), 5)
	xt := niceTicks(start, end, 12)
	p := c.panel(c.area, start, end, 0, yt.hi())
	y2 := p.yScale(0, 100)
	y2t := niceTicks(0, 100, 5)
	percent := func(t ticks) func(float64) string { return func(v float64) string { return t.Label(v) + " %" } }
	p.yAxis(p.y, false, yt.Values, percent(yt), "share of orders per bin", true)
	p.yAxis(y2, true, y2t.Values, percent(y2t), "cumulative share", false)
	p.xAxis(xt.Values, xt.Label, xTitle)

	const groupPad = 0.08 // of a bin, on each side of a group of bars
	barW := b.width * (1 - 2*groupPad) / float64(max(len(pols), 1))
	for k := 0; k < b.nb; k++ {
		x0 := start + float64(k)*b.width + b.width*groupPad
		for i := range pols {
			if s := shares[i][k]; s > 0 {
				p.bar(p.y, x0+float64(i)*barW, x0+float64(i+1)*barW, 0, s, policyColour(i))
			}
		}
	}
	for i, v := range slices.Backward(vals) {
		if len(v) == 0 {
			continue
		}
		pts := []point{{start, 0}}
		cum := 0.0
		for k := 0; k < b.nb; k++ {
			cum += shares[i][k]
			pts = append(pts, point{start + float64(k+1)*b.width, math.Min(cum, 100)})
		}
		p.polyline(pts, y2, policyColour(i), policyStroke(i)*0.8, "")
	}
	if finite(mark) {
		p.vline(mark, inkColour, "6 4", markLabel)
	}
	total := 0
	for _, v := range vals {
		total += len(v)
	}
	if total == 0 {
		p.noData("no delivered orders")
	}
	return c
}

// binCaption says how wide the bins are and what the last one holds.
func binCaption(b binning) string {
	s := fmt.Sprintf("%s-minute bins", formatNumber(b.width))
	if b.overflow {
		s += fmt.Sprintf("; the last bin also counts everything from %s minutes on", formatNumber(b.end()-b.width))
	}
	return s
}

// uniformPromise reports whether every delivered order of every policy was promised target minutes after its
// click (no Promise given counts as yes).
func uniformPromise(pols []Policy, target float64) bool {
	for _, p := range pols {
		for _, m := range p.Promise {
			if math.Abs(m-target) > 1e-6 {
				return false
			}
		}
	}
	return true
}

// clickToDoorFigure is the click-to-door histogram: per policy, the share of its delivered orders in each bin
// (grouped bars, left axis), the cumulative share (lines, right axis) and, when every order has that one promise,
// the promise (dashed). Bins are as wide as a readable axis needs (10 minutes over 400, say).
func clickToDoorFigure(pols []Policy, target float64) figure {
	vals := make([][]float64, len(pols))
	for i, p := range pols {
		vals[i] = finiteSorted(p.ClickToDoor)
	}
	mark := math.NaN()
	oneTarget := finite(target) && target > 0 && uniformPromise(pols, target)
	if oneTarget {
		mark = target
	}
	b := binsFor(vals, mark, true)
	title := "Click-to-door distribution"
	c := histogram(pols, vals, b, title, "click-to-door (minutes)", mark, "promise "+formatNumber(target)+" min")
	caption := "Share of each policy's delivered orders in each click-to-door bin (bars, left axis) and the share " +
		"delivered within that time (lines, right axis), " + binCaption(b)
	switch {
	case oneTarget:
		caption += fmt.Sprintf("; the dashed line is the %s-minute promise every order had", formatNumber(target))
	case finite(target) && target > 0:
		caption += fmt.Sprintf("; orders have promises of their own (the usual one is %s minutes, slots are longer), "+
			"so whether an order was on time is in the chart above, against its own promise", formatNumber(target))
	}
	return figure{Title: title, Caption: caption + ".", SVG: c.svg()}
}

// promiseFigure is delivery against each order's own promise: the histogram of the minutes between each delivered
// order's drop-off and its promise (negative: early), with the promise at zero. Its cumulative share at zero is
// the share delivered by the promise, which the caption gives as the summary table counts it (over all orders).
func promiseFigure(pols []Policy, target float64) figure {
	vals := make([][]float64, len(pols))
	for i, p := range pols {
		for k, ctd := range p.ClickToDoor {
			promise := target
			if k < len(p.Promise) {
				promise = p.Promise[k]
			}
			if d := ctd - promise; finite(d) {
				vals[i] = append(vals[i], d)
			}
		}
		slices.Sort(vals[i])
	}
	b := binsFor(vals, 0, false)
	title := "Delivered against each order's own promise"
	c := histogram(pols, vals, b, title, "drop-off minus the order's promise (minutes; below 0: early)", 0, "promise")
	caption := "Minutes from each delivered order's promise to its drop-off, slot promises included (bars, left axis), " +
		"and the share delivered by then (lines, right axis), " + binCaption(b)
	var within []string
	for i, v := range vals {
		if len(v) == 0 {
			continue
		}
		n, _ := slices.BinarySearch(v, math.Nextafter(0, math.Inf(1)))
		all := max(pols[i].Orders, len(v))
		within = append(within, fmt.Sprintf("%s %.1f %% of all orders (%.1f %% of those delivered)",
			policyName(pols[i], i), 100*float64(n)/float64(all), 100*float64(n)/float64(len(v))))
	}
	if len(within) > 0 {
		caption += "; delivered by the promise: " + strings.Join(within, ", ")
	}
	return figure{Title: title, Caption: caption + ".", SVG: c.svg()}
}

// timeLine is one line of a time-of-day chart.
type timeLine struct {
	pts    []point
	colour string
	dash   string
	policy int // index of the policy the line belongs to
}

// policyStroke is the width of the lines of the i-th policy. Later policies get wider lines and are drawn
// first, so that where two policies' lines coincide (the same shift plan, say) both stay visible: a thin line
// inside a wider one of another colour.
func policyStroke(i int) float64 { return 2 + 1.5*float64(min(i, 3)) }

// timeMark is a labelled vertical line of a time-of-day chart.
type timeMark struct {
	minute float64
	label  string
}

// timeChart draws lines over a clock-time x axis (or, elapsed, minutes since the start of the day) and a value y
// axis that includes zero, and the marks.
func timeChart(title, yTitle, empty string, elapsed bool, lines []timeLine, legend []legendItem, marks ...timeMark) template.HTML {
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	for _, l := range lines {
		for _, pt := range l.pts {
			if finite(pt.x) && finite(pt.y) {
				xlo, xhi = math.Min(xlo, pt.x), math.Max(xhi, pt.x)
				ylo, yhi = math.Min(ylo, pt.y), math.Max(yhi, pt.y)
			}
		}
	}
	none := xlo > xhi
	if none {
		xlo, xhi, ylo, yhi = 0, 1440, 0, 1
	}
	c := newChart(title, chartWidth, 380, legend, plainMargins)
	xt, xLabel, xTitle := clockTicks(xlo, xhi, 12), clock, "time of day (hh:mm)"
	if elapsed {
		xt = niceTicks(xlo, xhi, 12)
		xLabel, xTitle = xt.Label, "minutes since the start of the day"
	}
	yt := niceTicks(ylo, yhi, 5)
	p := c.panel(c.area, xt.lo(), xt.hi(), yt.lo(), yt.hi())
	p.yAxis(p.y, false, yt.Values, yt.Label, yTitle, true)
	p.xAxis(xt.Values, xLabel, xTitle)
	for _, l := range slices.Backward(lines) {
		p.polyline(l.pts, p.y, l.colour, policyStroke(l.policy), l.dash)
	}
	for _, m := range marks {
		p.vline(m.minute, inkColour, "6 4", m.label)
	}
	if none {
		p.noData(empty)
	}
	return c.svg()
}

// waitingFigure is the number of orders placed but not yet picked up over the day, one line per policy.
func waitingFigure(pols []Policy, elapsed bool) figure {
	lines := make([]timeLine, len(pols))
	for i, p := range pols {
		lines[i] = timeLine{pts: seriesPoints(p.Waiting), colour: policyColour(i), policy: i}
	}
	title := "Orders waiting over the day"
	return figure{
		Title:   title,
		Caption: "Orders placed but not yet picked up by a courier, sampled over the day, one line per policy; a lower line means orders leave the queue sooner.",
		SVG:     timeChart(title, "orders waiting", "no samples", elapsed, lines, policyLegend(pols, markLine, nil)),
	}
}

// couriersFigure is busy (solid) and online (dashed) couriers over the day, per policy.
func couriersFigure(pols []Policy, elapsed bool) figure {
	var lines []timeLine
	for i, p := range pols {
		lines = append(lines,
			timeLine{pts: seriesPoints(p.Online), colour: policyColour(i), dash: "6 4", policy: i},
			timeLine{pts: seriesPoints(p.Busy), colour: policyColour(i), policy: i})
	}
	legend := policyLegend(pols, markLine, nil)
	legend = append(legend,
		legendItem{label: "busy (with a route)", colour: keyColour, mark: markLine},
		legendItem{label: "online", colour: keyColour, mark: markDashed})
	title := "Busy and online couriers over the day"
	return figure{
		Title:   title,
		Caption: "Couriers with a route (solid) and couriers online (dashed), per policy; the gap between a policy's two lines is its idle capacity; where policies coincide, the main one is the thin line on top.",
		SVG:     timeChart(title, "couriers", "no samples", elapsed, lines, legend),
	}
}

// utilisationFigure is the histogram of the couriers' utilisation in 10 % bins, grouped by policy.
func utilisationFigure(pols []Policy) figure {
	const bins = 10
	counts := make([][bins]float64, len(pols))
	ns := make([]int, len(pols))
	means := make([]float64, len(pols))
	maxCount := 0.0
	for i, p := range pols {
		v := finiteSorted(p.Utilisation)
		ns[i] = len(v)
		for _, u := range v {
			b := int(math.Max(0, math.Min(u, 1)) * bins) // out-of-range shares count in the end bins
			b = min(b, bins-1)
			counts[i][b]++
			maxCount = math.Max(maxCount, counts[i][b])
		}
		if len(v) > 0 {
			means[i] = mean(v)
		}
	}
	legend := policyLegend(pols, markBox, func(i int) string {
		if ns[i] == 0 {
			return " (no couriers)"
		}
		return fmt.Sprintf(" (n=%d, mean %.1f %%)", ns[i], 100*means[i])
	})
	title := "Courier utilisation"
	c := newChart(title, chartWidth, 360, legend, plainMargins)
	yt := countTicks(maxCount, 5)
	xt := niceTicks(0, 1, bins)
	p := c.panel(c.area, 0, 1, 0, yt.hi())
	p.yAxis(p.y, false, yt.Values, yt.Label, "couriers", true)
	p.xAxis(xt.Values, percentLabel, "utilisation (share of online time busy)")
	const groupPad = 0.08
	barW := (1 - 2*groupPad) / bins / float64(max(len(pols), 1))
	for b := 0; b < bins; b++ {
		x0 := (float64(b) + groupPad) / bins
		for i := range pols {
			if n := counts[i][b]; n > 0 {
				p.bar(p.y, x0+float64(i)*barW, x0+float64(i+1)*barW, 0, n, policyColour(i))
			}
		}
	}
	if maxCount == 0 {
		p.noData("no utilisation figures")
	}
	return figure{
		Title:   title,
		Caption: "Number of couriers by utilisation (the share of their online time spent with a route) in 10 % bins, per policy; the last bin includes 100 %.",
		SVG:     c.svg(),
	}
}

// kpiFigure compares the policies on the first (up to) four KPIs: one small panel per KPI, with its own
// scale, one bar per policy labelled with its value.
func kpiFigure(pols []Policy, rows []kpiRow) figure {
	const (
		headline = 4
		height   = 340.0
	)
	rows = rows[:min(len(rows), headline)]
	title := "Policies side by side: headline KPIs"
	c := newChart(title, chartWidth, height, policyLegend(pols, markBox, nil), margins{left: 12, right: 12, bottom: 30})
	caption := fmt.Sprintf("The first %d KPIs of the summary table, one panel per KPI on its own scale, one bar per policy.", len(rows))
	if len(rows) == 0 {
		p := c.panel(c.area, 0, 1, 0, 1)
		p.noData("no KPIs")
		return figure{Title: title, Caption: "The first KPIs of the summary table (there are none).", SVG: c.svg()}
	}
	pw := (c.area.r - c.area.l) / float64(len(rows))
	np := max(len(pols), 1)
	for k, r := range rows {
		x0 := c.area.l + float64(k)*pw
		bx := box{l: x0 + 60, t: c.area.t + 40, r: x0 + pw - 14, b: c.area.b}
		head := r.name
		if r.unit != "" {
			head += " (" + r.unit + ")"
		}
		ht := axisTitle
		ht.bold = true
		c.text((bx.l+bx.r)/2, c.area.t+12, ht, shorten(head, int(pw/7.5)))
		if dir := direction(r.better); dir != "" {
			c.text((bx.l+bx.r)/2, c.area.t+28, textStyle{size: 11, anchor: "middle", fill: axisColour}, dir)
		}
		lo, hi, some := 0.0, 0.0, false
		for _, v := range r.values {
			if finite(v) {
				lo, hi, some = math.Min(lo, v), math.Max(hi, v), true
			}
		}
		yt := niceTicks(lo, hi, 4)
		p := c.panel(bx, 0, float64(np), yt.lo(), yt.hi())
		p.yAxis(p.y, false, yt.Values, yt.Label, "", true)
		slot := (bx.r - bx.l) / float64(np)
		for i := range pols {
			v := r.values[i]
			cx := p.x.at(float64(i) + 0.5)
			name := shorten(policyName(pols[i], i), int(slot/glyphWidth))
			c.text(cx, bx.b+16, tickText, name)
			if !finite(v) {
				c.text(cx, p.y.at(0)-6, tickText, "n/a")
				continue
			}
			p.bar(p.y, float64(i)+0.15, float64(i)+0.85, 0, v, policyColour(i))
			ly := p.y.at(v) - 5
			if v < 0 {
				ly = p.y.at(v) + 14
			}
			c.text(cx, ly, textStyle{size: 11, anchor: "middle", fill: inkColour, bold: true}, shorten(formatNumber(v), int(slot/6)+1))
		}
		zero := p.y.at(0)
		c.line(bx.l, zero, bx.r, zero, axisColour, 1, "")
		if !some {
			p.noData("no value")
		}
	}
	return figure{Title: title, Caption: caption, SVG: c.svg()}
}

// direction is the reading hint of a KPI.
func direction(better int) string {
	switch {
	case better > 0:
		return "higher is better"
	case better < 0:
		return "lower is better"
	}
	return ""
}

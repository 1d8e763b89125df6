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

// clickToDoorFigure is the click-to-door histogram: per policy, the share of its delivered orders in each
// 2-minute bin (grouped bars, left axis), the cumulative share (lines, right axis) and the promise (dashed).
func clickToDoorFigure(pols []Policy, target float64) figure {
	const (
		binWidth = 2.0
		minBins  = 10  // the axis spans at least this many bins
		softBins = 90  // beyond this many bins the tail past the 99th percentile goes to the last bin
		hardBins = 200 // and never more than this
	)
	hasTarget := finite(target) && target > 0
	vals := make([][]float64, len(pols))
	lo, hi, p99, total := math.Inf(1), math.Inf(-1), math.Inf(-1), 0
	for i, p := range pols {
		v := finiteSorted(p.ClickToDoor)
		vals[i] = v
		if len(v) > 0 {
			lo, hi = math.Min(lo, v[0]), math.Max(hi, v[len(v)-1])
			p99 = math.Max(p99, quantile(v, 0.99))
		}
		total += len(v)
	}
	if total == 0 {
		lo, hi, p99 = 0, 60, 60
		if hasTarget {
			hi = math.Max(hi, 1.5*target)
		}
	}
	start := math.Floor(lo/binWidth) * binWidth
	if lo >= 0 && lo <= hi/3 {
		start = 0 // durations read best from zero unless that wastes most of the axis
	}
	end := math.Floor(hi/binWidth)*binWidth + binWidth
	if hasTarget {
		start = math.Min(start, math.Floor(target/binWidth)*binWidth)
		end = math.Max(end, math.Floor(target/binWidth)*binWidth+binWidth)
	}
	if (end-start)/binWidth > softBins {
		cut := math.Floor(p99/binWidth)*binWidth + binWidth
		if hasTarget {
			cut = math.Max(cut, math.Floor(target/binWidth)*binWidth+binWidth)
		}
		end = math.Min(end, cut)
	}
	if (end-start)/binWidth < minBins { // a narrow sample: widen the axis around it so bars stay bars
		pad := math.Floor((minBins-(end-start)/binWidth)/2) * binWidth
		if start-pad < 0 && start >= 0 {
			pad = start
		}
		start -= pad
		end = math.Max(end, start+minBins*binWidth)
	}
	nb := int(math.Min(math.Round((end-start)/binWidth), hardBins))
	nb = max(nb, 1)
	end = start + float64(nb)*binWidth
	overflow := hi >= end

	// shares[i][b] is the percentage of policy i's orders in bin b; cum[i] the cumulative line.
	shares := make([][]float64, len(pols))
	maxShare := 0.0
	for i, v := range vals {
		shares[i] = make([]float64, nb)
		if len(v) == 0 {
			continue
		}
		for _, x := range v {
			b := (x - start) / binWidth
			switch {
			case !(b >= 0):
				b = 0
			case b >= float64(nb):
				b = float64(nb - 1)
			}
			shares[i][int(b)]++
		}
		for b := range shares[i] {
			shares[i][b] *= 100 / float64(len(v))
			maxShare = math.Max(maxShare, shares[i][b])
		}
	}

	legend := policyLegend(pols, markBox, func(i int) string { return fmt.Sprintf(" (n=%d)", len(vals[i])) })
	legend = append(legend, legendItem{label: "cumulative share (right axis)", colour: keyColour, mark: markLine})
	if hasTarget {
		legend = append(legend, legendItem{label: "promise", colour: inkColour, mark: markDashed})
	}
	title := "Click-to-door distribution"
	c := newChart(title, chartWidth, 420, legend, twoAxes)
	yt := niceTicks(0, math.Max(maxShare, 1), 5)
	xt := niceTicks(start, end, 12)
	p := c.panel(c.area, start, end, 0, yt.hi())
	y2 := p.yScale(0, 100)
	y2t := niceTicks(0, 100, 5)
	percent := func(t ticks) func(float64) string { return func(v float64) string { return t.Label(v) + " %" } }
	p.yAxis(p.y, false, yt.Values, percent(yt), "share of orders per bin", true)
	p.yAxis(y2, true, y2t.Values, percent(y2t), "cumulative share", false)
	p.xAxis(xt.Values, xt.Label, "click-to-door (minutes)")

	const groupPad = 0.08 // of a bin, on each side of a group of bars
	barW := binWidth * (1 - 2*groupPad) / float64(max(len(pols), 1))
	for b := 0; b < nb; b++ {
		x0 := start + float64(b)*binWidth + binWidth*groupPad
		for i := range pols {
			if s := shares[i][b]; s > 0 {
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
		for b := 0; b < nb; b++ {
			cum += shares[i][b]
			pts = append(pts, point{start + float64(b+1)*binWidth, math.Min(cum, 100)})
		}
		p.polyline(pts, y2, policyColour(i), policyStroke(i)*0.8, "")
	}
	caption := "Share of each policy's delivered orders in each 2-minute click-to-door bin (bars, left axis) " +
		"and the share delivered within that time (lines, right axis)"
	if hasTarget {
		p.vline(target, inkColour, "6 4", "promise "+formatNumber(target)+" min")
		caption += fmt.Sprintf("; the dashed line is the %s-minute promise", formatNumber(target))
		var within []string
		for i, v := range vals {
			if len(v) > 0 {
				n, _ := slices.BinarySearch(v, math.Nextafter(target, math.Inf(1)))
				within = append(within, fmt.Sprintf("%s %.1f %%", policyName(pols[i], i), 100*float64(n)/float64(len(v))))
			}
		}
		if len(within) > 0 {
			caption += " (on time: " + strings.Join(within, ", ") + ")"
		}
	}
	if overflow {
		caption += fmt.Sprintf("; orders taking %s minutes or more are counted in the last bin", formatNumber(end-binWidth))
	}
	if total == 0 {
		p.noData("no delivered orders")
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

// timeChart draws lines over a clock-time x axis and a value y axis that includes zero, and the marks.
func timeChart(title, yTitle, empty string, lines []timeLine, legend []legendItem, marks ...timeMark) template.HTML {
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
	xt := clockTicks(xlo, xhi, 12)
	yt := niceTicks(ylo, yhi, 5)
	p := c.panel(c.area, xt.lo(), xt.hi(), yt.lo(), yt.hi())
	p.yAxis(p.y, false, yt.Values, yt.Label, yTitle, true)
	p.xAxis(xt.Values, clock, "time of day (hh:mm)")
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
func waitingFigure(pols []Policy) figure {
	lines := make([]timeLine, len(pols))
	for i, p := range pols {
		lines[i] = timeLine{pts: seriesPoints(p.Waiting), colour: policyColour(i), policy: i}
	}
	title := "Orders waiting over the day"
	return figure{
		Title:   title,
		Caption: "Orders placed but not yet picked up by a courier, sampled over the day, one line per policy; a lower line means orders leave the queue sooner.",
		SVG:     timeChart(title, "orders waiting", "no samples", lines, policyLegend(pols, markLine, nil)),
	}
}

// couriersFigure is busy (solid) and online (dashed) couriers over the day, per policy.
func couriersFigure(pols []Policy) figure {
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
		SVG:     timeChart(title, "couriers", "no samples", lines, legend),
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

package report

// The fulfilment section: the backlog of accepted orders over the day, and the orders no store could serve.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// backlogFigure is the backlog over the day per policy (solid), its overnight part (dashed) and the orders in
// preparation (dotted), with the first opening marked.
func backlogFigure(pols []Policy) figure {
	var lines []timeLine
	var marks []timeMark
	peaks := []string{}
	for i, p := range pols {
		f := p.Fulfilment
		if f == nil {
			continue
		}
		lines = append(lines,
			timeLine{pts: seriesPoints(f.Preparing), colour: policyColour(i), dash: "2 3", policy: i},
			timeLine{pts: seriesPoints(f.Overnight), colour: policyColour(i), dash: "6 4", policy: i},
			timeLine{pts: seriesPoints(f.Backlog), colour: policyColour(i), policy: i})
		if finite(f.Opening) && !slices.ContainsFunc(marks, func(m timeMark) bool { return m.minute == f.Opening }) {
			marks = append(marks, timeMark{minute: f.Opening, label: "opening " + clock(f.Opening)})
		}
		if top := slices.MaxFunc(append([]Sample{{Minute: math.NaN()}}, f.Backlog...), func(a, b Sample) int {
			return cmp.Compare(orZero(a.Value), orZero(b.Value))
		}); finite(top.Value) {
			peaks = append(peaks, fmt.Sprintf("%s %s at %s", policyName(p, i), formatNumber(top.Value), clock(top.Minute)))
		}
	}
	legend := policyLegend(pols, markLine, nil)
	legend = append(legend,
		legendItem{label: "backlog", colour: keyColour, mark: markLine},
		legendItem{label: "of it overnight", colour: keyColour, mark: markDashed},
		legendItem{label: "in preparation", colour: keyColour, mark: markDotted})
	title := "Backlog over the day"
	caption := "Orders accepted and not yet picked up by a courier or collected by the customer (solid), those of " +
		"them accepted while their store was closed (dashed), and orders accepted and not yet ready (dotted), per policy"
	if len(marks) > 0 {
		caption += "; the dashed vertical line is the stores' first opening"
	}
	if len(peaks) > 0 {
		caption += " (peak: " + strings.Join(peaks, ", ") + ")"
	}
	return figure{Title: title, Caption: caption + ".",
		SVG: timeChart(title, "orders", "no fulfilment samples", false, lines, legend, marks...)}
}

// orZero is v, or minus infinity when v is not finite (so that it never wins a maximum).
func orZero(v float64) float64 {
	if !finite(v) {
		return math.Inf(-1)
	}
	return v
}

// rejectionsFigure is the orders no store could serve, by reason: one group of bars per reason, one bar per
// policy, reasons by total count.
func rejectionsFigure(pols []Policy) figure {
	totals := map[string]int{}
	var reasons []string
	for _, p := range pols {
		if p.Fulfilment == nil {
			continue
		}
		for _, c := range p.Fulfilment.Rejections {
			if _, ok := totals[c.Label]; !ok {
				reasons = append(reasons, c.Label)
			}
			totals[c.Label] += c.N
		}
	}
	slices.SortStableFunc(reasons, func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b)) })
	count := func(p Policy, reason string) int {
		if p.Fulfilment == nil {
			return 0
		}
		n := 0
		for _, c := range p.Fulfilment.Rejections {
			if c.Label == reason {
				n += c.N
			}
		}
		return n
	}
	maxN := 0
	for _, r := range reasons {
		for _, p := range pols {
			maxN = max(maxN, count(p, r))
		}
	}
	title := "Orders no store could serve"
	c := newChart(title, chartWidth, 340, policyLegend(pols, markBox, nil), plainMargins)
	nr := max(len(reasons), 1)
	yt := countTicks(float64(maxN), 5)
	p := c.panel(c.area, 0, float64(nr), 0, yt.hi())
	p.yAxis(p.y, false, yt.Values, yt.Label, "orders", true)
	const groupPad = 0.15
	barW := (1 - 2*groupPad) / float64(max(len(pols), 1))
	slot := (c.area.r - c.area.l) / float64(nr)
	for k, r := range reasons {
		c.text(p.x.at(float64(k)+0.5), c.area.b+18, tickText, shorten(r, int(slot/glyphWidth)))
		for i, pol := range pols {
			if n := count(pol, r); n > 0 {
				x0 := float64(k) + groupPad + float64(i)*barW
				p.bar(p.y, x0, x0+barW, 0, float64(n), policyColour(i))
			}
		}
	}
	c.line(c.area.l, p.y.at(0), c.area.r, p.y.at(0), axisColour, 1, "")
	caption := "Orders rejected because no store could keep the promise, by the reason of the nearest store looked at " +
		"(out_of_stock, closed, store_busy, too_far, ...), one bar per policy"
	if len(reasons) == 0 {
		p.noData("no order was rejected")
		caption = "No order was rejected: a store served every one"
	}
	return figure{Title: title, Caption: caption + ".", SVG: c.svg()}
}

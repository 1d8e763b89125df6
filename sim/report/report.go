package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Data is everything the report shows.
type Data struct {
	Title    string   // e.g. "dispatch-sim: 0o100t100s2p100"; "dispatch-sim report" when empty
	Scenario string   // scenario / instance name
	Notes    []string // free lines shown under the title (seed, config, command line)
	// Made says when, by which build and from which inputs the report was made, shown under the title. The caller
	// writes it (from an injected clock): the report itself reads no clock.
	Made string
	// Checks are verdicts shown under the title, such as the MDRP validator's on each policy's solution.
	Checks []Check
	// Target is the usual click-to-door promise in minutes (<= 0: none). It is drawn as a line on the click-to-door
	// distribution only when every order's own promise (Policy.Promise) is this one.
	Target float64
	// Elapsed says that the samples' minutes count from the start of the run, not from midnight (MDRP instances):
	// time axes then read "minutes since the start of the day", not clock times.
	Elapsed  bool
	Policies []Policy // one per policy, the first is the main one; side by side everywhere
	// Map, when set, is the main policy's day on a map (the section "Routes").
	Map *Map
}

// Check is one verdict: what was checked, whether it passed, and a detail (the first failure, say).
type Check struct {
	Label  string
	OK     bool
	Detail string
}

// Policy is one policy's results. Non-finite numbers (NaN, ±Inf) anywhere are left out of the charts.
type Policy struct {
	Name string
	// KPIs are the rows of the summary table, in order. Same rows (by Name) for every policy, the table shows
	// policies as columns, plus a "Δ vs <second policy>" column when there are exactly two policies. A row only
	// some policies have is still shown (after the main policy's rows), with "n/a" for the others; a name
	// repeated within one policy shows its first occurrence.
	KPIs []KPI
	// ClickToDoor holds the click-to-door minutes of each delivered order (the distribution chart: histogram
	// with bins of a width read easily over the span, one series per policy, grouped, plus a cumulative share line).
	ClickToDoor []float64
	// Promise holds each delivered order's own promise, in minutes from its click, in the order of ClickToDoor
	// (nil: every order's promise is Data.Target). Orders with slot promises (placed overnight for the morning,
	// say) have long ones. The chart of delivery against the promise compares each order with its own.
	Promise []float64
	// Orders counts every order the summary table's on-time share is over, delivered or not (0: the delivered
	// ones), so that the promise chart can quote the table's figure.
	Orders int
	// Waiting is a time series over the day: orders placed but not yet picked up, sampled at regular times.
	Waiting []Sample
	// Busy and Online are time series of couriers busy (with a route) and online.
	Busy, Online []Sample
	// Utilisation holds each courier's utilisation share in [0,1] (chart: histogram in 10 % bins, per policy;
	// shares outside [0,1] are counted in the end bins).
	Utilisation []float64
	// Fulfilment is the store side, for runs that model it; when any policy has it the report gains a
	// fulfilment section.
	Fulfilment *Fulfilment
}

// Fulfilment is one policy's store side: the backlog over the day and the orders no store could serve.
type Fulfilment struct {
	// Backlog is the orders accepted and not yet picked up or collected, Overnight those of them accepted while
	// their store was closed, Preparing the orders accepted and not yet ready; time series like Waiting.
	Backlog, Overnight, Preparing []Sample
	// Opening is the minute of the stores' first opening, drawn as a line on the backlog chart (not finite: none).
	Opening float64
	// Rejections counts the orders no store could serve, by reason (chart: bars per reason, one per policy).
	Rejections []Count
}

// Count is a number of things with a label.
type Count struct {
	Label string
	N     int
}

// KPI is one row of the summary table.
type KPI struct {
	Name  string  // "click-to-door mean"
	Unit  string  // "min", "%", "orders", ""
	Value float64 // shown as "n/a" when not finite
	// Better says which direction is good, for colouring the delta: +1 higher is better, -1 lower, 0 neutral.
	Better int
	// Count says the KPI counts things: it is printed as a whole number. Other rows print every policy's value
	// with the same decimals.
	Count bool
}

// Sample is one point of a time series. Minute is minutes from the start of the day. Samples need not be
// sorted; a non-finite Value leaves a gap in the line.
type Sample struct {
	Minute float64
	Value  float64
}

// Write renders the report as one HTML document. The same Data always gives the same bytes. The document is
// rendered in memory first, so w receives either the whole document or, on a template error, nothing.
func Write(w io.Writer, d *Data) error {
	var buf bytes.Buffer
	if err := page.Execute(&buf, build(d)); err != nil {
		return fmt.Errorf("report: rendering: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing: %w", err)
	}
	return nil
}

// kpiRow is one KPI across the policies.
type kpiRow struct {
	name, unit string
	better     int
	count      bool
	values     []float64 // per policy; NaN when the policy lacks the KPI
}

// kpiRows joins the policies' KPIs by name: the main policy's rows in its order, then rows only later
// policies have, in order of first appearance. Unit and Better come from the first policy with the row.
func kpiRows(pols []Policy) []kpiRow {
	var rows []kpiRow
	index := map[string]int{} // lookup only; order comes from rows
	for i, p := range pols {
		seen := map[string]bool{}
		for _, k := range p.KPIs {
			if seen[k.Name] {
				continue
			}
			seen[k.Name] = true
			j, ok := index[k.Name]
			if !ok {
				j = len(rows)
				index[k.Name] = j
				vs := make([]float64, len(pols))
				for n := range vs {
					vs[n] = math.NaN()
				}
				rows = append(rows, kpiRow{name: k.Name, unit: k.Unit, better: k.Better, count: k.Count, values: vs})
			}
			rows[j].values[i] = k.Value
		}
	}
	return rows
}

// view is what the page template renders. Every string is plain text; the template escapes it.
type view struct {
	Title    string
	Scenario string
	Notes    []string
	Made     string
	Checks   []checkView
	Policies []policyView
	Table    tableView
	Sections []section
}

type checkView struct {
	Label, Verdict, Class, Detail string
}

type policyView struct {
	Name  string
	Class string // CSS class of the policy's colour chip
	Main  bool
}

type tableView struct {
	DeltaHeader string // "" unless exactly two policies
	Rows        []tableRow
}

type tableRow struct {
	Name      string
	Unit      string
	Direction string
	Cells     []string
	Delta     string
	Class     string // good, bad or neutral
	Verdict   string // better, worse or ""
}

type section struct {
	ID      string
	Heading string
	Figures []figure
}

// build turns Data into the view; nil Data is an empty report.
func build(d *Data) view {
	if d == nil {
		d = &Data{}
	}
	v := view{Title: sanitize(d.Title), Scenario: sanitize(d.Scenario)}
	if strings.TrimSpace(v.Title) == "" {
		v.Title = "dispatch-sim report"
	}
	for _, n := range d.Notes {
		v.Notes = append(v.Notes, sanitize(n))
	}
	v.Made = sanitize(d.Made)
	for _, c := range d.Checks {
		cv := checkView{Label: sanitize(c.Label), Verdict: "passed", Class: "good", Detail: sanitize(c.Detail)}
		if !c.OK {
			cv.Verdict, cv.Class = "FAILED", "bad"
		}
		v.Checks = append(v.Checks, cv)
	}
	pols := d.Policies
	if len(pols) == 0 {
		return v
	}
	for i, p := range pols {
		v.Policies = append(v.Policies, policyView{
			Name: sanitize(policyName(p, i)), Class: fmt.Sprintf("c%d", i%len(palette)), Main: i == 0,
		})
	}
	rows := kpiRows(pols)
	v.Table = table(pols, rows)
	v.Sections = []section{
		{ID: "kpis", Heading: "Headline KPIs", Figures: []figure{kpiFigure(pols, rows)}},
		{ID: "click-to-door", Heading: "Click-to-door", Figures: []figure{promiseFigure(pols, d.Target), clickToDoorFigure(pols, d.Target)}},
		{ID: "waiting", Heading: "Orders waiting", Figures: []figure{waitingFigure(pols, d.Elapsed)}},
		{ID: "couriers", Heading: "Couriers", Figures: []figure{couriersFigure(pols, d.Elapsed), utilisationFigure(pols)}},
	}
	if d.Map != nil {
		v.Sections = append(v.Sections, section{ID: "routes", Heading: "Routes", Figures: []figure{mapFigure(d.Map)}})
	}
	if slices.ContainsFunc(pols, func(p Policy) bool { return p.Fulfilment != nil }) {
		v.Sections = append(v.Sections, section{ID: "fulfilment", Heading: "Fulfilment",
			Figures: []figure{backlogFigure(pols), rejectionsFigure(pols)}})
	}
	for i := range v.Sections {
		for j := range v.Sections[i].Figures {
			f := &v.Sections[i].Figures[j]
			f.Title, f.Caption = sanitize(f.Title), sanitize(f.Caption)
		}
	}
	return v
}

// table is the summary table: one column per policy and, with exactly two policies, the difference between
// the main policy and the second, classed good or bad according to the KPI's Better.
func table(pols []Policy, rows []kpiRow) tableView {
	var t tableView
	two := len(pols) == 2
	if two {
		t.DeltaHeader = "Δ vs " + sanitize(policyName(pols[1], 1))
	}
	for _, r := range rows {
		tr := tableRow{Name: sanitize(r.name), Unit: sanitize(r.unit), Direction: direction(r.better), Class: "neutral"}
		decimals := rowDecimals(r.values)
		if r.count {
			decimals = 0
		}
		for _, x := range r.values {
			tr.Cells = append(tr.Cells, formatFixed(x, decimals))
		}
		if two {
			a, b := r.values[0], r.values[1]
			tr.Delta = formatDelta(a, b, r.unit)
			if d := a - b; finite(d) && d != 0 && r.better != 0 {
				if (d > 0) == (r.better > 0) {
					tr.Class, tr.Verdict = "good", "better"
				} else {
					tr.Class, tr.Verdict = "bad", "worse"
				}
			}
		}
		t.Rows = append(t.Rows, tr)
	}
	return t
}

// rowDecimals is the decimals a table row prints all its values with: the most formatNumber would give any of
// them, so that 1 stands as "1.00" beside 1.14.
func rowDecimals(values []float64) int {
	d := 0
	for _, v := range values {
		switch a := math.Abs(v); {
		case !finite(v) || a >= 1e7 || v == math.Trunc(v):
		case a >= 100:
			d = max(d, 1)
		default:
			d = max(d, 2)
		}
	}
	return d
}

// formatFixed prints v with the given decimals ("n/a" when not finite; exponent form from 1e7, as formatNumber).
func formatFixed(v float64, decimals int) string {
	if !finite(v) || math.Abs(v) >= 1e7 {
		return formatNumber(v)
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// formatDelta prints a−b with its sign, in percentage points for "%" KPIs and otherwise followed by the
// relative change when b is not zero: "+1.25 (+3.4 %)".
func formatDelta(a, b float64, unit string) string {
	d := a - b
	if !finite(d) {
		return "n/a"
	}
	if d == 0 {
		return "0"
	}
	s := signed(d)
	if unit == "%" {
		return s + " pp"
	}
	if b != 0 {
		if rel := d / math.Abs(b) * 100; finite(rel) {
			r := strconv.FormatFloat(rel, 'f', 1, 64)
			if rel > 0 {
				r = "+" + r
			}
			s += " (" + r + " %)"
		}
	}
	return s
}

// signed is formatNumber with an explicit "+" on positive values.
func signed(v float64) string {
	s := formatNumber(v)
	if v > 0 {
		return "+" + s
	}
	return s
}

// paletteCSS gives each chip class its policy colour.
func paletteCSS() string {
	var b strings.Builder
	for i, c := range palette {
		fmt.Fprintf(&b, ".c%d{background:%s}", i, c)
	}
	return b.String()
}

var page = template.Must(template.New("report").Parse(strings.Replace(pageTemplate, "/*PALETTE*/", paletteCSS(), 1)))

// pageTemplate is the document. It is written to be well-formed XML as well as HTML (void elements closed,
// no named entities) so that it can be checked by an XML parser.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;background:#fafafa;margin:0}
main{max-width:1000px;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.6rem;margin:0 0 .3rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.scenario{margin:.2rem 0;color:#444}
.made{margin:.2rem 0;color:#555;font-size:.9rem}
.checks{margin:.4rem 0;padding-left:1.2rem}
.checks .good{color:#0072B2;font-weight:bold}
.checks .bad{color:#D55E00;font-weight:bold}
.notes{margin:.4rem 0;padding-left:1.2rem;color:#555;font-size:.9rem}
.notes li{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
nav{margin:.8rem 0;font-size:.9rem}
nav a{color:#0072B2;margin-right:1rem}
.chip{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em}
/*PALETTE*/
table.kpi{border-collapse:collapse;background:#fff;font-size:.95rem}
table.kpi th,table.kpi td{border:1px solid #ddd;padding:.3rem .6rem}
table.kpi thead th{background:#f0f0f0;text-align:center}
table.kpi tbody th{text-align:left;font-weight:normal}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.unit{color:#666}
td.good{color:#0072B2;font-weight:bold}
td.bad{color:#D55E00;font-weight:bold}
.verdict{font-size:.8em;font-weight:normal}
.dir{color:#888;font-size:.8em}
figure{margin:1rem 0;background:#fff;border:1px solid #e4e4e4;padding:.5rem;break-inside:avoid}
svg.chart{max-width:100%;height:auto;display:block}
figcaption{font-size:.9rem;color:#444;margin-top:.4rem}
.empty{background:#fff;border:1px solid #e4e4e4;padding:1rem}
footer{color:#888;font-size:.8rem;margin-top:2rem}
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
{{- if .Scenario}}
<p class="scenario">Scenario: <strong>{{.Scenario}}</strong></p>
{{- end}}
{{- if .Made}}
<p class="made">{{.Made}}</p>
{{- end}}
{{- if .Checks}}
<ul class="checks">
{{- range .Checks}}
<li><span class="{{.Class}}">{{.Verdict}}</span> {{.Label}}{{if .Detail}}: {{.Detail}}{{end}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Notes}}
<ul class="notes">
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Policies}}
<p class="policies">Policies:
{{- range $i, $p := .Policies}}{{if $i}},{{end}} <span class="chip {{$p.Class}}"></span>{{$p.Name}}{{if $p.Main}} (main){{end}}{{end}}</p>
<nav><a href="#summary">Summary</a>{{range .Sections}}<a href="#{{.ID}}">{{.Heading}}</a>{{end}}</nav>
{{- end}}
</header>
{{- if not .Policies}}
<section class="empty" id="summary">
<h2>No results</h2>
<p>The simulation produced no policy results, so there is nothing to summarise or chart.</p>
</section>
{{- else}}
<section id="summary">
<h2>Summary</h2>
{{- if .Table.Rows}}
<table class="kpi">
<thead><tr><th scope="col">KPI</th><th scope="col">Unit</th>
{{- range .Policies}}<th scope="col"><span class="chip {{.Class}}"></span>{{.Name}}</th>{{end}}
{{- if .Table.DeltaHeader}}<th scope="col">{{.Table.DeltaHeader}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Table.Rows}}
<tr><th scope="row">{{.Name}}{{if .Direction}} <span class="dir">({{.Direction}})</span>{{end}}</th><td class="unit">{{.Unit}}</td>
{{- range .Cells}}<td class="num">{{.}}</td>{{end}}
{{- if $.Table.DeltaHeader}}<td class="num {{.Class}}">{{.Delta}}{{if .Verdict}} <span class="verdict">{{.Verdict}}</span>{{end}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>No KPIs were reported.</p>
{{- end}}
</section>
{{- range .Sections}}
<section id="{{.ID}}">
<h2>{{.Heading}}</h2>
{{- range .Figures}}
<figure>
{{.SVG}}
<figcaption><strong>{{.Title}}.</strong> {{.Caption}}</figcaption>
</figure>
{{- end}}
</section>
{{- end}}
{{- end}}
<footer>Self-contained report: no scripts, fonts, images or styles are loaded from anywhere else.</footer>
</main>
</body>
</html>
`

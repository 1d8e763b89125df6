package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

var writePath = flag.String("write", "", "write a sample report to this path for viewing in a browser")

// sampleData is a day of two policies with realistic shapes; r makes it deterministic.
func sampleData() *Data {
	r := rand.New(rand.NewPCG(7, 11))
	policy := func(name string, shift float64, fleet int) Policy {
		p := Policy{Name: name}
		for range 900 {
			p.ClickToDoor = append(p.ClickToDoor, 18+shift+r.ExpFloat64()*12)
		}
		for m := 8 * 60.0; m <= 23*60; m += 10 {
			peak := math.Exp(-math.Pow((m-12.5*60)/70, 2)) + 0.8*math.Exp(-math.Pow((m-19.5*60)/80, 2))
			online := math.Round(float64(fleet) * (0.4 + 0.6*peak))
			p.Online = append(p.Online, Sample{m, online})
			p.Busy = append(p.Busy, Sample{m, math.Min(online, math.Round(online*(0.5+0.4*peak)*(1+shift/30)))})
			p.Waiting = append(p.Waiting, Sample{m, math.Round((30 + shift*4) * peak)})
		}
		for range fleet {
			p.Utilisation = append(p.Utilisation, math.Min(1, 0.35+r.Float64()*0.6+shift/40))
		}
		p.KPIs = []KPI{
			{Name: "click-to-door mean", Unit: "min", Value: 30.25 + shift, Better: -1},
			{Name: "on time", Unit: "%", Value: 91.5 - shift*2, Better: +1},
			{Name: "orders delivered", Unit: "orders", Value: 900, Better: +1},
			{Name: "courier utilisation", Unit: "%", Value: 71.8 + shift, Better: 0},
			{Name: "orders per courier hour", Unit: "", Value: 2.125 - shift/20, Better: +1},
		}
		return p
	}
	return &Data{
		Title:    "dispatch-sim: 0o100t100s2p100",
		Scenario: "0o100t100s2p100",
		Notes:    []string{"seed 42", "dispatch-sim -instance 0o100t100s2p100 -policies engine,baseline"},
		Target:   40,
		Policies: []Policy{policy("engine", 0, 60), policy("baseline", 4.5, 60)},
	}
}

func render(t *testing.T, d *Data) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.String()
}

var svgBlock = regexp.MustCompile(`(?s)<svg[ >].*?</svg>`)

// checkWellFormed parses every <svg> block, and the whole document, as XML, and checks that no URL other than
// the SVG namespace and no non-finite number made it into the output. It returns the SVG blocks.
func checkWellFormed(t *testing.T, out string) []string {
	t.Helper()
	blocks := svgBlock.FindAllString(out, -1)
	for i, b := range blocks {
		if err := parseXML(b); err != nil {
			t.Errorf("svg %d is not well-formed XML: %v\n%.400s", i, err, b)
		}
	}
	if err := parseXML(out); err != nil {
		t.Errorf("document is not well-formed XML: %v", err)
	}
	rest := strings.ReplaceAll(out, `xmlns="http://www.w3.org/2000/svg"`, "")
	if strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
		t.Errorf("output references a URL")
	}
	for _, bad := range []string{"NaN", "Inf", "<script", "url(", "@import", "ZgotmplZ"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	return blocks
}

func parseXML(s string) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestWriteTwoPolicies(t *testing.T) {
	d := sampleData()
	out := render(t, d)
	blocks := checkWellFormed(t, out)
	if len(blocks) != 6 {
		t.Errorf("%d charts, want 6", len(blocks))
	}
	for _, b := range blocks {
		for _, name := range []string{"engine", "baseline"} {
			if !strings.Contains(b, ">"+name) {
				t.Errorf("a chart has no legend entry for %s: %.200s", name, b)
			}
		}
		if !strings.Contains(b, "<title>") || !strings.Contains(b, "<polyline") && !strings.Contains(b, "<rect x=\"") {
			t.Errorf("a chart lacks a title or marks: %.200s", b)
		}
	}
	for _, want := range []string{
		"<title>dispatch-sim: 0o100t100s2p100</title>",
		"Scenario: <strong>0o100t100s2p100</strong>",
		"<li>seed 42</li>",
		"Click-to-door distribution", "Orders waiting over the day", "Busy and online couriers over the day",
		"Courier utilisation", "Policies side by side: headline KPIs",
		"Δ vs baseline",
		// KPI values and deltas.
		`<td class="num">30.25</td>`, `<td class="num">34.75</td>`, `<td class="num">900</td>`,
		`<td class="num good">-4.50 (-12.9 %) <span class="verdict">better</span></td>`,
		`<td class="num good">&#43;9 pp <span class="verdict">better</span></td>`, // html/template escapes "+",
		`<td class="num neutral">0</td>`,
		`<td class="num neutral">-4.50 pp</td>`,
		"promise 40 min", "08:00", "20:00", "click-to-door (minutes)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if again := render(t, sampleData()); again != out {
		t.Error("two renders of the same data differ")
	}
	if *writePath != "" {
		if err := os.WriteFile(*writePath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", *writePath)
	}
}

func TestWriteEscapes(t *testing.T) {
	d := sampleData()
	d.Title = `<script>alert("t")</script>`
	d.Notes = []string{`a & b`, "bad \x01 byte \xff"}
	d.Policies[0].Name = `<b>x</b>`
	d.Policies[1].Name = `"q" & 'r'`
	d.Policies[0].KPIs[0].Name = `<i>k</i>`
	out := render(t, d)
	checkWellFormed(t, out)
	for _, raw := range []string{"<b>x</b>", "<i>k</i>", `<script>`, "\x01", "\xff"} {
		if strings.Contains(out, raw) {
			t.Errorf("output contains unescaped %q", raw)
		}
	}
	for _, want := range []string{"&lt;b&gt;x&lt;/b&gt;", "&lt;i&gt;k&lt;/i&gt;", "a &amp; b", "&#34;q&#34; &amp; &#39;r&#39;"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks escaped %q", want)
		}
	}
}

func TestWriteEdgeCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := map[string]*Data{
		"nil":          nil,
		"no policies":  {Title: "empty"},
		"empty policy": {Policies: []Policy{{}}},
		"empty series": {Target: 30, Policies: []Policy{{Name: "a"}, {Name: "b"}}},
		"single policy": {Target: 30, Policies: []Policy{{
			Name: "solo", KPIs: []KPI{{Name: "k", Value: 1}},
			ClickToDoor: []float64{10, 20, 30}, Waiting: []Sample{{600, 3}, {660, 5}},
			Busy: []Sample{{600, 1}}, Online: []Sample{{600, 2}}, Utilisation: []float64{0.5},
		}}},
		"all equal": {Target: 25, Policies: []Policy{{
			Name: "a", KPIs: []KPI{{Name: "k", Value: 0}, {Name: "j", Value: 7}},
			ClickToDoor: []float64{25, 25, 25}, Waiting: []Sample{{600, 4}, {600, 4}, {600, 4}},
			Busy: []Sample{{0, 0}, {10, 0}}, Online: []Sample{{0, 0}, {10, 0}}, Utilisation: []float64{1, 1, 1},
		}, {
			Name: "b", KPIs: []KPI{{Name: "k", Value: 0}, {Name: "j", Value: 7}},
			ClickToDoor: []float64{25}, Utilisation: []float64{0},
		}}},
		"non-finite": {Target: nan, Policies: []Policy{{
			Name: "a", KPIs: []KPI{{Name: "k", Value: nan, Better: 1}, {Name: "j", Value: inf, Unit: "%"}},
			ClickToDoor: []float64{nan, inf, -inf, 12}, Waiting: []Sample{{nan, 1}, {600, nan}, {610, 2}, {620, inf}, {630, 3}, {640, 4}},
			Busy: []Sample{{inf, inf}}, Utilisation: []float64{nan, -inf, inf},
		}, {
			Name: "b", KPIs: []KPI{{Name: "k", Value: 3, Better: 1}, {Name: "j", Value: -inf, Unit: "%"}},
			ClickToDoor: []float64{nan},
		}}},
		"extreme": {Target: 1e300, Policies: []Policy{{
			Name: "a", KPIs: []KPI{{Name: "k", Value: 1e300}, {Name: "neg", Value: -5}},
			ClickToDoor: []float64{-1e300, 1e300, 0}, Waiting: []Sample{{-1e300, -1e300}, {1e300, 1e300}},
			Utilisation: []float64{-3, 7, 0.999999},
		}, {Name: "b", KPIs: []KPI{{Name: "only b", Value: 1}}, ClickToDoor: make([]float64, 5000)}}},
		"long tail": {Target: 40, Policies: []Policy{{Name: "a", ClickToDoor: longTail()}}},
		"three policies": {Policies: []Policy{
			{Name: "a", KPIs: []KPI{{Name: "k", Value: 1}}}, {Name: "b", KPIs: []KPI{{Name: "k", Value: 2}}},
			{Name: strings.Repeat("very long policy name ", 10), KPIs: []KPI{{Name: "k", Value: 3}}},
		}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			out := render(t, d)
			checkWellFormed(t, out)
			if out != render(t, d) {
				t.Error("not deterministic")
			}
			if d == nil || len(d.Policies) == 0 {
				if !strings.Contains(out, "No results") || strings.Contains(out, "<svg") {
					t.Error("an empty report should say there are no results and draw no charts")
				}
				return
			}
			hasKPIs := len(kpiRows(d.Policies)) > 0
			if strings.Contains(out, "Δ vs") != (len(d.Policies) == 2 && hasKPIs) {
				t.Error("the delta column should be there exactly when there are two policies")
			}
		})
	}
}

// longTail is mostly 20–40 minutes with a few orders taking hours, which must not produce hundreds of bins.
func longTail() []float64 {
	var xs []float64
	for i := range 1000 {
		xs = append(xs, 20+float64(i%20))
	}
	return append(xs, 300, 600, 900)
}

func TestLongTailIsCut(t *testing.T) {
	f := clickToDoorFigure([]Policy{{Name: "a", ClickToDoor: longTail()}}, 40)
	if !strings.Contains(f.Caption, "the last bin also counts everything from") {
		t.Errorf("caption does not mention the cut tail: %s", f.Caption)
	}
	if n := strings.Count(string(f.SVG), `<rect x="`); n > 100 {
		t.Errorf("%d rectangles: the tail was not cut", n)
	}
	if f := promiseFigure([]Policy{{Name: "a", ClickToDoor: longTail()}}, 40); !strings.Contains(f.Caption, "a 99.7 % of all orders") {
		t.Errorf("caption lacks the on-time share: %s", f.Caption)
	}
}

func TestWriteError(t *testing.T) {
	if err := Write(failWriter{}, sampleData()); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   int
		ticks  []float64
		labels string
	}{
		{0, 10, 5, []float64{0, 2, 4, 6, 8, 10}, "0 2 4 6 8 10"},
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{0, 0.3, 3, []float64{0, 0.1, 0.2, 0.3}, "0.0 0.1 0.2 0.3"},
		{-7, 13, 5, []float64{-10, -5, 0, 5, 10, 15}, "-10 -5 0 5 10 15"},
		{3, 97, 5, []float64{0, 20, 40, 60, 80, 100}, "0 20 40 60 80 100"},
		{0, 100, 5, []float64{0, 20, 40, 60, 80, 100}, "0 20 40 60 80 100"},
		{12, 12, 5, []float64{10.5, 11, 11.5, 12, 12.5, 13, 13.5}, "10.5 11.0 11.5 12.0 12.5 13.0 13.5"},
		{0, 0, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{10, 0, 2, []float64{0, 5, 10}, "0 5 10"},
		{1200, 4800, 4, []float64{1000, 2000, 3000, 4000, 5000}, "1000 2000 3000 4000 5000"},
	}
	for _, c := range cases {
		got := niceTicks(c.lo, c.hi, c.want)
		if !equal(got.Values, c.ticks) {
			t.Errorf("niceTicks(%v, %v, %d) = %v, want %v", c.lo, c.hi, c.want, got.Values, c.ticks)
			continue
		}
		var labels []string
		for _, v := range got.Values {
			labels = append(labels, got.Label(v))
		}
		if s := strings.Join(labels, " "); s != c.labels {
			t.Errorf("labels of [%v, %v]: %q, want %q", c.lo, c.hi, s, c.labels)
		}
	}
	// Properties over many ranges: ticks cover the range, step is 1, 2 or 5 × 10^k, evenly spaced.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		lo := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(12)-4))
		hi := lo + r.Float64()*math.Pow(10, float64(r.IntN(12)-4))
		want := 1 + r.IntN(10)
		got := niceTicks(lo, hi, want)
		vs := got.Values
		if len(vs) < 2 || vs[0] > lo || vs[len(vs)-1] < hi || len(vs) > 4*want+5 {
			t.Fatalf("niceTicks(%v, %v, %d) = %v", lo, hi, want, vs)
		}
		m := got.Step / math.Pow(10, math.Floor(math.Log10(got.Step)+1e-9))
		if math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
			t.Fatalf("step %v of [%v, %v] is not 1/2/5×10^k", got.Step, lo, hi)
		}
		for i := 1; i < len(vs); i++ {
			if d := vs[i] - vs[i-1]; math.Abs(d-got.Step) > got.Step*1e-6+math.Abs(vs[i])*1e-15 {
				t.Fatalf("uneven ticks %v", vs)
			}
		}
	}
	for _, c := range [][2]float64{{math.NaN(), 1}, {0, math.Inf(1)}, {-math.MaxFloat64, math.MaxFloat64}, {1e15, 1e15 + 0.5}} {
		if got := niceTicks(c[0], c[1], 5); len(got.Values) < 2 {
			t.Errorf("niceTicks(%v, %v) = %v", c[0], c[1], got.Values)
		}
	}
}

func TestCountTicks(t *testing.T) {
	if got := countTicks(2, 5).Values; !equal(got, []float64{0, 1, 2}) {
		t.Errorf("countTicks(2) = %v", got)
	}
	if got := countTicks(0, 5).Values; !equal(got, []float64{0, 1}) {
		t.Errorf("countTicks(0) = %v", got)
	}
	if got := countTicks(37, 5).Values; !equal(got, []float64{0, 10, 20, 30, 40}) {
		t.Errorf("countTicks(37) = %v", got)
	}
}

func TestClockTicks(t *testing.T) {
	got := clockTicks(8*60, 23*60, 12)
	if got.Step != 120 || got.lo() != 480 || got.hi() != 1440 {
		t.Errorf("clockTicks(08:00, 23:00) = %v step %v", got.Values, got.Step)
	}
	if got := clockTicks(600, 600, 12); got.lo() > 570 || got.hi() < 630 {
		t.Errorf("clockTicks of one instant = %v", got.Values)
	}
	if got := clockTicks(0, 10*1440, 5); got.Step != 2880 {
		t.Errorf("ten days: step %v", got.Step)
	}
	for _, c := range []struct {
		m    float64
		want string
	}{{0, "00:00"}, {75, "01:15"}, {1439.6, "24:00"}, {1500, "01:00+1"}, {2880, "24:00+1"}, {2890, "00:10+2"}, {-30, "-00:30"}, {math.NaN(), "n/a"}} {
		if got := clock(c.m); got != c.want {
			t.Errorf("clock(%v) = %q, want %q", c.m, got, c.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {math.Copysign(0, -1), "0"}, {-0.001, "0.00"}, {900, "900"}, {30.254, "30.25"}, {123.456, "123.5"},
		{-4.5, "-4.50"}, {2.5e9, "2.5e+09"}, {math.NaN(), "n/a"}, {math.Inf(-1), "n/a"}} {
		if got := formatNumber(c.v); got != c.want {
			t.Errorf("formatNumber(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := formatDelta(3, 2, "min"); got != "+1 (+50.0 %)" {
		t.Errorf("formatDelta = %q", got)
	}
	if got := formatDelta(1, 0, ""); got != "+1" {
		t.Errorf("formatDelta from zero = %q", got)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*math.Max(1, math.Abs(b[i])) {
			return false
		}
	}
	return true
}

// TestBinsReadableOverHundredsOfMinutes: click-to-door spread over 400 minutes (overnight orders) is drawn in bins
// of a readable width, at most 48 of them, and none is cut.
func TestBinsReadableOverHundredsOfMinutes(t *testing.T) {
	var xs []float64
	for i := range 400 {
		xs = append(xs, 5+float64(i))
	}
	b := binsFor([][]float64{xs}, 40, true)
	if b.width != 10 || b.nb > 48 || b.start != 0 || b.overflow || b.end() < 404 {
		t.Fatalf("binning %+v, want 10-minute bins from 0 past 404 without overflow", b)
	}
}

// TestPromiseChartMeasuresEachOrdersOwnPromise: with slot promises, on time is counted against each order's own
// promise (as the table does), over all orders, and the click-to-door chart draws no single promise line.
func TestPromiseChartMeasuresEachOrdersOwnPromise(t *testing.T) {
	p := Policy{Name: "a", Orders: 5}
	for i := range 4 {
		if i%2 == 0 {
			p.ClickToDoor, p.Promise = append(p.ClickToDoor, 30), append(p.Promise, 40) // a 40-minute promise, kept
		} else {
			p.ClickToDoor, p.Promise = append(p.ClickToDoor, 380), append(p.Promise, 400) // a morning slot, kept
		}
	}
	pols := []Policy{p}
	f := promiseFigure(pols, 40)
	if !strings.Contains(f.Caption, "a 80.0 % of all orders (100.0 % of those delivered)") {
		t.Errorf("promise chart caption: %s", f.Caption)
	}
	c := clickToDoorFigure(pols, 40)
	if strings.Contains(string(c.SVG), "promise 40 min") || !strings.Contains(c.Caption, "promises of their own") {
		t.Errorf("a single promise line is drawn though orders have their own: %s", c.Caption)
	}
	p.Promise = nil // every order the usual 40 minutes: the line is right again
	if c := clickToDoorFigure([]Policy{p}, 40); !strings.Contains(string(c.SVG), "promise 40 min") {
		t.Error("no promise line when every order has the usual promise")
	}
}

// TestTableCountsAndDecimals: counts print as whole numbers; a row's values share their decimals.
func TestTableCountsAndDecimals(t *testing.T) {
	kpis := func(bundle, stockOuts float64) []KPI {
		return []KPI{{Name: "orders per bundle", Value: bundle}, {Name: "stock-outs", Value: stockOuts, Count: true}}
	}
	out := render(t, &Data{Policies: []Policy{{Name: "a", KPIs: kpis(1, 255)}, {Name: "b", KPIs: kpis(1.14, 3)}}})
	for _, want := range []string{`<td class="num">1.00</td><td class="num">1.14</td>`, `<td class="num">255</td><td class="num">3</td>`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %s", want)
		}
	}
}

// TestMadeChecksAndElapsedAxis: the report says how it was made and the checks' verdicts, and runs counted from
// their start (MDRP) label their time axes so.
func TestMadeChecksAndElapsedAxis(t *testing.T) {
	d := sampleData()
	d.Made = "made 2026-12-07 01:00 UTC by dispatch-sim v1.2.3 (commit abc), from scenario x.json, seed 1"
	d.Checks = []Check{{Label: "MDRP validator, engine", OK: true}, {Label: "MDRP validator, baseline", Detail: "order o1 dropped twice"}}
	d.Elapsed = true
	out := render(t, d)
	for _, want := range []string{d.Made, `<span class="good">passed</span> MDRP validator, engine`,
		`<span class="bad">FAILED</span> MDRP validator, baseline: order o1 dropped twice`, "minutes since the start of the day"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "time of day (hh:mm)") {
		t.Error("an elapsed-time report labels an axis as the time of day")
	}
}

package report

import (
	"html"
	"math"
	"strings"
	"testing"
)

// withFulfilment adds a night and a morning of the stores' side to the sample: a backlog that grows until the
// 08:00 opening on the next day and clears, and rejections by reason.
func withFulfilment(d *Data) *Data {
	for i := range d.Policies {
		f := &Fulfilment{Opening: 32 * 60}
		for m := 22 * 60.0; m <= 36*60; m += 5 {
			night := math.Max(0, math.Min(m, 32*60)-22*60) * 2
			left := night * math.Exp(-math.Max(0, m-32*60)/(40+20*float64(i)))
			f.Backlog = append(f.Backlog, Sample{m, math.Round(left + 30)})
			f.Overnight = append(f.Overnight, Sample{m, math.Round(left)})
			f.Preparing = append(f.Preparing, Sample{m, math.Round(left / 2)})
		}
		f.Rejections = []Count{{"out_of_stock", 140 + i}, {"closed", 86}, {"store_busy <&>", 59 - 20*i}}
		d.Policies[i].Fulfilment = f
	}
	return d
}

func TestFulfilmentSection(t *testing.T) {
	plain := render(t, sampleData())
	if strings.Contains(plain, `id="fulfilment"`) {
		t.Fatal("a run without the stores' side has a fulfilment section")
	}
	out := render(t, withFulfilment(sampleData()))
	blocks := checkWellFormed(t, out)
	if len(blocks) != len(svgBlock.FindAllString(plain, -1))+2 {
		t.Fatalf("%d charts, want the plain report's and two more", len(blocks))
	}
	if !strings.Contains(out, "store_busy &lt;&amp;&gt;") {
		t.Error("a reason is not escaped")
	}
	text := html.UnescapeString(out)
	for _, want := range []string{`id="fulfilment"`, "Backlog over the day", "Orders no store could serve",
		"opening 08:00+1", "out_of_stock", "peak: engine 1230 at 08:00+1, baseline 1230 at 08:00+1",
		`<a href="#fulfilment">Fulfilment</a>`} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The reasons come by their total over the policies: out_of_stock (281), closed (172), store_busy (98).
	if a, b, c := strings.Index(out, ">out_of_stock<"), strings.Index(out, ">closed<"), strings.Index(out, ">store_busy"); !(a < b && b < c) {
		t.Errorf("reasons out of order: %d %d %d", a, b, c)
	}
	if out != render(t, withFulfilment(sampleData())) {
		t.Error("the same data rendered twice differs")
	}
}

func TestFulfilmentSectionWithoutRejections(t *testing.T) {
	d := withFulfilment(sampleData())
	for i := range d.Policies {
		d.Policies[i].Fulfilment.Rejections = nil
		d.Policies[i].Fulfilment.Opening = math.NaN()
	}
	out := render(t, d)
	checkWellFormed(t, out)
	if !strings.Contains(out, "no order was rejected") || strings.Contains(out, "opening 08:00") {
		t.Error("an empty rejection chart or a missing opening is not shown as such")
	}
}

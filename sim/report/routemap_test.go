package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestMapSection(t *testing.T) {
	m := &Map{Caption: "on the roads", Geographic: true,
		Stores:   [][2]float64{{121.47, 31.23}, {121.49, 31.25}},
		Dropoffs: [][2]float64{{121.48, 31.24}},
		Tracks: []Track{{Name: "k<1>", Legs: [][][2]float64{{{121.47, 31.23}, {121.475, 31.235}, {121.48, 31.24}}}},
			{Name: "k2", Legs: [][][2]float64{{{121.49, 31.25}, {121.48, 31.24}}}}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, &Data{Policies: []Policy{{Name: "optimize"}}, Map: m}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if !strings.Contains(html, " km</text>") && !strings.Contains(html, " m</text>") {
		t.Error("the map has no scale bar")
	}
	for _, want := range []string{`id="routes"`, "Routes of the busiest couriers", "on the roads", "k&lt;1&gt;", "<polyline", `<rect x=`} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Count(html, "<polyline") != 2 {
		t.Errorf("%d polylines, want one per leg (2)", strings.Count(html, "<polyline"))
	}
	if strings.Contains(html, "k<1>") {
		t.Error("a track's name is not escaped")
	}
	// Without a map, no section.
	buf.Reset()
	Write(&buf, &Data{Policies: []Policy{{Name: "optimize"}}})
	if strings.Contains(buf.String(), `id="routes"`) {
		t.Error("a report without a map has a routes section")
	}
}

func TestNiceMetres(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{1, 1}, {3.4, 2}, {740, 500}, {1999, 1000}, {5200, 5000}, {0, 1}} {
		if got := niceMetres(c.in); got != c.want {
			t.Errorf("niceMetres(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

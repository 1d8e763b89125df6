// Package roadstest writes small OpenStreetMap extracts for the tests of the packages that take a road map, so
// that they need no data from outside the repository.
package roadstest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// Grid writes an OSM XML extract of a square grid of two-way residential streets, n × n junctions spacing metres
// apart, centred on centre (lon/lat), into a temporary directory of t, and returns its path.
func Grid(t testing.TB, centre orb.Point, n int, spacing float64) string {
	t.Helper()
	dLat := spacing / 111_320
	dLon := dLat / math.Cos(centre[1]*math.Pi/180)
	half := float64(n-1) / 2
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"dispatchd test\">\n")
	id := func(i, j int) int { return 1 + i*n + j }
	for i := range n {
		for j := range n {
			fmt.Fprintf(&b, "  <node id=\"%d\" version=\"1\" lat=\"%.7f\" lon=\"%.7f\"/>\n", id(i, j),
				centre[1]+(float64(i)-half)*dLat, centre[0]+(float64(j)-half)*dLon)
		}
	}
	way := 1_000_000
	street := func(nodes []int) {
		way++
		fmt.Fprintf(&b, "  <way id=\"%d\" version=\"1\">\n", way)
		for _, nd := range nodes {
			fmt.Fprintf(&b, "    <nd ref=\"%d\"/>\n", nd)
		}
		b.WriteString("    <tag k=\"highway\" v=\"residential\"/>\n  </way>\n")
	}
	for i := range n {
		var row, col []int
		for j := range n {
			row, col = append(row, id(i, j)), append(col, id(j, i))
		}
		street(row)
		street(col)
	}
	b.WriteString("</osm>\n")
	path := filepath.Join(t.TempDir(), "grid.osm")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// River writes an OSM XML extract of two streets along the banks of a river that runs north from south (lon/lat),
// width metres apart, length metres long, joined by one bridge at their north end: a place on one bank is a short
// way across the water from the other bank but a long ride round by the bridge.
func River(t testing.TB, south orb.Point, width, length float64) string {
	t.Helper()
	dLat := length / 111_320 / 10
	dLon := width / 111_320 / math.Cos(south[1]*math.Pi/180)
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"dispatchd test\">\n")
	for bank := range 2 {
		for i := range 11 {
			fmt.Fprintf(&b, "  <node id=\"%d\" version=\"1\" lat=\"%.7f\" lon=\"%.7f\"/>\n", 1+bank*100+i,
				south[1]+float64(i)*dLat, south[0]+float64(bank)*dLon)
		}
	}
	for bank := range 2 {
		fmt.Fprintf(&b, "  <way id=\"%d\" version=\"1\">\n", 1000+bank)
		for i := range 11 {
			fmt.Fprintf(&b, "    <nd ref=\"%d\"/>\n", 1+bank*100+i)
		}
		b.WriteString("    <tag k=\"highway\" v=\"residential\"/>\n  </way>\n")
	}
	b.WriteString("  <way id=\"1002\" version=\"1\">\n    <nd ref=\"11\"/>\n    <nd ref=\"111\"/>\n" +
		"    <tag k=\"highway\" v=\"residential\"/>\n    <tag k=\"bridge\" v=\"yes\"/>\n  </way>\n</osm>\n")
	path := filepath.Join(t.TempDir(), "river.osm")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

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

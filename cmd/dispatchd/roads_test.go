package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gridTown writes an OpenStreetMap extract (XML) of a 5 × 5 grid of two-way residential streets, 0.0025° apart,
// south-west corner at 31.230 N 121.470 E: about 1 km across.
func gridTown(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"dispatchd test\">\n")
	id := func(i, j int) int { return 1 + i*5 + j }
	for i := range 5 {
		for j := range 5 {
			fmt.Fprintf(&b, "  <node id=\"%d\" version=\"1\" lat=\"%.4f\" lon=\"%.4f\"/>\n", id(i, j), 31.230+0.0025*float64(i), 121.470+0.0025*float64(j))
		}
	}
	way := 100
	street := func(nodes []int) {
		way++
		fmt.Fprintf(&b, "  <way id=\"%d\" version=\"1\">\n", way)
		for _, n := range nodes {
			fmt.Fprintf(&b, "    <nd ref=\"%d\"/>\n", n)
		}
		b.WriteString("    <tag k=\"highway\" v=\"residential\"/>\n  </way>\n")
	}
	for i := range 5 {
		var row, col []int
		for j := range 5 {
			row, col = append(row, id(i, j)), append(col, id(j, i))
		}
		street(row)
		street(col)
	}
	b.WriteString("</osm>\n")
	path := filepath.Join(t.TempDir(), "town.osm")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMapPrepareAndServe(t *testing.T) {
	osm := gridTown(t)
	out := filepath.Join(t.TempDir(), "town.map")
	var stdout bytes.Buffer
	if err := runMap(context.Background(), []string{"prepare", "--osm", osm, "--out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "wrote "+out) {
		t.Fatalf("prepare said %q", stdout.String())
	}
	if left, _ := filepath.Glob(out + ".*.tmp"); len(left) > 0 {
		t.Fatalf("prepare left %v behind", left)
	}

	// The prepared file and the raw extract both serve.
	for _, m := range []string{out, osm} {
		t.Run(filepath.Ext(m), func(t *testing.T) {
			c, _ := startMain(t, t.TempDir(), "--map", m)
			var table struct{ Durations, Distances [][]*float64 }
			c.must(200, "POST", "/v1/travel-times", testAdminToken, map[string]any{"profile": "car",
				"sources":      []map[string]float64{{"lat": 31.2300, "lon": 121.4700}},
				"destinations": []map[string]float64{{"lat": 31.2400, "lon": 121.4800}, {"lat": 31.2300, "lon": 121.4700}}}, &table)
			d, m := table.Durations[0][0], table.Distances[0][0]
			// Corner to corner on the grid: 0.01° north and 0.01° east, about 1 112 + 952 m.
			if d == nil || m == nil || *m < 2000 || *m > 2100 || *d <= 0 {
				t.Fatalf("corner to corner: %v s, %v m", d, m)
			}
			if z := table.Durations[0][1]; z == nil || *z != 0 {
				t.Fatalf("a place to itself: %v s", z)
			}
			status, body := c.do("POST", "/v1/travel-times", testAdminToken, map[string]any{"profile": "car",
				"sources":      []map[string]float64{{"lat": 31.2300, "lon": 121.4700}},
				"destinations": []map[string]float64{{"lat": 31.30, "lon": 121.4700}}})
			if status != 400 || !strings.Contains(string(body), `"field":"destinations[0]"`) {
				t.Fatalf("a place 7 km from the roads: %d %s", status, body)
			}
			c.must(201, "PUT", "/v1/stores/s1", testAdminToken, map[string]any{"location": map[string]float64{"lat": 31.2325, "lon": 121.4725}}, nil)
			status, body = c.do("PUT", "/v1/stores/s2", testAdminToken, map[string]any{"location": map[string]float64{"lat": 31.30, "lon": 121.4725}})
			if status != 400 || !strings.Contains(string(body), `"field":"location"`) {
				t.Fatalf("a store 7 km from the roads: %d %s", status, body)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	osm := gridTown(t)
	if err := runMap(context.Background(), []string{"prepare", "--out", "x.map"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--osm is required") {
		t.Fatalf("prepare without --osm: %v", err)
	}
	if err := runMap(context.Background(), []string{"draw"}, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown map command was taken")
	}
	// A damaged map file is refused at start, saying so.
	out := filepath.Join(t.TempDir(), "town.map")
	if err := runMap(context.Background(), []string{"prepare", "--osm", osm, "--out", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	b[len(b)/2] ^= 0xff
	os.WriteFile(out, b, 0o644)
	foreign := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(foreign, []byte("shopping list: milk, eggs\n"), 0o644)
	for _, tc := range []struct{ path, want string }{{out, "checksum"}, {foreign, "not a dispatchd map file"}} {
		m := NewMain(io.Discard)
		env := map[string]string{"DISPATCHD_ADMIN_TOKEN": testAdminToken}
		if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--map", tc.path}, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "--map") || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("--map %s: %v, want an error saying %q", tc.path, err, tc.want)
		}
	}
}

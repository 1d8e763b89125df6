package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

func TestTable(t *testing.T) {
	// 5 × 5 streets 250 m apart around 31.235 N 121.475 E: corner to corner is 2 km on the roads.
	town := roadstest.Grid(t, orb.Point{121.475, 31.235}, 5, 250)
	dLat := 500 / 111_320.0
	dLon := dLat / math.Cos(31.235*math.Pi/180)
	sw := []string{strconv.FormatFloat(31.235-dLat, 'f', 7, 64), strconv.FormatFloat(121.475-dLon, 'f', 7, 64)}
	ne := []string{strconv.FormatFloat(31.235+dLat, 'f', 7, 64), strconv.FormatFloat(121.475+dLon, 'f', 7, 64)}
	dir := t.TempDir()
	pairs := filepath.Join(dir, "pairs.csv")
	rows := [][]string{pairsHeader, append(append([]string{}, sw...), ne...), append(append([]string{}, ne...), ne...)}
	var b strings.Builder
	csv.NewWriter(&b).WriteAll(rows)
	os.WriteFile(pairs, []byte(b.String()), 0o644)

	out := filepath.Join(dir, "out.csv")
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"table", "--map", town, "--profile", "bike", "--pairs", pairs, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	got, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(got) != 3 {
		t.Fatalf("%v: %v", err, got)
	}
	if strings.Join(got[0], ",") != "from_lat,from_lon,to_lat,to_lon,seconds,metres" {
		t.Fatalf("header %v", got[0])
	}
	for i := 1; i < 3; i++ {
		if strings.Join(got[i][:4], ",") != strings.Join(rows[i], ",") {
			t.Fatalf("row %d is %v, not the input's %v", i, got[i][:4], rows[i])
		}
	}
	secs, _ := strconv.ParseFloat(got[1][4], 64)
	metres, _ := strconv.ParseFloat(got[1][5], 64)
	if math.Abs(metres-2000) > 2 || secs <= 0 {
		t.Fatalf("corner to corner: %v s %v m, want 2 000 m", secs, metres)
	}
	if got[2][4] != "0.0" || got[2][5] != "0.0" {
		t.Fatalf("a place to itself: %v", got[2])
	}

	// Errors name what is wrong.
	bad := filepath.Join(dir, "bad.csv")
	for _, tc := range []struct{ body, want string }{
		{"lat,lon,to_lat,to_lon\n1,2,3,4\n", "header"},
		{"from_lat,from_lon,to_lat,to_lon\n31.2,121.4,x,121.4\n", "row 2: to_lat"},
		{"from_lat,from_lon,to_lat,to_lon\n" + strings.Join(sw, ",") + ",31.5,121.475\n", "row 2"},
	} {
		os.WriteFile(bad, []byte(tc.body), 0o644)
		err := run(testEnv, []string{"table", "--map", town, "--profile", "bike", "--pairs", bad, "--out", out}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%q: %v, want an error naming %q", tc.body, err, tc.want)
		}
	}
	if err := run(testEnv, []string{"table", "--map", town, "--pairs", pairs, "--out", out}, &stdout, &stderr); err == nil {
		t.Fatal("table without --profile ran")
	}
}

func TestScenarioOnAMap(t *testing.T) {
	// small-town.json is a disc of 3 km around 30.0 N 120.5 E: a grid of streets 250 m apart covers it.
	town := roadstest.Grid(t, orb.Point{120.5, 30.0}, 25, 250)
	onMap, again, plain := t.TempDir(), t.TempDir(), t.TempDir()
	for _, c := range []struct {
		dir  string
		args []string
	}{{onMap, []string{"--map", town}}, {again, []string{"--map", town}}, {plain, nil}} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"run", "--scenario", "../../sim/scenarios/small-town.json", "--seed", "3", "--out", c.dir, "--quiet"}, c.args...)
		if err := run(testEnv, args, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(onMap, "summary.json"))
	b, _ := os.ReadFile(filepath.Join(again, "summary.json"))
	c, _ := os.ReadFile(filepath.Join(plain, "summary.json"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("two runs of the same scenario and seed on the same map differ")
	}
	if bytes.Equal(a, c) {
		t.Fatal("the day on the map is the day on straight lines")
	}
	html, _ := os.ReadFile(filepath.Join(onMap, "report.html"))
	if !bytes.Contains(html, []byte("on the roads of")) {
		t.Fatal("the report does not say the day ran on a map")
	}
	if !bytes.Contains(html, []byte("rode, on the roads of the map")) {
		t.Fatal("the report's map does not draw the routes on the roads")
	}
	if err := run(testEnv, []string{"run", "--mdrp", "x", "--map", town, "--out", onMap}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--map is for scenarios") {
		t.Fatalf("MDRP with a map: %v", err)
	}
}

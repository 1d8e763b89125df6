package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

// gridTown writes a town of 5 × 5 two-way streets 250 m apart around 31.235 N 121.475 E: its corners are 1 km
// from the centre each way, so a ride corner to corner is 2 km.
func gridTown(t *testing.T) string {
	return roadstest.Grid(t, orb.Point{121.475, 31.235}, 5, 250)
}

// corner is the south-west (-1, -1) or north-east (1, 1) corner of gridTown, as the API writes places.
func corner(sign float64) map[string]float64 {
	dLat := 500 / 111_320.0
	return map[string]float64{"lat": 31.235 + sign*dLat, "lon": 121.475 + sign*dLat/math.Cos(31.235*math.Pi/180)}
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

	// The prepared file and the raw extract both serve, and so does the file keeping no search spaces.
	for _, tc := range []struct {
		name string
		args []string
	}{{"prepared", []string{"--map", out}}, {"raw", []string{"--map", osm}},
		{"prepared, no spaces kept", []string{"--map", out, "--map-kept-share", "0"}}} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := startMain(t, t.TempDir(), tc.args...)
			var table struct{ Durations, Distances [][]*float64 }
			c.must(200, "POST", "/v1/travel-times", testAdminToken, map[string]any{"profile": "car",
				"sources":      []map[string]float64{corner(-1)},
				"destinations": []map[string]float64{corner(1), corner(-1)}}, &table)
			d, m := table.Durations[0][0], table.Distances[0][0]
			if d == nil || m == nil || math.Abs(*m-2000) > 2 || *d <= 0 {
				t.Fatalf("corner to corner: %v s, %v m", d, m)
			}
			if z := table.Durations[0][1]; z == nil || *z != 0 {
				t.Fatalf("a place to itself: %v s", z)
			}
			status, body := c.do("POST", "/v1/travel-times", testAdminToken, map[string]any{"profile": "car",
				"sources":      []map[string]float64{corner(-1)},
				"destinations": []map[string]float64{{"lat": 31.30, "lon": 121.4700}}})
			if status != 400 || !strings.Contains(string(body), `"field":"destinations[0]"`) {
				t.Fatalf("a place 7 km from the roads: %d %s", status, body)
			}
			// A plan on the map: the leg from pickup to delivery takes the road time of the table.
			ship := func(to map[string]float64) map[string]any {
				return map[string]any{"start": "2026-12-07T08:00:00Z", "iterations": 20,
					"vehicles":  []map[string]any{{"id": "v", "profile": "car", "start": corner(-1)}},
					"shipments": []map[string]any{{"id": "s", "pickup": map[string]any{"location": corner(-1)}, "delivery": map[string]any{"location": to}}}}
			}
			var plan struct {
				Routes []struct {
					Stops []struct{ Kind, Arrival, Depart string }
				}
			}
			c.must(200, "POST", "/v1/plans", testAdminToken, ship(corner(1)), &plan)
			if len(plan.Routes) != 1 || len(plan.Routes[0].Stops) != 4 || plan.Routes[0].Stops[1].Kind != "pickup" || plan.Routes[0].Stops[2].Kind != "delivery" {
				t.Fatalf("plan %+v, want one route start, pickup, delivery, end", plan)
			}
			leave, _ := time.Parse(time.RFC3339Nano, plan.Routes[0].Stops[1].Depart)
			arrive, _ := time.Parse(time.RFC3339Nano, plan.Routes[0].Stops[2].Arrival)
			if got := arrive.Sub(leave).Seconds(); math.Abs(got-*d) > 0.1 {
				t.Fatalf("the plan's leg corner to corner takes %v s, the table says %v s", got, *d)
			}
			status, body = c.do("POST", "/v1/plans", testAdminToken, ship(map[string]float64{"lat": 31.30, "lon": 121.4700}))
			if status != 400 || !strings.Contains(string(body), `"field":"shipments[0].delivery.location"`) {
				t.Fatalf("a plan's place 7 km from the roads: %d %s", status, body)
			}
			c.must(201, "PUT", "/v1/stores/s1", testAdminToken, map[string]any{"location": map[string]float64{"lat": 31.2355, "lon": 121.4755}}, nil)
			status, body = c.do("PUT", "/v1/stores/s2", testAdminToken, map[string]any{"location": map[string]float64{"lat": 31.30, "lon": 121.4725}})
			if status != 400 || !strings.Contains(string(body), `"field":"location"`) {
				t.Fatalf("a store 7 km from the roads: %d %s", status, body)
			}
		})
	}
}

// TestPlanWithoutMap: without --map, plans travel in straight lines, the daemon's own model: a bike covers the
// 2 km diagonal of gridTown's box (by air, about 1.4 km times the detour) in the time the model gives.
func TestPlanWithoutMap(t *testing.T) {
	c, _ := startMain(t, t.TempDir())
	var plan struct {
		Routes []struct {
			Stops []struct{ Kind, Arrival, Depart string }
		}
		Unassigned []any
	}
	c.must(200, "POST", "/v1/plans", testAdminToken, map[string]any{"start": "2026-12-07T08:00:00Z", "iterations": 20,
		"vehicles":  []map[string]any{{"id": "v", "profile": "bike", "start": corner(-1)}},
		"shipments": []map[string]any{{"id": "s", "pickup": map[string]any{"location": corner(-1)}, "delivery": map[string]any{"location": corner(1)}}}}, &plan)
	if len(plan.Routes) != 1 || len(plan.Routes[0].Stops) != 4 || len(plan.Unassigned) != 0 {
		t.Fatalf("plan %+v", plan)
	}
	leave, _ := time.Parse(time.RFC3339Nano, plan.Routes[0].Stops[1].Depart)
	arrive, _ := time.Parse(time.RFC3339Nano, plan.Routes[0].Stops[2].Arrival)
	a, b := corner(-1), corner(1)
	want := geo.NewStraightLine(geo.Geographic).TravelTime(orb.Point{a["lon"], a["lat"]}, orb.Point{b["lon"], b["lat"]}, geo.Bike)
	if got := arrive.Sub(leave); got.Round(time.Millisecond) != want.Round(time.Millisecond) {
		t.Fatalf("the leg takes %s, straight lines say %s", got, want)
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

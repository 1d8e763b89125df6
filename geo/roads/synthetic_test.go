package roads

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

func TestFromGraph(t *testing.T) {
	// A square 0-1-2-3 of 1 km streets at 36 km/h (100 s each), 0→1 one-way, and a 100 km/h fast road 0–2.
	coords := [][2]float64{{10, 45}, {10.0127, 45}, {10.0127, 45.009}, {10, 45.009}}
	street := func(u, v int32) ch.Edge {
		m := geo.Geographic.Distance(coords[u], coords[v])
		return ch.Edge{From: u, To: v, Weight: uint32(m / 10 * 1000), Length: uint32(m * 10)}
	}
	fast := func(u, v int32) ch.Edge {
		m := geo.Geographic.Distance(coords[u], coords[v])
		return ch.Edge{From: u, To: v, Weight: uint32(m / (100 / 3.6) * 1000), Length: uint32(m * 10)}
	}
	edges := []ch.Edge{street(0, 1), street(1, 2), street(2, 1), street(2, 3), street(3, 2), street(3, 0), street(0, 3),
		fast(0, 2), fast(2, 0)}
	net, err := FromGraph(4, edges, coords, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := net.Stats()
	if s.Nodes != 4 || s.Edges != 5 {
		t.Errorf("%d nodes, %d edges; want 4 and 5 (the pairs of reverse edges merged)", s.Nodes, s.Edges)
	}
	if s.Profiles[geo.Car].Edges != 9 || s.Profiles[geo.Bike].Edges != 7 || s.Profiles[geo.Foot].Edges != 8 {
		t.Errorf("arcs: car %d (want 9), bike %d (7), foot %d (8)", s.Profiles[geo.Car].Edges, s.Profiles[geo.Bike].Edges, s.Profiles[geo.Foot].Edges)
	}
	p0, p1, p2 := orb.Point(coords[0]), orb.Point(coords[1]), orb.Point(coords[2])
	// By car 0→2 takes the fast road; 1→0 goes round by 2 and 3, or by the fast road from 2.
	carFast := float64(fast(0, 2).Weight) / 1000
	if got := net.TravelTime(p0, p2, geo.Car).Seconds(); math.Abs(got-carFast) > 0.01 {
		t.Errorf("car 0→2: %.2fs, want the fast road's %.2fs", got, carFast)
	}
	// A bicycle cannot take the fast road nor ride 1→0: 1→2→3→0 at 16 km/h.
	m := geo.Geographic.Distance(coords[1], coords[2]) + geo.Geographic.Distance(coords[2], coords[3]) + geo.Geographic.Distance(coords[3], coords[0])
	if got, want := net.TravelTime(p1, p0, geo.Bike).Seconds(), m/(bikeRoadKMH/3.6); math.Abs(got-want) > 0.01*want {
		t.Errorf("bike 1→0: %.1fs, want %.1fs round the square", got, want)
	}
	// Walkers ignore the one-way.
	if got, want := net.TravelTime(p1, p0, geo.Foot).Seconds(), geo.Geographic.Distance(coords[0], coords[1])/(footKMH/3.6); math.Abs(got-want) > 0.01*want {
		t.Errorf("foot 1→0: %.1fs, want %.1fs", got, want)
	}

	if _, err := FromGraph(4, edges, coords[:3], Options{}); err == nil || !strings.Contains(err.Error(), "3 coordinates for 4 nodes") {
		t.Errorf("short coords: %v", err)
	}
	if _, err := FromGraph(4, append(edges, ch.Edge{From: 0, To: 9}), coords, Options{}); err == nil || !strings.Contains(err.Error(), "edges[9]") {
		t.Errorf("edge out of range: %v", err)
	}
}

func TestSyntheticSmallCity(t *testing.T) {
	spec := ch.BenchCity()
	spec.Nodes = 3000
	spec.MaxLon = spec.MinLon + (spec.MaxLon-spec.MinLon)/18
	spec.MaxLat = spec.MinLat + (spec.MaxLat-spec.MinLat)/18
	net, err := Synthetic(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := net.Stats()
	t.Log(s)
	// The city is strongly connected for cars, which drive every edge: nothing is dropped.
	if s.Profiles[geo.Car].Dropped != 0 || s.Profiles[geo.Car].Nodes != s.Nodes {
		t.Errorf("car: %+v of %d nodes", s.Profiles[geo.Car], s.Nodes)
	}
	if s.Nodes < 2000 || s.Nodes > 3500 {
		t.Errorf("%d nodes for a spec of %d", s.Nodes, spec.Nodes)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pts := randomPoints(net, rng, 60)
	var times []time.Duration
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		for i := 0; i+1 < len(pts); i += 2 {
			d := net.TravelTime(pts[i], pts[i+1], p)
			if d <= 0 || d == math.MaxInt64 {
				t.Errorf("%s %v→%v: %v", p, pts[i], pts[i+1], d)
			}
			times = append(times, d)
			if pt, ok := net.Snap(pts[i], p); !ok || geo.Geographic.Distance(pt, pts[i]) > 300 {
				t.Errorf("%s: %v snapped to %v, %v", p, pts[i], pt, ok)
			}
		}
	}

	// Keeping the top of every hierarchy changes no answer, and stops when asked to.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := net.KeepTop(ctx); err == nil {
		t.Error("KeepTop on a cancelled context returned no error")
	}
	bytes, err := net.KeepTop(context.Background())
	if err != nil || bytes <= 0 {
		t.Fatalf("KeepTop: %d bytes, %v", bytes, err)
	}
	// A fresh network of the same spec keeping no top spaces (Options.KeptShare) answers the same.
	fresh, err := Synthetic(spec, Options{KeptShare: -1})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fresh.KeepTop(context.Background()); err != nil || b != 0 {
		t.Errorf("KeepTop with no share kept: %d bytes, %v", b, err)
	}
	k := 0
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		for i := 0; i+1 < len(pts); i += 2 {
			if d, want := net.TravelTime(pts[i], pts[i+1], p), fresh.TravelTime(pts[i], pts[i+1], p); d != want || d != times[k] {
				t.Errorf("%s %v→%v: %v after KeepTop, %v before, %v on a fresh network", p, pts[i], pts[i+1], d, times[k], want)
			}
			k++
		}
	}
}

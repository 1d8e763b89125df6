package roads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// The test town, on a grid of 0.002° of longitude (157 m at 45° N) by 0.001° of latitude (111 m):
//
//	y=5                                  9 ── 10   (an island: a street joined to nothing)
//	y=3  4 ◄──────── 3
//	     │           │            8
//	y=1  5 ────────► 6            │
//	     │       ⋰   │            │
//	y=0  1 ───────── 2 ═══bridge═══ 7
//	     x=0   x=1   x=2   x=3   x=4
//
// 3→4 is one-way; 5→6 is one-way for cars with a contraflow lane for bicycles; 1–6 is a footway; a private
// service road runs from 2 to 4; a river runs north–south at x=3 under the bridge 2–7.
var townNodes = map[int][2]float64{
	1: {0, 0}, 2: {2, 0}, 3: {2, 3}, 4: {0, 3}, 5: {0, 1}, 6: {2, 1}, 7: {4, 0}, 8: {4, 2},
	9: {6, 5}, 10: {7, 5}, 11: {3, -1}, 12: {3, 4}, 13: {1, 1.5},
}

func townPoint(x, y float64) orb.Point { return orb.Point{10 + 0.002*x, 45 + 0.001*y} }

func townNode(id int) orb.Point { c := townNodes[id]; return townPoint(c[0], c[1]) }

type townWay struct {
	nodes []int
	tags  map[string]string
}

var townWays = []townWay{
	{[]int{1, 2}, map[string]string{"highway": "residential", "name": "South Street"}},
	{[]int{1, 5, 4}, map[string]string{"highway": "residential", "name": "West Street"}},
	{[]int{2, 6, 3}, map[string]string{"highway": "residential", "name": "East Street"}},
	{[]int{3, 4}, map[string]string{"highway": "residential", "oneway": "yes", "name": "North Street"}},
	{[]int{5, 6}, map[string]string{"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"}},
	{[]int{1, 6}, map[string]string{"highway": "footway"}},
	{[]int{2, 13, 4}, map[string]string{"highway": "service", "access": "private"}},
	{[]int{2, 7}, map[string]string{"highway": "residential", "bridge": "yes", "layer": "1"}},
	{[]int{7, 8}, map[string]string{"highway": "residential"}},
	{[]int{9, 10}, map[string]string{"highway": "residential"}},
	{[]int{11, 12}, map[string]string{"waterway": "river"}},
}

// writeTown writes the test town as OSM XML and returns its path.
func writeTown(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"dispatchd test\">\n")
	for id := 1; id <= len(townNodes); id++ {
		p := townNode(id)
		fmt.Fprintf(&b, "  <node id=\"%d\" version=\"1\" lat=\"%.7f\" lon=\"%.7f\"/>\n", id, p[1], p[0])
	}
	for i, w := range townWays {
		fmt.Fprintf(&b, "  <way id=\"%d\" version=\"1\">\n", 100+i)
		for _, n := range w.nodes {
			fmt.Fprintf(&b, "    <nd ref=\"%d\"/>\n", n)
		}
		for k, v := range w.tags {
			fmt.Fprintf(&b, "    <tag k=\"%s\" v=\"%s\"/>\n", k, v)
		}
		b.WriteString("  </way>\n")
	}
	b.WriteString("</osm>\n")
	path := filepath.Join(t.TempDir(), "town.osm")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTown(t testing.TB) *Network {
	t.Helper()
	net, err := Open(writeTown(t))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// dist is the great-circle metres along the town's nodes.
func dist(ids ...int) float64 {
	var m float64
	for i := 1; i < len(ids); i++ {
		m += geo.Geographic.Distance(townNode(ids[i-1]), townNode(ids[i]))
	}
	return m
}

// speedKMH is each profile's speed on the town's residential streets and footway.
func townSpeed(p geo.Profile, footway bool) float64 {
	switch p {
	case geo.Foot:
		return footKMH
	case geo.Bike:
		if footway {
			return bikePathKMH
		}
		return bikeRoadKMH
	case geo.EBike:
		return bikeRoadKMH * ebikeFactor
	}
	return carKMH["residential"]
}

func TestTownRoutes(t *testing.T) {
	net := openTown(t)
	cases := []struct {
		name     string
		from, to int
		want     map[geo.Profile][]int // the nodes each profile's trip passes
		tie      bool                  // two ways of the same length: check the ends only
	}{
		{"the one-way north street: vehicles go round by the middle street", 4, 3, map[geo.Profile][]int{
			geo.Foot: {4, 3}, geo.Bike: {4, 5, 6, 3}, geo.EBike: {4, 5, 6, 3}, geo.Scooter: {4, 5, 6, 3}, geo.Car: {4, 5, 6, 3},
		}, false},
		{"the contraflow lane: bicycles ride it, cars go round by the south", 6, 5, map[geo.Profile][]int{
			geo.Foot: {6, 5}, geo.Bike: {6, 5}, geo.EBike: {6, 5}, geo.Scooter: {6, 2, 1, 5}, geo.Car: {6, 2, 1, 5},
		}, false},
		// Vehicles have two ways of the same length here (by 2 or by 5).
		{"the footway: only walkers cut across", 1, 6, map[geo.Profile][]int{
			geo.Foot: {1, 6}, geo.Bike: {1, 2, 6}, geo.EBike: {1, 2, 6}, geo.Scooter: {1, 2, 6}, geo.Car: {1, 2, 6},
		}, true},
		// The private road 2–4 would take 368 m; every way round takes 490 m (by 1 and 5, or by 6 and 3).
		{"the private road: nobody takes it", 2, 4, map[geo.Profile][]int{
			geo.Foot: {2, 1, 5, 4}, geo.Bike: {2, 1, 5, 4}, geo.EBike: {2, 1, 5, 4}, geo.Scooter: {2, 1, 5, 4}, geo.Car: {2, 1, 5, 4},
		}, true},
		{"the bridge: the only way over the river", 8, 1, map[geo.Profile][]int{
			geo.Foot: {8, 7, 2, 1}, geo.Bike: {8, 7, 2, 1}, geo.EBike: {8, 7, 2, 1}, geo.Scooter: {8, 7, 2, 1}, geo.Car: {8, 7, 2, 1},
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for p := geo.Profile(0); p < geo.NumProfiles; p++ {
				nodes := c.want[p]
				metres := dist(nodes...)
				footway := c.from == 1 && c.to == 6 && p == geo.Foot
				wantSec := metres / (townSpeed(p, footway) / 3.6)
				got := net.TravelTime(townNode(c.from), townNode(c.to), p)
				if math.Abs(got.Seconds()-wantSec) > 0.01*wantSec {
					t.Errorf("%s: %v, want %.1fs (%.0f m through %v)", p, got, wantSec, metres, nodes)
				}
				path, err := net.Path(townNode(c.from), townNode(c.to), p)
				if err != nil {
					t.Fatalf("%s: Path: %v", p, err)
				}
				if path.Duration != got {
					t.Errorf("%s: Path duration %v, TravelTime %v", p, path.Duration, got)
				}
				if math.Abs(path.Metres-metres) > 0.5 {
					t.Errorf("%s: Path %.1f m, want %.1f m through %v", p, path.Metres, metres, nodes)
				}
				for i, id := range nodes {
					if c.tie && i > 0 && i < len(nodes)-1 {
						continue
					}
					if !lineHas(path.Points, townNode(id)) {
						t.Errorf("%s: path %v does not pass node %d", p, path.Points, id)
					}
				}
			}
		})
	}
}

func lineHas(l orb.LineString, p orb.Point) bool {
	for _, q := range l {
		if geo.Geographic.Distance(p, q) < 0.01 {
			return true
		}
	}
	return false
}

func TestTownStats(t *testing.T) {
	net := openTown(t)
	s := net.Stats()
	// Nodes 1–8 are junctions or way ends of kept roads; the island's two nodes and the private road's shape
	// point are gone, and the river is not a road.
	if s.Nodes != 8 {
		t.Errorf("Nodes = %d, want 8", s.Nodes)
	}
	// South, West ×2, East ×2, North, middle, footway, bridge, 7–8.
	if s.Edges != 10 {
		t.Errorf("Edges = %d, want 10", s.Edges)
	}
	want := [geo.NumProfiles]ProfileStats{
		geo.Foot:    {Nodes: 8, Edges: 20, Dropped: 2},
		geo.Bike:    {Nodes: 8, Edges: 17, Dropped: 2},
		geo.EBike:   {Nodes: 8, Edges: 17, Dropped: 2, Shared: "bike"},
		geo.Scooter: {Nodes: 8, Edges: 16, Dropped: 2},
		geo.Car:     {Nodes: 8, Edges: 16, Dropped: 2},
	}
	if s.Profiles != want {
		t.Errorf("Profiles = %+v\nwant %+v", s.Profiles, want)
	}
	if !s.Bound.Contains(townNode(8)) || s.Bound.Contains(townNode(9)) {
		t.Errorf("Bound %v should hold node 8 and not the island's node 9", s.Bound)
	}
	if !strings.Contains(s.String(), "2 nodes dropped") {
		t.Errorf("report does not say what was dropped:\n%s", s)
	}
}

func TestTownIslandDropped(t *testing.T) {
	net := openTown(t)
	// A point on the island snaps to the nearest kept road, 7–8, two columns west.
	island := townPoint(6.5, 5)
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		got, ok := net.Snap(island, p)
		if !ok || geo.Geographic.Distance(got, townNode(8)) > 0.01 {
			t.Errorf("%s: island point snapped to %v, want node 8 %v", p, got, townNode(8))
		}
	}
}

func TestTownWalkToTheRoad(t *testing.T) {
	net := openTown(t)
	// 50 m north of the middle of South Street, to 50 m south of it: the walks add 2 × 50 m at WalkKMH.
	north := townPoint(1, 50/111.195)
	south := townPoint(1, -50/111.195)
	got := net.TravelTime(north, south, geo.Car)
	want := 2 * 50 / (WalkKMH / 3.6)
	if math.Abs(got.Seconds()-want) > 0.02*want {
		t.Errorf("TravelTime = %v, want the two walks, %.1fs", got, want)
	}
}

func TestTownCheckPoint(t *testing.T) {
	net := openTown(t)
	if err := net.CheckPoint(townPoint(1, 0.5)); err != nil {
		t.Errorf("a point between streets: %v", err)
	}
	far := townPoint(1, 10) // 7 × 111 m north of North Street
	err := net.CheckPoint(far)
	if !errors.Is(err, geo.ErrOffRoad) {
		t.Fatalf("CheckPoint(far) = %v, want geo.ErrOffRoad", err)
	}
	metres := fmt.Sprintf("%.0f m", geo.Geographic.Distance(far, townPoint(1, 3)))
	if !strings.Contains(err.Error(), metres) || !strings.Contains(err.Error(), "500 m") {
		t.Errorf("error %q should give the distance (%s) and the limit (500 m)", err, metres)
	}
	if err := net.CheckPoint(orb.Point{200, 0}); !errors.Is(err, geo.ErrInvalidPoint) {
		t.Errorf("CheckPoint(lon 200) = %v, want geo.ErrInvalidPoint", err)
	}
	wide, err := OpenWith(context.Background(), writeTown(t), Options{SnapLimitMetres: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := wide.CheckPoint(far); err != nil {
		t.Errorf("with a 1000 m limit: %v", err)
	}
}

func TestTownTableAndPointError(t *testing.T) {
	net := openTown(t)
	pts := []orb.Point{townNode(1), townNode(3), townPoint(1, 0.2), townNode(8)}
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		dur, metres, err := net.Table(pts, pts, p)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range pts {
			for j, b := range pts {
				want := net.TravelTime(a, b, p)
				if got := dur[i*len(pts)+j]; got != want {
					t.Errorf("%s: Table[%d][%d] = %v, TravelTime %v", p, i, j, got, want)
				}
				path, err := net.Path(a, b, p)
				if err != nil {
					t.Fatal(err)
				}
				if got := metres[i*len(pts)+j]; math.Abs(got-path.Metres) > 0.2 {
					t.Errorf("%s: Table metres [%d][%d] = %.1f, Path %.1f", p, i, j, got, path.Metres)
				}
			}
		}
	}
	_, _, err := net.Table(pts, append(pts[:2:2], townPoint(1, 10)), geo.Car)
	var pe *geo.PointError
	if !errors.As(err, &pe) || pe.List != "destinations" || pe.Index != 2 || !errors.Is(err, geo.ErrOffRoad) {
		t.Errorf("Table with an off-road target = %v, want a *geo.PointError for destinations[2] wrapping ErrOffRoad", err)
	}
}

func TestTownSameEdge(t *testing.T) {
	net := openTown(t)
	// Two points on North Street (one-way 3→4, running west): westwards is a short ride along the street,
	// eastwards a car must go all the way round.
	east, west := townPoint(1.5, 3), townPoint(0.5, 3)
	along := geo.Geographic.Distance(east, west)
	speed := carKMH["residential"] / 3.6
	if got := net.TravelTime(east, west, geo.Car); math.Abs(got.Seconds()-along/speed) > 0.01*along/speed {
		t.Errorf("with the one-way: %v, want %.1fs", got, along/speed)
	}
	round := dist(4, 5, 6, 3) + 2*geo.Geographic.Distance(west, townNode(4))
	if got := net.TravelTime(west, east, geo.Car); math.Abs(got.Seconds()-round/speed) > 0.01*round/speed {
		t.Errorf("against the one-way: %v, want %.1fs (round the block)", got, round/speed)
	}
	if got := net.TravelTime(west, east, geo.Foot); math.Abs(got.Seconds()-along/(footKMH/3.6)) > 0.1 {
		t.Errorf("walking against the one-way: %v, want %.1fs", got, along/(footKMH/3.6))
	}
	p, err := net.Path(east, west, geo.Car)
	if err != nil || len(p.Points) != 2 {
		t.Errorf("Path along one edge = %v, %v; want the two points", p.Points, err)
	}
	if d := net.TravelTime(east, east, geo.Car); d != 0 {
		t.Errorf("a point to itself: %v", d)
	}
}

func TestTownUnreachable(t *testing.T) {
	net := openTown(t)
	if got := net.TravelTime(orb.Point{math.NaN(), 0}, townNode(1), geo.Car); got != time.Duration(math.MaxInt64) {
		t.Errorf("from an invalid point: %v", got)
	}
}

func TestTownSnapProjects(t *testing.T) {
	net := openTown(t)
	// 11 m south of the middle street's midpoint: the nearest node of any kept road is 157 m away (5 or 6),
	// the footway 42 m; the point goes onto the middle street, straight north.
	pt := townPoint(1, 0.9)
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		got, ok := net.Snap(pt, p)
		if !ok || geo.Geographic.Distance(got, townPoint(1, 1)) > 0.05 {
			t.Errorf("%s: snapped to %v, want the middle street's midpoint %v", p, got, townPoint(1, 1))
		}
	}
	// Past the end of South Street the projection stops at its end, node 1.
	if got, _ := net.Snap(townPoint(-0.2, -0.05), geo.Car); geo.Geographic.Distance(got, townNode(1)) > 0.01 {
		t.Errorf("beyond the street's end: snapped to %v, want node 1 %v", got, townNode(1))
	}
}

func TestProject(t *testing.T) {
	a, b := townPoint(0, 0), townPoint(2, 0)
	for _, c := range []struct {
		p     orb.Point
		wantT float64
	}{{townPoint(1, 1), 0.5}, {townPoint(-1, 1), 0}, {townPoint(3, -1), 1}, {townPoint(0.5, 0), 0.25}} {
		tt, q, d := project(c.p, a, b)
		if math.Abs(tt-c.wantT) > 1e-3 {
			t.Errorf("project(%v): t = %g, want %g", c.p, tt, c.wantT)
		}
		if want := geo.Geographic.Distance(c.p, q); d != want {
			t.Errorf("project(%v): distance %g, want %g to %v", c.p, d, want, q)
		}
	}
	if tt, q, _ := project(townPoint(1, 1), a, a); tt != 0 || q != a {
		t.Errorf("a segment of one point: t %g, q %v", tt, q)
	}
}

func TestTownOnlySomeProfiles(t *testing.T) {
	net, err := OpenWith(context.Background(), writeTown(t), Options{Profiles: []geo.Profile{geo.Car}})
	if err != nil {
		t.Fatal(err)
	}
	s := net.Stats()
	if s.Profiles[geo.Car].Nodes != 8 || s.Profiles[geo.Foot].Nodes != 0 || s.Profiles[geo.Bike].Edges != 0 {
		t.Errorf("only cars asked for: %+v", s.Profiles)
	}
	// A graph left out drops nothing, also once written to a map file and read back.
	var buf bytes.Buffer
	if _, err := net.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := decodeMap(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []Stats{s, back.Stats()} {
		for _, p := range []geo.Profile{geo.Foot, geo.Bike, geo.Scooter} {
			if d := st.Profiles[p].Dropped; d != 0 {
				t.Errorf("%s, left out, dropped %d nodes", p, d)
			}
		}
	}
	if got := net.TravelTime(townNode(1), townNode(3), geo.Foot); got != time.Duration(math.MaxInt64) {
		t.Errorf("walking without a walkers' graph: %v", got)
	}
	if got := net.TravelTime(townNode(6), townNode(5), geo.Car); math.Abs(got.Seconds()-dist(6, 2, 1, 5)/(25/3.6)) > 1 {
		t.Errorf("car 6→5: %v", got)
	}
	// CheckPoint measures against the car graph.
	if err := net.CheckPoint(townPoint(1, 10)); !errors.Is(err, geo.ErrOffRoad) {
		t.Errorf("far point: %v", err)
	}
	if err := net.CheckPoint(townPoint(1, 0.6)); err != nil {
		t.Errorf("near point: %v", err)
	}
	if _, err := OpenWith(context.Background(), writeTown(t), Options{Profiles: []geo.Profile{9}}); err == nil {
		t.Error("an undefined profile was accepted")
	}
}

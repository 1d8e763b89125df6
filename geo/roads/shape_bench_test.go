package roads

import (
	"math"
	"os"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// roadShape is what the synthetic city is calibrated on (see ch.SyntheticCity), measured on a car graph.
type roadShape struct {
	nodes, roads int
	// cellKM2 is the area of the 500 m squares that hold a node: the built-up area.
	cellKM2 float64
	// deg[d] is the share of nodes with d distinct neighbours (either direction), deg[5] five or more.
	deg        [6]float64
	km         float64
	oneWay     float64    // share of roads open one way only
	speedShare [4]float64 // share of road length by car speed: < 35, < 55, < 85, ≥ 85 km/h
}

// shapeRoad is a road between two nodes with its car speed each way (0: closed).
type shapeRoad struct {
	u, v     int32
	metres   float64
	fwd, bwd float64 // km/h
}

func measureShape(nodes []orb.Point, roads []shapeRoad) roadShape {
	s := roadShape{roads: len(roads)}
	nbr := make(map[[2]int32]bool)
	deg := make([]int, len(nodes))
	for _, r := range roads {
		if r.u == r.v {
			continue
		}
		k := [2]int32{min(r.u, r.v), max(r.u, r.v)}
		if !nbr[k] {
			nbr[k] = true
			deg[r.u]++
			deg[r.v]++
		}
		s.km += r.metres / 1000
		if (r.fwd > 0) != (r.bwd > 0) {
			s.oneWay++
		}
		kmh := max(r.fwd, r.bwd)
		band := 3
		switch {
		case kmh < 35:
			band = 0
		case kmh < 55:
			band = 1
		case kmh < 85:
			band = 2
		}
		s.speedShare[band] += r.metres / 1000
	}
	cells := make(map[[2]int]bool)
	for v, p := range nodes {
		if deg[v] == 0 {
			continue
		}
		s.nodes++
		s.deg[min(deg[v], 5)]++
		x := p[0] * 111.195 * math.Cos(p[1]*math.Pi/180) / 0.5
		y := p[1] * 111.195 / 0.5
		cells[[2]int{int(math.Floor(x)), int(math.Floor(y))}] = true
	}
	s.cellKM2 = 0.25 * float64(len(cells))
	for d := range s.deg {
		s.deg[d] /= float64(s.nodes)
	}
	for i := range s.speedShare {
		s.speedShare[i] /= s.km
	}
	s.oneWay /= float64(len(roads))
	return s
}

// networkShape measures the car graph of net.
func networkShape(net *Network) roadShape {
	gr := net.graphs[graphOf(geo.Car)]
	var roads []shapeRoad
	for e := range net.from {
		f, b := gr.w[0][e], gr.w[1][e]
		if f == 0 && b == 0 {
			continue
		}
		kmh := func(ms uint32) float64 {
			if ms == 0 {
				return 0
			}
			return net.metres[e] / (float64(ms) / 1000) * 3.6
		}
		roads = append(roads, shapeRoad{u: net.from[e], v: net.to[e], metres: net.metres[e], fwd: kmh(f), bwd: kmh(b)})
	}
	return measureShape(net.nodes, roads)
}

// cityShape measures a synthetic city, pairing each edge with its reverse as FromGraph does.
func cityShape(spec ch.CitySpec) roadShape {
	_, edges, coords := ch.SyntheticCity(spec)
	nodes := make([]orb.Point, len(coords))
	for i, c := range coords {
		nodes[i] = orb.Point(c)
	}
	type key struct {
		u, v int32
		l    uint32
	}
	open := make(map[key]int)
	var roads []shapeRoad
	for _, e := range edges {
		kmh := float64(e.Length) / 10 / (float64(max(e.Weight, 1)) / 1000) * 3.6
		if i, ok := open[key{e.To, e.From, e.Length}]; ok {
			delete(open, key{e.To, e.From, e.Length})
			roads[i].bwd = kmh
			continue
		}
		open[key{e.From, e.To, e.Length}] = len(roads)
		roads = append(roads, shapeRoad{u: e.From, v: e.To, metres: float64(e.Length) / 10, fwd: kmh})
	}
	return measureShape(nodes, roads)
}

func (s roadShape) report(b *testing.B) {
	b.ReportMetric(float64(s.nodes), "nodes")
	b.ReportMetric(float64(s.nodes)/s.cellKM2, "nodes/km²")
	b.ReportMetric(s.km/s.cellKM2, "road-km/km²")
	b.ReportMetric(1000*s.km/float64(s.roads), "m/road")
	for d, name := range []string{"deg1", "deg2", "deg3", "deg4", "deg5+"} {
		b.ReportMetric(100*s.deg[d+1], name+"-%")
	}
	b.ReportMetric(100*s.oneWay, "one-way-%")
	for i, name := range []string{"km<35kmh", "km<55kmh", "km<85kmh", "km≥85kmh"} {
		b.ReportMetric(100*s.speedShare[i], name+"-%")
	}
}

// BenchmarkShape reports the shape of the car graph of the OpenStreetMap extracts and of the synthetic city
// (ROADS_BENCH_CITY_NODES, default 100 000, to keep it quick): density over the 500 m squares that hold a
// junction, road length per road, the share of junctions by number of neighbours, one-way roads, and the
// road length by car speed. What ch.SyntheticCity is calibrated on.
//
//	go test ./geo/roads -run '^$' -bench Shape -benchtime 1x
func BenchmarkShape(b *testing.B) {
	skipShort(b)
	for _, c := range []struct{ name, env, file string }{
		{"monaco", "MONACO_PBF", "monaco.osm.pbf"}, {"baltimore", "BALTIMORE_PBF", "baltimore.osm.pbf"}} {
		b.Run(c.name, func(b *testing.B) {
			net := importOnce(b, osmData(b, c.env, c.file))
			var s roadShape
			for b.Loop() {
				s = networkShape(net)
			}
			s.report(b)
		})
	}
	b.Run("city", func(b *testing.B) {
		spec := citySpec(b)
		if os.Getenv("ROADS_BENCH_CITY_NODES") == "" {
			spec.Nodes = 100_000
		}
		var s roadShape
		for b.Loop() {
			s = cityShape(spec)
		}
		s.report(b)
	})
}

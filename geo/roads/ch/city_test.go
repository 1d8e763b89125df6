package ch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func smallCity(nodes int, seed uint64) CitySpec {
	s := BenchCity()
	s.Nodes, s.Seed = nodes, seed
	return s
}

func TestSyntheticCityShape(t *testing.T) {
	spec := smallCity(40_000, 3)
	n, edges, coords := SyntheticCity(spec)
	if len(coords) != n || n < spec.Nodes*8/10 || n > spec.Nodes*12/10 {
		t.Fatalf("%d nodes, %d coords, asked for about %d", n, len(coords), spec.Nodes)
	}
	for v, c := range coords {
		if c[0] < spec.MinLon || c[0] > spec.MaxLon || c[1] < spec.MinLat || c[1] > spec.MaxLat {
			t.Fatalf("node %d at %v outside the box", v, c)
		}
	}
	keep := largestSCC(n, edges)
	if i := slices.Index(keep, false); i >= 0 {
		t.Fatalf("node %d is not in the strongly connected city", i)
	}

	pairs := make(map[[2]int32]bool, len(edges))
	for _, e := range edges {
		pairs[[2]int32{e.From, e.To}] = true
	}
	var oneWay, fast, arterial int
	south := func(v int32) bool { return coords[v][1] < spec.RiverLat(coords[v][0]) }
	var bridgeLons []float64
	for _, e := range edges {
		if !pairs[[2]int32{e.To, e.From}] {
			oneWay++
		}
		kmh := float64(e.Length) / 10 / (float64(e.Weight) / 1000) * 3.6
		switch {
		case kmh > arterialKmh+1:
			fast++
		case kmh > streetKmh+1:
			arterial++
		}
		if south(e.From) != south(e.To) && kmh <= arterialKmh+1 {
			bridgeLons = append(bridgeLons, coords[e.From][0])
		}
	}
	if share := float64(oneWay) / float64(len(edges)); share < 0.05 || share > 0.4 {
		t.Errorf("one-way edges: %.2f of all", share)
	}
	if fast == 0 || arterial < len(edges)/40 {
		t.Errorf("%d fast edges, %d arterial edges of %d", fast, arterial, len(edges))
	}
	// Streets cross the river only at the bridges: crossings a hundred metres apart or less are one bridge.
	slices.Sort(bridgeLons)
	bridges := 0
	for i, lon := range bridgeLons {
		if i == 0 || (lon-bridgeLons[i-1])*kmPerDegLon(31.2)*1000 > 100 {
			bridges++
		}
	}
	if bridges == 0 || bridges > CityBridges {
		t.Errorf("streets cross the river at %d places, want 1 to %d", bridges, CityBridges)
	}
	var northN, southN int
	for v := range n {
		if south(int32(v)) {
			southN++
		} else {
			northN++
		}
	}
	if northN < n/4 || southN < n/4 {
		t.Errorf("%d nodes north of the river, %d south", northN, southN)
	}

	n2, edges2, _ := SyntheticCity(spec)
	if n2 != n || !slices.Equal(edges2, edges) {
		t.Error("the same spec gives another city")
	}
}

func TestCityQueriesEqualDijkstra(t *testing.T) {
	n, edges, _ := SyntheticCity(smallCity(3000, 1))
	h, err := Build(n, edges, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstDijkstra(t, h, n, edges, 200)
	// Every pair is reachable in a strongly connected city.
	rng := rand.New(rand.NewPCG(1, 2))
	q := h.NewQuery()
	for range 50 {
		a, b := int32(rng.IntN(n)), int32(rng.IntN(n))
		if w, _, ok := q.Route([]Seed{{Node: a}}, []Seed{{Node: b}}); !ok || w == math.MaxUint32 {
			t.Fatalf("%d to %d unreachable", a, b)
		}
	}
}

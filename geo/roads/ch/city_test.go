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

func smallDenseCity(nodes int, seed uint64) CitySpec {
	s := DenseCity()
	s.Nodes, s.Seed = nodes, seed
	return s
}

func TestSyntheticCityShape(t *testing.T) {
	spec := smallDenseCity(40_000, 3)
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
	for _, spec := range []CitySpec{smallCity(3000, 1), smallDenseCity(3000, 1)} {
		n, edges, _ := SyntheticCity(spec)
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
				t.Fatalf("density %v: %d to %d unreachable", spec.Density, a, b)
			}
		}
	}
}

// TestMetroCityShape checks the calibration of the metro (see SyntheticCity) on a city of 40 000 nodes: its
// footprint and density, the shares of nodes by number of neighbours and of road length by speed, within the
// range of the OpenStreetMap extracts it was calibrated on, and a river that only arterials and fast roads cross.
func TestMetroCityShape(t *testing.T) {
	spec := smallCity(40_000, 3)
	n, edges, coords := SyntheticCity(spec)
	if len(coords) != n || n < spec.Nodes*9/10 || n > spec.Nodes*11/10 {
		t.Fatalf("%d nodes, %d coords, asked for about %d", n, len(coords), spec.Nodes)
	}
	box := spec.Footprint()
	wKM := (box.MaxLon - box.MinLon) * kmPerDegLon((box.MinLat+box.MaxLat)/2)
	hKM := (box.MaxLat - box.MinLat) * kmPerDegLat
	if d := float64(n) / (wKM * hKM); d < 0.8*MetroDensity || d > 1.2*MetroDensity {
		t.Errorf("%.0f nodes per km² over %.1f × %.1f km, want about %d", d, wKM, hKM, MetroDensity)
	}
	if c := (spec.MinLon + spec.MaxLon) / 2; math.Abs((box.MinLon+box.MaxLon)/2-c) > 1e-9 {
		t.Errorf("footprint centred at lon %v, the box at %v", (box.MinLon+box.MaxLon)/2, c)
	}
	for v, c := range coords {
		const eps = 1e-9
		if c[0] < box.MinLon-eps || c[0] > box.MaxLon+eps || c[1] < box.MinLat-eps || c[1] > box.MaxLat+eps {
			t.Fatalf("node %d at %v outside the footprint %+v", v, c, box)
		}
	}
	if i := slices.Index(largestSCC(n, edges), false); i >= 0 {
		t.Fatalf("node %d is not in the strongly connected city", i)
	}
	nbr := make([]map[int32]bool, n)
	var km [4]float64 // street, collector or arterial, trunk, motorway
	south := func(v int32) bool { return coords[v][1] < spec.RiverLat(coords[v][0]) }
	for _, e := range edges {
		for _, p := range [2][2]int32{{e.From, e.To}, {e.To, e.From}} {
			if nbr[p[0]] == nil {
				nbr[p[0]] = map[int32]bool{}
			}
			nbr[p[0]][p[1]] = true
		}
		kmh := float64(e.Length) / 10 / (float64(e.Weight) / 1000) * 3.6
		band := 0
		switch {
		case kmh > trunkKmh+1:
			band = 3
		case kmh > arterialKmh+1:
			band = 2
		case kmh > streetKmh+1:
			band = 1
		}
		km[band] += float64(e.Length) / 1e4
		if south(e.From) != south(e.To) && kmh < arterialKmh-1 {
			t.Errorf("a %.0f km/h road crosses the river from node %d", kmh, e.From)
		}
	}
	var deg [6]float64
	for _, m := range nbr {
		deg[min(len(m), 5)] += 1 / float64(n)
	}
	// Monaco and Baltimore: one neighbour 18 and 11 %, two 36 and 13 %, three 43 and 51 %, four 3 and 25 %.
	for d, want := range [][2]float64{1: {0.05, 0.2}, 2: {0.12, 0.36}, 3: {0.3, 0.55}, 4: {0.03, 0.3}} {
		if d > 0 && (deg[d] < want[0] || deg[d] > want[1]) {
			t.Errorf("%.3f of the nodes have %d neighbours, want %.2f to %.2f", deg[d], d, want[0], want[1])
		}
	}
	total := km[0] + km[1] + km[2] + km[3]
	if s := km[0] / total; s < 0.55 || s > 0.8 {
		t.Errorf("%.2f of the road length at street speed, want 0.55 to 0.8", s)
	}
	if km[2] == 0 || km[3] == 0 || km[3]/total > 0.05 {
		t.Errorf("km by speed band: %v", km)
	}
	// No point of the footprint lies farther than the roads' snapping limit (500 m) from a node (the collectors
	// cross every hole): points on a lattice of 50 m, against the nodes in 250 m cells around them.
	kx, ky := kmPerDegLon((box.MinLat+box.MaxLat)/2)*1000, kmPerDegLat*1000.0
	cell := func(x, y float64) [2]int { return [2]int{int(math.Floor(x / 250)), int(math.Floor(y / 250))} }
	cells := map[[2]int][][2]float64{}
	for _, c := range coords {
		x, y := (c[0]-box.MinLon)*kx, (c[1]-box.MinLat)*ky
		cells[cell(x, y)] = append(cells[cell(x, y)], [2]float64{x, y})
	}
	far := 0
	for x := 0.0; x < (box.MaxLon-box.MinLon)*kx; x += 50 {
		for y := 0.0; y < (box.MaxLat-box.MinLat)*ky; y += 50 {
			near := false
			c := cell(x, y)
			for i := c[0] - 2; i <= c[0]+2 && !near; i++ {
				for j := c[1] - 2; j <= c[1]+2 && !near; j++ {
					for _, p := range cells[[2]int{i, j}] {
						if math.Hypot(p[0]-x, p[1]-y) <= 500 {
							near = true
							break
						}
					}
				}
			}
			if !near {
				far++
			}
		}
	}
	if far > 0 {
		t.Errorf("%d points of a 50 m lattice lie farther than 500 m from every node", far)
	}
	n2, edges2, _ := SyntheticCity(spec)
	if n2 != n || !slices.Equal(edges2, edges) {
		t.Error("the same spec gives another city")
	}
}

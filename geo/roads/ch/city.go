package ch

import (
	"math"
	"math/rand/v2"
)

// CitySpec describes a synthetic city for tests and benchmarks: see [SyntheticCity].
type CitySpec struct {
	// Nodes is about how many nodes the city has (at least 16).
	Nodes int
	// MinLon, MinLat, MaxLon, MaxLat bound the city in degrees.
	MinLon, MinLat, MaxLon, MaxLat float64
	// Seed makes the city: the same spec gives the same city.
	Seed uint64
}

// BenchCity is the spec of the city that the benchmarks of the engine and of the road network use: about a
// million nodes on 30 × 30 km with the south-west corner at lon 121.30, lat 31.10.
func BenchCity() CitySpec {
	return CitySpec{Nodes: 1_000_000, MinLon: 121.30, MinLat: 31.10, MaxLon: 121.30 + 30/kmPerDegLon(31.235),
		MaxLat: 31.10 + 30/kmPerDegLat, Seed: 1}
}

const kmPerDegLat = 111.195

func kmPerDegLon(lat float64) float64 { return kmPerDegLat * math.Cos(lat*math.Pi/180) }

// Speeds of the synthetic city's roads, km/h.
const (
	streetKmh   = 25
	arterialKmh = 45
	radialKmh   = 65
	ringKmh     = 80
)

// CityBridges is the number of street bridges of a synthetic city; the ring and the radial roads cross the river
// on bridges of their own.
const CityBridges = 6

// cityRadials is the number of fast radial roads.
const cityRadials = 6

// RiverLat returns the latitude of the synthetic city's river at lon: it crosses the city from west to east,
// meandering, south of the centre. Streets cross it only at the [CityBridges] bridges; the ring and the radial
// roads on their own.
func (s CitySpec) RiverLat(lon float64) float64 {
	h := s.MaxLat - s.MinLat
	x := (lon - s.MinLon) / (s.MaxLon - s.MinLon)
	return s.MinLat + h*(0.42+0.06*math.Sin(2*math.Pi*(1.3*x+0.1)))
}

// SyntheticCity returns a road network shaped like a city: a jittered street grid with missing blocks (parks,
// yards) and dead ends, a third of the streets one-way, arterials about every kilometre, a ring road and
// radial fast roads with interchanges every kilometre or two, and a river crossed at a handful of bridges. Only
// the largest strongly connected part is kept, so every node reaches every other. Weights are travel times in
// ms, lengths in dm; coords are lon/lat of each node.
func SyntheticCity(spec CitySpec) (numNodes int, edges []Edge, coords [][2]float64) {
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	midLat := (spec.MinLat + spec.MaxLat) / 2
	mx, my := kmPerDegLon(midLat)*1000, kmPerDegLat*1000 // metres per degree
	width := (spec.MaxLon - spec.MinLon) * mx
	height := (spec.MaxLat - spec.MinLat) * my
	const holeShare = 0.07
	cells := float64(max(spec.Nodes, 16)) / (1 - holeShare)
	cols := max(4, int(math.Round(math.Sqrt(cells*width/height))))
	rows := max(4, int(math.Round(cells/float64(cols))))
	dx, dy := width/float64(cols-1), height/float64(rows-1)
	every := max(3, int(math.Round(1000/dx)))  // arterial columns
	everyY := max(3, int(math.Round(1000/dy))) // arterial rows
	arterialCol := func(i int) bool { return i%every == every/2 }
	arterialRow := func(j int) bool { return j%everyY == everyY/2 }

	// Missing blocks: rectangles of cells off the arterials.
	id := make([]int32, rows*cols)
	for removed := 0; float64(removed) < holeShare*float64(rows*cols); {
		w, hgt := 2+rng.IntN(25), 2+rng.IntN(25)
		i0, j0 := rng.IntN(cols), rng.IntN(rows)
		for j := j0; j < min(rows, j0+hgt); j++ {
			for i := i0; i < min(cols, i0+w); i++ {
				if !arterialCol(i) && !arterialRow(j) && id[j*cols+i] == 0 {
					id[j*cols+i] = -1
					removed++
				}
			}
		}
	}
	var xy [][2]float64 // metres from the south-west corner
	for j := range rows {
		for i := range cols {
			if id[j*cols+i] < 0 {
				continue
			}
			id[j*cols+i] = int32(len(xy))
			x := float64(i)*dx + (rng.Float64()-0.5)*0.4*dx
			y := float64(j)*dy + (rng.Float64()-0.5)*0.4*dy
			xy = append(xy, [2]float64{min(max(x, 0), width), min(max(y, 0), height)})
		}
	}
	node := func(i, j int) int32 {
		if i < 0 || j < 0 || i >= cols || j >= rows {
			return -1
		}
		return id[j*cols+i]
	}
	riverY := func(x float64) float64 { return (spec.RiverLat(spec.MinLon+x/mx) - spec.MinLat) * my }
	crosses := func(a, b int32) bool {
		pa, pb := xy[a], xy[b]
		return (pa[1] < riverY(pa[0])) != (pb[1] < riverY(pb[0]))
	}
	bridgeCol := make(map[int]bool, CityBridges)
	for k := range CityBridges {
		i := int((float64(k) + 0.5) / CityBridges * float64(cols))
		bridgeCol[i-i%every+every/2] = true // bridges carry arterials
	}
	road := func(a, b int32, kmh float64, oneWay bool) {
		d := math.Hypot(xy[a][0]-xy[b][0], xy[a][1]-xy[b][1])
		e := Edge{From: a, To: b, Weight: uint32(max(1, math.Round(d/(kmh/3.6)*1000))), Length: uint32(math.Round(d * 10))}
		edges = append(edges, e)
		if !oneWay {
			edges = append(edges, Edge{From: b, To: a, Weight: e.Weight, Length: e.Length})
		}
	}
	// Streets: each row and column of the grid, with one-way streets alternating in direction.
	// street lays the streets of one grid line, numbered k, whose nodes at are in order.
	street := func(k, count int, at func(m int) int32, arterial, bridge bool) {
		oneWay := !arterial && rng.IntN(3) == 0
		for m := range count - 1 {
			a, b := at(m), at(m+1)
			if a < 0 || b < 0 || (crosses(a, b) && !bridge) || (!arterial && rng.IntN(25) == 0) {
				continue
			}
			kmh := float64(streetKmh)
			if arterial {
				kmh = arterialKmh
			}
			if oneWay && k%2 == 1 {
				a, b = b, a
			}
			road(a, b, kmh, oneWay)
		}
	}
	for j := range rows {
		street(j, cols, func(i int) int32 { return node(i, j) }, arterialRow(j), false)
	}
	for i := range cols {
		street(i, rows, func(j int) int32 { return node(i, j) }, arterialCol(i), bridgeCol[i])
	}
	nearest := func(x, y float64) int32 {
		ci, cj := int(math.Round(x/dx)), int(math.Round(y/dy))
		for r := 0; r < 50; r++ {
			best, bestD := int32(-1), math.Inf(1)
			for j := cj - r; j <= cj+r; j++ {
				for i := ci - r; i <= ci+r; i++ {
					if v := node(i, j); v >= 0 {
						if d := math.Hypot(xy[v][0]-x, xy[v][1]-y); d < bestD {
							best, bestD = v, d
						}
					}
				}
			}
			if best >= 0 {
				return best
			}
		}
		return -1
	}
	// A fast road through the given points, with an interchange at the grid node nearest each.
	fastRoad := func(pts [][2]float64, kmh float64) {
		prev := int32(-1)
		for _, p := range pts {
			v := nearest(p[0], p[1])
			if v >= 0 && prev >= 0 && v != prev {
				road(prev, v, kmh, false)
			}
			if v >= 0 {
				prev = v
			}
		}
	}
	cx, cy := width/2, height/2
	radius := 0.36 * min(width, height)
	var ring [][2]float64
	steps := max(8, int(2*math.Pi*radius/1500))
	for k := 0; k <= steps; k++ {
		a := 2 * math.Pi * float64(k) / float64(steps)
		ring = append(ring, [2]float64{cx + radius*math.Cos(a), cy + radius*math.Sin(a)})
	}
	fastRoad(ring, ringKmh)
	for k := range cityRadials {
		a := 2*math.Pi*float64(k)/cityRadials + 0.3
		reach := 0.48 * min(width, height)
		var pts [][2]float64
		for r := 1000.0; r <= reach; r += 1000 {
			pts = append(pts, [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)})
		}
		fastRoad(pts, radialKmh)
	}

	keep := largestSCC(len(xy), edges)
	newID := make([]int32, len(xy))
	for v := range xy {
		newID[v] = -1
		if keep[v] {
			newID[v] = int32(numNodes)
			numNodes++
			coords = append(coords, [2]float64{spec.MinLon + xy[v][0]/mx, spec.MinLat + xy[v][1]/my})
		}
	}
	kept := edges[:0]
	for _, e := range edges {
		if keep[e.From] && keep[e.To] {
			e.From, e.To = newID[e.From], newID[e.To]
			kept = append(kept, e)
		}
	}
	return numNodes, kept, coords
}

// largestSCC marks the nodes of the largest strongly connected component (Kosaraju, iterative).
func largestSCC(n int, edges []Edge) []bool {
	adj := func(rev bool) ([]int32, []int32) {
		first := make([]int32, n+1)
		for _, e := range edges {
			t := e.From
			if rev {
				t = e.To
			}
			first[t+1]++
		}
		for v := range n {
			first[v+1] += first[v]
		}
		heads := make([]int32, len(edges))
		fill := append([]int32(nil), first[:n]...)
		for _, e := range edges {
			t, h := e.From, e.To
			if rev {
				t, h = h, t
			}
			heads[fill[t]] = h
			fill[t]++
		}
		return first, heads
	}
	first, heads := adj(false)
	seen := make([]bool, n)
	post := make([]int32, 0, n)
	type frame struct{ v, next int32 }
	var stack []frame
	for s := range n {
		if seen[s] {
			continue
		}
		seen[s] = true
		stack = append(stack[:0], frame{int32(s), first[s]})
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < first[f.v+1] {
				w := heads[f.next]
				f.next++
				if !seen[w] {
					seen[w] = true
					stack = append(stack, frame{w, first[w]})
				}
				continue
			}
			post = append(post, f.v)
			stack = stack[:len(stack)-1]
		}
	}
	rfirst, rheads := adj(true)
	comp := make([]int32, n)
	for i := range comp {
		comp[i] = -1
	}
	var sizes []int
	var queue []int32
	for k := len(post) - 1; k >= 0; k-- {
		s := post[k]
		if comp[s] >= 0 {
			continue
		}
		c := int32(len(sizes))
		comp[s] = c
		queue = append(queue[:0], s)
		size := 0
		for len(queue) > 0 {
			v := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			size++
			for _, w := range rheads[rfirst[v]:rfirst[v+1]] {
				if comp[w] < 0 {
					comp[w] = c
					queue = append(queue, w)
				}
			}
		}
		sizes = append(sizes, size)
	}
	best := 0
	for c, sz := range sizes {
		if sz > sizes[best] {
			best = c
		}
	}
	keep := make([]bool, n)
	for v := range n {
		keep[v] = len(sizes) > 0 && comp[v] == int32(best)
	}
	return keep
}

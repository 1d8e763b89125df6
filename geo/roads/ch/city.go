package ch

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// CitySpec describes a synthetic city for tests and benchmarks: see [SyntheticCity].
type CitySpec struct {
	// Nodes is about how many nodes the city has (at least 16).
	Nodes int
	// MinLon, MinLat, MaxLon, MaxLat bound the city in degrees; with Density set they only place it (see
	// [CitySpec.Footprint]).
	MinLon, MinLat, MaxLon, MaxLat float64
	// Seed makes the city: the same spec gives the same city.
	Seed uint64
	// Density, when positive, makes a metropolitan area calibrated on OpenStreetMap at about this many nodes per
	// km², as large as Nodes needs, centred on the box; zero fills the box with a street grid however dense
	// Nodes makes it (the stress case of [DenseCity]).
	Density float64
}

// MetroDensity is the node density of [BenchCity], per km² of built-up area: between the car graphs of Monaco
// (70) and of central Baltimore (127) as this module's OpenStreetMap import makes them, measured over the 500 m
// squares that hold a junction.
const MetroDensity = 110

// BenchCity is the spec of the city that the benchmarks of the engine and of the road network use: a metropolitan
// area of about a million nodes at [MetroDensity] (95 × 95 km) centred on the 30 × 30 km with the south-west
// corner at lon 121.30, lat 31.10 where the dispatch benchmarks place their couriers and orders. With fewer
// nodes the area shrinks at the same density: 100 000 nodes fill about those 30 × 30 km.
func BenchCity() CitySpec {
	s := DenseCity()
	s.Density = MetroDensity
	return s
}

// DenseCity is the stress case the benchmarks kept from before [BenchCity] was calibrated: about a million nodes
// on the same 30 × 30 km, a street grid of 30 m blocks (ten times the node density of the OpenStreetMap
// extracts), nearly every node a four-way junction of streets of one speed.
func DenseCity() CitySpec {
	return CitySpec{Nodes: 1_000_000, MinLon: 121.30, MinLat: 31.10, MaxLon: 121.30 + 30/kmPerDegLon(31.235),
		MaxLat: 31.10 + 30/kmPerDegLat, Seed: 1}
}

// Footprint returns the spec with the box its city fills: the spec itself when Density is zero, otherwise the
// square of Nodes/Density km² centred on the spec's box.
func (s CitySpec) Footprint() CitySpec {
	if !(s.Density > 0) {
		return s
	}
	side := math.Sqrt(float64(max(s.Nodes, 16)) / s.Density) // km
	lat := (s.MinLat + s.MaxLat) / 2
	lon := (s.MinLon + s.MaxLon) / 2
	dLat := side / kmPerDegLat / 2
	dLon := side / kmPerDegLon(lat) / 2
	s.MinLon, s.MaxLon, s.MinLat, s.MaxLat = lon-dLon, lon+dLon, lat-dLat, lat+dLat
	return s
}

const kmPerDegLat = 111.195

func kmPerDegLon(lat float64) float64 { return kmPerDegLat * math.Cos(lat*math.Pi/180) }

// Speeds of the synthetic city's roads, km/h.
const (
	streetKmh    = 25
	collectorKmh = 40 // metro only
	arterialKmh  = 45
	radialKmh    = 65
	trunkKmh     = 70 // the metro's rings
	ringKmh      = 80
	motorwayKmh  = 90 // the metro's grid of motorways
)

// CityBridges is the number of street bridges of a dense city ([DenseCity]); its ring and radial roads cross the
// river on bridges of their own. A metro's river is crossed by its arterials and fast roads only.
const CityBridges = 6

// cityRadials is the number of fast radial roads.
const cityRadials = 6

// RiverLat returns the latitude of the synthetic city's river at lon: it crosses the city from west to east,
// meandering, south of the centre. Streets cross it only at the [CityBridges] bridges (the arterials of a
// metro); the fast roads on their own.
func (s CitySpec) RiverLat(lon float64) float64 {
	s = s.Footprint()
	h := s.MaxLat - s.MinLat
	x := (lon - s.MinLon) / (s.MaxLon - s.MinLon)
	return s.MinLat + h*(0.42+0.06*math.Sin(2*math.Pi*(1.3*x+0.1)))
}

// The metro's calibration (see SyntheticCity).
const (
	metroHoles      = 0.07 // share of grid points left out, in rectangles: parks, yards, fields
	metroMissing    = 0.3  // share of street segments left out: T-junctions, corners, dead ends
	metroSplit      = 0.1  // share of the segments of streets and collectors split by a bend
	metroSpurs      = 0.35 // share of grid nodes of two roads with a cul-de-sac into the block
	metroKept       = 0.95 // share of the nodes laid out in the largest strongly connected part, about
	metroCollectors = 500  // metres between collector streets
	metroArterials  = 1500 // metres between arterials
	metroMotorways  = 7000 // metres between motorways, each way
)

// SyntheticCity returns a road network shaped like a city. Only the largest strongly connected part is kept, so
// every node reaches every other. Weights are travel times in ms, lengths in dm; coords are lon/lat of each node.
//
// With Density set (a metro, [BenchCity]) it is calibrated on the car graphs of the OpenStreetMap extracts of
// Monaco and part of Baltimore as this module imports them (junctions and way ends as nodes, the shape of a way
// between them as geometry): a jittered grid of blocks about 110 m apart with rectangles of missing blocks
// (crossed by the collectors), three tenths of the street segments missing (T-junctions, corners, dead ends), a
// tenth of the segments of streets and collectors bent by a node (a way split: a node of two neighbours),
// cul-de-sacs off a third of the grid nodes of two roads, half the street lines one-way, collectors (40 km/h)
// every 500 m, arterials (45 km/h) every 1.5 km, motorways (90 km/h) every 7 km each way with interchanges every
// 2 km, three trunk rings (70 km/h), and a river crossed by the arterials and fast roads only. Measured like the
// extracts (BenchmarkShape in geo/roads; Monaco, Baltimore, this city): 70, 127 and 105 nodes per km² of built-up
// area; of the nodes, 18, 11 and 8 % with one neighbour, 36, 13 and 25 % with two, 43, 51 and 40 % with three,
// 3, 25 and 27 % with four; 37, 29 and 33 % of the roads one-way; 60, 66 and 69 % of the road length under
// 35 km/h, 0, 2.8 and 2 % at 85 km/h or more.
//
// Without Density (the stress case, [DenseCity]) it fills the box with a jittered street grid with missing
// blocks and dead ends, a third of the streets one-way, arterials about every kilometre, a ring road and radial
// fast roads with interchanges every kilometre or two, and a river crossed at [CityBridges] bridges.
func SyntheticCity(spec CitySpec) (numNodes int, edges []Edge, coords [][2]float64) {
	spec = spec.Footprint()
	c := newCityPlan(spec)
	if spec.Density > 0 {
		c.metro()
	} else {
		c.dense()
	}
	return c.finish(spec.Density > 0)
}

// cityPlan is a city being laid out, in metres from the south-west corner of its box.
type cityPlan struct {
	spec          CitySpec
	rng           *rand.Rand
	mx, my        float64 // metres per degree
	width, height float64
	cols, rows    int
	dx, dy        float64
	id            []int32 // grid point → node, -1 for a hole
	xy            [][2]float64
	edges         []Edge
}

func newCityPlan(spec CitySpec) *cityPlan {
	midLat := (spec.MinLat + spec.MaxLat) / 2
	c := &cityPlan{spec: spec, rng: rand.New(rand.NewPCG(spec.Seed, 0x5eed)), mx: kmPerDegLon(midLat) * 1000, my: kmPerDegLat * 1000}
	c.width = (spec.MaxLon - spec.MinLon) * c.mx
	c.height = (spec.MaxLat - spec.MinLat) * c.my
	return c
}

// grid lays out cols × rows grid points for about points points, leaving out holeShare of them in rectangles of
// up to maxHole cells off the lines keep says to keep.
func (c *cityPlan) grid(points, holeShare float64, maxHole int, keepCol, keepRow func(int) bool) {
	c.cols = max(4, int(math.Round(math.Sqrt(points*c.width/c.height))))
	c.rows = max(4, int(math.Round(points/float64(c.cols))))
	c.dx, c.dy = c.width/float64(c.cols-1), c.height/float64(c.rows-1)
	c.id = make([]int32, c.rows*c.cols)
	for removed := 0; float64(removed) < holeShare*float64(c.rows*c.cols); {
		w, hgt := 2+c.rng.IntN(maxHole), 2+c.rng.IntN(maxHole)
		i0, j0 := c.rng.IntN(c.cols), c.rng.IntN(c.rows)
		for j := j0; j < min(c.rows, j0+hgt); j++ {
			for i := i0; i < min(c.cols, i0+w); i++ {
				if !keepCol(i) && !keepRow(j) && c.id[j*c.cols+i] == 0 {
					c.id[j*c.cols+i] = -1
					removed++
				}
			}
		}
	}
	for j := range c.rows {
		for i := range c.cols {
			if c.id[j*c.cols+i] < 0 {
				continue
			}
			c.id[j*c.cols+i] = int32(len(c.xy))
			x := float64(i)*c.dx + (c.rng.Float64()-0.5)*0.4*c.dx
			y := float64(j)*c.dy + (c.rng.Float64()-0.5)*0.4*c.dy
			c.xy = append(c.xy, [2]float64{min(max(x, 0), c.width), min(max(y, 0), c.height)})
		}
	}
}

func (c *cityPlan) node(i, j int) int32 {
	if i < 0 || j < 0 || i >= c.cols || j >= c.rows {
		return -1
	}
	return c.id[j*c.cols+i]
}

func (c *cityPlan) riverY(x float64) float64 {
	return (c.spec.RiverLat(c.spec.MinLon+x/c.mx) - c.spec.MinLat) * c.my
}

func (c *cityPlan) crosses(a, b [2]float64) bool {
	return (a[1] < c.riverY(a[0])) != (b[1] < c.riverY(b[0]))
}

// road adds the road a → b at kmh, and b → a unless oneWay.
func (c *cityPlan) road(a, b int32, kmh float64, oneWay bool) {
	d := math.Hypot(c.xy[a][0]-c.xy[b][0], c.xy[a][1]-c.xy[b][1])
	e := Edge{From: a, To: b, Weight: uint32(max(1, math.Round(d/(kmh/3.6)*1000))), Length: uint32(math.Round(d * 10))}
	c.edges = append(c.edges, e)
	if !oneWay {
		c.edges = append(c.edges, Edge{From: b, To: a, Weight: e.Weight, Length: e.Length})
	}
}

// nearest returns the grid node nearest (x, y), or -1 if none lies within 50 cells.
func (c *cityPlan) nearest(x, y float64) int32 {
	ci, cj := int(math.Round(x/c.dx)), int(math.Round(y/c.dy))
	for r := 0; r < 50; r++ {
		best, bestD := int32(-1), math.Inf(1)
		for j := cj - r; j <= cj+r; j++ {
			for i := ci - r; i <= ci+r; i++ {
				if v := c.node(i, j); v >= 0 {
					if d := math.Hypot(c.xy[v][0]-x, c.xy[v][1]-y); d < bestD {
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

// fastRoad lays a two-way fast road through the given points, with an interchange at the grid node nearest each.
func (c *cityPlan) fastRoad(pts [][2]float64, kmh float64) {
	prev := int32(-1)
	for _, p := range pts {
		v := c.nearest(p[0], p[1])
		if v >= 0 && prev >= 0 && v != prev {
			c.road(prev, v, kmh, false)
		}
		if v >= 0 {
			prev = v
		}
	}
}

// ring returns the points of a circle around the centre every step metres.
func (c *cityPlan) ring(radius, step float64) [][2]float64 {
	cx, cy := c.width/2, c.height/2
	var pts [][2]float64
	steps := max(8, int(2*math.Pi*radius/step))
	for k := 0; k <= steps; k++ {
		a := 2 * math.Pi * float64(k) / float64(steps)
		pts = append(pts, [2]float64{cx + radius*math.Cos(a), cy + radius*math.Sin(a)})
	}
	return pts
}

// dense lays out the stress case (see SyntheticCity).
func (c *cityPlan) dense() {
	const holeShare = 0.07
	cells := float64(max(c.spec.Nodes, 16)) / (1 - holeShare)
	cols := max(4, int(math.Round(math.Sqrt(cells*c.width/c.height))))
	rows := max(4, int(math.Round(cells/float64(cols))))
	dx, dy := c.width/float64(cols-1), c.height/float64(rows-1)
	every := max(3, int(math.Round(1000/dx)))  // arterial columns
	everyY := max(3, int(math.Round(1000/dy))) // arterial rows
	arterialCol := func(i int) bool { return i%every == every/2 }
	arterialRow := func(j int) bool { return j%everyY == everyY/2 }
	c.grid(cells, holeShare, 25, arterialCol, arterialRow)
	bridgeCol := make(map[int]bool, CityBridges)
	for k := range CityBridges {
		i := int((float64(k) + 0.5) / CityBridges * float64(cols))
		bridgeCol[i-i%every+every/2] = true // bridges carry arterials
	}
	// Streets: each row and column of the grid, with one-way streets alternating in direction.
	// street lays the streets of one grid line, numbered k, whose nodes at are in order.
	street := func(k, count int, at func(m int) int32, arterial, bridge bool) {
		oneWay := !arterial && c.rng.IntN(3) == 0
		for m := range count - 1 {
			a, b := at(m), at(m+1)
			if a < 0 || b < 0 || (c.crosses(c.xy[a], c.xy[b]) && !bridge) || (!arterial && c.rng.IntN(25) == 0) {
				continue
			}
			kmh := float64(streetKmh)
			if arterial {
				kmh = arterialKmh
			}
			if oneWay && k%2 == 1 {
				a, b = b, a
			}
			c.road(a, b, kmh, oneWay)
		}
	}
	for j := range rows {
		street(j, cols, func(i int) int32 { return c.node(i, j) }, arterialRow(j), false)
	}
	for i := range cols {
		street(i, rows, func(j int) int32 { return c.node(i, j) }, arterialCol(i), bridgeCol[i])
	}
	cx, cy := c.width/2, c.height/2
	c.fastRoad(c.ring(0.36*min(c.width, c.height), 1500), ringKmh)
	for k := range cityRadials {
		a := 2*math.Pi*float64(k)/cityRadials + 0.3
		reach := 0.48 * min(c.width, c.height)
		var pts [][2]float64
		for r := 1000.0; r <= reach; r += 1000 {
			pts = append(pts, [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)})
		}
		c.fastRoad(pts, radialKmh)
	}
}

// metro lays out the calibrated metropolitan area (see SyntheticCity).
func (c *cityPlan) metro() {
	perPoint := metroKept * (1 - metroHoles) * (1 + 2*(1-metroMissing)*metroSplit + 0.25*metroSpurs)
	points := float64(max(c.spec.Nodes, 16)) / perPoint
	side := math.Sqrt(c.width * c.height / points) // the grid's spacing, about
	every := func(metres float64) int { return max(3, int(math.Round(metres/side))) }
	colEvery, artEvery := every(metroCollectors), every(metroArterials)
	class := func(k int) int { // 0 street, 1 collector, 2 arterial
		switch {
		case k%artEvery == artEvery/2:
			return 2
		case k%colEvery == colEvery/2:
			return 1
		}
		return 0
	}
	major := func(k int) bool { return class(k) > 0 }
	c.grid(points, metroHoles, 30, major, major)
	roads := make([]int32, len(c.xy), len(c.xy)*5/4) // roads at each node
	link := func(a, b int32, kmh float64, oneWay bool) {
		c.road(a, b, kmh, oneWay)
		roads[a]++
		roads[b]++
	}
	// line lays the roads of one grid line, numbered k, whose nodes at are in order.
	line := func(k, count int, at func(m int) int32) {
		cl := class(k)
		oneWay := cl == 0 && c.rng.IntN(2) == 0
		kmh := [3]float64{streetKmh, collectorKmh, arterialKmh}[cl]
		for m := range count - 1 {
			a, b := at(m), at(m+1)
			if a < 0 || b < 0 || (cl < 2 && c.crosses(c.xy[a], c.xy[b])) || (cl == 0 && c.rng.Float64() < metroMissing) {
				continue
			}
			if oneWay && k%2 == 1 {
				a, b = b, a
			}
			if cl < 2 && c.rng.Float64() < metroSplit {
				// A bend: a node off the straight line, as where a way is split or changes its tags.
				pa, pb := c.xy[a], c.xy[b]
				f := (c.rng.Float64() - 0.5) * 0.3
				mid := [2]float64{(pa[0]+pb[0])/2 - f*(pb[1]-pa[1]), (pa[1]+pb[1])/2 + f*(pb[0]-pa[0])}
				mid = [2]float64{min(max(mid[0], 0), c.width), min(max(mid[1], 0), c.height)}
				if !c.crosses(pa, mid) && !c.crosses(mid, pb) {
					v := int32(len(c.xy))
					c.xy = append(c.xy, mid)
					roads = append(roads, 0)
					link(a, v, kmh, oneWay)
					link(v, b, kmh, oneWay)
					continue
				}
			}
			link(a, b, kmh, oneWay)
		}
	}
	for j := range c.rows {
		line(j, c.cols, func(i int) int32 { return c.node(i, j) })
	}
	for i := range c.cols {
		line(i, c.rows, func(j int) int32 { return c.node(i, j) })
	}
	// Cul-de-sacs: a short two-way street from a junction into one of its blocks.
	for j := range c.rows {
		for i := range c.cols {
			v := c.node(i, j)
			if v < 0 || roads[v] != 2 || c.rng.Float64() >= metroSpurs {
				continue
			}
			sx, sy := float64(2*c.rng.IntN(2)-1), float64(2*c.rng.IntN(2)-1)
			p := [2]float64{c.xy[v][0] + sx*0.35*c.dx, c.xy[v][1] + sy*0.35*c.dy}
			if p[0] < 0 || p[1] < 0 || p[0] > c.width || p[1] > c.height || c.crosses(c.xy[v], p) {
				continue
			}
			u := int32(len(c.xy))
			c.xy = append(c.xy, p)
			c.road(v, u, streetKmh, false)
		}
	}
	// Motorways across the whole area each way, interchanges every 2 km; trunk rings.
	for x := metroMotorways / 2.0; x < c.width; x += metroMotorways {
		var pts [][2]float64
		for y := 0.0; y <= c.height; y += 2000 {
			pts = append(pts, [2]float64{x, y})
		}
		c.fastRoad(pts, motorwayKmh)
	}
	for y := metroMotorways / 2.0; y < c.height; y += metroMotorways {
		var pts [][2]float64
		for x := 0.0; x <= c.width; x += 2000 {
			pts = append(pts, [2]float64{x, y})
		}
		c.fastRoad(pts, motorwayKmh)
	}
	for _, r := range []float64{0.12, 0.25, 0.4} {
		c.fastRoad(c.ring(r*min(c.width, c.height), 1500), trunkKmh)
	}
}

// finish keeps the largest strongly connected part and returns it; ordered, its nodes are numbered by grid row
// then west to east (bends and cul-de-sacs among their neighbours), otherwise in the order they were laid out.
func (c *cityPlan) finish(ordered bool) (numNodes int, edges []Edge, coords [][2]float64) {
	keep := largestSCC(len(c.xy), c.edges)
	order := make([]int32, 0, len(c.xy))
	for v := range c.xy {
		if keep[v] {
			order = append(order, int32(v))
		}
	}
	if ordered {
		row := func(v int32) int { return int(math.Round(c.xy[v][1] / c.dy)) }
		slices.SortStableFunc(order, func(a, b int32) int {
			if ra, rb := row(a), row(b); ra != rb {
				return ra - rb
			}
			return cmp.Compare(c.xy[a][0], c.xy[b][0])
		})
	}
	newID := make([]int32, len(c.xy))
	for v := range newID {
		newID[v] = -1
	}
	for _, v := range order {
		newID[v] = int32(numNodes)
		numNodes++
		coords = append(coords, [2]float64{c.spec.MinLon + c.xy[v][0]/c.mx, c.spec.MinLat + c.xy[v][1]/c.my})
	}
	kept := c.edges[:0]
	for _, e := range c.edges {
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

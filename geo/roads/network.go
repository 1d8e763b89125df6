package roads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// DefaultSnapLimitMetres is how far from every footway, path or street a point may lie before
// [Network.CheckPoint] refuses it.
const DefaultSnapLimitMetres = 500

// Options are the settings of an import. The zero value gives the defaults.
type Options struct {
	// SnapLimitMetres is the distance from the nearest road beyond which CheckPoint and Table refuse a
	// point; 0 means DefaultSnapLimitMetres.
	SnapLimitMetres float64
	// CH is handed to ch.Build for each graph.
	CH ch.Options
	// Profiles lists the profiles to build graphs for; nil means all. A profile left out (and the one it shares
	// a graph with) has no roads: its trips are unreachable. Leaving out the walkers' graph makes CheckPoint
	// measure against the most permissive graph built instead.
	Profiles []geo.Profile
	// SpaceCacheEntries bounds how many points' search spaces are kept between batches (see Network.Batch),
	// twice this at most (in 16 shards of a sixteenth each, at least one); 0 means DefaultSpaceCacheEntries and a
	// negative value keeps none.
	SpaceCacheEntries int
	// TripCacheEntries bounds how many trips between points are kept between batches (see Network.Batch), twice
	// this at most; 0 means DefaultTripCacheEntries and a negative value keeps none (a batch still keeps its
	// own).
	TripCacheEntries int
	// KeptShare is the share of each hierarchy's nodes, the highest, whose search spaces are kept once made (see
	// ch.Hierarchy.KeepShare and Network.KeepTop): 0 means the default, a twentieth, about 120 MB a hierarchy on a
	// city of a million junctions once all are made; a negative value keeps none, for queries 3 to 5 times slower.
	// The answers are the same.
	KeptShare float64
}

// keepShare applies Options.KeptShare to every hierarchy of the network.
func (o Options) keepShare(net *Network) {
	if o.KeptShare == 0 {
		return
	}
	for _, gr := range net.graphs {
		if gr != nil && gr.h != nil {
			gr.h.KeepShare(o.KeptShare)
		}
	}
}

func (o Options) tripCache() *tripCache {
	switch {
	case o.TripCacheEntries < 0:
		return nil
	case o.TripCacheEntries == 0:
		return newTripCache(DefaultTripCacheEntries)
	}
	return newTripCache(o.TripCacheEntries)
}

func (o Options) spaceCache() *spaceCache {
	switch {
	case o.SpaceCacheEntries < 0:
		return nil
	case o.SpaceCacheEntries == 0:
		return newSpaceCache(DefaultSpaceCacheEntries)
	}
	return newSpaceCache(o.SpaceCacheEntries)
}

func (o Options) snapLimit() float64 {
	if o.SnapLimitMetres > 0 && !math.IsInf(o.SnapLimitMetres, 0) {
		return o.SnapLimitMetres
	}
	return DefaultSnapLimitMetres
}

// baseGraph is the road graph shared by every profile while it is built: nodes are junctions and way ends,
// each edge a piece of way between two of them with its shape and, per graph, its weight each way.
type baseGraph struct {
	nodes   []orb.Point
	from    []int32
	to      []int32
	metres  []float64
	geomOff []uint32 // edge e's shape is shape[geomOff[e]:geomOff[e+1]], both ends included
	shape   []orb.Point
	w       [numGraphs][2][]uint32 // milliseconds forwards [0] and backwards [1]; 0 means closed
}

// weightMS is the time in milliseconds to cover metres at kmh, at least 1 so that no edge is free.
func weightMS(metres, kmh float64) uint32 {
	ms := math.Round(metres / (kmh / 3.6) * 1000)
	if ms < 1 {
		return 1
	}
	if ms > math.MaxUint32/4 {
		return math.MaxUint32 / 4
	}
	return uint32(ms)
}

// addEdge appends the edge from → to along shape, open as rules say.
func (b *baseGraph) addEdge(from, to int32, shape []orb.Point, rules [numGraphs]wayRule) {
	if len(b.geomOff) == 0 {
		b.geomOff = append(b.geomOff, 0)
	}
	var m float64
	for i := 1; i < len(shape); i++ {
		m += geo.Geographic.Distance(shape[i-1], shape[i])
	}
	b.from = append(b.from, from)
	b.to = append(b.to, to)
	b.metres = append(b.metres, m)
	b.shape = append(b.shape, shape...)
	b.geomOff = append(b.geomOff, uint32(len(b.shape)))
	for g, r := range rules {
		var fw, bw uint32
		if r.fwd {
			fw = weightMS(m, r.kmh)
		}
		if r.bwd {
			bw = weightMS(m, r.kmh)
		}
		b.w[g][0] = append(b.w[g][0], fw)
		b.w[g][1] = append(b.w[g][1], bw)
	}
}

// Stats describes a network.
type Stats struct {
	// Nodes and Edges count the graph shared by the profiles: junctions and way ends, and the pieces of way
	// between them that at least one profile may use.
	Nodes, Edges int
	// Profiles holds each profile's figures, indexed by geo.Profile.
	Profiles [geo.NumProfiles]ProfileStats
	// Bound is the bounding box of the nodes (lon/lat).
	Bound orb.Bound
}

// ProfileStats are one profile's figures.
type ProfileStats struct {
	// Nodes is the number of nodes in the profile's largest strongly connected component, the only part kept;
	// Edges the number of one-way arcs between them.
	Nodes, Edges int
	// Dropped is the number of nodes the profile could reach by its roads but that lie outside its largest
	// strongly connected component (islands, one-way traps, roads cut by the extract's border).
	Dropped int
	// Shared names the profile whose graph and hierarchy this one travels on, when it is not its own (the
	// e-bike rides the bicycle's graph at ebikeFactor times its speed).
	Shared string
}

// graph is one profile group's routing data.
type graph struct {
	w      [2][]uint32 // per edge of the network, ms forwards and backwards; 0 means closed
	chBase []int32     // per arc of the hierarchy, the network edge it runs along: e forwards, ^e backwards
	h      *ch.Hierarchy
	pool   sync.Pool // of *ch.Query
	nodes  int       // kept nodes
	drop   int       // dropped nodes
}

// Network is a road network for every vehicle profile, with a contraction hierarchy per graph; it implements
// geo.TravelModel, geo.BatchModel, geo.PathModel and geo.PointChecker. It is read-only once built and safe
// for concurrent use.
type Network struct {
	snapLimit float64
	nodes     []orb.Point
	from, to  []int32
	metres    []float64
	lenDM     []uint32
	geomOff   []uint32
	shape     []orb.Point
	graphs    [numGraphs]*graph
	bound     orb.Bound

	index   segIndex
	segEdge []int32 // the edge of each segment shape[i] → shape[i+1]
	cache   *spaceCache
	trips   *tripCache
}

// newNetwork keeps each graph's largest strongly connected component, drops what no graph uses, and builds
// the hierarchies.
func newNetwork(b *baseGraph, opt Options) (*Network, error) {
	n := len(b.nodes)
	ne := len(b.from)
	if opt.Profiles != nil {
		var keep [numGraphs]bool
		for _, p := range opt.Profiles {
			if !p.Valid() {
				return nil, fmt.Errorf("roads: Options.Profiles: undefined vehicle profile %d", uint8(p))
			}
			keep[graphOf(p)] = true
		}
		for g := range b.w {
			if !keep[g] {
				clear(b.w[g][0])
				clear(b.w[g][1])
			}
		}
	}
	var drops [numGraphs]int
	for g := range b.w {
		var from, to []int32
		touched := make([]bool, n)
		for e := 0; e < ne; e++ {
			if b.w[g][0][e] > 0 {
				from, to = append(from, b.from[e]), append(to, b.to[e])
			}
			if b.w[g][1][e] > 0 {
				from, to = append(from, b.to[e]), append(to, b.from[e])
			}
			if b.w[g][0][e] > 0 || b.w[g][1][e] > 0 {
				touched[b.from[e]], touched[b.to[e]] = true, true
			}
		}
		in, size := largestSCC(n, from, to)
		count := 0
		for _, t := range touched {
			if t {
				count++
			}
		}
		drops[g] = max(0, count-size) // a graph with no road at all still has a component of one node
		for e := 0; e < ne; e++ {
			if !in[b.from[e]] || !in[b.to[e]] {
				b.w[g][0][e], b.w[g][1][e] = 0, 0
			}
		}
	}

	// Compact: keep edges some graph uses and the nodes they touch, in their original order.
	net := &Network{snapLimit: opt.snapLimit(), cache: opt.spaceCache(), trips: opt.tripCache()}
	newID := make([]int32, n)
	for i := range newID {
		newID[i] = -1
	}
	for g := range net.graphs {
		net.graphs[g] = &graph{drop: drops[g]}
	}
	net.geomOff = append(net.geomOff, 0)
	for e := 0; e < ne; e++ {
		used := false
		for g := range b.w {
			used = used || b.w[g][0][e] > 0 || b.w[g][1][e] > 0
		}
		if !used {
			continue
		}
		for _, v := range [2]int32{b.from[e], b.to[e]} {
			if newID[v] < 0 {
				newID[v] = int32(len(net.nodes))
				net.nodes = append(net.nodes, b.nodes[v])
			}
		}
		net.from = append(net.from, newID[b.from[e]])
		net.to = append(net.to, newID[b.to[e]])
		net.metres = append(net.metres, b.metres[e])
		net.lenDM = append(net.lenDM, lengthDM(b.metres[e]))
		net.shape = append(net.shape, b.shape[b.geomOff[e]:b.geomOff[e+1]]...)
		net.geomOff = append(net.geomOff, uint32(len(net.shape)))
		for g := range b.w {
			net.graphs[g].w[0] = append(net.graphs[g].w[0], b.w[g][0][e])
			net.graphs[g].w[1] = append(net.graphs[g].w[1], b.w[g][1][e])
		}
	}
	for g, gr := range net.graphs {
		edges, base := gr.arcs(net)
		h, err := ch.Build(len(net.nodes), edges, opt.CH)
		if err != nil {
			return nil, fmt.Errorf("contracting the %s graph: %w", graphProfiles[g], err)
		}
		gr.h, gr.chBase = h, base
	}
	opt.keepShare(net)
	net.finish()
	return net, nil
}

func lengthDM(m float64) uint32 {
	d := math.Round(m * 10)
	if d > math.MaxUint32/4 {
		return math.MaxUint32 / 4
	}
	return uint32(d)
}

// arcs lists the graph's one-way arcs for the hierarchy, and for each the network edge it runs along. Loops
// are left out: they never shorten a trip between nodes (a point on one is still reached through its node).
func (gr *graph) arcs(net *Network) ([]ch.Edge, []int32) {
	var edges []ch.Edge
	var base []int32
	for e := range net.from {
		u, v := net.from[e], net.to[e]
		if u == v {
			continue
		}
		if w := gr.w[0][e]; w > 0 {
			edges = append(edges, ch.Edge{From: u, To: v, Weight: w, Length: net.lenDM[e]})
			base = append(base, int32(e))
		}
		if w := gr.w[1][e]; w > 0 {
			edges = append(edges, ch.Edge{From: v, To: u, Weight: w, Length: net.lenDM[e]})
			base = append(base, ^int32(e))
		}
	}
	return edges, base
}

// finish builds what a network derives from its arrays: the kept-node counts, the segment index (unless built
// already), the bound and the query pools. Both newNetwork and the map file reader end with it.
func (net *Network) finish() {
	for _, gr := range net.graphs {
		h := gr.h
		gr.pool.New = func() any { return h.NewQuery() }
		seen := make([]bool, len(net.nodes))
		gr.nodes = 0
		for e := range net.from {
			if gr.w[0][e] == 0 && gr.w[1][e] == 0 {
				continue
			}
			for _, v := range [2]int32{net.from[e], net.to[e]} {
				if !seen[v] {
					seen[v] = true
					gr.nodes++
				}
			}
		}
	}
	net.bound = orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for _, p := range net.nodes {
		net.bound = net.bound.Extend(p)
	}
	if len(net.nodes) == 0 {
		net.bound = orb.Bound{}
	}
	if net.segEdge == nil {
		net.buildIndex()
	}
}

// buildIndex fills net.segEdge and the segment index, in the stored order when the map file gave one.
func (net *Network) buildIndex() {
	net.segEdge = make([]int32, len(net.shape))
	for e := range net.from {
		for i := net.geomOff[e]; i < net.geomOff[e+1]; i++ {
			net.segEdge[i] = int32(e)
		}
	}
	if net.index.order == nil {
		net.index.order = net.hilbertOrder()
	}
	net.index.build(net.shape)
}

// KeepTop makes the spaces that each graph's hierarchy keeps for its top nodes (see ch.Hierarchy.KeepTop), which
// the first rounds and queries would otherwise make as they need them, one graph after another. It returns ctx's
// error if ctx is done first, and the memory the kept spaces take. The network answers meanwhile, exactly as
// after; a daemon runs it in the background after loading a map.
func (net *Network) KeepTop(ctx context.Context) (int64, error) {
	var bytes int64
	for _, gr := range net.graphs {
		if gr == nil || gr.h == nil {
			continue
		}
		if err := gr.h.KeepTop(ctx); err != nil {
			return bytes, err
		}
		bytes += gr.h.KeptBytes()
	}
	return bytes, nil
}

// Stats returns the network's figures.
func (net *Network) Stats() Stats {
	s := Stats{Nodes: len(net.nodes), Edges: len(net.from), Bound: net.bound}
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		g := graphOf(p)
		gr := net.graphs[g]
		s.Profiles[p] = ProfileStats{Nodes: gr.nodes, Edges: len(gr.chBase), Dropped: gr.drop}
		if graphProfiles[g] != p {
			s.Profiles[p].Shared = graphProfiles[g].String()
		}
	}
	return s
}

// String formats the figures as the import report prints them.
func (s Stats) String() string {
	out := fmt.Sprintf("roads: %d nodes, %d edges, bound [%.5f %.5f]–[%.5f %.5f]\n", s.Nodes, s.Edges,
		s.Bound.Min[0], s.Bound.Min[1], s.Bound.Max[0], s.Bound.Max[1])
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		ps := s.Profiles[p]
		out += fmt.Sprintf("  %-7s %d nodes, %d arcs, %d nodes dropped outside the largest strongly connected component",
			p, ps.Nodes, ps.Edges, ps.Dropped)
		if ps.Shared != "" {
			out += fmt.Sprintf(" (graph shared with %s)", ps.Shared)
		}
		out += "\n"
	}
	return out
}

// checkGraph is the graph CheckPoint measures against: the walkers', or the first graph with roads when they
// have none.
func (net *Network) checkGraph() int {
	for g, gr := range net.graphs {
		if gr.nodes > 0 {
			return g
		}
	}
	return 0
}

// query borrows a query of graph g; give it back with gr.pool.Put.
func (gr *graph) query() *ch.Query { return gr.pool.Get().(*ch.Query) }

var errNoRoads = errors.New("roads: the network has no roads")

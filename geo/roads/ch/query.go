package ch

import (
	"cmp"
	"slices"
)

// Query runs searches on one hierarchy. It keeps its buffers between searches, so that a search in steady state
// allocates nothing but its result; it belongs to one goroutine. Seeds whose node is out of range are ignored
// (see [Hierarchy.CheckSeeds]).
type Query struct {
	h          *Hierarchy
	fwd, bwd   side
	settled    []spaceEntry
	arcStack   []int32
	arcPath    []int32
	bucketHead []int32
	bucketUsed []int32
	buckets    []bucket
}

// side is one direction of a search: it relaxes the edges of g and stalls on the edges of other.
type side struct {
	h         *Hierarchy
	g, other  *graph
	dist      []cost
	prev, arc []int32 // the rank and arc a node was reached from; for a seed, prev is -1-(seed index), arc is -1
	stalled   []bool
	heap      heap
	touched   []int32
}

type spaceEntry struct {
	node int32
	cost cost
}

type bucket struct {
	target, next int32
	cost         cost
}

// NewQuery returns a query on h with buffers sized for h's nodes.
func (h *Hierarchy) NewQuery() *Query {
	q := &Query{h: h}
	q.fwd = newSide(h, &h.up, &h.down)
	q.bwd = newSide(h, &h.down, &h.up)
	return q
}

func newSide(h *Hierarchy, g, other *graph) side {
	n := h.numNodes
	s := side{h: h, g: g, other: other, dist: make([]cost, n), prev: make([]int32, n), arc: make([]int32, n),
		stalled: make([]bool, n), heap: newHeap(n)}
	for i := range s.dist {
		s.dist[i] = infinite
	}
	return s
}

func (s *side) reset() {
	for _, v := range s.touched {
		s.dist[v] = infinite
		s.stalled[v] = false
	}
	s.touched = s.touched[:0]
	s.heap.clear()
}

func (s *side) init(seeds []Seed) {
	s.reset()
	for i, sd := range seeds {
		if sd.Node < 0 || int(sd.Node) >= s.h.numNodes {
			continue
		}
		c := pack(sd.Weight, sd.Length)
		v := s.h.rankOf[sd.Node]
		if c >= s.dist[v] {
			continue
		}
		if s.dist[v] == infinite {
			s.touched = append(s.touched, v)
		}
		s.dist[v] = c
		s.prev[v] = int32(-1 - i)
		s.arc[v] = -1
		s.heap.push(v, c)
	}
}

// settle takes the next node off the heap and relaxes its edges unless it is stalled: reached better from a higher
// node, so that no fastest path climbs through it. It reports whether the node was relaxed.
func (s *side) settle() (int32, cost, bool) {
	v, d := s.heap.pop()
	o := s.other
	for _, e := range o.edges[o.first[v]:o.first[v+1]] {
		if du := s.dist[e.head]; du != infinite && add(du, e.cost) < d {
			s.stalled[v] = true
			return v, d, false
		}
	}
	g := s.g
	for _, e := range g.edges[g.first[v]:g.first[v+1]] {
		nd := add(d, e.cost)
		w := e.head
		if nd < s.dist[w] {
			if s.dist[w] == infinite {
				s.touched = append(s.touched, w)
			}
			s.dist[w] = nd
			s.prev[w] = v
			s.arc[w] = e.arc
			s.heap.push(w, nd)
		}
	}
	return v, d, true
}

// search runs the bidirectional search and returns the best cost and the rank where the two halves meet (-1 if
// none).
func (q *Query) search(from, to []Seed) (cost, int32) {
	f, b := &q.fwd, &q.bwd
	f.init(from)
	b.init(to)
	best, meet := infinite, int32(-1)
	for {
		fOpen := !f.heap.empty() && f.heap.minKey() < best
		bOpen := !b.heap.empty() && b.heap.minKey() < best
		if !fOpen && !bOpen {
			break
		}
		s, o := f, b
		if !fOpen || (bOpen && b.heap.minKey() < f.heap.minKey()) {
			s, o = b, f
		}
		v, d, _ := s.settle()
		if od := o.dist[v]; od != infinite {
			if c := add(d, od); c < best {
				best, meet = c, v
			}
		}
	}
	return best, meet
}

// Route returns the least travel time from any seed of from to any seed of to, seed weights included, and the
// least length among the paths of that time; ok is false, and both values [Unreachable], when there is no path.
func (q *Query) Route(from, to []Seed) (weight, length uint32, ok bool) {
	best, _ := q.search(from, to)
	if best == infinite {
		return Unreachable, Unreachable, false
	}
	weight, length = unpack(best)
	return weight, length, true
}

// Path is [Query.Route] with the route itself: the ids of the original edges in travel order (empty when the
// route is a single node), and the index of the seed of from where it starts and of the seed of to where it ends.
// The edges' weights and lengths plus the two seeds' add up to weight and length (unless they saturate).
func (q *Query) Path(from, to []Seed) (edges []int32, fromSeed, toSeed int, weight, length uint32, ok bool) {
	best, meet := q.search(from, to)
	if best == infinite {
		return nil, -1, -1, Unreachable, Unreachable, false
	}
	arcs := q.arcPath[:0]
	v := meet
	for q.fwd.arc[v] >= 0 {
		arcs = append(arcs, q.fwd.arc[v])
		v = q.fwd.prev[v]
	}
	fromSeed = int(-1 - q.fwd.prev[v])
	slices.Reverse(arcs)
	v = meet
	for q.bwd.arc[v] >= 0 {
		arcs = append(arcs, q.bwd.arc[v])
		v = q.bwd.prev[v]
	}
	toSeed = int(-1 - q.bwd.prev[v])
	q.arcPath = arcs
	edges = []int32{}
	for _, a := range arcs {
		edges = q.appendEdges(edges, a)
	}
	weight, length = unpack(best)
	return edges, fromSeed, toSeed, weight, length, true
}

// appendEdges appends the original edges of arc a, in order.
func (q *Query) appendEdges(dst []int32, a int32) []int32 {
	stack := append(q.arcStack[:0], a)
	for len(stack) > 0 {
		x := q.h.arcs[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if x.b < 0 {
			dst = append(dst, x.a)
			continue
		}
		stack = append(stack, x.b, x.a)
	}
	q.arcStack = stack
	return dst
}

// Space is the search space of a point: every node an upward search from its seeds settles without stalling,
// with the cost of reaching it, sorted by node. A forward space of a source and a backward space of a target
// meet ([Meet]) at the answer to [Query.Route]. A Space is immutable and may be shared.
type Space struct {
	nodes []int32 // ranks, ascending
	costs []cost
}

// Len returns the number of nodes in the space.
func (s *Space) Len() int { return len(s.nodes) }

// Forward returns the forward search space of seeds (a source).
func (q *Query) Forward(seeds []Seed) Space { return q.space(&q.fwd, seeds) }

// Backward returns the backward search space of seeds (a target).
func (q *Query) Backward(seeds []Seed) Space { return q.space(&q.bwd, seeds) }

func (q *Query) space(s *side, seeds []Seed) Space {
	s.init(seeds)
	ent := q.settled[:0]
	for !s.heap.empty() {
		if v, d, ok := s.settle(); ok {
			ent = append(ent, spaceEntry{node: v, cost: d})
		}
	}
	slices.SortFunc(ent, func(a, b spaceEntry) int { return cmp.Compare(a.node, b.node) })
	q.settled = ent
	sp := Space{nodes: make([]int32, len(ent)), costs: make([]cost, len(ent))}
	for i, e := range ent {
		sp.nodes[i], sp.costs[i] = e.node, e.cost
	}
	return sp
}

// Meet returns what [Query.Route] returns for the source whose forward space is f and the target whose backward
// space is b, both taken from the same hierarchy.
func Meet(f, b *Space) (weight, length uint32, ok bool) {
	best := infinite
	fn, bn := f.nodes, b.nodes
	i, j := 0, 0
	for i < len(fn) && j < len(bn) {
		switch x, y := fn[i], bn[j]; {
		case x < y:
			i++
		case x > y:
			j++
		default:
			if c := add(f.costs[i], b.costs[j]); c < best {
				best = c
			}
			i++
			j++
		}
	}
	if best == infinite {
		return Unreachable, Unreachable, false
	}
	weight, length = unpack(best)
	return weight, length, true
}

// Table returns the answers of [Query.Route] for every source of from and target of to, row by row:
// weights[i*len(to)+j] is from[i] to to[j], [Unreachable] (in both slices) where there is no path. It runs one
// backward search per target, leaving its costs in buckets at the nodes it settles, then one forward search per
// source that reads the buckets.
func (q *Query) Table(from, to [][]Seed) (weights, lengths []uint32) {
	nt := len(to)
	res := make([]cost, len(from)*nt)
	for i := range res {
		res[i] = infinite
	}
	if q.bucketHead == nil {
		q.bucketHead = make([]int32, q.h.numNodes)
		for i := range q.bucketHead {
			q.bucketHead[i] = -1
		}
	}
	head := q.bucketHead
	bk := q.buckets[:0]
	used := q.bucketUsed[:0]
	b := &q.bwd
	for j, seeds := range to {
		b.init(seeds)
		for !b.heap.empty() {
			v, d, ok := b.settle()
			if !ok {
				continue
			}
			if head[v] < 0 {
				used = append(used, v)
			}
			bk = append(bk, bucket{target: int32(j), next: head[v], cost: d})
			head[v] = int32(len(bk) - 1)
		}
	}
	f := &q.fwd
	for i, seeds := range from {
		row := res[i*nt : (i+1)*nt]
		f.init(seeds)
		for !f.heap.empty() {
			v, d, ok := f.settle()
			if !ok {
				continue
			}
			for k := head[v]; k >= 0; k = bk[k].next {
				if c := add(d, bk[k].cost); c < row[bk[k].target] {
					row[bk[k].target] = c
				}
			}
		}
	}
	for _, v := range used {
		head[v] = -1
	}
	q.buckets, q.bucketUsed = bk, used
	weights = make([]uint32, len(res))
	lengths = make([]uint32, len(res))
	for i, c := range res {
		if c == infinite {
			weights[i], lengths[i] = Unreachable, Unreachable
			continue
		}
		weights[i], lengths[i] = unpack(c)
	}
	return weights, lengths
}

// Table is [Query.Table] with a query taken from a pool kept by h; it is safe for concurrent use.
func (h *Hierarchy) Table(from, to [][]Seed) (weights, lengths []uint32) {
	q, _ := h.queries.Get().(*Query)
	if q == nil {
		q = h.NewQuery()
	}
	defer h.queries.Put(q)
	return q.Table(from, to)
}

package ch

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Query runs searches on one hierarchy. It keeps its buffers between searches, so that a search in steady state
// allocates nothing but its result; it belongs to one goroutine. Seeds whose node is out of range are ignored
// (see [Hierarchy.CheckSeeds]).
type Query struct {
	h        *Hierarchy
	fwd, bwd side
	arcStack []int32
	arcPath  []int32
	// A table's buckets (see fillBuckets), with the bucket of each cost left while they are filled, and what each
	// backward search of a table leaves for them.
	bucketOf      bucketIndex
	bucketStart   []int32
	bucketEntries []bucketEntry
	bucketOfLeft  []int32
	bucketMost    cost // the largest weight and the largest length in the buckets, as the halves of a cost
	left          []leftCost
	row           []cost // the answers of the source a table's forward search is for
	// flat is the state of a table's searches (see flatSearch): the query's own when it runs Query.Table, one
	// of the hierarchy's while Hierarchy.Table uses it.
	flat *flatSearch
}

// side is one direction of a search: forward, it relaxes up edges and stalls on down edges; backward, the
// reverse.
type side struct {
	h       *Hierarchy
	forward bool
	t       visits
	// What climb found: the nodes relaxed below the top, the top nodes reached.
	below, top []spaceEntry
}

type spaceEntry struct {
	node int32
	cost cost
}

// leftCost is the cost of target at node, left by the target's backward search.
type leftCost struct {
	node, target int32
	cost         cost
}

// bucketEntry is a target's cost at the node whose bucket holds it.
type bucketEntry struct {
	cost   cost
	target int32
}

// NewQuery returns a query on h. Its buffers grow with the searches it runs, not with the graph, but for the
// state that [Query.Table] keeps over every node (16 bytes a node).
func (h *Hierarchy) NewQuery() *Query {
	return &Query{h: h, fwd: side{h: h, forward: true, t: newVisits()}, bwd: side{h: h, t: newVisits()}}
}

func (s *side) init(seeds []Seed) {
	s.t.reset()
	for i, sd := range seeds {
		if sd.Node < 0 || int(sd.Node) >= s.h.numNodes {
			continue
		}
		c := pack(sd.Weight, sd.Length)
		if c == infinite {
			continue
		}
		slot := s.t.get(s.h.idOf[sd.Node])
		x := &s.t.slots[slot]
		if c >= x.dist {
			continue
		}
		x.dist, x.prev, x.arc = c, int32(-1-i), -1
		s.t.push(slot, c)
	}
}

// dist returns the distance at which v was reached, or infinite.
func (s *side) dist(v int32) cost {
	if i := s.t.find(v); i >= 0 {
		return s.t.slots[i].dist
	}
	return infinite
}

func (s *side) empty() bool { return len(s.t.heap) == 0 }

func (s *side) minKey() cost { return s.t.heap[0].key }

// settle takes the next node off the heap and relaxes its edges unless it is stalled: reached better from a higher
// node, so that no fastest path climbs through it. A top node of stop (when not nil) is not relaxed either: the
// caller takes its kept space instead. It reports what it did with the node.
func (s *side) settle(stop *upper) (int32, cost, settled) {
	t := &s.t
	slot, d := t.pop()
	v := t.slots[slot].node
	g := &s.h.g
	up, down, end := g.index[v].up, g.index[v].down, g.index[v+1].up
	relax, stall := up, down // offsets in g.edges of the lists to relax and to stall on
	relaxEnd, stallEnd := down, end
	if !s.forward {
		relax, stall, relaxEnd, stallEnd = down, up, end, down
	}
	for _, e := range g.edges[stall:stallEnd] {
		if u := t.find(e.head); u >= 0 && add(t.slots[u].dist, e.cost()) < d {
			return v, d, stalled
		}
	}
	if stop != nil && stop.isTop(v) {
		return v, d, reachedTop
	}
	for i, e := range g.edges[relax:relaxEnd] {
		nd := add(d, e.cost())
		w := t.get(e.head)
		if x := &t.slots[w]; nd < x.dist {
			x.dist, x.prev, x.arc = nd, v, relax+int32(i)
			t.push(w, nd)
		}
	}
	return v, d, relaxed
}

// settled is what side.settle did with a node.
type settled int8

const (
	relaxed    settled = iota // its edges were relaxed
	stalled                   // reached better from a higher node: dropped
	reachedTop                // a top node whose kept space the search takes
)

// search runs the bidirectional search and returns the best cost and the id where the two halves meet (-1 if
// none).
func (q *Query) search(from, to []Seed) (cost, int32) {
	f, b := &q.fwd, &q.bwd
	f.init(from)
	b.init(to)
	best, meet := infinite, int32(-1)
	for {
		fOpen := !f.empty() && f.minKey() < best
		bOpen := !b.empty() && b.minKey() < best
		if !fOpen && !bOpen {
			break
		}
		s, o := f, b
		if !fOpen || (bOpen && b.minKey() < f.minKey()) {
			s, o = b, f
		}
		v, d, _ := s.settle(nil)
		if od := o.dist(v); od != infinite {
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
	var best cost
	if u := q.h.upperSpaces(); u != nil {
		best = q.routeKept(u, from, to)
	} else {
		best, _ = q.search(from, to)
	}
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
	arcs, fs := q.fwd.walk(q.arcPath[:0], meet)
	slices.Reverse(arcs)
	arcs, ts := q.bwd.walk(arcs, meet)
	q.arcPath = arcs
	fromSeed, toSeed = int(fs), int(ts)
	edges = []int32{}
	for _, a := range arcs {
		edges = q.appendEdges(edges, a)
	}
	weight, length = unpack(best)
	return edges, fromSeed, toSeed, weight, length, true
}

// walk appends the arcs by which the search reached v, from v back to its seed, and returns the seed's index.
func (s *side) walk(arcs []int32, v int32) ([]int32, int32) {
	for {
		x := &s.t.slots[s.t.find(v)]
		if x.arc < 0 {
			return arcs, -1 - x.prev
		}
		arcs = append(arcs, s.h.g.arcOf[x.arc])
		v = x.prev
	}
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
// with the cost of reaching it, the top nodes' part taken from their kept spaces (see upper.go). A forward space
// of a source and a backward space of a target of the same hierarchy meet ([Meet]) at the answer to
// [Query.Route]. A Space is immutable and may be shared.
type Space struct {
	nodes []int32 // keys (ids below the top, see upper.go), ascending
	costs []cost
	plain bool // every cost fits (see fitMask): sums of them may be taken as plain integers
}

// Len returns the number of nodes in the space.
func (s *Space) Len() int { return len(s.nodes) }

// Forward returns the forward search space of seeds (a source).
func (q *Query) Forward(seeds []Seed) Space { return q.space(&q.fwd, seeds) }

// Backward returns the backward search space of seeds (a target).
func (q *Query) Backward(seeds []Seed) Space { return q.space(&q.bwd, seeds) }

func (q *Query) space(s *side, seeds []Seed) Space {
	stop := q.h.upperSpaces()
	below, top := s.climb(seeds, stop)
	if len(top) > 0 {
		return stop.joinTop(q.h, s.forward, below, top)
	}
	return spaceOf(below, 0, nil, nil)
}

// climb runs an upward search from seeds to its end, stopping at the top nodes of stop (when not nil). It returns
// the nodes it relaxed below them and the top nodes it reached, both in the order it settled them, in buffers
// of s kept until the next climb.
func (s *side) climb(seeds []Seed, stop *upper) (below, top []spaceEntry) {
	s.init(seeds)
	below, top = s.below[:0], s.top[:0]
	for !s.empty() {
		switch v, d, res := s.settle(stop); res {
		case relaxed:
			below = append(below, spaceEntry{node: v, cost: d})
		case reachedTop:
			top = append(top, spaceEntry{node: v, cost: d})
		}
	}
	s.below, s.top = below, top
	return below, top
}

// Meet returns what [Query.Route] returns for the source whose forward space is f and the target whose backward
// space is b, both taken from the same hierarchy.
func Meet(f, b *Space) (weight, length uint32, ok bool) {
	if f.plain && b.plain {
		return meetPlain(f, b)
	}
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

// meetPlain is Meet for two spaces whose costs fit: the merge adds them as plain integers and takes the least
// without a branch on which keys match (which keys match follows no pattern the processor could predict).
func meetPlain(f, b *Space) (weight, length uint32, ok bool) {
	best := absent
	fn, fc, bn, bc := f.nodes, f.costs[:len(f.nodes)], b.nodes, b.costs[:len(b.nodes)]
	i, j := 0, 0
	for i < len(fn) && j < len(bn) {
		x, y := fn[i], bn[j]
		c := fc[i] + bc[j]
		if x != y {
			c = absent
		}
		best = min(best, c)
		di, dj := 0, 0
		if x <= y {
			di = 1
		}
		if y <= x {
			dj = 1
		}
		i, j = i+di, j+dj
	}
	if best == absent {
		return Unreachable, Unreachable, false
	}
	weight, length = unpack(best)
	return weight, length, true
}

// Table returns the answers of [Query.Route] for every source of from and target of to, row by row:
// weights[i*len(to)+j] is from[i] to to[j], [Unreachable] (in both slices) where there is no path. It runs one
// backward search per target, leaving its costs in buckets at the nodes it settles, then one forward search per
// source that reads the buckets: len(from)+len(to) searches, whatever the table's size. The first table
// allocates the query's state of the searches over every node (16 bytes a node), kept for the next.
func (q *Query) Table(from, to [][]Seed) (weights, lengths []uint32) {
	if q.flat == nil {
		q.flat = newFlatSearch(q.h)
	}
	return table([]*Query{q}, from, to)
}

// Table is [Query.Table] with queries taken from a pool kept by h; it is safe for concurrent use. A large table
// runs its searches on up to GOMAXPROCS goroutines (one per 16 sources and targets), which it waits for; the
// answers are the same. h keeps the state over every node of each goroutine's searches (16 bytes a node) for
// the next table: as many states as tables have run goroutines at once, at most GOMAXPROCS.
func (h *Hierarchy) Table(from, to [][]Seed) (weights, lengths []uint32) {
	qs := make([]*Query, max(1, min(runtime.GOMAXPROCS(0), (len(from)+len(to))/16)))
	for i := range qs {
		if qs[i], _ = h.queries.Get().(*Query); qs[i] == nil {
			qs[i] = h.NewQuery()
		}
	}
	for _, q := range qs {
		q.flat = h.takeFlat()
	}
	defer func() {
		for _, q := range qs {
			h.putFlat(q.flat)
			q.flat = nil
			h.queries.Put(q)
		}
	}()
	return table(qs, from, to)
}

// table answers a table with the queries of qs, one goroutine each when there are several; qs[0] keeps the
// buckets, and each forward search converts its own row of answers. Places are searched in the order of
// their nodes' ids, so that consecutive searches, which the numbering makes neighbours, find the upper parts of
// the hierarchy they share in the cache; a place whose seeds equal an earlier one's is searched once and its
// answers copied.
func table(qs []*Query, from, to [][]Seed) (weights, lengths []uint32) {
	nt := len(to)
	weights = make([]uint32, len(from)*nt)
	lengths = make([]uint32, len(from)*nt)
	h := qs[0].h
	for _, q := range qs {
		q.left = q.left[:0]
	}
	tOrder, tSame := h.searchOrder(to)
	each(qs, len(tOrder), func(q *Query, k int) { q.leave(to[tOrder[k]], tOrder[k]) })
	b := qs[0]
	b.fillBuckets(qs)
	sOrder, sSame := h.searchOrder(from)
	each(qs, len(sOrder), func(q *Query, k int) {
		i := int(sOrder[k])
		row := slices.Grow(q.row[:0], nt)[:nt]
		for j := range row {
			row[j] = infinite
		}
		q.scan(from[i], b, row)
		w, l := weights[i*nt:(i+1)*nt], lengths[i*nt:(i+1)*nt]
		for j, c := range row {
			if c == infinite {
				w[j], l[j] = Unreachable, Unreachable
				continue
			}
			w[j], l[j] = unpack(c)
		}
		q.row = row
	})
	for _, d := range sSame {
		copy(weights[int(d.place)*nt:(int(d.place)+1)*nt], weights[int(d.as)*nt:(int(d.as)+1)*nt])
		copy(lengths[int(d.place)*nt:(int(d.place)+1)*nt], lengths[int(d.as)*nt:(int(d.as)+1)*nt])
	}
	if len(tSame) > 0 {
		for i := range from {
			w, l := weights[i*nt:(i+1)*nt], lengths[i*nt:(i+1)*nt]
			for _, d := range tSame {
				w[d.place], l[d.place] = w[d.as], l[d.as]
			}
		}
	}
	return weights, lengths
}

// samePlace says that place has the seeds of as, an earlier place, and takes its answers.
type samePlace struct{ place, as int32 }

// searchOrder returns the places of a table to search, by the least id of their seeds (places with no seed in
// range last), and the places left out because their seeds equal, in the same order, those of a place searched.
func (h *Hierarchy) searchOrder(places [][]Seed) (order []int32, same []samePlace) {
	key := func(seeds []Seed) int32 {
		k := int32(math.MaxInt32)
		for _, sd := range seeds {
			if sd.Node >= 0 && int(sd.Node) < h.numNodes {
				k = min(k, h.idOf[sd.Node])
			}
		}
		return k
	}
	type item struct{ key, place int32 }
	items := make([]item, len(places))
	for i, p := range places {
		items[i] = item{key(p), int32(i)}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := slices.CompareFunc(places[a.place], places[b.place], compareSeeds); c != 0 {
			return c
		}
		return cmp.Compare(a.place, b.place)
	})
	order = make([]int32, 0, len(items))
	for i, it := range items {
		if i > 0 && it.key == items[i-1].key && slices.Equal(places[it.place], places[order[len(order)-1]]) {
			same = append(same, samePlace{place: it.place, as: order[len(order)-1]})
			continue
		}
		order = append(order, it.place)
	}
	return order, same
}

func compareSeeds(a, b Seed) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Weight, b.Weight); c != 0 {
		return c
	}
	return cmp.Compare(a.Length, b.Length)
}

// leave runs the backward search of target j and appends its cost at every node it settles without stalling to
// q.left.
func (q *Query) leave(seeds []Seed, j int32) {
	f := q.flat
	f.init(seeds)
	for !f.empty() {
		if v, d, ok := f.settle(false); ok {
			q.left = append(q.left, leftCost{node: v, target: j, cost: d})
		}
	}
}

// fillBuckets gathers what the backward searches of qs left into buckets, one per node, stored together:
// bucketEntries[bucketStart[k]:bucketStart[k+1]] are the targets and costs at the node whose bucket is k.
func (q *Query) fillBuckets(qs []*Query) {
	total := 0
	for _, p := range qs {
		total += len(p.left)
	}
	of := &q.bucketOf
	of.reset()
	start := q.bucketStart[:0]
	ks := slices.Grow(q.bucketOfLeft[:0], total)[:total] // the bucket of each cost left, in order
	i := 0
	for _, p := range qs {
		for _, e := range p.left {
			k := of.add(e.node, int32(len(start)))
			if int(k) == len(start) {
				start = append(start, 0)
			}
			start[k]++
			ks[i] = k
			i++
		}
	}
	sum := int32(0)
	for k, c := range start { // each bucket's end; filling moves it back to the bucket's start
		sum += c
		start[k] = sum
	}
	start = append(start, sum)
	bk := slices.Grow(q.bucketEntries[:0], total)[:total]
	most := cost(0)
	i = 0
	for _, p := range qs {
		for _, e := range p.left {
			k := ks[i]
			i++
			start[k]--
			bk[start[k]] = bucketEntry{cost: e.cost, target: e.target}
			most = max(most>>32, e.cost>>32)<<32 | max(most&math.MaxUint32, e.cost&math.MaxUint32)
		}
	}
	q.bucketStart, q.bucketEntries, q.bucketOfLeft, q.bucketMost = start, bk, ks, most
}

// bucketIndex maps the nodes that have a bucket to the bucket's number, in an open-addressing hash table of a
// few thousand slots: a table's buckets are at a few thousand nodes, and a search looks up every node it settles,
// which an array over all nodes would answer from memory rather than from the cache. The table grows to keep at
// least half of its slots empty, and keeps its size for the next table.
type bucketIndex struct {
	slots []bucketSlot
	shift uint32
	count int
}

type bucketSlot struct{ node, bucket int32 } // node -1: empty

// reset empties the index.
func (x *bucketIndex) reset() {
	if x.slots == nil {
		x.alloc(1 << 10)
	}
	for i := range x.slots {
		x.slots[i].node = -1
	}
	x.count = 0
}

func (x *bucketIndex) alloc(n int) {
	x.slots = make([]bucketSlot, n)
	for i := range x.slots {
		x.slots[i].node = -1
	}
	x.shift = 32
	for ; n > 1; n >>= 1 {
		x.shift--
	}
}

func (x *bucketIndex) home(v int32) uint32 { return (uint32(v) * 0x9e3779b1) >> x.shift }

// add returns the bucket of v, giving it bucket b if it had none; v must be at least 0.
func (x *bucketIndex) add(v, b int32) int32 {
	if 2*(x.count+1) > len(x.slots) {
		old := x.slots
		x.alloc(2 * len(old))
		for _, s := range old {
			if s.node >= 0 {
				x.put(s)
			}
		}
	}
	mask := uint32(len(x.slots) - 1)
	for i := x.home(v); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.node == v {
			return s.bucket
		}
		if s.node < 0 {
			*s = bucketSlot{node: v, bucket: b}
			x.count++
			return b
		}
	}
}

// put stores s, whose node is not in the index.
func (x *bucketIndex) put(s bucketSlot) {
	mask := uint32(len(x.slots) - 1)
	i := x.home(s.node)
	for x.slots[i].node >= 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

// find returns the bucket of v, or -1.
func (x *bucketIndex) find(v int32) int32 {
	mask := uint32(len(x.slots) - 1)
	for i := x.home(v); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.node < 0 {
			return -1
		}
		if s.node == v {
			return s.bucket
		}
	}
}

// scan runs the forward search of a source and lowers row[j] to the best meeting with target j in the buckets
// that b holds.
func (q *Query) scan(seeds []Seed, b *Query, row []cost) {
	of, start, bk := &b.bucketOf, b.bucketStart, b.bucketEntries
	f := q.flat
	f.init(seeds)
	for !f.empty() {
		v, d, ok := f.settle(true)
		if !ok {
			continue
		}
		k := of.find(v)
		if k < 0 {
			continue
		}
		es := bk[start[k]:start[k+1]]
		if addsPlainly(d, b.bucketMost) {
			for _, e := range es {
				if c := d + e.cost; c < row[e.target] {
					row[e.target] = c
				}
			}
			continue
		}
		for _, e := range es {
			if c := add(d, e.cost); c < row[e.target] {
				row[e.target] = c
			}
		}
	}
}

// each calls do(q, i) for i in [0, n), spread over the queries of qs, one goroutine each when there are
// several (the calling goroutine runs qs[0]'s share), and returns when every call has. Each query takes the
// indices of its own run of [0, n) in order, so that consecutive calls on one processor share its cache, then
// helps with the runs of the others.
func each(qs []*Query, n int, do func(q *Query, i int)) {
	if len(qs) == 1 || n <= 1 {
		for i := range n {
			do(qs[0], i)
		}
		return
	}
	type run struct {
		next atomic.Int64
		end  int64
		_    [48]byte // a cache line each
	}
	runs := make([]run, len(qs))
	for k := range runs {
		runs[k].next.Store(int64(k * n / len(qs)))
		runs[k].end = int64((k + 1) * n / len(qs))
	}
	work := func(k int) {
		for j := range runs {
			r := &runs[(k+j)%len(runs)]
			for i := r.next.Add(1) - 1; i < r.end; i = r.next.Add(1) - 1 {
				do(qs[k], int(i))
			}
		}
	}
	var wg sync.WaitGroup
	for k := 1; k < len(qs); k++ {
		wg.Go(func() { work(k) })
	}
	work(0)
	wg.Wait()
}

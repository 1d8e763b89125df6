package ch

import (
	"cmp"
	"context"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// The search space of a point ([Query.Forward], [Query.Backward]) climbs from its seeds to the top of the
// hierarchy, and every space of a city ends among the same few thousand top nodes: most of a space's work is done
// again and again above the same nodes. So a hierarchy keeps, for each of its top nodes (ranks from upper.from
// up), the space of the node itself, made once on first use and shared by every later space: a space's search
// stops at the top nodes it reaches and takes their kept spaces instead of climbing on.
//
// The kept space of a top node v is {v: 0} joined with the kept space of each node its up edges (forward) or down
// edges (backward) lead to, plus that edge's cost; all of them are top nodes, so kept spaces are made from each
// other alone. A kept space is then pruned as a search stalls: an entry x is dropped when a node y of the space
// one edge above it reaches x for strictly less (cost(y) + edge < cost(x)). A point's space is not pruned
// further (the stall checks of top nodes, whose lists are long, cost more than the entries they drop cost [Meet]).
//
// The answers stay exact. A space serves [Meet] if it holds the meeting node z of a fastest up-down path at its
// true cost. Along the up part of that path every node has its true cost, so the search reaches and keeps the
// first top node on it at its true cost, and the kept space of that node holds z at its true cost: by induction
// over the path from the top, a kept space never drops a node that its own fastest path reaches at its true cost
// (dropping needs a strictly cheaper path, which the true cost rules out). Every other entry is the cost of a
// real path, so no meeting is cheaper than the answer.
//
// Top nodes are counted by their place among the top (rank - from, their offset): kept spaces list offsets, and
// joining spaces adds costs up in an array over the offsets, which stays in the cache. A space's entries are
// sorted by key: a node's id below the top, numNodes + its offset for a top node, so that the top entries come
// last and in the order of the kept spaces.

// upperShare is the share of a hierarchy's nodes, the highest ranks, whose spaces are kept: a twentieth. On the
// metro of a million junctions (BenchmarkQuery1M, BenchmarkKeepAll1M) the car's kept spaces take 123 MB once all
// made, and a query 15 µs; a fiftieth takes 42 MB and 20 µs, a tenth 258 MB.
const upperShare = 20

// upper holds the kept spaces of the top nodes: fwd[o] and bwd[o] are the spaces of the node of offset o.
type upper struct {
	from     int32
	ids      []int32  // the id of each offset
	top      []uint64 // a bit per id: set for the top nodes
	fwd, bwd []atomic.Pointer[Space]
	scratch  sync.Pool // of *upperScratch
}

// upperScratch adds costs up by offset: acc[o] is the least cost of offset o in the join of generation cur, and
// the bit o of reached is set, so that the offsets reached come out in order without a sort.
type upperScratch struct {
	acc     []cost
	gen     []uint32
	cur     uint32
	reached []uint64
	count   int // offsets reached
	offs    []int32
	stack   []int32
	far     []cost // absent at every offset between uses (see meetTopPlain)
}

// upperSpaces returns the hierarchy's kept spaces, made on first use; nil when no node is kept.
func (h *Hierarchy) upperSpaces() *upper {
	h.upOnce.Do(h.setUpper)
	return h.up
}

// KeepShare sets the share of the hierarchy's nodes, the highest ranks, whose search spaces it keeps: a twentieth
// unless set (upperShare); 0 or less keeps none, and queries climb to the top of the hierarchy as plain contraction
// hierarchies do, slower (on the metro of a million junctions a query takes 55-75 µs rather than 16) but
// without the kept spaces' memory (123 MB for the car there). The answers are the same. It takes effect only before
// the hierarchy's first query, space or KeepTop, and reports whether it did.
func (h *Hierarchy) KeepShare(share float64) bool {
	set := false
	h.upOnce.Do(func() {
		set = true
		switch {
		case !(share > 0): // also NaN
			h.upperNodes = -1
		default:
			h.upperNodes = max(1, int(math.Round(min(share, 1)*float64(h.numNodes))))
		}
		h.setUpper()
	})
	return set
}

// setUpper makes the hierarchy's table of kept spaces, empty, for upperNodes nodes.
func (h *Hierarchy) setUpper() {
	k := h.upperNodes
	switch {
	case k == 0:
		k = h.numNodes / upperShare
	case k < 0:
		k = 0
	}
	k = min(k, h.numNodes)
	if k == 0 {
		return
	}
	u := &upper{from: int32(h.numNodes - k), ids: make([]int32, k), top: make([]uint64, (h.numNodes+63)/64),
		fwd: make([]atomic.Pointer[Space], k), bwd: make([]atomic.Pointer[Space], k)}
	for v, r := range h.rank {
		if r >= u.from {
			u.ids[r-u.from] = int32(v)
			u.top[v/64] |= 1 << (v % 64)
		}
	}
	h.up = u
}

// isTop reports whether the node of id v has a kept space.
func (u *upper) isTop(v int32) bool { return u.top[v/64]&(1<<(v%64)) != 0 }

// offset returns the offset of top node v.
func (u *upper) offset(h *Hierarchy, v int32) int32 { return h.rank[v] - u.from }

func (u *upper) kept(forward bool, o int32) *atomic.Pointer[Space] {
	if forward {
		return &u.fwd[o]
	}
	return &u.bwd[o]
}

func (u *upper) takeScratch() *upperScratch {
	if s, ok := u.scratch.Get().(*upperScratch); ok {
		return s
	}
	return &upperScratch{acc: make([]cost, len(u.ids)), gen: make([]uint32, len(u.ids)),
		reached: make([]uint64, (len(u.ids)+63)/64)}
}

// reset starts a join.
func (sc *upperScratch) reset() {
	sc.cur++
	if sc.cur == 0 { // wrapped: forget every offset for real
		clear(sc.gen)
		sc.cur = 1
	}
	sc.count = 0
}

// lower records that offset o is reached for c, keeping the least cost.
func (sc *upperScratch) lower(o int32, c cost) {
	if sc.gen[o] != sc.cur {
		sc.gen[o], sc.acc[o] = sc.cur, c
		sc.reached[o/64] |= 1 << (o % 64)
		sc.count++
	} else if c < sc.acc[o] {
		sc.acc[o] = c
	}
}

// add joins sp, reached for c, into the join.
func (sc *upperScratch) add(sp *Space, c cost) {
	for i, o := range sp.nodes {
		sc.lower(o, add(c, sp.costs[i]))
	}
}

// costOf returns the cost of offset o in the join, infinite if not reached.
func (sc *upperScratch) costOf(o int32) cost {
	if sc.gen[o] != sc.cur {
		return infinite
	}
	return sc.acc[o]
}

// space returns the kept space of the top node of offset o, making it, and those of the top nodes above it that
// it needs, when not yet kept. Two goroutines may make the same space at once; both get the one stored first.
func (u *upper) space(h *Hierarchy, forward bool, o int32) *Space {
	if sp := u.kept(forward, o).Load(); sp != nil {
		return sp
	}
	sc := u.takeScratch()
	defer u.scratch.Put(sc)
	// Depth first over the offsets whose space is missing: a space is made once those above it are kept.
	stack := append(sc.stack[:0], o)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		if u.kept(forward, x).Load() != nil {
			stack = stack[:len(stack)-1]
			continue
		}
		missing := false
		for _, e := range h.climb(forward, u.ids[x]) {
			if y := u.offset(h, e.head); u.kept(forward, y).Load() == nil {
				stack = append(stack, y)
				missing = true
			}
		}
		if missing {
			continue
		}
		stack = stack[:len(stack)-1]
		u.kept(forward, x).CompareAndSwap(nil, u.join(h, sc, forward, x))
	}
	sc.stack = stack
	return u.kept(forward, o).Load()
}

// join makes the space of the top node of offset o from the kept spaces of the nodes its climbing edges lead to,
// pruned.
func (u *upper) join(h *Hierarchy, sc *upperScratch, forward bool, o int32) *Space {
	sc.reset()
	sc.lower(o, 0)
	for _, e := range h.climb(forward, u.ids[o]) {
		sc.add(u.kept(forward, u.offset(h, e.head)).Load(), e.cost())
	}
	offs := sc.take()
	kept := offs[:0]
	for _, x := range offs {
		if !u.stalled(h, sc, forward, x) {
			kept = append(kept, x)
		}
	}
	sp := spaceOf(nil, 0, kept, sc.acc)
	return &sp
}

// clearBits forgets the order of the offsets reached, for a join whose entries are not taken.
func (sc *upperScratch) clearBits() {
	for w, n := 0, 0; n < sc.count; w++ {
		n += bits.OnesCount64(sc.reached[w])
		sc.reached[w] = 0
	}
}

// take returns the offsets reached, ascending, and clears their bits (their costs stay until the next reset).
func (sc *upperScratch) take() []int32 {
	offs := sc.offs[:0]
	for w := 0; len(offs) < sc.count; w++ {
		for b := sc.reached[w]; b != 0; b &= b - 1 {
			offs = append(offs, int32(w*64+bits.TrailingZeros64(b)))
		}
		sc.reached[w] = 0
	}
	sc.offs = offs
	return offs
}

// stalled reports whether a node one edge above offset x (in the direction a search stalls on; a top node, as
// every node above a top node is) reaches x in the join for less than x's own cost.
func (u *upper) stalled(h *Hierarchy, sc *upperScratch, forward bool, x int32) bool {
	d := sc.acc[x]
	for _, e := range h.stallEdges(forward, u.ids[x]) {
		if add(sc.costOf(u.offset(h, e.head)), e.cost()) < d {
			return true
		}
	}
	return false
}

// spaceOf returns the space of below, entries keyed by id, then of the offsets in keep (ascending), keyed by base
// plus the offset, with their costs in acc. It sorts below.
func spaceOf(below []spaceEntry, base int32, keep []int32, acc []cost) Space {
	slices.SortFunc(below, func(a, b spaceEntry) int { return cmp.Compare(a.node, b.node) })
	n := len(below) + len(keep)
	sp := Space{nodes: make([]int32, n), costs: make([]cost, n)}
	var all cost
	for i, e := range below {
		sp.nodes[i], sp.costs[i] = e.node, e.cost
		all |= e.cost
	}
	for i, o := range keep {
		sp.nodes[len(below)+i], sp.costs[len(below)+i] = base+o, acc[o]
		all |= acc[o]
	}
	sp.plain = all&fitMask == 0
	return sp
}

// joinTop completes a space whose search stopped at top nodes: below holds what the search relaxed under the top,
// top the top nodes it reached, in the order it settled them (cost ascending). The space is below and each top
// node's kept space plus the node's cost, the least cost where they overlap (see joinFrontier).
func (u *upper) joinTop(h *Hierarchy, forward bool, below, top []spaceEntry) Space {
	sc := u.takeScratch()
	defer u.scratch.Put(sc)
	sc.joinFrontier(u, h, forward, top)
	return spaceOf(below, int32(h.numNodes), sc.take(), sc.acc)
}

// joinFrontier starts a join of the kept spaces of the top nodes a search reached (top, cost ascending), each plus
// the node's cost. A top node that the kept space of an earlier one already reaches for less is left out: that
// space reaches all it reaches, for less.
func (sc *upperScratch) joinFrontier(u *upper, h *Hierarchy, forward bool, top []spaceEntry) {
	sc.reset()
	for _, f := range top {
		o := u.offset(h, f.node)
		if sc.costOf(o) < f.cost {
			continue
		}
		sc.add(u.space(h, forward, o), f.cost)
	}
}

// routeKept returns the cost of the fastest route from from to to through the kept spaces, without making
// either space: each side climbs to the top nodes; the nodes both relaxed below the top meet in the searches'
// tables, and the top nodes in an array over the offsets that the forward side's kept spaces fill and the
// backward side's read. A meeting node is either below the top on both sides or a top node on both sides.
func (q *Query) routeKept(u *upper, from, to []Seed) cost {
	h := q.h
	_, ftop := q.fwd.climb(from, u)
	bbelow, btop := q.bwd.climb(to, u)
	best := infinite
	ft := &q.fwd.t
	for _, e := range bbelow {
		if i := ft.find(e.node); i >= 0 {
			best = min(best, add(ft.slots[i].dist, e.cost))
		}
	}
	if len(ftop) == 0 || len(btop) == 0 {
		return best
	}
	sc := u.takeScratch()
	defer u.scratch.Put(sc)
	sc.joinFrontier(u, h, true, ftop)
	for _, b := range btop {
		sp := u.space(h, false, u.offset(h, b.node))
		for i, o := range sp.nodes {
			if c := sc.costOf(o); c != infinite {
				best = min(best, add(add(c, sp.costs[i]), b.cost))
			}
		}
	}
	sc.clearBits()
	return best
}

// MeetForward returns what Meet returns for the forward space of from and the backward space to, without making
// the forward space: a source asked about one target (a courier on its way to its next stop) spares the join of
// its top nodes' kept spaces. The source climbs to the top nodes; the nodes it relaxed below the top meet to's
// entries below the top in the search's table, and each top node's kept space meets to's top entries in an array
// over the offsets that to fills. Every sum is the cost of a real path and the join's least sum is among them, so
// the least is Meet's answer.
func (q *Query) MeetForward(from []Seed, to *Space) (weight, length uint32, ok bool) {
	u := q.h.upperSpaces()
	if u == nil {
		fsp := q.Forward(from)
		return Meet(&fsp, to)
	}
	h := q.h
	_, top := q.fwd.climb(from, u)
	best := infinite
	ft := &q.fwd.t
	numNodes := int32(h.numNodes)
	split, _ := slices.BinarySearch(to.nodes, numNodes) // to's entries below the top come first
	for k, v := range to.nodes[:split] {
		if i := ft.find(v); i >= 0 {
			best = min(best, add(ft.slots[i].dist, to.costs[k]))
		}
	}
	if len(top) > 0 && split < len(to.nodes) {
		sc := u.takeScratch()
		if to.plain {
			best = min(best, u.meetTopPlain(h, sc, top, to, split, best))
		} else {
			sc.reset()
			for k := split; k < len(to.nodes); k++ {
				sc.lower(to.nodes[k]-numNodes, to.costs[k])
			}
			for _, f := range top {
				if f.cost >= best {
					break // top is in order of cost, and no sum is below its first term
				}
				sp := u.space(h, true, u.offset(h, f.node))
				for i, o := range sp.nodes {
					if c := sc.costOf(o); c != infinite {
						best = min(best, add(add(f.cost, sp.costs[i]), c))
					}
				}
			}
			sc.clearBits()
		}
		u.scratch.Put(sc)
	}
	if best == infinite {
		return Unreachable, Unreachable, false
	}
	weight, length = unpack(best)
	return weight, length, true
}

// meetTopPlain returns the least of best and the cost of a route from the top nodes a forward search reached (top,
// in order of cost) through their kept spaces to the entries of the plain space to from split on (its top
// entries). to's costs are laid out in an array over the offsets, absent elsewhere, so that each kept space is read
// without a branch on whether to holds its entries; a kept space whose costs do not fit is read with add's checks.
func (u *upper) meetTopPlain(h *Hierarchy, sc *upperScratch, top []spaceEntry, to *Space, split int, best cost) cost {
	if sc.far == nil {
		sc.far = make([]cost, len(u.ids))
		for o := range sc.far {
			sc.far[o] = absent
		}
	}
	far := sc.far
	numNodes := int32(h.numNodes)
	for k := split; k < len(to.nodes); k++ {
		far[to.nodes[k]-numNodes] = to.costs[k]
	}
	plain := absent
	for _, f := range top {
		if f.cost >= best || (plain < absent && f.cost >= plain) {
			break // top is in order of cost, and no sum is below its first term
		}
		sp := u.space(h, true, u.offset(h, f.node))
		costs := sp.costs[:len(sp.nodes)]
		if sp.plain && f.cost&fitMask == 0 {
			for i, o := range sp.nodes {
				plain = min(plain, f.cost+costs[i]+far[o])
			}
			continue
		}
		for i, o := range sp.nodes {
			if c := far[o]; c != absent {
				best = min(best, add(add(f.cost, costs[i]), c))
			}
		}
	}
	for k := split; k < len(to.nodes); k++ {
		far[to.nodes[k]-numNodes] = absent
	}
	if plain < absent { // else every sum took an absent entry
		best = min(best, plain)
	}
	return best
}

// climb returns the edges a search of the direction relaxes at v: up edges forward, down edges backward.
func (h *Hierarchy) climb(forward bool, v int32) []halfEdge {
	up, down := h.g.lists(v)
	if forward {
		return up
	}
	return down
}

// stallEdges returns the edges a search of the direction stalls on at v: down edges forward, up edges backward.
func (h *Hierarchy) stallEdges(forward bool, v int32) []halfEdge {
	up, down := h.g.lists(v)
	if forward {
		return down
	}
	return up
}

// KeepTop makes every space the hierarchy keeps for its top nodes, both ways, which queries and spaces otherwise
// make on first use (the first of them pay for it: a query that makes the spaces it needs takes several times
// as long). It returns ctx's error if ctx is done before; what it made stays. Safe to run beside queries.
func (h *Hierarchy) KeepTop(ctx context.Context) error {
	u := h.upperSpaces()
	if u == nil {
		return nil
	}
	for o := range int32(len(u.ids)) {
		if o%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		u.space(h, true, o)
		u.space(h, false, o)
	}
	return nil
}

// KeptBytes returns the memory of the spaces the hierarchy keeps so far.
func (h *Hierarchy) KeptBytes() int64 {
	_, _, b := h.kept()
	return int64(b)
}

// keptSpaces returns how many spaces of top nodes, both directions, are kept so far.
func (h *Hierarchy) keptSpaces() int {
	k, _, _ := h.kept()
	return k
}

// kept counts the kept spaces made so far, their entries, and their memory with the arrays that hold them.
func (h *Hierarchy) kept() (spaces, entries, bytes int) {
	u := h.upperSpaces()
	if u == nil {
		return 0, 0, 0
	}
	bytes = 4 * len(u.ids)
	for _, list := range [][]atomic.Pointer[Space]{u.fwd, u.bwd} {
		bytes += 8 * len(list)
		for i := range list {
			if sp := list[i].Load(); sp != nil {
				spaces++
				entries += len(sp.nodes)
				bytes += 48 + 12*len(sp.nodes)
			}
		}
	}
	return spaces, entries, bytes
}

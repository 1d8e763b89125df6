package ch

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// Contraction proceeds in rounds. Each round takes the remaining nodes whose priority is lower than that of every
// node within two hops (an independent set), rates again those of them whose neighbours were contracted since
// they were last rated (in parallel) and keeps those still lower than every node within two hops, removes them
// one after another in node order, adding the shortcuts found when they were rated, and marks their neighbours'
// ratings stale. A neighbour is rated again only when it is chosen: most nodes lose several neighbours before
// their turn, and rating one (its witness searches) is nearly all the work. Every parallel step writes only its
// own node's slots, so the hierarchy does not depend on the number of workers.
//
// A shortcut u -> v -> x is left out only when a witness search finds a path from u to x avoiding v that is
// strictly cheaper. Such a decision stays right while v's own edges do not change (they change only when a
// neighbour of v is contracted, which makes v's rating stale, so it is rated again before v is contracted):
// contracting other nodes keeps every distance
// between the remaining ones, so the witness's cost stays available. And it stays right when nodes of the same
// round, contracted as if at once, lie on the witness: take a fastest path between two remaining nodes with the
// fewest nodes of the round on it; two of its edges around such a node v form a fastest path, which no strictly
// cheaper witness beats, so v's shortcut for them exists and the path keeps its cost with one node fewer.

// witnessLimit bounds a witness search; when it cuts a witness off the shortcut is added, which is always safe.
var witnessLimit = searchLimit{settled: 500, hops: 255}

// cedge is an edge of the graph being contracted.
type cedge struct {
	other int32 // the head of an out-edge, the tail of an in-edge
	arc   int32
	cost  cost
}

// shortcut is an edge to add when a node is contracted: from -> to, replacing in -> node -> out.
type shortcut struct {
	from, to int32
	in, out  int32 // arcs
	cost     cost
}

type contractor struct {
	n       int
	workers int
	out, in adjacency
	arcs    *[]arc
	hops    []int32 // original edges each arc stands for
	done    []bool  // contracted
	// shortcuts holds, for each remaining node, the shortcuts its contraction needs, found with its priority.
	shortcuts [][]shortcut
	level     []int32
	prio      []float32
	searchers []*witness
}

// witness holds the buffers of one worker's witness searches.
type witness struct {
	node    []witnessNode
	heap    []witnessItem // a binary heap with stale entries, skipped when popped
	touched []int32
	targets int        // targets not settled yet
	found   []shortcut // the shortcuts of the node being contracted
}

// witnessNode is what a witness search knows of a node, kept together for the cache.
type witnessNode struct {
	dist   cost
	hops   uint8
	target bool // the head of a shortcut searched for
}

func (c *contractor) parallel(count int, do func(w *witness, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range c.searchers[:min(c.workers, max(1, count/64))] {
		wg.Go(func() {
			for {
				start := int(next.Add(64)) - 64
				if start >= count {
					return
				}
				for i := start; i < min(start+64, count); i++ {
					do(w, i)
				}
			}
		})
	}
	wg.Wait()
}

// contract orders the nodes and fills h.idOf, h.nodeOf, h.rank, h.g and the shortcuts of h.arcs. Arc i of base
// is h.arcs[i].
func contract(h *Hierarchy, base []baseEdge, opt Options) {
	n := h.numNodes
	c := &contractor{n: n, workers: max(1, opt.Workers),
		arcs: &h.arcs, done: make([]bool, n), shortcuts: make([][]shortcut, n), level: make([]int32, n), prio: make([]float32, n)}
	c.hops = make([]int32, len(base))
	outDeg := make([]int32, n)
	inDeg := make([]int32, n)
	for _, e := range base {
		outDeg[e.from]++
		inDeg[e.to]++
	}
	c.out, c.in = newAdjacency(outDeg), newAdjacency(inDeg)
	for i, e := range base {
		c.out.add(e.from, cedge{other: e.to, arc: int32(i), cost: e.cost})
		c.in.add(e.to, cedge{other: e.from, arc: int32(i), cost: e.cost})
		c.hops[i] = 1
	}
	for range c.workers {
		w := &witness{node: make([]witnessNode, n)}
		for i := range w.node {
			w.node[i].dist = infinite
		}
		c.searchers = append(c.searchers, w)
	}

	remaining := make([]int32, n)
	for v := range n {
		remaining[v] = int32(v)
	}
	c.parallel(n, func(w *witness, i int) { c.prio[i] = c.priority(w, int32(i)) })

	order := make([]int32, 0, n)
	var upLists, downLists contracted
	chosen := make([]bool, n)
	stale := make([]bool, n)
	var touched, redo []int32
	for len(remaining) > 0 {
		// The independent set: local minima of the priority within two hops.
		c.parallel(len(remaining), func(_ *witness, i int) {
			v := remaining[i]
			chosen[v] = c.independent(v)
		})
		// Chosen nodes whose priority is stale are rated again (two chosen nodes are at least three hops apart,
		// so each writes only its own slots and reads no other's priority), and stay chosen if still minima.
		redo = redo[:0]
		for _, v := range remaining {
			if chosen[v] && stale[v] {
				redo = append(redo, v)
			}
		}
		c.parallel(len(redo), func(w *witness, i int) {
			v := redo[i]
			c.prio[v] = c.priority(w, v)
			stale[v] = false
			chosen[v] = c.independent(v)
		})
		round := remaining[:0:0]
		rest := remaining[:0]
		for _, v := range remaining {
			if chosen[v] {
				round = append(round, v)
			} else {
				rest = append(rest, v)
			}
		}
		touched = touched[:0]
		for _, v := range round {
			order = append(order, v)
			upLists.add(c.out.list(v))
			downLists.add(c.in.list(v))
			for _, e := range c.out.list(v) {
				c.in.remove(e.other, v)
				touched = append(touched, e.other)
				c.level[e.other] = max(c.level[e.other], c.level[v]+1)
			}
			for _, e := range c.in.list(v) {
				c.out.remove(e.other, v)
				touched = append(touched, e.other)
				c.level[e.other] = max(c.level[e.other], c.level[v]+1)
			}
			c.out.clear(v)
			c.in.clear(v)
			for _, s := range c.shortcuts[v] {
				c.addShortcut(s)
			}
			c.shortcuts[v] = nil
			c.done[v] = true
			chosen[v] = false
		}
		for _, v := range touched {
			stale[v] = true
		}
		remaining = rest
	}

	h.nodeOf = order
	h.idOf = make([]int32, n) // ids are ranks until renumber
	for r, v := range order {
		h.idOf[v] = int32(r)
	}
	h.g = makeGraph(byRank(h.idOf, &upLists), byRank(h.idOf, &downLists))
	compactArcs(h)
	renumber(h)
}

// contracted holds the lists of the nodes in the order they were contracted (their ranks), one after another.
type contracted struct {
	first []int32
	edges []cedge
}

func (l *contracted) add(list []cedge) {
	l.first = append(l.first, int32(len(l.edges)))
	l.edges = append(l.edges, list...)
}

// byRank returns the lists by rank, with heads turned into ranks and sorted, and frees lists.
func byRank(rankOf []int32, lists *contracted) [][]listEdge {
	byRank := make([][]listEdge, len(lists.first))
	all := make([]listEdge, len(lists.edges))
	for i, e := range lists.edges {
		all[i] = listEdge{head: rankOf[e.other], arc: e.arc, cost: e.cost}
	}
	for r, start := range lists.first {
		end := len(all)
		if r+1 < len(lists.first) {
			end = int(lists.first[r+1])
		}
		l := all[start:end:end]
		slices.SortFunc(l, func(a, b listEdge) int { return cmp.Compare(a.head, b.head) })
		byRank[r] = l
	}
	*lists = contracted{}
	return byRank
}

// compactArcs drops the arcs that no edge of the hierarchy reaches (edges replaced by cheaper shortcuts), keeping
// the order of the rest, so that children still come before their shortcut.
func compactArcs(h *Hierarchy) {
	live := make([]bool, len(h.arcs))
	for _, a := range h.g.arcOf {
		live[a] = true
	}
	for i := len(h.arcs) - 1; i >= 0; i-- {
		if a := h.arcs[i]; live[i] && a.b >= 0 {
			live[a.a], live[a.b] = true, true
		}
	}
	newID := make([]int32, len(h.arcs))
	kept := h.arcs[:0]
	for i, a := range h.arcs {
		if !live[i] {
			continue
		}
		if a.b >= 0 {
			a.a, a.b = newID[a.a], newID[a.b]
		}
		newID[i] = int32(len(kept))
		kept = append(kept, a)
	}
	h.arcs = slices.Clip(kept)
	for i, a := range h.g.arcOf {
		h.g.arcOf[i] = newID[a]
	}
}

// adjacency is the edge lists of the graph being contracted, in one array: the list of node v is
// edges[first[v]:first[v]+size[v]], within a block of room[v] entries. A list that outgrows its block moves to
// the end of the array into a block twice as large; the old block is left unused. Lists of nodes with nearby ids
// start out side by side, so a witness search walking a neighbourhood reads nearby memory.
type adjacency struct {
	first, size, room []int32
	edges             []cedge
}

// newAdjacency makes empty lists with room for deg[v] edges at v, and a little more.
func newAdjacency(deg []int32) adjacency {
	n := len(deg)
	a := adjacency{first: make([]int32, n), size: make([]int32, n), room: make([]int32, n)}
	total := 0
	for v, d := range deg {
		a.first[v] = int32(total)
		a.room[v] = d + 2
		total += int(d) + 2
	}
	a.edges = make([]cedge, total, total+total/2)
	return a
}

func (a *adjacency) list(v int32) []cedge {
	f := a.first[v]
	return a.edges[f : f+a.size[v] : f+a.size[v]]
}

func (a *adjacency) add(v int32, e cedge) {
	if a.size[v] == a.room[v] {
		f, n := a.first[v], a.size[v]
		a.first[v] = int32(len(a.edges))
		a.room[v] = max(4, 2*n)
		a.edges = append(a.edges, a.edges[f:f+n]...)
		a.edges = append(a.edges, make([]cedge, a.room[v]-n)...)
	}
	a.edges[a.first[v]+a.size[v]] = e
	a.size[v]++
}

// remove drops the edge to or from u in the list of v.
func (a *adjacency) remove(v, u int32) {
	l := a.edges[a.first[v] : a.first[v]+a.size[v]]
	for i := range l {
		if l[i].other == u {
			l[i] = l[len(l)-1]
			a.size[v]--
			return
		}
	}
}

func (a *adjacency) clear(v int32) { a.size[v] = 0 }

// addShortcut adds s, or lowers the cost of the edge from s.from to s.to if it is dearer.
func (c *contractor) addShortcut(s shortcut) {
	id := int32(len(*c.arcs))
	out := c.out.list(s.from)
	for i := range out {
		if out[i].other != s.to {
			continue
		}
		if out[i].cost <= s.cost {
			return
		}
		*c.arcs = append(*c.arcs, arc{a: s.in, b: s.out})
		c.hops = append(c.hops, c.hops[s.in]+c.hops[s.out])
		out[i].cost, out[i].arc = s.cost, id
		in := c.in.list(s.to)
		for j := range in {
			if in[j].other == s.from {
				in[j].cost, in[j].arc = s.cost, id
			}
		}
		return
	}
	*c.arcs = append(*c.arcs, arc{a: s.in, b: s.out})
	c.hops = append(c.hops, c.hops[s.in]+c.hops[s.out])
	c.out.add(s.from, cedge{other: s.to, arc: id, cost: s.cost})
	c.in.add(s.to, cedge{other: s.from, arc: id, cost: s.cost})
}

// priority finds the shortcuts that contracting v needs now, keeps them for its contraction, and rates it: the
// fewer edges (and original edges) it adds for those it removes, and the lower it sits, the sooner it goes:
// twice the edge quotient, four times the original-edge quotient, and twice the depth (the level its contracted
// neighbours put it at).
func (c *contractor) priority(w *witness, v int32) float32 {
	w.found = w.found[:0]
	c.findShortcuts(w, v, witnessLimit)
	c.shortcuts[v] = append(c.shortcuts[v][:0], w.found...)
	removed := len(c.out.list(v)) + len(c.in.list(v))
	if removed == 0 {
		return float32(c.level[v])
	}
	var hopsRemoved, hopsAdded int64
	for _, e := range c.out.list(v) {
		hopsRemoved += int64(c.hops[e.arc])
	}
	for _, e := range c.in.list(v) {
		hopsRemoved += int64(c.hops[e.arc])
	}
	for _, s := range w.found {
		hopsAdded += int64(c.hops[s.in]) + int64(c.hops[s.out])
	}
	return 2*float32(len(w.found))/float32(removed) + 4*float32(hopsAdded)/float32(hopsRemoved) + 2*float32(c.level[v])
}

// independent says whether v's priority is below that of every remaining node within two hops; ties go by a
// hash of the node ids.
func (c *contractor) independent(v int32) bool {
	for _, l := range [2][]cedge{c.out.list(v), c.in.list(v)} {
		for _, e := range l {
			if !c.before(v, e.other) {
				return false
			}
		}
	}
	for _, l := range [2][]cedge{c.out.list(v), c.in.list(v)} {
		for _, e := range l {
			for _, l2 := range [2][]cedge{c.out.list(e.other), c.in.list(e.other)} {
				for _, e2 := range l2 {
					if e2.other != v && !c.before(v, e2.other) {
						return false
					}
				}
			}
		}
	}
	return true
}

func (c *contractor) before(v, u int32) bool {
	if c.prio[v] != c.prio[u] {
		return c.prio[v] < c.prio[u]
	}
	hv, hu := mix(uint32(v)), mix(uint32(u))
	if hv != hu {
		return hv < hu
	}
	return v < u
}

func mix(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// findShortcuts appends to w.found the shortcuts that contracting v needs: for each pair of an in-edge u -> v and
// an out-edge v -> x, unless a witness search from u finds a path to x avoiding v that is strictly cheaper.
func (c *contractor) findShortcuts(w *witness, v int32, lim searchLimit) {
	outs := c.out.list(v)
	if len(outs) == 0 {
		return
	}
	// The last edge of a witness enters a head x of an out-edge from elsewhere than v: a search can stop once
	// the cheapest such edge no longer fits under its limit.
	last := infinite
	for _, eo := range outs {
		for _, e := range c.in.list(eo.other) {
			if e.other != v {
				last = min(last, e.cost)
			}
		}
	}
	for _, ein := range c.in.list(v) {
		u := ein.other
		limit := cost(0)
		for _, eo := range outs {
			if x := eo.other; x != u {
				limit = max(limit, add(ein.cost, eo.cost))
				if !w.node[x].target {
					w.node[x].target = true
					w.targets++
				}
			}
		}
		if w.targets == 0 {
			continue
		}
		c.witnessSearch(w, u, v, limit, last, lim)
		for _, eo := range outs {
			x := eo.other
			if x == u {
				continue
			}
			sc := add(ein.cost, eo.cost)
			if w.node[x].dist < sc {
				continue
			}
			w.found = append(w.found, shortcut{from: u, to: x, in: ein.arc, out: eo.arc, cost: sc})
		}
		for _, eo := range outs {
			w.node[eo.other].target = false
		}
		w.reset()
	}
}

func (w *witness) reset() {
	for _, x := range w.touched {
		w.node[x] = witnessNode{dist: infinite}
	}
	w.touched = w.touched[:0]
	w.heap = w.heap[:0]
	w.targets = 0
}

// searchLimit bounds a witness search; when a bound cuts a witness off the shortcut is added, which is always
// safe.
type searchLimit struct {
	settled int
	hops    uint8
}

// witnessSearch runs Dijkstra from u without v, leaving distances in w.node, until it settles a node from which
// an edge of cost last would exceed limit, or lim.settled nodes, or every target; it extends paths of at most
// lim.hops edges.
func (c *contractor) witnessSearch(w *witness, u, v int32, limit, last cost, lim searchLimit) {
	w.node[u].dist = 0
	w.touched = append(w.touched, u)
	w.push(u, 0)
	for settled := 0; len(w.heap) > 0 && settled < lim.settled; {
		x, d := w.pop()
		nx := w.node[x]
		if d > nx.dist {
			continue // stale
		}
		settled++
		if add(d, last) > limit {
			break
		}
		if nx.target {
			if w.targets--; w.targets == 0 {
				break
			}
		}
		if nx.hops >= lim.hops {
			continue
		}
		for _, e := range c.out.list(x) {
			y := e.other
			if y == v {
				continue
			}
			nd := add(d, e.cost)
			ny := &w.node[y]
			if nd < ny.dist {
				if ny.dist == infinite {
					w.touched = append(w.touched, y)
				}
				ny.dist, ny.hops = nd, nx.hops+1
				w.push(y, nd)
			}
		}
	}
}

// push and pop move a hole rather than swapping items; the order of the heap is that of plain swaps.
func (w *witness) push(x int32, d cost) {
	h := append(w.heap, witnessItem{})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= d {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = witnessItem{key: d, node: x}
	w.heap = h
}

func (w *witness) pop() (int32, cost) {
	h := w.heap
	top := h[0]
	last := len(h) - 1
	item := h[last]
	h = h[:last]
	if last > 0 {
		i := 0
		for {
			m, l, r := i, 2*i+1, 2*i+2
			key := item.key
			if l < last && h[l].key < key {
				m, key = l, h[l].key
			}
			if r < last && h[r].key < key {
				m = r
			}
			if m == i {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = item
	}
	w.heap = h
	return top.node, top.key
}

type witnessItem struct {
	key  cost
	node int32
}

package ch

import "runtime"

// flatSearch is the state of one search at a time kept in an array over every node, for the searches of a table,
// which run one after another in the order of their places' ids: consecutive searches then find the state of the
// nodes they share in the cache, and a lookup is one read at the node's index rather than a probe of a hash table.
// It costs 16 bytes a node, so a Hierarchy keeps a few for its tables ([Hierarchy.Table]) and a Query one for
// its own ([Query.Table]); single queries and search spaces keep their small hash tables (visits).
type flatSearch struct {
	h     *Hierarchy
	nodes []flatNode
	gen   uint32
	heap  []flatItem
	// sink keeps what settle reads ahead only to bring it into the cache (see settle); nothing uses it.
	sink int32
}

// flatNode is what the search knows of a node; nothing unless gen is the search's.
type flatNode struct {
	dist cost
	gen  uint32
	pos  int32 // its place in the heap, -1 when not in it
}

type flatItem struct {
	key  cost
	node int32
}

func newFlatSearch(h *Hierarchy) *flatSearch {
	return &flatSearch{h: h, nodes: make([]flatNode, h.numNodes)}
}

// init starts a search from seeds, ignoring those out of range or of infinite cost.
func (f *flatSearch) init(seeds []Seed) {
	f.gen++
	if f.gen == 0 { // wrapped: forget every node for real
		clear(f.nodes)
		f.gen = 1
	}
	f.heap = f.heap[:0]
	for _, sd := range seeds {
		if sd.Node < 0 || int(sd.Node) >= f.h.numNodes {
			continue
		}
		c := pack(sd.Weight, sd.Length)
		if c == infinite {
			continue
		}
		v := f.h.idOf[sd.Node]
		x := &f.nodes[v]
		if x.gen != f.gen {
			*x = flatNode{dist: infinite, gen: f.gen, pos: -1}
		}
		if c < x.dist {
			x.dist = c
			f.push(v, c)
		}
	}
}

func (f *flatSearch) empty() bool { return len(f.heap) == 0 }

// settle is side.settle on the flat state: it takes the next node off the heap and relaxes its up edges
// (forward) or down edges (backward) unless it is stalled, and reports whether it relaxed them.
func (f *flatSearch) settle(forward bool) (int32, cost, bool) {
	v, d := f.pop()
	g := &f.h.g
	// Read the first edge of the node now at the top of the heap, most often the next one settled, so that its lists
	// come from memory while v's are scanned rather than after (Go has no prefetch instruction; a read will do).
	if len(f.heap) > 0 {
		u := f.heap[0].node
		if a := g.index[u].up; a < g.index[u+1].up {
			f.sink += g.edges[a].head
		}
	}
	up, down, end := g.index[v].up, g.index[v].down, g.index[v+1].up
	relax, stall, relaxEnd, stallEnd := up, down, down, end
	if !forward {
		relax, stall, relaxEnd, stallEnd = down, up, end, down
	}
	nodes, gen := f.nodes, f.gen
	// The stall checks add costs as plain integers, without add's saturation: a sum that does not wrap is at least
	// the saturated one, so every stall it proves the saturated sum proves too (it may prove fewer, on costs near
	// the limits, and a node not stalled is only relaxed).
	for _, e := range g.edges[stall:stallEnd] {
		if x := &nodes[e.head]; x.gen == gen {
			if s := x.dist + e.cost(); s >= x.dist && s < d {
				return v, d, false
			}
		}
	}
	// Below the limits by at least the largest weight and length of an edge, d adds any edge's cost as plain
	// integers, exactly as add would.
	plain := addsPlainly(d, g.most)
	for _, e := range g.edges[relax:relaxEnd] {
		nd := d + e.cost()
		if !plain {
			nd = add(d, e.cost())
		}
		x := &nodes[e.head]
		if x.gen != gen {
			*x = flatNode{dist: infinite, gen: gen, pos: -1}
			f.sink += g.index[e.head].up // its list offsets, read when it is settled, on their way too
		}
		if nd < x.dist {
			x.dist = nd
			f.push(e.head, nd)
		}
	}
	return v, d, true
}

// push puts v in the heap with key, or lowers its key.
func (f *flatSearch) push(v int32, key cost) {
	i := int(f.nodes[v].pos)
	if i < 0 {
		i = len(f.heap)
		f.heap = append(f.heap, flatItem{})
	}
	h := f.heap
	for i > 0 {
		p := (i - 1) / 4
		if h[p].key <= key {
			break
		}
		h[i] = h[p]
		f.nodes[h[i].node].pos = int32(i)
		i = p
	}
	h[i] = flatItem{key: key, node: v}
	f.nodes[v].pos = int32(i)
}

// pop removes the node of least key from the heap.
func (f *flatSearch) pop() (int32, cost) {
	h := f.heap
	top := h[0]
	f.nodes[top.node].pos = -1
	last := h[len(h)-1]
	h = h[:len(h)-1]
	f.heap = h
	n := len(h)
	if n == 0 {
		return top.node, top.key
	}
	i := 0
	for {
		c := 4*i + 1
		if c+3 < n { // four children: the usual case, without a loop
			m, k := c, h[c].key
			if k1 := h[c+1].key; k1 < k {
				m, k = c+1, k1
			}
			if k2 := h[c+2].key; k2 < k {
				m, k = c+2, k2
			}
			if k3 := h[c+3].key; k3 < k {
				m, k = c+3, k3
			}
			if k >= last.key {
				break
			}
			h[i] = h[m]
			f.nodes[h[i].node].pos = int32(i)
			i = m
			continue
		}
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < n; j++ {
			if h[j].key < h[m].key {
				m = j
			}
		}
		if h[m].key >= last.key {
			break
		}
		h[i] = h[m]
		f.nodes[h[i].node].pos = int32(i)
		i = m
	}
	h[i] = last
	f.nodes[last.node].pos = int32(i)
	return top.node, top.key
}

// takeFlat returns a flat search state kept by h, or a new one.
func (h *Hierarchy) takeFlat() *flatSearch {
	h.flatMu.Lock()
	defer h.flatMu.Unlock()
	if k := len(h.flats); k > 0 {
		f := h.flats[k-1]
		h.flats = h.flats[:k-1]
		return f
	}
	return newFlatSearch(h)
}

// putFlat gives f back to h, which keeps it for the next table unless it already keeps GOMAXPROCS of them (more
// tables than that at once cannot all run; their extra states are left to the garbage collector).
func (h *Hierarchy) putFlat(f *flatSearch) {
	h.flatMu.Lock()
	if len(h.flats) < runtime.GOMAXPROCS(0) {
		h.flats = append(h.flats, f)
	}
	h.flatMu.Unlock()
}

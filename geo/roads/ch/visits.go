package ch

// visits is what one direction of a search knows: the nodes it has reached, in a small open-addressing hash table
// rather than arrays over all nodes, so that a search of a few hundred nodes stays in the cache, and the heap of
// nodes to settle, which refers to the table's slots. A new search only bumps the generation.
type visits struct {
	slots []visit
	shift uint32 // 32 - log2(len(slots))
	gen   uint32
	count int
	heap  []visitItem
}

// visit is the state of a reached node; the slot is empty unless gen is the table's.
type visit struct {
	node int32
	gen  uint32
	dist cost
	prev int32 // the id the node was reached from, or -1-(seed index) for a seed
	arc  int32 // the edge it was reached by (its index in the graph's edges), -1 for a seed
	pos  int32 // its place in the heap, -1 once settled
}

type visitItem struct {
	key  cost
	slot int32
}

const initialSlots = 1 << 12

func newVisits() visits {
	t := visits{gen: 1}
	t.alloc(initialSlots)
	return t
}

func (t *visits) alloc(n int) {
	t.slots = make([]visit, n)
	t.shift = 32
	for ; n > 1; n >>= 1 {
		t.shift--
	}
}

func (t *visits) reset() {
	t.gen++
	if t.gen == 0 { // wrapped: forget every slot for real
		clear(t.slots)
		t.gen = 1
	}
	t.count = 0
	t.heap = t.heap[:0]
}

func (t *visits) home(v int32) uint32 { return (uint32(v) * 0x9e3779b1) >> t.shift }

// find returns the slot of v, or -1 if v was not reached.
func (t *visits) find(v int32) int32 {
	mask := uint32(len(t.slots) - 1)
	for i := t.home(v); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			return -1
		}
		if s.node == v {
			return int32(i)
		}
	}
}

// get returns the slot of v, adding it unreached (infinite distance) if needed; adding may move every slot.
func (t *visits) get(v int32) int32 {
	mask := uint32(len(t.slots) - 1)
	i := t.home(v)
	for ; t.slots[i].gen == t.gen; i = (i + 1) & mask {
		if t.slots[i].node == v {
			return int32(i)
		}
	}
	if 2*(t.count+1) > len(t.slots) { // the empty slot found is in the table that grow replaces
		t.grow()
		mask = uint32(len(t.slots) - 1)
		for i = t.home(v); t.slots[i].gen == t.gen; i = (i + 1) & mask {
		}
	}
	t.slots[i] = visit{node: v, gen: t.gen, dist: infinite, pos: -1}
	t.count++
	return int32(i)
}

func (t *visits) grow() {
	old, gen := t.slots, t.gen
	t.alloc(2 * len(old))
	mask := uint32(len(t.slots) - 1)
	for _, s := range old {
		if s.gen != gen {
			continue
		}
		i := t.home(s.node)
		for t.slots[i].gen == gen {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		if s.pos >= 0 {
			t.heap[s.pos].slot = int32(i)
		}
	}
}

// push puts slot in the heap with key, or lowers its key.
func (t *visits) push(slot int32, key cost) {
	i := int(t.slots[slot].pos)
	if i < 0 {
		i = len(t.heap)
		t.heap = append(t.heap, visitItem{})
	}
	h := t.heap
	for i > 0 {
		p := (i - 1) / 4
		if h[p].key <= key {
			break
		}
		h[i] = h[p]
		t.slots[h[i].slot].pos = int32(i)
		i = p
	}
	h[i] = visitItem{key: key, slot: slot}
	t.slots[slot].pos = int32(i)
}

// pop removes the slot of least key from the heap.
func (t *visits) pop() (int32, cost) {
	h := t.heap
	top := h[0]
	t.slots[top.slot].pos = -1
	last := h[len(h)-1]
	h = h[:len(h)-1]
	t.heap = h
	if n := len(h); n > 0 {
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
				t.slots[h[i].slot].pos = int32(i)
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
			t.slots[h[i].slot].pos = int32(i)
			i = m
		}
		h[i] = last
		t.slots[last.slot].pos = int32(i)
	}
	return top.slot, top.key
}

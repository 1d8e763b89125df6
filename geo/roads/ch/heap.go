package ch

// heap is an indexed 4-ary min-heap of nodes keyed by cost, with decrease-key. pos holds each node's place in
// items, or -1; it is sized for every node once and restored to -1 as nodes leave.
type heap struct {
	items []heapItem
	pos   []int32
}

type heapItem struct {
	key  cost
	node int32
}

func newHeap(n int) heap {
	h := heap{pos: make([]int32, n)}
	for i := range h.pos {
		h.pos[i] = -1
	}
	return h
}

func (h *heap) empty() bool { return len(h.items) == 0 }

func (h *heap) minKey() cost { return h.items[0].key }

// push inserts node with key, or lowers its key if it is already in the heap with a larger one.
func (h *heap) push(node int32, key cost) {
	i := int(h.pos[node])
	if i < 0 {
		i = len(h.items)
		h.items = append(h.items, heapItem{key: key, node: node})
	} else {
		if key >= h.items[i].key {
			return
		}
		h.items[i].key = key
	}
	h.up(i)
}

func (h *heap) up(i int) {
	it := h.items[i]
	for i > 0 {
		p := (i - 1) / 4
		if h.items[p].key <= it.key {
			break
		}
		h.items[i] = h.items[p]
		h.pos[h.items[i].node] = int32(i)
		i = p
	}
	h.items[i] = it
	h.pos[it.node] = int32(i)
}

// pop removes and returns the node of least key.
func (h *heap) pop() (int32, cost) {
	top := h.items[0]
	h.pos[top.node] = -1
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	if n := len(h.items); n > 0 {
		i := 0
		for {
			c := 4*i + 1
			if c >= n {
				break
			}
			m := c
			end := min(c+4, n)
			for j := c + 1; j < end; j++ {
				if h.items[j].key < h.items[m].key {
					m = j
				}
			}
			if h.items[m].key >= last.key {
				break
			}
			h.items[i] = h.items[m]
			h.pos[h.items[i].node] = int32(i)
			i = m
		}
		h.items[i] = last
		h.pos[last.node] = int32(i)
	}
	return top.node, top.key
}

// clear empties the heap.
func (h *heap) clear() {
	for _, it := range h.items {
		h.pos[it.node] = -1
	}
	h.items = h.items[:0]
}

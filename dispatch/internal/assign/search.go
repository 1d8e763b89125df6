package assign

import "math"

// heapItem is a tentative distance to a matched column. Items are never updated in place: a better distance
// pushes a new item and the stale one is skipped when popped, which keeps the heap simple.
type heapItem struct {
	dist int64
	col  int32
}

// less orders heap items by distance, then by column. The order is total and no (dist, col) pair is pushed
// twice, so the order in which columns are popped depends only on the problem, never on the heap's layout.
func (a heapItem) less(b heapItem) bool {
	return a.dist < b.dist || (a.dist == b.dist && a.col < b.col)
}

// augment adds the free row src to the matching along a shortest augmenting path in reduced costs, found by a
// Dijkstra search that stops as soon as the nearest free end point is settled, then restores the dual
// invariants for the settled columns only.
func (s *Solver) augment(src int32) {
	s.epoch++
	s.heap = s.heap[:0]
	s.settled = s.settled[:0]
	s.bestDist = math.MaxInt64
	s.bestKey = math.MaxInt
	s.bestPred = -1
	// Labels from src are measured with u[src] = 0; the common shift cancels out in the update below.
	s.u[src] = 0
	s.scan(src, 0)
	for len(s.heap) > 0 {
		top := s.heap[0]
		// Everything left is no nearer than the best free end point: that end point would be settled next, so
		// the shortest augmenting path is known and the search ends here.
		if top.dist > s.bestDist || (top.dist == s.bestDist && int(top.col) > s.bestKey) {
			break
		}
		s.pop()
		c := &s.col[top.col]
		if c.done == s.epoch {
			// A stale item: the column was settled earlier through a shorter distance.
			continue
		}
		c.done = s.epoch
		s.settled = append(s.settled, top.col)
		s.scan(c.row, top.dist)
	}

	// Truncated potential update: a settled column, and the row holding it, move by the column's slack to the
	// path length l; nothing else moves. Reduced costs stay >= 0 everywhere and the whole path becomes tight.
	l := s.bestDist
	for _, j := range s.settled {
		c := &s.col[j]
		delta := l - c.dist
		c.v -= delta
		s.u[c.row] += delta
	}
	s.u[src] = l

	// Flip the path, walking back from its end. A dummy end (key >= cols) leaves its row unassigned.
	r := s.bestPred
	j := int32(-1)
	if s.bestKey < s.cols {
		j = int32(s.bestKey)
	}
	for {
		old := s.row2col[r]
		s.row2col[r] = j
		if j >= 0 {
			s.col[j].row = r
		}
		if r == src {
			return
		}
		j = old
		r = s.col[old].pred
	}
}

// scan relaxes the arcs of row r, reached at distance d, and offers r's dummy as a free end point. A row is only
// reached through the real column it holds (or is the source), so its dummy is always free here.
func (s *Solver) scan(r int32, d int64) {
	base := d - s.u[r]
	s.offer(base+s.unassigned[r], s.cols+int(r), r)
	for _, a := range s.arcs[s.start[r]:s.start[r+1]] {
		c := &s.col[a.col]
		nd := base + a.cost - c.v
		if c.row < 0 {
			s.offer(nd, int(a.col), r)
			continue
		}
		if c.done == s.epoch {
			continue
		}
		// A column no nearer than the best free end point can never be settled before it: skip the push.
		if nd > s.bestDist || (nd == s.bestDist && int(a.col) > s.bestKey) {
			continue
		}
		if c.seen != s.epoch || nd < c.dist {
			c.seen = s.epoch
			c.dist = nd
			c.pred = r
			s.push(heapItem{dist: nd, col: a.col})
		}
	}
}

// offer records a free end point at distance d with tie-break key, reached from row r, if it beats the best so
// far in (distance, key) order.
func (s *Solver) offer(d int64, key int, r int32) {
	if d < s.bestDist || (d == s.bestDist && key < s.bestKey) {
		s.bestDist, s.bestKey, s.bestPred = d, key, r
	}
}

func (s *Solver) push(it heapItem) {
	h := append(s.heap, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !it.less(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
	s.heap = h
}

func (s *Solver) pop() {
	h := s.heap
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && h[r].less(h[l]) {
			l = r
		}
		if !h[l].less(last) {
			break
		}
		h[i] = h[l]
		i = l
	}
	if n > 0 {
		h[i] = last
	}
	s.heap = h
}

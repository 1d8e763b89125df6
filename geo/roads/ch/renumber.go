package ch

import (
	"cmp"
	"slices"
)

// renumber gives the nodes of a hierarchy built in rank order (id = contraction rank) their final ids: depth first
// from the top of the hierarchy, each node numbered when the search first comes down to it, the higher of its
// lower neighbours visited first. An upward search from a node climbs through nodes numbered on the way down to
// it, so it reads a few runs of neighbouring ids, where rank order scatters it over the whole graph. Queries do
// not depend on the numbering; h.rank keeps each id's rank, which the decoder checks the edges against.
func renumber(h *Hierarchy) {
	n := h.numNodes
	g := &h.g
	// lower[first[r]:first[r+1]] are the ranks below r with an edge to or from r, in ascending order.
	first := make([]int32, n+1)
	for v := range n {
		for _, e := range g.edges[g.index[v].up:g.index[v+1].up] {
			first[e.head+1]++
		}
	}
	for r := range n {
		first[r+1] += first[r]
	}
	lower := make([]int32, first[n])
	fill := slices.Clone(first[:n])
	for v := range n {
		for _, e := range g.edges[g.index[v].up:g.index[v+1].up] {
			lower[fill[e.head]] = int32(v)
			fill[e.head]++
		}
	}
	fill = nil
	newID := make([]int32, n)
	for i := range newID {
		newID[i] = -1
	}
	next := int32(0)
	var stack []int32
	for top := n - 1; top >= 0; top-- {
		if newID[top] >= 0 {
			continue
		}
		stack = append(stack[:0], int32(top))
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if newID[r] >= 0 {
				continue
			}
			newID[r] = next
			next++
			for _, l := range lower[first[r]:first[r+1]] { // ascending: the highest is popped first
				if newID[l] < 0 {
					stack = append(stack, l)
				}
			}
		}
	}
	lower, first = nil, nil
	h.rank = make([]int32, n)
	for r := range h.rank {
		h.rank[r] = int32(r)
	}
	permute(h, newID)
}

// permute renumbers the nodes of h: id v becomes newID[v].
func permute(h *Hierarchy, newID []int32) {
	n := h.numNodes
	g := &h.g
	rankAt := make([]int32, n)
	oldAt := make([]int32, n)
	for v, id := range newID {
		rankAt[id] = h.rank[v]
		oldAt[id] = int32(v)
	}
	ng := graph{index: make([]span, n+1), edges: make([]halfEdge, 0, len(g.edges)), arcOf: make([]int32, 0, len(g.edges))}
	var buf []listEdge
	for id, v := range oldAt {
		s := g.index[v]
		ng.index[id].up = int32(len(ng.edges))
		buf = renumbered(g.list(buf[:0], s.up, s.down), newID)
		ng.appendList(buf)
		ng.index[id].down = int32(len(ng.edges))
		buf = renumbered(g.list(buf[:0], s.down, g.index[v+1].up), newID)
		ng.appendList(buf)
	}
	ng.index[n] = span{up: int32(len(ng.edges)), down: int32(len(ng.edges))}
	nodeOf := make([]int32, n)
	for id, v := range oldAt {
		nodeOf[id] = h.nodeOf[v]
		h.idOf[nodeOf[id]] = int32(id)
	}
	h.nodeOf, h.rank, h.g = nodeOf, rankAt, ng
}

// renumbered renumbers the heads of list and sorts it by head.
func renumbered(list []listEdge, newID []int32) []listEdge {
	for i := range list {
		list[i].head = newID[list[i].head]
	}
	slices.SortFunc(list, func(a, b listEdge) int { return cmp.Compare(a.head, b.head) })
	return list
}

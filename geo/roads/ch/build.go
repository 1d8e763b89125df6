package ch

import (
	"cmp"
	"slices"
)

// Build contracts the graph of numNodes nodes and the given edges into a hierarchy. It fails, naming the edge and
// field, when an edge leaves the node range or a weight is [Unreachable]. Self-loops never lie on a fastest path
// and are dropped; of parallel edges only the cheapest (then the lowest id) is kept.
func Build(numNodes int, edges []Edge, opt Options) (*Hierarchy, error) {
	if err := validate(numNodes, edges); err != nil {
		return nil, err
	}
	base := simplify(edges)
	h := &Hierarchy{numNodes: numNodes, numEdges: len(edges)}
	h.arcs = make([]arc, len(base))
	for i, e := range base {
		h.arcs[i] = arc{a: e.id, b: -1}
	}
	contract(h, base, opt)
	return h, nil
}

// baseEdge is an edge kept for contraction.
type baseEdge struct {
	from, to int32
	id       int32
	cost     cost
}

// simplify drops self-loops and all but the cheapest of parallel edges, and sorts the rest by tail and head.
func simplify(edges []Edge) []baseEdge {
	out := make([]baseEdge, 0, len(edges))
	for i, e := range edges {
		if e.From == e.To {
			continue
		}
		out = append(out, baseEdge{from: e.From, to: e.To, id: int32(i), cost: pack(e.Weight, e.Length)})
	}
	slices.SortFunc(out, func(a, b baseEdge) int {
		if c := cmp.Compare(a.from, b.from); c != 0 {
			return c
		}
		if c := cmp.Compare(a.to, b.to); c != 0 {
			return c
		}
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	kept := out[:0]
	for i, e := range out {
		if i > 0 && e.from == out[i-1].from && e.to == out[i-1].to {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// makeGraph makes the adjacency array of the up and down lists of each rank.
func makeGraph(up, down [][]listEdge) graph {
	g := graph{index: make([]span, len(up)+1)}
	total := 0
	for v := range up {
		total += len(up[v]) + len(down[v])
	}
	g.edges = make([]halfEdge, 0, total)
	g.arcOf = make([]int32, 0, total)
	for v := range up {
		g.index[v].up = int32(len(g.edges))
		g.appendList(up[v])
		g.index[v].down = int32(len(g.edges))
		g.appendList(down[v])
	}
	g.index[len(up)] = span{up: int32(len(g.edges)), down: int32(len(g.edges))}
	return g
}

package ch

// Dijkstra answers what [Query.Route] answers by plain Dijkstra on the original graph, without a hierarchy: the
// reference that tests compare against. It builds its adjacency on every call; seeds and edges out of range are
// ignored.
func Dijkstra(numNodes int, edges []Edge, from, to []Seed) (weight, length uint32, ok bool) {
	if numNodes <= 0 {
		return Unreachable, Unreachable, false
	}
	first := make([]int32, numNodes+1)
	for _, e := range edges {
		if inRange(e.From, numNodes) && inRange(e.To, numNodes) {
			first[e.From+1]++
		}
	}
	for v := range numNodes {
		first[v+1] += first[v]
	}
	adj := make([]listEdge, first[numNodes])
	fill := append([]int32(nil), first[:numNodes]...)
	for _, e := range edges {
		if inRange(e.From, numNodes) && inRange(e.To, numNodes) {
			adj[fill[e.From]] = listEdge{head: e.To, cost: pack(e.Weight, e.Length)}
			fill[e.From]++
		}
	}
	t := newVisits()
	for _, s := range from {
		if c := pack(s.Weight, s.Length); inRange(s.Node, numNodes) && c != infinite {
			if x := t.get(s.Node); c < t.slots[x].dist {
				t.slots[x].dist = c
				t.push(x, c)
			}
		}
	}
	for len(t.heap) > 0 {
		slot, d := t.pop()
		v := t.slots[slot].node
		for _, e := range adj[first[v]:first[v+1]] {
			nd := add(d, e.cost)
			if x := t.get(e.head); nd < t.slots[x].dist {
				t.slots[x].dist = nd
				t.push(x, nd)
			}
		}
	}
	dist := func(v int32) cost {
		if x := t.find(v); x >= 0 {
			return t.slots[x].dist
		}
		return infinite
	}
	best := infinite
	for _, s := range to {
		if !inRange(s.Node, numNodes) {
			continue
		}
		if c := add(dist(s.Node), pack(s.Weight, s.Length)); c < best {
			best = c
		}
	}
	if best == infinite {
		return Unreachable, Unreachable, false
	}
	weight, length = unpack(best)
	return weight, length, true
}

func inRange(v int32, n int) bool { return v >= 0 && int(v) < n }

package roads

// largestSCC returns a mask of the nodes in the largest strongly connected component of the directed graph
// with n nodes whose arcs are from[i] → to[i], and how many nodes are in it. Nodes without arcs form
// components of their own. It is Tarjan's algorithm with an explicit stack, so a long chain of nodes cannot
// overflow the goroutine's stack; of components of equal size, the one the search completes first wins, so the
// answer depends only on the arcs and their order.
func largestSCC(n int, from, to []int32) (in []bool, size int) {
	// Adjacency in compressed rows.
	start := make([]int32, n+1)
	for _, f := range from {
		start[f+1]++
	}
	for i := 0; i < n; i++ {
		start[i+1] += start[i]
	}
	adj := make([]int32, len(from))
	fill := make([]int32, n)
	copy(fill, start[:n])
	for i, f := range from {
		adj[fill[f]] = to[i]
		fill[f]++
	}
	fill = nil

	const unvisited = -1
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = unvisited
	}
	comp := make([]int32, n) // component id of each node, once assigned
	var stack []int32        // Tarjan's stack of nodes
	type frame struct{ v, next int32 }
	var call []frame // the explicit call stack: node and the next arc to look at
	var next int32
	var best, bestSize, ncomp int32 = -1, 0, 0
	for root := int32(0); int(root) < n; root++ {
		if index[root] != unvisited {
			continue
		}
		call = append(call, frame{root, start[root]})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			v := top.v
			if top.next < start[v+1] {
				w := adj[top.next]
				top.next++
				if index[w] == unvisited {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, start[w]})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			// v is done: pop it and pass its low link to its caller.
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				if low[v] < low[u] {
					low[u] = low[v]
				}
			}
			if low[v] == index[v] {
				var size int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					size++
					if w == v {
						break
					}
				}
				if size > bestSize {
					best, bestSize = ncomp, size
				}
				ncomp++
			}
		}
	}
	in = make([]bool, n)
	for v := range in {
		in[v] = comp[v] == best
	}
	return in, int(bestSize)
}

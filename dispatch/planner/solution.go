package planner

// solution is one assignment of shipments to routes, one route per vehicle (empty routes included), with its
// objective kept up to date: the weight of the shipments left out first, then the vehicles used, then the cost.
type solution struct {
	routes []route
	// where[s] is the vehicle serving shipment s, or -1.
	where      []int32
	unassigned []int32
	missW      int64
	vehicles   int
	cost       float64
}

func (in *instance) newSolution() *solution {
	s := &solution{routes: make([]route, in.nVeh), where: make([]int32, in.nShip)}
	for v := range s.routes {
		r := &s.routes[v]
		r.v = v
		r.nodes = append(r.nodes, in.startNode(v), in.endNode(v))
		in.update(r)
		s.cost += r.cost
	}
	for i := range s.where {
		s.where[i] = -1
		s.unassigned = append(s.unassigned, int32(i))
		s.missW += in.weight(i)
	}
	return s
}

// weight is what leaving shipment s out costs: 1 + its priority.
func (in *instance) weight(s int) int64 { return 1 + int64(in.prio[s]) }

func (s *solution) copyFrom(o *solution) {
	if len(s.routes) != len(o.routes) {
		s.routes = make([]route, len(o.routes))
	}
	for i := range o.routes {
		s.routes[i].copyFrom(&o.routes[i])
	}
	s.where = append(s.where[:0], o.where...)
	s.unassigned = append(s.unassigned[:0], o.unassigned...)
	s.missW, s.vehicles, s.cost = o.missW, o.vehicles, o.cost
}

// better reports whether a is better than b in the hierarchical objective.
func better(a, b *solution) bool {
	if a.missW != b.missW {
		return a.missW < b.missW
	}
	if a.vehicles != b.vehicles {
		return a.vehicles < b.vehicles
	}
	return a.cost < b.cost-1e-9
}

// refresh recomputes route v after its nodes changed and keeps the solution's totals; it reports whether the route
// is feasible.
func (in *instance) refresh(s *solution, v int) bool {
	r := &s.routes[v]
	s.cost -= r.cost
	ok := in.update(r)
	s.cost += r.cost
	switch {
	case !r.used && !r.empty():
		s.vehicles++
	case r.used && r.empty():
		s.vehicles--
	}
	r.used = !r.empty()
	return ok
}

// place inserts shipment s (unassigned, not in s.unassigned any more) at p.
func (in *instance) place(sol *solution, s int, p placement) {
	r := &sol.routes[p.r]
	in.apply(r, s, p.i, p.j)
	sol.where[s] = int32(p.r)
	in.refresh(sol, p.r)
}

// removeMarked drops from route v every node whose shipment is marked, and marks those shipments unassigned in
// where (the caller keeps the list of them).
func (in *instance) removeMarked(sol *solution, v int, marked []bool) {
	r := &sol.routes[v]
	k := 1
	for _, x := range r.nodes[1 : len(r.nodes)-1] {
		if marked[x/2] {
			sol.where[x/2] = -1
			continue
		}
		r.nodes[k] = x
		k++
	}
	r.nodes[k] = r.nodes[len(r.nodes)-1]
	r.nodes = r.nodes[:k+1]
	in.refresh(sol, v)
}

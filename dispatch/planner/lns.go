package planner

import (
	"math"
	"slices"
)

// The distance phase is slack induction by string removals adapted to pickups and deliveries: a ruin removes
// strings of consecutive stops from a few routes near a random shipment, in space or, for some ruins, in time (a
// stop's shipment leaves with both its stops), and a recreate puts the removed shipments back one by one, in one of
// several orders, each at its cheapest place with a small chance of passing over a place ("blinks"); some recreates
// also weigh the delay a placement causes. The result is accepted by simulated annealing on the cost, never at the
// price of a shipment left out or of one more vehicle.

const (
	avgRemoved = 15 // mean number of shipments a ruin removes
	maxString  = 10 // longest string of stops removed from one route
	blinkRate  = 0.01
	// routeRuinRate is the share of ruins that remove a whole route.
	routeRuinRate = 0.05
	// timeRuinRate is the share of ruins whose routes are chosen by when they serve shipments rather than where;
	// odd workers use timeRuinRateOdd, so that a pair of workers explores two ways.
	timeRuinRate    = 0.3
	timeRuinRateOdd = 0.5
	// slackRate is the share of recreates that weigh the delay a placement causes, by slackWeight per unit of time.
	slackRate   = 0.3
	slackWeight = 0.2
	// polishIters is how many single-route ruins improve a route rebuilt after a whole-route ruin.
	polishIters = 50
	// swapRate is the share of iterations that move a route as it is to a vehicle of another kind.
	swapRate = 0.01
	// The annealing temperature falls geometrically from startTemp to endTemp times the cost per shipment.
	startTemp = 1
	endTemp   = 0.01
)

// lns runs the distance phase on w.cur until the budget ends; w.best holds the best solution seen.
func (w *worker) lns(b *budget) {
	in := w.in
	if in.nShip == 0 || w.cur.vehicles == 0 && len(w.cur.unassigned) == 0 {
		return
	}
	w.work.copyFrom(w.cur)
	scale := w.cur.cost / float64(max(in.nShip, 1))
	t0, t1 := startTemp*scale, endTemp*scale
	bl := &blinker{rng: w.rng, rate: blinkRate}
	for !b.done() {
		temp := t0 * math.Pow(t1/t0, min(b.frac, 1))
		if w.rng.float() < swapRate {
			w.swap(w.work)
		} else {
			whole := w.ruin(w.work)
			w.openRandom = whole
			w.recreate(w.work, bl)
			if whole && w.kinds > 1 {
				// A route rebuilt greedily, perhaps on another vehicle, is first improved on its own so that the
				// annealing judges the move rather than the greedy order.
				for _, v := range w.touched {
					w.polish(w.work, v, polishIters)
				}
			}
		}
		accept := better(w.work, w.cur)
		if !accept && w.work.missW == w.cur.missW && w.work.vehicles == w.cur.vehicles {
			accept = w.work.cost < w.cur.cost-temp*math.Log(w.rng.float())
		}
		if accept {
			w.commit(w.cur, w.work)
			if better(w.cur, w.best) {
				w.best.copyFrom(w.cur)
			}
		} else {
			w.commit(w.work, w.cur)
		}
		w.clearTouched()
	}
	w.cur.copyFrom(w.best)
}

// commit copies the touched routes, the removed shipments' places and the totals from src to dst.
func (w *worker) commit(dst, src *solution) {
	for _, v := range w.touched {
		dst.routes[v].copyFrom(&src.routes[v])
	}
	for _, s := range w.removed {
		dst.where[s] = src.where[s]
	}
	dst.unassigned = append(dst.unassigned[:0], src.unassigned...)
	dst.missW, dst.vehicles, dst.cost = src.missW, src.vehicles, src.cost
}

// ruin removes strings of stops from routes near a random shipment into w.removed, and the shipments left out
// before, so that the recreate tries them again. It reports whether it removed a whole route.
func (w *worker) ruin(sol *solution) bool {
	in := w.in
	w.removed = append(w.removed[:0], sol.unassigned...)
	sol.unassigned = sol.unassigned[:0]
	sol.missW = 0
	if sol.vehicles == 0 {
		return false
	}
	// Mean stops per route, the longest string and the number of strings.
	stops := 2 * (in.nShip - len(w.removed)) / sol.vehicles
	lmax := float64(min(maxString, max(stops, 1)))
	kmax := 4*float64(avgRemoved)/(1+lmax) - 1
	k := int(w.rng.float()*kmax) + 1
	seed := w.rng.intn(in.nShip)
	for sol.where[seed] < 0 {
		seed = w.rng.intn(in.nShip)
	}
	// Now and then the whole route of the seed: its shipments may then go to other routes or another vehicle.
	whole := w.rng.float() < routeRuinRate
	if whole {
		k = 1
	}
	ruined := 0
	visit := func(s int) {
		v := int(sol.where[s])
		if v < 0 || w.ruined[v] {
			return
		}
		w.ruined[v] = true
		ruined++
		r := &sol.routes[v]
		n := len(r.nodes) - 2
		l := n
		if !whole {
			l = 1 + w.rng.intn(min(int(lmax), n))
		}
		// A string of l stops containing s's pickup.
		pos := slices.Index(r.nodes, int32(2*s))
		lo := max(1, pos-w.rng.intn(l))
		lo = min(lo, n+1-l)
		for _, x := range r.nodes[lo : lo+l] {
			if !w.marked[x/2] {
				w.marked[x/2] = true
				w.removed = append(w.removed, x/2)
			}
		}
		w.touch(v)
	}
	visit(seed)
	near := in.near[seed]
	if w.rng.float() < w.timeRuin {
		near = w.nearInTime(sol, seed)
	}
	for _, o := range near {
		if ruined >= k {
			break
		}
		visit(int(o))
	}
	for _, v := range w.touched {
		w.ruined[v] = false
		in.removeMarked(sol, v, w.marked)
	}
	for _, s := range w.removed {
		w.marked[s] = false
	}
	return whole
}

// recreate inserts w.removed back in one of several orders.
func (w *worker) recreate(sol *solution, bl *blinker) {
	in := w.in
	list := w.removed
	// Shuffle first so that the sorts below break ties at random.
	for i := len(list) - 1; i > 0; i-- {
		j := w.rng.intn(i + 1)
		list[i], list[j] = list[j], list[i]
	}
	key := func(s int32) float64 { return 0 }
	switch x := w.rng.intn(13); {
	case x < 4: // random
	case x < 8: // largest amount first
		key = func(s int32) float64 {
			var a int64
			for d := range in.dims {
				a += in.demand[int(2*s)*in.dims+d]
			}
			return -float64(a)
		}
	case x < 10: // farthest from a vehicle's start first
		key = func(s int32) float64 { return -in.c(in.startNode(0), 2*s) - in.c(2*s+1, in.endNode(0)) }
	case x < 11: // closest first
		key = func(s int32) float64 { return in.c(in.startNode(0), 2*s) + in.c(2*s+1, in.endNode(0)) }
	default: // tightest pickup window first
		key = func(s int32) float64 { return in.late[2*s] - in.early[2*s] }
	}
	if len(list) > 1 {
		slices.SortStableFunc(list, func(a, b int32) int { return cmpF(key(a), key(b)) })
	}
	bl.slack = 0
	if w.rng.float() < slackRate {
		bl.slack = slackWeight
	}
	// Priority first: a shipment of higher priority is placed before one of lower.
	slices.SortStableFunc(list, func(a, b int32) int { return in.prio[b] - in.prio[a] })
	w.insertAll(sol, list, true, bl)
}

// polish improves route v on its own: a few shipments leave it and go back at their cheapest places in it, kept
// only when the route gets cheaper.
func (w *worker) polish(sol *solution, v, iters int) {
	in := w.in
	r := &sol.routes[v]
	var out [3]int32
	for range iters {
		m := r.requests()
		if m < 2 {
			return
		}
		w.tmp2.copyFrom(r)
		before := r.cost
		k := 1 + w.rng.intn(min(3, m))
		for i := range k {
			x := r.nodes[1+w.rng.intn(len(r.nodes)-2)]
			out[i] = x / 2
			w.marked[x/2] = true
			in.removeMarked(sol, v, w.marked)
			w.marked[x/2] = false
		}
		ok := true
		for _, s := range out[:k] {
			p, found := in.bestInsert(r, v, int(s), inf, nil, &w.tmp)
			if !found {
				ok = false
				break
			}
			in.place(sol, int(s), p)
		}
		if ok && r.cost < before-1e-9 {
			continue
		}
		for _, s := range out[:k] {
			sol.where[s] = int32(v)
		}
		sol.cost += w.tmp2.cost - r.cost
		if !r.used {
			sol.vehicles++
		}
		r.copyFrom(&w.tmp2)
	}
}

// swap moves a random route, its stops in the same order, to a random empty vehicle of another class that can serve
// it.
func (w *worker) swap(sol *solution) {
	in := w.in
	w.removed = w.removed[:0]
	if sol.vehicles == 0 || sol.vehicles == in.nVeh {
		return
	}
	v := w.randomRoute(sol)
	from := &sol.routes[v]
	n := w.rng.intn(in.nVeh - sol.vehicles)
	u := -1
	for x := range sol.routes {
		if sol.routes[x].empty() {
			if n == 0 {
				u = x
				break
			}
			n--
		}
	}
	if u < 0 || w.class[u] == w.class[v] || w.classUsedEmpty(sol, u) {
		return
	}
	to := &sol.routes[u]
	to.nodes = append(to.nodes[:1], from.nodes[1:len(from.nodes)-1]...)
	to.nodes = append(to.nodes, in.endNode(u))
	ok := true
	for _, x := range to.nodes[1 : len(to.nodes)-1] {
		ok = ok && (x%2 == 1 || in.canServe(u, int(x/2)))
	}
	w.touch(u)
	if !ok || !in.refresh(sol, u) {
		to.nodes = append(to.nodes[:1], in.endNode(u))
		in.refresh(sol, u)
		return
	}
	for _, x := range to.nodes[1 : len(to.nodes)-1] {
		if x%2 == 0 {
			w.removed = append(w.removed, x/2)
			sol.where[x/2] = int32(u)
		}
	}
	w.touch(v)
	from.nodes = append(from.nodes[:1], in.endNode(v))
	in.refresh(sol, v)
}

// nearInTime lists the assigned shipments by how close in time their pickups are served to the seed's, closest
// first: strings removed from these routes free the same hours in several routes at once.
func (w *worker) nearInTime(sol *solution, seed int) []int32 {
	in := w.in
	w.when = grow(w.when, in.nShip)
	for v := range sol.routes {
		r := &sol.routes[v]
		for i, x := range r.nodes[1 : len(r.nodes)-1] {
			if x%2 == 0 {
				w.when[x/2] = r.st[i+1]
			}
		}
	}
	w.byTime = w.byTime[:0]
	for s := range in.nShip {
		if s != seed && sol.where[s] >= 0 {
			w.byTime = append(w.byTime, int32(s))
		}
	}
	t0 := w.when[seed]
	slices.SortFunc(w.byTime, func(a, b int32) int {
		return cmpF(math.Abs(w.when[a]-t0), math.Abs(w.when[b]-t0))
	})
	return w.byTime
}

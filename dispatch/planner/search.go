package planner

import (
	"context"
	"math"
	"slices"
	"time"
)

// budget ends a phase after a number of iterations, at a deadline on the injected clock, or when the context is
// done, whichever comes first. progress is the fraction of the phase used, for the annealing schedule.
type budget struct {
	ctx      context.Context
	iters    int
	now      func() time.Time
	start    time.Time
	deadline time.Time
	count    int
	frac     float64
	stopped  bool
}

func newBudget(ctx context.Context, iters int, now func() time.Time, start, deadline time.Time) *budget {
	return &budget{ctx: ctx, iters: iters, now: now, start: start, deadline: deadline}
}

// done counts one iteration and reports whether the phase is over. The clock and the context are read at every
// iteration: an iteration costs far more than reading them.
func (b *budget) done() bool {
	if b.stopped {
		return true
	}
	b.count++
	if b.iters > 0 {
		b.frac = float64(b.count) / float64(b.iters)
		if b.count > b.iters {
			b.stopped = true
		}
	}
	if b.ctx.Err() != nil {
		b.stopped = true
	}
	if !b.deadline.IsZero() {
		t := b.now()
		f := float64(t.Sub(b.start)) / float64(b.deadline.Sub(b.start))
		b.frac = max(b.frac, f)
		if !t.Before(b.deadline) {
			b.stopped = true
		}
	}
	return b.stopped
}

// worker is one independent search with its own random stream and memory.
type worker struct {
	in   *instance
	rng  *rng
	cur  *solution
	work *solution
	best *solution
	tmp  route
	tmp2 route
	// marked flags shipments being removed; removed lists them.
	marked  []bool
	removed []int32
	touched []int
	inTouch []bool
	ruined  []bool
	// penalty counts how often each shipment failed to go back in during fleet minimisation.
	penalty []int
	// openRandom makes bestPlacement open a random vehicle rather than the cheapest.
	openRandom bool
	// class[v] is the first vehicle identical to v (same places, shift, capacity, skills and break): an empty
	// route of each class is tried once.
	class []int
	// when and byTime are nearInTime's memory.
	when   []float64
	byTime []int32
	// timeRuin is this worker's share of ruins by time.
	timeRuin float64
	// kinds is the number of vehicle classes.
	kinds int
}

func newWorker(in *instance, seed uint64, odd bool) *worker {
	w := &worker{in: in, rng: newRNG(seed), timeRuin: timeRuinRate, marked: make([]bool, in.nShip), inTouch: make([]bool, in.nVeh),
		ruined: make([]bool, in.nVeh), penalty: make([]int, in.nShip), class: vehicleClasses(in)}
	if odd {
		w.timeRuin = timeRuinRateOdd
	}
	for v, c := range w.class {
		if c == v {
			w.kinds++
		}
	}
	w.cur = in.newSolution()
	w.work = in.newSolution()
	w.best = in.newSolution()
	return w
}

func vehicleClasses(in *instance) []int {
	class := make([]int, in.nVeh)
	same := func(a, b int) bool {
		if in.loc[in.startNode(a)] != in.loc[in.startNode(b)] || in.loc[in.endNode(a)] != in.loc[in.endNode(b)] ||
			in.early[in.startNode(a)] != in.early[in.startNode(b)] || in.late[in.endNode(a)] != in.late[in.endNode(b)] ||
			in.vskill[a] != in.vskill[b] || in.brk[a] != nil || in.brk[b] != nil {
			return false
		}
		return slices.Equal(in.capa[a*in.dims:(a+1)*in.dims], in.capa[b*in.dims:(b+1)*in.dims])
	}
	// Vehicles are compared with the first of each class found so far; a fleet of few kinds costs little.
	var heads []int
	for v := range in.nVeh {
		class[v] = v
		for _, h := range heads {
			if same(h, v) {
				class[v] = h
				break
			}
		}
		if class[v] == v {
			heads = append(heads, v)
		}
	}
	return class
}

// bestPlacement finds the cheapest placement of shipment s over the non-empty routes, and when open is set and
// none fits, over one empty route of each vehicle class. skip, when not negative, is a route not to use.
func (w *worker) bestPlacement(sol *solution, s int, open bool, bl *blinker, skip int) (placement, bool) {
	in := w.in
	best := placement{delta: inf}
	found := false
	for v := range sol.routes {
		r := &sol.routes[v]
		if v == skip || r.empty() || !in.canServe(v, s) {
			continue
		}
		if p, ok := in.bestInsert(r, v, s, best.delta, bl, &w.tmp); ok {
			best, found = p, true
		}
	}
	if found || !open {
		return best, found
	}
	feasible := 0
	for v := range sol.routes {
		r := &sol.routes[v]
		if v == skip || !r.empty() || !in.canServe(v, s) || w.classUsedEmpty(sol, v) {
			continue
		}
		// An empty route costs nothing, but bestInsert prices the trip from its start to its end as removed.
		back := in.c(in.startNode(v), in.endNode(v))
		if !w.openRandom {
			if p, ok := in.bestInsert(r, v, s, best.delta-back, nil, &w.tmp); ok {
				p.delta += back
				best, found = p, true
			}
			continue
		}
		// A vehicle at random among those that can take s (reservoir sampling), so that a route can move to
		// another kind of vehicle.
		if p, ok := in.bestInsert(r, v, s, inf, nil, &w.tmp); ok {
			feasible++
			if w.rng.intn(feasible) == 0 {
				best, found = p, true
			}
		}
	}
	return best, found
}

// classUsedEmpty reports whether an earlier vehicle of v's class has an empty route (and so was tried instead).
func (w *worker) classUsedEmpty(sol *solution, v int) bool {
	h := w.class[v]
	if h == v {
		return false
	}
	for u := h; u < v; u++ {
		if w.class[u] == h && sol.routes[u].empty() {
			return true
		}
	}
	return false
}

func (w *worker) touch(v int) {
	if !w.inTouch[v] {
		w.inTouch[v] = true
		w.touched = append(w.touched, v)
	}
}

// insertAll puts the shipments of list into sol one by one at their cheapest place; those that fit nowhere are
// appended to sol.unassigned.
func (w *worker) insertAll(sol *solution, list []int32, open bool, bl *blinker) {
	for _, s := range list {
		p, ok := w.bestPlacement(sol, int(s), open, bl, -1)
		if !ok {
			sol.unassigned = append(sol.unassigned, s)
			sol.missW += w.in.weight(int(s))
			continue
		}
		w.touch(p.r)
		w.in.place(sol, int(s), p)
	}
}

// construct builds the first solution: shipments in order of their pickup's latest start, each at its cheapest
// place, opening a vehicle when none has room.
func (w *worker) construct() {
	in := w.in
	sol := w.cur
	list := slices.Clone(sol.unassigned)
	sol.unassigned = sol.unassigned[:0]
	sol.missW = 0
	slices.SortStableFunc(list, func(a, b int32) int {
		return cmpF(in.late[2*a], in.late[2*b])
	})
	w.insertAll(sol, list, true, nil)
	w.clearTouched()
	w.best.copyFrom(sol)
	w.work.copyFrom(sol)
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w *worker) clearTouched() {
	for _, v := range w.touched {
		w.inTouch[v] = false
	}
	w.touched = w.touched[:0]
}

// fleetMin removes routes one at a time, putting their shipments in an ejection pool and reinserting them, ejecting
// up to two shipments of a route to make room for one that does not fit; a shipment's penalty grows with each
// failure, and the ejection chosen is the one of least total penalty, so that hard shipments go in first and stay.
// After each ejection a few random moves shake the solution. A removal that does not empty the pool within
// popsPerRoute is undone, and two such in a row end the phase.
func (w *worker) fleetMin(b *budget, popsPerRoute int) {
	in := w.in
	sol := w.cur
	backup := in.newSolution()
	failures := 0
	var pool []int32
	for !b.stopped && failures < 2 && sol.vehicles > 1 && sol.missW == 0 {
		backup.copyFrom(sol)
		// Remove a random non-empty route, preferring small ones: the smaller of two draws.
		v := w.randomRoute(sol)
		if u := w.randomRoute(sol); sol.routes[u].requests() < sol.routes[v].requests() {
			v = u
		}
		pool = pool[:0]
		for _, x := range sol.routes[v].nodes {
			if x < int32(2*in.nShip) && x%2 == 0 {
				pool = append(pool, x/2)
				w.marked[x/2] = true
			}
		}
		in.removeMarked(sol, v, w.marked)
		for _, s := range pool {
			w.marked[s] = false
		}
		for i := range w.penalty {
			w.penalty[i] = 1
		}
		pops := 0
		for len(pool) > 0 && pops < popsPerRoute && !b.done() {
			pops++
			s := int(pool[len(pool)-1])
			pool = pool[:len(pool)-1]
			if p, ok := w.bestPlacement(sol, s, false, nil, -1); ok {
				in.place(sol, s, p)
				continue
			}
			w.penalty[s]++
			ej, ok := w.eject(sol, s)
			if !ok {
				pool = slices.Insert(pool, 0, int32(s))
			} else {
				pool = append(pool, ej...)
			}
			w.perturb(sol, 10)
		}
		if len(pool) > 0 {
			sol.copyFrom(backup)
			failures++
			continue
		}
		failures = 0
		if better(sol, w.best) {
			w.best.copyFrom(sol)
		}
	}
	sol.copyFrom(w.best)
	w.work.copyFrom(sol)
}

func (w *worker) randomRoute(sol *solution) int {
	n := w.rng.intn(sol.vehicles)
	for v := range sol.routes {
		if !sol.routes[v].empty() {
			if n == 0 {
				return v
			}
			n--
		}
	}
	return 0
}

// eject finds the shipments (one or two of one route) of least total penalty, then least cost, whose removal lets
// shipment s in; it applies the change and returns the ejected shipments.
func (w *worker) eject(sol *solution, s int) ([]int32, bool) {
	in := w.in
	bestPen := math.MaxInt
	bestDelta := inf
	bestV, bestA, bestB := -1, -1, -1
	var reqs []int32
	tmp := &w.tmp2
	try := func(v, a, b int, pen int) {
		r := &sol.routes[v]
		tmp.v = v
		tmp.nodes = tmp.nodes[:0]
		for _, x := range r.nodes {
			if x < int32(2*in.nShip) && (int(x/2) == a || int(x/2) == b) {
				continue
			}
			tmp.nodes = append(tmp.nodes, x)
		}
		if !in.update(tmp) {
			return
		}
		bound := inf
		if pen == bestPen {
			bound = bestDelta + (r.cost - tmp.cost)
		}
		p, ok := in.bestInsert(tmp, v, s, bound, nil, &w.tmp)
		if !ok {
			return
		}
		delta := p.delta - (r.cost - tmp.cost)
		if pen < bestPen || delta < bestDelta {
			bestPen, bestDelta, bestV, bestA, bestB = pen, delta, v, a, b
		}
	}
	for v := range sol.routes {
		r := &sol.routes[v]
		if r.empty() || !in.canServe(v, s) {
			continue
		}
		reqs = reqs[:0]
		for _, x := range r.nodes {
			if x < int32(2*in.nShip) && x%2 == 0 {
				reqs = append(reqs, x/2)
			}
		}
		for i, a := range reqs {
			if pa := w.penalty[a]; pa <= bestPen {
				try(v, int(a), -1, pa)
			}
			for _, b := range reqs[i+1:] {
				if pen := w.penalty[a] + w.penalty[b]; pen <= bestPen {
					try(v, int(a), int(b), pen)
				}
			}
		}
	}
	if bestV < 0 {
		return nil, false
	}
	out := []int32{int32(bestA)}
	w.marked[bestA] = true
	if bestB >= 0 {
		out = append(out, int32(bestB))
		w.marked[bestB] = true
	}
	in.removeMarked(sol, bestV, w.marked)
	for _, x := range out {
		w.marked[x] = false
	}
	p, ok := in.bestInsert(&sol.routes[bestV], bestV, s, inf, nil, &w.tmp)
	if !ok {
		// The same check succeeded on the same nodes, so this does not happen; s goes back to the pool if it does.
		return append(out, int32(s)), true
	}
	in.place(sol, s, p)
	return out, true
}

// perturb makes k random feasible relocations: a random shipment moves to a random place in another route.
func (w *worker) perturb(sol *solution, k int) {
	in := w.in
	bl := &blinker{rng: w.rng, rate: 0.5}
	for range k {
		if sol.vehicles < 2 {
			return
		}
		v := w.randomRoute(sol)
		r := &sol.routes[v]
		if r.empty() {
			continue
		}
		x := r.nodes[1+w.rng.intn(len(r.nodes)-2)]
		s := int(x / 2)
		w.tmp2.copyFrom(r)
		w.marked[s] = true
		in.removeMarked(sol, v, w.marked)
		w.marked[s] = false
		p, ok := w.bestPlacement(sol, s, false, bl, v)
		if ok {
			in.place(sol, s, p)
			continue
		}
		sol.cost -= sol.routes[v].cost
		if !sol.routes[v].used {
			sol.vehicles++
		}
		sol.routes[v].copyFrom(&w.tmp2)
		sol.cost += sol.routes[v].cost
		sol.where[s] = int32(v)
	}
}

package planner

import "math"

// route is one vehicle's sequence with the arrays that make checking an insertion O(1) per position:
// st[i] is the earliest start of service at nodes[i], lt[i] the latest start at nodes[i] that keeps the rest of the
// route within its windows, and load[i*dims+d] the load on board after nodes[i]. nodes[0] and the last node are the
// vehicle's start and end.
type route struct {
	v     int
	nodes []int32
	st    []float64
	lt    []float64
	load  []int64
	cost  float64
	// scratch is working memory for bestInsert when the route serves as its tmp.
	scratch []float64
	// used is whether the route had stops when the solution's totals were last brought up to date.
	used bool
}

func (r *route) empty() bool { return len(r.nodes) <= 2 }

// requests is the number of shipments on the route.
func (r *route) requests() int { return (len(r.nodes) - 2) / 2 }

func (r *route) copyFrom(o *route) {
	r.v = o.v
	r.nodes = append(r.nodes[:0], o.nodes...)
	r.st = append(r.st[:0], o.st...)
	r.lt = append(r.lt[:0], o.lt...)
	r.load = append(r.load[:0], o.load...)
	r.cost = o.cost
	r.used = o.used
}

// update recomputes the arrays after nodes changed and reports whether the route is feasible (windows, capacity and,
// for a vehicle with a break, a place for the break).
func (in *instance) update(r *route) bool {
	n := len(r.nodes)
	r.st = grow(r.st, n)
	r.lt = grow(r.lt, n)
	r.load = growI(r.load, n*in.dims)
	ok := true
	r.cost = 0
	r.st[0] = in.early[r.nodes[0]]
	for d := range in.dims {
		r.load[d] = 0
	}
	for i := 1; i < n; i++ {
		a, b := r.nodes[i-1], r.nodes[i]
		r.st[i] = max(r.st[i-1]+in.svc[a]+in.t(a, b), in.early[b])
		if r.st[i] > in.late[b]+eps {
			ok = false
		}
		r.cost += in.c(a, b)
		for d := range in.dims {
			l := r.load[(i-1)*in.dims+d] + in.demand[int(b)*in.dims+d]
			r.load[i*in.dims+d] = l
			if l > in.capa[r.v*in.dims+d] {
				ok = false
			}
		}
	}
	r.lt[n-1] = in.late[r.nodes[n-1]]
	for i := n - 2; i >= 0; i-- {
		a, b := r.nodes[i], r.nodes[i+1]
		r.lt[i] = min(in.late[a], r.lt[i+1]-in.t(a, b)-in.svc[a])
	}
	if n <= 2 {
		r.cost = 0 // an unused vehicle does not travel
	}
	if ok && in.brk[r.v] != nil {
		ok = in.breakGap(r) >= 0
	}
	return ok
}

// breakGap returns the gap (after nodes[k], before nodes[k+1]) where the vehicle's break fits, the first one that
// does, or -1. The break starts when the vehicle is ready to leave nodes[k] or at the break's earliest time, whichever
// is later, and travel resumes after it; the rest of the route must still make its windows.
func (in *instance) breakGap(r *route) int {
	b := in.brk[r.v]
	for k := 0; k+1 < len(r.nodes); k++ {
		a, c := r.nodes[k], r.nodes[k+1]
		start := max(r.st[k]+in.svc[a], b.Earliest)
		if start > b.Latest+eps {
			return -1
		}
		if max(start+b.Duration+in.t(a, c), in.early[c]) <= r.lt[k+1]+eps {
			return k
		}
	}
	return -1
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, 2*n)
	}
	return s[:n]
}

func growI(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n, 2*n)
	}
	return s[:n]
}

// placement is where a shipment goes in a route: its pickup after position i and its delivery after position j of
// the route as it is (j >= i; j == i puts the delivery right after the pickup).
type placement struct {
	r     int
	i, j  int
	delta float64
}

// blinker skips candidate positions at random (the "blinks" of slack induction by string removals); nil never
// skips.
type blinker struct {
	rng  *rng
	rate float64
	// slack, when positive, adds to a placement's cost this weight times the delay it causes at the stop after
	// the delivery, so that placements that keep routes loose in time are preferred.
	slack float64
}

func (b *blinker) skip() bool { return b != nil && b.rng.float() < b.rate }

// bestInsert finds the cheapest feasible placement of shipment s in route r (index ri), better than bound, in
// O(1) per position pair; ok is false when there is none.
func (in *instance) bestInsert(r *route, ri, s int, bound float64, bl *blinker, tmp *route) (placement, bool) {
	best := placement{delta: bound}
	found := false
	p, d := int32(2*s), int32(2*s+1)
	dims := in.dims
	capa := in.capa[r.v*dims : r.v*dims+dims]
	n := len(r.nodes)
	sp, sd := in.svc[p], in.svc[d]
	ep, lp, ed, ld := in.early[p], in.late[p], in.early[d], in.late[d]
	dem := in.demand[int(p)*dims : int(p)*dims+dims]
	hasBreak := in.brk[r.v] != nil
	slackW := 0.0
	if bl != nil {
		slackW = bl.slack
	}
	// minDet[j] is the least detour of the delivery alone placed after any of nodes[j..n-2]: with the pickup's
	// detour it bounds every placement of the delivery from j on, which ends most walks early.
	minDet := grow(tmp.scratch, n)
	tmp.scratch = minDet
	minDet[n-1] = inf
	for j := n - 2; j >= 0; j-- {
		b, after := r.nodes[j], r.nodes[j+1]
		minDet[j] = min(minDet[j+1], in.c(b, d)+in.c(d, after)-in.c(b, after))
	}
	for i := 0; i < n-1; i++ {
		a := r.nodes[i]
		arrP := r.st[i] + in.svc[a] + in.t(a, p)
		if arrP > lp+eps {
			break // later positions only arrive later
		}
		next := r.nodes[i+1]
		cIP := in.c(a, p)
		pdelta := cIP + in.c(p, next) - in.c(a, next)
		if pdelta+minDet[i+1] >= best.delta && cIP+in.c(p, d)+in.c(d, next)-in.c(a, next) >= best.delta {
			continue
		}
		if !fits(r.load[i*dims:i*dims+dims], dem, capa) {
			continue
		}
		stP := max(arrP, ep)
		// Delivery right after the pickup.
		if delta := cIP + in.c(p, d) + in.c(d, next) - in.c(a, next); delta < best.delta {
			arrD := stP + sp + in.t(p, d)
			if stD := max(arrD, ed); stD <= ld+eps {
				stN := max(stD+sd+in.t(d, next), in.early[next])
				delta += slackW * (stN - r.st[i+1])
				if stN <= r.lt[i+1]+eps && delta < best.delta && !bl.skip() {
					if !hasBreak || in.breakOK(r, ri, s, i, i, tmp) {
						best, found = placement{r: ri, i: i, j: i, delta: delta}, true
					}
				}
			}
		}
		// Delivery later: walk the nodes between with the pickup's push.
		prev := p
		t := stP
		for j := i + 1; j < n-1; j++ {
			if pdelta+minDet[j] >= best.delta {
				break
			}
			b := r.nodes[j]
			t = max(t+in.svc[prev]+in.t(prev, b), in.early[b])
			if t > in.late[b]+eps {
				break
			}
			if !fits(r.load[j*dims:j*dims+dims], dem, capa) {
				break
			}
			prev = b
			after := r.nodes[j+1]
			delta := pdelta + in.c(b, d) + in.c(d, after) - in.c(b, after)
			if delta >= best.delta {
				continue
			}
			stD := max(t+in.svc[b]+in.t(b, d), ed)
			if stD > ld+eps {
				break
			}
			stA := max(stD+sd+in.t(d, after), in.early[after])
			if stA > r.lt[j+1]+eps {
				continue
			}
			delta += slackW * (stA - r.st[j+1])
			if delta < best.delta && !bl.skip() {
				if !hasBreak || in.breakOK(r, ri, s, i, j, tmp) {
					best, found = placement{r: ri, i: i, j: j, delta: delta}, true
				}
			}
		}
	}
	return best, found
}

func fits(load, dem, capa []int64) bool {
	for d := range load {
		if load[d]+dem[d] > capa[d] {
			return false
		}
	}
	return true
}

// breakOK checks a placement on a vehicle with a break by building the route in tmp.
func (in *instance) breakOK(r *route, ri, s, i, j int, tmp *route) bool {
	tmp.copyFrom(r)
	in.apply(tmp, s, i, j)
	return in.update(tmp)
}

// apply inserts shipment s at (i, j) without updating the arrays.
func (in *instance) apply(r *route, s, i, j int) {
	p, d := int32(2*s), int32(2*s+1)
	r.nodes = append(r.nodes, 0, 0)
	copy(r.nodes[j+3:], r.nodes[j+1:len(r.nodes)-2])
	r.nodes[j+2] = d
	copy(r.nodes[i+2:j+2], r.nodes[i+1:j+1])
	r.nodes[i+1] = p
}

var inf = math.Inf(1)

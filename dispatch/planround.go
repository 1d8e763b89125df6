package dispatch

import (
	"cmp"
	"slices"

	"github.com/paulmach/orb"
)

// This file is the planned round (Config.PlanBudget): under Rules.NoDiversion and Rules.SameStoreBundlesOnly, where
// a route is a sequence of trips (one store, its bundle picked up at once, the bundle's drop-offs, then the next
// trip), the round plans every pending order into trips for every courier on shift, as far ahead as the couriers'
// shifts allow, and commits only the trips that cannot wait for the next round. A courier's next trips are planned
// from the end of its route; nothing not committed binds a later round, which plans again from what it knows.
//
// The plan first serves as many orders as it can, then minimises their total click-to-door (drop-off minus
// creation). Seeing the couriers' later trips is what the matching of one round at a time lacks at the end of a
// day: it hands each courier falling free the best order for now, while the planned round also keeps the orders
// that only the last couriers can still reach for the last minutes of their shifts.

// planRoundApplies says whether the round is the planned round.
func (e *Engine) planRoundApplies() bool {
	return e.cfg.PlanBudget > 0 && e.cfg.Rules.NoDiversion && e.cfg.Rules.SameStoreBundlesOnly
}

// prCourier is one courier of the planned round: where and when it is free after its route, and its planned trips.
type prCourier struct {
	c     *courierState
	loc   orb.Point
	free  int64
	limit int64 // latest pick-up (its shift end under Rules.NoPickupAfterShiftEnd)
	trips [][]int32
	cost  int64
}

// prLost is what an order left out of the plan costs, against nanoseconds of click-to-door: more than any order's
// click-to-door, so that serving more orders always wins.
const prLost = int64(1) << 55

type planRound struct {
	e        *Engine
	cour     []prCourier
	orders   []*orderState
	assigned []bool
	rng      uint64
}

func (p *planRound) next() uint64 {
	p.rng += 0x9e3779b97f4a7c15
	z := p.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (p *planRound) intn(n int) int { return int(p.next() % uint64(n)) }

// prTrip are the times of a courier's first planned trip.
type prTrip struct{ dep, arrive, hand int64 }

// eval times courier ci's trips as early as possible and returns their orders' total click-to-door; ok is false when
// a trip breaks a limit: more stops than MaxRouteStops, the pick-up after the courier's or an order's latest pick-up,
// the load over the courier's capacity, a drop-off past its hard limit, a ride longer than MaxRide. first, when not nil, receives the first
// trip's times.
func (p *planRound) eval(ci int, trips [][]int32, first *prTrip) (int64, bool) {
	e := p.e
	pc := &p.cour[ci]
	c := pc.c
	hb, ha := e.plan.halfBefore, e.plan.halfAfter
	loc, t := pc.loc, max(pc.free, e.now)
	var total int64
	for k, trip := range trips {
		// A trip must fit in a route: the first after the stops the courier has, the later ones on their own.
		if stops := 2 * len(trip); stops > e.cfg.MaxRouteStops || (k == 0 && len(c.stops)+stops > e.cfg.MaxRouteStops) {
			return 0, false
		}
		store := p.orders[trip[0]].storeLoc
		ready, limit, load := int64(0), pc.limit, 0
		for _, oi := range trip {
			o := p.orders[oi]
			ready, limit, load = max(ready, o.ready), min(limit, o.pickupBy), load+o.size
		}
		if load > c.spec.Capacity {
			return 0, false
		}
		arrive := t + int64(e.plan.travel.TravelTime(loc, store, c.spec.Vehicle))
		pick := max(arrive+hb[Pickup], ready)
		if pick > limit {
			return 0, false
		}
		if k == 0 && first != nil {
			*first = prTrip{dep: t, arrive: arrive, hand: pick}
		}
		leave := pick + ha[Pickup]
		loc = store
		for _, oi := range trip {
			o := p.orders[oi]
			hand := leave + int64(e.plan.travel.TravelTime(loc, o.dropLoc, c.spec.Vehicle)) + hb[Dropoff]
			if hand > o.dropLimit(e.cfg.HardLateness) || hand-pick > int64(e.cfg.MaxRide) {
				return 0, false
			}
			total += hand - o.created
			leave = hand + ha[Dropoff]
			loc = o.dropLoc
		}
		t = leave
	}
	return total, true
}

// fits says whether courier ci may carry order oi at all.
func (p *planRound) fits(ci int, oi int32) bool {
	c, o := p.cour[ci].c, p.orders[oi]
	return c.carries(o.region) && c.hasSkills(o.skills) && c.spec.Capacity >= o.size && !o.declinedBy(c.idx)
}

// prInsertion is a place for an order: a new trip at index trip (pos < 0) or position pos of trip's drop-offs.
type prInsertion struct {
	ci, trip, pos int
	delta         int64
	ok            bool
}

func withOrderTrip(trips [][]int32, ins prInsertion, oi int32) [][]int32 {
	out := make([][]int32, 0, len(trips)+1)
	for k, t := range trips {
		if k == ins.trip {
			if ins.pos < 0 {
				out = append(out, []int32{oi})
			} else {
				t = slices.Insert(slices.Clone(t), ins.pos, oi)
			}
		}
		out = append(out, t)
	}
	if ins.pos < 0 && ins.trip == len(trips) {
		out = append(out, []int32{oi})
	}
	return out
}

// best finds the cheapest place for oi over every courier that may carry it, with noise (0: none) on the comparison.
func (p *planRound) best(oi int32, noise int64) prInsertion {
	var best prInsertion
	var bestKey int64
	store := p.orders[oi].store
	for ci := range p.cour {
		if !p.fits(ci, oi) {
			continue
		}
		pc := &p.cour[ci]
		try := func(ins prInsertion) {
			cost, ok := p.eval(ci, withOrderTrip(pc.trips, ins, oi), nil)
			if !ok {
				return
			}
			ins.delta, ins.ok = cost-pc.cost, true
			key := ins.delta
			if noise > 0 {
				key += int64(p.next() % uint64(noise))
			}
			if !best.ok || key < bestKey {
				best, bestKey = ins, key
			}
		}
		for k := 0; k <= len(pc.trips); k++ {
			try(prInsertion{ci: ci, trip: k, pos: -1})
			if k < len(pc.trips) && p.orders[pc.trips[k][0]].store == store {
				for pos := 0; pos <= len(pc.trips[k]); pos++ {
					try(prInsertion{ci: ci, trip: k, pos: pos})
				}
			}
		}
	}
	return best
}

// remove takes oi off its planned trip, unless that makes a later pick-up of the courier too late (it can: a
// courier leaves for a store no sooner than now, and without an earlier trip it waits further away).
func (p *planRound) remove(oi int32) {
	for ci := range p.cour {
		pc := &p.cour[ci]
		for k, t := range pc.trips {
			j := slices.Index(t, oi)
			if j < 0 {
				continue
			}
			trips := slices.Clone(pc.trips)
			if len(t) == 1 {
				trips = slices.Delete(trips, k, k+1)
			} else {
				trips[k] = slices.Delete(slices.Clone(t), j, j+1)
			}
			if cost, ok := p.eval(ci, trips, nil); ok {
				pc.trips, pc.cost = trips, cost
				p.assigned[oi] = false
			}
			return
		}
	}
}

// repair inserts every order left out, in random order, each at its cheapest place.
func (p *planRound) repair(noise int64) {
	var todo []int32
	for i := range p.orders {
		if !p.assigned[i] {
			todo = append(todo, int32(i))
		}
	}
	for i := len(todo) - 1; i > 0; i-- {
		j := p.intn(i + 1)
		todo[i], todo[j] = todo[j], todo[i]
	}
	for _, oi := range todo {
		if ins := p.best(oi, noise); ins.ok {
			pc := &p.cour[ins.ci]
			pc.trips = withOrderTrip(pc.trips, ins, oi)
			pc.cost += ins.delta
			p.assigned[oi] = true
		}
	}
}

func (p *planRound) score() int64 {
	var s int64
	for _, a := range p.assigned {
		if !a {
			s += prLost
		}
	}
	for i := range p.cour {
		s += p.cour[i].cost
	}
	return s
}

type prState struct {
	trips    [][][]int32
	costs    []int64
	assigned []bool
}

func (p *planRound) save() prState {
	st := prState{trips: make([][][]int32, len(p.cour)), costs: make([]int64, len(p.cour)), assigned: slices.Clone(p.assigned)}
	for i := range p.cour {
		st.trips[i], st.costs[i] = p.cour[i].trips, p.cour[i].cost
	}
	return st
}

func (p *planRound) restore(st prState) {
	for i := range p.cour {
		p.cour[i].trips, p.cour[i].cost = st.trips[i], st.costs[i]
	}
	p.assigned = slices.Clone(st.assigned)
}

// search is ruin and recreate for budget iterations: take a few orders off the plan (at random, those nearest in
// ready time and place to one order, or all of one courier's), insert every order left out again with noise, keep
// the plan when it scores no worse.
func (p *planRound) search(budget int) {
	p.repair(0)
	best, bestScore := p.save(), p.score()
	cur := bestScore
	travel := func(a, b *orderState) int64 {
		return int64(p.e.plan.travel.TravelTime(a.dropLoc, b.dropLoc, p.cour[0].c.spec.Vehicle))
	}
	for range budget {
		var in []int32
		for i, a := range p.assigned {
			if a {
				in = append(in, int32(i))
			}
		}
		if len(in) == 0 {
			break
		}
		prev := p.save()
		q := 1 + p.intn(min(12, len(in)))
		switch p.intn(3) {
		case 0:
			for range q {
				p.remove(in[p.intn(len(in))])
			}
		case 1:
			seed := p.orders[in[p.intn(len(in))]]
			if p.intn(2) == 0 {
				var out []int32
				for i, a := range p.assigned {
					if !a {
						out = append(out, int32(i))
					}
				}
				if len(out) > 0 {
					seed = p.orders[out[p.intn(len(out))]]
				}
			}
			dist := func(oi int32) int64 {
				o := p.orders[oi]
				dt := o.ready - seed.ready
				return max(dt, -dt) + travel(seed, o)
			}
			slices.SortStableFunc(in, func(a, b int32) int { return cmp.Compare(dist(a), dist(b)) })
			for _, oi := range in[:q] {
				p.remove(oi)
			}
		default:
			pc := &p.cour[p.intn(len(p.cour))]
			var os []int32
			for _, t := range pc.trips {
				os = append(os, t...)
			}
			for _, oi := range os {
				p.remove(oi)
			}
		}
		p.repair(int64(1+p.intn(30)) * 60e9)
		if sc := p.score(); sc <= cur {
			cur = sc
			if sc < bestScore {
				best, bestScore = p.save(), sc
			}
		} else {
			p.restore(prev)
		}
	}
	p.restore(best)
}

// runPlanRound is the round under Config.PlanBudget (see the top of the file).
func (e *Engine) runPlanRound() {
	r := e.beginRound()
	if e.rec == nil {
		e.rec = &Decision{}
		defer func() { e.rec = nil }()
	}
	e.beginRoundTravel(func(o *orderState) bool { return o.status == StatusPending && !o.waiting() })
	defer e.endRoundTravel()
	stats := Stats{}
	p := &planRound{e: e, rng: uint64(e.now)}
	for _, o := range e.open {
		if o.status == StatusPending && !o.waiting() {
			p.orders = append(p.orders, o)
		}
	}
	stats.Candidates = len(p.orders)
	if len(p.orders) == 0 {
		e.lastStats = stats
		return
	}
	for _, c := range e.courierList {
		if !c.online {
			continue
		}
		limit := int64(never)
		if e.cfg.Rules.NoPickupAfterShiftEnd && c.shiftEnd != 0 {
			if c.shiftEnd <= e.now {
				continue
			}
			limit = c.shiftEnd
		}
		pc := prCourier{c: c, loc: c.loc, free: max(e.now, c.modeAt), limit: limit}
		if n := len(c.stops); n > 0 {
			if n+2 > e.cfg.MaxRouteStops {
				continue
			}
			e.basePlanOf(c) // refreshes the planned times
			last := &c.stops[n-1]
			pc.loc, pc.free = last.location(), last.depart
		}
		p.cour = append(p.cour, pc)
	}
	if len(p.cour) == 0 {
		for _, o := range p.orders {
			e.tellUnplaced(o, UnplacedNoCourier, 0)
		}
		e.lastStats = stats
		return
	}
	p.assigned = make([]bool, len(p.orders))
	p.search(e.cfg.PlanBudget)

	// Commit the first trips that cannot wait: the courier leaves for them before the next round (CommitLead after
	// now; at once when it is 0) and would wait less than that at the store.
	lead := int64(e.cfg.CommitLead)
	for ci := range p.cour {
		pc := &p.cour[ci]
		if len(pc.trips) == 0 {
			continue
		}
		var ft prTrip
		if _, ok := p.eval(ci, pc.trips[:1], &ft); !ok {
			continue
		}
		if lead > 0 && (ft.dep >= e.now+lead || ft.hand-(ft.arrive+e.plan.halfBefore[Pickup]) >= lead) {
			continue
		}
		if lead <= 0 && ft.dep > e.now {
			continue
		}
		orders := make([]*orderState, len(pc.trips[0]))
		for k, oi := range pc.trips[0] {
			orders[k] = p.orders[oi]
		}
		if e.addToRoute(pc.c, orders, orders, nil) {
			stats.Assigned += len(orders)
		}
	}
	slices.SortFunc(r.touched, func(a, b *courierState) int { return int(a.idx - b.idx) })
	for _, c := range r.touched {
		e.routeChanged(c)
	}
	for i, o := range p.orders {
		if !p.assigned[i] && o.status == StatusPending {
			e.tellUnplaced(o, UnplacedCouriersFull, 0)
		}
	}
	e.lastStats = stats
}

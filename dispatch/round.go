package dispatch

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/internal/assign"
)

// row is one line of a round's matching: a bundle of pending orders, or one assigned order that might move to a
// better courier.
type row struct {
	// orders in pick-up order (grouped by store); drops in the bundle's preferred drop-off order.
	orders, drops []*orderState
	// from is set for a re-assignment row: the courier that holds the order now; stay is what keeping it there
	// costs (the cost the order adds to that route).
	from *courierState
	stay float64

	loc      orb.Point // where couriers are searched from (the first store)
	units    int
	skills   uint64
	minReady int64
	// region is the region of every order of the row: only its couriers are candidates.
	region string
	// beyond: couriers are searched at any distance, not only within Config.ReachRadius (Config.ReachBeyond).
	beyond bool

	// candidates are at cands[candFrom:candTo] of the round.
	candFrom, candTo int
	// seen counts couriers of the row's region in reach, before filtering.
	seen int
	// outcome of pricing
	feasible  int
	bestCost  float64
	bestSlack int64
	failLate  int64
	postponed bool
}

type edgeResult struct {
	courier int32
	insertion
}

// roundState is the memory a round reuses from one round to the next.
type roundState struct {
	plans     []basePlan
	planStamp []uint64
	stamp     uint64
	seqArena  []seqStop
	pickArena []int64

	rows    []row
	cands   []edgeResult
	edges   []assign.Edge
	unassig []int64
	scratch []*scratch
	// storeCouriers lists, per store index, the online couriers whose route visits that store for a pick-up.
	storeCouriers map[int32][]int32
	pending       []*orderState
	fresh         []seqStop
	touched       []*courierState
	touchedMark   []uint64
	batch         batchBuffers
	// improveEvals and improveMoved are what the last round's improvement spent and moved.
	improveEvals, improveMoved int
	// byShiftEnd lists the online couriers with a known shift end, latest first; openShift is set when some online
	// courier has none (see prepareExpiry).
	byShiftEnd []*courierState
	openShift  bool
}

// Stats describes the last round, for metrics and benchmarks.
type Stats struct {
	Candidates   int // pending orders considered
	Backlog      int // pending orders left for a later round (beyond Config.MaxRoundOrders)
	Reassignable int // assigned orders considered for a better courier
	Rows         int // bundles and re-assignment candidates priced
	Pairs        int // (row, courier) pairs priced
	Postponed    int // bundles left for a later round (postponed, or held for Config.CommitLead)
	Assigned     int // orders newly placed on a route
	Reassigned   int // orders moved to another courier
}

// LastRound returns the statistics of the last dispatch round.
func (e *Engine) LastRound() Stats { return e.lastStats }

// beginRound forgets what is past retention and readies the round's reusable memory.
func (e *Engine) beginRound() *roundState {
	e.pruneFinished()
	e.compactOpen()
	r := &e.round
	r.stamp++
	if len(r.plans) < len(e.courierList) {
		r.plans = append(r.plans, make([]basePlan, len(e.courierList)-len(r.plans))...)
		r.planStamp = append(r.planStamp, make([]uint64, len(e.courierList)-len(r.planStamp))...)
		r.touchedMark = append(r.touchedMark, make([]uint64, len(e.courierList)-len(r.touchedMark))...)
	}
	r.seqArena, r.pickArena = r.seqArena[:0], r.pickArena[:0]
	r.touched = r.touched[:0]
	r.improveEvals, r.improveMoved = 0, 0
	if len(r.scratch) == 0 {
		r.scratch = append(r.scratch, newScratch(e.cfg.MaxRouteStops))
	}
	return r
}

func (e *Engine) runRound() {
	if e.cfg.Policy == PolicyNearestIdle {
		e.runNearestIdleRound()
		return
	}
	if e.planRoundApplies() {
		e.runPlanRound()
		return
	}
	r := e.beginRound()
	if e.rec == nil {
		// The improvement reads what the round decided: a round run outside planRound records into a decision of its
		// own.
		e.rec = &Decision{}
		defer func() { e.rec = nil }()
	}
	horizon := satAdd(e.now, int64(e.cfg.Lookahead))
	e.beginRoundTravel(func(o *orderState) bool { return o.status == StatusPending && o.ready <= horizon && !o.waiting() })
	defer e.endRoundTravel()
	if r.storeCouriers == nil {
		r.storeCouriers = make(map[int32][]int32)
	}
	for k, v := range r.storeCouriers {
		r.storeCouriers[k] = v[:0]
	}
	stats := Stats{}

	// 1. Price every current route as it stands (this also refreshes every planned time), and note which couriers
	// are already going to which store.
	for _, c := range e.courierList {
		if len(c.stops) == 0 {
			continue
		}
		bp := e.basePlanOf(c)
		for i := bp.lock; i < len(bp.seq); i++ {
			if s := bp.seq[i]; s.kind == Pickup && c.online {
				idx := s.o.store.idx
				if l := r.storeCouriers[idx]; len(l) == 0 || l[len(l)-1] != c.idx {
					r.storeCouriers[idx] = append(l, c.idx)
				}
			}
		}
	}

	// 2. Candidates: pending orders whose store will be ready soon enough; assigned orders not yet picked up, not
	// accepted and not where the courier is heading, which a better courier might take.
	r.pending = r.pending[:0]
	for _, o := range e.open {
		if o.status == StatusPending && o.ready <= horizon && !o.waiting() {
			r.pending = append(r.pending, o)
		}
	}
	if limit := e.roundOrderLimit(); len(r.pending) > limit {
		// The most urgent first; the cut is by promise, not by who happened to be placed first.
		slices.SortFunc(r.pending, func(a, b *orderState) int {
			return cmp.Or(cmp.Compare(a.deliverBy, b.deliverBy), cmp.Compare(a.seq, b.seq))
		})
		stats.Backlog = len(r.pending) - limit
		if e.courierIndex.Len() > 0 {
			for _, o := range r.pending[limit:] {
				e.tellUnplaced(o, UnplacedBacklog, 0)
			}
			r.pending = r.pending[:limit]
		}
		// Bundling reads the candidates in placement order.
		slices.SortFunc(r.pending, func(a, b *orderState) int { return cmp.Compare(a.seq, b.seq) })
	}
	stats.Candidates = len(r.pending)
	if e.courierIndex.Len() == 0 {
		// Nobody is on shift: nothing can be placed, and bundling a backlog (which grows fastest exactly then) would
		// cost the most for nothing. Every pending order is told why it waits, as the full round would tell it.
		for _, o := range r.pending {
			e.tellUnplaced(o, UnplacedNoCourier, 0)
		}
		e.lastStats = stats
		return
	}
	r.rows = e.buildBundles(r.pending, r.rows[:0])
	if e.cfg.Reassign && !e.cfg.Rules.NoDiversion {
		for _, o := range e.open {
			if !o.movable() {
				continue
			}
			bp := e.basePlanOf(o.courier)
			if i := o.courier.stopIndex(o, Pickup); i < bp.lock {
				continue
			}
			stay := e.removalGain(bp, o)
			r.rows = append(r.rows, row{orders: []*orderState{o}, drops: []*orderState{o}, from: o.courier, stay: stay,
				loc: o.storeLoc, units: o.size, skills: o.skills, minReady: o.ready, region: o.region})
			stats.Reassignable++
		}
	}

	// 3. Reach and price.
	r.cands = r.cands[:0]
	e.findCandidates(0)
	e.price(0)
	// A bundle that no courier can take is split, and its orders are tried alone.
	n := len(r.rows)
	for i := 0; i < n; i++ {
		if rw := &r.rows[i]; rw.from == nil && len(rw.orders) > 1 && rw.feasible == 0 {
			// Retire the row before appending: an append that grows r.rows moves it, and rw would then point into
			// the old array (the outcome would depend on the capacity left by earlier rounds).
			split := rw.orders
			rw.orders = nil
			for _, o := range split {
				r.rows = append(r.rows, row{orders: []*orderState{o}, drops: []*orderState{o}, loc: o.storeLoc,
					units: o.size, skills: o.skills, minReady: o.ready, region: o.region})
			}
		}
	}
	if len(r.rows) > n {
		e.findCandidates(n)
		e.price(n)
	}
	if e.cfg.ReachBeyond {
		// An order no courier within reach can take is offered to the nearest couriers at any distance.
		n = len(r.rows)
		for i := 0; i < n; i++ {
			if rw := &r.rows[i]; rw.from == nil && len(rw.orders) == 1 && rw.feasible == 0 {
				o := rw.orders[0]
				rw.orders = nil
				far := singleRow(o)
				far.beyond = true
				r.rows = append(r.rows, far)
			}
		}
		if len(r.rows) > n {
			e.findCandidates(n)
			e.price(n)
		}
	}

	// 4. Postpone what can wait; match the rest globally.
	r.edges, r.unassig = r.edges[:0], r.unassig[:0]
	e.prepareExpiry()
	for i := range r.rows {
		rw := &r.rows[i]
		stats.Pairs += rw.candTo - rw.candFrom
		if rw.orders == nil {
			r.unassig = append(r.unassig, 0)
			continue
		}
		stats.Rows++
		if rw.from == nil {
			r.unassig = append(r.unassig, toUnits(e.cfg.UnassignedCost*float64(len(rw.orders))+e.deferPrice(rw.orders)+
				e.expiryPrice(rw.orders)))
			if e.postpone(rw) {
				e.leaveForLater(rw, &stats)
				continue
			}
		} else {
			r.unassig = append(r.unassig, toUnits(rw.stay))
		}
		for k := rw.candFrom; k < rw.candTo; k++ {
			if cr := &r.cands[k]; cr.ok {
				cost := cr.delta
				if rw.from != nil {
					cost += e.cfg.ReassignThreshold
				}
				if u := toUnits(cost); u < r.unassig[i] {
					r.edges = append(r.edges, assign.Edge{Row: int32(i), Col: cr.courier, Cost: u})
				}
			}
		}
	}
	match, err := e.solver.Solve(len(r.rows), len(e.courierList), r.unassig, r.edges)
	if err != nil {
		// Only reachable through a bug in building the problem; dispatching nothing this round is safe.
		match = nil
	}

	// 5. Apply: first take moved orders off their old routes, then add every matched row to its courier's route.
	for i, col := range match {
		if rw := &r.rows[i]; col >= 0 && rw.from != nil {
			e.unassign(rw.orders[0], UnassignReassigned)
			e.touch(rw.from)
		}
	}
	for i, col := range match {
		rw := &r.rows[i]
		if col < 0 {
			continue
		}
		c := e.courierList[col]
		if rw.from == nil && e.holdForLater(c, rw) {
			e.leaveForLater(rw, &stats)
			continue
		}
		if e.addToRoute(c, rw.orders, rw.drops, rw.from) {
			if rw.from != nil {
				stats.Reassigned++
			} else {
				stats.Assigned += len(rw.orders)
			}
			continue
		}
		if rw.from != nil && !e.addToRoute(rw.from, rw.orders, rw.drops, rw.from) {
			e.setStatus(rw.orders[0], StatusPending, string(UnassignReassigned))
			if e.rec != nil {
				e.rec.Moves = append(e.rec.Moves, Move{OrderID: rw.orders[0].spec.ID, From: rw.from.spec.ID})
			}
		}
	}
	// 6. Re-sequence every touched route, improve them together, and publish them.
	slices.SortFunc(r.touched, func(a, b *courierState) int { return int(a.idx - b.idx) })
	if !e.cfg.Rules.NoDiversion {
		for i, c := range r.touched {
			if i%8 == 7 {
				e.pause()
			}
			e.resequenceRoute(c)
		}
	}
	r.improveEvals, r.improveMoved = e.improve()
	for _, c := range r.touched {
		e.routeChanged(c)
	}

	// 7. Tell pending orders why they are still waiting (once per reason).
	for i := range r.rows {
		rw := &r.rows[i]
		if rw.from != nil || rw.orders == nil || rw.postponed || (match != nil && match[i] >= 0) {
			continue
		}
		why, late := UnplacedCouriersTaken, int64(0)
		switch {
		case rw.candTo == rw.candFrom && rw.seen == 0:
			why = UnplacedNoCourier
		case rw.candTo == rw.candFrom:
			why = UnplacedCouriersFull
		case rw.feasible == 0 && rw.failLate != never:
			why, late = UnplacedWouldBeLate, rw.failLate
		case rw.feasible == 0:
			why = UnplacedCouriersFull
		}
		for _, o := range rw.orders {
			e.tellUnplaced(o, why, late)
		}
	}
	e.lastStats = stats
}

// roundOrderLimit is how many pending orders a round considers (Config.MaxRoundOrders).
func (e *Engine) roundOrderLimit() int {
	if e.cfg.MaxRoundOrders > 0 {
		return e.cfg.MaxRoundOrders
	}
	return max(1000, 4*e.courierIndex.Len())
}

func (e *Engine) touch(c *courierState) {
	r := &e.round
	if r.touchedMark[c.idx] != r.stamp {
		r.touchedMark[c.idx] = r.stamp
		r.touched = append(r.touched, c)
	}
}

// toUnits turns a cost into the matching's integer units (thousandths), saturating far below the solver's limit.
func toUnits(cost float64) int64 {
	const limit = 1 << 48
	u := math.Round(cost * 1000)
	if u > limit || math.IsNaN(u) {
		return limit
	}
	return max(int64(u), 0)
}

// deferPrice is what leaving orders unassigned this round is taken to cost: each is priced as a plan prices a
// drop-off DeferHorizon from now (the delivery time, and the whole lateness past the promise at LateFixed and
// LateWeight). Without it the matching, which pays for an overdue order's lateness when it assigns it but not when
// it leaves it waiting, would keep handing scarce couriers to fresh orders and let the overdue ones starve. The
// lateness is counted in full, as the plans count it, not only the part the wait adds: the price of serving an
// order grows with its age, and a price of waiting that stopped growing would let the longest overdue orders lose
// every scarce courier to orders just overdue.
func (e *Engine) deferPrice(orders []*orderState) float64 {
	w := int64(e.cfg.DeferHorizon)
	if w <= 0 {
		return 0
	}
	price := 0.0
	for _, o := range orders {
		price += e.plan.delW * float64(w)
		if late := e.now + w - o.deliverBy; late > 0 {
			price += e.cfg.LateFixed + e.plan.lateW*float64(late)
		}
	}
	return price
}

// leaveForLater marks a bundle left for a later round (postponed, or held by holdForLater) and counts it.
func (e *Engine) leaveForLater(rw *row, stats *Stats) {
	rw.postponed = true
	stats.Postponed++
	if e.rec != nil {
		for _, o := range rw.orders {
			e.rec.Postponed = append(e.rec.Postponed, o.spec.ID)
		}
	}
}

// postpone says whether a bundle may wait for a later round: its best plan keeps every promise with plenty to spare
// and its orders are not ready soon.
func (e *Engine) postpone(rw *row) bool {
	if e.cfg.PostponeSlack <= 0 || rw.feasible == 0 {
		return false
	}
	return rw.minReady-e.now >= int64(e.cfg.PostponeReadyIn) && rw.bestSlack >= int64(e.cfg.PostponeSlack)
}

// holdForLater says whether a bundle matched to c is held rather than committed (Config.CommitLead): under
// Rules.NoDiversion, when c would wait at least CommitLead at the bundle's stores for its orders to be ready.
func (e *Engine) holdForLater(c *courierState, rw *row) bool {
	lead := int64(e.cfg.CommitLead)
	if lead <= 0 || !e.cfg.Rules.NoDiversion {
		return false
	}
	return e.storeWait(c, rw) >= lead
}

// storeWait is how long c would wait at the stores of a bundle for its orders to be ready, with the bundle added at
// the end of its route (where Rules.NoDiversion puts new work).
func (e *Engine) storeWait(c *courierState, rw *row) int64 {
	bp := e.basePlanOf(c)
	r := &e.round
	pick := r.scratch[0].pick[:bp.slots+len(rw.orders)]
	copy(pick, bp.pick)
	r.fresh = e.plan.freshStops(bp, rw.orders, rw.drops, c.shiftEnd, r.fresh)
	seq := append(append(r.scratch[0].trial[:0], bp.seq...), r.fresh[:len(rw.orders)]...)
	r.scratch[0].trial = seq
	return e.plan.pickupWait(&bp.start, seq, len(bp.seq), pick)
}

// commitLeadHolds checks a plan against Config.CommitLead: under Rules.NoDiversion, its courier waits less than
// CommitLead at the stores of the work after the fixed prefix (see holdForLater).
func (e *Engine) commitLeadHolds(start *cursor, seq []seqStop, lock int) bool {
	lead := int64(e.cfg.CommitLead)
	if lead <= 0 || !e.cfg.Rules.NoDiversion {
		return true
	}
	seq = slices.Clone(seq)
	return e.plan.pickupWait(start, seq, lock, numberSlots(seq)) < lead
}

// findCandidates finds, for rows[from:], the couriers to price: the nearest that may take the bundle, plus couriers
// already going to the bundle's store.
func (e *Engine) findCandidates(from int) {
	r := &e.round
	k := e.cfg.CandidateCouriers
	maxSeen := 8 * k
	for i := from; i < len(r.rows); i++ {
		if i%8 == 7 {
			e.pause()
		}
		rw := &r.rows[i]
		rw.candFrom = len(r.cands)
		if rw.orders == nil {
			rw.candTo = rw.candFrom
			continue
		}
		accept := func(idx int32) bool {
			c := e.courierList[idx]
			if c == rw.from || !c.carries(rw.region) || !c.hasSkills(rw.skills) || c.spec.Capacity < rw.units ||
				len(c.stops)+2*len(rw.orders) > e.cfg.MaxRouteStops {
				return false
			}
			if e.cfg.Rules.NoPickupAfterShiftEnd && c.shiftEnd != 0 && c.shiftEnd <= e.now {
				return false
			}
			if h := e.cfg.AppendHorizon; h > 0 && len(c.stops) > 0 && c.stops[len(c.stops)-1].depart > e.now+int64(h) {
				return false
			}
			for _, o := range rw.orders {
				if o.declinedBy(idx) {
					return false
				}
			}
			return true
		}
		radius := e.cfg.ReachRadius
		if rw.beyond {
			radius = 0
		}
		e.courierIndex.Within(rw.region, rw.loc, radius, func(n neighbor) bool {
			rw.seen++
			if accept(n.ID) {
				r.cands = append(r.cands, edgeResult{courier: n.ID})
			}
			return len(r.cands)-rw.candFrom < k && rw.seen < maxSeen
		})
		extra := 0
		for _, o := range rw.orders {
			for _, idx := range r.storeCouriers[o.store.idx] {
				if extra >= k/2 {
					break
				}
				if !e.courierList[idx].online || !accept(idx) || slices.ContainsFunc(r.cands[rw.candFrom:], func(x edgeResult) bool { return x.courier == idx }) {
					continue
				}
				r.cands = append(r.cands, edgeResult{courier: idx})
				extra++
			}
		}
		rw.candTo = len(r.cands)
		for j := rw.candFrom; j < rw.candTo; j++ {
			e.basePlanOf(e.courierList[r.cands[j].courier])
		}
	}
}

// price computes the insertion of every row of rows[from:] into each of its candidates' routes, on cfg.Workers
// goroutines. Each result lands in its own slot, so the outcome does not depend on scheduling.
func (e *Engine) price(from int) {
	r := &e.round
	workers := e.cfg.Workers
	if len(r.rows)-from < 64 {
		workers = 1
	}
	for len(r.scratch) < workers {
		r.scratch = append(r.scratch, newScratch(e.cfg.MaxRouteStops))
	}
	work := func(w int) {
		sc := r.scratch[w]
		pl := e.workerPlanner(sc)
		var fresh []seqStop
		for i := from + w; i < len(r.rows); i += workers {
			e.pause()
			rw := &r.rows[i]
			rw.feasible, rw.bestCost, rw.bestSlack, rw.failLate = 0, math.Inf(1), 0, never
			for k := rw.candFrom; k < rw.candTo; k++ {
				cr := &r.cands[k]
				c := e.courierList[cr.courier]
				bp := &r.plans[c.idx]
				fresh = pl.freshStops(bp, rw.orders, rw.drops, c.shiftEnd, fresh)
				cr.insertion = pl.insert(bp, fresh, sc, false)
				if cr.failLate < rw.failLate {
					rw.failLate = cr.failLate
				}
				if cr.ok {
					rw.feasible++
					if cr.delta < rw.bestCost {
						rw.bestCost, rw.bestSlack = cr.delta, cr.minSlack
					}
				}
			}
		}
	}
	if workers == 1 {
		work(0)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	wg.Wait()
}

// addToRoute inserts orders into c's current route at the cheapest place and marks them assigned. It reports false
// (changing nothing) when they no longer fit.
func (e *Engine) addToRoute(c *courierState, orders, drops []*orderState, prev *courierState) bool {
	var bp basePlan
	e.makeBasePlan(c, &bp, nil, nil)
	sc := e.round.scratch[0]
	fresh := e.plan.freshStops(&bp, orders, drops, c.shiftEnd, nil)
	if ins := e.plan.insert(&bp, fresh, sc, true); !ins.ok {
		return false
	}
	e.setStops(c, sc.best)
	for _, o := range orders {
		o.courier = c
		o.unplaced = ""
		prevID := ""
		if prev != nil {
			prevID = prev.spec.ID
		}
		e.setStatus(o, StatusAssigned, "")
		e.emit(OrderAssigned{OrderID: o.spec.ID, CourierID: c.spec.ID, Previous: prevID})
		if e.rec != nil {
			e.rec.Moves = append(e.rec.Moves, Move{OrderID: o.spec.ID, From: prevID, To: c.spec.ID})
		}
	}
	e.touch(c)
	return true
}

// setStops replaces a courier's stops with a plan's sequence, keeping the mode when the first stop is unchanged.
func (e *Engine) setStops(c *courierState, seq []seqStop) {
	firstBefore := (*orderState)(nil)
	kindBefore := Pickup
	if len(c.stops) > 0 {
		firstBefore, kindBefore = c.stops[0].o, c.stops[0].kind
	}
	c.stops = c.stops[:0]
	for _, s := range seq {
		c.stops = append(c.stops, stop{kind: s.kind, o: s.o})
	}
	if len(c.stops) > 0 && (c.stops[0].o != firstBefore || c.stops[0].kind != kindBefore) {
		// A new first stop: the courier heads there from where it is now, or from where it is finishing a
		// hand-over's service.
		c.mode, c.modeAt = modeMoving, max(e.now, c.modeAt)
	}
}

// resequenceRoute re-orders a touched route's movable stops when that is cheaper.
func (e *Engine) resequenceRoute(c *courierState) {
	var bp basePlan
	e.makeBasePlan(c, &bp, nil, nil)
	if len(bp.seq)-bp.lock < 2 {
		return
	}
	sc := e.round.scratch[0]
	seq := slices.Clone(bp.seq)
	pick := slices.Clone(bp.pick)
	cost := e.plan.resequence(&bp.start, seq, bp.lock, pick, sc)
	if cost < bp.cost-1e-6 {
		e.setStops(c, seq)
	}
}

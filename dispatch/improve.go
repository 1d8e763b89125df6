package dispatch

import (
	"math"
	"slices"
)

// This file is the round's last planning step: a bounded local search over the routes the round touched. After the
// matching (which places whole bundles, one per courier) and the re-sequencing of each touched route, it moves single
// orders that are not yet picked up between those routes: relocating an order's pick-up and drop-off to another
// route, or exchanging two orders of two routes. Every candidate is priced by the engine's own insertion
// (planner.insert) and evaluation (planner.eval), so capacity, precedence, the stop a courier is heading to, ride
// time, the promise and hard limits hold exactly as for the matching; a move is made only when it lowers the sum of
// the routes' costs by more than the price of churn it adds (ReassignThreshold for an order taken from the courier
// that held it before the round). The work is bounded by Config.ImproveBudget evaluations, so a round's result does
// not depend on the machine.

// improveEps is the least gain a move must bring, in cost units, so that rounding never makes the search cycle.
const improveEps = 1e-6

// improver is the state of one improvement pass.
type improver struct {
	e      *Engine
	routes []basePlan
	// at maps a courier index to its route in routes, or -1.
	at []int32
	// budget bounds the evaluations; evals counts those spent.
	budget, evals int
	// moveOf maps an order to its Move in the round's decision (index into rec.Moves), when it has one: an order
	// without one was on its courier before the round.
	moveOf map[*orderState]int
	// edited marks the orders this pass moved: each moves at most once, so no move ever leads back to where the
	// order started the round.
	edited  map[*orderState]bool
	sc      *scratch
	restBuf []seqStop
	pickBuf []int64
	fresh   []seqStop
	moved   int
}

// improve runs the improvement over the round's touched routes, at most Config.ImproveBudget evaluations. It
// changes the routes (setStops) and the orders' couriers, records the moves in the round's decision, and returns
// the number of evaluations spent and of orders moved. The routes must then be published (routeChanged).
func (e *Engine) improve() (evals, moved int) {
	r := &e.round
	if e.cfg.ImproveBudget <= 0 || len(r.touched) < 2 || e.rec == nil {
		return 0, 0
	}
	im := &improver{e: e, budget: e.cfg.ImproveBudget, sc: r.scratch[0]}
	im.at = make([]int32, len(e.courierList))
	for i := range im.at {
		im.at[i] = -1
	}
	for _, c := range r.touched {
		if rt, ok := im.routeOf(c); ok {
			im.at[c.idx] = int32(len(im.routes))
			im.routes = append(im.routes, rt)
		}
	}
	if len(im.routes) < 2 {
		return 0, 0
	}
	im.edited = make(map[*orderState]bool)
	im.moveOf = make(map[*orderState]int, len(e.rec.Moves))
	for i, m := range e.rec.Moves {
		if o := e.orders[m.OrderID]; o != nil {
			im.moveOf[o] = i
		}
	}
	im.relocatePass()
	im.exchangePass()
	for i := range im.routes {
		rt := &im.routes[i]
		e.setStops(rt.c, rt.seq)
	}
	return im.evals, im.moved
}

// routeOf builds a touched route's working copy. Its start and fixed prefix are those the round priced it from;
// stops that were on the route before the round keep the limits of that plan, stops the round added get the limits
// of new work. A route whose current plan does not hold under those limits is left alone.
func (im *improver) routeOf(c *courierState) (basePlan, bool) {
	e, r := im.e, &im.e.round
	if r.planStamp[c.idx] != r.stamp || len(c.stops) == 0 {
		return basePlan{}, false
	}
	bp := &r.plans[c.idx]
	if bp.lock > len(c.stops) {
		return basePlan{}, false
	}
	for i := 0; i < bp.lock; i++ {
		if c.stops[i].o != bp.seq[i].o || c.stops[i].kind != bp.seq[i].kind {
			return basePlan{}, false
		}
	}
	// The working copy is a base plan of its own (the round's stays as it was).
	rt := basePlan{c: c, start: bp.start, lock: bp.lock, seq: make([]seqStop, len(c.stops))}
	pickLimit := int64(never)
	if e.cfg.Rules.NoPickupAfterShiftEnd && c.shiftEnd != 0 {
		pickLimit = c.shiftEnd
	}
	for i, s := range c.stops {
		k := slices.IndexFunc(bp.seq, func(q seqStop) bool { return q.o == s.o && q.kind == s.kind })
		switch {
		case k >= 0:
			rt.seq[i] = bp.seq[k]
			rt.seq[i].slot = -1
		case s.kind == Pickup:
			rt.seq[i] = seqStop{o: s.o, kind: Pickup, fresh: true, slot: -1, limit: min(pickLimit, s.o.pickupBy)}
		default:
			rt.seq[i] = seqStop{o: s.o, kind: Dropoff, fresh: true, slot: -1,
				limit: s.o.dropLimit(e.cfg.HardLateness), rideLimit: int64(e.cfg.MaxRide)}
		}
	}
	rt.renumber()
	// Pricing the route as it stands is part of reading the round's result, like its re-sequencing; the budget
	// counts the moves' evaluations.
	im.pickBuf = append(im.pickBuf[:0], rt.pick...)
	cost, _, ok := e.plan.eval(&rt.start, rt.seq, im.pickBuf, nil, math.Inf(1))
	if !ok {
		return basePlan{}, false
	}
	rt.cost = cost
	return rt, true
}

// renumber gives bp's orders fresh pick-up slots (see numberSlots), so that moves in and out never exhaust them.
func (bp *basePlan) renumber() {
	bp.pick = numberSlots(bp.seq)
	bp.slots = len(bp.pick)
}

// numberSlots gives seq's orders pick-up slots in order of first appearance and returns the pick-up table, which
// holds the pick-up time of orders already on board (their only stop is the drop-off); a plan writes the others.
func numberSlots(seq []seqStop) []int64 {
	pick := make([]int64, 0, len(seq))
	for i := range seq {
		s := &seq[i]
		prev := -1
		for j := 0; j < i; j++ {
			if seq[j].o == s.o {
				prev = j
				break
			}
		}
		if prev >= 0 {
			s.slot = seq[prev].slot
			continue
		}
		s.slot = int8(len(pick))
		pick = append(pick, s.o.pickedUpAt)
	}
	return pick
}

// price evaluates a plan without writing into pick. One evaluation of the budget.
func (im *improver) price(start *cursor, seq []seqStop, pick []int64) (float64, bool) {
	im.evals++
	im.pickBuf = append(im.pickBuf[:0], pick...)
	cost, _, ok := im.e.plan.eval(start, seq, im.pickBuf, nil, math.Inf(1))
	return cost, ok
}

// without returns rt's plan without order o (its pick-up and drop-off) as a base plan, with its cost; ok is false
// when that plan breaks a limit. The plan's sequence lives in buf.
func (im *improver) without(rt *basePlan, o *orderState, buf []seqStop) (basePlan, []seqStop, bool) {
	buf = buf[:0]
	for _, s := range rt.seq {
		if s.o != o {
			buf = append(buf, s)
		}
	}
	start := rt.start
	if len(rt.seq) > 0 && rt.seq[0].o == o {
		// Without its first stop the courier is no longer bound to arrive there; it sets off from where it is.
		start.floor = 0
	}
	bp := basePlan{c: rt.c, start: start, lock: rt.lock, seq: buf, pick: rt.pick, slots: len(rt.pick)}
	cost, ok := im.price(&bp.start, buf, rt.pick)
	bp.cost = cost
	return bp, buf, ok
}

// insertInto prices o on base plan bp of courier c; with keep, the scratch's best holds the new plan.
func (im *improver) insertInto(bp *basePlan, c *courierState, o *orderState, keep bool) insertion {
	im.evals++
	if im.evals%64 == 0 {
		im.e.pause()
	}
	p := &im.e.plan
	im.fresh = p.freshStops(bp, []*orderState{o}, []*orderState{o}, c.shiftEnd, im.fresh)
	return p.insert(bp, im.fresh, im.sc, keep)
}

// movable lists the orders of rt the improvement may move: assigned, not accepted, not locked by an operator, not
// picked up, and not on the fixed prefix.
func (im *improver) movable(rt *basePlan, dst []*orderState) []*orderState {
	dst = dst[:0]
	for i := rt.lock; i < len(rt.seq); i++ {
		if s := rt.seq[i]; s.kind == Pickup && s.o.movable() && s.o.courier == rt.c {
			dst = append(dst, s.o)
		}
	}
	return dst
}

// origin is the courier that held o before the round, or nil for an order the round placed.
func (im *improver) origin(o *orderState) *courierState {
	if i, ok := im.moveOf[o]; ok {
		m := im.e.rec.Moves[i]
		if m.From == "" {
			return nil
		}
		return im.e.couriers[m.From]
	}
	return o.courier
}

// churn is what moving o onto courier to adds to the objective beyond route costs, and whether the move is
// allowed: each order moves at most once in a pass, an order the round re-assigned is not sent back to where it
// came from (that would undo the matching's own choice), and an order held before the round moves only when
// Config.Reassign allows, at the price of ReassignThreshold.
func (im *improver) churn(o *orderState, to *courierState) (float64, bool) {
	if im.edited[o] {
		return 0, false
	}
	switch home := im.origin(o); {
	case home == nil:
		return 0, true
	case home == o.courier:
		return im.e.cfg.ReassignThreshold, im.e.cfg.Reassign
	default:
		return 0, to != home
	}
}

// mayTake says whether courier c may be offered o at all (its region, skills, a decline, its size).
func mayTake(c *courierState, o *orderState) bool {
	return c.online && c.carries(o.region) && c.hasSkills(o.skills) && !o.declinedBy(c.idx) && c.spec.Capacity >= o.size
}

// targets lists the touched routes near o's store other than from, nearest courier first.
func (im *improver) targets(o *orderState, from int32, dst []int32) []int32 {
	e := im.e
	dst = dst[:0]
	k := e.cfg.CandidateCouriers
	seen := 0
	e.courierIndex.Within(o.region, o.storeLoc, e.cfg.ReachRadius, func(n neighbor) bool {
		seen++
		if i := im.at[n.ID]; i >= 0 && i != from && mayTake(im.routes[i].c, o) {
			dst = append(dst, i)
		}
		return len(dst) < k && seen < 16*k
	})
	return dst
}

// spend reports whether n more evaluations fit the budget.
func (im *improver) spend(n int) bool { return im.evals+n <= im.budget }

// relocatePass tries, for every movable order, the best other touched route for it, and moves it when that lowers
// the objective.
func (im *improver) relocatePass() {
	var orders []*orderState
	var cands []int32
	for a := range im.routes {
		orders = im.movable(&im.routes[a], orders)
		for _, o := range orders {
			if !im.spend(2) {
				return
			}
			A := &im.routes[a]
			if o.courier != A.c {
				continue
			}
			bpA, rest, ok := im.without(A, o, im.restBuf)
			im.restBuf = rest
			if !ok {
				continue
			}
			restCost := bpA.cost
			gainA := A.cost - restCost
			cands = im.targets(o, int32(a), cands)
			bestGain, bestB := improveEps, int32(-1)
			for _, b := range cands {
				if !im.spend(1) {
					break
				}
				B := &im.routes[b]
				extra, allowed := im.churn(o, B.c)
				if !allowed {
					continue
				}
				bp := *B
				ins := im.insertInto(&bp, B.c, o, false)
				if !ins.ok {
					continue
				}
				if g := gainA - ins.delta - extra; g > bestGain {
					bestGain, bestB = g, b
				}
			}
			if bestB < 0 || !im.spend(1) {
				continue
			}
			B := &im.routes[bestB]
			bp := *B
			ins := im.insertInto(&bp, B.c, o, true)
			if !ins.ok || !im.e.blocksHold(im.sc.best, B.lock) || !im.e.commitLeadHolds(&B.start, im.sc.best, B.lock) {
				continue
			}
			A.seq, A.cost = append(A.seq[:0], rest...), restCost
			A.renumber()
			B.seq, B.cost = slices.Clone(im.sc.best), B.cost+ins.delta
			B.renumber()
			im.moveOrder(o, A.c, B.c)
		}
	}
}

// exchangePass tries swapping two movable orders of two touched routes near each other.
func (im *improver) exchangePass() {
	var ordersA, ordersB []*orderState
	var cands []int32
	var restB []seqStop
	for a := range im.routes {
		ordersA = im.movable(&im.routes[a], ordersA)
		for _, o1 := range ordersA {
			A := &im.routes[a]
			if !im.spend(1) {
				return
			}
			if o1.courier != A.c {
				continue
			}
			bpA, rest, ok := im.without(A, o1, im.restBuf)
			im.restBuf = rest
			if !ok {
				continue
			}
			cands = im.targets(o1, int32(a), cands)
			for _, b := range cands {
				if int(b) < a {
					continue // the pair was tried from b's side
				}
				B := &im.routes[b]
				extra1, ok1 := im.churn(o1, B.c)
				if !ok1 {
					continue
				}
				ordersB = im.movable(B, ordersB)
				for _, o2 := range ordersB {
					if !im.spend(3) {
						return
					}
					extra2, ok2 := im.churn(o2, A.c)
					if !ok2 || !mayTake(A.c, o2) {
						continue
					}
					bpB, rb, ok := im.without(B, o2, restB)
					restB = rb
					if !ok {
						continue
					}
					in2 := im.insertInto(&bpA, A.c, o2, false)
					if !in2.ok {
						continue
					}
					in1 := im.insertInto(&bpB, B.c, o1, false)
					if !in1.ok {
						continue
					}
					newCost := bpA.cost + in2.delta + bpB.cost + in1.delta
					if A.cost+B.cost-newCost-extra1-extra2 <= improveEps {
						continue
					}
					// Rebuild both plans (the scratch holds only one) and check them.
					if !im.spend(2) {
						return
					}
					in1 = im.insertInto(&bpB, B.c, o1, true)
					newB := slices.Clone(im.sc.best)
					in2 = im.insertInto(&bpA, A.c, o2, true)
					newA := slices.Clone(im.sc.best)
					if !in1.ok || !in2.ok || !im.e.blocksHold(newA, A.lock) || !im.e.blocksHold(newB, B.lock) ||
						!im.e.commitLeadHolds(&A.start, newA, A.lock) || !im.e.commitLeadHolds(&B.start, newB, B.lock) {
						continue
					}
					A.seq, A.cost = newA, bpA.cost+in2.delta
					B.seq, B.cost = newB, bpB.cost+in1.delta
					A.renumber()
					B.renumber()
					im.moveOrder(o1, A.c, B.c)
					im.moveOrder(o2, B.c, A.c)
					break
				}
				if o1.courier != A.c {
					break
				}
			}
		}
	}
}

// moveOrder moves o from courier from to courier to in the engine copy the round plans on, and in its decision, as
// ApplyDecision will apply it: an order the round placed or re-assigned keeps its one move, now to its new courier;
// an order that was on from before the round gets a re-assignment, after the round's own moves. The effects are
// those applying the decision emits, in its order (re-assignments leave their routes before any order joins one).
func (im *improver) moveOrder(o *orderState, from, to *courierState) {
	e := im.e
	o.courier = to
	im.moved++
	if i, ok := im.moveOf[o]; ok {
		e.rec.Moves[i].To = to.spec.ID
		im.edited[o] = true
		for k := len(e.fx) - 1; k >= 0; k-- {
			if a, ok := e.fx[k].(OrderAssigned); ok && a.OrderID == o.spec.ID {
				a.CourierID = to.spec.ID
				e.fx[k] = a
				break
			}
		}
		return
	}
	im.moveOf[o] = len(e.rec.Moves)
	im.edited[o] = true
	e.rec.Moves = append(e.rec.Moves, Move{OrderID: o.spec.ID, From: from.spec.ID, To: to.spec.ID})
	at := slices.IndexFunc(e.fx, func(f Effect) bool {
		switch f.(type) {
		case OrderAssigned, OrderStatusChanged:
			return true
		}
		return false
	})
	if at < 0 {
		at = len(e.fx)
	}
	e.fx = slices.Insert(e.fx, at, Effect(OrderUnassigned{OrderID: o.spec.ID, CourierID: from.spec.ID, Reason: UnassignReassigned}))
	e.setStatus(o, StatusAssigned, "")
	e.emit(OrderAssigned{OrderID: o.spec.ID, CourierID: to.spec.ID, Previous: from.spec.ID})
}

// blocksHold checks a plan against Rules.NoDiversion: the work after the fixed prefix is a series of assignments,
// each its pick-ups in one block followed by the drop-offs of exactly those orders (of one store under
// Rules.SameStoreBundlesOnly), so that a courier never picks up new work while carrying an earlier assignment.
func (e *Engine) blocksHold(seq []seqStop, lock int) bool {
	if !e.cfg.Rules.NoDiversion {
		return true
	}
	open, dropping := 0, false
	var store *storeState
	for i := lock; i < len(seq); i++ {
		s := &seq[i]
		if s.kind == Dropoff {
			dropping = true
			open--
			if open < 0 {
				return false
			}
			continue
		}
		if dropping {
			if open > 0 {
				return false
			}
			dropping, store = false, nil
		}
		if e.cfg.Rules.SameStoreBundlesOnly && store != nil && s.o.store != store {
			return false
		}
		store = s.o.store
		open++
	}
	return true
}

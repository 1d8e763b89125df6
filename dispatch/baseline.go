package dispatch

import (
	"cmp"
	"slices"
)

// runNearestIdleRound is PolicyNearestIdle: oldest order first, each to the nearest idle courier that can take it.
// It shares the engine's state, events and feasibility rules with the optimising round, so a comparison of the two
// measures the policy and nothing else.
func (e *Engine) runNearestIdleRound() {
	r := e.beginRound()
	e.beginRoundTravel(func(o *orderState) bool { return o.status == StatusPending && !o.waiting() })
	defer e.endRoundTravel()
	for _, c := range e.courierList {
		e.retime(c)
	}
	r.pending = r.pending[:0]
	for _, o := range e.open {
		if o.status == StatusPending && !o.waiting() {
			r.pending = append(r.pending, o)
		}
	}
	// First come first served: by the customer's click, then by arrival at the engine.
	slices.SortStableFunc(r.pending, func(a, b *orderState) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.seq, b.seq))
	})
	stats := Stats{Candidates: len(r.pending)}
	one := make([]*orderState, 1)
	var near []neighbor
	for _, o := range r.pending {
		seen := 0
		idle := func(idx int32) bool {
			seen++
			c := e.courierList[idx]
			if len(c.stops) > 0 || !c.carries(o.region) || !c.hasSkills(o.skills) || c.spec.Capacity < o.size || o.declinedBy(idx) {
				return false
			}
			return !e.cfg.Rules.NoPickupAfterShiftEnd || c.shiftEnd == 0 || c.shiftEnd > e.now
		}
		near = e.courierIndex.Nearest(o.region, o.storeLoc, e.cfg.CandidateCouriers, e.cfg.ReachRadius, idle, near)
		one[0] = o
		placed, late := false, int64(never)
		for _, n := range near {
			stats.Pairs++
			c := e.courierList[n.ID]
			var bp basePlan
			e.makeBasePlan(c, &bp, nil, nil)
			fresh := e.plan.freshStops(&bp, one, one, c.shiftEnd, nil)
			if ins := e.plan.insert(&bp, fresh, r.scratch[0], false); !ins.ok {
				late = min(late, ins.failLate)
				continue
			}
			if e.addToRoute(c, one, one, nil) {
				placed = true
				stats.Assigned++
				break
			}
		}
		if placed {
			continue
		}
		switch {
		case seen == 0:
			e.tellUnplaced(o, UnplacedNoCourier, 0)
		case len(near) == 0:
			e.tellUnplaced(o, UnplacedCouriersFull, 0)
		case late != never:
			e.tellUnplaced(o, UnplacedWouldBeLate, late)
		default:
			e.tellUnplaced(o, UnplacedCouriersFull, 0)
		}
	}
	slices.SortFunc(r.touched, func(a, b *courierState) int { return int(a.idx - b.idx) })
	for _, c := range r.touched {
		e.routeChanged(c)
	}
	e.lastStats = stats
}

// tellUnplaced emits why a pending order is still waiting, once per change of reason.
func (e *Engine) tellUnplaced(o *orderState, why Unplaced, late int64) {
	if o.status == StatusPending && o.unplaced != why {
		o.unplaced = why
		u := OrderUnplaced{OrderID: o.spec.ID, Reason: why, LateBy: durationOf(late)}
		e.emit(u)
		if e.rec != nil {
			e.rec.Unplaced = append(e.rec.Unplaced, u)
		}
	}
}

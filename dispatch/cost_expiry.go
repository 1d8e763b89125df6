package dispatch

import (
	"cmp"
	"slices"
)

// This file prices the risk of losing an order for good (Config.ExpiryHorizon): leaving it for a later round when
// the couriers on shift that could still pick it up are about to be unable to.

// prepareExpiry lists the round's online couriers by shift end, latest first, for pickupSlack. It notes whether some
// online courier has no known shift end, or shift ends do not stop pick-ups (then no order expires).
func (e *Engine) prepareExpiry() {
	r := &e.round
	r.byShiftEnd, r.openShift = r.byShiftEnd[:0], false
	if e.cfg.ExpiryHorizon <= 0 {
		return
	}
	if !e.cfg.Rules.NoPickupAfterShiftEnd {
		// Shift ends do not stop pick-ups: no order expires.
		r.openShift = true
		return
	}
	for _, c := range e.courierList {
		switch {
		case !c.online:
		case c.shiftEnd == 0:
			r.openShift = true
		case c.shiftEnd > e.now:
			r.byShiftEnd = append(r.byShiftEnd, c)
		}
	}
	slices.SortFunc(r.byShiftEnd, func(a, b *courierState) int {
		return cmp.Or(cmp.Compare(b.shiftEnd, a.shiftEnd), cmp.Compare(a.idx, b.idx))
	})
}

// pickupSlack is how long o can still wait for a courier now on shift: the most, over those couriers, of the time
// between the earliest pick-up they could make at its store (from the end of their route, the food ready) and the
// latest they may make (their shift end, the order's own latest pick-up). It is never when some courier on shift
// has no known shift end, and negative when no courier on shift can pick it up any more.
func (e *Engine) pickupSlack(o *orderState) int64 {
	r := &e.round
	if r.openShift {
		return never
	}
	best := int64(-1)
	for _, c := range r.byShiftEnd {
		if c.shiftEnd-e.now <= best {
			break // no later courier can do better: the pick-up is at now at the earliest
		}
		if !c.carries(o.region) || !c.hasSkills(o.skills) || c.spec.Capacity < o.size {
			continue
		}
		from, at := c.loc, max(e.now, c.modeAt)
		if n := len(c.stops); n > 0 {
			last := &c.stops[n-1]
			from, at = last.location(), last.depart
		}
		hand := max(at+int64(e.plan.travel.TravelTime(from, o.storeLoc, c.spec.Vehicle))+e.plan.halfBefore[Pickup], o.ready)
		best = max(best, min(c.shiftEnd, o.pickupBy)-hand)
	}
	return best
}

// expiryPrice is what leaving orders unassigned this round costs beyond UnassignedCost for the risk of losing them:
// for each order that can wait less than ExpiryHorizon for a courier now on shift (pickupSlack), half
// UnassignedCost in proportion to how little.
func (e *Engine) expiryPrice(orders []*orderState) float64 {
	h := int64(e.cfg.ExpiryHorizon)
	if h <= 0 {
		return 0
	}
	price := 0.0
	for _, o := range orders {
		if left := e.pickupSlack(o); left < h {
			price += 0.5 * e.cfg.UnassignedCost * float64(h-max(left, 0)) / float64(h)
		}
	}
	return price
}

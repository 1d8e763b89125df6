package dispatch

import (
	"math"
	"time"
)

// Quote is the dispatcher's answer to "could you deliver this order, and when?", worked out as the next round
// would price the order alone, without placing it.
type Quote struct {
	// Feasible: some courier in reach could take the order now and keep its promise within Config.HardLateness.
	Feasible bool
	// CourierID is the courier whose route the order would join most cheaply (a hint: the round decides).
	CourierID string
	// PickupETA and DropoffETA are the planned hand-overs on that route.
	PickupETA, DropoffETA time.Time
	// Reasons say why the order is not feasible (empty when it is).
	Reasons []Unplaced
	// LateBy is how late the best attempt would have delivered it, past the promise (for UnplacedWouldBeLate).
	LateBy time.Duration
}

// Quote prices an order as if it were placed at now, changing nothing: the same validation as OrderPlaced, then
// the cheapest feasible insertion into the routes of the Config.CandidateCouriers nearest couriers that may take
// it. now earlier than the engine's clock is taken as the engine's clock. An invalid spec returns an *Error.
func (e *Engine) Quote(now time.Time, spec OrderSpec) (Quote, error) {
	// Plans are made at the quote's time, then the clocks go back: a quote must leave no trace, or replaying the
	// journal (which has no quotes) would not rebuild the same state.
	savedNow, savedPlanNow := e.now, e.plan.now
	if ns := now.UnixNano(); !now.IsZero() && ns > e.now {
		e.now, e.plan.now = ns, ns
	}
	defer func() { e.now, e.plan.now = savedNow, savedPlanNow }()

	if spec.ID == "" {
		spec.ID = "quote"
	}
	o, verr := e.newOrder(spec)
	if verr != nil {
		return Quote{}, verr
	}
	if len(e.round.scratch) == 0 {
		e.round.scratch = append(e.round.scratch, newScratch(e.cfg.MaxRouteStops))
	}
	sc := e.round.scratch[0]
	one := []*orderState{o}
	var best struct {
		ok     bool
		delta  float64
		c      *courierState
		pickup int64
		drop   int64
	}
	seen, eligible, failLate := 0, 0, int64(never)
	var saved []stopTimes
	e.courierIndex.Within(o.region, o.storeLoc, e.cfg.ReachRadius, func(n neighbor) bool {
		seen++
		c := e.courierList[n.ID]
		if !c.carries(o.region) || !c.hasSkills(o.skills) || c.spec.Capacity < o.size || len(c.stops)+2 > e.cfg.MaxRouteStops ||
			(e.cfg.Rules.NoPickupAfterShiftEnd && c.shiftEnd != 0 && c.shiftEnd <= e.now) {
			return seen < 8*e.cfg.CandidateCouriers
		}
		eligible++
		// makeBasePlan re-times the route in place; put the times back afterwards.
		saved = saved[:0]
		for i := range c.stops {
			saved = append(saved, c.stops[i].stopTimes)
		}
		var bp basePlan
		e.makeBasePlan(c, &bp, nil, nil)
		for i := range c.stops {
			c.stops[i].stopTimes = saved[i]
		}
		fresh := e.plan.freshStops(&bp, one, one, c.shiftEnd, nil)
		ins := e.plan.insert(&bp, fresh, sc, true)
		if !ins.ok {
			failLate = min(failLate, ins.failLate)
		} else if !best.ok || ins.delta < best.delta {
			times := make([]stopTimes, len(sc.best))
			pick := make([]int64, bp.slots+1)
			copy(pick, bp.pick)
			start := bp.start
			if _, _, ok := e.plan.eval(&start, sc.best, pick, times, math.Inf(1)); ok {
				best.ok, best.delta, best.c = true, ins.delta, c
				for i, s := range sc.best {
					if s.o == o && s.kind == Pickup {
						best.pickup = times[i].hand
					} else if s.o == o {
						best.drop = times[i].hand
					}
				}
			}
		}
		return eligible < e.cfg.CandidateCouriers && seen < 8*e.cfg.CandidateCouriers
	})
	if best.ok {
		return Quote{Feasible: true, CourierID: best.c.spec.ID, PickupETA: toTime(best.pickup), DropoffETA: toTime(best.drop)}, nil
	}
	q := Quote{}
	switch {
	case seen == 0:
		q.Reasons = []Unplaced{UnplacedNoCourier}
	case eligible == 0 || failLate == never:
		q.Reasons = []Unplaced{UnplacedCouriersFull}
	default:
		q.Reasons = []Unplaced{UnplacedWouldBeLate}
		q.LateBy = durationOf(failLate)
	}
	return q, nil
}

package dispatch

import (
	"math"
	"time"

	"github.com/o2o-dispatch/dispatchd/geo"
)

type neighbor = geo.Neighbor[int32]

func durationOf(ns int64) time.Duration {
	if ns <= 0 || ns == never {
		return 0
	}
	return time.Duration(ns)
}

// courierStart returns where a courier's plan starts and the first position at which stops may be inserted.
func (e *Engine) courierStart(c *courierState) (cursor, int) {
	cur := cursor{loc: c.loc, hand: e.now, load: c.load, capacity: c.spec.Capacity, profile: c.spec.Vehicle,
		minSlack: never, failLate: never}
	if len(c.stops) == 0 {
		// A courier that has just handed an order over leaves once the second half of that service is spent.
		cur.hand = max(e.now, c.modeAt)
		return cur, 0
	}
	first := &c.stops[0]
	switch c.mode {
	case modeMoving:
		// On its way to the first stop since the later of its last position report and the moment it set off; it
		// cannot get there before now.
		cur.hand = max(c.locAt, c.modeAt)
		cur.floor = e.now
	case modeArrived:
		cur.loc, cur.hand = first.location(), c.modeAt
	case modeContinuing:
		cur.loc, cur.hand = first.location(), c.modeAt
		cur.visit, cur.kind = true, first.kind
	}
	lock := 1
	if e.cfg.Rules.NoDiversion {
		lock = len(c.stops)
	}
	return cur, lock
}

// makeBasePlan prices c's route as it stands, writes the planned times into c.stops, and fills bp with the limits a
// new plan must keep: orders already on the route may not end up later than the hard limit or than planned now,
// whichever is later. seqArena and pickArena, when not nil, provide the memory (the round's arenas).
func (e *Engine) makeBasePlan(c *courierState, bp *basePlan, seqArena *[]seqStop, pickArena *[]int64) {
	start, lock := e.courierStart(c)
	n := len(c.stops)
	var seq []seqStop
	var pick []int64
	if seqArena != nil {
		at := len(*seqArena)
		*seqArena = append(*seqArena, make([]seqStop, n)...)
		seq = (*seqArena)[at : at+n : at+n]
		pat := len(*pickArena)
		*pickArena = append(*pickArena, make([]int64, n)...)
		pick = (*pickArena)[pat : pat+n : pat+n]
	} else {
		seq = make([]seqStop, n)
		pick = make([]int64, n)
	}
	slots := 0
	for i := range c.stops {
		s := &c.stops[i]
		slot := int8(-1)
		for j := 0; j < i; j++ {
			if seq[j].o == s.o {
				slot = seq[j].slot
			}
		}
		if slot < 0 {
			slot = int8(slots)
			pick[slot] = s.o.pickedUpAt
			slots++
		}
		seq[i] = seqStop{o: s.o, kind: s.kind, slot: slot, limit: never, rideLimit: never}
	}
	bp.c, bp.start, bp.lock, bp.seq, bp.pick, bp.slots = c, start, lock, seq, pick[:slots], slots

	// Time the route with no limits (it is what it is), then derive the limits from it.
	timing := start
	timing.capacity = math.MaxInt32
	times := make([]stopTimes, n)
	scratchPick := make([]int64, slots)
	copy(scratchPick, bp.pick)
	bp.cost, _, _ = e.plan.eval(&timing, seq, scratchPick, times, math.Inf(1))
	for i := range seq {
		s := &seq[i]
		c.stops[i].stopTimes = times[i]
		hand := times[i].hand
		if s.kind == Dropoff {
			s.limit = max(s.o.dropLimit(e.cfg.HardLateness), hand)
			s.rideLimit = max(int64(e.cfg.MaxRide), hand-scratchPick[s.slot])
		} else {
			limit := s.o.pickupBy
			if e.cfg.Rules.NoPickupAfterShiftEnd && c.shiftEnd != 0 {
				limit = min(limit, c.shiftEnd)
			}
			if limit != never {
				s.limit = max(limit, hand)
			}
		}
	}
}

// basePlanOf returns the round's base plan of c, making it on first use in the round.
func (e *Engine) basePlanOf(c *courierState) *basePlan {
	r := &e.round
	bp := &r.plans[c.idx]
	if r.planStamp[c.idx] != r.stamp {
		r.planStamp[c.idx] = r.stamp
		e.makeBasePlan(c, bp, &r.seqArena, &r.pickArena)
	}
	return bp
}

// retime refreshes the planned times of c's route.
func (e *Engine) retime(c *courierState) {
	if len(c.stops) == 0 {
		return
	}
	var bp basePlan
	e.makeBasePlan(c, &bp, nil, nil)
}

// removalGain is what an order's stops cost on a route: the route's cost minus its cost without them.
func (e *Engine) removalGain(bp *basePlan, o *orderState) float64 {
	sc := e.round.scratch
	if len(sc) == 0 {
		e.round.scratch = append(e.round.scratch, newScratch(e.cfg.MaxRouteStops))
		sc = e.round.scratch
	}
	rest := sc[0].trial[:0]
	for _, s := range bp.seq {
		if s.o != o {
			rest = append(rest, s)
		}
	}
	sc[0].trial = rest
	start := bp.start
	if len(bp.seq) > 0 && bp.seq[0].o == o {
		// Without its first stop the courier is no longer bound to arrive there; it sets off from where it is.
		start.floor = 0
	}
	pick := append(sc[0].pick[:0], bp.pick...)
	without, _, ok := e.plan.eval(&start, rest, pick, nil, math.Inf(1))
	if !ok {
		return 0
	}
	return max(bp.cost-without, 0)
}

// pruneFinished forgets orders that finished more than FinishedRetention ago.
func (e *Engine) pruneFinished() {
	cut := e.now - int64(e.cfg.FinishedRetention)
	n := 0
	for n < len(e.finished) && e.finished[n].finishedAt <= cut {
		delete(e.orders, e.finished[n].spec.ID)
		n++
	}
	if n > 0 {
		e.finished = append(e.finished[:0], e.finished[n:]...)
	}
}

// compactOpen drops final orders from the open list once they are a noticeable share of it.
func (e *Engine) compactOpen() {
	if e.openDead == 0 || e.openDead < len(e.open)/8 {
		return
	}
	keep := e.open[:0]
	for _, o := range e.open {
		if !o.status.Final() {
			keep = append(keep, o)
		}
	}
	clear(e.open[len(keep):])
	e.open = keep
	e.openDead = 0
}

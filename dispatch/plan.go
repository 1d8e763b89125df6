package dispatch

import (
	"math"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// This file prices and times routes. Every function here is pure: it reads orders and the configuration and writes
// only into the buffers it is given, so a round can price many (bundle, courier) pairs on several goroutines.

const never = math.MaxInt64

// seqStop is a stop as the planner sees it: the order, and the limits this plan must respect at this stop.
type seqStop struct {
	o    *orderState
	kind StopKind
	// fresh marks stops of orders being added by this plan (their promise and ride limits are hard; orders already
	// on the route are only held to not getting worse than the hard limits or than they already were).
	fresh bool
	// slot indexes the plan's pick-up time table (ride-time checks).
	slot int8
	// limit is the latest allowed hand-over; rideLimit the longest allowed pick-up to drop-off (drop-offs only).
	limit, rideLimit int64
}

func (s *seqStop) location() orb.Point {
	if s.kind == Pickup {
		return s.o.storeLoc
	}
	return s.o.dropLoc
}

// cursor is the state of a courier part-way through a plan. The zero cursor is not valid; see courierStart.
type cursor struct {
	loc orb.Point
	// visit: the courier is at loc in the middle of a visit of kind `kind` whose last hand-over was at hand. When
	// false, the courier is free to leave loc at hand (the start of a plan).
	visit bool
	kind  StopKind
	hand  int64
	// floor is the earliest arrival at the first stop (a courier already heading there cannot arrive before now).
	floor    int64
	load     int
	capacity int
	profile  geo.Profile
	cost     float64
	// minSlack is the least (promise - drop-off) over fresh drop-offs so far; failLate how late the fresh drop-off
	// that broke the hard limit would have been.
	minSlack int64
	failLate int64
}

// stopTimes are the planned times of one stop.
type stopTimes struct{ arrive, hand, depart int64 }

// planner holds what pricing needs besides the route: configuration, travel model and the round's clock.
type planner struct {
	cfg    *Config
	travel geo.TravelModel
	now    int64
	// half service before and after the hand-over, by stop kind.
	halfBefore, halfAfter [2]int64
	// weights per nanosecond
	durW, delW, lateW float64
}

func newPlanner(cfg *Config, travel geo.TravelModel) planner {
	p := planner{cfg: cfg, travel: travel}
	p.halfBefore[Pickup] = int64(cfg.PickupService) / 2
	p.halfAfter[Pickup] = int64(cfg.PickupService) - p.halfBefore[Pickup]
	p.halfBefore[Dropoff] = int64(cfg.DropoffService) / 2
	p.halfAfter[Dropoff] = int64(cfg.DropoffService) - p.halfBefore[Dropoff]
	p.durW = cfg.DurationWeight / 1e9
	p.delW = cfg.DeliveryWeight / 1e9
	p.lateW = cfg.LateWeight / 1e9
	return p
}

// step moves the cursor through one stop, recording the pick-up time in pick and the stop's times in out (when not
// nil). It returns false when the stop breaks capacity or a limit; the cursor is then unusable.
func (p *planner) step(c *cursor, s *seqStop, pick []int64, out *stopTimes) bool {
	o := s.o
	loc := s.location()
	var arrive, hand int64
	if c.visit && s.kind == c.kind && loc == c.loc {
		// Same place, same kind, right after: one visit, the service is already being spent.
		arrive, hand = c.hand, c.hand
	} else {
		leave := c.hand
		if c.visit {
			leave += p.halfAfter[c.kind]
		}
		arrive = leave + int64(p.travel.TravelTime(c.loc, loc, c.profile))
		if arrive < c.floor {
			arrive = c.floor
		}
		hand = arrive + p.halfBefore[s.kind]
	}
	c.floor = 0
	if s.kind == Pickup {
		if hand < o.ready {
			hand = o.ready
		}
		if hand > s.limit {
			return false
		}
		c.load += o.size
		if c.load > c.capacity {
			return false
		}
		pick[s.slot] = hand
	} else {
		late := hand - o.deliverBy
		if hand > s.limit {
			if s.fresh {
				c.failLate = late
			}
			return false
		}
		if hand-pick[s.slot] > s.rideLimit {
			return false
		}
		c.load -= o.size
		c.cost += p.delW * float64(hand-p.now)
		if late > 0 {
			c.cost += p.cfg.LateFixed + p.lateW*float64(late)
		}
		if s.fresh && -late < c.minSlack {
			c.minSlack = -late
		}
	}
	if out != nil {
		out.arrive, out.hand = arrive, hand
		out.depart = hand + p.halfAfter[s.kind]
	}
	c.loc, c.kind, c.hand, c.visit = loc, s.kind, hand, true
	return true
}

// bound is a lower bound of the cost of any plan that continues from c: the costs so far plus the courier's time
// until the last hand-over (costs only grow along a plan).
func (p *planner) bound(c *cursor) float64 {
	return c.cost + p.durW*float64(c.hand-p.now)
}

// finish adds the courier time of the whole plan: from now until it leaves its last stop.
func (p *planner) finish(c *cursor) float64 {
	end := p.now
	if c.visit {
		end = c.hand + p.halfAfter[c.kind]
	}
	return c.cost + p.durW*float64(end-p.now)
}

// eval prices seq from start. It stops early (returning ok=false) when the plan breaks a limit or its cost reaches
// cutoff. times, when not nil, receives each stop's times (len(times) >= len(seq)); the fixups for visits that span
// several stops (a stop's departure is the next stop's hand-over when they form one visit) are applied.
func (p *planner) eval(start *cursor, seq []seqStop, pick []int64, times []stopTimes, cutoff float64) (cost float64, end cursor, ok bool) {
	c := *start
	for i := range seq {
		var out *stopTimes
		if times != nil {
			out = &times[i]
		}
		prevVisit, prevKind, prevLoc := c.visit, c.kind, c.loc
		if !p.step(&c, &seq[i], pick, out) {
			return 0, c, false
		}
		if out != nil && i > 0 && prevVisit && prevKind == seq[i].kind && prevLoc == c.loc {
			times[i-1].depart = times[i-1].hand
		}
		if p.bound(&c) >= cutoff {
			return 0, c, false
		}
	}
	cost = p.finish(&c)
	return cost, c, cost < cutoff
}

// pickupWait is how long a courier following seq from start waits at stores for orders to be ready, over the
// pick-ups from position from on: each pick-up's hand-over minus the earliest it could be were its order ready
// (the arrival and half the service, or the previous hand-over of the same visit). A plan that breaks a limit
// counts the waits up to there.
func (p *planner) pickupWait(start *cursor, seq []seqStop, from int, pick []int64) int64 {
	c := *start
	wait := int64(0)
	for i := range seq {
		s := &seq[i]
		sameVisit := c.visit && c.kind == s.kind && c.loc == s.location()
		var t stopTimes
		if !p.step(&c, s, pick, &t) {
			break
		}
		if i >= from && s.kind == Pickup {
			earliest := t.arrive
			if !sameVisit {
				earliest += p.halfBefore[Pickup]
			}
			wait += t.hand - earliest
		}
	}
	return wait
}

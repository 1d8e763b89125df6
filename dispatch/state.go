package dispatch

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Internal state. Times are int64 nanoseconds since the Unix epoch (UTC) so that the planner's inner loops do plain
// integer arithmetic; they become time.Time only at the edges (events in, effects and reads out).

type storeState struct {
	Store
	idx int32
	// open counts orders of this store that are not final; a store with open orders cannot be removed.
	open int
	// paused: an operator paused dispatch for the store (StorePaused); rounds leave its pending orders.
	paused bool
}

// courierMode says where the courier stands with respect to the first stop of its route.
type courierMode uint8

const (
	// modeMoving: on the way to stops[0] (or idle, when the route is empty), having left its last position at
	// modeAt; after a hand-over modeAt is a moment ahead, when the second half of the service is spent.
	modeMoving courierMode = iota
	// modeArrived: at the place of stops[0] since modeAt, service not yet spent.
	modeArrived
	// modeContinuing: mid-visit at the place of stops[0]; the last hand-over of this visit was at modeAt.
	modeContinuing
)

type courierState struct {
	spec   CourierSpec
	idx    int32
	skills uint64
	online bool
	loc    orb.Point
	locAt  int64
	// shiftEnd is 0 when unknown.
	shiftEnd int64
	mode     courierMode
	modeAt   int64
	load     int
	version  uint64
	stops    []stop
}

// stop is a route stop with its last planned times.
type stop struct {
	kind StopKind
	o    *orderState
	stopTimes
}

type orderState struct {
	spec  OrderSpec
	seq   uint64
	store *storeState
	// region is its store's region when it was placed (a store with open orders keeps its region).
	region string
	// copies of the spec in the planner's units
	storeLoc, dropLoc         orb.Point
	created, ready, deliverBy int64
	// pickupBy is the latest pick-up (never when the store does not close first).
	pickupBy int64
	size     int
	skills   uint64

	status   OrderStatus
	courier  *courierState
	accepted bool
	// locked: an operator locked the order onto its courier; rounds do not move it.
	locked bool
	// declined lists the couriers (by index) that declined the order; they are never offered it again.
	declined   []int32
	pickedUpAt int64
	finishedAt int64
	timeline   []StatusChange
	// soloDur and soloHand are bundle building's working figures: the order's ideal trip alone (duration in
	// seconds, drop-off time).
	soloDur  float64
	soloHand int64
	// unplaced is the last reason told for not placing the order (emitted again only when it changes).
	unplaced Unplaced
}

func (o *orderState) declinedBy(c int32) bool {
	for _, d := range o.declined {
		if d == c {
			return true
		}
	}
	return false
}

// pickupLimit is a spec's PickupBy in the planner's units: never when zero.
// dropLimit is the latest drop-off a plan may take the order on for: its promise plus hard, or never when the
// customer accepts a late delivery.
func (o *orderState) dropLimit(hard time.Duration) int64 {
	if o.spec.AcceptLate {
		return never
	}
	return satAdd(o.deliverBy, int64(hard))
}

func pickupLimit(t time.Time) int64 {
	if t.IsZero() {
		return never
	}
	return t.UnixNano()
}

func toTime(ns int64) time.Time {
	if ns == 0 || ns == never {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// routeOf builds the public Route of a courier.
func (c *courierState) route() Route {
	r := Route{CourierID: c.spec.ID, Version: c.version, Stops: make([]Stop, len(c.stops))}
	for i, s := range c.stops {
		r.Stops[i] = Stop{
			Kind:      s.kind,
			OrderID:   s.o.spec.ID,
			StoreID:   s.o.store.ID,
			Location:  s.location(),
			Arrive:    toTime(s.arrive),
			Handover:  toTime(s.hand),
			Depart:    toTime(s.depart),
			DeliverBy: toTime(s.o.deliverBy),
		}
	}
	return r
}

func (s *stop) location() orb.Point {
	if s.kind == Pickup {
		return s.o.storeLoc
	}
	return s.o.dropLoc
}

// stopIndex returns the position of the order's stop of the given kind in the route, or -1.
func (c *courierState) stopIndex(o *orderState, kind StopKind) int {
	for i := range c.stops {
		if c.stops[i].o == o && c.stops[i].kind == kind {
			return i
		}
	}
	return -1
}

func (c *courierState) hasSkills(mask uint64) bool { return c.skills&mask == mask }

// Validation helpers shared by the event handlers.

var idLimit = 128

func checkID(field, id string) *Error {
	if id == "" {
		return invalid(field, "%s is required", field)
	}
	if len(id) > idLimit {
		return invalid(field, "%s is longer than %d bytes", field, idLimit)
	}
	return nil
}

func checkPoint(space geo.Space, field string, p orb.Point) *Error {
	if err := space.Validate(p); err != nil {
		return invalid(field, "%s: %v", field, err)
	}
	return nil
}

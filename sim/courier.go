package sim

import (
	"math"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// The simulated world: couriers that follow the routes the engine gives them, at the travel model's speed, spending
// the service times at stores and doors and waiting at a store until an order is ready. The engine only plans; what
// actually happens is decided here and reported back to it as events, exactly as couriers' phones report to the
// daemon.

type phase uint8

const (
	// phaseIdle: standing at pos with nothing to do (or waiting to go off shift).
	phaseIdle phase = iota
	// phaseTravelling: left pos at departAt for target, arriving at arriveAt.
	phaseTravelling
	// phaseAtStop: at pos for a visit of visitKind since arrivedAt; the hand-over is at handAt, or, once handed,
	// the courier leaves at departAt.
	phaseAtStop
)

type courier struct {
	sim    *simulation
	idx    int
	shift  *Shift
	online bool
	onAt   int64
	route  dispatch.Route
	// token is bumped whenever a scheduled step becomes stale.
	token uint64

	phase    phase
	pos      orb.Point
	place    Place
	departAt int64
	// travelling
	target      orb.Point
	targetPlace Place
	arriveAt    int64
	// legMetres is the length of the leg under way (on the roads, with a road map).
	legMetres float64
	// at a stop
	visitKind dispatch.StopKind
	arrivedAt int64
	handAt    int64
	handed    bool

	// accounting
	delivered, visits int
	driving, service  int64
	routed, routedAt  int64
	metres            float64
	moves             []Move
	finishedAt        int64
}

func (c *courier) id() string { return c.shift.Courier.ID }

func (c *courier) schedule(at int64) {
	c.token++
	c.sim.push(at, evCourier, c.idx, c.token)
}

func (c *courier) halves(k dispatch.StopKind) (before, after int64) {
	d := int64(c.sim.cfg.PickupService)
	if k == dispatch.Dropoff {
		d = int64(c.sim.cfg.DropoffService)
	}
	return d / 2, d - d/2
}

func placeOf(st dispatch.Stop) Place {
	if st.Kind == dispatch.Pickup {
		return Place{Kind: PlaceStore, ID: st.StoreID}
	}
	return Place{Kind: PlaceDropoff, ID: st.OrderID}
}

// position is where a travelling courier is at t.
func (c *courier) position(t int64) orb.Point {
	if c.phase != phaseTravelling || c.arriveAt <= c.departAt {
		return c.pos
	}
	return lerp(c.pos, c.target, float64(t-c.departAt)/float64(c.arriveAt-c.departAt))
}

// setRoute takes a new route from the engine and changes course if its first stop moved.
func (c *courier) setRoute(r dispatch.Route) {
	s := c.sim
	wasBusy := len(c.route.Stops) > 0
	c.route = r
	busy := len(r.Stops) > 0
	if busy != wasBusy {
		if busy {
			s.busy++
			c.routedAt = s.now
		} else {
			s.busy--
			c.routed += s.now - c.routedAt
		}
	}
	switch c.phase {
	case phaseIdle:
		if busy {
			c.travel()
		}
	case phaseTravelling:
		if !busy || r.Stops[0].Location != c.target {
			c.stopHere()
			if busy {
				c.travel()
			}
		}
	case phaseAtStop:
		if c.handed {
			return // leaving at departAt anyway; the departure looks at the route then
		}
		if !busy || r.Stops[0].Location != c.pos || r.Stops[0].Kind != c.visitKind {
			// The order it came for is gone (cancelled, moved, courier off shift): leave for the next stop.
			c.phase = phaseIdle
			c.token++
			if busy {
				c.travel()
			}
			return
		}
		c.planHandover()
	}
}

// stopHere ends a leg part-way: the courier is where it has got to.
func (c *courier) stopHere() {
	s := c.sim
	here := c.position(s.now)
	if n := len(c.moves); n > 0 {
		c.moves[n-1].ToAt = here
	}
	if c.arriveAt > c.departAt && s.now > c.departAt {
		c.metres += c.legMetres * min(1, float64(s.now-c.departAt)/float64(c.arriveAt-c.departAt))
	}
	c.driving += s.now - c.departAt
	c.pos = here
	c.place = Place{Kind: PlaceRoad}
	c.phase = phaseIdle
	c.token++
}

// travel sets off for the first stop of the route now (or when a service in progress is over).
func (c *courier) travel() {
	s := c.sim
	first := c.route.Stops[0]
	c.phase = phaseTravelling
	c.departAt = max(s.now, c.departAt)
	c.target, c.targetPlace = first.Location, placeOf(first)
	c.arriveAt = c.departAt + int64(s.sc.Travel.TravelTime(c.pos, c.target, c.shift.Courier.Vehicle))
	c.legMetres = s.legMetres(c.pos, c.target, c.shift.Courier.Vehicle)
	c.moves = append(c.moves, Move{Depart: time.Unix(0, c.departAt).UTC(), From: c.place, To: c.targetPlace,
		Arrive: time.Unix(0, c.arriveAt).UTC(), FromAt: c.pos, ToAt: c.target})
	c.schedule(c.arriveAt)
}

// visit returns the leading stops of the route that one visit at pos serves: same kind, same place.
func (c *courier) visit() []dispatch.Stop {
	st := c.route.Stops
	n := 0
	for n < len(st) && st[n].Kind == c.visitKind && st[n].Location == c.pos {
		n++
	}
	return st[:n]
}

// planHandover (re)schedules the hand-over of the current visit: half the service after arrival, and at a store not
// before every order of the visit is ready.
func (c *courier) planHandover() {
	before, _ := c.halves(c.visitKind)
	at := c.arrivedAt + before
	if c.visitKind == dispatch.Pickup {
		for _, st := range c.visit() {
			if o := c.sim.orderBy[st.OrderID]; ns(o.spec.Ready) > at {
				at = ns(o.spec.Ready)
			}
		}
	}
	// A visit re-planned part-way (an order of it moved elsewhere) hands over now at the earliest.
	c.handAt = max(at, c.sim.now)
	c.schedule(c.handAt)
}

// step is the courier's next scheduled moment: arriving, handing over, or leaving.
func (c *courier) step() error {
	s := c.sim
	switch {
	case c.phase == phaseTravelling:
		c.metres += c.legMetres
		c.driving += s.now - c.departAt
		c.pos, c.place = c.target, c.targetPlace
		c.phase, c.handed = phaseAtStop, false
		c.visitKind, c.arrivedAt = c.route.Stops[0].Kind, s.now
		c.planHandover()
		return s.apply(dispatch.CourierArrived{CourierID: c.id(), OrderID: c.route.Stops[0].OrderID})
	case c.phase == phaseAtStop && !c.handed:
		return c.handover()
	case c.phase == phaseAtStop:
		return c.depart()
	}
	return nil
}

func (c *courier) handover() error {
	s := c.sim
	stops := append([]dispatch.Stop(nil), c.visit()...)
	before, after := c.halves(c.visitKind)
	c.handed = true
	c.departAt = s.now + after
	c.service += before + after
	c.schedule(c.departAt)
	if c.visitKind == dispatch.Pickup {
		c.visits++
		p := Pickup{At: time.Unix(0, s.now).UTC(), CourierID: c.id(), StoreID: stops[0].StoreID}
		var decided int64
		for _, st := range stops {
			o := s.orderBy[st.OrderID]
			o.pickedUp, o.courier, o.status = s.now, c.id(), dispatch.StatusPickedUp
			o.bundle = len(s.pickups)
			decided = max(decided, o.lastAssigned)
			s.waiting--
			s.finish(o, true)
			p.Orders = append(p.Orders, st.OrderID)
			if err := s.apply(dispatch.OrderPickedUp{CourierID: c.id(), OrderID: st.OrderID}); err != nil {
				return err
			}
		}
		p.Decided = time.Unix(0, decided).UTC()
		s.pickups = append(s.pickups, p)
		return nil
	}
	for _, st := range stops {
		o := s.orderBy[st.OrderID]
		o.delivered, o.status = s.now, dispatch.StatusDelivered
		c.delivered++
		if err := s.apply(dispatch.OrderDelivered{CourierID: c.id(), OrderID: st.OrderID}); err != nil {
			return err
		}
	}
	return nil
}

func (c *courier) depart() error {
	s := c.sim
	if len(c.route.Stops) == 0 {
		c.phase = phaseIdle
		if !c.online {
			c.finishedAt = s.now
		}
		return nil
	}
	if first := c.route.Stops[0]; first.Location == c.pos && first.Kind == c.visitKind {
		// More work of the same kind at the same place arrived while the courier was still here: serve it as a
		// new visit without moving.
		// The courier is still at the counter or the door: the first half of the service is as good as spent.
		before, _ := c.halves(c.visitKind)
		c.handed, c.arrivedAt = false, s.now-before
		c.planHandover()
		return nil
	}
	c.travel()
	return nil
}

// legMetres is how far a leg goes: on the roads when the travel model knows them (geo.TableModel), else the
// straight line. A leg cut short counts the share of it ridden.
func (s *simulation) legMetres(from, to orb.Point, p geo.Profile) float64 {
	if tm, ok := s.sc.Travel.(geo.TableModel); ok {
		if d, m, err := tm.Table([]orb.Point{from}, []orb.Point{to}, p); err == nil && d[0] >= 0 && !math.IsInf(m[0], 0) {
			return m[0]
		}
	}
	return s.sc.Space.Distance(from, to)
}

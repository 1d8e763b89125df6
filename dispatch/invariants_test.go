package dispatch

import (
	"fmt"
)

// checkInvariants verifies, on the engine's whole state, what must hold after every event:
// each order on at most one route and in the right status for it; pick-up before drop-off on the same courier;
// capacity never exceeded along a route; orders on board only on their courier's route; a route holds only orders
// of its courier's region; no pick-up planned before the order is ready; the courier's load equals what it
// carries.
func checkInvariants(e *Engine) error {
	seen := make(map[*orderState]*courierState)
	carried := make(map[*courierState]int)
	for _, o := range e.open {
		if o.status == StatusPickedUp {
			carried[o.courier] += o.size
		}
	}
	for _, c := range e.courierList {
		load := carried[c]
		if load != c.load {
			return fmt.Errorf("courier %s: load %d, but carries %d units", c.spec.ID, c.load, load)
		}
		picked := make(map[*orderState]bool)
		for i, s := range c.stops {
			o := s.o
			if prev, ok := seen[o]; ok && prev != c {
				return fmt.Errorf("order %s on the routes of %s and %s", o.spec.ID, prev.spec.ID, c.spec.ID)
			}
			seen[o] = c
			if o.courier != c {
				return fmt.Errorf("order %s on the route of %s but held by %v", o.spec.ID, c.spec.ID, o.courier)
			}
			if o.region != c.spec.Region || o.region != o.store.Region {
				return fmt.Errorf("order %s of region %q (store %s in %q) on the route of %s of region %q", o.spec.ID, o.region, o.store.ID, o.store.Region, c.spec.ID, c.spec.Region)
			}
			switch s.kind {
			case Pickup:
				if o.status != StatusAssigned {
					return fmt.Errorf("order %s: pickup stop on %s while %s", o.spec.ID, c.spec.ID, o.status)
				}
				if picked[o] {
					return fmt.Errorf("order %s: two pickups on %s", o.spec.ID, c.spec.ID)
				}
				picked[o] = true
				if s.hand < o.ready {
					return fmt.Errorf("order %s: pickup planned at %v before ready %v", o.spec.ID, toTime(s.hand), toTime(o.ready))
				}
				if c.stopIndex(o, Dropoff) < i {
					return fmt.Errorf("order %s: dropoff before pickup on %s", o.spec.ID, c.spec.ID)
				}
				load += o.size
			case Dropoff:
				if o.status == StatusAssigned && !picked[o] {
					return fmt.Errorf("order %s: dropoff without an earlier pickup on %s", o.spec.ID, c.spec.ID)
				}
				if o.status != StatusAssigned && o.status != StatusPickedUp {
					return fmt.Errorf("order %s: dropoff stop on %s while %s", o.spec.ID, c.spec.ID, o.status)
				}
				load -= o.size
			}
			if load > c.spec.Capacity && s.kind == Pickup {
				return fmt.Errorf("courier %s: load %d over capacity %d at stop %d", c.spec.ID, load, c.spec.Capacity, i)
			}
			if i > 0 && s.arrive < c.stops[i-1].hand {
				return fmt.Errorf("courier %s: stop %d planned before the previous hand-over", c.spec.ID, i)
			}
		}
		if load != 0 {
			return fmt.Errorf("courier %s: route does not end empty (%d units left)", c.spec.ID, load)
		}
	}
	for _, o := range e.open {
		if o.status.Final() {
			continue
		}
		c, onRoute := seen[o]
		switch o.status {
		case StatusPending:
			if onRoute || o.courier != nil {
				return fmt.Errorf("pending order %s is on a route", o.spec.ID)
			}
		case StatusAssigned, StatusPickedUp:
			if !onRoute || o.courier != c {
				return fmt.Errorf("%s order %s is on no route", o.status, o.spec.ID)
			}
		}
	}
	for id, o := range e.orders {
		if o.spec.ID != id {
			return fmt.Errorf("order map key %s holds %s", id, o.spec.ID)
		}
		if o.status.Final() {
			if _, onRoute := seen[o]; onRoute {
				return fmt.Errorf("%s order %s still on a route", o.status, id)
			}
		}
	}
	return nil
}

package dispatch

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Store is a place that prepares orders for pick-up: a restaurant, a convenience store, a front warehouse.
type Store struct {
	ID       string
	Name     string
	Location orb.Point
	// Region is the region the store belongs to (ValidRegion; empty means DefaultRegion). Its orders belong to
	// it: only couriers of the same region carry them.
	Region string
}

// CourierSpec is what an operator registers about a courier; it survives going on and off shift.
type CourierSpec struct {
	ID      string
	Name    string
	Vehicle geo.Profile
	// Capacity is how many carrying units the courier takes at once (an order's Size counts against it).
	Capacity int
	// Skills the courier has (for example "cold" for an insulated bag, "alcohol" for age checks).
	Skills []string
	// Region is the region the courier works in (ValidRegion; empty means DefaultRegion): it only ever carries
	// orders of stores of that region.
	Region string
}

// Courier is a courier as the engine sees it: the registration plus its live state.
type Courier struct {
	CourierSpec
	Online bool
	// Location is the last reported position, and LocationAt when it was reported.
	Location   orb.Point
	LocationAt time.Time
	// ShiftEnd is when the courier stops taking pick-ups (zero: no end known). Drop-offs are still allowed after it.
	ShiftEnd time.Time
	// Load is the number of units on board now.
	Load int
}

// OrderSpec is an order as an order service places it.
type OrderSpec struct {
	// ID is chosen by the caller (the daemon generates it), so that replaying the same events gives the same ids.
	ID      string
	StoreID string
	Dropoff orb.Point
	// Created is when the customer clicked; zero means the time of the OrderPlaced event.
	Created time.Time
	// Ready is when the store will hand the order over.
	Ready time.Time
	// DeliverBy is the promise to the customer.
	DeliverBy time.Time
	// PickupBy, when not zero, is the latest moment a courier may collect the order: the store closes then. The
	// planner never plans a pick-up after it.
	PickupBy time.Time
	// Size in carrying units; zero means 1.
	Size int
	// Skills a courier needs to carry this order.
	Skills []string
	// AcceptLate: the customer takes a delivery however late, so plans may hand it over past DeliverBy plus
	// Config.HardLateness (lateness is still priced by LateWeight and LateFixed). Config.MaxRide still applies.
	AcceptLate bool
}

// OrderStatus is the life-cycle state of an order.
type OrderStatus uint8

// Order statuses, in the API's names.
const (
	StatusPending OrderStatus = iota
	StatusAssigned
	StatusPickedUp
	StatusDelivered
	StatusCancelled
	StatusFailed
)

var statusNames = [...]string{"pending", "assigned", "picked_up", "delivered", "cancelled", "failed"}

func (s OrderStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// MarshalText encodes the status by its API name.
func (s OrderStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Final reports whether the order has left the dispatcher's hands for good.
func (s OrderStatus) Final() bool {
	return s == StatusDelivered || s == StatusCancelled || s == StatusFailed
}

// StatusChange is one entry of an order's timeline.
type StatusChange struct {
	Status OrderStatus
	At     time.Time
}

// Order is an order as the engine sees it.
type Order struct {
	OrderSpec
	Status OrderStatus
	// CourierID is the courier whose route holds the order (assigned or picked up), or who last held it.
	CourierID string
	// PickupETA and DropoffETA are the planned times from the courier's current route (zero when not planned).
	PickupETA, DropoffETA time.Time
	PickedUpAt            time.Time
	DeliveredAt           time.Time
	Timeline              []StatusChange
	// Locked: an operator locked the order onto its courier (OrderAssignedByOperator); rounds leave it there.
	Locked bool
}

// StopKind says whether a stop collects or hands over an order.
type StopKind uint8

// Stop kinds.
const (
	Pickup StopKind = iota
	Dropoff
)

func (k StopKind) String() string {
	if k == Pickup {
		return "pickup"
	}
	return "dropoff"
}

// MarshalText encodes the kind by its API name.
func (k StopKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Stop is one planned visit of a route: collecting one order at its store or handing it over at its drop-off.
// Consecutive stops at the same place (several orders of one store, several parcels to one door) form one
// visit: the service time is spent once.
type Stop struct {
	Kind     StopKind
	OrderID  string
	StoreID  string
	Location orb.Point
	// Arrive is the planned arrival at the place; Handover the planned moment the order changes hands (a pick-up
	// waits for the order to be ready); Depart when the courier leaves the place.
	Arrive, Handover, Depart time.Time
	DeliverBy                time.Time
}

// Route is a courier's plan. Version increases every time the sequence of stops changes, so that a courier app can
// tell a new plan from a repeated one.
type Route struct {
	CourierID string
	Version   uint64
	Stops     []Stop
}

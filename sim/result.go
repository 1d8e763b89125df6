package sim

import (
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Result is what happened in one simulated day under one policy: the raw record every KPI, CSV and solution file is
// computed from.
type Result struct {
	Scenario string
	Policy   string
	Start    time.Time
	Target   time.Duration
	// Rounds is the number of dispatch rounds run.
	Rounds   int
	Orders   []OrderRecord
	Couriers []CourierRecord
	// Pickups are the store visits in the order they happened; each collected one or more orders (a bundle).
	Pickups []Pickup
	// Samples is the state of the day at regular intervals.
	Samples []Sample
}

// OrderRecord is one order's story. Times not reached are zero.
type OrderRecord struct {
	ID, StoreID string
	// CourierID is the courier who picked it up (empty when it never was).
	CourierID                string
	Placed, Ready, DeliverBy time.Time
	// Assigned is the first time the engine put it on a route, LastAssigned the last (after re-assignments).
	Assigned, LastAssigned time.Time
	PickedUp, Delivered    time.Time
	Status                 dispatch.OrderStatus
	// Bundle indexes Result.Pickups: the store visit that collected it (-1 when never picked up).
	Bundle     int
	Reassigned int
}

// CourierRecord is one courier's day.
type CourierRecord struct {
	ID      string
	Vehicle string
	On, Off time.Time
	// Finished is when it went home: off shift with nothing left to deliver (zero if it never did within the run).
	Finished  time.Time
	Delivered int
	// Pickups counts store visits (bundles collected).
	Pickups int
	// Driving is time on the road, Service time spent at stores and doors (hand-over services), Routed time with
	// a non-empty route (driving, service and waiting at stores).
	Driving, Service, Routed time.Duration
	Metres                   float64
	Moves                    []Move
}

// Utilisation is the MDRP's courier utilisation: (driving + service) over the shift's length.
func (c *CourierRecord) Utilisation() float64 {
	return float64(c.Driving+c.Service) / float64(c.Off.Sub(c.On))
}

// IdleShare is the share of the shift with nothing on the route (time routed after the shift does not count).
func (c *CourierRecord) IdleShare() float64 {
	shift := c.Off.Sub(c.On)
	return 1 - float64(min(c.Routed, shift))/float64(shift)
}

// PlaceKind says what a Place is.
type PlaceKind uint8

// Place kinds.
const (
	// PlaceStart is the courier's location when its shift began.
	PlaceStart PlaceKind = iota
	PlaceStore
	// PlaceDropoff is an order's drop-off; the Place's ID is the order's.
	PlaceDropoff
	// PlaceRoad is wherever a courier was when its route changed under it mid-way.
	PlaceRoad
)

// Place names where a move starts or ends.
type Place struct {
	Kind PlaceKind
	ID   string
}

// Move is one leg a courier rode.
type Move struct {
	Depart, Arrive time.Time
	From, To       Place
}

// Pickup is one store visit: the orders handed over together.
type Pickup struct {
	At        time.Time
	CourierID string
	StoreID   string
	// Orders in the order they were handed over.
	Orders []string
	// Decided is when the last of these orders was assigned to this courier.
	Decided time.Time
}

// Sample is the state of the day at one moment.
type Sample struct {
	At time.Time
	// Waiting counts orders placed and not yet picked up.
	Waiting int
	// Busy counts couriers with stops on their route; Online couriers on shift.
	Busy, Online int
}

// orderTrack is the simulation's working record of an order.
type orderTrack struct {
	spec                   dispatch.OrderSpec
	status                 dispatch.OrderStatus
	courier                string
	assigned, lastAssigned int64
	pickedUp, delivered    int64
	bundle, reassigned     int
}

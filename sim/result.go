package sim

import (
	"time"

	"github.com/paulmach/orb"

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
	// Fulfil is the store side of the day, for scenarios with fulfilment (nil otherwise).
	Fulfil *FulfilResult
	// Geography is the map of the day.
	Geography Geography
}

// FulfilResult is what happened at the stores.
type FulfilResult struct {
	// Opening is the first time after the start of the day at which a store opens (zero: every store is always
	// open). Orders accepted while their store was closed are the overnight orders (OrderRecord.Overnight).
	Opening time.Time
	// End is when the last order was placed: the order window the normal backlog level is measured against.
	End    time.Time
	Stores []StoreRecord
	// StockOuts are the products that ran out at a store (available stock reached zero), in the order it happened.
	StockOuts []StockOut
	// Restocks counts the deliveries made.
	Restocks int
	// OvernightLeft counts the overnight orders a courier [0] or a customer [1] never took (still waiting at the end
	// of the run, or cancelled); when there are none, OvernightCleared is when the last of them was picked up or
	// collected.
	OvernightLeft    [2]int
	OvernightCleared [2]time.Time
}

// StoreRecord is one store's day.
type StoreRecord struct {
	ID, Kind string
	Pickers  int
	// Orders counts the orders it accepted for couriers, Collect those the customer collects.
	Orders, Collect int
	// Turned counts orders that named this store and that it could not serve.
	Turned int
	// PeakQueue is the most orders it had taken and not yet had ready (in preparation or waiting for a picker), at
	// PeakAt.
	PeakQueue int
	PeakAt    time.Time
	// PickWait is the total and the longest time its orders waited for a picker, from when they could have been
	// started (placed, or the opening when placed while closed) to when a picker started on them.
	PickWait, MaxPickWait time.Duration
}

// StockOut is a product that ran out at a store.
type StockOut struct {
	At           time.Time
	StoreID, SKU string
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

	// With fulfilment only. StoreID is then the store that served the order (empty when none could). Ready is
	// when the store had it ready, and DeliverBy the promise kept (a later slot when the first could not be).

	// Rejected is why no store could serve the order (the reason of the nearest store looked at); Reasons every
	// reason met. A rejected order never reaches the engine.
	Rejected string
	Reasons  []string
	// ByItems: the order named only its items and the network chose the store.
	ByItems bool
	// Items counts the units ordered.
	Items int
	// LaterSlot counts the slots the promise moved by (0: the first promise was kept).
	LaterSlot int
	// Overnight: the order was accepted while its store was closed, to be prepared after the opening.
	Overnight bool
	// PickWait is how long it waited for a picker, from when it could have been started (placed, or the opening)
	// to when a picker started on it.
	PickWait time.Duration
	// Missed: the store closed (at its PickupBy) before a courier picked it up, and cancelled it.
	Missed bool
	// Collect: the customer collects in store (pending, then ready_for_pickup at Ready, then collected at
	// Collected); it never enters the engine and Status stays pending.
	Collect   bool
	Collected time.Time
}

// Stage is the order's state at the end of the run in the API's words: the engine status of a courier order,
// or rejected, or for an order collected in store pending, ready_for_pickup or collected.
func (o *OrderRecord) Stage(end time.Time) string {
	switch {
	case o.Rejected != "":
		return "rejected"
	case !o.Collect:
		return o.Status.String()
	case !o.Collected.IsZero():
		return "collected"
	case !o.Ready.After(end):
		return "ready_for_pickup"
	}
	return "pending"
}

// Done is when the order left the store: picked up by a courier or collected (zero: not yet).
func (o *OrderRecord) Done() time.Time {
	if o.Collect {
		return o.Collected
	}
	return o.PickedUp
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

// Move is one leg a courier rode: between two places, from one point to another (a leg cut short by a new route
// ends where the courier had got to, on the straight line between the two points).
type Move struct {
	Depart, Arrive time.Time
	From, To       Place
	FromAt, ToAt   orb.Point
}

// Track is the way one courier rode over the day, for the report's map: each move's path on the roads when the run
// had a road map, else the straight line between its ends.
type Track struct {
	CourierID string
	Legs      []orb.LineString
}

// Geography is what the report's map draws: the places of the day and the tracks of its busiest couriers.
type Geography struct {
	// Geographic: points are lon/lat (else planar metres).
	Geographic bool
	// Roads: the tracks follow the roads of a map.
	Roads    bool
	Stores   []orb.Point
	Dropoffs []orb.Point
	Tracks   []Track
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
	// With fulfilment: Collecting counts orders accepted for collection in store and not yet collected (Waiting
	// plus Collecting is the backlog); Overnight the orders of the backlog accepted while their store was closed;
	// Overdue the orders of the backlog waiting for a courier past their promise; Preparing the orders accepted and
	// not yet ready.
	Collecting, Overnight, Overdue, Preparing int
}

// Backlog is the orders accepted and not yet picked up or collected.
func (s *Sample) Backlog() int { return s.Waiting + s.Collecting }

// orderTrack is the simulation's working record of an order.
type orderTrack struct {
	spec                   dispatch.OrderSpec
	status                 dispatch.OrderStatus
	courier                string
	assigned, lastAssigned int64
	pickedUp, delivered    int64
	bundle, reassigned     int

	idx int
	// With fulfilment.
	setup     *OrderSetup
	store     int // index of the serving store; -1 when none
	rejected  string
	reasons   []string
	laterSlot int
	overnight bool
	pickWait  time.Duration
	collected int64
	missed    bool
	// live: accepted and not yet picked up, collected, cancelled or failed.
	live bool
}

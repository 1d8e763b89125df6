package dispatch

import (
	"time"

	"github.com/paulmach/orb"
)

// Event is something that happened, given to Engine.Apply. Events are plain data so that a journal can record them
// and replay them into a new engine.
type Event interface {
	// EventName is the event's stable name, for journals and logs.
	EventName() string
}

// StoreUpserted registers a store or replaces its details. A new location moves the pick-ups of the store's open
// orders: every route holding one is re-timed and emitted (RouteChanged), a version up.
type StoreUpserted struct{ Store Store }

// StoreRemoved removes a store. A store with open orders cannot be removed.
type StoreRemoved struct{ StoreID string }

// CourierRegistered registers a courier or replaces its registration (vehicle, capacity, skills).
type CourierRegistered struct{ Courier CourierSpec }

// CourierOnline puts a courier on shift at a location. ShiftEnd may be zero (no known end).
type CourierOnline struct {
	CourierID string
	Location  orb.Point
	ShiftEnd  time.Time
}

// CourierOffline takes a courier off shift: orders on board stay on its route until delivered, orders not yet
// picked up go back to the pool, and nothing new is assigned.
type CourierOffline struct{ CourierID string }

// CourierMoved reports a courier's position. At is when the position was measured (zero: the time of Apply); a
// report older than the one the engine has is ignored.
type CourierMoved struct {
	CourierID string
	Location  orb.Point
	At        time.Time
}

// OrderPlaced adds an order to the pool.
type OrderPlaced struct{ Order OrderSpec }

// OrderCancelled cancels an order that has not been picked up.
type OrderCancelled struct {
	OrderID string
	Reason  string
}

// CourierAccepted records that a courier accepted an assigned order; the dispatcher no longer moves it elsewhere.
type CourierAccepted struct{ CourierID, OrderID string }

// CourierDeclined returns an assigned order to the pool; it is never offered to that courier again.
type CourierDeclined struct {
	CourierID, OrderID string
	Reason             string
}

// CourierArrived says the courier has reached the place of its next stop for the order (store or door).
type CourierArrived struct{ CourierID, OrderID string }

// OrderPickedUp says the courier has collected the order.
type OrderPickedUp struct{ CourierID, OrderID string }

// OrderDelivered says the courier handed the order over.
type OrderDelivered struct{ CourierID, OrderID string }

// OrderFailed says the courier could not deliver a picked-up order (nobody home, refused).
type OrderFailed struct {
	CourierID, OrderID string
	Reason             string
}

// DispatchTick runs a dispatch round: planned on a copy of the engine (Engine.Planner) and its decision applied at
// once (Engine.ApplyDecision), as a driver that plans elsewhere does in two steps.
type DispatchTick struct{}

// EventName implements Event.
func (StoreUpserted) EventName() string { return "store_upserted" }

// EventName implements Event.
func (StoreRemoved) EventName() string { return "store_removed" }

// EventName implements Event.
func (CourierRegistered) EventName() string { return "courier_registered" }

// EventName implements Event.
func (CourierOnline) EventName() string { return "courier_online" }

// EventName implements Event.
func (CourierOffline) EventName() string { return "courier_offline" }

// EventName implements Event.
func (CourierMoved) EventName() string { return "courier_moved" }

// EventName implements Event.
func (OrderPlaced) EventName() string { return "order_placed" }

// EventName implements Event.
func (OrderCancelled) EventName() string { return "order_cancelled" }

// EventName implements Event.
func (CourierAccepted) EventName() string { return "courier_accepted" }

// EventName implements Event.
func (CourierDeclined) EventName() string { return "courier_declined" }

// EventName implements Event.
func (CourierArrived) EventName() string { return "courier_arrived" }

// EventName implements Event.
func (OrderPickedUp) EventName() string { return "order_picked_up" }

// EventName implements Event.
func (OrderDelivered) EventName() string { return "order_delivered" }

// EventName implements Event.
func (OrderFailed) EventName() string { return "order_failed" }

// EventName implements Event.
func (DispatchTick) EventName() string { return "dispatch_tick" }

package dispatch

import "time"

// Effect is a consequence of an event that the outside world must hear about: a courier's new route, an order's new
// status, an order that could not be placed.
type Effect interface {
	// EffectName is the effect's stable name, for logs and event streams.
	EffectName() string
}

// RouteChanged carries a courier's new route (its Version increased). An empty route means "nothing to do".
type RouteChanged struct{ Route Route }

// OrderAssigned: the order is now on the courier's route. Previous is the courier that held it before, when the
// dispatcher moved it from one route to another.
type OrderAssigned struct {
	OrderID, CourierID string
	Previous           string
}

// UnassignReason says why an order left a courier's route before pick-up.
type UnassignReason string

// Reasons for OrderUnassigned.
const (
	UnassignDeclined   UnassignReason = "declined"
	UnassignOffline    UnassignReason = "courier_offline"
	UnassignReassigned UnassignReason = "reassigned"
	// UnassignOperator: an operator took the order off the route (OrderUnassignedByOperator).
	UnassignOperator UnassignReason = "operator"
)

// OrderUnassigned: the order left the courier's route before pick-up and is pending again (or, for Reassigned, is
// on another route: an OrderAssigned follows).
type OrderUnassigned struct {
	OrderID, CourierID string
	Reason             UnassignReason
}

// OrderStatusChanged reports every change of an order's status other than assignment: placed (pending), picked up,
// delivered, cancelled, failed.
type OrderStatusChanged struct {
	OrderID   string
	Status    OrderStatus
	CourierID string
	At        time.Time
	Reason    string
}

// Unplaced says why a pending order could not be placed on any route in a round.
type Unplaced string

// Reasons an order is not placed.
const (
	// UnplacedNoCourier: no online courier within reach of the store.
	UnplacedNoCourier Unplaced = "no_courier_in_reach"
	// UnplacedCouriersFull: couriers in reach, but none with room, the skills, or the shift left to take it.
	UnplacedCouriersFull Unplaced = "couriers_full"
	// UnplacedWouldBeLate: every courier in reach would deliver it later than the hard limit allows.
	UnplacedWouldBeLate Unplaced = "would_be_late"
	// UnplacedCouriersTaken: the couriers that could take it were given other work this round.
	UnplacedCouriersTaken Unplaced = "couriers_taken"
	// UnplacedBacklog: more orders were waiting than a round considers (Config.MaxRoundOrders), and more urgent
	// ones went first.
	UnplacedBacklog Unplaced = "backlog"
	// UnplacedStorePaused: an operator paused dispatch for the order's store (StorePaused).
	UnplacedStorePaused Unplaced = "store_paused"
)

// OrderUnplaced reports why a pending order stays unassigned after a round. It is emitted when the reason changes,
// not every round. LateBy is how late the best plan would have delivered it (for UnplacedWouldBeLate).
type OrderUnplaced struct {
	OrderID string
	Reason  Unplaced
	LateBy  time.Duration
}

// EffectName implements Effect.
func (RouteChanged) EffectName() string { return "route_changed" }

// EffectName implements Effect.
func (OrderAssigned) EffectName() string { return "order_assigned" }

// EffectName implements Effect.
func (OrderUnassigned) EffectName() string { return "order_unassigned" }

// EffectName implements Effect.
func (OrderStatusChanged) EffectName() string { return "order_status_changed" }

// EffectName implements Effect.
func (OrderUnplaced) EffectName() string { return "order_unplaced" }

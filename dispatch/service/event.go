package service

import "time"

// Order event types, as order services see them (GET /v1/events and webhooks).
const (
	EventCreated    = "order.created"
	EventAssigned   = "order.assigned"
	EventUnassigned = "order.unassigned"
	EventPickedUp   = "order.picked_up"
	EventDelivered  = "order.delivered"
	EventCancelled  = "order.cancelled"
	EventFailed     = "order.failed"
	EventETAChanged = "order.eta_changed"
	// In-store pick-up orders: the store has it ready; the customer collected it.
	EventReadyForPickup = "order.ready_for_pickup"
	EventCollected      = "order.collected"
	// Scheduled orders: placed into the scheduled book; its tentative plan (courier or drop-off time) changed; it
	// was handed to the live rounds.
	EventScheduled = "order.scheduled"
	EventPlanned   = "order.planned"
	EventReleased  = "order.released"
)

// EventTypes lists every order event type.
var EventTypes = []string{EventCreated, EventAssigned, EventUnassigned, EventPickedUp, EventDelivered, EventCancelled, EventFailed, EventETAChanged,
	EventScheduled, EventPlanned, EventReleased}

// OrderEvent is one change of an order that order services hear about. Ids increase by one with every event, in
// the order the changes happened; an event carries the order as it stood once the change that caused it was
// complete.
type OrderEvent struct {
	ID    uint64    `json:"id"`
	Type  string    `json:"type"`
	At    time.Time `json:"at"`
	Order Order     `json:"order"`
	// PreviousCourierID is the courier an order.assigned took the order from (the dispatcher moved it), or the one
	// an order.unassigned took it off.
	PreviousCourierID string `json:"previous_courier_id,omitempty"`
	Reason            string `json:"reason,omitempty"`
	// By is who caused the event when a person did (an operator's override, a cancellation): a key id or "admin".
	By string `json:"by,omitempty"`
}

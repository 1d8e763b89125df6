package service

import (
	"encoding/json"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

// Order is an order as the API shows it.
type Order struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
	Status     string `json:"status"`
	StoreID    string `json:"store_id"`
	// Region is the region of the order's store when it was placed: only that region's couriers carry it.
	Region    string `json:"region"`
	CourierID string `json:"courier_id,omitempty"`
	// Dropoff is where a courier takes the order; nil for an in-store pick-up placed without one.
	Dropoff   *Location       `json:"dropoff,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	ReadyAt   time.Time       `json:"ready_at"`
	DeliverBy time.Time       `json:"deliver_by"`
	Size      int             `json:"size"`
	Skills    []string        `json:"skills,omitempty"`
	Customer  json.RawMessage `json:"customer,omitempty"`
	// Fulfilment is "delivery" (a courier takes it to Dropoff) or "pickup" (the customer collects it in store).
	Fulfilment string `json:"fulfilment"`
	// Items are the goods reserved in the store's stock for this order.
	Items []fulfil.Item `json:"items,omitempty"`
	// PickupBy is when the store closes after the order is ready: no courier is planned to collect it later.
	PickupBy *time.Time `json:"pickup_by,omitempty"`
	ETA      *ETA       `json:"eta,omitempty"`
	// Late: delivered after deliver_by, or (still open) planned or already past it. Set by LateAt when read.
	Late        bool       `json:"late"`
	PickedUpAt  *time.Time `json:"picked_up_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// ReadyForPickupAt and CollectedAt: when the store had an in-store pick-up order ready, and when the
	// customer collected it.
	ReadyForPickupAt *time.Time `json:"ready_for_pickup_at,omitempty"`
	CollectedAt      *time.Time `json:"collected_at,omitempty"`
	// WaitingReason says why a pending order is not on a route yet (the last round's reason).
	WaitingReason string          `json:"waiting_reason,omitempty"`
	Timeline      []TimelineEntry `json:"timeline"`
	// Locked: an operator locked the order onto its courier; rounds leave it there.
	Locked bool `json:"locked,omitempty"`
	// DeliverAfter opens the delivery window: no drop-off before it. Schedule is what the scheduled book planned
	// for an order placed ahead (StatusScheduled until released to the live rounds).
	DeliverAfter *time.Time `json:"deliver_after,omitempty"`
	Schedule     *Schedule  `json:"schedule,omitempty"`
}

// Schedule is what an order's view shows of the scheduled book.
type Schedule struct {
	// CourierID is the tentative courier of the last plan (empty: not planned yet, or no courier could take it).
	CourierID string `json:"courier_id,omitempty"`
	// ReleaseAt is when the order goes (or went) to the live rounds.
	ReleaseAt time.Time `json:"release_at"`
	// PlannedAt is when the book was last planned with the order; ReleasedAt when it went to the live rounds.
	PlannedAt  *time.Time `json:"planned_at,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	// Unplanned says why the last plan found no courier for the order ("fleet_full", "time_windows", ...).
	Unplanned string `json:"unplanned,omitempty"`
}

// ETA is an order's planned hand-overs on its courier's current route.
type ETA struct {
	PickupAt  *time.Time `json:"pickup_at,omitempty"`
	DropoffAt *time.Time `json:"dropoff_at,omitempty"`
	// Leg is the courier's ride to the drop-off on the road map, once the drop-off is its next stop.
	Leg *Leg `json:"leg,omitempty"`
}

// TimelineEntry is one change of an order's status.
type TimelineEntry struct {
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	CourierID string    `json:"courier_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	// By is who made the change when a person did (an operator's override, a cancellation): a key id or "admin".
	By string `json:"by,omitempty"`
}

// Location is a WGS 84 point as the API writes it.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Point converts to the engine's lon/lat point.
func (l Location) Point() orb.Point { return orb.Point{l.Lon, l.Lat} }

// Fulfilment modes and the statuses of in-store pick-up orders (pending, then ready_for_pickup, then collected;
// or cancelled). Delivery orders take the engine's statuses.
const (
	FulfilDelivery       = "delivery"
	FulfilPickup         = "pickup"
	StatusReadyForPickup = "ready_for_pickup"
	StatusCollected      = "collected"
)

// StatusScheduled is the status of an order in the scheduled book: placed with a delivery window far enough
// ahead, before its release to the live rounds.
const StatusScheduled = "scheduled"

// Final reports whether the order has left the dispatcher's hands.
func (o *Order) Final() bool {
	switch o.Status {
	case "delivered", "cancelled", "failed", StatusCollected:
		return true
	}
	return false
}

// LateAt returns a copy with Late set as of now: delivered after its promise; or not yet delivered and either
// planned after its promise or already past it. Cancelled and failed orders are late if they were past the promise
// when they ended.
func (o *Order) LateAt(now time.Time) Order {
	cp := *o
	switch {
	case o.DeliveredAt != nil:
		cp.Late = o.DeliveredAt.After(o.DeliverBy)
	case o.ReadyForPickupAt != nil:
		// In-store pick-up keeps its promise when the order is ready for the customer by deliver_by.
		cp.Late = o.ReadyForPickupAt.After(o.DeliverBy)
	case o.Final():
		end := o.Timeline[len(o.Timeline)-1].At
		cp.Late = end.After(o.DeliverBy)
	default:
		cp.Late = now.After(o.DeliverBy) || (o.ETA != nil && o.ETA.DropoffAt != nil && o.ETA.DropoffAt.After(o.DeliverBy))
	}
	return cp
}

// OrderInput is an order (or a quote request) as an order service sends it.
type OrderInput struct {
	ExternalID     string
	StoreID        string
	Dropoff        Location
	PrepSeconds    *int
	ReadyAt        *time.Time
	PromiseSeconds *int
	DeliverBy      *time.Time
	Size           int
	Skills         []string
	Customer       json.RawMessage
	// Items to reserve in the store's stock; without StoreID the daemon chooses the store from them, among the
	// stores of one region: Region when given, else the drop-off's region (see the daemon's PlaceOrder).
	Items []fulfil.Item
	// Region (CheckRegion, optional) is the region whose stores an order by items chooses among; with StoreID it
	// must be that store's region.
	Region string
	// Fulfilment is FulfilDelivery (also when empty) or FulfilPickup (the customer collects in store).
	Fulfilment string
	// NoDropoff says the request gave no drop-off (allowed for an in-store pick-up that names its store).
	NoDropoff bool
	// AcceptLate: the caller takes a delivery later than the promise allows. Without it, an order no vehicle could
	// deliver by the promise plus the engine's hard lateness is refused (see Daemon.PlaceOrder).
	AcceptLate bool
	// DeliverAfter opens a delivery window: no drop-off before it. An order whose window starts more than the
	// dispatcher's schedule horizon ahead is scheduled (StatusScheduled).
	DeliverAfter *time.Time
}

// MaxCustomerBytes bounds an order's customer object as sent (its JSON, spacing included). It is kept with every
// order, in the journal and in memory, and shown to couriers: names, a phone and a note fit many times over, while
// a client that puts a basket or a photo there is told so rather than slowing every checkpoint.
const MaxCustomerBytes = 2048

// OrderFilter selects orders for a listing. Zero fields do not filter.
type OrderFilter struct {
	Status    string
	StoreID   string
	CourierID string
	Region    string
	// CreatedSince (inclusive) and CreatedUntil (exclusive) bound the creation time.
	CreatedSince, CreatedUntil time.Time
	// After is the cursor of the last order of the previous page: the listing goes on after it.
	After OrderCursor
	// Limit is the page size (1 to 500).
	Limit int
}

// OrderCursor marks a place in a listing: orders are listed by creation time, then id.
type OrderCursor struct {
	CreatedAt time.Time
	ID        string
}

// Quote is the answer to POST /v1/quotes.
type Quote struct {
	Feasible bool `json:"feasible"`
	// StoreID is the store that would serve the order (chosen from its items when the request names none).
	StoreID string `json:"store_id"`
	// Region is that store's region (absent when no store can serve the order).
	Region     string `json:"region,omitempty"`
	Fulfilment string `json:"fulfilment"`
	// ReadyAt is when the store would have the order ready (its queue and opening hours counted).
	ReadyAt    *time.Time `json:"ready_at,omitempty"`
	PickupETA  *time.Time `json:"pickup_eta,omitempty"`
	DropoffETA *time.Time `json:"dropoff_eta,omitempty"`
	DeliverBy  time.Time  `json:"deliver_by"`
	Reasons    []string   `json:"reasons"`
	// Candidates says why each store looked at cannot serve the order (when no store can).
	Candidates []dispatch.StoreRejection `json:"candidates,omitempty"`
	// Reach gives the figures when no vehicle could deliver the order in time (POST /v1/orders would say 422).
	Reach *Reach `json:"reach,omitempty"`
}

// Reach is dispatch.Reach as the API shows it: the best any courier could do for an order, against the latest
// drop-off the engine takes an order on for.
type Reach struct {
	// Vehicle is the fastest vehicle profile from the store to the door; RideSeconds its ride, hand-over to
	// hand-over.
	Vehicle     string `json:"vehicle"`
	RideSeconds int64  `json:"ride_seconds"`
	// ReadyAt plus the ride is EarliestDropoff; DeliverBy plus HardLatenessSeconds is LatestDropoff.
	ReadyAt             time.Time `json:"ready_at"`
	EarliestDropoff     time.Time `json:"earliest_dropoff"`
	DeliverBy           time.Time `json:"deliver_by"`
	HardLatenessSeconds int64     `json:"hard_lateness_seconds"`
	LatestDropoff       time.Time `json:"latest_dropoff"`
}

// NewReach shows r (nil: nil).
func NewReach(r *dispatch.Reach) *Reach {
	if r == nil {
		return nil
	}
	return &Reach{Vehicle: r.Vehicle.String(), RideSeconds: int64(r.Ride.Round(time.Second) / time.Second),
		ReadyAt: r.Ready, EarliestDropoff: r.EarliestDropoff, DeliverBy: r.DeliverBy,
		HardLatenessSeconds: int64(r.LatestDropoff.Sub(r.DeliverBy) / time.Second), LatestDropoff: r.LatestDropoff}
}

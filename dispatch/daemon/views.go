package daemon

import (
	"encoding/json"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

// The views below are what the API shows. The loop never changes a view it has stored: it stores a new one, so
// that published snapshots (and checkpoints being written) can read them from any goroutine.

// Location is a WGS 84 point as the API writes it.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Point converts to the engine's lon/lat point.
func (l Location) Point() orb.Point { return orb.Point{l.Lon, l.Lat} }

func locationOf(p orb.Point) Location { return Location{Lat: p[1], Lon: p[0]} }

// ETA is an order's planned hand-overs on its courier's current route.
type ETA struct {
	PickupAt  *time.Time `json:"pickup_at,omitempty"`
	DropoffAt *time.Time `json:"dropoff_at,omitempty"`
	// Leg is the courier's ride to the drop-off on the road map, once the drop-off is its next stop.
	Leg *LegView `json:"leg,omitempty"`
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

// OrderView is an order as the API shows it.
type OrderView struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
	Status     string `json:"status"`
	StoreID    string `json:"store_id"`
	CourierID  string `json:"courier_id,omitempty"`
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
	// for an order placed ahead (see schedule.go).
	DeliverAfter *time.Time    `json:"deliver_after,omitempty"`
	Schedule     *ScheduleView `json:"schedule,omitempty"`
}

// Final reports whether the order has left the dispatcher's hands.
func (o *OrderView) Final() bool {
	switch o.Status {
	case "delivered", "cancelled", "failed", StatusCollected:
		return true
	}
	return false
}

// Fulfilment modes and the statuses of in-store pick-up orders (pending, then ready_for_pickup, then collected;
// or cancelled). Delivery orders take the engine's statuses.
const (
	FulfilDelivery       = "delivery"
	FulfilPickup         = "pickup"
	StatusReadyForPickup = "ready_for_pickup"
	StatusCollected      = "collected"
)

// orderStatuses lists every status an order view can have; byStatus counts by index in it. The first six are the
// engine's, in dispatch.OrderStatus order.
var orderStatuses = [...]string{"pending", "assigned", "picked_up", "delivered", "cancelled", "failed", StatusReadyForPickup, StatusCollected, StatusScheduled}

func statusIndex(name string) (int, bool) {
	for i, s := range orderStatuses {
		if s == name {
			return i, true
		}
	}
	return 0, false
}

// handedOver reports whether the goods have left the store (a courier picked them up, or the customer collected).
func (o *OrderView) handedOver() bool {
	return o.PickedUpAt != nil || o.CollectedAt != nil
}

// LateAt returns a copy with Late set as of now: delivered after its promise; or not yet delivered and either
// planned after its promise or already past it. Cancelled and failed orders are late if they were past the promise
// when they ended.
func (o *OrderView) LateAt(now time.Time) OrderView {
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

// StoreView is a store as the API shows it.
type StoreView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Location    Location `json:"location"`
	PrepSeconds int      `json:"prep_seconds"`
	// MaxActiveOrders is how many orders the store prepares at once (its pickers); more wait in its queue.
	MaxActiveOrders int `json:"max_active_orders,omitempty"`
	// Hours are the opening hours as {"mon": ["08:00-22:00"], …} in Timezone (absent: always open).
	Hours    json.RawMessage `json:"hours,omitempty"`
	Timezone string          `json:"timezone,omitempty"`
	// Inventory is the stock on hand, Reserved the part of it held for live orders: shown when one store is read
	// (GET /v1/stores/{id}), not in listings. In a store_put record, Inventory replaces the stock (nil keeps it).
	Inventory map[string]int `json:"inventory,omitempty"`
	Reserved  map[string]int `json:"reserved,omitempty"`
	// Preparing is how many orders the store is preparing (taken, not yet ready), shown with the inventory.
	Preparing    *int `json:"preparing,omitempty"`
	ActiveOrders int  `json:"active_orders"`
	// Paused: an operator paused dispatch for the store; its pending orders wait (reason store_paused).
	Paused    bool      `json:"paused,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Courier statuses as the API shows them.
const (
	CourierOffline          = "offline"
	CourierAwaitingLocation = "awaiting_location" // on shift, but no position known yet: not dispatchable
	CourierIdle             = "idle"
	CourierBusy             = "busy"
)

// CourierView is a courier as the API shows it.
type CourierView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Vehicle    string     `json:"vehicle"`
	Capacity   int        `json:"capacity"`
	Skills     []string   `json:"skills,omitempty"`
	Status     string     `json:"status"`
	Location   *Location  `json:"location,omitempty"`
	LocationAt *time.Time `json:"location_at,omitempty"`
	ShiftEnd   *time.Time `json:"shift_end,omitempty"`
	Load       int        `json:"load"`
	// RouteVersion is the version of the courier's current route (0: never had one).
	RouteVersion uint64    `json:"route_version"`
	RouteStops   int       `json:"route_stops"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// StopView is one stop of a courier's route.
type StopView struct {
	Kind      string    `json:"kind"`
	OrderID   string    `json:"order_id"`
	StoreID   string    `json:"store_id"`
	Location  Location  `json:"location"`
	ETA       time.Time `json:"eta"`
	DeliverBy time.Time `json:"deliver_by"`
	// Customer is the order's customer details, on drop-off stops only: the courier needs them at the door.
	Customer json.RawMessage `json:"customer,omitempty"`
	// Leg is the ride to this stop on the road map (none without a map).
	Leg *LegView `json:"leg,omitempty"`
}

// RouteView is a courier's route as the API and the stream show it.
type RouteView struct {
	CourierID string     `json:"courier_id"`
	Version   uint64     `json:"version"`
	Stops     []StopView `json:"stops"`
}

// APIKey is an order-service key. Only the SHA-256 of the key is kept.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      []byte     `json:"-"`
}

// QuoteView is the answer to POST /v1/quotes.
type QuoteView struct {
	Feasible bool `json:"feasible"`
	// StoreID is the store that would serve the order (chosen from its items when the request names none).
	StoreID    string `json:"store_id"`
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
	Reach *ReachView `json:"reach,omitempty"`
}

// ReachView is dispatch.Reach as the API shows it: the best any courier could do for an order, against the latest
// drop-off the engine takes an order on for.
type ReachView struct {
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

// NewReachView shows r (nil: nil).
func NewReachView(r *dispatch.Reach) *ReachView {
	if r == nil {
		return nil
	}
	return &ReachView{Vehicle: r.Vehicle.String(), RideSeconds: int64(r.Ride.Round(time.Second) / time.Second),
		ReadyAt: r.Ready, EarliestDropoff: r.EarliestDropoff, DeliverBy: r.DeliverBy,
		HardLatenessSeconds: int64(r.LatestDropoff.Sub(r.DeliverBy) / time.Second), LatestDropoff: r.LatestDropoff}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

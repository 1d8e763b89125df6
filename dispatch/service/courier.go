package service

import (
	"encoding/json"
	"time"
)

// Courier statuses as the API shows them.
const (
	CourierOffline          = "offline"
	CourierAwaitingLocation = "awaiting_location" // on shift, but no position known yet: not dispatchable
	CourierIdle             = "idle"
	CourierBusy             = "busy"
)

// Courier is a courier as the API shows it.
type Courier struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Region is the region the courier works in: it only carries orders of that region's stores.
	Region     string     `json:"region"`
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

// CourierInput is a courier as an admin registers it.
type CourierInput struct {
	ID   string
	Name string
	// Region (CheckRegion): empty keeps an existing courier's region, and puts a new one in the daemon's region
	// (DefaultRegion unless the daemon serves one region).
	Region   string
	Vehicle  string
	Capacity int
	Skills   []string
}

// Route is a courier's route as the API and the stream show it.
type Route struct {
	CourierID string `json:"courier_id"`
	Version   uint64 `json:"version"`
	Stops     []Stop `json:"stops"`
}

// Stop is one stop of a courier's route.
type Stop struct {
	Kind      string    `json:"kind"`
	OrderID   string    `json:"order_id"`
	StoreID   string    `json:"store_id"`
	Location  Location  `json:"location"`
	ETA       time.Time `json:"eta"`
	DeliverBy time.Time `json:"deliver_by"`
	// Customer is the order's customer details, on drop-off stops only: the courier needs them at the door.
	Customer json.RawMessage `json:"customer,omitempty"`
	// Leg is the ride to this stop on the road map (none without a map).
	Leg *Leg `json:"leg,omitempty"`
}

// Leg is how a courier rides to a stop on the road map: from the stop before it, or for the first stop from
// where the courier is.
type Leg struct {
	// Polyline is the road path in Google's encoded-polyline format at precision 5 (coordinates × 1e5, latitude
	// first), from the start's place on the road to the stop's.
	Polyline string `json:"polyline"`
	// Metres and Seconds are the length and the riding time of the path, as the dispatcher plans them.
	Metres  float64 `json:"metres"`
	Seconds float64 `json:"seconds"`
}

// LocationUpdate is one courier's position in a batch.
type LocationUpdate struct {
	CourierID string
	Location  Location
	At        time.Time
}

// MaxLocationBatch bounds a QueueLocations batch.
const MaxLocationBatch = 1000

// OffShiftResult is what taking a courier off shift did: its view, the orders that went back to the pool and
// those on board, which stay on its route until delivered (they cannot be handed to anyone else).
type OffShiftResult struct {
	Courier  *Courier `json:"courier"`
	Returned []string `json:"returned"`
	OnBoard  []string `json:"on_board"`
}

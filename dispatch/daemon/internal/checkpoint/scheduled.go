package checkpoint

import "time"

// Scheduled is an order of the scheduled book: placed, with its stock reserved, but kept out of the engine until
// its release. It holds what the release hands the engine and the book's tentative plan of it.
type Scheduled struct {
	OrderID      string    `json:"order_id"`
	StoreID      string    `json:"store_id"`
	Dropoff      Location  `json:"dropoff"`
	CreatedAt    time.Time `json:"created_at"`
	ReadyAt      time.Time `json:"ready_at"`
	PickupFrom   time.Time `json:"pickup_from,omitzero"`
	DeliverAfter time.Time `json:"deliver_after,omitzero"`
	DeliverBy    time.Time `json:"deliver_by"`
	PickupBy     time.Time `json:"pickup_by,omitzero"`
	Size         int       `json:"size"`
	Skills       []string  `json:"skills,omitempty"`
	AcceptLate   bool      `json:"accept_late,omitempty"`
	ReleaseAt    time.Time `json:"release_at"`
	// The tentative plan: courier, hand-over times, the stops' places in the courier's planned route.
	Courier    string    `json:"courier,omitempty"`
	PickupAt   time.Time `json:"pickup_at,omitzero"`
	DropoffAt  time.Time `json:"dropoff_at,omitzero"`
	PickupSeq  int       `json:"pickup_seq,omitempty"`
	DropoffSeq int       `json:"dropoff_seq,omitempty"`
	PlannedAt  time.Time `json:"planned_at,omitzero"`
	Unplanned  string    `json:"unplanned,omitempty"`
}

// OrderSchedule is what an order's view shows of the scheduled book: the tentative courier, the release and the
// last plan.
type OrderSchedule struct {
	CourierID  string     `json:"courier_id,omitempty"`
	ReleaseAt  time.Time  `json:"release_at"`
	PlannedAt  *time.Time `json:"planned_at,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	Unplanned  string     `json:"unplanned,omitempty"`
}

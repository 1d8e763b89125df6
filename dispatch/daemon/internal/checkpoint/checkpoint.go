// Package checkpoint is the daemon's checkpoint file format: a stream of JSON lines, one record per entity,
// written and read one record at a time, so that a checkpoint of tens of thousands of orders is never held whole
// in memory, neither as bytes nor twice as values.
//
// A checkpoint is
//
//	{"k":"header","header":{"version":2,"seq":...,"at":...,"counts":{...}}}
//	{"k":"engine","engine":{...}}             the engine's state without its stores, couriers and orders
//	{"k":"engine_store","engine_store":{...}} one per engine store, then engine couriers, then engine orders
//	{"k":"store","store":{...}}               one per store, then couriers, orders, keys, webhooks,
//	...                                       announced ETAs, idempotency keys and scheduled orders
//	{"k":"end","end":{"records":...,"xxhash":"..."}}
//
// one JSON value a line, kinds in that order. The trailer's xxhash (XXH64, hex) is over every line before it,
// each with its newline: a bit the disk flipped in a number would otherwise still parse, as a wrong state. The
// header's counts and the trailer's record count make a file cut at a line boundary an error too.
//
// The records are this package's own types, not the API's views: the file's layout changes only with Version.
package checkpoint

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Version is the layout this package writes and reads. Version 1 was a single JSON document of the API's views,
// read by the daemon's own reader for it.
const Version = 2

// Header opens a checkpoint: the state after journal record Seq, as of At.
type Header struct {
	Version int       `json:"version"`
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	// EventSeq is the id of the last order event.
	EventSeq uint64 `json:"event_seq"`
	Counts   Counts `json:"counts"`
}

// Counts is how many records of each kind follow the header.
type Counts struct {
	EngineStores   int `json:"engine_stores"`
	EngineCouriers int `json:"engine_couriers"`
	EngineOrders   int `json:"engine_orders"`
	Stores         int `json:"stores"`
	Couriers       int `json:"couriers"`
	Orders         int `json:"orders"`
	Keys           int `json:"keys"`
	Webhooks       int `json:"webhooks"`
	Announced      int `json:"announced"`
	Idem           int `json:"idem"`
	// Scheduled counts the scheduled orders' book entries (absent, zero, in checkpoints made before them).
	Scheduled int `json:"scheduled,omitempty"`
}

// Record is one line of a checkpoint: K names its kind, and the field of that name holds it (the others are nil).
type Record struct {
	K             string                 `json:"k"`
	Header        *Header                `json:"header,omitempty"`
	Engine        *dispatch.State        `json:"engine,omitempty"`
	EngineStore   *dispatch.SavedStore   `json:"engine_store,omitempty"`
	EngineCourier *dispatch.SavedCourier `json:"engine_courier,omitempty"`
	EngineOrder   *dispatch.SavedOrder   `json:"engine_order,omitempty"`
	Store         *Store                 `json:"store,omitempty"`
	Courier       *Courier               `json:"courier,omitempty"`
	Order         *Order                 `json:"order,omitempty"`
	Key           *Key                   `json:"key,omitempty"`
	Webhook       *Webhook               `json:"webhook,omitempty"`
	Announced     *Announced             `json:"announced,omitempty"`
	Idem          *Idem                  `json:"idem,omitempty"`
	Scheduled     *Scheduled             `json:"scheduled,omitempty"`
	End           *End                   `json:"end,omitempty"`
}

// The kinds of record, in the order a checkpoint holds them.
const (
	KindHeader        = "header"
	KindEngine        = "engine"
	KindEngineStore   = "engine_store"
	KindEngineCourier = "engine_courier"
	KindEngineOrder   = "engine_order"
	KindStore         = "store"
	KindCourier       = "courier"
	KindOrder         = "order"
	KindKey           = "key"
	KindWebhook       = "webhook"
	KindAnnounced     = "announced"
	KindIdem          = "idem"
	KindScheduled     = "scheduled"
	KindEnd           = "end"
)

var kindRank = map[string]int{KindHeader: 0, KindEngine: 1, KindEngineStore: 2, KindEngineCourier: 3, KindEngineOrder: 4,
	KindStore: 5, KindCourier: 6, KindOrder: 7, KindKey: 8, KindWebhook: 9, KindAnnounced: 10, KindIdem: 11, KindScheduled: 12, KindEnd: 13}

// entity is the record's own field, and whether it is set.
func (r *Record) entity() bool {
	switch r.K {
	case KindHeader:
		return r.Header != nil
	case KindEngine:
		return r.Engine != nil
	case KindEngineStore:
		return r.EngineStore != nil
	case KindEngineCourier:
		return r.EngineCourier != nil
	case KindEngineOrder:
		return r.EngineOrder != nil
	case KindStore:
		return r.Store != nil
	case KindCourier:
		return r.Courier != nil
	case KindOrder:
		return r.Order != nil && len(r.Order.Timeline) > 0
	case KindKey:
		return r.Key != nil
	case KindWebhook:
		return r.Webhook != nil
	case KindAnnounced:
		return r.Announced != nil
	case KindIdem:
		return r.Idem != nil
	case KindScheduled:
		return r.Scheduled != nil
	case KindEnd:
		return r.End != nil
	}
	return false
}

// End closes a checkpoint: how many records came before it (the header included) and their checksum.
type End struct {
	Records int    `json:"records"`
	XXHash  string `json:"xxhash"`
}

// Location is a point on the map.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Store is a store: its settings and stock on hand. Reservations and picking queues are not kept: they are the
// live orders' items and ready times, rebuilt from the orders.
type Store struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Region is the store's region; empty for the default region (and in checkpoints written before regions).
	Region          string          `json:"region,omitempty"`
	Location        Location        `json:"location"`
	PrepSeconds     int             `json:"prep_seconds"`
	MaxActiveOrders int             `json:"max_active_orders,omitempty"`
	Hours           json.RawMessage `json:"hours,omitempty"`
	Timezone        string          `json:"timezone,omitempty"`
	Stock           map[string]int  `json:"stock"`
	Reserved        map[string]int  `json:"reserved,omitempty"`
	Preparing       *int            `json:"preparing,omitempty"`
	ActiveOrders    int             `json:"active_orders"`
	// Paused: an operator paused dispatch for the store.
	Paused    bool      `json:"paused,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Courier is a courier: what the API shows of it and what only the daemon knows (token, shift, last position).
type Courier struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Region is the courier's region; empty for the default region (and in checkpoints written before regions).
	Region       string     `json:"region,omitempty"`
	Vehicle      string     `json:"vehicle"`
	Capacity     int        `json:"capacity"`
	Skills       []string   `json:"skills,omitempty"`
	Status       string     `json:"status"`
	Location     *Location  `json:"location,omitempty"`
	LocationAt   *time.Time `json:"location_at,omitempty"`
	ShiftEnd     *time.Time `json:"shift_end,omitempty"`
	Load         int        `json:"load"`
	RouteVersion uint64     `json:"route_version"`
	RouteStops   int        `json:"route_stops"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`

	TokenHash    []byte    `json:"token_hash"`
	OnShift      bool      `json:"on_shift"`
	InEngine     bool      `json:"in_engine"`
	LastLocation *Location `json:"last_location,omitempty"`
	LastLocAt    time.Time `json:"last_loc_at"`
	ShiftEndAt   time.Time `json:"shift_end_at"`
}

// Leg is the road path to a stop.
type Leg struct {
	Polyline string  `json:"polyline"`
	Metres   float64 `json:"metres"`
	Seconds  float64 `json:"seconds"`
}

// ETA is an order's planned pick-up and drop-off.
type ETA struct {
	PickupAt  *time.Time `json:"pickup_at,omitempty"`
	DropoffAt *time.Time `json:"dropoff_at,omitempty"`
	Leg       *Leg       `json:"leg,omitempty"`
}

// Step is a change of an order's status.
type Step struct {
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	CourierID string    `json:"courier_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	// By is who made the change when a person did: a key id or "admin".
	By string `json:"by,omitempty"`
}

// Item is a line of an order: a stock-keeping unit and a quantity.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Order is an order, open or finished, with its timeline (never empty).
type Order struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
	Status     string `json:"status"`
	StoreID    string `json:"store_id"`
	// Region is the order's region (its store's when placed); empty for the default region.
	Region           string          `json:"region,omitempty"`
	CourierID        string          `json:"courier_id,omitempty"`
	Dropoff          *Location       `json:"dropoff,omitempty"`
	CreatedAt        time.Time       `json:"created_at"`
	ReadyAt          time.Time       `json:"ready_at"`
	DeliverBy        time.Time       `json:"deliver_by"`
	Size             int             `json:"size"`
	Skills           []string        `json:"skills,omitempty"`
	Customer         json.RawMessage `json:"customer,omitempty"`
	Fulfilment       string          `json:"fulfilment"`
	Items            []Item          `json:"items,omitempty"`
	PickupBy         *time.Time      `json:"pickup_by,omitempty"`
	ETA              *ETA            `json:"eta,omitempty"`
	Late             bool            `json:"late"`
	PickedUpAt       *time.Time      `json:"picked_up_at,omitempty"`
	DeliveredAt      *time.Time      `json:"delivered_at,omitempty"`
	ReadyForPickupAt *time.Time      `json:"ready_for_pickup_at,omitempty"`
	CollectedAt      *time.Time      `json:"collected_at,omitempty"`
	WaitingReason    string          `json:"waiting_reason,omitempty"`
	// Locked: an operator locked the order onto its courier.
	Locked   bool   `json:"locked,omitempty"`
	Timeline []Step `json:"timeline"`
	// DeliverAfter and Schedule: an order with a delivery window, and what the scheduled book planned for it.
	DeliverAfter *time.Time     `json:"deliver_after,omitempty"`
	Schedule     *OrderSchedule `json:"schedule,omitempty"`
}

// Key is an API key, with the hash of its secret.
type Key struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      []byte     `json:"hash"`
}

// Webhook is a webhook's settings.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	Events    []string  `json:"events"`
	FromEvent uint64    `json:"from_event"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Delivered is the delivery cursor last journaled (webhook_cursors records).
	Delivered uint64 `json:"delivered,omitempty"`
}

// Announced is the drop-off ETA an order's service last heard of.
type Announced struct {
	OrderID string    `json:"order_id"`
	At      time.Time `json:"at"`
}

// Idem is the outcome kept for an idempotency key.
type Idem struct {
	Key     string    `json:"key"`
	Hash    []byte    `json:"hash"`
	Status  int       `json:"status"`
	Body    []byte    `json:"body"`
	At      time.Time `json:"at"`
	OrderID string    `json:"order_id"`
}

// Writer writes a checkpoint, one record at a time, through an encoding/json Encoder.
type Writer struct {
	bw      *bufio.Writer
	enc     *json.Encoder
	sum     *xxhash.Digest
	last    string
	records int
	err     error
}

// NewWriter starts a checkpoint on w with its header (Version is set). w gets the checkpoint in writes of size
// bytes (the buffer's), which lets it hand each to the disk.
func NewWriter(w io.Writer, size int, h Header) *Writer {
	cw := &Writer{sum: xxhash.New()}
	cw.bw = bufio.NewWriterSize(io.MultiWriter(w, cw.sum), size)
	cw.enc = json.NewEncoder(cw.bw)
	h.Version = Version
	cw.Write(&Record{K: KindHeader, Header: &h})
	return cw
}

// Write adds a record, whose kind may not come before the last one's. An error is kept and returned again by
// every later call and by Close.
func (w *Writer) Write(r *Record) error {
	if w.err != nil {
		return w.err
	}
	rank, ok := kindRank[r.K]
	switch {
	case !ok || r.K == KindEnd || !r.entity():
		w.err = fmt.Errorf("checkpoint: a record of kind %q without its %s", r.K, r.K)
	case w.last != "" && rank < kindRank[w.last]:
		w.err = fmt.Errorf("checkpoint: a record of kind %q after one of kind %q", r.K, w.last)
	}
	if w.err != nil {
		return w.err
	}
	w.last = r.K
	w.records++
	w.err = w.enc.Encode(r)
	return w.err
}

// Close writes the trailer and flushes; it does not close the writer under it.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.err = w.bw.Flush(); w.err != nil {
		return w.err
	}
	end := &End{Records: w.records, XXHash: fmt.Sprintf("%016x", w.sum.Sum64())}
	if w.err = w.enc.Encode(&Record{K: KindEnd, End: end}); w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

func (r *Reader) count(k string) {
	c := &r.seen
	switch k {
	case KindEngineStore:
		c.EngineStores++
	case KindEngineCourier:
		c.EngineCouriers++
	case KindEngineOrder:
		c.EngineOrders++
	case KindStore:
		c.Stores++
	case KindCourier:
		c.Couriers++
	case KindOrder:
		c.Orders++
	case KindKey:
		c.Keys++
	case KindWebhook:
		c.Webhooks++
	case KindAnnounced:
		c.Announced++
	case KindIdem:
		c.Idem++
	case KindScheduled:
		c.Scheduled++
	}
}

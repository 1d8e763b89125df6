package daemon

import (
	"encoding/json"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// A record is one accepted change, as the journal keeps it. Everything a replay needs is in it (the time, the
// server-chosen ids, token hashes), so that applying the same records in the same order rebuilds the same state:
// the live path and recovery run the very same apply.
type record struct {
	Type string    `json:"t"`
	At   time.Time `json:"at"`

	ID        string           `json:"id,omitempty"`
	Store     *storeRecord     `json:"store,omitempty"`
	Courier   *courierRecord   `json:"courier,omitempty"`
	Key       *keyRecord       `json:"key,omitempty"`
	Webhook   *webhookRecord   `json:"webhook,omitempty"`
	Order     *orderRecord     `json:"order,omitempty"`
	Shift     *shiftRecord     `json:"shift,omitempty"`
	Action    *actionRecord    `json:"action,omitempty"`
	Locations []locationRecord `json:"locations,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	Inventory *inventoryRecord `json:"inventory,omitempty"`
	Decision  *decisionRecord  `json:"decision,omitempty"`
	// By is who made the change (an operator's override, a cancellation): the principal's key id or "admin".
	By       string          `json:"by,omitempty"`
	Override *overrideRecord `json:"override,omitempty"`
	// Schedule is the scheduled book's plan or release (schedule.go).
	Schedule *scheduleRecord `json:"schedule,omitempty"`
	// Cursors are webhooks' delivery cursors, by webhook id (webhook_cursors).
	Cursors map[string]uint64 `json:"cursors,omitempty"`
}

// Record types.
const (
	recStorePut    = "store_put"
	recStoreDelete = "store_delete"
	recCourierPut  = "courier_put"
	recKeyCreate   = "key_create"
	recKeyRevoke   = "key_revoke"
	recOrderPlace  = "order_place"
	recOrderCancel = "order_cancel"
	recShift       = "shift"
	recAction      = "action"
	recLocations   = "locations"
	// recTick ran a dispatch round on replay: journals written before rounds were decisions hold them, and a
	// replay still runs them as rounds. The daemon writes recDecision instead.
	recTick = "tick"
	// recDecision is a dispatch round's decision as the loop applied it: what held of it (Decision).
	recDecision   = "decision"
	recWebhookPut = "webhook_put"
	recWebhookDel = "webhook_delete"
	// recInventory changes a store's stock on hand (ID: the store).
	recInventory = "inventory"
	// recStoreAction is a store's step in an in-store pick-up order: "ready" or "collected" (Action).
	recStoreAction = "store_action"
	// recWebhookCursors notes how far the owner delivered each webhook's events (Cursors): a node taking the
	// region over resumes after it.
	recWebhookCursors = "webhook_cursors"
)

// inventoryRecord is an admin's change of a store's stock: Set counts first, then Adjust moves.
type inventoryRecord struct {
	Set    map[string]int `json:"set,omitempty"`
	Adjust map[string]int `json:"adjust,omitempty"`
}

// check reports a record that lacks the part its type needs. The daemon never writes one, but recovery reads
// whatever the journal holds, and such a record must be refused like any other it cannot apply, not crash the
// daemon on every start.
func (r *record) check() error {
	var missing string
	switch {
	case r.Type == recStorePut && r.Store == nil:
		missing = "store"
	case r.Type == recCourierPut && r.Courier == nil:
		missing = "courier"
	case r.Type == recKeyCreate && r.Key == nil:
		missing = "key"
	case r.Type == recWebhookPut && r.Webhook == nil:
		missing = "webhook"
	case r.Type == recOrderPlace && r.Order == nil:
		missing = "order"
	case r.Type == recShift && r.Shift == nil:
		missing = "shift"
	case (r.Type == recAction || r.Type == recStoreAction) && r.Action == nil:
		missing = "action"
	case r.Type == recInventory && r.Inventory == nil:
		missing = "inventory"
	case r.Type == recDecision && r.Decision == nil:
		missing = "decision"
	case r.Type == recOverride && r.Override == nil:
		missing = "override"
	case (r.Type == recSchedulePlan || r.Type == recScheduleRelease) && r.Schedule == nil:
		missing = "schedule"
	case r.Type == recWebhookCursors && r.Cursors == nil:
		missing = "cursors"
	default:
		return nil
	}
	return errorf(dispatch.EInternal, "", "%s record without its %s", r.Type, missing)
}

// The records hold their own types, not the API's (records_convert.go converts): their fields and JSON names are
// the journal's format, which journals already written fix.

// latLon is a point on the map.
type latLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Point converts to the engine's lon/lat point.
func (l latLon) Point() orb.Point { return orb.Point{l.Lon, l.Lat} }

// storeRecord is a store as given (store_put): what the record's apply takes from it. Journals written before
// records had their own types hold the whole store view, whose other fields the apply never read.
type storeRecord struct {
	ID              string          `json:"id"`
	Name            string          `json:"name,omitempty"`
	Location        latLon          `json:"location"`
	PrepSeconds     int             `json:"prep_seconds"`
	MaxActiveOrders int             `json:"max_active_orders,omitempty"`
	Hours           json.RawMessage `json:"hours,omitempty"`
	Timezone        string          `json:"timezone,omitempty"`
	// Region is the store's region; empty for the default region (and in records written before regions).
	Region string `json:"region,omitempty"`
	// Inventory replaces the stock on hand (nil keeps it).
	Inventory map[string]int `json:"inventory,omitempty"`
}

// webhookRecord is a webhook as given (webhook_put). Its times and first event are the record's, set by the apply.
type webhookRecord struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events"`
}

type courierRecord struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Vehicle  string   `json:"vehicle"`
	Capacity int      `json:"capacity"`
	Skills   []string `json:"skills,omitempty"`
	// Region is the courier's region; empty for the default region (and in records written before regions).
	Region string `json:"region,omitempty"`
	// TokenHash replaces the courier's token when set (first registration, rotation).
	TokenHash []byte `json:"token_hash,omitempty"`
}

type keyRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Hash []byte `json:"hash"`
	// Role is the key's role; empty (every key made before roles could be chosen) is RoleOrders.
	Role string `json:"role,omitempty"`
}

type orderRecord struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id,omitempty"`
	StoreID    string          `json:"store_id"`
	Dropoff    latLon          `json:"dropoff"`
	CreatedAt  time.Time       `json:"created_at"`
	ReadyAt    time.Time       `json:"ready_at"`
	DeliverBy  time.Time       `json:"deliver_by"`
	Size       int             `json:"size"`
	Skills     []string        `json:"skills,omitempty"`
	Customer   json.RawMessage `json:"customer,omitempty"`
	// Items are reserved in the store's stock (normalized: merged by SKU, sorted). PickupBy is the store's closing
	// after ReadyAt (zero: none). Fulfilment is "delivery" (empty in records written before pick-up existed) or
	// "pickup" (the customer collects; no courier).
	Items      []fulfil.Item `json:"items,omitempty"`
	PickupBy   time.Time     `json:"pickup_by,omitzero"`
	Fulfilment string        `json:"fulfilment,omitempty"`
	// NoDropoff: an in-store pick-up placed without a drop-off (Dropoff is then the zero location, never shown).
	NoDropoff bool `json:"no_dropoff,omitempty"`
	// AcceptLate: the caller takes a delivery however late (dispatch.OrderSpec.AcceptLate).
	AcceptLate bool `json:"accept_late,omitempty"`
	// DeliverAfter opens the delivery window; PickupFrom is the earliest pick-up the engine is given, so that no
	// plan drops the order off before it; ReleaseAt, when set, puts the order in the scheduled book until then
	// (schedule.go).
	DeliverAfter time.Time `json:"deliver_after,omitzero"`
	PickupFrom   time.Time `json:"pickup_from,omitzero"`
	ReleaseAt    time.Time `json:"release_at,omitzero"`
	// The idempotency key under which it was placed: scope (the API key's id), key and the request's SHA-256.
	IdemScope string `json:"idem_scope,omitempty"`
	IdemKey   string `json:"idem_key,omitempty"`
	IdemHash  []byte `json:"idem_hash,omitempty"`
}

type shiftRecord struct {
	Courier  string     `json:"courier"`
	Online   bool       `json:"online"`
	Location *latLon    `json:"location,omitempty"`
	ShiftEnd *time.Time `json:"shift_end,omitempty"`
}

type actionRecord struct {
	Courier string `json:"courier,omitempty"`
	Store   string `json:"store,omitempty"` // store actions (recStoreAction)
	Order   string `json:"order"`
	Action  string `json:"action"`
	Reason  string `json:"reason,omitempty"`
}

// locationRecord is a courier position. Positions are not journaled one by one: the latest of each courier since
// the last record go into one "locations" record written just before the next record, which is all a replay
// needs to reach the same state (a position only matters to the events that follow it).
type locationRecord struct {
	Courier string    `json:"c"`
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	At      time.Time `json:"at"`
}

// courierAux is what the loop knows of a courier besides its view: its token and shift state. It is state, not a
// stored form: the checkpoint keeps it in its courier record (records_convert.go).
type courierAux struct {
	TokenHash []byte
	OnShift   bool
	InEngine  bool // online in the engine (on shift with a known position)
	Location  *service.Location
	LocAt     time.Time
	ShiftEnd  time.Time
}

// decisionRecord is a dispatch round's decision as the journal keeps it: the part that held when the loop applied
// it (dispatch.DecisionResult.Applied), so that a replay applies exactly that, planning nothing. Times are Unix
// nanoseconds (0: none).
type decisionRecord struct {
	PlannedAt int64               `json:"planned_at"`
	Routes    []routePlanRecord   `json:"routes,omitempty"`
	Retimed   []routePlanRecord   `json:"retimed,omitempty"`
	Moves     []moveRecord        `json:"moves,omitempty"`
	Unplaced  []unplacedRecord    `json:"unplaced,omitempty"`
	Postponed []string            `json:"postponed,omitempty"`
	Stats     dispatch.SavedStats `json:"stats"`
}

type routePlanRecord struct {
	Courier string              `json:"c"`
	Version uint64              `json:"v"`
	Stops   []plannedStopRecord `json:"stops,omitempty"`
}

type plannedStopRecord struct {
	Order    string `json:"o"`
	Dropoff  bool   `json:"drop,omitempty"`
	Arrive   int64  `json:"a"`
	Handover int64  `json:"h"`
	Depart   int64  `json:"d"`
}

type moveRecord struct {
	Order string `json:"o"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

type unplacedRecord struct {
	Order  string        `json:"o"`
	Reason string        `json:"reason"`
	LateBy time.Duration `json:"late_by,omitempty"`
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func newRoutePlanRecords(plans []dispatch.RoutePlan) []routePlanRecord {
	out := make([]routePlanRecord, len(plans))
	for i, rp := range plans {
		r := routePlanRecord{Courier: rp.CourierID, Version: rp.Version, Stops: make([]plannedStopRecord, len(rp.Stops))}
		for k, s := range rp.Stops {
			r.Stops[k] = plannedStopRecord{Order: s.OrderID, Dropoff: s.Kind == dispatch.Dropoff,
				Arrive: unixNano(s.Arrive), Handover: unixNano(s.Handover), Depart: unixNano(s.Depart)}
		}
		out[i] = r
	}
	return out
}

func routePlans(recs []routePlanRecord) []dispatch.RoutePlan {
	out := make([]dispatch.RoutePlan, len(recs))
	for i, r := range recs {
		rp := dispatch.RoutePlan{CourierID: r.Courier, Version: r.Version, Stops: make([]dispatch.PlannedStop, len(r.Stops))}
		for k, s := range r.Stops {
			kind := dispatch.Pickup
			if s.Dropoff {
				kind = dispatch.Dropoff
			}
			rp.Stops[k] = dispatch.PlannedStop{Kind: kind, OrderID: s.Order,
				Arrive: fromUnixNano(s.Arrive), Handover: fromUnixNano(s.Handover), Depart: fromUnixNano(s.Depart)}
		}
		out[i] = rp
	}
	return out
}

// newDecisionRecord is the journal's shape of a decision.
func newDecisionRecord(d *dispatch.Decision) *decisionRecord {
	r := &decisionRecord{PlannedAt: unixNano(d.At), Routes: newRoutePlanRecords(d.Routes), Retimed: newRoutePlanRecords(d.Retimed),
		Postponed: d.Postponed, Stats: dispatch.SavedStats(d.Stats)}
	for _, m := range d.Moves {
		r.Moves = append(r.Moves, moveRecord{Order: m.OrderID, From: m.From, To: m.To})
	}
	for _, u := range d.Unplaced {
		r.Unplaced = append(r.Unplaced, unplacedRecord{Order: u.OrderID, Reason: string(u.Reason), LateBy: u.LateBy})
	}
	return r
}

// decision is the engine's shape of a journaled decision (the engine checks it when it applies it).
func (r *decisionRecord) decision() *dispatch.Decision {
	d := &dispatch.Decision{At: fromUnixNano(r.PlannedAt), Routes: routePlans(r.Routes), Retimed: routePlans(r.Retimed),
		Postponed: r.Postponed, Stats: dispatch.Stats(r.Stats)}
	for _, m := range r.Moves {
		d.Moves = append(d.Moves, dispatch.Move{OrderID: m.Order, From: m.From, To: m.To})
	}
	for _, u := range r.Unplaced {
		d.Unplaced = append(d.Unplaced, dispatch.OrderUnplaced{OrderID: u.Order, Reason: dispatch.Unplaced(u.Reason), LateBy: u.LateBy})
	}
	return d
}

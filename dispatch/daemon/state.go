package daemon

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Roles of a Principal.
const (
	RoleAdmin   = "admin"
	RoleOrders  = "orders"
	RoleCourier = "courier"
	// RoleOperator watches the whole city (stores, couriers, orders, events, the console) and manages no key or
	// webhook.
	RoleOperator = "operator"
)

// Principal is who a request acts as: the admin, an order service (ID is its API key's id) or a courier (ID is the
// courier's id).
type Principal struct {
	Role string
	ID   string
}

// HashToken is how tokens are kept: SHA-256. Tokens are 256-bit random values, so a fast hash is enough (there is
// nothing to brute-force), and a lookup by hash compares no secret byte by byte.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// state is everything the loop owns besides the engine.
type state struct {
	orders     *cowMap[*OrderView]
	stores     *cowMap[*StoreView]
	couriers   *cowMap[*CourierView]
	routes     *cowMap[*RouteView]
	principals *cowMap[Principal] // by string(token hash)
	keys       *cowMap[*APIKey]
	webhooks   *cowMap[*Webhook]

	aux         map[string]*courierAux
	externalIDs map[string]string
	idem        map[string]*idemRecord
	// finishedQ and idemQ list finished orders and idempotency keys in the order they were made, for pruning.
	finishedQ []expiry
	idemQ     []expiry
	// pendingLocs is the latest position taken of each courier since the last record, journaled lazily (see
	// flushLocations); pendingLocsAt is when the last of them reached the engine.
	pendingLocs   map[string]locationRecord
	pendingLocsAt time.Time
	// byStatus counts orders by status (index: orderStatuses).
	byStatus [len(orderStatuses)]int
	// onRoute is the couriers whose route has stops (their times are refreshed after every round).
	onRoute map[string]struct{}
	// courierCounts counts couriers by status, kept as views change (a publish must not walk the fleet).
	courierCounts map[string]int
	// eventSeq is the id of the last order event; announced the drop-off ETA order services last heard of, by order.
	eventSeq  uint64
	announced map[string]time.Time
	// book holds the scheduled orders, kept out of the engine until their release (schedule.go).
	book map[string]*booked
}

type expiry struct {
	key string
	at  time.Time
}

func newState() *state {
	return &state{
		orders:        newCowMap[*OrderView](),
		stores:        newCowMap[*StoreView](),
		couriers:      newCowMap[*CourierView](),
		routes:        newCowMap[*RouteView](),
		principals:    newCowMap[Principal](),
		keys:          newCowMap[*APIKey](),
		webhooks:      newCowMap[*Webhook](),
		aux:           map[string]*courierAux{},
		externalIDs:   map[string]string{},
		idem:          map[string]*idemRecord{},
		pendingLocs:   map[string]locationRecord{},
		onRoute:       map[string]struct{}{},
		courierCounts: map[string]int{CourierOffline: 0, CourierAwaitingLocation: 0, CourierIdle: 0, CourierBusy: 0},
		announced:     map[string]time.Time{},
		book:          map[string]*booked{},
	}
}

func (s *state) openOrders() int {
	ready, _ := statusIndex(StatusReadyForPickup)
	return s.byStatus[dispatch.StatusPending] + s.byStatus[dispatch.StatusAssigned] + s.byStatus[dispatch.StatusPickedUp] + s.byStatus[ready]
}

func (s *state) takeLocations() []locationRecord {
	out := sortedLocations(s.pendingLocs)
	clear(s.pendingLocs)
	return out
}

// sortedLocations lists the positions of a map by courier (a record's content must not depend on map order).
func sortedLocations(m map[string]locationRecord) []locationRecord {
	out := make([]locationRecord, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b locationRecord) int { return strings.Compare(a.Courier, b.Courier) })
	return out
}

// prune forgets idempotency keys and finished orders past their time. It is not journaled: a replay prunes at the
// next tick what the live daemon pruned, and keeping something a little longer breaks no promise.
func (s *state) prune(now time.Time, idemTTL, retention time.Duration) {
	n := 0
	for n < len(s.idemQ) && now.Sub(s.idemQ[n].at) > idemTTL {
		if r, ok := s.idem[s.idemQ[n].key]; ok && r.At.Equal(s.idemQ[n].at) {
			delete(s.idem, s.idemQ[n].key)
		}
		n++
	}
	s.idemQ = slices.Delete(s.idemQ, 0, n)
	n = 0
	for n < len(s.finishedQ) && now.Sub(s.finishedQ[n].at) > retention {
		id := s.finishedQ[n].key
		if o, ok := s.orders.get(id); ok && o.Final() {
			s.orders.del(id)
			if o.ExternalID != "" && s.externalIDs[o.ExternalID] == id {
				delete(s.externalIDs, o.ExternalID)
			}
		}
		n++
	}
	s.finishedQ = slices.Delete(s.finishedQ, 0, n)
}

// View is an immutable snapshot of the daemon's state, published after every step of the loop once everything in
// it is durable. Reads, metrics and courier streams use it without entering the loop.
type View struct {
	// Seq is the last journal record it contains.
	Seq uint64
	// At is the loop's clock when it was made.
	At time.Time

	orders     frozenMap[*OrderView]
	stores     frozenMap[*StoreView]
	couriers   frozenMap[*CourierView]
	routes     frozenMap[*RouteView]
	principals frozenMap[Principal]
	keys       frozenMap[*APIKey]
	webhooks   frozenMap[*Webhook]

	// OrdersByStatus and CouriersByStatus count orders (open, and finished within retention) and couriers.
	OrdersByStatus   map[string]int
	CouriersByStatus map[string]int
	LastRound        dispatch.Stats

	changed []string
	events  []OrderEvent
}

func (d *Daemon) buildView() *View {
	s := d.st
	v := &View{
		Seq:        d.journal.LastSeq(),
		At:         d.lastNow,
		orders:     s.orders.freeze(),
		stores:     s.stores.freeze(),
		couriers:   s.couriers.freeze(),
		routes:     s.routes.freeze(),
		principals: s.principals.freeze(),
		keys:       s.keys.freeze(),
		webhooks:   s.webhooks.freeze(),
		LastRound:  d.lastStats,
		changed:    d.stepChanged,
		events:     d.stepEvents,
	}
	d.stepChanged, d.stepEvents = nil, nil
	v.OrdersByStatus = make(map[string]int, len(s.byStatus))
	for st, n := range s.byStatus {
		v.OrdersByStatus[orderStatuses[st]] = n
	}
	v.CouriersByStatus = make(map[string]int, len(s.courierCounts))
	for k, n := range s.courierCounts {
		v.CouriersByStatus[k] = n
	}
	return v
}

// Order returns an order by id.
func (v *View) Order(id string) (*OrderView, bool) { return v.orders.get(id) }

// Store returns a store by id.
func (v *View) Store(id string) (*StoreView, bool) { return v.stores.get(id) }

// Stores returns every store, by id.
func (v *View) Stores() []*StoreView {
	out := make([]*StoreView, 0, v.stores.len())
	for _, k := range v.stores.sortedKeys() {
		s, _ := v.stores.get(k)
		out = append(out, s)
	}
	return out
}

// StoresNear returns the stores within radius metres of p, nearest first.
func (v *View) StoresNear(p Location, radius float64) []*StoreView {
	type hit struct {
		s *StoreView
		d float64
	}
	var hits []hit
	for _, s := range v.stores.all() {
		if d := geo.Geographic.Distance(p.Point(), s.Location.Point()); d <= radius {
			hits = append(hits, hit{s, d})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return strings.Compare(a.s.ID, b.s.ID)
	})
	out := make([]*StoreView, len(hits))
	for i, h := range hits {
		out[i] = h.s
	}
	return out
}

// Courier returns a courier by id.
func (v *View) Courier(id string) (*CourierView, bool) { return v.couriers.get(id) }

// Couriers returns the couriers with the given status ("" for all), by id.
func (v *View) Couriers(status string) []*CourierView {
	var out []*CourierView
	for _, k := range v.couriers.sortedKeys() {
		c, _ := v.couriers.get(k)
		if status == "" || c.Status == status || (status == "online" && c.Status != CourierOffline) {
			out = append(out, c)
		}
	}
	return out
}

// Route returns a courier's route (an empty route of version 0 for a known courier that never had one).
func (v *View) Route(courierID string) (*RouteView, bool) {
	if r, ok := v.routes.get(courierID); ok {
		return r, true
	}
	if _, ok := v.couriers.get(courierID); ok {
		return &RouteView{CourierID: courierID, Stops: []StopView{}}, true
	}
	return nil, false
}

// APIKeys returns the order-service keys, by id.
func (v *View) APIKeys() []*APIKey {
	out := make([]*APIKey, 0, v.keys.len())
	for _, k := range v.keys.sortedKeys() {
		key, _ := v.keys.get(k)
		out = append(out, key)
	}
	return out
}

// Authenticate returns who holds the token (by its hash), if anyone: an order-service key or a courier token. The
// admin token is checked by the caller.
func (v *View) Authenticate(tokenHash []byte) (Principal, bool) {
	return v.principals.get(string(tokenHash))
}

// StoreCount is how many stores there are.
func (v *View) StoreCount() int { return v.stores.len() }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is marshalled here
	}
	return b
}

// setCourier stores a courier's view, keeping the counts by status.
func (s *state) setCourier(v *CourierView) {
	if old, ok := s.couriers.get(v.ID); ok {
		s.courierCounts[old.Status]--
	}
	s.courierCounts[v.Status]++
	s.couriers.set(v.ID, v)
}

// OrderFilter selects orders for a listing. Zero fields do not filter.
type OrderFilter struct {
	Status    string
	StoreID   string
	CourierID string
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

func (c OrderCursor) before(o *OrderView) bool {
	if d := c.CreatedAt.Compare(o.CreatedAt); d != 0 {
		return d < 0
	}
	return c.ID < o.ID
}

// ListOrders returns a page of the orders that match f, oldest first, and whether more follow. It walks every
// order the daemon keeps (open ones, and finished ones within retention) and keeps only the page, so a page costs
// one pass, whatever its place in the listing.
func (v *View) ListOrders(f OrderFilter) (page []*OrderView, more bool) {
	limit := min(max(f.Limit, 1), 500)
	// The page is the limit+1 smallest matching orders after the cursor (the extra one says whether more follow).
	var best []*OrderView
	byCreation := func(a, b *OrderView) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	for _, o := range v.orders.all() {
		switch {
		case f.Status != "" && o.Status != f.Status,
			f.StoreID != "" && o.StoreID != f.StoreID,
			f.CourierID != "" && o.CourierID != f.CourierID,
			!f.CreatedSince.IsZero() && o.CreatedAt.Before(f.CreatedSince),
			!f.CreatedUntil.IsZero() && !o.CreatedAt.Before(f.CreatedUntil),
			f.After.ID != "" && !f.After.before(o):
			continue
		}
		if len(best) == limit+1 && byCreation(o, best[limit]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, o, byCreation)
		best = slices.Insert(best, i, o)
		if len(best) > limit+1 {
			best = best[:limit+1]
		}
	}
	if len(best) > limit {
		return best[:limit], true
	}
	return best, false
}

// Webhook returns a webhook by id.
func (v *View) Webhook(id string) (*Webhook, bool) { return v.webhooks.get(id) }

// Webhooks returns every webhook, by id.
func (v *View) Webhooks() []*Webhook {
	out := make([]*Webhook, 0, v.webhooks.len())
	for _, k := range v.webhooks.sortedKeys() {
		w, _ := v.webhooks.get(k)
		out = append(out, w)
	}
	return out
}

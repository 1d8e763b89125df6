package daemon

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/cow"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// state is everything the loop owns besides the engine.
type state struct {
	orders     *cow.Map[*service.Order]
	stores     *cow.Map[*service.Store]
	couriers   *cow.Map[*service.Courier]
	routes     *cow.Map[*service.Route]
	principals *cow.Map[service.Principal] // by string(token hash)
	keys       *cow.Map[*service.APIKey]
	webhooks   *cow.Map[*Webhook]

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
		orders:        cow.New[*service.Order](),
		stores:        cow.New[*service.Store](),
		couriers:      cow.New[*service.Courier](),
		routes:        cow.New[*service.Route](),
		principals:    cow.New[service.Principal](),
		keys:          cow.New[*service.APIKey](),
		webhooks:      cow.New[*Webhook](),
		aux:           map[string]*courierAux{},
		externalIDs:   map[string]string{},
		idem:          map[string]*idemRecord{},
		pendingLocs:   map[string]locationRecord{},
		onRoute:       map[string]struct{}{},
		courierCounts: map[string]int{service.CourierOffline: 0, service.CourierAwaitingLocation: 0, service.CourierIdle: 0, service.CourierBusy: 0},
		announced:     map[string]time.Time{},
		book:          map[string]*booked{},
	}
}

func (s *state) openOrders() int {
	ready, _ := statusIndex(service.StatusReadyForPickup)
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
		if o, ok := s.orders.Get(id); ok && o.Final() {
			s.orders.Delete(id)
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
	// seq is the last journal record it contains; at the loop's clock when it was made.
	seq uint64
	at  time.Time

	orders     cow.Frozen[*service.Order]
	stores     cow.Frozen[*service.Store]
	couriers   cow.Frozen[*service.Courier]
	routes     cow.Frozen[*service.Route]
	principals cow.Frozen[service.Principal]
	keys       cow.Frozen[*service.APIKey]
	webhooks   cow.Frozen[*Webhook]

	// ordersByStatus and couriersByStatus count orders (open, and finished within retention) and couriers.
	ordersByStatus   map[string]int
	couriersByStatus map[string]int
	lastRound        dispatch.Stats

	changed []string
	events  []service.OrderEvent
}

func (d *Daemon) buildView() *View {
	s := d.st
	v := &View{
		seq:        d.jnl().LastSeq(),
		at:         d.lastNow,
		orders:     s.orders.Freeze(),
		stores:     s.stores.Freeze(),
		couriers:   s.couriers.Freeze(),
		routes:     s.routes.Freeze(),
		principals: s.principals.Freeze(),
		keys:       s.keys.Freeze(),
		webhooks:   s.webhooks.Freeze(),
		lastRound:  d.lastStats,
		changed:    d.stepChanged,
		events:     d.stepEvents,
	}
	d.stepChanged, d.stepEvents = nil, nil
	v.ordersByStatus = make(map[string]int, len(s.byStatus))
	for st, n := range s.byStatus {
		v.ordersByStatus[orderStatuses[st]] = n
	}
	v.couriersByStatus = make(map[string]int, len(s.courierCounts))
	for k, n := range s.courierCounts {
		v.couriersByStatus[k] = n
	}
	return v
}

var _ service.View = (*View)(nil)

// Seq is the last journal record the view contains.
func (v *View) Seq() uint64 { return v.seq }

// At is the loop's clock when the view was made.
func (v *View) At() time.Time { return v.at }

// OrdersByStatus counts the orders (open, and finished within retention) by status.
func (v *View) OrdersByStatus() map[string]int { return v.ordersByStatus }

// CouriersByStatus counts the couriers by status.
func (v *View) CouriersByStatus() map[string]int { return v.couriersByStatus }

// LastRound is the last dispatch round's figures.
func (v *View) LastRound() dispatch.Stats { return v.lastRound }

// Order returns an order by id.
func (v *View) Order(id string) (*service.Order, bool) { return v.orders.Get(id) }

// Store returns a store by id.
func (v *View) Store(id string) (*service.Store, bool) { return v.stores.Get(id) }

// Stores returns every store, by id.
func (v *View) Stores() []*service.Store {
	out := make([]*service.Store, 0, v.stores.Len())
	for _, k := range v.stores.SortedKeys() {
		s, _ := v.stores.Get(k)
		out = append(out, s)
	}
	return out
}

// StoresNear returns the stores within radius metres of p, nearest first.
func (v *View) StoresNear(p service.Location, radius float64) []*service.Store {
	type hit struct {
		s *service.Store
		d float64
	}
	var hits []hit
	for _, s := range v.stores.All() {
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
	out := make([]*service.Store, len(hits))
	for i, h := range hits {
		out[i] = h.s
	}
	return out
}

// Courier returns a courier by id.
func (v *View) Courier(id string) (*service.Courier, bool) { return v.couriers.Get(id) }

// Couriers returns the couriers with the given status ("" for all), by id.
func (v *View) Couriers(status string) []*service.Courier {
	var out []*service.Courier
	for _, k := range v.couriers.SortedKeys() {
		c, _ := v.couriers.Get(k)
		if status == "" || c.Status == status || (status == "online" && c.Status != service.CourierOffline) {
			out = append(out, c)
		}
	}
	return out
}

// Route returns a courier's route (an empty route of version 0 for a known courier that never had one).
func (v *View) Route(courierID string) (*service.Route, bool) {
	if r, ok := v.routes.Get(courierID); ok {
		return r, true
	}
	if _, ok := v.couriers.Get(courierID); ok {
		return &service.Route{CourierID: courierID, Stops: []service.Stop{}}, true
	}
	return nil, false
}

// APIKeys returns the order-service keys, by id.
func (v *View) APIKeys() []*service.APIKey {
	out := make([]*service.APIKey, 0, v.keys.Len())
	for _, k := range v.keys.SortedKeys() {
		key, _ := v.keys.Get(k)
		out = append(out, key)
	}
	return out
}

// Authenticate returns who holds the token (by its hash), if anyone: an order-service key or a courier token. The
// admin token is checked by the caller.
func (v *View) Authenticate(tokenHash []byte) (service.Principal, bool) {
	return v.principals.Get(string(tokenHash))
}

// StoreCount is how many stores there are.
func (v *View) StoreCount() int { return v.stores.Len() }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is marshalled here
	}
	return b
}

// setCourier stores a courier's view, keeping the counts by status.
func (s *state) setCourier(v *service.Courier) {
	if old, ok := s.couriers.Get(v.ID); ok {
		s.courierCounts[old.Status]--
	}
	s.courierCounts[v.Status]++
	s.couriers.Set(v.ID, v)
}

// ListOrders returns a page of the orders that match f, oldest first, and whether more follow. It walks every
// order the daemon keeps (open ones, and finished ones within retention) and keeps only the page, so a page costs
// one pass, whatever its place in the listing.
func (v *View) ListOrders(f service.OrderFilter) (page []*service.Order, more bool) {
	limit := min(max(f.Limit, 1), 500)
	// The page is the limit+1 smallest matching orders after the cursor (the extra one says whether more follow).
	var best []*service.Order
	byCreation := func(a, b *service.Order) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	for _, o := range v.orders.All() {
		switch {
		case f.Status != "" && o.Status != f.Status,
			f.StoreID != "" && o.StoreID != f.StoreID,
			f.CourierID != "" && o.CourierID != f.CourierID,
			f.Region != "" && o.Region != f.Region,
			!f.CreatedSince.IsZero() && o.CreatedAt.Before(f.CreatedSince),
			!f.CreatedUntil.IsZero() && !o.CreatedAt.Before(f.CreatedUntil),
			f.After.ID != "" && !cursorBefore(f.After, o):
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
func (v *View) Webhook(id string) (*Webhook, bool) { return v.webhooks.Get(id) }

// Webhooks returns every webhook, by id.
func (v *View) Webhooks() []*Webhook {
	out := make([]*Webhook, 0, v.webhooks.Len())
	for _, k := range v.webhooks.SortedKeys() {
		w, _ := v.webhooks.Get(k)
		out = append(out, w)
	}
	return out
}

// cursorBefore reports whether c comes before o in a listing (by creation time, then id).
func cursorBefore(c service.OrderCursor, o *service.Order) bool {
	if d := c.CreatedAt.Compare(o.CreatedAt); d != 0 {
		return d < 0
	}
	return c.ID < o.ID
}

package fulfil

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Reasons a store cannot serve an order (dispatch.Error.Reasons and StoreRejection.Reason).
const (
	// ReasonStoreNotFound: the order names a store that does not exist.
	ReasonStoreNotFound = "store_not_found"
	// ReasonNoStoreInReach: no store within Config.SearchRadius of the drop-off.
	ReasonNoStoreInReach = "no_store_in_reach"
	// ReasonOutOfStock: the store has not every item in stock (after the stock reserved for live orders).
	ReasonOutOfStock = "out_of_stock"
	// ReasonClosed: the store does not open in time to have the order ready for the promise.
	ReasonClosed = "closed"
	// ReasonStoreBusy: the store's picking queue would make the order ready too late for the promise.
	ReasonStoreBusy = "store_busy"
	// ReasonTooFar: preparation and travel alone take longer than the promise allows.
	ReasonTooFar = "too_far"
)

// Limits of an order's items.
const (
	MaxItems   = 200
	MaxQty     = 100000
	MaxSKUSize = 128
)

// Item is a line of an order: a SKU and how many.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Store is what the network knows of a store besides its stock.
type Store struct {
	ID       string
	Location orb.Point
	// Prep is the base preparation (picking and packing) time of an order.
	Prep time.Duration
	// Pickers is how many orders the store prepares at once (the API's max_active_orders); 0 means no limit.
	Pickers int
	// Hours is the opening schedule; nil means always open.
	Hours *Hours
	// Region is the store's region (an order by items chooses among the stores of one region).
	Region string
}

// Config sets how the network estimates and searches.
type Config struct {
	// Travel and Profile estimate the ride from store to door.
	Travel  geo.TravelModel
	Profile geo.Profile
	// Handling is added to the ride for a delivery: the hand-over at the store and at the door.
	Handling time.Duration
	// PickupMargin is how long before closing an order must be ready, so that a courier can still collect it.
	PickupMargin time.Duration
	// SearchRadius bounds the store search around the drop-off, in metres (0: unbounded).
	SearchRadius float64
	// Candidates is how many stores with every item in stock are compared; the earliest drop-off among them wins.
	Candidates int
	// MaxRejections caps the per-store reasons reported when no store can serve an order.
	MaxRejections int
	// MaxScan bounds how many stores one choice looks at, nearest first, so that an order for goods almost no
	// store has costs a bounded time (0: no bound).
	MaxScan int
}

// DefaultConfig returns the daemon's defaults for a travel model.
func DefaultConfig(travel geo.TravelModel) Config {
	return Config{Travel: travel, Profile: geo.Bike, Handling: 4 * time.Minute, PickupMargin: 5 * time.Minute,
		SearchRadius: 15000, Candidates: 8, MaxRejections: 10, MaxScan: 1000}
}

// Request is an order as far as fulfilment goes.
type Request struct {
	// StoreID names the store; empty lets the network choose one that has every item.
	StoreID string
	// Region, for a choice by items, is the region whose stores are looked at; empty: the drop-off's region, the
	// region of the nearest store that can serve the order (see Choose).
	Region string
	// Items to take from the store's stock (normalized by NormalizeItems). May be empty with a StoreID.
	Items   []Item
	Dropoff orb.Point
	// Prep overrides the store's preparation time when not nil.
	Prep *time.Duration
	// ReadyAt, when not zero, is the store's own word on when the order is ready (it replaces the queue model).
	ReadyAt   time.Time
	DeliverBy time.Time
	// Collect: the customer collects the order in the store (no ride).
	Collect bool
	// ReadyByPromise checks the promise against the ready time alone, not the estimated drop-off: for an order
	// that names its store, the order service chose the store and the dispatcher delivers as early as it can; only
	// a store that cannot have it ready in time (closed, busy) turns it down. Choosing a store by items always
	// counts the ride.
	ReadyByPromise bool
}

// Plan is where and when an order is fulfilled.
type Plan struct {
	StoreID string
	// Region is the store's region.
	Region string
	// Ready is when the store will have the order ready; PickupBy the end of that opening (zero: no closing).
	Ready, PickupBy time.Time
	// Dropoff estimates the hand-over to the customer: Ready plus handling and the ride (for Collect, Ready).
	Dropoff time.Time
	// Distance from the store to the drop-off, in metres.
	Distance float64
}

type storeState struct {
	Store
	idx              int32
	onHand, reserved map[string]int
	// queue holds the ready times (ns) of the live orders the store has taken, ascending.
	queue []int64
	// live counts the orders holding a reservation here.
	live int
}

type line struct {
	store *storeState
	items []Item
	ready int64
}

// Network is every store's stock, opening hours and picking queue, and the choice of a store for an order. It is
// deterministic (no clock, random source or I/O: every time is an argument) and owned by one goroutine.
type Network struct {
	cfg    Config
	stores map[string]*storeState
	list   []*storeState // by index; nil once removed
	index  *geo.Index[int32]
	orders map[string]*line
}

// New makes an empty network over space.
func New(space geo.Space, cfg Config) (*Network, error) {
	if space == nil || cfg.Travel == nil {
		return nil, fmt.Errorf("fulfil: New needs a space and a travel model")
	}
	if cfg.Candidates < 1 || cfg.MaxRejections < 1 || cfg.SearchRadius < 0 || cfg.Handling < 0 || cfg.PickupMargin < 0 {
		return nil, fmt.Errorf("fulfil: Candidates and MaxRejections must be positive, the rest not negative")
	}
	return &Network{cfg: cfg, stores: map[string]*storeState{}, index: geo.NewIndex[int32](space), orders: map[string]*line{}}, nil
}

func conflict(field, format string, args ...any) *dispatch.Error {
	return &dispatch.Error{Code: dispatch.EConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *dispatch.Error {
	return &dispatch.Error{Code: dispatch.EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NormalizeItems checks an order's items and returns them merged by SKU (quantities added) and sorted by SKU.
func NormalizeItems(items []Item) ([]Item, error) {
	if len(items) > MaxItems {
		return nil, invalid("items", "at most %d items", MaxItems)
	}
	sum := make(map[string]int, len(items))
	for i, it := range items {
		switch {
		case it.SKU == "" || len(it.SKU) > MaxSKUSize:
			return nil, invalid(fmt.Sprintf("items[%d].sku", i), "a sku is 1 to %d bytes", MaxSKUSize)
		case it.Qty < 1 || it.Qty > MaxQty:
			return nil, invalid(fmt.Sprintf("items[%d].qty", i), "qty must be within [1, %d]", MaxQty)
		}
		sum[it.SKU] += it.Qty
		if sum[it.SKU] > MaxQty {
			return nil, invalid(fmt.Sprintf("items[%d].qty", i), "qty of %s adds up to more than %d", it.SKU, MaxQty)
		}
	}
	out := make([]Item, 0, len(sum))
	for _, sku := range slices.Sorted(maps.Keys(sum)) {
		out = append(out, Item{SKU: sku, Qty: sum[sku]})
	}
	return out, nil
}

// CheckInventory validates stock counts given by an admin (field is "inventory", "set" or "adjust").
func CheckInventory(field string, stock map[string]int, signed bool) error {
	for _, sku := range slices.Sorted(maps.Keys(stock)) {
		n := stock[sku]
		switch {
		case sku == "" || len(sku) > MaxSKUSize:
			return invalid(field, "a sku is 1 to %d bytes", MaxSKUSize)
		case !signed && (n < 0 || n > 1_000_000_000):
			return invalid(field+"."+sku, "stock must be within [0, 1000000000]")
		case signed && (n < -1_000_000_000 || n > 1_000_000_000):
			return invalid(field+"."+sku, "an adjustment must be within ±1000000000")
		}
	}
	return nil
}

// PutStore creates or replaces a store. inventory, when not nil, replaces the store's stock on hand; it may not
// go below the stock reserved for live orders (409 naming the SKU). A new store with a nil inventory has none.
func (n *Network) PutStore(s Store, inventory map[string]int) error {
	if err := CheckInventory("inventory", inventory, false); err != nil {
		return err
	}
	if s.Pickers < 0 || s.Prep < 0 {
		return invalid("max_active_orders", "pickers and preparation must not be negative")
	}
	st, ok := n.stores[s.ID]
	if ok && inventory != nil {
		for _, sku := range slices.Sorted(maps.Keys(st.reserved)) {
			if inventory[sku] < st.reserved[sku] {
				return conflict("inventory."+sku, "%d of %s are reserved for live orders; stock cannot be %d", st.reserved[sku], sku, inventory[sku])
			}
		}
	}
	if !ok {
		st = &storeState{idx: int32(len(n.list)), onHand: map[string]int{}, reserved: map[string]int{}}
		n.stores[s.ID] = st
		n.list = append(n.list, st)
	}
	st.Store = s
	if inventory != nil {
		st.onHand = make(map[string]int, len(inventory))
		for sku, q := range inventory {
			if q > 0 {
				st.onHand[sku] = q
			}
		}
	}
	n.index.Set(st.idx, s.Location)
	return nil
}

// RemoveStore removes a store that holds no live order.
func (n *Network) RemoveStore(id string) error {
	st, ok := n.stores[id]
	if !ok {
		return &dispatch.Error{Code: dispatch.ENotFound, Field: "store_id", Message: fmt.Sprintf("store %q not found", id)}
	}
	if st.live > 0 {
		return conflict("", "store %q has %d live orders", id, st.live)
	}
	delete(n.stores, id)
	n.list[st.idx] = nil
	n.index.Remove(st.idx)
	return nil
}

// Inventory returns copies of a store's stock on hand and of the part of it reserved for live orders.
func (n *Network) Inventory(id string) (onHand, reserved map[string]int, ok bool) {
	st, ok := n.stores[id]
	if !ok {
		return nil, nil, false
	}
	return maps.Clone(st.onHand), maps.Clone(st.reserved), true
}

// Queue returns how many orders the store is preparing at now (taken, not yet ready).
func (n *Network) Queue(id string, now time.Time) int {
	st, ok := n.stores[id]
	if !ok {
		return 0
	}
	return len(st.queue) - firstAfter(st.queue, now.UnixNano())
}

// AdjustInventory changes a store's stock on hand: each SKU in set takes that count, then each in adjust is moved
// by that many. If any SKU would end with less on hand than is reserved for live orders (available stock below
// zero), nothing changes and the error (409) names it. It returns the new stock on hand.
func (n *Network) AdjustInventory(id string, set, adjust map[string]int) (map[string]int, error) {
	st, ok := n.stores[id]
	if !ok {
		return nil, &dispatch.Error{Code: dispatch.ENotFound, Field: "store_id", Message: fmt.Sprintf("store %q not found", id)}
	}
	if err := CheckInventory("set", set, false); err != nil {
		return nil, err
	}
	if err := CheckInventory("adjust", adjust, true); err != nil {
		return nil, err
	}
	next := map[string]int{}
	for sku, q := range set {
		next[sku] = q
	}
	for _, sku := range slices.Sorted(maps.Keys(adjust)) {
		q, ok := next[sku]
		if !ok {
			q = st.onHand[sku]
		}
		q += adjust[sku]
		if q-st.reserved[sku] < 0 {
			return nil, conflict("adjust."+sku, "%s: %d on hand, %d reserved; adjusting by %d leaves %d available", sku, st.onHand[sku], st.reserved[sku], adjust[sku], q-st.reserved[sku])
		}
		next[sku] = q
	}
	for _, sku := range slices.Sorted(maps.Keys(set)) {
		if _, adjusted := adjust[sku]; !adjusted && set[sku] < st.reserved[sku] {
			return nil, conflict("set."+sku, "%d of %s are reserved for live orders; stock cannot be %d", st.reserved[sku], sku, set[sku])
		}
	}
	for sku, q := range next {
		if q == 0 {
			delete(st.onHand, sku)
		} else {
			st.onHand[sku] = q
		}
	}
	return maps.Clone(st.onHand), nil
}

// Choose finds where and when an order is fulfilled, changing nothing: the named store, or among the stores
// within Config.SearchRadius of the drop-off (at most Config.MaxScan of them, nearest first) that have every item
// in stock, the one of the first Config.Candidates that gives the earliest drop-off within the promise (ties: the
// nearer, then the smaller id).
// When no store can, the error is EUnservable with every reason met (Reasons) and the reasons of the nearest
// stores (Candidates).
//
// A choice by items looks at the stores of one region only: Request.Region, or else the drop-off's region, which
// is the region of the nearest store (in the search's order: by distance, nearest first) that could serve the
// order (every item in stock, ready and delivered within the promise). Once that store is found, stores of other
// regions are passed over; stores looked at before it, which all failed, may be of any region and are reported as
// usual. A named store is taken whatever its region (the caller checks it against the region it wants).
func (n *Network) Choose(now time.Time, r *Request) (Plan, error) {
	ns := now.UnixNano()
	var rej rejections
	if r.StoreID != "" {
		st, ok := n.stores[r.StoreID]
		if !ok {
			rej.add(n.cfg.MaxRejections, r.StoreID, ReasonStoreNotFound, "no such store")
			return Plan{}, rej.err("store_id", "store %q not found", r.StoreID)
		}
		p, reason, detail := n.evaluate(st, ns, r, n.index.Space().Distance(st.Location, r.Dropoff))
		if reason == "" {
			return p, nil
		}
		rej.add(n.cfg.MaxRejections, st.ID, reason, detail)
		return Plan{}, rej.err("store_id", "store %q cannot serve this order: %s", st.ID, detail)
	}
	var best Plan
	found, compared, scanned := false, 0, 0
	deliverBy := r.DeliverBy.UnixNano()
	region := r.Region
	n.index.Within(r.Dropoff, n.cfg.SearchRadius, func(nb geo.Neighbor[int32]) bool {
		st := n.list[nb.ID]
		if scanned++; n.cfg.MaxScan > 0 && scanned > n.cfg.MaxScan {
			return false
		}
		if region != "" && st.Region != region {
			return true
		}
		if !r.Collect && ns+int64(n.cfg.Travel.TravelTime(st.Location, r.Dropoff, n.cfg.Profile)) > deliverBy {
			// Farther stores cannot be nearer in time either: the search ends here.
			rej.add(n.cfg.MaxRejections, st.ID, ReasonTooFar, "the ride alone takes longer than the promise allows")
			return false
		}
		p, reason, detail := n.evaluate(st, ns, r, nb.Metres)
		if reason == ReasonOutOfStock {
			// Not a candidate: the search goes on past it.
			rej.add(n.cfg.MaxRejections, st.ID, reason, detail)
			return true
		}
		compared++
		switch {
		case reason != "":
			rej.add(n.cfg.MaxRejections, st.ID, reason, detail)
		case !found || p.Dropoff.Before(best.Dropoff):
			best, found = p, true
			region = st.Region
		}
		return compared < n.cfg.Candidates
	})
	if found {
		return best, nil
	}
	if rej.seen == 0 {
		detail := fmt.Sprintf("no store within %.0f m of the drop-off", n.cfg.SearchRadius)
		if r.Region != "" {
			detail = fmt.Sprintf("no store of region %q within %.0f m of the drop-off", r.Region, n.cfg.SearchRadius)
		}
		rej.add(n.cfg.MaxRejections, "", ReasonNoStoreInReach, detail)
	}
	return Plan{}, rej.err("items", "no store can serve this order")
}

// rejections gathers why stores were turned down: every distinct reason, and the first few stores' reasons.
type rejections struct {
	reasons    []string
	candidates []dispatch.StoreRejection
	seen       int
}

func (r *rejections) add(limit int, storeID, reason, detail string) {
	r.seen++
	if !slices.Contains(r.reasons, reason) {
		r.reasons = append(r.reasons, reason)
	}
	if len(r.candidates) < limit {
		r.candidates = append(r.candidates, dispatch.StoreRejection{StoreID: storeID, Reason: reason, Detail: detail})
	}
}

func (r *rejections) err(field, format string, args ...any) *dispatch.Error {
	return &dispatch.Error{Code: dispatch.EUnservable, Field: field, Message: fmt.Sprintf(format, args...),
		Reasons: r.reasons, Candidates: r.candidates}
}

// shortOf returns the first item the store cannot supply from its available stock (empty sku: none).
func (st *storeState) shortOf(items []Item) (sku string, avail, want int) {
	for _, it := range items {
		if a := st.onHand[it.SKU] - st.reserved[it.SKU]; a < it.Qty {
			return it.SKU, a, it.Qty
		}
	}
	return "", 0, 0
}

// evaluate times an order at one store: the queue model, the opening hours and the ride. reason is empty when the
// store keeps the promise.
//
// The queue model: the store prepares up to Pickers orders at once, first come first served, each for its
// preparation time. Its queue holds the ready times of the orders it has taken and not yet handed over; those
// still ahead of now are in preparation. With k of them and k >= Pickers, a new order starts when the
// (k-Pickers+1)-th of them is ready (a picker frees up); otherwise at once. Preparation happens only while the
// store is open: an order that cannot be ready PickupMargin before closing starts at the next opening.
func (n *Network) evaluate(st *storeState, now int64, r *Request, dist float64) (Plan, string, string) {
	if sku, avail, want := st.shortOf(r.Items); sku != "" {
		return Plan{}, ReasonOutOfStock, fmt.Sprintf("%s: %d available, %d wanted", sku, avail, want)
	}
	prep := st.Prep
	if r.Prep != nil {
		prep = *r.Prep
	}
	var ride int64
	if !r.Collect {
		ride = int64(n.cfg.Handling + n.cfg.Travel.TravelTime(st.Location, r.Dropoff, n.cfg.Profile))
	}
	deliverBy := r.DeliverBy.UnixNano()
	start := now
	if !r.ReadyAt.IsZero() {
		// The store has said when: no queue, no preparation to add.
		start, prep = max(now, r.ReadyAt.UnixNano()), 0
	}
	idle := start
	if k := len(st.queue) - firstAfter(st.queue, now); r.ReadyAt.IsZero() && st.Pickers > 0 && k >= st.Pickers {
		start = max(start, st.queue[len(st.queue)-st.Pickers])
	}
	limitRide := ride
	if r.ReadyByPromise && r.StoreID != "" {
		limitRide = 0
	}
	ready, pickupBy, ok := n.fit(st.Hours, start, int64(prep))
	if ok && ready+limitRide <= deliverBy {
		p := Plan{StoreID: st.ID, Region: st.Region, Ready: time.Unix(0, ready).UTC(), Dropoff: time.Unix(0, ready+ride).UTC(), Distance: dist}
		if pickupBy != 0 {
			p.PickupBy = time.Unix(0, pickupBy).UTC()
		}
		return p, "", ""
	}
	// Say what broke the promise: the preparation and ride alone, else the opening hours, else the queue.
	if idle+int64(prep)+limitRide > deliverBy {
		return Plan{}, ReasonTooFar, fmt.Sprintf("preparation and ride take %s; the promise leaves %s",
			time.Duration(int64(prep)+limitRide).Round(time.Second), time.Duration(deliverBy-now).Round(time.Second))
	}
	if idleReady, _, ok := n.fit(st.Hours, idle, int64(prep)); !ok {
		return Plan{}, ReasonClosed, "the store does not open in the next eight days"
	} else if idleReady+limitRide > deliverBy {
		return Plan{}, ReasonClosed, fmt.Sprintf("the order could be ready at %s at the earliest, when the store is open; too late for the promise",
			time.Unix(0, idleReady).UTC().Format(time.RFC3339))
	}
	when := "not within the next eight days"
	if ok {
		when = "at " + time.Unix(0, ready).UTC().Format(time.RFC3339)
	}
	return Plan{}, ReasonStoreBusy, fmt.Sprintf("%d orders are being prepared; this one would be ready %s, too late for the promise",
		len(st.queue)-firstAfter(st.queue, now), when)
}

// fit places a preparation of prep starting no earlier than start into the store's opening hours: it returns when
// the order is ready and when that opening ends (0: never). ok is false when no opening within the horizon fits.
func (n *Network) fit(h *Hours, start, prep int64) (ready, closeAt int64, ok bool) {
	if h == nil {
		return start + prep, 0, true
	}
	t := start
	for range 2 * horizonDays * 8 {
		open, close, ok := h.Window(time.Unix(0, t))
		if !ok {
			return 0, 0, false
		}
		s := max(t, open.UnixNano())
		if close.IsZero() {
			return s + prep, 0, true
		}
		if c := close.UnixNano(); s+prep+int64(n.cfg.PickupMargin) <= c {
			return s + prep, c, true
		}
		t = close.UnixNano()
	}
	return 0, 0, false
}

// firstAfter is the index of the first queue entry after t.
func firstAfter(q []int64, t int64) int {
	i, _ := slices.BinarySearch(q, t+1)
	return i
}

// Reserve commits a plan for an order: its items are reserved in the plan's store and its ready time joins the
// store's queue. It fails (changing nothing) for an order id already reserved, an unknown store or stock that is
// no longer there; items must be normalized.
func (n *Network) Reserve(orderID string, p Plan, items []Item) error {
	if _, dup := n.orders[orderID]; dup {
		return conflict("id", "order %q already holds a reservation", orderID)
	}
	st, ok := n.stores[p.StoreID]
	if !ok {
		return &dispatch.Error{Code: dispatch.ENotFound, Field: "store_id", Message: fmt.Sprintf("store %q not found", p.StoreID)}
	}
	if sku, avail, want := st.shortOf(items); sku != "" {
		return conflict("items", "%s: %d available, %d wanted", sku, avail, want)
	}
	for _, it := range items {
		st.reserved[it.SKU] += it.Qty
	}
	ready := p.Ready.UnixNano()
	i, _ := slices.BinarySearch(st.queue, ready)
	st.queue = slices.Insert(st.queue, i, ready)
	st.live++
	n.orders[orderID] = &line{store: st, items: slices.Clone(items), ready: ready}
	return nil
}

// Release gives an order's reservation back (the order was cancelled, or failed before it left the store).
func (n *Network) Release(orderID string) { n.finish(orderID, false) }

// HandOver consumes an order's reservation: the goods left the store with the courier or the customer.
func (n *Network) HandOver(orderID string) { n.finish(orderID, true) }

func (n *Network) finish(orderID string, consumed bool) {
	l, ok := n.orders[orderID]
	if !ok {
		return
	}
	delete(n.orders, orderID)
	st := l.store
	for _, it := range l.items {
		st.reserved[it.SKU] -= it.Qty
		if st.reserved[it.SKU] == 0 {
			delete(st.reserved, it.SKU)
		}
		if consumed {
			if q := st.onHand[it.SKU] - it.Qty; q > 0 {
				st.onHand[it.SKU] = q
			} else {
				delete(st.onHand, it.SKU)
			}
		}
	}
	if i, found := slices.BinarySearch(st.queue, l.ready); found {
		st.queue = slices.Delete(st.queue, i, i+1)
	}
	st.live--
}

// Holds reports whether an order holds a reservation.
func (n *Network) Holds(orderID string) bool { _, ok := n.orders[orderID]; return ok }

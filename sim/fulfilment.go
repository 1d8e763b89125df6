package sim

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

// The store side of a run (Scenario.Fulfil): a fulfil.Network driven in virtual time beside the engine, as the
// daemon drives one on its event loop. An order is offered to the network when it is placed; the plan it gets
// (store, ready time, latest pick-up) is what the engine is told, and an order no store can serve never reaches
// the engine. A courier's pick-up or a customer's collection hands the goods over; a failed or cancelled order
// gives its reservation back.

// storeTrack is the simulation's working record of a store.
type storeTrack struct {
	id    string
	setup *StoreSetup
	rec   StoreRecord
	// out marks the SKUs whose available stock is zero, so that a stock-out is recorded once per running out.
	out map[string]bool
}

// View is the state of a run between two events, for Options.Check. It is valid only during the call.
type View struct{ s *simulation }

// Now is the virtual time of the event just run.
func (v *View) Now() time.Time { return time.Unix(0, v.s.now).UTC() }

// Network is the stores' stock and queues (nil for a scenario without fulfilment). It must not be changed.
func (v *View) Network() *fulfil.Network { return v.s.net }

// StoreOf is the store serving an order (empty when none does, or not yet).
func (v *View) StoreOf(orderID string) string {
	if o, ok := v.s.orderBy[orderID]; ok && o.store >= 0 && v.s.net != nil {
		return v.s.stores[o.store].id
	}
	return ""
}

// Routes yields every courier's current route as the engine last gave it.
func (v *View) Routes() iter.Seq[dispatch.Route] {
	return func(yield func(dispatch.Route) bool) {
		for _, c := range v.s.couriers {
			if !yield(c.route) {
				return
			}
		}
	}
}

// initFulfil builds the network with the scenario's stores and their opening stock, and queues the restocks.
func (s *simulation) initFulfil() error {
	f := s.sc.Fulfil
	net, err := fulfil.New(s.sc.Space, f.Config)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	s.net = net
	s.storeIdx = make(map[string]int, len(s.sc.Stores))
	start := s.sc.Start
	for i, st := range s.sc.Stores {
		setup := &f.Stores[i]
		stock := setup.Stock
		if stock == nil {
			stock = map[string]int{}
		}
		err := net.PutStore(fulfil.Store{ID: st.ID, Location: st.Location, Prep: setup.Prep, Pickers: setup.Pickers,
			Hours: setup.Hours}, stock)
		if err != nil {
			return fmt.Errorf("sim: store %s: %w", st.ID, err)
		}
		s.storeIdx[st.ID] = i
		s.stores = append(s.stores, &storeTrack{id: st.ID, setup: setup, out: map[string]bool{},
			rec: StoreRecord{ID: st.ID, Kind: setup.Kind, Pickers: setup.Pickers}})
		if at := nextOpening(setup.Hours, start); !at.IsZero() && (s.opening.IsZero() || at.Before(s.opening)) {
			s.opening = at
		}
	}
	for i, o := range s.orders {
		o.setup = &f.Orders[i]
		o.store = -1
	}
	for i := range f.Restocks {
		s.push(ns(f.Restocks[i].At), evRestock, i, 0)
	}
	return nil
}

// nextOpening is the first time after t at which a store with hours h opens (zero: always open, or not within
// the hours' horizon).
func nextOpening(h *fulfil.Hours, t time.Time) time.Time {
	if h == nil {
		return time.Time{}
	}
	open, close, ok := h.Window(t)
	if ok && !open.After(t) {
		if close.IsZero() {
			return time.Time{}
		}
		open, _, ok = h.Window(close)
	}
	if !ok {
		return time.Time{}
	}
	return open
}

// unservable returns the network's error for an order no store can serve (nil for any other error).
func unservable(err error) *dispatch.Error {
	var de *dispatch.Error
	if errors.As(err, &de) && de.Code == dispatch.EUnservable && len(de.Reasons) > 0 {
		return de
	}
	return nil
}

// placeFulfil offers an order to the network: the promise first, then each later slot the customer accepts. An
// order no store can serve is rejected; one served is reserved and then placed in the engine or, when the
// customer collects it, left to the store.
func (s *simulation) placeFulfil(o *orderTrack) error {
	now := time.Unix(0, s.now).UTC()
	set := o.setup
	prep := o.spec.Ready.Sub(o.spec.Created)
	req := fulfil.Request{StoreID: o.spec.StoreID, Items: set.Items, Dropoff: o.spec.Dropoff, Prep: &prep,
		DeliverBy: o.spec.DeliverBy, Collect: set.Collect}
	plan, err := s.net.Choose(now, &req)
	for i := 0; err != nil && unservable(err) != nil && i < len(set.Later); i++ {
		req.DeliverBy = set.Later[i]
		o.laterSlot = i + 1
		plan, err = s.net.Choose(now, &req)
	}
	if err != nil {
		de := unservable(err)
		if de == nil {
			return fmt.Errorf("sim: order %s at %s: %w", o.spec.ID, s.clock(s.now), err)
		}
		o.rejected, o.reasons, o.laterSlot = de.Reasons[0], slices.Clone(de.Reasons), 0
		if i, ok := s.storeIdx[o.spec.StoreID]; ok {
			s.stores[i].rec.Turned++
		}
		return nil
	}
	if err := s.net.Reserve(o.spec.ID, plan, set.Items); err != nil {
		return fmt.Errorf("sim: order %s: reserving the plan just made: %w", o.spec.ID, err)
	}
	st := s.stores[s.storeIdx[plan.StoreID]]
	o.store, o.live = s.storeIdx[plan.StoreID], true
	o.spec.StoreID, o.spec.Ready, o.spec.PickupBy, o.spec.DeliverBy = plan.StoreID, plan.Ready, plan.PickupBy, req.DeliverBy

	// The opening the order is prepared in: it is an overnight order when that opening starts after it was
	// placed, and it waited for a picker from when it could have started to when it did.
	couldStart := now
	if h := st.setup.Hours; h != nil {
		if open, _, ok := h.Window(plan.Ready); ok && open.After(now) {
			o.overnight, couldStart = true, open
		}
	}
	wait := max(0, plan.Ready.Add(-prep).Sub(couldStart))
	o.pickWait = wait
	st.rec.PickWait += wait
	st.rec.MaxPickWait = max(st.rec.MaxPickWait, wait)
	if q := s.net.Queue(plan.StoreID, now); q > st.rec.PeakQueue {
		st.rec.PeakQueue, st.rec.PeakAt = q, now
	}
	s.noteStock(st, set.Items)
	if o.overnight {
		s.overnight++
		s.overnightLeft[o.kindIdx()]++
	}
	if set.Collect {
		st.rec.Collect++
		s.collecting++
		// A customer who comes while the store is closed comes back when it opens.
		at := plan.Ready.Add(set.CollectAfter)
		if h := st.setup.Hours; h != nil {
			if open, _, ok := h.Window(at); ok && open.After(at) {
				at = open
			}
		}
		s.push(ns(at), evCollected, o.idx, 0)
		return nil
	}
	st.rec.Orders++
	s.waiting++
	if !plan.PickupBy.IsZero() {
		s.push(ns(plan.PickupBy), evClosing, o.idx, 0)
	}
	return s.apply(dispatch.OrderPlaced{Order: o.spec})
}

// closing is the store closing at an order's latest pick-up. A courier picking it up at that very moment has done
// so (courier steps run first); otherwise no courier will (the engine plans none after it), so the store cancels
// the order and puts its goods back.
func (s *simulation) closing(o *orderTrack) error {
	if !o.live || o.pickedUp != 0 {
		return nil
	}
	o.missed = true
	return s.apply(dispatch.OrderCancelled{OrderID: o.spec.ID, Reason: "the store closed before a courier picked it up"})
}

// noteStock records the items of the list that have just run out at the store.
func (s *simulation) noteStock(st *storeTrack, items []fulfil.Item) {
	if len(items) == 0 {
		return
	}
	onHand, reserved, _ := s.net.Inventory(st.id)
	for _, it := range items {
		out := onHand[it.SKU]-reserved[it.SKU] <= 0
		if out && !st.out[it.SKU] {
			s.stockOuts = append(s.stockOuts, StockOut{At: time.Unix(0, s.now).UTC(), StoreID: st.id, SKU: it.SKU})
		}
		st.out[it.SKU] = out
	}
}

// finish ends an accepted order's stay at its store: handed over (picked up, collected) or given back (failed,
// cancelled). It does nothing for an order that is not live.
func (s *simulation) finish(o *orderTrack, handedOver bool) {
	if s.net == nil || !o.live {
		return
	}
	o.live = false
	if o.overnight {
		s.overnight--
		if handedOver { // a cancelled one is never cleared
			s.overnightLeft[o.kindIdx()]--
			s.overnightExit[o.kindIdx()] = s.now
		}
	}
	if handedOver {
		s.net.HandOver(o.spec.ID)
		return
	}
	s.net.Release(o.spec.ID)
	st := s.stores[o.store]
	for _, it := range o.setup.Items {
		st.out[it.SKU] = false // stock came back
	}
}

// kindIdx indexes the overnight counters: 0 for an order of a courier's, 1 for one collected in store.
func (o *orderTrack) kindIdx() int {
	if o.setup.Collect {
		return 1
	}
	return 0
}

// collected is the customer taking a collect order from the store.
func (s *simulation) collected(o *orderTrack) {
	o.collected = s.now
	s.collecting--
	s.finish(o, true)
}

// restock brings the store's available stock back up to the delivery's levels.
func (s *simulation) restock(r *Restock) error {
	onHand, reserved, ok := s.net.Inventory(r.StoreID)
	if !ok {
		return fmt.Errorf("sim: restock of unknown store %s", r.StoreID)
	}
	set := map[string]int{}
	st := s.stores[s.storeIdx[r.StoreID]]
	for _, sku := range slices.Sorted(maps.Keys(r.Level)) {
		if want := r.Level[sku] + reserved[sku]; onHand[sku] < want {
			set[sku] = want
		}
		if r.Level[sku] > 0 {
			st.out[sku] = false
		}
	}
	if _, err := s.net.AdjustInventory(r.StoreID, set, nil); err != nil {
		return fmt.Errorf("sim: restock of store %s at %s: %w", r.StoreID, s.clock(s.now), err)
	}
	s.restocks++
	return nil
}

// preparing counts the orders accepted and not yet ready, over every store.
func (s *simulation) preparing() int {
	n := 0
	now := time.Unix(0, s.now)
	for _, st := range s.stores {
		n += s.net.Queue(st.id, now)
	}
	return n
}

// fulfilResult is the store side of the result.
func (s *simulation) fulfilResult() *FulfilResult {
	fr := &FulfilResult{Opening: s.opening, StockOuts: s.stockOuts, Restocks: s.restocks, OvernightLeft: s.overnightLeft}
	for i, exit := range s.overnightExit {
		if s.overnightLeft[i] == 0 && exit != 0 {
			fr.OvernightCleared[i] = time.Unix(0, exit).UTC()
		}
	}
	for _, o := range s.sc.Orders {
		fr.End = later(fr.End, o.Created)
	}
	for _, st := range s.stores {
		fr.Stores = append(fr.Stores, st.rec)
	}
	return fr
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fulfilRecord fills in the store side of an order's record.
func (s *simulation) fulfilRecord(o *orderTrack, rec *OrderRecord) {
	rec.Rejected, rec.Reasons = o.rejected, o.reasons
	rec.ByItems = s.sc.Orders[o.idx].StoreID == ""
	for _, it := range o.setup.Items {
		rec.Items += it.Qty
	}
	rec.Missed = o.missed
	rec.LaterSlot, rec.Overnight, rec.Collect, rec.PickWait = o.laterSlot, o.overnight, o.setup.Collect, o.pickWait
	if o.rejected != "" {
		rec.Ready = time.Time{}
	}
	if o.collected != 0 {
		rec.Collected = time.Unix(0, o.collected).UTC()
	}
}

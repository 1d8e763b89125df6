package daemon

import (
	"context"
	"encoding/json"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// This file connects the daemon to the stores' side of fulfilment (package fulfil): opening hours and time zones,
// stock and its changes, and the steps of in-store pick-up orders.

// zone resolves an IANA time zone name ("" is UTC), once per name: loading reads the system's zone database
// (cmd/dispatchd embeds a copy for machines without one).
func (d *Daemon) zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if z, ok := d.zones[name]; ok {
		return z, nil
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, errorf(dispatch.EInvalid, "timezone", "unknown time zone %q: use an IANA name such as Asia/Shanghai", name)
	}
	if d.zones == nil {
		d.zones = map[string]*time.Location{}
	}
	d.zones[name] = z
	return z, nil
}

// parseHours reads a store's hours object in its time zone (nil hours: always open).
func (d *Daemon) parseHours(raw json.RawMessage, tz string) (*fulfil.Hours, error) {
	zone, err := d.zone(tz)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var days map[string][]string
	if err := json.Unmarshal(raw, &days); err != nil {
		return nil, errorf(dispatch.EInvalid, "hours", `hours must be an object of day to spans, such as {"mon": ["08:00-22:00"]}`)
	}
	return fulfil.ParseHours(days, zone)
}

// netStore is the fulfilment network's idea of a store view.
func (d *Daemon) netStore(v *service.Store) (fulfil.Store, error) {
	h, err := d.parseHours(v.Hours, v.Timezone)
	if err != nil {
		return fulfil.Store{}, err
	}
	return fulfil.Store{ID: v.ID, Location: v.Location.Point(), Prep: time.Duration(v.PrepSeconds) * time.Second,
		Pickers: v.MaxActiveOrders, Hours: h, Region: v.Region}, nil
}

// putNetStore puts a store into the network, replacing its stock when inventory is not nil. Hours that no longer
// parse (a record written before hours were interpreted) make the store always open rather than refuse a replay.
func (d *Daemon) putNetStore(v *service.Store, inventory map[string]int) error {
	ns, err := d.netStore(v)
	if err != nil {
		if !d.replaying {
			return err
		}
		d.log.Warn().Err(err).Str("store_id", v.ID).Msg("store hours not understood; the store is taken as always open")
		ns = fulfil.Store{ID: v.ID, Location: v.Location.Point(), Prep: time.Duration(v.PrepSeconds) * time.Second, Pickers: v.MaxActiveOrders, Region: v.Region}
	}
	return d.net.PutStore(ns, inventory)
}

// reserve puts a live order's reservation back into the network (recovery from a checkpoint).
func (d *Daemon) reserve(o *service.Order) error {
	if o.Final() || handedOver(o) {
		return nil
	}
	return d.net.Reserve(o.ID, fulfil.Plan{StoreID: o.StoreID, Ready: o.ReadyAt}, o.Items)
}

// StoreDetail returns a store with its stock on hand, the part reserved for live orders and its picking queue. It
// is read on the loop (stock changes with every order) and answered once what it shows is durable.
func (d *Daemon) StoreDetail(ctx context.Context, id string) (*service.Store, error) {
	return run(ctx, d, storeDetail{id})
}

// storeDetail reads a store with its stock, answered once every record before it is durable.
type storeDetail struct{ id string }

func (c storeDetail) run(d *Daemon, now time.Time) (*service.Store, uint64, error) {
	v, ok := d.st.stores.Get(c.id)
	if !ok {
		return nil, 0, errorf(dispatch.ENotFound, "", "store %q not found", c.id)
	}
	return d.withStock(v, now), d.jnl().LastSeq(), nil
}

func (d *Daemon) withStock(v *service.Store, now time.Time) *service.Store {
	cp := *v
	cp.Inventory, cp.Reserved, _ = d.net.Inventory(v.ID)
	q := d.net.Queue(v.ID, now)
	cp.Preparing = &q
	return &cp
}

// PatchInventory changes a store's stock on hand and returns the store with its new stock. A change that would
// leave less on hand than live orders have reserved is refused whole (409, naming the SKU).
func (d *Daemon) PatchInventory(ctx context.Context, storeID string, in service.InventoryChange) (*service.Store, error) {
	if len(in.Set) == 0 && len(in.Adjust) == 0 {
		return nil, errorf(dispatch.EInvalid, "set", "give set or adjust (or both)")
	}
	if len(in.Set)+len(in.Adjust) > 10_000 {
		return nil, errorf(dispatch.EInvalid, "set", "at most 10000 SKUs in one change")
	}
	if err := fulfil.CheckInventory("set", in.Set, false); err != nil {
		return nil, err
	}
	if err := fulfil.CheckInventory("adjust", in.Adjust, true); err != nil {
		return nil, err
	}
	return run(ctx, d, patchInventory{storeID, &inventoryRecord{Set: in.Set, Adjust: in.Adjust}})
}

// patchInventory changes a store's stock on hand.
type patchInventory struct {
	storeID string
	change  *inventoryRecord
}

func (c patchInventory) run(d *Daemon, now time.Time) (*service.Store, uint64, error) {
	if _, ok := d.st.stores.Get(c.storeID); !ok {
		return nil, 0, errorf(dispatch.ENotFound, "", "store %q not found", c.storeID)
	}
	return recordAs[*service.Store](d, &record{Type: recInventory, At: now, ID: c.storeID, Inventory: c.change})
}

func (d *Daemon) applyInventory(rec *record) (any, error) {
	v, ok := d.st.stores.Get(rec.ID)
	if !ok {
		return nil, errorf(dispatch.ENotFound, "", "store %q not found", rec.ID)
	}
	if _, err := d.net.AdjustInventory(rec.ID, rec.Inventory.Set, rec.Inventory.Adjust); err != nil {
		return nil, err
	}
	cp := *v
	cp.UpdatedAt = rec.At
	d.st.stores.Set(cp.ID, &cp)
	return d.withStock(&cp, rec.At), nil
}

// StoreOrderAction records a store's step on one of its in-store pick-up orders: "ready" (pending →
// ready_for_pickup) or "collected" (ready_for_pickup → collected). Another store's order is not found; a step the
// order's status does not allow is a conflict.
func (d *Daemon) StoreOrderAction(ctx context.Context, storeID, orderID, action string) (*service.Order, error) {
	if action != service.StoreActionReady && action != service.StoreActionCollected {
		return nil, errorf(dispatch.EInvalid, "action", "unknown store action %q", action)
	}
	return run(ctx, d, storeOrderAction{&actionRecord{Store: storeID, Order: orderID, Action: action}})
}

// storeOrderAction is a store's step on one of its in-store pick-up orders.
type storeOrderAction struct{ a *actionRecord }

func (c storeOrderAction) run(d *Daemon, now time.Time) (*service.Order, uint64, error) {
	if c.a.Action == service.StoreActionReady {
		if err := d.checkStoreOpen(c.a.Store, c.a.Order, now); err != nil {
			return nil, 0, err
		}
	}
	return recordAs[*service.Order](d, &record{Type: recStoreAction, At: now, Action: c.a})
}

// checkStoreOpen refuses (409 conflict) to mark an order ready while its store is closed: nobody is there to
// prepare it, nor to hand it over, and the order's ready time was counted from an opening. The state, not the
// request, is at fault (the same request succeeds once the store opens), hence 409 and not 422. It is checked
// when the step is asked for, not when the journal is replayed: a step recorded before this rule stays valid.
func (d *Daemon) checkStoreOpen(storeID, orderID string, now time.Time) error {
	st, ok := d.st.stores.Get(storeID)
	if !ok {
		return errorf(dispatch.ENotFound, "", "order %q not found at store %q", orderID, storeID)
	}
	h, err := d.parseHours(st.Hours, st.Timezone)
	if err != nil || h == nil {
		return nil // always open (hours a replay could not read are taken as always open too)
	}
	open, _, ok := h.Window(now)
	switch {
	case !ok:
		return errorf(dispatch.EConflict, "", "store %s is closed and does not open in the next eight days; an order is marked ready while the store is open", storeID)
	case open.After(now):
		return errorf(dispatch.EConflict, "", "store %s is closed until %s; an order is marked ready while the store is open", storeID, open.UTC().Format(time.RFC3339))
	}
	return nil
}

func (d *Daemon) applyStoreAction(rec *record) (any, error) {
	in := rec.Action
	old, ok := d.st.orders.Get(in.Order)
	if !ok || old.StoreID != in.Store {
		return nil, errorf(dispatch.ENotFound, "", "order %q not found at store %q", in.Order, in.Store)
	}
	if old.Fulfilment != service.FulfilPickup {
		return nil, errorf(dispatch.EConflict, "", "order %s is for delivery; a courier collects it", in.Order)
	}
	v := *old
	switch {
	case in.Action == service.StoreActionReady && old.Status == "pending":
		v.Status, v.ReadyForPickupAt = service.StatusReadyForPickup, timePtr(rec.At)
	case in.Action == service.StoreActionCollected && old.Status == service.StatusReadyForPickup:
		v.Status, v.CollectedAt = service.StatusCollected, timePtr(rec.At)
	default:
		return nil, errorf(dispatch.EConflict, "", "order %s is %s; %q is not allowed", in.Order, old.Status, in.Action)
	}
	v.Timeline = append(old.Timeline[:len(old.Timeline):len(old.Timeline)], service.TimelineEntry{Status: v.Status, At: rec.At})
	d.countStatus(old, &v, rec.At)
	d.st.orders.Set(v.ID, &v)
	typ := service.EventReadyForPickup
	if v.Status == service.StatusCollected {
		typ = service.EventCollected
	}
	d.noteEvent(typ, v.ID, rec.At, "", "")
	return &v, nil
}

// cancelPickup cancels an in-store pick-up order (it never reaches the engine).
func (d *Daemon) cancelPickup(rec *record, old *service.Order) (any, error) {
	v := *old
	v.Status = "cancelled"
	v.Timeline = append(old.Timeline[:len(old.Timeline):len(old.Timeline)], service.TimelineEntry{Status: v.Status, At: rec.At, Reason: rec.Reason})
	d.countStatus(old, &v, rec.At)
	d.st.orders.Set(v.ID, &v)
	d.noteEvent(service.EventCancelled, v.ID, rec.At, "", rec.Reason)
	return &v, nil
}

// fulfilRequest is the network's view of an order input at now.
func fulfilRequest(in *service.OrderInput, deliverBy time.Time) *fulfil.Request {
	r := &fulfil.Request{StoreID: in.StoreID, Items: in.Items, Dropoff: in.Dropoff.Point(), DeliverBy: deliverBy,
		Collect: in.Fulfilment == service.FulfilPickup}
	if in.PrepSeconds != nil {
		p := time.Duration(*in.PrepSeconds) * time.Second
		r.Prep = &p
	}
	if in.ReadyAt != nil {
		r.ReadyAt = *in.ReadyAt
	}
	return r
}

// handedOver reports whether the goods have left the store (a courier picked them up, or the customer collected).
func handedOver(o *service.Order) bool {
	return o.PickedUpAt != nil || o.CollectedAt != nil
}

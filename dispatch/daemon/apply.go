package daemon

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

func errorf(code dispatch.ErrorCode, field, format string, args ...any) *dispatch.Error {
	return &dispatch.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// apply changes the state by one record: the engine first (which validates and changes nothing on error), then the
// daemon's own state, then the record's order events. It is the only writer of state, live and in recovery alike.
func (d *Daemon) apply(rec *record) (any, error) {
	d.actor = rec.By
	defer func() { d.actor = "" }()
	res, err := d.applyRecord(rec)
	if err != nil {
		d.pendingEvents = d.pendingEvents[:0]
		return nil, err
	}
	d.finishEvents(rec.At)
	return res, nil
}

func (d *Daemon) applyRecord(rec *record) (any, error) {
	if err := rec.check(); err != nil {
		return nil, err
	}
	s := d.st
	switch rec.Type {
	case recStorePut:
		in := rec.Store.view()
		if err := d.checkRegionChange(in); err != nil {
			return nil, err
		}
		// The network first: it refuses stock below what live orders hold, and then nothing has changed.
		if err := d.putNetStore(in, in.Inventory); err != nil {
			return nil, err
		}
		if err := d.applyEngine(rec.At, dispatch.StoreUpserted{Store: dispatch.Store{ID: in.ID, Name: in.Name, Location: in.Location.Point(), Region: in.Region}}); err != nil {
			return nil, err
		}
		v := *in
		v.Inventory = nil // the stock lives in the network; views show it on demand (withStock)
		v.CreatedAt, v.UpdatedAt = rec.At, rec.At
		if old, ok := s.stores.Get(in.ID); ok {
			v.CreatedAt, v.ActiveOrders, v.Paused = old.CreatedAt, old.ActiveOrders, old.Paused
		}
		s.stores.Set(v.ID, &v)
		return d.withStock(&v, rec.At), nil

	case recInventory:
		return d.applyInventory(rec)

	case recStoreAction:
		return d.applyStoreAction(rec)

	case recStoreDelete:
		// Open orders (delivery or in-store pick-up) keep a store; checked first, so neither the network nor the
		// engine changes unless both can.
		if v, ok := s.stores.Get(rec.ID); ok && v.ActiveOrders > 0 {
			return nil, errorf(dispatch.EConflict, "", "store %q has open orders", rec.ID)
		}
		if err := d.net.RemoveStore(rec.ID); err != nil {
			if dispatch.ErrorCodeOf(err) == dispatch.EConflict {
				return nil, errorf(dispatch.EConflict, "", "store %q has open orders", rec.ID)
			}
			return nil, err
		}
		if err := d.applyEngine(rec.At, dispatch.StoreRemoved{StoreID: rec.ID}); err != nil {
			if dispatch.ErrorCodeOf(err) == dispatch.EConflict {
				return nil, errorf(dispatch.EConflict, "", "store %q has open orders", rec.ID)
			}
			return nil, err
		}
		s.stores.Delete(rec.ID)
		return nil, nil

	case recCourierPut:
		return d.applyCourierPut(rec)

	case recKeyCreate:
		k := rec.Key
		if _, ok := s.keys.Get(k.ID); ok {
			return nil, errorf(dispatch.EConflict, "id", "api key %q exists", k.ID)
		}
		role, err := keyRole(k.Role)
		if err != nil {
			return nil, err
		}
		key := &service.APIKey{ID: k.ID, Name: k.Name, Role: role, CreatedAt: rec.At, Hash: k.Hash}
		s.keys.Set(k.ID, key)
		s.principals.Set(string(k.Hash), service.Principal{Role: key.Role, ID: k.ID})
		return key, nil

	case recWebhookPut:
		w := *rec.Webhook.webhook()
		w.CreatedAt, w.UpdatedAt, w.FromEvent = rec.At, rec.At, s.eventSeq
		if old, ok := s.webhooks.Get(w.ID); ok {
			w.CreatedAt, w.FromEvent = old.CreatedAt, old.FromEvent
		}
		s.webhooks.Set(w.ID, &w)
		return &w, nil

	case recWebhookDel:
		if _, ok := s.webhooks.Get(rec.ID); !ok {
			return nil, errorf(dispatch.ENotFound, "", "webhook %q not found", rec.ID)
		}
		s.webhooks.Delete(rec.ID)
		return nil, nil

	case recKeyRevoke:
		old, ok := s.keys.Get(rec.ID)
		if !ok {
			return nil, errorf(dispatch.ENotFound, "", "api key %q not found", rec.ID)
		}
		if old.RevokedAt == nil {
			k := *old
			k.RevokedAt = timePtr(rec.At)
			s.keys.Set(k.ID, &k)
			s.principals.Delete(string(k.Hash))
		}
		return nil, nil

	case recOrderPlace:
		return d.applyPlace(rec)

	case recOrderCancel:
		if o, ok := s.orders.Get(rec.ID); ok && o.Fulfilment == service.FulfilPickup {
			return d.cancelPickup(rec, o)
		}
		if _, ok := s.book[rec.ID]; ok {
			return d.cancelScheduled(rec)
		}
		if err := d.applyEngine(rec.At, dispatch.OrderCancelled{OrderID: rec.ID, Reason: rec.Reason}); err != nil {
			return nil, d.orderError(err, rec.ID)
		}
		o, _ := s.orders.Get(rec.ID)
		return o, nil

	case recShift:
		return d.applyShift(rec)

	case recAction:
		return d.applyAction(rec)

	case recSchedulePlan:
		return nil, d.applySchedulePlan(rec)

	case recScheduleRelease:
		return nil, d.applyRelease(rec)

	case recLocations:
		for _, l := range rec.Locations {
			d.moveCourier(rec.At, l)
		}
		return nil, nil

	case recTick:
		// A journal written before rounds were decisions: the round runs here, as it ran then.
		if err := d.applyEngine(rec.At, dispatch.DispatchTick{}); err != nil {
			return nil, err
		}
		d.lastStats = d.eng.LastRound()
		d.roundRetimed()
		return nil, nil

	case recDecision:
		return d.applyDecision(rec)

	case recOverride:
		return d.applyOverride(rec)

	case recWebhookCursors:
		d.applyCursors(rec)
		return nil, nil
	}
	return nil, errorf(dispatch.EInternal, "", "unknown record type %q", rec.Type)
}

// applyDecision applies a round's decision: what still holds of it goes into the engine, and the record keeps
// only that (the journal then holds the decision as applied, and a replay applies the same again).
func (d *Daemon) applyDecision(rec *record) (any, error) {
	res, err := d.eng.ApplyDecision(rec.At, rec.Decision.decision())
	if err != nil {
		return nil, err
	}
	d.absorb(rec.At, res.Effects)
	// The routes the round re-timed without changing them: their ETAs, as readers see them.
	for _, rp := range res.Applied.Retimed {
		d.retimeRoute(rp.CourierID)
	}
	rec.Decision = newDecisionRecord(res.Applied)
	d.lastStats = res.Applied.Stats
	if len(res.Dropped) > 0 && !d.replaying {
		d.log.Debug().Int("dropped", len(res.Dropped)).Str("first", res.Dropped[0].Reason).Msg("parts of a round no longer held")
	}
	return res, nil
}

// roundRetimed refreshes the ETAs readers see after a round (of an old journal's tick) re-timed routes; sorted,
// so that the events it makes come in the same order every time.
func (d *Daemon) roundRetimed() {
	for _, id := range slices.Sorted(maps.Keys(d.st.onRoute)) {
		d.retimeRoute(id)
	}
}

// retimeRoute refreshes the view of a courier's route after a round re-timed it.
func (d *Daemon) retimeRoute(id string) {
	if r, ok := d.eng.Route(id); ok {
		d.setRoute(r, false)
	}
}

// applyEngine applies one event and takes in its effects.
func (d *Daemon) applyEngine(at time.Time, ev dispatch.Event) error {
	fx, err := d.eng.Apply(at, ev)
	if err != nil {
		return err
	}
	d.absorb(at, fx)
	return nil
}

// orderError turns the engine's "not found" for an order the daemon has forgotten into the API's 404 on the path.
func (d *Daemon) orderError(err error, id string) error {
	if serr := d.scheduledError(id); serr != nil {
		return serr
	}
	if dispatch.ErrorCodeOf(err) == dispatch.ENotFound {
		if o, ok := d.st.orders.Get(id); !ok || o.Fulfilment == service.FulfilPickup {
			// An in-store pick-up order is never a courier's: to a courier it does not exist.
			return errorf(dispatch.ENotFound, "", "order %q not found", id)
		}
		// The engine forgot a finished order the daemon still shows: nothing can happen to it any more.
		return errorf(dispatch.EConflict, "", "order %q is finished", id)
	}
	return err
}

func (d *Daemon) applyCourierPut(rec *record) (any, error) {
	s, in := d.st, rec.Courier
	vehicle, err := geo.ParseProfile(in.Vehicle)
	if err != nil {
		return nil, errorf(dispatch.EInvalid, "vehicle", "vehicle must be one of foot, bike, ebike, scooter, car")
	}
	aux, known := s.aux[in.ID]
	if !known && in.TokenHash == nil {
		return nil, errorf(dispatch.EInternal, "", "new courier %q without a token", in.ID)
	}
	region := regionOfStored(in.Region)
	if old, ok := s.couriers.Get(in.ID); ok && old.Region != region && (aux.OnShift || old.RouteStops > 0) {
		// Checked here too, not only by the engine: a courier on shift awaiting its first position is not yet in
		// the engine's eyes.
		return nil, errorf(dispatch.EConflict, "region", "courier %q is on shift or has a route in region %q; its region can change once it is off shift with an empty route", in.ID, old.Region)
	}
	spec := dispatch.CourierSpec{ID: in.ID, Name: in.Name, Vehicle: vehicle, Capacity: in.Capacity, Skills: in.Skills, Region: region}
	if err := d.applyEngine(rec.At, dispatch.CourierRegistered{Courier: spec}); err != nil {
		return nil, err
	}
	if !known {
		aux = &courierAux{}
		s.aux[in.ID] = aux
	}
	if in.TokenHash != nil {
		if aux.TokenHash != nil {
			s.principals.Delete(string(aux.TokenHash))
		}
		aux.TokenHash = in.TokenHash
		s.principals.Set(string(in.TokenHash), service.Principal{Role: service.RoleCourier, ID: in.ID})
	}
	v := d.refreshCourier(in.ID, rec.At)
	return v, nil
}

func (d *Daemon) applyShift(rec *record) (any, error) {
	s, in := d.st, rec.Shift
	aux, ok := s.aux[in.Courier]
	if !ok {
		return nil, errorf(dispatch.ENotFound, "", "courier %q not found", in.Courier)
	}
	if !in.Online {
		if aux.InEngine {
			if err := d.applyEngine(rec.At, dispatch.CourierOffline{CourierID: in.Courier}); err != nil {
				return nil, err
			}
		}
		aux.OnShift, aux.InEngine = false, false
		return d.refreshCourier(in.Courier, rec.At), nil
	}
	var end time.Time
	if in.ShiftEnd != nil {
		end = *in.ShiftEnd
	}
	loc := in.Location.locationPtr()
	if loc == nil && aux.Location != nil && rec.At.Sub(aux.LocAt) <= d.cfg.FreshLocation {
		loc = aux.Location
	}
	if loc != nil {
		if err := d.applyEngine(rec.At, dispatch.CourierOnline{CourierID: in.Courier, Location: loc.Point(), ShiftEnd: end}); err != nil {
			return nil, err
		}
		aux.InEngine = true
		if in.Location != nil {
			aux.Location, aux.LocAt = in.Location.locationPtr(), rec.At
		}
	}
	aux.OnShift, aux.ShiftEnd = true, end
	return d.refreshCourier(in.Courier, rec.At), nil
}

// moveCourier applies a position to the engine and the courier's view. It reports whether the position was taken:
// one older than the courier's last is not, and must not be journaled either (a replay would apply it where the
// live daemon ignored it, and plan the next round from the wrong place).
func (d *Daemon) moveCourier(now time.Time, l locationRecord) bool {
	aux, ok := d.st.aux[l.Courier]
	if !ok || l.At.Before(aux.LocAt) {
		return false
	}
	loc := service.Location{Lat: l.Lat, Lon: l.Lon}
	if _, err := d.eng.Apply(now, dispatch.CourierMoved{CourierID: l.Courier, Location: loc.Point(), At: l.At}); err != nil {
		d.log.Warn().Err(err).Str("courier_id", l.Courier).Msg("position refused")
		return false
	}
	aux.Location, aux.LocAt = &loc, l.At
	if old, ok := d.st.couriers.Get(l.Courier); ok {
		v := *old
		v.Location, v.LocationAt = &loc, timePtr(l.At)
		d.st.setCourier(&v)
	}
	return true
}

func (d *Daemon) applyAction(rec *record) (any, error) {
	in := rec.Action
	var ev dispatch.Event
	switch in.Action {
	case "accept":
		ev = dispatch.CourierAccepted{CourierID: in.Courier, OrderID: in.Order}
	case "decline":
		ev = dispatch.CourierDeclined{CourierID: in.Courier, OrderID: in.Order, Reason: in.Reason}
	case "arrived":
		ev = dispatch.CourierArrived{CourierID: in.Courier, OrderID: in.Order}
	case "picked_up":
		ev = dispatch.OrderPickedUp{CourierID: in.Courier, OrderID: in.Order}
	case "delivered":
		ev = dispatch.OrderDelivered{CourierID: in.Courier, OrderID: in.Order}
	case "failed":
		ev = dispatch.OrderFailed{CourierID: in.Courier, OrderID: in.Order, Reason: in.Reason}
	default:
		return nil, errorf(dispatch.EInvalid, "action", "unknown action %q", in.Action)
	}
	if err := d.applyEngine(rec.At, ev); err != nil {
		return nil, d.orderError(err, in.Order)
	}
	o, _ := d.st.orders.Get(in.Order)
	return o, nil
}

func (d *Daemon) applyPlace(rec *record) (any, error) {
	s, in := d.st, rec.Order
	if in.ExternalID != "" {
		if id, dup := s.externalIDs[in.ExternalID]; dup {
			return nil, errorf(dispatch.EConflict, "external_id", "external_id %q is already order %s", in.ExternalID, id)
		}
	}
	st, ok := s.stores.Get(in.StoreID)
	if !ok {
		return nil, &dispatch.Error{Code: dispatch.EUnservable, Field: "store_id", Message: fmt.Sprintf("store %q not found", in.StoreID), Reasons: []string{"store_not_found"}}
	}
	fulfilment := in.Fulfilment
	if fulfilment == "" {
		fulfilment = service.FulfilDelivery // records written before in-store pick-up existed
	}
	view := &service.Order{
		ID: in.ID, ExternalID: in.ExternalID, Status: "pending", StoreID: in.StoreID, Region: st.Region,
		CreatedAt: in.CreatedAt, ReadyAt: in.ReadyAt, DeliverBy: in.DeliverBy, Size: max(in.Size, 1),
		Skills: in.Skills, Customer: in.Customer, Timeline: []service.TimelineEntry{{Status: "pending", At: rec.At}},
		Fulfilment: fulfilment, Items: in.Items, PickupBy: timePtr(in.PickupBy),
	}
	if !in.NoDropoff {
		drop := in.Dropoff.location()
		view.Dropoff = &drop
	}
	scheduled := d.scheduleView(rec.At, in, view)
	// The stock and the store's queue first: the network refuses (changing nothing) what it cannot hold.
	if err := d.net.Reserve(in.ID, fulfil.Plan{StoreID: in.StoreID, Ready: in.ReadyAt}, in.Items); err != nil {
		return nil, err
	}
	// The daemon's view goes in before the engine so that the engine's effects find it. In-store pick-up orders
	// never reach the engine: no courier takes them.
	s.orders.Set(in.ID, view)
	if fulfilment == service.FulfilDelivery && !scheduled {
		spec := dispatch.OrderSpec{ID: in.ID, StoreID: in.StoreID, Dropoff: in.Dropoff.Point(), Created: in.CreatedAt,
			Ready: in.engineReady(), DeliverBy: in.DeliverBy, PickupBy: in.PickupBy, Size: in.Size, Skills: in.Skills,
			AcceptLate: in.AcceptLate}
		if err := d.applyEngine(rec.At, dispatch.OrderPlaced{Order: spec}); err != nil {
			s.orders.Delete(in.ID)
			d.net.Release(in.ID)
			return nil, err
		}
	}
	if scheduled {
		d.book(in)
	}
	if st, ok := statusIndex(view.Status); ok {
		s.byStatus[st]++
	}
	if in.ExternalID != "" {
		s.externalIDs[in.ExternalID] = in.ID
	}
	cp := *st
	cp.ActiveOrders++
	s.stores.Set(cp.ID, &cp)
	o, _ := s.orders.Get(in.ID)
	// The answer is the order as it stands now, Late as of now; an idempotency key remembers it.
	answer := o.LateAt(rec.At)
	if in.IdemKey != "" {
		k := in.IdemScope + "\x00" + in.IdemKey
		s.idem[k] = &idemRecord{Hash: in.IdemHash, At: rec.At, OrderID: in.ID, Order: &answer}
		s.idemQ = append(s.idemQ, expiry{k, rec.At})
	}
	d.noteEvent(service.EventCreated, in.ID, rec.At, "", "")
	if scheduled {
		d.noteEvent(service.EventScheduled, in.ID, rec.At, "", "")
	}
	if !d.replaying {
		d.obs.OrderPlaced()
	}
	return &answer, nil
}

// absorb takes in an engine step's effects: order views, routes, courier views, counts.
func (d *Daemon) absorb(at time.Time, fx []dispatch.Effect) {
	for _, f := range fx {
		switch f := f.(type) {
		case dispatch.RouteChanged:
			d.setRoute(f.Route, true)
		case dispatch.OrderAssigned:
			d.orderChanged(at, f.OrderID, &service.TimelineEntry{Status: "assigned", At: at, CourierID: f.CourierID, By: d.actor}, "")
			d.noteEvent(service.EventAssigned, f.OrderID, at, f.Previous, "")
		case dispatch.OrderStatusChanged:
			// Back to pending after a decline or a courier going off shift comes with its reason here (the
			// OrderUnassigned that precedes it says nothing more); the placement's own "pending" is already in the
			// view that applyPlace made.
			if f.Status == dispatch.StatusPending && f.Reason == "" {
				continue
			}
			prev := ""
			if old, ok := d.st.orders.Get(f.OrderID); ok && f.Status == dispatch.StatusPending {
				prev = old.CourierID
			}
			d.orderChanged(at, f.OrderID, &service.TimelineEntry{Status: f.Status.String(), At: f.At, CourierID: f.CourierID, Reason: f.Reason, By: d.actor}, "")
			if typ := statusEvent[f.Status]; typ != "" {
				d.noteEvent(typ, f.OrderID, f.At, prev, f.Reason)
			}
		case dispatch.OrderUnplaced:
			d.orderChanged(at, f.OrderID, nil, string(f.Reason))
		}
	}
}

// orderChanged refreshes an order's view from the engine, adding a timeline entry or a waiting reason.
func (d *Daemon) orderChanged(at time.Time, id string, entry *service.TimelineEntry, waiting string) {
	s := d.st
	old, ok := s.orders.Get(id)
	if !ok {
		return
	}
	o, inEngine := d.eng.Order(id)
	v := *old
	if entry != nil {
		v.Timeline = append(slices.Clip(old.Timeline), *entry)
	}
	if waiting != "" {
		v.WaitingReason = waiting
	}
	if inEngine {
		v.Status = o.Status.String()
		v.CourierID = o.CourierID
		if o.Status == dispatch.StatusPending {
			v.CourierID = "" // the engine remembers who last held it; the API shows the courier of an assigned order
		}
		v.Locked = o.Locked
		v.PickedUpAt = timePtr(o.PickedUpAt)
		v.DeliveredAt = timePtr(o.DeliveredAt)
		v.ETA = nil
		if !o.Status.Final() && (!o.PickupETA.IsZero() || !o.DropoffETA.IsZero()) {
			v.ETA = &service.ETA{PickupAt: timePtr(o.PickupETA), DropoffAt: timePtr(o.DropoffETA)}
		}
		if o.Status != dispatch.StatusPending {
			v.WaitingReason = ""
		}
	}
	if v.Status != old.Status {
		d.countStatus(old, &v, at)
	}
	s.orders.Set(id, &v)
}

// countStatus keeps the counts by status, the stores' active orders and the finished queue in step with a change.
func (d *Daemon) countStatus(old, v *service.Order, at time.Time) {
	s := d.st
	if st, ok := statusIndex(old.Status); ok {
		s.byStatus[st]--
	}
	if st, ok := statusIndex(v.Status); ok {
		s.byStatus[st]++
	}
	// The goods leave the store at pick-up or collection (their stock is used up); an order that ends before that
	// gives its reservation back.
	switch {
	case v.Status == "picked_up" || v.Status == service.StatusCollected:
		d.net.HandOver(v.ID)
	case v.Final():
		d.net.Release(v.ID)
	}
	if v.Final() && !old.Final() {
		delete(s.announced, v.ID)
		s.finishedQ = append(s.finishedQ, expiry{v.ID, at})
		if st, ok := s.stores.Get(v.StoreID); ok {
			cp := *st
			cp.ActiveOrders = max(cp.ActiveOrders-1, 0)
			s.stores.Set(cp.ID, &cp)
		}
		if !d.replaying {
			if v.DeliveredAt != nil {
				d.obs.OrderDelivered(v.DeliveredAt.Sub(v.CreatedAt), v.DeliveredAt.After(v.DeliverBy))
			}
			d.obs.OrderFinished(v.Status)
		}
	}
}

// statusEvent is the event of each status change reported by OrderStatusChanged (pending: back from a courier).
var statusEvent = map[dispatch.OrderStatus]string{
	dispatch.StatusPending:   service.EventUnassigned,
	dispatch.StatusPickedUp:  service.EventPickedUp,
	dispatch.StatusDelivered: service.EventDelivered,
	dispatch.StatusCancelled: service.EventCancelled,
	dispatch.StatusFailed:    service.EventFailed,
}

// setRoute stores a courier's route view and the ETAs of its orders; versionChanged marks it for the streams.
func (d *Daemon) setRoute(r dispatch.Route, versionChanged bool) {
	s := d.st
	old, had := s.routes.Get(r.CourierID)
	rv := &service.Route{CourierID: r.CourierID, Version: r.Version, Stops: make([]service.Stop, len(r.Stops))}
	for i, st := range r.Stops {
		sv := service.Stop{Kind: st.Kind.String(), OrderID: st.OrderID, StoreID: st.StoreID, Location: locationOf(st.Location),
			ETA: st.Handover.UTC(), DeliverBy: st.DeliverBy.UTC()}
		if o, ok := s.orders.Get(st.OrderID); ok && st.Kind == dispatch.Dropoff {
			sv.Customer = o.Customer
		}
		rv.Stops[i] = sv
	}
	if had && !versionChanged && routesEqual(old, rv) {
		return
	}
	s.routes.Set(r.CourierID, rv)
	if len(rv.Stops) > 0 {
		s.onRoute[r.CourierID] = struct{}{}
	} else {
		delete(s.onRoute, r.CourierID)
	}
	if versionChanged && (!d.replaying || d.following) {
		d.stepChanged = append(d.stepChanged, r.CourierID)
	}
	// The ETAs of the orders on it.
	for i := range rv.Stops {
		id := rv.Stops[i].OrderID
		o, ok := s.orders.Get(id)
		if !ok || o.Final() {
			continue
		}
		eta := service.ETA{}
		if o.ETA != nil {
			eta = *o.ETA
		}
		t := rv.Stops[i].ETA
		if rv.Stops[i].Kind == "pickup" {
			eta.PickupAt = &t
		} else {
			eta.DropoffAt = &t
		}
		if o.ETA == nil || !sameTime(o.ETA.PickupAt, eta.PickupAt) || !sameTime(o.ETA.DropoffAt, eta.DropoffAt) {
			v := *o
			v.ETA = &eta
			s.orders.Set(id, &v)
		}
		if rv.Stops[i].Kind == "dropoff" {
			d.watchETA(id)
		}
	}
	d.refreshCourier(r.CourierID, d.eng.Now())
}

// watchETA notes that an order's planned drop-off changed; finishEvents decides whether order services hear of it.
func (d *Daemon) watchETA(id string) {
	if d.etaTouched == nil {
		d.etaTouched = map[string]bool{}
	}
	d.etaTouched[id] = true
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func routesEqual(a, b *service.Route) bool {
	if a.Version != b.Version || len(a.Stops) != len(b.Stops) {
		return false
	}
	for i := range a.Stops {
		x, y := &a.Stops[i], &b.Stops[i]
		if x.Kind != y.Kind || x.OrderID != y.OrderID || !x.ETA.Equal(y.ETA) {
			return false
		}
	}
	return true
}

// refreshCourier rebuilds a courier's view from the engine, its shift state and its route.
func (d *Daemon) refreshCourier(id string, at time.Time) *service.Courier {
	s := d.st
	c, ok := d.eng.Courier(id)
	aux := s.aux[id]
	if !ok || aux == nil {
		return nil
	}
	v := &service.Courier{ID: id, Name: c.Name, Region: c.Region, Vehicle: c.Vehicle.String(), Capacity: c.Capacity, Skills: c.Skills,
		Load: c.Load, CreatedAt: at, UpdatedAt: at, ShiftEnd: timePtr(aux.ShiftEnd)}
	if old, ok := s.couriers.Get(id); ok {
		v.CreatedAt = old.CreatedAt
		if old.Name == v.Name && old.Region == v.Region && old.Vehicle == v.Vehicle && old.Capacity == v.Capacity && slices.Equal(old.Skills, v.Skills) {
			v.UpdatedAt = old.UpdatedAt
		}
	}
	if aux.Location != nil {
		loc := *aux.Location
		v.Location, v.LocationAt = &loc, timePtr(aux.LocAt)
	}
	if r, ok := s.routes.Get(id); ok {
		v.RouteVersion, v.RouteStops = r.Version, len(r.Stops)
	}
	switch {
	case !aux.OnShift:
		v.Status = service.CourierOffline
	case !aux.InEngine:
		v.Status = service.CourierAwaitingLocation
	case v.RouteStops > 0:
		v.Status = service.CourierBusy
	default:
		v.Status = service.CourierIdle
	}
	s.setCourier(v)
	return v
}

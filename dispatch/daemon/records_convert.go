package daemon

import (
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The journal's records (records.go) and the checkpoint's (package checkpoint) are types of their own, not the
// API's views: every conversion between them and the API's types is in this file.

// Journal records.

func newLatLon(l service.Location) latLon { return latLon(l) }

func (l latLon) location() service.Location { return service.Location(l) }

func newLatLonPtr(l *service.Location) *latLon {
	if l == nil {
		return nil
	}
	ll := latLon(*l)
	return &ll
}

func (l *latLon) locationPtr() *service.Location {
	if l == nil {
		return nil
	}
	loc := service.Location(*l)
	return &loc
}

// storedRegion is a region as records and checkpoints keep it: empty for the default region, so that what was
// written before regions existed reads as it.
func storedRegion(r string) string {
	if r == service.DefaultRegion {
		return ""
	}
	return r
}

// regionOfStored is the region a record or checkpoint keeps (storedRegion's inverse).
func regionOfStored(r string) string {
	if r == "" {
		return service.DefaultRegion
	}
	return r
}

// newStoreRecord is a store_put record's store: the settings of v and the stock it sets (v.Inventory).
func newStoreRecord(v *service.Store) *storeRecord {
	return &storeRecord{ID: v.ID, Name: v.Name, Location: newLatLon(v.Location), PrepSeconds: v.PrepSeconds,
		MaxActiveOrders: v.MaxActiveOrders, Hours: v.Hours, Timezone: v.Timezone, Region: storedRegion(v.Region),
		Inventory: v.Inventory}
}

// view is the store of a store_put record, before the apply sets what the state knows (times, active orders).
func (r *storeRecord) view() *service.Store {
	return &service.Store{ID: r.ID, Name: r.Name, Region: regionOfStored(r.Region), Location: r.Location.location(),
		PrepSeconds: r.PrepSeconds, MaxActiveOrders: r.MaxActiveOrders, Hours: r.Hours, Timezone: r.Timezone,
		Inventory: r.Inventory}
}

func newWebhookRecord(w *Webhook) *webhookRecord {
	return &webhookRecord{ID: w.ID, URL: w.URL, Secret: w.Secret, Events: w.Events}
}

// webhook is the webhook of a webhook_put record, before the apply sets its times and first event.
func (r *webhookRecord) webhook() *Webhook {
	return &Webhook{ID: r.ID, URL: r.URL, Secret: r.Secret, Events: r.Events}
}

// Checkpoint records.

func ckptLocation(l *service.Location) *checkpoint.Location {
	if l == nil {
		return nil
	}
	return &checkpoint.Location{Lat: l.Lat, Lon: l.Lon}
}

func viewLocation(l *checkpoint.Location) *service.Location {
	if l == nil {
		return nil
	}
	loc := service.Location(*l)
	return &loc
}

func ckptStore(v *service.Store, stock map[string]int) *checkpoint.Store {
	return &checkpoint.Store{ID: v.ID, Name: v.Name, Region: storedRegion(v.Region), Location: *ckptLocation(&v.Location), PrepSeconds: v.PrepSeconds,
		MaxActiveOrders: v.MaxActiveOrders, Hours: v.Hours, Timezone: v.Timezone, Stock: stock, Reserved: v.Reserved,
		Preparing: v.Preparing, ActiveOrders: v.ActiveOrders, Paused: v.Paused, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

// storeView is the store of a record, and its stock on hand (the view holds none: the network keeps it).
func storeView(r *checkpoint.Store) (*service.Store, map[string]int) {
	stock := r.Stock
	if stock == nil {
		stock = map[string]int{}
	}
	return &service.Store{ID: r.ID, Name: r.Name, Region: regionOfStored(r.Region), Location: *viewLocation(&r.Location), PrepSeconds: r.PrepSeconds,
		MaxActiveOrders: r.MaxActiveOrders, Hours: r.Hours, Timezone: r.Timezone, Reserved: r.Reserved,
		Preparing: r.Preparing, ActiveOrders: r.ActiveOrders, Paused: r.Paused, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, stock
}

func ckptCourier(v *service.Courier, a courierAux) *checkpoint.Courier {
	return &checkpoint.Courier{ID: v.ID, Name: v.Name, Region: storedRegion(v.Region), Vehicle: v.Vehicle, Capacity: v.Capacity, Skills: v.Skills,
		Status: v.Status, Location: ckptLocation(v.Location), LocationAt: v.LocationAt, ShiftEnd: v.ShiftEnd,
		Load: v.Load, RouteVersion: v.RouteVersion, RouteStops: v.RouteStops, CreatedAt: v.CreatedAt,
		UpdatedAt: v.UpdatedAt, TokenHash: a.TokenHash, OnShift: a.OnShift, InEngine: a.InEngine,
		LastLocation: ckptLocation(a.Location), LastLocAt: a.LocAt, ShiftEndAt: a.ShiftEnd}
}

func courierView(r *checkpoint.Courier) (*service.Courier, courierAux) {
	return &service.Courier{ID: r.ID, Name: r.Name, Region: regionOfStored(r.Region), Vehicle: r.Vehicle, Capacity: r.Capacity, Skills: r.Skills,
			Status: r.Status, Location: viewLocation(r.Location), LocationAt: r.LocationAt, ShiftEnd: r.ShiftEnd,
			Load: r.Load, RouteVersion: r.RouteVersion, RouteStops: r.RouteStops, CreatedAt: r.CreatedAt,
			UpdatedAt: r.UpdatedAt},
		courierAux{TokenHash: r.TokenHash, OnShift: r.OnShift, InEngine: r.InEngine, Location: viewLocation(r.LastLocation),
			LocAt: r.LastLocAt, ShiftEnd: r.ShiftEndAt}
}

func ckptOrder(v *service.Order) *checkpoint.Order {
	r := &checkpoint.Order{ID: v.ID, ExternalID: v.ExternalID, Status: v.Status, StoreID: v.StoreID, Region: storedRegion(v.Region),
		CourierID: v.CourierID, Dropoff: ckptLocation(v.Dropoff), CreatedAt: v.CreatedAt, ReadyAt: v.ReadyAt,
		DeliverBy: v.DeliverBy, Size: v.Size, Skills: v.Skills, Customer: v.Customer, Fulfilment: v.Fulfilment,
		PickupBy: v.PickupBy, Late: v.Late, PickedUpAt: v.PickedUpAt, DeliveredAt: v.DeliveredAt,
		ReadyForPickupAt: v.ReadyForPickupAt, CollectedAt: v.CollectedAt, WaitingReason: v.WaitingReason, Locked: v.Locked,
		DeliverAfter: v.DeliverAfter, Schedule: ckptOrderSchedule(v.Schedule)}
	if v.Items != nil {
		r.Items = make([]checkpoint.Item, len(v.Items))
		for i, it := range v.Items {
			r.Items[i] = checkpoint.Item{SKU: it.SKU, Qty: it.Qty}
		}
	}
	if e := v.ETA; e != nil {
		r.ETA = &checkpoint.ETA{PickupAt: e.PickupAt, DropoffAt: e.DropoffAt}
		if l := e.Leg; l != nil {
			r.ETA.Leg = &checkpoint.Leg{Polyline: l.Polyline, Metres: l.Metres, Seconds: l.Seconds}
		}
	}
	if v.Timeline != nil {
		r.Timeline = make([]checkpoint.Step, len(v.Timeline))
		for i, s := range v.Timeline {
			r.Timeline[i] = checkpoint.Step{Status: s.Status, At: s.At, CourierID: s.CourierID, Reason: s.Reason, By: s.By}
		}
	}
	return r
}

func orderView(r *checkpoint.Order) *service.Order {
	v := &service.Order{ID: r.ID, ExternalID: r.ExternalID, Status: r.Status, StoreID: r.StoreID, Region: regionOfStored(r.Region),
		CourierID: r.CourierID, Dropoff: viewLocation(r.Dropoff), CreatedAt: r.CreatedAt, ReadyAt: r.ReadyAt,
		DeliverBy: r.DeliverBy, Size: r.Size, Skills: r.Skills, Customer: r.Customer, Fulfilment: r.Fulfilment,
		PickupBy: r.PickupBy, Late: r.Late, PickedUpAt: r.PickedUpAt, DeliveredAt: r.DeliveredAt,
		ReadyForPickupAt: r.ReadyForPickupAt, CollectedAt: r.CollectedAt, WaitingReason: r.WaitingReason, Locked: r.Locked,
		DeliverAfter: r.DeliverAfter, Schedule: orderScheduleView(r.Schedule)}
	if r.Items != nil {
		v.Items = make([]fulfil.Item, len(r.Items))
		for i, it := range r.Items {
			v.Items[i] = fulfil.Item{SKU: it.SKU, Qty: it.Qty}
		}
	}
	if e := r.ETA; e != nil {
		v.ETA = &service.ETA{PickupAt: e.PickupAt, DropoffAt: e.DropoffAt}
		if l := e.Leg; l != nil {
			v.ETA.Leg = &service.Leg{Polyline: l.Polyline, Metres: l.Metres, Seconds: l.Seconds}
		}
	}
	if r.Timeline != nil {
		v.Timeline = make([]service.TimelineEntry, len(r.Timeline))
		for i, s := range r.Timeline {
			v.Timeline[i] = service.TimelineEntry{Status: s.Status, At: s.At, CourierID: s.CourierID, Reason: s.Reason, By: s.By}
		}
	}
	return v
}

func ckptKey(k *service.APIKey) *checkpoint.Key {
	return &checkpoint.Key{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, Hash: k.Hash}
}

func keyView(r *checkpoint.Key) *service.APIKey {
	return &service.APIKey{ID: r.ID, Name: r.Name, Role: r.Role, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt, Hash: r.Hash}
}

func ckptWebhook(w *Webhook) *checkpoint.Webhook {
	return &checkpoint.Webhook{ID: w.ID, URL: w.URL, Secret: w.Secret, Events: w.Events, FromEvent: w.FromEvent,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Delivered: w.Delivered}
}

func webhookOf(r *checkpoint.Webhook) *Webhook {
	return &Webhook{ID: r.ID, URL: r.URL, Secret: r.Secret, Events: r.Events, FromEvent: r.FromEvent,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Delivered: r.Delivered}
}

func ckptIdem(key string, r *idemRecord) *checkpoint.Idem {
	status, body := r.stored()
	return &checkpoint.Idem{Key: key, Hash: r.Hash, Status: status, Body: body, At: r.At, OrderID: r.OrderID}
}

func idemOf(r *checkpoint.Idem) (*idemRecord, error) {
	return idemFromStored(r.Hash, r.At, r.OrderID, r.Status, r.Body)
}

package daemon

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// shop is an order service's principal in these tests.
func (h *harness) shop(key string) service.Principal {
	return service.Principal{Role: service.RoleOrders, ID: key}
}

func (h *harness) place(p service.Principal, in service.OrderInput) (*service.Order, error) {
	h.t.Helper()
	body, err := orderJSON(h.d.PlaceOrder(ctx, p, "", nil, in))
	if err != nil {
		return nil, err
	}
	var o service.Order
	if err := json.Unmarshal(body, &o); err != nil {
		h.t.Fatal(err)
	}
	return &o, nil
}

func (h *harness) stock(store string) (onHand, reserved map[string]int) {
	h.t.Helper()
	v, err := h.d.StoreDetail(ctx, store)
	if err != nil {
		h.t.Fatal(err)
	}
	return v.Inventory, v.Reserved
}

func wantCode(t *testing.T, err error, code dispatch.ErrorCode, field string) *dispatch.Error {
	t.Helper()
	var e *dispatch.Error
	if !errors.As(err, &e) || e.Code != code || (field != "" && e.Field != field) {
		t.Fatalf("got %v, want %s on %q", err, code, field)
	}
	return e
}

// grocery registers two stores with stock beside the city's two (which have none): "near" (where s0 is, close to
// the drop-offs used below) with little stock and "far" with more.
func (h *harness) grocery() {
	h.t.Helper()
	for _, s := range []service.StoreInput{
		{ID: "near", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, PrepSeconds: 300, Inventory: map[string]int{"milk": 2, "eggs": 1}},
		{ID: "far", Location: service.Location{Lat: 31.2504, Lon: 121.4937}, PrepSeconds: 300, Inventory: map[string]int{"milk": 50, "eggs": 50, "rice": 5}},
	} {
		if _, _, err := h.d.PutStore(ctx, s); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestOrderByItemsChoosesAStoreAndReservesStock(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop(h.city())
	h.grocery()
	drop := service.Location{Lat: 31.2320, Lon: 121.4750}
	o, err := h.place(shop, service.OrderInput{Items: []fulfil.Item{{SKU: "milk", Qty: 1}, {SKU: "eggs", Qty: 1}}, Dropoff: drop})
	if err != nil {
		t.Fatal(err)
	}
	if o.StoreID != "near" || o.Fulfilment != service.FulfilDelivery || len(o.Items) != 2 {
		t.Fatalf("order %+v: want the near store, delivery, two items", o)
	}
	if on, res := h.stock("near"); !maps.Equal(on, map[string]int{"milk": 2, "eggs": 1}) || !maps.Equal(res, map[string]int{"milk": 1, "eggs": 1}) {
		t.Fatalf("near: on hand %v, reserved %v", on, res)
	}
	// The near store has no egg left to sell: the next order goes to the far one.
	o2, err := h.place(shop, service.OrderInput{Items: []fulfil.Item{{SKU: "eggs", Qty: 1}}, Dropoff: drop})
	if err != nil || o2.StoreID != "far" {
		t.Fatalf("second order: %+v, %v; want the far store", o2, err)
	}
	// Nobody has this much rice: 422 with the reason of each store.
	_, err = h.place(shop, service.OrderInput{Items: []fulfil.Item{{SKU: "rice", Qty: 6}}, Dropoff: drop})
	e := wantCode(t, err, dispatch.EUnservable, "items")
	if len(e.Candidates) != 4 || !slices.Equal(e.Reasons, []string{fulfil.ReasonOutOfStock}) {
		t.Fatalf("candidates %+v, want the city's four stores, all out of stock", e.Candidates)
	}
	// Cancelling gives the stock back.
	if _, err := h.d.CancelOrder(ctx, o.ID, "customer"); err != nil {
		t.Fatal(err)
	}
	if _, res := h.stock("near"); len(res) != 0 {
		t.Fatalf("reserved after cancellation: %v", res)
	}
	// A quote answers from the same logic and changes nothing.
	q, err := h.d.Quote(ctx, service.OrderInput{Items: []fulfil.Item{{SKU: "milk", Qty: 2}}, Dropoff: drop})
	if err != nil || q.StoreID != "near" || q.ReadyAt == nil {
		t.Fatalf("quote %+v, %v", q, err)
	}
	if _, res := h.stock("near"); len(res) != 0 {
		t.Fatalf("a quote reserved stock: %v", res)
	}
	q, _ = h.d.Quote(ctx, service.OrderInput{Items: []fulfil.Item{{SKU: "rice", Qty: 9}}, Dropoff: drop})
	if q.Feasible || len(q.Candidates) != 4 || q.Reasons[0] != fulfil.ReasonOutOfStock {
		t.Fatalf("unservable quote %+v", q)
	}
}

func TestPickedUpOrderUsesStockUp(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop(h.city())
	h.grocery()
	o, err := h.place(shop, service.OrderInput{StoreID: "far", Items: []fulfil.Item{{SKU: "rice", Qty: 2}}, Dropoff: service.Location{Lat: 31.2400, Lon: 121.4830}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.d.View().Order(o.ID)
	if got.Status != "assigned" {
		t.Fatalf("order is %s after a round, want assigned", got.Status)
	}
	for _, a := range []string{"accept", "arrived"} {
		if _, err := h.d.CourierAction(ctx, got.CourierID, o.ID, a, ""); err != nil {
			t.Fatal(a, err)
		}
	}
	h.clock.Advance(6 * time.Minute)
	if _, err := h.d.CourierAction(ctx, got.CourierID, o.ID, "picked_up", ""); err != nil {
		t.Fatal(err)
	}
	if on, res := h.stock("far"); on["rice"] != 3 || len(res) != 0 {
		t.Fatalf("after pick-up: on hand %v, reserved %v; want rice 3, nothing reserved", on, res)
	}
}

func TestPickingQueueDelaysReadyTimes(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop(h.city())
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "one-picker", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, PrepSeconds: 600, MaxActiveOrders: 1}); err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	promise := 3600
	in := service.OrderInput{StoreID: "one-picker", Dropoff: service.Location{Lat: 31.2320, Lon: 121.4750}, PromiseSeconds: &promise}
	q, err := h.d.Quote(ctx, in)
	if err != nil || !q.ReadyAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("quote of the first order: %+v, %v", q, err)
	}
	for i, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute} {
		o, err := h.place(shop, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.ReadyAt.Sub(now); got != want {
			t.Fatalf("order %d ready at +%s, want +%s", i, got, want)
		}
	}
	// The quote reflects the queue.
	if q, _ := h.d.Quote(ctx, in); !q.ReadyAt.Equal(now.Add(40 * time.Minute)) {
		t.Fatalf("quote behind three orders: ready %v, want +40m", q.ReadyAt)
	}
	// A promise the queue cannot keep: the store is busy.
	short := 1800
	in.PromiseSeconds = &short
	_, err = h.place(shop, in)
	if e := wantCode(t, err, dispatch.EUnservable, "store_id"); e.Reasons[0] != fulfil.ReasonStoreBusy {
		t.Fatalf("reasons %v, want store_busy", e.Reasons)
	}
}

func TestClosedStore(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil) // Monday 2026-11-23 11:00 UTC = 19:00 in Shanghai
	shop := h.shop(h.city())
	hours := json.RawMessage(`{"mon":["08:00-18:00"],"tue":["08:00-18:00"]}`)
	_, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "sh", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, PrepSeconds: 600, Hours: hours, Timezone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	// Bad hours and zones are refused with their field.
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "x", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, Hours: json.RawMessage(`{"mon":["8-18"]}`)})
	wantCode(t, err, dispatch.EInvalid, "hours.mon[0]")
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "x", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, Hours: hours, Timezone: "Mars/Olympus"})
	wantCode(t, err, dispatch.EInvalid, "timezone")

	drop := service.Location{Lat: 31.2320, Lon: 121.4750}
	_, err = h.place(shop, service.OrderInput{StoreID: "sh", Dropoff: drop})
	if e := wantCode(t, err, dispatch.EUnservable, "store_id"); e.Reasons[0] != fulfil.ReasonClosed {
		t.Fatalf("reasons %v, want closed", e.Reasons)
	}
	// Tuesday 08:00 in Shanghai is Tuesday 00:00 UTC: a promise of 09:00 there is kept from the opening.
	opening := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	by := opening.Add(time.Hour)
	o, err := h.place(shop, service.OrderInput{StoreID: "sh", Dropoff: drop, DeliverBy: &by})
	if err != nil {
		t.Fatal(err)
	}
	if !o.ReadyAt.Equal(opening.Add(10*time.Minute)) || o.PickupBy == nil || !o.PickupBy.Equal(opening.Add(10*time.Hour)) {
		t.Fatalf("ready %s, pick-up by %v; want 00:10Z and 10:00Z", o.ReadyAt, o.PickupBy)
	}
	// Couriers are on shift all night: no round plans the pick-up before the store opens.
	for range 3 {
		if err := h.d.DispatchNow(ctx); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Hour)
		for _, c := range h.d.View().Couriers("") {
			r, _ := h.d.View().Route(c.ID)
			for _, s := range r.Stops {
				if s.Kind == "pickup" && s.ETA.Before(opening.Add(10*time.Minute)) {
					t.Fatalf("pick-up planned at %s, before the order is ready after opening", s.ETA)
				}
			}
		}
	}
}

func TestInStorePickup(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop(h.city())
	h.grocery()
	o, err := h.place(shop, service.OrderInput{StoreID: "far", Fulfilment: service.FulfilPickup, NoDropoff: true, Items: []fulfil.Item{{SKU: "rice", Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Fulfilment != service.FulfilPickup || o.Status != "pending" {
		t.Fatalf("order %+v", o)
	}
	// No dropoff and no store: nothing to choose a store by.
	_, err = h.place(shop, service.OrderInput{Fulfilment: service.FulfilPickup, NoDropoff: true, Items: []fulfil.Item{{SKU: "rice", Qty: 1}}})
	wantCode(t, err, dispatch.EInvalid, "dropoff")
	// A round gives it to no courier.
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.d.View().Couriers("") {
		r, _ := h.d.View().Route(c.ID)
		for _, s := range r.Stops {
			if s.OrderID == o.ID {
				t.Fatalf("in-store pick-up order on %s's route", c.ID)
			}
		}
	}
	// A courier cannot touch it; another store cannot either; collected before ready is a conflict.
	_, err = h.d.CourierAction(ctx, "c0", o.ID, "accept", "")
	wantCode(t, err, dispatch.ENotFound, "")
	_, err = h.d.StoreOrderAction(ctx, "near", o.ID, service.StoreActionReady)
	wantCode(t, err, dispatch.ENotFound, "")
	_, err = h.d.StoreOrderAction(ctx, "far", o.ID, service.StoreActionCollected)
	wantCode(t, err, dispatch.EConflict, "")
	if _, err := h.d.StoreOrderAction(ctx, "far", o.ID, service.StoreActionReady); err != nil {
		t.Fatal(err)
	}
	got, err := h.d.StoreOrderAction(ctx, "far", o.ID, service.StoreActionCollected)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != service.StatusCollected || got.CollectedAt == nil || len(got.Timeline) != 3 {
		t.Fatalf("collected order %+v", got)
	}
	if on, res := h.stock("far"); on["rice"] != 4 || len(res) != 0 {
		t.Fatalf("after collection: on hand %v, reserved %v", on, res)
	}
	if n := h.d.View().OrdersByStatus()[service.StatusCollected]; n != 1 {
		t.Fatalf("%d collected orders counted, want 1", n)
	}
	// Cancelling a pick-up order that is ready but never collected gives its stock back.
	o2, err := h.place(shop, service.OrderInput{StoreID: "far", Fulfilment: service.FulfilPickup, NoDropoff: true, Items: []fulfil.Item{{SKU: "rice", Qty: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.StoreOrderAction(ctx, "far", o2.ID, service.StoreActionReady); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.CancelOrder(ctx, o2.ID, "no_show"); err != nil {
		t.Fatal(err)
	}
	if _, res := h.stock("far"); len(res) != 0 {
		t.Fatalf("reserved after cancelling: %v", res)
	}
	// The events tell order services.
	var types []string
	for _, ev := range allEvents(t, h.d) {
		if ev.Order.ID == o.ID {
			types = append(types, ev.Type)
		}
	}
	if want := []string{service.EventCreated, service.EventReadyForPickup, service.EventCollected}; !slices.Equal(types, want) {
		t.Fatalf("events of the pick-up order %v, want %v", types, want)
	}
}

func TestInventoryPatch(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop(h.city())
	h.grocery()
	if _, err := h.place(shop, service.OrderInput{StoreID: "far", Items: []fulfil.Item{{SKU: "rice", Qty: 3}}, Dropoff: service.Location{Lat: 31.2400, Lon: 121.4830}}); err != nil {
		t.Fatal(err)
	}
	_, err := h.d.PatchInventory(ctx, "far", service.InventoryChange{Adjust: map[string]int{"rice": -3}})
	wantCode(t, err, dispatch.EConflict, "adjust.rice")
	_, err = h.d.PatchInventory(ctx, "far", service.InventoryChange{Set: map[string]int{"rice": -1}})
	wantCode(t, err, dispatch.EInvalid, "set.rice")
	_, err = h.d.PatchInventory(ctx, "nope", service.InventoryChange{Set: map[string]int{"rice": 1}})
	wantCode(t, err, dispatch.ENotFound, "")
	v, err := h.d.PatchInventory(ctx, "far", service.InventoryChange{Set: map[string]int{"tea": 7}, Adjust: map[string]int{"rice": 10, "milk": -50}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"eggs": 50, "rice": 15, "tea": 7}; !maps.Equal(v.Inventory, want) || v.Reserved["rice"] != 3 {
		t.Fatalf("inventory %v reserved %v, want %v with rice 3 reserved", v.Inventory, v.Reserved, want)
	}
	// A PUT without inventory keeps the stock; with it, replaces it (not below what is reserved).
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "far", Location: service.Location{Lat: 31.2504, Lon: 121.4937}, PrepSeconds: 120}); err != nil {
		t.Fatal(err)
	}
	if on, _ := h.stock("far"); on["tea"] != 7 {
		t.Fatalf("PUT without inventory lost stock: %v", on)
	}
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "far", Location: service.Location{Lat: 31.2504, Lon: 121.4937}, Inventory: map[string]int{"rice": 2}})
	wantCode(t, err, dispatch.EConflict, "inventory.rice")
}

// TestStockSurvivesRestarts: inventory and reservations are exact after a crash (journal replay) and after a
// graceful stop (checkpoint), with orders of every kind on the way.
func TestStockSurvivesRestarts(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, func(c *Config) { c.CheckpointRecords = 5 })
	shop := h.shop(h.city())
	h.grocery()
	var ids []string
	for i, in := range []service.OrderInput{
		{Items: []fulfil.Item{{SKU: "milk", Qty: 1}}, Dropoff: service.Location{Lat: 31.2320, Lon: 121.4750}},
		{StoreID: "far", Items: []fulfil.Item{{SKU: "rice", Qty: 2}, {SKU: "eggs", Qty: 3}}, Dropoff: service.Location{Lat: 31.2400, Lon: 121.4830}},
		{StoreID: "far", Fulfilment: service.FulfilPickup, NoDropoff: true, Items: []fulfil.Item{{SKU: "milk", Qty: 4}}},
		{StoreID: "near", Fulfilment: service.FulfilPickup, NoDropoff: true, Items: []fulfil.Item{{SKU: "eggs", Qty: 1}}},
	} {
		o, err := h.place(shop, in)
		if err != nil {
			t.Fatal(i, err)
		}
		ids = append(ids, o.ID)
	}
	if _, err := h.d.PatchInventory(ctx, "far", service.InventoryChange{Adjust: map[string]int{"rice": 7}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.StoreOrderAction(ctx, "far", ids[2], service.StoreActionReady); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.CancelOrder(ctx, ids[3], ""); err != nil {
		t.Fatal(err)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	h.d.ckptWG.Wait()
	want := stateOf(t, h.d)
	h.crash()
	h2 := start(t, dir, clock, func(c *Config) { c.CheckpointRecords = 5 })
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after a crash differs:\n%s", firstDiff(want, got))
	}
	h2.close()
	h3 := start(t, dir, clock, nil)
	if got := stateOf(t, h3.d); got != want {
		t.Fatalf("state after a graceful restart differs:\n%s", firstDiff(want, got))
	}
	// And the restored network keeps working: the collected order uses its stock up.
	if _, err := h3.d.StoreOrderAction(ctx, "far", ids[2], service.StoreActionCollected); err != nil {
		t.Fatal(err)
	}
	if on, _ := h3.stock("far"); on["milk"] != 46 {
		t.Fatalf("milk on hand %d after collecting 4 of 50", on["milk"])
	}
}

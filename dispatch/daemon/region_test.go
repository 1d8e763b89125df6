package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// twoRegions registers, at the same places, a store and a courier (on shift) in region "north" and in region
// "south": geography alone would give either courier either store's orders.
func (h *harness) twoRegions() {
	t := h.t
	t.Helper()
	at := service.Location{Lat: 31.2304, Lon: 121.4737}
	for _, r := range []string{"north", "south"} {
		if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s-" + r, Region: r, Location: at, PrepSeconds: 300,
			Inventory: map[string]int{"milk": 10}}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "c-" + r, Region: r, Vehicle: "ebike", Capacity: 6}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.d.SetShift(ctx, "c-"+r, true, &at, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRegionDefaultsAndViews(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	h.city()
	v := h.d.View()
	for _, s := range v.Stores() {
		if s.Region != service.DefaultRegion {
			t.Fatalf("store %s registered without a region is in %q, want %q", s.ID, s.Region, service.DefaultRegion)
		}
	}
	for _, c := range v.Couriers("") {
		if c.Region != service.DefaultRegion {
			t.Fatalf("courier %s registered without a region is in %q, want %q", c.ID, c.Region, service.DefaultRegion)
		}
	}
	st, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s0", Region: "east", Location: service.Location{Lat: 31.2304, Lon: 121.4737}})
	if err != nil || st.Region != "east" {
		t.Fatalf("moving a store without orders to east: %+v %v", st, err)
	}
	// A replacement that leaves the region out keeps it.
	st, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "s0", Name: "renamed", Location: service.Location{Lat: 31.2304, Lon: 121.4737}})
	if err != nil || st.Region != "east" || st.Name != "renamed" {
		t.Fatalf("replacing the store without a region: %+v %v; want it kept in east", st, err)
	}
	o, err := h.place(h.shop("k"), orderIn("s0", 31.235, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	if o.Region != "east" {
		t.Fatalf("order of an east store is in %q", o.Region)
	}
	evs := allEvents(t, h.d)
	if last := evs[len(evs)-1]; last.Order.ID != o.ID || last.Order.Region != "east" {
		t.Fatalf("the order's event carries %q of order %s, want east", last.Order.Region, last.Order.ID)
	}
	if page, _ := h.d.View().ListOrders(service.OrderFilter{Region: "east", Limit: 10}); len(page) != 1 || page[0].ID != o.ID {
		t.Fatalf("orders of east: %d", len(page))
	}
	if page, _ := h.d.View().ListOrders(service.OrderFilter{Region: service.DefaultRegion, Limit: 10}); len(page) != 0 {
		t.Fatalf("orders of the default region: %d, want none", len(page))
	}
	for _, bad := range []string{"no spaces", strings.Repeat("x", 65), "é"} {
		_, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s9", Region: bad, Location: service.Location{Lat: 31.2, Lon: 121.4}})
		wantCode(t, err, dispatch.EInvalid, "region")
		_, _, _, err = h.d.PutCourier(ctx, service.CourierInput{ID: "c9", Region: bad, Capacity: 1}, false)
		wantCode(t, err, dispatch.EInvalid, "region")
	}
}

// A courier only ever carries orders of its own region, though the other region's courier stands as near.
func TestRegionsKeepCouriersApart(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	h.twoRegions()
	shop := h.shop("k")
	var ids []string
	for i := range 6 {
		store := "s-north"
		if i%2 == 1 {
			store = "s-south"
		}
		o, err := h.place(shop, orderIn(store, 31.235+float64(i)*0.001, 121.478))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	assigned := 0
	for _, id := range ids {
		o, _ := h.d.View().Order(id)
		if o.CourierID == "" {
			continue
		}
		assigned++
		c, _ := h.d.View().Courier(o.CourierID)
		if c.Region != o.Region {
			t.Fatalf("order %s of region %s went to courier %s of region %s", o.ID, o.Region, c.ID, c.Region)
		}
	}
	if assigned != len(ids) {
		t.Fatalf("%d of %d orders assigned; each region has a courier with room", assigned, len(ids))
	}
	// An operator cannot put a north order on the south courier.
	north, _ := h.d.View().Order(ids[0])
	_, err := h.d.AssignOrder(ctx, "admin", north.ID, "c-south", false)
	e := wantCode(t, err, dispatch.EConflict, "courier_id")
	if len(e.Reasons) != 1 || e.Reasons[0] != dispatch.RuleRegion {
		t.Fatalf("assigning across regions refused for %v, want %s", e.Reasons, dispatch.RuleRegion)
	}
}

func TestRegionChangeRefusedWhileBusy(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	h.twoRegions()
	at := service.Location{Lat: 31.2304, Lon: 121.4737}
	o, err := h.place(h.shop("k"), orderIn("s-north", 31.235, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "s-north", Region: "south", Location: at})
	wantCode(t, err, dispatch.EConflict, "region")
	// The same store with its region unchanged (or left out) is fine.
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s-north", Name: "N", Location: at}); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = h.d.PutCourier(ctx, service.CourierInput{ID: "c-north", Region: "south", Capacity: 6}, false)
	wantCode(t, err, dispatch.EConflict, "region")
	// On shift without a position yet (not in the engine): still refused.
	if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "c-new", Region: "north", Capacity: 2}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.SetShift(ctx, "c-new", true, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = h.d.PutCourier(ctx, service.CourierInput{ID: "c-new", Region: "south", Capacity: 2}, false)
	wantCode(t, err, dispatch.EConflict, "region")

	// Once the order is finished and the couriers are off shift, both may move.
	if _, err := h.d.CancelOrder(ctx, o.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s-north", Region: "south", Location: at}); err != nil {
		t.Fatalf("moving a store without open orders: %v", err)
	}
	for _, id := range []string{"c-north", "c-new"} {
		if _, err := h.d.SetShift(ctx, id, false, nil, nil); err != nil {
			t.Fatal(err)
		}
		c, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: id, Region: "south", Capacity: 2}, false)
		if err != nil || c.Region != "south" {
			t.Fatalf("moving courier %s off shift: %+v %v", id, c, err)
		}
	}
	// A store with a scheduled or in-store pick-up order has open orders too.
	if _, err := h.place(h.shop("k"), service.OrderInput{StoreID: "s-south", Fulfilment: service.FulfilPickup, NoDropoff: true}); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "s-south", Region: "north", Location: at})
	wantCode(t, err, dispatch.EConflict, "region")
}

// An order by items chooses among one region's stores: the one it names, else the drop-off's region, which is
// that of the nearest store that can serve it.
func TestOrderByItemsChoosesWithinARegion(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	shop := h.shop("k")
	drop := service.Location{Lat: 31.2304, Lon: 121.4737}
	for _, s := range []service.StoreInput{
		// "a-near" is at the drop-off but has no eggs; "b-mid" (region b) is next; "a-far" (region a) last.
		{ID: "a-near", Region: "a", Location: drop, Inventory: map[string]int{"milk": 5}},
		{ID: "b-mid", Region: "b", Location: service.Location{Lat: 31.2334, Lon: 121.4737}, Inventory: map[string]int{"milk": 5, "eggs": 5}},
		{ID: "a-far", Region: "a", Location: service.Location{Lat: 31.2404, Lon: 121.4737}, Inventory: map[string]int{"milk": 5, "eggs": 5}},
	} {
		s.PrepSeconds = 300
		if _, _, err := h.d.PutStore(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	milk := []fulfil.Item{{SKU: "milk", Qty: 1}}
	eggs := []fulfil.Item{{SKU: "eggs", Qty: 1}}
	for _, c := range []struct {
		name   string
		region string
		items  []fulfil.Item
		store  string
	}{
		{"milk: the nearest store serves, its region is the drop-off's", "", milk, "a-near"},
		{"eggs: the nearest store that has them fixes the region", "", eggs, "b-mid"},
		{"eggs in region a: b-mid is passed over", "a", eggs, "a-far"},
		{"milk in region b", "b", milk, "b-mid"},
	} {
		in := service.OrderInput{Items: c.items, Region: c.region, Dropoff: drop}
		q, err := h.d.Quote(ctx, in)
		if err != nil || q.StoreID != c.store {
			t.Fatalf("%s: quote chose %q (%v), want %s", c.name, q.StoreID, err, c.store)
		}
		o, err := h.place(shop, in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st, _ := h.d.View().Store(c.store)
		if o.StoreID != c.store || o.Region != st.Region || q.Region != st.Region {
			t.Fatalf("%s: order at %s in %s (quote %s), want %s in %s", c.name, o.StoreID, o.Region, q.Region, c.store, st.Region)
		}
	}
	_, err := h.place(shop, service.OrderInput{Items: eggs, Region: "c", Dropoff: drop})
	e := wantCode(t, err, dispatch.EUnservable, "items")
	if len(e.Reasons) != 1 || e.Reasons[0] != fulfil.ReasonNoStoreInReach {
		t.Fatalf("an order in a region without stores: %v", e.Reasons)
	}
	_, err = h.place(shop, service.OrderInput{StoreID: "b-mid", Region: "a", Dropoff: drop})
	e = wantCode(t, err, dispatch.EUnservable, "region")
	if e.Reasons[0] != ReasonStoreInOtherRegion {
		t.Fatalf("a store of another region named: %v", e.Reasons)
	}
}

// A daemon that serves one region refuses the others, and puts what comes without a region in its own.
func TestConfigRegion(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), func(c *Config) { c.Region = "west" })
	at := service.Location{Lat: 31.2304, Lon: 121.4737}
	st, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s0", Location: at, Inventory: map[string]int{"milk": 3}})
	if err != nil || st.Region != "west" {
		t.Fatalf("a store without a region on west's daemon: %+v %v", st, err)
	}
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s1", Region: "west", Location: at}); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.d.PutStore(ctx, service.StoreInput{ID: "s2", Region: "east", Location: at})
	if e := wantCode(t, err, dispatch.EUnservable, "region"); e.Reasons[0] != ReasonRegionNotServed {
		t.Fatalf("reasons %v", e.Reasons)
	}
	c, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "c0", Capacity: 1}, false)
	if err != nil || c.Region != "west" {
		t.Fatalf("a courier without a region on west's daemon: %+v %v", c, err)
	}
	_, _, _, err = h.d.PutCourier(ctx, service.CourierInput{ID: "c1", Region: "east", Capacity: 1}, false)
	wantCode(t, err, dispatch.EUnservable, "region")
	_, err = h.place(h.shop("k"), service.OrderInput{Items: []fulfil.Item{{SKU: "milk", Qty: 1}}, Region: "east", Dropoff: at})
	wantCode(t, err, dispatch.EUnservable, "region")
	o, err := h.place(h.shop("k"), service.OrderInput{Items: []fulfil.Item{{SKU: "milk", Qty: 1}}, Dropoff: at})
	if err != nil || o.Region != "west" {
		t.Fatalf("an order by items on west's daemon: %+v %v", o, err)
	}
	if _, err := Open(Config{DataDir: t.TempDir(), Region: "not a region"}); err == nil {
		t.Fatal("a daemon opened with a malformed region")
	}
}

// Regions survive a restart from the checkpoint and from the journal alike, and are written only when not the
// default (so that what was written before regions reads as the default region).
func TestRegionRecordsAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	h := start(t, dir, clock, nil)
	h.twoRegions()
	if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "c-default", Capacity: 2}, false); err != nil {
		t.Fatal(err)
	}
	o, err := h.place(h.shop("k"), orderIn("s-south", 31.235, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, h.d)
	regions := func(h *harness) string {
		v := h.d.View()
		var b strings.Builder
		for _, s := range v.Stores() {
			fmt.Fprintf(&b, "store %s %s\n", s.ID, s.Region)
		}
		for _, c := range v.Couriers("") {
			fmt.Fprintf(&b, "courier %s %s\n", c.ID, c.Region)
		}
		got, _ := v.Order(o.ID)
		fmt.Fprintf(&b, "order %s %s on %s\n", got.ID, got.Region, got.CourierID)
		return b.String()
	}
	wantRegions := regions(h)
	if !strings.Contains(wantRegions, "order "+o.ID+" south on c-south") {
		t.Fatalf("before the restart:\n%s", wantRegions)
	}
	// The journal: store_put and courier_put carry their region, except the default one.
	var puts []string
	for _, b := range journalRecords(t, filepath.Join(dir, "journal")) {
		if s := string(b); strings.Contains(s, `"t":"store_put"`) || strings.Contains(s, `"t":"courier_put"`) {
			puts = append(puts, s)
		}
	}
	for _, p := range puts {
		north, south := strings.Contains(p, `"region":"north"`), strings.Contains(p, `"region":"south"`)
		if strings.Contains(p, `"id":"c-default"`) != (!north && !south) || strings.Contains(p, `"region":"default"`) {
			t.Fatalf("record %s", p)
		}
	}
	h.crash()
	h = start(t, dir, clock, nil)
	if got := stateOf(t, h.d); got != want {
		t.Fatalf("state after replaying the journal:\n%s", firstDiff(want, got))
	}
	h.close()
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"region":"south"`) || strings.Contains(string(b), `"region":"default"`) {
		t.Fatal("the checkpoint does not keep the regions as it should (south written, the default left out)")
	}
	h = start(t, dir, clock, nil)
	if got := regions(h); got != wantRegions {
		t.Fatalf("regions after starting from the checkpoint:\n%s\nwant\n%s", got, wantRegions)
	}
	if got := stateOf(t, h.d); got != want {
		t.Fatalf("state after starting from the checkpoint:\n%s", firstDiff(want, got))
	}
	// And the engine still keeps the regions apart after the restart.
	clock.Advance(time.Minute)
	o2, err := h.place(h.shop("k"), orderIn("s-north", 31.236, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.d.View().Order(o2.ID); got.CourierID != "c-north" {
		t.Fatalf("north order after the restart is on %q, want c-north", got.CourierID)
	}
}

// The scheduled book is planned region by region: an order placed ahead is planned, and released, only onto a
// courier of its own region, though the other region's courier is as near and has room.
func TestScheduledBookKeepsRegionsApart(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	h.twoRegions()
	shop := h.shop("k")
	now := clock.Now()
	after, by := now.Add(3*time.Hour), now.Add(4*time.Hour)
	var ids []string
	for i, store := range []string{"s-north", "s-south", "s-north", "s-south"} {
		in := orderIn(store, 31.235+float64(i)*0.001, 121.478)
		in.DeliverAfter, in.DeliverBy = tp(after), tp(by)
		o, err := h.place(shop, in)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != service.StatusScheduled {
			t.Fatalf("order %d is %s, want scheduled", i, o.Status)
		}
		ids = append(ids, o.ID)
	}
	h.planSchedule()
	var release time.Time
	for _, id := range ids {
		o := h.order(id)
		if o.Schedule == nil || o.Schedule.CourierID != "c-"+o.Region {
			t.Fatalf("order %s of %s planned onto %+v, want c-%s", id, o.Region, o.Schedule, o.Region)
		}
		if o.Schedule.ReleaseAt.After(release) {
			release = o.Schedule.ReleaseAt
		}
	}
	clock.Set(release)
	h.planSchedule()
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if o := h.order(id); o.CourierID != "c-"+o.Region {
			t.Fatalf("released order %s of %s is %s on %q", id, o.Region, o.Status, o.CourierID)
		}
	}
}

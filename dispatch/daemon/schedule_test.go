package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

func tp(t time.Time) *time.Time { return &t }

// schedCity registers one store with stock, the couriers given (id -> capacity) on shift beside it, and a key.
func (h *harness) schedCity(couriers map[string]int) service.Principal {
	t := h.t
	t.Helper()
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "s0", Location: service.Location{Lat: 31.2304, Lon: 121.4737}, PrepSeconds: 300,
		Inventory: map[string]int{"rice": 5}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range slices.Sorted(maps.Keys(couriers)) {
		capacity := couriers[id]
		if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: id, Vehicle: "ebike", Capacity: capacity}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.d.SetShift(ctx, id, true, &service.Location{Lat: 31.2310, Lon: 121.4740}, nil); err != nil {
			t.Fatal(err)
		}
	}
	k, _, err := h.d.CreateAPIKey(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return service.Principal{Role: service.RoleOrders, ID: k.ID}
}

// placeWindow places an order from s0 to (lat, lon) to be delivered within [after, by] (after may be zero).
func (h *harness) placeWindow(shop service.Principal, idem string, lat, lon float64, after, by time.Time) *service.Order {
	h.t.Helper()
	in := orderIn("s0", lat, lon)
	if !after.IsZero() {
		in.DeliverAfter = tp(after)
	}
	in.DeliverBy = tp(by)
	body, err := orderJSON(h.d.PlaceOrder(ctx, shop, idem, []byte(idem), in))
	if err != nil {
		h.t.Fatal(err)
	}
	var o service.Order
	if err := json.Unmarshal(body, &o); err != nil {
		h.t.Fatal(err)
	}
	return &o
}

func (h *harness) order(id string) *service.Order {
	h.t.Helper()
	o, ok := h.d.View().Order(id)
	if !ok {
		h.t.Fatalf("order %s not found", id)
	}
	return o
}

func (h *harness) planSchedule() {
	h.t.Helper()
	if err := h.d.PlanScheduleNow(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// inEngine reports whether the engine has the order (on the loop).
func (h *harness) inEngine(id string) bool {
	var ok bool
	h.d.do(ctx, func(time.Time) (any, uint64, error) { _, ok = h.d.eng.Order(id); return nil, 0, nil })
	return ok
}

// bookOf is the scheduled book as JSON (on the loop).
func bookOf(t *testing.T, d *Daemon) string {
	t.Helper()
	var s string
	d.do(ctx, func(time.Time) (any, uint64, error) {
		b, err := json.Marshal(bookEntries(d.st.book))
		s = string(b)
		return nil, 0, err
	})
	return s
}

// eventTypes lists the events of an order, in order.
func eventTypes(t *testing.T, d *Daemon, id string) []string {
	var out []string
	for _, ev := range allEvents(t, d) {
		if ev.Order.ID == id {
			out = append(out, ev.Type)
		}
	}
	return out
}

func TestScheduleValidation(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	for _, c := range []struct {
		name      string
		after, by *time.Time
		promise   *int
		pickup    bool
		field     string
	}{
		{"AfterInThePast", tp(now.Add(-time.Minute)), tp(now.Add(time.Hour)), nil, false, "deliver_after"},
		{"AfterIsNow", tp(now), tp(now.Add(time.Hour)), nil, false, "deliver_after"},
		{"AfterAtDeliverBy", tp(now.Add(3 * time.Hour)), tp(now.Add(3 * time.Hour)), nil, false, "deliver_after"},
		{"AfterAfterDeliverBy", tp(now.Add(4 * time.Hour)), tp(now.Add(3 * time.Hour)), nil, false, "deliver_after"},
		{"AfterAfterThePromise", tp(now.Add(2 * time.Hour)), nil, func() *int { p := 3600; return &p }(), false, "deliver_after"},
		{"AfterBeyondAWeek", tp(now.Add(8 * 24 * time.Hour)), nil, nil, false, "deliver_after"},
		{"DeliverByBeyondAWeek", tp(now.Add(time.Hour)), tp(now.Add(8 * 24 * time.Hour)), nil, false, "deliver_by"},
		{"DeliverByBeyondAWeekAlone", nil, tp(now.Add(8 * 24 * time.Hour)), nil, false, "deliver_by"},
		{"PickupWithAfter", tp(now.Add(3 * time.Hour)), tp(now.Add(4 * time.Hour)), nil, true, "deliver_after"},
		{"PickupBeyondADay", nil, tp(now.Add(2 * 24 * time.Hour)), nil, true, "deliver_by"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := orderIn("s0", 31.24, 121.48)
			in.DeliverAfter, in.DeliverBy, in.PromiseSeconds = c.after, c.by, c.promise
			if c.pickup {
				in.Fulfilment = service.FulfilPickup
			}
			_, err := h.d.PlaceOrder(ctx, shop, "", nil, in)
			de, ok := err.(*dispatch.Error)
			if !ok || de.Code != dispatch.EInvalid || de.Field != c.field {
				t.Fatalf("got %v, want invalid_argument on %s", err, c.field)
			}
		})
	}
	// The book off: deliver_by keeps its one-day limit.
	h.close()
	h2 := start(t, t.TempDir(), clock, func(c *Config) { c.Schedule.Horizon = -1 })
	shop = h2.schedCity(map[string]int{"c0": 3})
	in := orderIn("s0", 31.24, 121.48)
	in.DeliverBy = tp(now.Add(2 * 24 * time.Hour))
	if _, err := h2.d.PlaceOrder(ctx, shop, "", nil, in); dispatch.ErrorCodeOf(err) != dispatch.EInvalid || !strings.Contains(err.Error(), "within a day") {
		t.Fatalf("without the book, a deliver_by two days ahead: %v, want refused as beyond a day", err)
	}
}

// TestDeliverAfterNoEarlyDropoff: orders whose window opens soon go to the live rounds at once, and no plan drops
// them off before deliver_after, however near the courier and the door.
func TestDeliverAfterNoEarlyDropoff(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3, "c1": 3})
	now := clock.Now()
	var ids []string
	for i := range 5 {
		after := now.Add(time.Duration(20+10*i) * time.Minute)
		o := h.placeWindow(shop, fmt.Sprintf("w%d", i), 31.2310+0.001*float64(i), 121.4745, after, after.Add(40*time.Minute))
		if o.Status != "pending" || o.DeliverAfter == nil || !o.DeliverAfter.Equal(after) {
			t.Fatalf("order %d: status %s, deliver_after %v; want pending with its window", i, o.Status, o.DeliverAfter)
		}
		ids = append(ids, o.ID)
	}
	// Rounds every few minutes for an hour (the couriers do nothing): each order becomes a candidate once its
	// earliest pick-up is within the engine's lookahead, and no plan at any time drops it off early.
	for range 20 {
		if err := h.d.DispatchNow(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if o := h.order(id); o.ETA != nil && o.ETA.DropoffAt != nil && o.ETA.DropoffAt.Before(*o.DeliverAfter) {
				t.Fatalf("order %s planned to be dropped off at %s, before its deliver_after %s", id, o.ETA.DropoffAt, o.DeliverAfter)
			}
		}
		clock.Advance(3 * time.Minute)
	}
	for _, id := range ids {
		if o := h.order(id); o.Status != "assigned" {
			t.Fatalf("order %s is %s (%s) after an hour of rounds, want assigned", id, o.Status, o.WaitingReason)
		}
	}
}

// TestScheduledOrderLifecycle: an order hours ahead stays out of the live rounds, is planned, released at its time
// onto its tentative courier and delivered within its window.
func TestScheduledOrderLifecycle(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	after, by := now.Add(3*time.Hour), now.Add(4*time.Hour)
	o := h.placeWindow(shop, "a", 31.2404, 121.4837, after, by)
	if o.Status != service.StatusScheduled || o.Schedule == nil || o.Schedule.ReleaseAt.IsZero() {
		t.Fatalf("placed %+v, want scheduled with a release time", o)
	}
	if h.inEngine(o.ID) {
		t.Fatal("a scheduled order is in the engine's live pool")
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	if o := h.order(o.ID); o.Status != service.StatusScheduled || o.CourierID != "" {
		t.Fatalf("after a live round the scheduled order is %s (courier %q)", o.Status, o.CourierID)
	}
	h.planSchedule()
	p := h.order(o.ID)
	if p.Schedule.CourierID != "c0" || p.ETA == nil || p.ETA.DropoffAt == nil || p.Schedule.PlannedAt == nil {
		t.Fatalf("after a plan: schedule %+v, eta %+v; want c0 with a drop-off", p.Schedule, p.ETA)
	}
	if p.ETA.DropoffAt.Before(after) || p.ETA.DropoffAt.After(by) {
		t.Fatalf("planned drop-off %s outside the window [%s, %s]", p.ETA.DropoffAt, after, by)
	}
	release := p.Schedule.ReleaseAt
	if !release.Equal(p.ETA.PickupAt.Add(-30 * time.Minute)) {
		t.Fatalf("release at %s, want the lead (30 min) before the planned pick-up %s", release, p.ETA.PickupAt)
	}
	// Not yet.
	clock.Set(release.Add(-time.Second))
	h.planSchedule()
	if o := h.order(o.ID); o.Status != service.StatusScheduled || h.inEngine(o.ID) {
		t.Fatalf("a second before its release the order is %s", o.Status)
	}
	// Released onto its tentative courier, the proposal checked and applied.
	clock.Set(release)
	h.planSchedule()
	r := h.order(o.ID)
	if r.Status != "assigned" || r.CourierID != "c0" || r.Schedule.ReleasedAt == nil || !h.inEngine(o.ID) {
		t.Fatalf("at its release the order is %s on %q (released %v), want assigned to c0", r.Status, r.CourierID, r.Schedule.ReleasedAt)
	}
	if r.ETA == nil || r.ETA.DropoffAt == nil || r.ETA.DropoffAt.Before(after) {
		t.Fatalf("released order's drop-off %+v comes before deliver_after %s", r.ETA, after)
	}
	// The courier does it; the drop-off falls within the window.
	act := func(action string, at time.Time) {
		t.Helper()
		if at.After(clock.Now()) {
			clock.Set(at)
		}
		if _, err := h.d.CourierAction(ctx, "c0", o.ID, action, ""); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	act("accept", clock.Now())
	act("picked_up", *h.order(o.ID).ETA.PickupAt)
	act("delivered", *h.order(o.ID).ETA.DropoffAt)
	d := h.order(o.ID)
	if d.Status != "delivered" || d.DeliveredAt.Before(after) || d.DeliveredAt.After(by) || d.Late {
		t.Fatalf("delivered %+v at %v, want within [%s, %s]", d.Status, d.DeliveredAt, after, by)
	}
	got := strings.Join(eventTypes(t, h.d, o.ID), " ")
	want := "order.created order.scheduled order.planned order.released order.assigned order.picked_up order.delivered"
	if got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
}

// TestScheduleReplansAsOrdersCome: a second order in the book changes the first one's plan (one courier that carries
// one order at a time must deliver the tighter one first), and order services hear of it.
func TestScheduleReplansAsOrdersCome(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, func(c *Config) { c.ETAChangeThreshold = time.Second })
	shop := h.schedCity(map[string]int{"c0": 1})
	now := clock.Now()
	a := h.placeWindow(shop, "a", 31.2404, 121.4837, now.Add(3*time.Hour), now.Add(5*time.Hour))
	h.planSchedule()
	first := *h.order(a.ID).ETA.DropoffAt
	b := h.placeWindow(shop, "b", 31.2204, 121.4637, now.Add(3*time.Hour), now.Add(3*time.Hour+15*time.Minute))
	if got := eventTypes(t, h.d, b.ID); strings.Join(got, " ") != "order.created order.scheduled" {
		t.Fatalf("second order's events before a plan: %v", got)
	}
	h.planSchedule()
	pa, pb := h.order(a.ID), h.order(b.ID)
	if pb.Schedule.CourierID != "c0" || pa.Schedule.CourierID != "c0" {
		t.Fatalf("plan: a on %q, b on %q; want both on c0", pa.Schedule.CourierID, pb.Schedule.CourierID)
	}
	if !pb.ETA.DropoffAt.Before(*pa.ETA.PickupAt) {
		t.Fatalf("b dropped off at %s, a picked up at %s: with room for one, b (the tighter window) goes first", pb.ETA.DropoffAt, pa.ETA.PickupAt)
	}
	if !pa.ETA.DropoffAt.After(first) {
		t.Fatalf("a's planned drop-off stayed at %s after b came", first)
	}
	if got := strings.Join(eventTypes(t, h.d, a.ID), " "); got != "order.created order.scheduled order.planned order.planned" {
		t.Fatalf("first order's events: %s, want a second order.planned for the re-plan", got)
	}
	var last service.OrderEvent
	for _, ev := range allEvents(t, h.d) {
		if ev.Order.ID == a.ID {
			last = ev
		}
	}
	if last.Order.ETA == nil || !last.Order.ETA.DropoffAt.Equal(*pa.ETA.DropoffAt) {
		t.Fatalf("order.planned carries %+v, want the new plan", last.Order.ETA)
	}
	// The same book planned again changes nothing and says nothing.
	n := len(allEvents(t, h.d))
	h.planSchedule()
	if m := len(allEvents(t, h.d)); m != n {
		t.Fatalf("a plan of an unchanged book made %d events", m-n)
	}
}

// TestCancelScheduledOrder: the stock comes back, and no release follows.
func TestCancelScheduledOrder(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	in := orderIn("s0", 31.2404, 121.4837)
	in.Items = []fulfil.Item{{SKU: "rice", Qty: 2}}
	in.DeliverAfter, in.DeliverBy = tp(now.Add(3*time.Hour)), tp(now.Add(4*time.Hour))
	body, err := orderJSON(h.d.PlaceOrder(ctx, shop, "", nil, in))
	if err != nil {
		t.Fatal(err)
	}
	var o service.Order
	json.Unmarshal(body, &o)
	h.planSchedule()
	if s, _ := h.d.StoreDetail(ctx, "s0"); s.Reserved["rice"] != 2 {
		t.Fatalf("reserved %v while scheduled, want rice 2", s.Reserved)
	}
	if _, err := h.d.CancelOrder(ctx, o.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.d.StoreDetail(ctx, "s0"); s.Reserved["rice"] != 0 || s.ActiveOrders != 0 {
		t.Fatalf("after the cancel: reserved %v, active orders %d", s.Reserved, s.ActiveOrders)
	}
	clock.Advance(5 * time.Hour)
	h.planSchedule()
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	if c := h.order(o.ID); c.Status != "cancelled" || h.inEngine(o.ID) {
		t.Fatalf("cancelled scheduled order is %s after its release time", c.Status)
	}
	if got := strings.Join(eventTypes(t, h.d, o.ID), " "); got != "order.created order.scheduled order.planned order.cancelled" {
		t.Fatalf("events %s", got)
	}
	if _, err := h.d.CancelOrder(ctx, o.ID, ""); dispatch.ErrorCodeOf(err) != dispatch.EConflict {
		t.Fatalf("cancel twice: %v, want a conflict", err)
	}
}

// TestScheduleAcrossRestarts: the book, its plan and its release times come back after a crash (the journal
// replayed) and a graceful stop (the checkpoint), before and after a plan; a release that fell due while the
// daemon was down happens on start; events go on without a gap.
func TestScheduleAcrossRestarts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ckpt     int
		graceful bool
	}{{"CrashJournalOnly", 1_000_000, false}, {"CrashCheckpoints", 3, false}, {"Graceful", 1_000_000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, clock := t.TempDir(), newFakeClock()
			cfg := func(c *Config) { c.CheckpointRecords, c.Schedule.Iterations = tc.ckpt, 300 }
			h := start(t, dir, clock, cfg)
			restart := func() {
				t.Helper()
				h.d.ckptWG.Wait()
				h.d.do(ctx, func(time.Time) (any, uint64, error) { seq, err := h.d.flushLocations(); return nil, seq, err })
				want, wantBook := stateOf(t, h.d), bookOf(t, h.d)
				if tc.graceful {
					h.close()
				} else {
					h.crash()
				}
				h = start(t, dir, clock, cfg)
				if got := stateOf(t, h.d); got != want {
					t.Fatalf("state after restart differs:\n%s", jsonDiff(want, got))
				}
				if got := bookOf(t, h.d); got != wantBook {
					t.Fatalf("book after restart differs:\n%s", firstDiff(wantBook, got))
				}
			}
			shop := h.schedCity(map[string]int{"c0": 2, "c1": 2})
			now := clock.Now()
			a := h.placeWindow(shop, "a", 31.2404, 121.4837, now.Add(3*time.Hour), now.Add(4*time.Hour))
			b := h.placeWindow(shop, "b", 31.2204, 121.4637, now.Add(5*time.Hour), now.Add(6*time.Hour))
			restart() // before the plan
			h.planSchedule()
			pa := h.order(a.ID)
			if pa.Schedule.CourierID == "" {
				t.Fatalf("a not planned: %+v", pa.Schedule)
			}
			clock.Advance(time.Minute)
			restart() // after the plan
			// The plan's releases hold after the restart: a goes at its time, while the daemon is down.
			release := h.order(a.ID).Schedule.ReleaseAt
			if !release.Equal(pa.Schedule.ReleaseAt) {
				t.Fatalf("release of a moved from %s to %s across the restart", pa.Schedule.ReleaseAt, release)
			}
			h.d.ckptWG.Wait()
			if tc.graceful {
				h.close()
			} else {
				h.crash()
			}
			clock.Set(release.Add(time.Minute))
			h = start(t, dir, clock, cfg)
			// The release on start is on the loop before anything else; wait until it is visible.
			h.d.do(ctx, func(time.Time) (any, uint64, error) { return nil, h.d.jnl().LastSeq(), nil })
			ra := h.order(a.ID)
			if ra.Status != "assigned" || ra.Schedule.ReleasedAt == nil || !ra.Schedule.ReleasedAt.After(release) {
				t.Fatalf("a due while the daemon was down is %s (released %v) after the start", ra.Status, ra.Schedule.ReleasedAt)
			}
			if ob := h.order(b.ID); ob.Status != service.StatusScheduled {
				t.Fatalf("b, not yet due, is %s", ob.Status)
			}
			restart() // across the release
			events := allEvents(t, h.d)
			for i, ev := range events {
				if ev.ID != uint64(i+1) {
					t.Fatalf("event %d has id %d: a gap", i, ev.ID)
				}
			}
			if got := strings.Join(eventTypes(t, h.d, a.ID), " "); got != "order.created order.scheduled order.planned order.released order.assigned" {
				t.Fatalf("events of a: %s", got)
			}
		})
	}
}

// TestScheduledReleaseFallsBackToTheRounds: a tentative courier gone off shift by the release leaves the order to
// the live rounds, which place it like any pending order.
func TestScheduledReleaseFallsBackToTheRounds(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	o := h.placeWindow(shop, "a", 31.2404, 121.4837, now.Add(3*time.Hour), now.Add(4*time.Hour))
	h.planSchedule()
	release := h.order(o.ID).Schedule.ReleaseAt
	if _, err := h.d.SetShift(ctx, "c0", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "c9", Vehicle: "ebike", Capacity: 3}, false); err != nil {
		t.Fatal(err)
	}
	clock.Set(release)
	if _, err := h.d.SetShift(ctx, "c9", true, &service.Location{Lat: 31.2300, Lon: 121.4730}, nil); err != nil {
		t.Fatal(err)
	}
	h.d.do(ctx, func(now time.Time) (any, uint64, error) { seq, err := h.d.releaseDue(now); return nil, seq, err })
	if r := h.order(o.ID); r.Status != "pending" {
		t.Fatalf("released with its courier off shift: %s, want pending", r.Status)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	r := h.order(o.ID)
	if r.Status != "assigned" || r.CourierID != "c9" || r.ETA.DropoffAt.Before(*r.DeliverAfter) {
		t.Fatalf("after a round: %s on %q, drop-off %v", r.Status, r.CourierID, r.ETA)
	}
}

// TestScheduleOffTheLoop: at the ticks, the book is planned on a goroutine of its own while the loop serves
// requests, and the plan comes back as a journaled record; a plan still running when the daemon stops is
// cancelled and waited for, and the next start plans again.
func TestScheduleOffTheLoop(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	fast := func(c *Config) { c.DispatchInterval = 5 * time.Millisecond; c.Schedule.Replan = time.Nanosecond }
	h := start(t, dir, clock, fast)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	started := make(chan struct{}, 1)
	h.d.do(ctx, func(time.Time) (any, uint64, error) {
		h.d.sched.hold = func(ctx context.Context) {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done() // held until the daemon stops
		}
		return nil, 0, nil
	})
	a := h.placeWindow(shop, "a", 31.2404, 121.4837, now.Add(3*time.Hour), now.Add(4*time.Hour))
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no plan of the book started at the ticks")
	}
	// The loop serves while the plan runs.
	b := h.placeWindow(shop, "b", 31.2204, 121.4637, now.Add(3*time.Hour), now.Add(4*time.Hour))
	if _, err := h.d.AssignOrder(ctx, "admin", a.ID, "c0", false); dispatch.ErrorCodeOf(err) != dispatch.EConflict {
		t.Fatalf("an operator's assignment of a scheduled order: %v, want a conflict", err)
	}
	h.close() // must not wait for the held plan: the stop cancels it
	if o := h.order(a.ID); o.Schedule.PlannedAt != nil {
		t.Fatalf("a plan cancelled by the stop was applied: %+v", o.Schedule)
	}
	h = start(t, dir, clock, fast)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		pa, pb := h.order(a.ID), h.order(b.ID)
		if pa.Schedule.PlannedAt != nil && pb.Schedule.PlannedAt != nil {
			if pa.Schedule.CourierID != "c0" || pb.Schedule.CourierID != "c0" {
				t.Fatalf("planned off the loop: a on %q, b on %q, want c0", pa.Schedule.CourierID, pb.Schedule.CourierID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the book was not planned after the restart")
		}
	}
}

// BenchmarkSchedulePlan times one plan of a book (off the loop, so it holds no request up): orders from 10 stores
// over a 5 km square with two-hour windows through the afternoon, couriers spread over it, the default iterations.
// go test -run '^$' -bench SchedulePlan -benchtime 1x ./dispatch/daemon/
func BenchmarkSchedulePlan(b *testing.B) {
	for _, size := range []struct{ orders, couriers int }{{100, 30}, {400, 100}} {
		b.Run(fmt.Sprintf("orders=%d/couriers=%d", size.orders, size.couriers), func(b *testing.B) {
			at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			cfg := DefaultConfig()
			job := &scheduleJob{at: at, stores: map[string]orb.Point{}, cfg: cfg.Schedule.withDefaults(&cfg.Engine),
				engine: cfg.Engine, travel: geo.NewStraightLine(geo.Geographic), clock: time.Now}
			r := uint64(1)
			rnd := func() float64 { r = r*6364136223846793005 + 1442695040888963407; return float64(r>>11) / (1 << 53) }
			place := func() orb.Point { return orb.Point{121.45 + 0.05*rnd(), 31.20 + 0.045*rnd()} }
			for i := range 10 {
				job.stores[fmt.Sprintf("s%d", i)] = place()
			}
			for i := range size.couriers {
				job.couriers = append(job.couriers, jobCourier{id: fmt.Sprintf("c%03d", i), at: place(), capacity: 3})
			}
			for i := range size.orders {
				p := place()
				after := at.Add(3*time.Hour + time.Duration(rnd()*float64(4*time.Hour)))
				job.orders = append(job.orders, &booked{ID: fmt.Sprintf("o%04d", i), StoreID: fmt.Sprintf("s%d", i%10),
					Dropoff: service.Location{Lat: p[1], Lon: p[0]}, ReadyAt: at.Add(10 * time.Minute), PickupFrom: after.Add(-10 * time.Minute),
					DeliverAfter: after, DeliverBy: after.Add(2 * time.Hour), Size: 1})
			}
			planned := 0
			for b.Loop() {
				res := job.solve(ctx)
				if res.err != nil {
					b.Fatal(res.err)
				}
				planned = 0
				for _, p := range res.plans {
					if p.Courier != "" {
						planned++
					}
				}
			}
			b.ReportMetric(float64(planned), "planned")
		})
	}
}

// TestScheduledOrdersReleasedTogether: two orders the plan gave one courier, released at one time, go onto its
// route together in the planned order, with no drop-off before its window.
func TestScheduledOrdersReleasedTogether(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	shop := h.schedCity(map[string]int{"c0": 3})
	now := clock.Now()
	after, by := now.Add(3*time.Hour), now.Add(3*time.Hour+40*time.Minute)
	a := h.placeWindow(shop, "a", 31.2404, 121.4837, after, by)
	b := h.placeWindow(shop, "b", 31.2414, 121.4847, after, by)
	h.planSchedule()
	pa, pb := h.order(a.ID), h.order(b.ID)
	if pa.Schedule.CourierID != "c0" || pb.Schedule.CourierID != "c0" {
		t.Fatalf("planned on %q and %q, want both on c0", pa.Schedule.CourierID, pb.Schedule.CourierID)
	}
	release := pa.Schedule.ReleaseAt
	if pb.Schedule.ReleaseAt.Before(release) {
		release = pb.Schedule.ReleaseAt
	}
	clock.Set(release)
	h.planSchedule()
	var released []string
	for _, id := range []string{a.ID, b.ID} {
		if o := h.order(id); o.Schedule.ReleasedAt != nil {
			released = append(released, id)
		}
	}
	if len(released) != 2 {
		t.Fatalf("%d of the two orders of one trip released at the first one's release time, want both", len(released))
	}
	r, _ := h.d.View().Route("c0")
	seen := map[string]bool{}
	for _, s := range r.Stops {
		if s.Kind == "dropoff" && !seen[s.OrderID] {
			t.Fatalf("route %+v drops %s off before picking it up", r.Stops, s.OrderID)
		}
		seen[s.OrderID] = true
		if s.Kind == "dropoff" && s.ETA.Before(after) {
			t.Fatalf("drop-off of %s planned at %s, before its window opens at %s", s.OrderID, s.ETA, after)
		}
	}
	if len(r.Stops) != 2*len(released) {
		t.Fatalf("c0's route has %d stops for %d released orders: %+v", len(r.Stops), len(released), r.Stops)
	}
	for _, id := range released {
		if o := h.order(id); o.Status != "assigned" || o.CourierID != "c0" {
			t.Fatalf("released order %s is %s on %q", id, o.Status, o.CourierID)
		}
	}
}

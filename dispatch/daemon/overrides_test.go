package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

func (h *harness) placeAt(key, store string, i int) string {
	h.t.Helper()
	in := orderIn(store, 31.235+0.002*float64(i), 121.478+0.002*float64(i))
	body, err := orderJSON(h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, in))
	if err != nil {
		h.t.Fatal(err)
	}
	var o service.Order
	json.Unmarshal(body, &o)
	return o.ID
}

func (h *harness) round() {
	h.t.Helper()
	h.clock.Advance(time.Second)
	if err := h.d.DispatchNow(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.waitRound()
}

func lastEntry(t *testing.T, d *Daemon, id string) service.TimelineEntry {
	t.Helper()
	o, ok := d.View().Order(id)
	if !ok || len(o.Timeline) == 0 {
		t.Fatalf("order %s: %+v", id, o)
	}
	return o.Timeline[len(o.Timeline)-1]
}

// Overrides through the daemon: each names who did it in the timeline and in the event; the lock and the pause
// hold through rounds, and everything survives a crash (journal) and a graceful restart (checkpoint).
func TestOverridesAcrossRestarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ckpt  int
		crash bool
	}{{"JournalOnly", 1_000_000, true}, {"Checkpoint", 1_000_000, false}, {"CheckpointsOnTheWay", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, clock := t.TempDir(), newFakeClock()
			cfg := func(c *Config) { c.CheckpointRecords = tc.ckpt }
			h := start(t, dir, clock, cfg)
			key := h.city()
			a, b := h.placeAt(key, "s0", 0), h.placeAt(key, "s0", 1)
			// c1 is the far courier for s0: locked there, a round leaves it.
			v, err := h.d.AssignOrder(ctx, "key_ops", a, "c1", true)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != "assigned" || v.CourierID != "c1" || !v.Locked {
				t.Fatalf("assigned view %+v", v)
			}
			if e := lastEntry(t, h.d, a); e.Status != "assigned" || e.By != "key_ops" || e.CourierID != "c1" {
				t.Fatalf("timeline entry %+v, want assigned to c1 by key_ops", e)
			}
			if _, err := h.d.PauseStore(ctx, "admin", "s1", true); err != nil {
				t.Fatal(err)
			}
			p := h.placeAt(key, "s1", 2)
			for range 3 {
				h.round()
			}
			if o, _ := h.d.View().Order(a); o.CourierID != "c1" || !o.Locked {
				t.Fatalf("after rounds the locked order is %+v", o)
			}
			if o, _ := h.d.View().Order(b); o.Status != "assigned" {
				t.Fatalf("the other order of s0 is %s: rounds do not run", o.Status)
			}
			if o, _ := h.d.View().Order(p); o.Status != "pending" || o.WaitingReason != string(dispatch.UnplacedStorePaused) {
				t.Fatalf("an order of the paused store: %+v", o)
			}
			if s, _ := h.d.View().Store("s1"); !s.Paused {
				t.Fatalf("store view %+v, want paused", s)
			}
			// Unassign b: back to pending, by the operator.
			if v, err := h.d.UnassignOrder(ctx, "key_ops", b); err != nil || v.Status != "pending" {
				t.Fatalf("unassign: %+v, %v", v, err)
			}
			if e := lastEntry(t, h.d, b); e.Status != "pending" || e.By != "key_ops" || e.Reason != "operator" {
				t.Fatalf("timeline entry %+v, want pending by key_ops", e)
			}
			var sawAssign, sawUnassign bool
			for _, ev := range allEvents(t, h.d) {
				sawAssign = sawAssign || ev.Type == service.EventAssigned && ev.Order.ID == a && ev.By == "key_ops"
				sawUnassign = sawUnassign || ev.Type == service.EventUnassigned && ev.Order.ID == b && ev.By == "key_ops"
			}
			if !sawAssign || !sawUnassign {
				t.Fatalf("events with who: assigned %v, unassigned %v", sawAssign, sawUnassign)
			}
			h.d.ckptWG.Wait()
			want := stateOf(t, h.d)
			if tc.crash {
				h.crash()
			} else {
				h.close()
			}
			h2 := start(t, dir, clock, cfg)
			if got := stateOf(t, h2.d); got != want {
				t.Fatalf("state after restart differs:\n%s", firstDiff(want, got))
			}
			// The lock and the pause still hold in the rounds after the restart.
			h2.round()
			if o, _ := h2.d.View().Order(a); o.CourierID != "c1" || !o.Locked {
				t.Fatalf("after restart the locked order is %+v", o)
			}
			if o, _ := h2.d.View().Order(p); o.Status != "pending" {
				t.Fatalf("after restart the paused store's order is %s", o.Status)
			}
			if _, err := h2.d.PauseStore(ctx, "admin", "s1", false); err != nil {
				t.Fatal(err)
			}
			h2.round()
			if o, _ := h2.d.View().Order(p); o.Status != "assigned" {
				t.Fatalf("after resume the order is %s", o.Status)
			}
		})
	}
}

func TestOverrideRefusalsAndOffShift(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	a, b, c := h.placeAt(key, "s0", 0), h.placeAt(key, "s0", 1), h.placeAt(key, "s0", 2)
	if _, err := h.d.MoveOrders(ctx, "admin", "c0", []string{a, b, c}, false); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	for _, act := range []string{"accept", "arrived", "picked_up"} {
		if _, err := h.d.CourierAction(ctx, "c0", a, act, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		err   error
		code  dispatch.ErrorCode
		field string
	}{
		{"picked up", func() error { _, err := h.d.AssignOrder(ctx, "admin", a, "c1", false); return err }(), dispatch.EConflict, "order_id"},
		{"unassign picked up", func() error { _, err := h.d.UnassignOrder(ctx, "admin", a); return err }(), dispatch.EConflict, "order_id"},
		{"unknown order", func() error { _, err := h.d.AssignOrder(ctx, "admin", "ord_nope", "c1", false); return err }(), dispatch.ENotFound, ""},
		{"unknown courier", func() error { _, err := h.d.AssignOrder(ctx, "admin", b, "ghost", false); return err }(), dispatch.ENotFound, "courier_id"},
		{"unknown store", func() error { _, err := h.d.PauseStore(ctx, "admin", "nope", true); return err }(), dispatch.ENotFound, ""},
		{"move with one picked up", func() error { _, err := h.d.MoveOrders(ctx, "admin", "c1", []string{b, a}, false); return err }(), dispatch.EConflict, "order_ids[1]"},
	} {
		var de *dispatch.Error
		if !errors.As(tc.err, &de) || de.Code != tc.code || de.Field != tc.field {
			t.Errorf("%s: %v, want %s on %q", tc.name, tc.err, tc.code, tc.field)
		}
	}
	if o, _ := h.d.View().Order(b); o.CourierID != "c0" {
		t.Fatalf("a refused move moved %s to %s", b, o.CourierID)
	}
	res, err := h.d.OffShift(ctx, "admin", "c0")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Returned)
	want := []string{b, c}
	slices.Sort(want)
	if fmt.Sprint(res.OnBoard) != fmt.Sprint([]string{a}) || fmt.Sprint(res.Returned) != fmt.Sprint(want) || res.Courier.Status != service.CourierOffline {
		t.Fatalf("off shift: %+v, want %s on board, %v returned", res, a, want)
	}
	if e := lastEntry(t, h.d, b); e.Status != "pending" || e.By != "admin" || e.Reason != string(dispatch.UnassignOffline) {
		t.Fatalf("timeline of a returned order: %+v", e)
	}
	if o, _ := h.d.View().Order(a); o.Status != "picked_up" || o.CourierID != "c0" {
		t.Fatalf("the order on board: %+v", o)
	}
	if v, err := h.d.CancelOrderAs(ctx, "key_ops", c, "store closed"); err != nil || lastEntry(t, h.d, c).By != "key_ops" {
		t.Fatalf("cancel as an operator: %+v, %v", v, err)
	}
}

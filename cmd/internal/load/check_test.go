package load

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)

// tl builds a timeline: status, seconds after t0, status, seconds, ...
func tl(entries ...any) []timelineEntry {
	var out []timelineEntry
	for i := 0; i < len(entries); i += 2 {
		out = append(out, timelineEntry{Status: entries[i].(string), At: t0.Add(time.Duration(entries[i+1].(int)) * time.Second)})
	}
	return out
}

// world is a small consistent state: what the order service was told and what the daemon shows, frozen.
type world struct {
	acked     []ackedOrder
	listed    []listedOrder
	requested map[string]bool
	routes    []routeView
}

func cleanWorld() world {
	w := world{
		acked: []ackedOrder{
			{ID: "o1", ExternalID: "e1", Key: "k1", Status: "pending", Timeline: tl("pending", 0)},
			// The accept's answer showed the assignment; the timeline may only have grown since.
			{ID: "o2", ExternalID: "e2", Key: "k2", Status: "assigned", Timeline: tl("pending", 0, "assigned", 5)},
			{ID: "o3", ExternalID: "e3", Key: "k3", Status: "picked_up"},
			{ID: "o4", ExternalID: "e4", Key: "k4", Status: "delivered"},
			{ID: "o5", ExternalID: "e5", Key: "k5", Status: "cancelled"},
		},
		listed: []listedOrder{
			{ID: "o1", ExternalID: "e1", Status: "pending", Timeline: tl("pending", 0)},
			{ID: "o2", ExternalID: "e2", Status: "assigned", CourierID: "c1", Timeline: tl("pending", 0, "assigned", 5)},
			// Moved from c1 to c2, and back to pending in between: both are legal.
			{ID: "o3", ExternalID: "e3", Status: "picked_up", CourierID: "c2",
				Timeline: tl("pending", 0, "assigned", 3, "pending", 4, "assigned", 6, "assigned", 7, "picked_up", 9)},
			{ID: "o4", ExternalID: "e4", Status: "delivered", CourierID: "c2",
				Timeline: tl("pending", 0, "assigned", 1, "picked_up", 2, "delivered", 3)},
			{ID: "o5", ExternalID: "e5", Status: "cancelled", Timeline: tl("pending", 0, "assigned", 1, "cancelled", 1)},
			// Its placement lost its answer in a crash and was never retried: allowed, counted.
			{ID: "o6", ExternalID: "e6", Status: "pending", Timeline: tl("pending", 2)},
		},
		requested: map[string]bool{"e1": true, "e2": true, "e3": true, "e4": true, "e5": true, "e6": true},
		routes: []routeView{
			{CourierID: "c1", Version: 4, Stops: []routeStop{{Kind: "pickup", OrderID: "o2"}, {Kind: "dropoff", OrderID: "o2"}}},
			{CourierID: "c2", Version: 9, Stops: []routeStop{{Kind: "dropoff", OrderID: "o3"}}},
			{CourierID: "c3", Version: 1},
		},
	}
	return w
}

func (w world) check(frozen bool) (checkResult, *violations) {
	v := &violations{}
	res := checkOrders(checkInput{Acked: w.acked, Listed: w.listed, Requested: w.requested, Routes: w.routes, Frozen: frozen}, v)
	return res, v
}

func TestCheckOrdersClean(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		res, v := cleanWorld().check(frozen)
		if n := v.total(); n != 0 {
			t.Fatalf("frozen %v: %d violations in a consistent state: %v", frozen, n, v.report())
		}
		want := checkResult{Acked: 5, Listed: 6, Unanswered: 1, Routes: 3, RouteStops: 3}
		if res != want {
			t.Errorf("frozen %v: %+v, want %+v", frozen, res, want)
		}
	}
}

// Each case breaks the consistent state in one way; the check must name it, and only it.
func TestCheckOrdersFindsEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frozen bool
		change func(w *world)
		kind   string
		count  func(checkResult) int
		detail string
	}{
		{"LostOrder", false, func(w *world) { w.listed = slices.Delete(w.listed, 1, 2) }, // o2 deleted
			"lost", func(r checkResult) int { return r.Lost }, "order o2 (e2, key k2) was answered 201 and is not listed"},
		{"DuplicatedByExternalID", false, func(w *world) {
			w.listed = append(w.listed, listedOrder{ID: "o9", ExternalID: "e1", Status: "pending", Timeline: tl("pending", 8)})
		}, "duplicated", func(r checkResult) int { return r.Duplicated }, "e1"},
		{"DuplicatedByID", false, func(w *world) { w.listed = append(w.listed, w.listed[0]) },
			"duplicated", func(r checkResult) int { return r.Duplicated }, "order o1 is listed twice"},
		{"AnsweredWithAnotherOrder", false, func(w *world) { w.listed[0].ID = "o1b" },
			"lost", func(r checkResult) int { return r.Lost }, "order o1"},
		{"PickedUpWentBack", false, func(w *world) {
			w.listed[2].Status, w.listed[2].Timeline = "assigned", tl("pending", 0, "assigned", 3)
			w.routes[1].Stops = []routeStop{{Kind: "pickup", OrderID: "o3"}, {Kind: "dropoff", OrderID: "o3"}}
		}, "status", func(r checkResult) int { return r.Regressed }, "order o3 was acknowledged picked_up and is listed assigned"},
		{"DeliveredBecameFailed", false, func(w *world) {
			w.listed[3].Status, w.listed[3].Timeline = "failed", tl("pending", 0, "assigned", 1, "picked_up", 2, "failed", 3)
		}, "status", func(r checkResult) int { return r.Regressed }, "acknowledged delivered and is listed failed"},
		{"TimelineGoesBackInTime", false, func(w *world) { w.listed[1].Timeline = tl("pending", 5, "assigned", 4) },
			"timeline", func(r checkResult) int { return r.BadTimelines }, "is before entry 0"},
		{"TimelineSkipsPickup", false, func(w *world) { w.listed[3].Timeline = tl("pending", 0, "assigned", 1, "delivered", 3) },
			"timeline", func(r checkResult) int { return r.BadTimelines }, "delivered follows assigned"},
		{"TimelineEndsElsewhere", false, func(w *world) { w.listed[1].Timeline = tl("pending", 0) },
			"timeline", func(r checkResult) int { return r.BadTimelines }, "ends with pending but the order is assigned"},
		{"TimelineEmpty", false, func(w *world) { w.listed[0].Timeline = nil },
			"timeline", func(r checkResult) int { return r.BadTimelines }, "no timeline"},
		// A lost dispatch round: the assignment acknowledged to the courier is gone, the order pending again.
		{"AcknowledgedAssignmentForgotten", false, func(w *world) {
			w.listed[1].Status, w.listed[1].CourierID, w.listed[1].Timeline = "pending", "", tl("pending", 0)
			w.routes[0].Stops = nil
		}, "timeline", func(r checkResult) int { return r.BadTimelines }, "order o2: the timeline had 2 entries (the last assigned at"},
		{"AcknowledgedHistoryRewritten", false, func(w *world) {
			w.listed[1].Timeline = tl("pending", 0, "assigned", 6)
		}, "timeline", func(r checkResult) int { return r.BadTimelines }, "timeline entry 1 was assigned at"},
		{"UnknownOrder", false, func(w *world) {
			w.listed = append(w.listed, listedOrder{ID: "o7", ExternalID: "e7", Status: "pending", Timeline: tl("pending", 1)})
		}, "unknown order", func(r checkResult) int { return r.Unknown }, "order o7 (e7)"},
		{"RouteHoldsDeliveredOrder", false, func(w *world) {
			w.routes[2].Stops = []routeStop{{Kind: "dropoff", OrderID: "o4"}}
		}, "route", func(r checkResult) int { return r.RouteViolations }, "holds a dropoff stop for order o4, which is delivered"},
		{"RouteHoldsCancelledOrder", false, func(w *world) {
			w.routes[0].Stops = append(w.routes[0].Stops, routeStop{Kind: "pickup", OrderID: "o5"})
		}, "route", func(r checkResult) int { return r.RouteViolations }, "order o5, which is cancelled"},
		{"RouteHoldsPickupOfPickedUpOrder", false, func(w *world) {
			w.routes[1].Stops = append([]routeStop{{Kind: "pickup", OrderID: "o3"}}, w.routes[1].Stops...)
		}, "route", func(r checkResult) int { return r.RouteViolations }, "pickup stop for order o3, which is picked up"},
		{"FrozenAssignedOrderOffRoute", true, func(w *world) { w.routes[0].Stops = nil },
			"route", func(r checkResult) int { return r.RouteViolations }, "order o2 is assigned to c1 and has 0 pickup and 0 dropoff"},
		{"FrozenOrderOnAnotherCourier", true, func(w *world) { w.routes[0].CourierID = "c3" },
			"route", func(r checkResult) int { return r.RouteViolations }, "order o2, which is assigned to \"c1\""},
		{"FrozenPendingOrderOnRoute", true, func(w *world) {
			w.routes[2].Stops = []routeStop{{Kind: "pickup", OrderID: "o1"}, {Kind: "dropoff", OrderID: "o1"}}
		}, "route", func(r checkResult) int { return r.RouteViolations }, "order o1, which is pending"},
		{"FrozenUnlistedOrderOnRoute", true, func(w *world) {
			w.routes[2].Stops = []routeStop{{Kind: "pickup", OrderID: "o8"}}
		}, "route", func(r checkResult) int { return r.RouteViolations }, "order o8, which is not listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := cleanWorld()
			tc.change(&w)
			res, v := w.check(tc.frozen)
			rep := v.report()
			if tc.count(res) == 0 {
				t.Errorf("the count for %s is 0: %+v", tc.kind, res)
			}
			if len(rep.Counts) == 0 || rep.Counts[0].Error != tc.kind {
				t.Fatalf("violations %+v, want %s first", rep.Counts, tc.kind)
			}
			found := false
			for _, s := range rep.Samples {
				found = found || strings.Contains(s, tc.detail)
			}
			if !found {
				t.Errorf("no violation says %q: %q", tc.detail, rep.Samples)
			}
		})
	}
}

// A list read while the load goes on (not frozen) may show an order further on than the routes read after it,
// or a pending order that a round has since put on a route: neither is a violation then.
func TestCheckOrdersLiveStateTolerance(t *testing.T) {
	w := cleanWorld()
	w.routes[2].Stops = []routeStop{{Kind: "pickup", OrderID: "o1"}, {Kind: "dropoff", OrderID: "o1"}}
	w.routes[0].Stops = nil // o2 was picked up after the list was read
	w.routes[1].Stops = append(w.routes[1].Stops, routeStop{Kind: "pickup", OrderID: "o2"}, routeStop{Kind: "dropoff", OrderID: "o2"})
	if _, v := w.check(false); v.total() != 0 {
		t.Errorf("violations in a live state: %v", v.report())
	}
	if _, v := w.check(true); v.total() == 0 {
		t.Error("the same state frozen has no violation")
	}
}

// Without Requested (the sweep after a kill, when orders go on being placed), an order nobody acknowledged yet
// is not flagged.
func TestCheckOrdersWithoutRequested(t *testing.T) {
	w := cleanWorld()
	w.requested = nil
	w.listed = append(w.listed, listedOrder{ID: "o7", ExternalID: "e7", Status: "pending", Timeline: tl("pending", 1)})
	res, v := w.check(false)
	if v.total() != 0 || res.Unknown != 0 || res.Unanswered != 0 {
		t.Errorf("%+v, %v: want nothing flagged", res, v.report())
	}
}

func TestViolationsAreBounded(t *testing.T) {
	v := &violations{}
	for i := range 2 * maxViolationSamples {
		v.add("lost", "order %d", i)
	}
	v.add("route", "x")
	rep := v.report()
	if v.total() != 2*maxViolationSamples+1 || rep.total() != v.total() || len(rep.Samples) != maxViolationSamples {
		t.Errorf("total %d, report %+v", v.total(), rep.Counts)
	}
	if rep.Counts[0] != (errorCount{"lost", 2 * maxViolationSamples}) || rep.Counts[1] != (errorCount{"route", 1}) {
		t.Errorf("counts %+v", rep.Counts)
	}
}

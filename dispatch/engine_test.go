package dispatch

import (
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

var t0 = time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)

// planarEngine makes an engine over a planar city in metres with a bike at 4 m/s and no detour, so that travel
// times are easy to compute by hand: 240 m per minute.
func planarEngine(tb testing.TB, mutate func(*Config)) *Engine {
	tb.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	travel := geo.NewStraightLine(geo.Planar)
	travel.Detour = 1
	for p := range travel.SpeedMPS {
		travel.SpeedMPS[p] = 4
	}
	e, err := New(cfg, geo.Planar, travel)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func mustApply(tb testing.TB, e *Engine, at time.Time, ev Event) []Effect {
	tb.Helper()
	fx, err := e.Apply(at, ev)
	if err != nil {
		tb.Fatalf("%s at %s: %v", ev.EventName(), at.Format(time.TimeOnly), err)
	}
	if err := checkInvariants(e); err != nil {
		tb.Fatalf("after %s at %s: %v", ev.EventName(), at.Format(time.TimeOnly), err)
	}
	return fx
}

func effectsOf[T Effect](fx []Effect) []T {
	var out []T
	for _, f := range fx {
		if t, ok := f.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func TestSmokeAssignAndDeliver(t *testing.T) {
	e := planarEngine(t, nil)
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}}})
	mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: "near", Vehicle: geo.Bike, Capacity: 4}})
	mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: "far", Vehicle: geo.Bike, Capacity: 4}})
	mustApply(t, e, t0, CourierOnline{CourierID: "near", Location: orb.Point{480, 0}})
	mustApply(t, e, t0, CourierOnline{CourierID: "far", Location: orb.Point{4800, 0}})
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "o1", StoreID: "s1", Dropoff: orb.Point{0, 1200},
		Ready: t0.Add(5 * time.Minute), DeliverBy: t0.Add(30 * time.Minute)}})
	fx := mustApply(t, e, t0.Add(time.Second), DispatchTick{})
	as := effectsOf[OrderAssigned](fx)
	if len(as) != 1 || as[0].CourierID != "near" {
		t.Fatalf("assigned %+v, want o1 to near", as)
	}
	rc := effectsOf[RouteChanged](fx)
	if len(rc) != 1 || len(rc[0].Route.Stops) != 2 {
		t.Fatalf("route changes %+v", rc)
	}
	// near travels 480 m (2 min), waits for ready at 11:05 (pickup = max(arrive+2min, ready)).
	st := rc[0].Route.Stops
	if want := t0.Add(5 * time.Minute); !st[0].Handover.Equal(want) {
		t.Errorf("pickup at %v, want %v", st[0].Handover, want)
	}
	// then 2 min service after, 1200 m = 5 min, 2 min before hand-over: 11:14.
	if want := t0.Add(14 * time.Minute); !st[1].Handover.Equal(want) {
		t.Errorf("dropoff at %v, want %v", st[1].Handover, want)
	}
	mustApply(t, e, t0.Add(5*time.Minute), OrderPickedUp{CourierID: "near", OrderID: "o1"})
	mustApply(t, e, t0.Add(14*time.Minute), OrderDelivered{CourierID: "near", OrderID: "o1"})
	o, ok := e.Order("o1")
	if !ok || o.Status != StatusDelivered {
		t.Fatalf("order %+v", o)
	}
}

// A store moved (its location corrected) while one of its orders waits on a route moves that pick-up: the route is
// shown again a version up, with the new place and re-timed; the same location again changes nothing, and an
// order already picked up keeps its route as it is.
func TestStoreMovedMovesThePickupsOnRoutes(t *testing.T) {
	e := planarEngine(t, nil)
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}}})
	mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: "c1", Vehicle: geo.Bike, Capacity: 4}})
	mustApply(t, e, t0, CourierOnline{CourierID: "c1", Location: orb.Point{480, 0}})
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "o1", StoreID: "s1", Dropoff: orb.Point{0, 1200},
		Ready: t0, DeliverBy: t0.Add(30 * time.Minute)}})
	mustApply(t, e, t0, DispatchTick{})
	before, _ := e.Route("c1")
	if len(before.Stops) != 2 {
		t.Fatalf("setup: route %+v, want o1's two stops", before)
	}

	fx := mustApply(t, e, t0.Add(time.Second), StoreUpserted{Store{ID: "s1", Location: orb.Point{960, 0}}})
	rc := effectsOf[RouteChanged](fx)
	if len(rc) != 1 || rc[0].Route.CourierID != "c1" || rc[0].Route.Version != before.Version+1 {
		t.Fatalf("effects of the move: %+v, want c1's route a version up", fx)
	}
	pickup := rc[0].Route.Stops[0]
	if pickup.Kind != Pickup || pickup.Location != (orb.Point{960, 0}) {
		t.Fatalf("pick-up after the move: %+v, want at the new place", pickup)
	}
	// 480 m from the courier instead of 480 m the other way round: the same ride; the drop-off is now 1 536 m from
	// the store instead of 1 200, so it is planned later.
	if !rc[0].Route.Stops[1].Handover.After(before.Stops[1].Handover) {
		t.Fatalf("drop-off at %v after the move, was %v: the route was not re-timed", rc[0].Route.Stops[1].Handover, before.Stops[1].Handover)
	}
	if got, _ := e.Route("c1"); got.Version != rc[0].Route.Version || got.Stops[0].Location != pickup.Location {
		t.Fatalf("Route after the move: %+v, want what the effect showed", got)
	}

	if fx := mustApply(t, e, t0.Add(2*time.Second), StoreUpserted{Store{ID: "s1", Name: "renamed", Location: orb.Point{960, 0}}}); len(fx) != 0 {
		t.Fatalf("a store saved at the same place: effects %+v, want none", fx)
	}

	mustApply(t, e, t0.Add(3*time.Second), CourierAccepted{CourierID: "c1", OrderID: "o1"})
	mustApply(t, e, t0.Add(4*time.Minute), OrderPickedUp{CourierID: "c1", OrderID: "o1"})
	if fx := mustApply(t, e, t0.Add(5*time.Minute), StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}}}); len(effectsOf[RouteChanged](fx)) != 0 {
		t.Fatalf("a store moved after its order was picked up: effects %+v, want no route change", fx)
	}
}

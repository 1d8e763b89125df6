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

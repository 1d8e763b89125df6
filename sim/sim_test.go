package sim

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

var day0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// testTown is a random planar town of 6 x 6 km with MDRP-like timing (whole minutes, 320 m/min).
func testTown(seed uint64, orders, couriers int, mdrpRules bool) *Scenario {
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg := dispatch.DefaultConfig()
	if mdrpRules {
		cfg.Rules = dispatch.Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
	}
	sc := &Scenario{
		Name: fmt.Sprintf("town-%d", seed), Start: day0, Space: geo.Planar,
		Travel: geo.CeilMinutes{Space: geo.Planar, MetresPerMinute: 320},
		Config: cfg, TickEvery: time.Minute, Target: 40 * time.Minute,
	}
	pt := func() orb.Point { return orb.Point{float64(rng.IntN(6000)), float64(rng.IntN(6000))} }
	for i := range 8 {
		sc.Stores = append(sc.Stores, dispatch.Store{ID: fmt.Sprintf("r%d", i+1), Location: pt()})
	}
	minute := func(m int) time.Time { return day0.Add(time.Duration(m) * time.Minute) }
	for i := range couriers {
		on := 60 * rng.IntN(3)
		sc.Couriers = append(sc.Couriers, Shift{
			Courier:  dispatch.CourierSpec{ID: fmt.Sprintf("c%d", i+1), Vehicle: geo.Bike, Capacity: 8},
			Location: pt(), On: minute(on), Off: minute(on + 120 + 60*rng.IntN(3)),
		})
	}
	for i := range orders {
		placed := rng.IntN(240)
		sc.Orders = append(sc.Orders, dispatch.OrderSpec{
			ID: fmt.Sprintf("o%d", i+1), StoreID: sc.Stores[rng.IntN(len(sc.Stores))].ID, Dropoff: pt(),
			Created: minute(placed), Ready: minute(placed + 5 + rng.IntN(20)), DeliverBy: minute(placed + 40),
		})
	}
	return sc
}

// checkResult asserts what must hold in any simulated day, whatever the policy.
func checkResult(t *testing.T, sc *Scenario, r *Result) {
	t.Helper()
	if len(r.Orders) != len(sc.Orders) || len(r.Couriers) != len(sc.Couriers) {
		t.Fatalf("result has %d orders and %d couriers, scenario %d and %d", len(r.Orders), len(r.Couriers), len(sc.Orders), len(sc.Couriers))
	}
	shifts := map[string]Shift{}
	for _, c := range sc.Couriers {
		shifts[c.Courier.ID] = c
	}
	for _, o := range r.Orders {
		if o.Status != dispatch.StatusDelivered {
			if !o.Delivered.IsZero() {
				t.Errorf("order %s is %s but has a delivery time", o.ID, o.Status)
			}
			continue
		}
		switch {
		case o.Assigned.Before(o.Placed):
			t.Errorf("order %s assigned at %s before placed at %s", o.ID, o.Assigned, o.Placed)
		case o.PickedUp.Before(o.Ready):
			t.Errorf("order %s picked up before ready", o.ID)
		case o.PickedUp.Before(o.LastAssigned):
			t.Errorf("order %s picked up before it was assigned", o.ID)
		case !o.Delivered.After(o.PickedUp):
			t.Errorf("order %s delivered at %s, picked up %s", o.ID, o.Delivered, o.PickedUp)
		case sc.Config.Rules.NoPickupAfterShiftEnd && o.PickedUp.After(shifts[o.CourierID].Off):
			t.Errorf("order %s picked up by %s after its shift", o.ID, o.CourierID)
		}
		p := r.Pickups[o.Bundle]
		if p.CourierID != o.CourierID || !p.At.Equal(o.PickedUp) || p.StoreID != o.StoreID {
			t.Errorf("order %s: its pickup %+v does not match", o.ID, p)
		}
	}
	for _, c := range r.Couriers {
		var last Place
		for i, m := range c.Moves {
			if i == 0 && (m.From.Kind != PlaceStart || m.Depart.Before(c.On)) {
				t.Errorf("courier %s: first move %+v", c.ID, m)
			}
			if i > 0 && m.From != last {
				t.Errorf("courier %s: move %d starts at %+v, the last ended at %+v", c.ID, i, m.From, last)
			}
			if i > 0 && m.Depart.Before(c.Moves[i-1].Arrive) {
				t.Errorf("courier %s: move %d leaves before arriving", c.ID, i)
			}
			want := sc.Travel.TravelTime(placeLoc(sc, m.From, c.ID), placeLoc(sc, m.To, c.ID), geo.Bike)
			if m.From.Kind != PlaceRoad && m.Arrive.Sub(m.Depart) != want {
				t.Errorf("courier %s: move %d takes %s, travel time is %s", c.ID, i, m.Arrive.Sub(m.Depart), want)
			}
			last = m.To
		}
	}
}

func placeLoc(sc *Scenario, p Place, courierID string) orb.Point {
	switch p.Kind {
	case PlaceStore:
		for _, s := range sc.Stores {
			if s.ID == p.ID {
				return s.Location
			}
		}
	case PlaceDropoff:
		for _, o := range sc.Orders {
			if o.ID == p.ID {
				return o.Dropoff
			}
		}
	case PlaceStart:
		for _, c := range sc.Couriers {
			if c.Courier.ID == courierID {
				return c.Location
			}
		}
	}
	return orb.Point{}
}

func TestRunKeepsTheWorldConsistent(t *testing.T) {
	for _, mdrp := range []bool{false, true} {
		for _, pol := range []dispatch.Policy{dispatch.PolicyOptimize, dispatch.PolicyNearestIdle} {
			for seed := uint64(1); seed <= 6; seed++ {
				t.Run(fmt.Sprintf("mdrp=%v/%s/%d", mdrp, pol, seed), func(t *testing.T) {
					sc := testTown(seed, 150, 30, mdrp)
					r, err := Run(sc, Options{Policy: pol})
					if err != nil {
						t.Fatal(err)
					}
					checkResult(t, sc, r)
					delivered := 0
					for _, o := range r.Orders {
						if o.Status == dispatch.StatusDelivered {
							delivered++
						}
					}
					if delivered < len(r.Orders)*8/10 {
						t.Errorf("only %d of %d orders delivered", delivered, len(r.Orders))
					}
				})
			}
		}
	}
}

func TestRunIsDeterministic(t *testing.T) {
	sc := testTown(7, 200, 10, false)
	a, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of one scenario differ")
	}
}

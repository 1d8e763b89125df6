package sim

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
)

// mdrpTown is a small MDRP instance: orders whose meals take 5 to 35 minutes, couriers enough to serve them.
func mdrpTown(seed uint64) *mdrp.Instance {
	rng := rand.New(rand.NewPCG(seed, 7))
	in := &mdrp.Instance{Name: fmt.Sprintf("town%d", seed), Params: mdrp.Params{MetersPerMinute: 320,
		PickupService: 4, DropoffService: 4, Target: 40, MaxClickToDoor: 90, PayPerOrder: 10, PayPerHour: 15}}
	for i := range 5 {
		in.Restaurants = append(in.Restaurants, mdrp.Restaurant{ID: fmt.Sprintf("r%d", i+1),
			X: float64(rng.IntN(6000)), Y: float64(rng.IntN(6000))})
	}
	for i := range 120 {
		placed := rng.IntN(300)
		in.Orders = append(in.Orders, mdrp.Order{ID: fmt.Sprintf("o%d", i+1),
			X: float64(rng.IntN(6000)), Y: float64(rng.IntN(6000)), Placement: placed,
			Restaurant: in.Restaurants[rng.IntN(len(in.Restaurants))].ID, Ready: placed + 5 + rng.IntN(30)})
	}
	for i := range 12 {
		in.Couriers = append(in.Couriers, mdrp.Courier{ID: fmt.Sprintf("c%d", i+1),
			X: float64(rng.IntN(6000)), Y: float64(rng.IntN(6000)), On: 0, Off: 360})
	}
	return in
}

// storeWaits returns, for every store visit of a run, how long its courier waited there for the food: the pick-up
// time minus the arrival and half the pick-up service.
func storeWaits(t *testing.T, r *Result, pickupService time.Duration) []time.Duration {
	t.Helper()
	moves := make(map[string][]Move, len(r.Couriers))
	for _, c := range r.Couriers {
		moves[c.ID] = c.Moves
	}
	var waits []time.Duration
	for _, p := range r.Pickups {
		var arrived time.Time
		for _, m := range moves[p.CourierID] {
			if m.To.Kind == PlaceStore && m.To.ID == p.StoreID && !m.Arrive.After(p.At) {
				arrived = m.Arrive
			}
		}
		if arrived.IsZero() {
			t.Fatalf("courier %s picked up at %s without arriving there", p.CourierID, p.StoreID)
		}
		waits = append(waits, p.At.Sub(arrived)-pickupService/2)
	}
	return waits
}

// Under MDRPConfig a courier is committed to a bundle only when it has no round to spare (CommitLead): no courier
// ever waits a minute at a restaurant for the food, and every order is still delivered, by a feasible solution.
// Without the lead, couriers sent at once wait for meals still cooking.
func TestMDRPCouriersDoNotWaitForTheFood(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		in := mdrpTown(seed)
		for _, lead := range []bool{true, false} {
			opt := Options{Policy: dispatch.PolicyOptimize}
			if !lead {
				opt.Tune = func(c *dispatch.Config) { c.CommitLead = 0 }
			}
			out, err := RunMDRP(in, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !out.MDRP.Feasible || out.MDRP.Metrics.OrdersDelivered != len(in.Orders) {
				t.Fatalf("lead %v: feasible %v (%v), delivered %d of %d", lead, out.MDRP.Feasible, out.MDRP.Violations,
					out.MDRP.Metrics.OrdersDelivered, len(in.Orders))
			}
			waited := 0
			for _, w := range storeWaits(t, out.Result, 4*time.Minute) {
				if w >= time.Minute {
					waited++
				}
			}
			switch {
			case lead && waited > 0:
				t.Errorf("with CommitLead %d store visits waited a minute or more for the food", waited)
			case !lead && waited == 0:
				t.Errorf("without CommitLead no courier waited: the instance does not test the lead")
			}
		}
	}
}

// No run loses fewer orders than mdrp.LostBound says every solution must: on small instances whose shifts end
// while orders still come, both policies produce feasible solutions that miss at least the bound (on some of
// them the capacity bound proves more than the unreachable orders).
func TestMDRPRunsRespectTheLostBound(t *testing.T) {
	proved := 0
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		in := mdrpTown(seed)
		for i := range in.Couriers {
			in.Couriers[i].Off = 200 + rng.IntN(150)
		}
		bound := mdrp.LostBound(in)
		if bound > len(mdrp.Unreachable(in)) {
			proved++
		}
		for _, p := range []dispatch.Policy{dispatch.PolicyOptimize, dispatch.PolicyNearestIdle} {
			out, err := RunMDRP(in, Options{Policy: p})
			if err != nil {
				t.Fatal(err)
			}
			if !out.MDRP.Feasible {
				t.Fatalf("seed %d, %s: infeasible: %v", seed, p, out.MDRP.Violations[0])
			}
			if missed := len(in.Orders) - len(out.MDRP.Solution.Orders); missed < bound {
				t.Fatalf("seed %d, %s: %d orders missed, below the bound of %d", seed, p, missed, bound)
			}
		}
	}
	if proved == 0 {
		t.Fatal("the capacity bound proved nothing beyond the unreachable orders on any instance: the test checks too little")
	}
}

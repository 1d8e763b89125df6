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
	for seed := uint64(1); seed <= sized[uint64](5, 2); seed++ {
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
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if raceOn {
		// A plain instance, the one with unreachable orders (7) and the one whose capacity bound proves more (9).
		seeds = []uint64{1, 7, 9}
	}
	for _, seed := range seeds {
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

// runMDRPWith runs in under MDRPConfig changed by mutate and returns its solution, failing on an infeasible one.
func runMDRPWith(t *testing.T, in *mdrp.Instance, mutate func(*dispatch.Config)) *mdrp.Solution {
	t.Helper()
	sc := FromMDRP(in)
	mutate(&sc.Config)
	out, err := RunScenario(sc, Options{Policy: dispatch.PolicyOptimize})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := MDRPSolution(out.Result)
	if err != nil {
		t.Fatal(err)
	}
	if v := mdrp.Validate(in, sol); len(v) > 0 {
		t.Fatalf("infeasible solution: %v", v[0])
	}
	return sol
}

// scarceTown is a small MDRP instance short of couriers at the end of the day: shifts end one after another while
// orders keep coming.
func scarceTown(seed uint64) *mdrp.Instance {
	rng := rand.New(rand.NewPCG(seed, 11))
	in := &mdrp.Instance{Name: fmt.Sprintf("scarce%d", seed), Params: mdrp.Params{MetersPerMinute: 320,
		PickupService: 4, DropoffService: 4, Target: 40, MaxClickToDoor: 90, PayPerOrder: 10, PayPerHour: 15}}
	for i := range 8 {
		in.Restaurants = append(in.Restaurants, mdrp.Restaurant{ID: fmt.Sprintf("r%d", i+1),
			X: float64(rng.IntN(8000)), Y: float64(rng.IntN(8000))})
	}
	for i := range 70 {
		placed := rng.IntN(240)
		in.Orders = append(in.Orders, mdrp.Order{ID: fmt.Sprintf("o%d", i+1),
			X: float64(rng.IntN(8000)), Y: float64(rng.IntN(8000)), Placement: placed,
			Restaurant: in.Restaurants[rng.IntN(len(in.Restaurants))].ID, Ready: placed + 5 + rng.IntN(30)})
	}
	for i := range 6 {
		in.Couriers = append(in.Couriers, mdrp.Courier{ID: fmt.Sprintf("c%d", i+1),
			X: float64(rng.IntN(8000)), Y: float64(rng.IntN(8000)), On: 0, Off: 150 + 20*i})
	}
	return in
}

// Short of couriers at the end of the day, the planned round (PlanBudget, on under MDRPConfig) delivers more orders
// than the matching of one round at a time, over a set of instances, never fewer on any, every solution feasible.
func TestMDRPPlannedRoundDeliversMoreWhenCouriersAreScarce(t *testing.T) {
	matchedTotal, plannedTotal := 0, 0
	for seed := uint64(1); seed <= sized[uint64](6, 2); seed++ {
		in := scarceTown(seed)
		matched := len(runMDRPWith(t, in, func(cfg *dispatch.Config) { cfg.PlanBudget = 0 }).Orders)
		planned := len(runMDRPWith(t, in, func(*dispatch.Config) {}).Orders)
		t.Logf("seed %d: %d orders, matching delivers %d, planned round %d", seed, len(in.Orders), matched, planned)
		if planned < matched {
			t.Errorf("seed %d: the planned round delivered %d, fewer than the matching's %d", seed, planned, matched)
		}
		matchedTotal += matched
		plannedTotal += planned
	}
	if plannedTotal <= matchedTotal {
		t.Fatalf("the planned round delivered %d orders in all, the matching %d", plannedTotal, matchedTotal)
	}
}

// The planned round is deterministic: two runs of an instance give the same solution.
func TestMDRPPlannedRoundDeterministic(t *testing.T) {
	in := mdrpTown(3)
	a := runMDRPWith(t, in, func(*dispatch.Config) {})
	b := runMDRPWith(t, in, func(*dispatch.Config) {})
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("two runs of the planned round differ")
	}
	if len(a.Orders) != len(in.Orders) {
		t.Errorf("delivered %d of %d orders with couriers enough", len(a.Orders), len(in.Orders))
	}
}

package mdrp

import (
	"reflect"
	"slices"
	"testing"
)

// Replan's plans are feasible, keep what was picked up before From, never deliver fewer orders than the solution
// they start from, never beat the proven bound, and on random instances where the greedy dispatcher loses orders
// they often deliver more.
func TestReplanFeasibleAndNoWorse(t *testing.T) {
	better := 0
	for seed := uint64(1); seed <= 30; seed++ {
		in := randomInstance(seed)
		sol := greedy(in, 1, 0)
		for _, from := range []int{0, 90, 180} {
			got, err := Replan(in, sol, ReplanOptions{From: from, Iterations: 100, Seed: seed})
			if err != nil {
				t.Fatalf("seed %d from %d: %v", seed, from, err)
			}
			if v := Validate(in, got); len(v) != 0 {
				t.Fatalf("seed %d from %d: the re-plan is not feasible: %v", seed, from, v[0])
			}
			if len(got.Orders) < len(sol.Orders) {
				t.Fatalf("seed %d from %d: the re-plan delivers %d orders, the solution it started from %d", seed, from,
					len(got.Orders), len(sol.Orders))
			}
			if missed := len(in.Orders) - len(got.Orders); missed < LostBound(in) {
				t.Fatalf("seed %d from %d: the re-plan misses %d orders, below the bound %d", seed, from, missed, LostBound(in))
			}
			for _, a := range sol.Assignments {
				if a.Pickup < from && !slices.ContainsFunc(got.Assignments, func(b Assignment) bool {
					return reflect.DeepEqual(a, b)
				}) {
					t.Fatalf("seed %d from %d: assignment %+v picked up before From is not kept", seed, from, a)
				}
			}
			if len(got.Orders) > len(sol.Orders) {
				better++
			}
		}
	}
	if better == 0 {
		t.Fatal("no re-plan delivered more than the greedy dispatcher on any of the random instances")
	}
	t.Logf("the re-plan delivered more than greedy in %d of 90 cases", better)
}

// The same instance, solution and options give the same plan.
func TestReplanDeterministic(t *testing.T) {
	in := randomInstance(7)
	sol := greedy(in, 3, 10)
	a, err := Replan(in, sol, ReplanOptions{From: 60, Iterations: 300, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Replan(in, sol, ReplanOptions{From: 60, Iterations: 300, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two re-plans with the same seed differ")
	}
}

// One courier, two orders at two restaurants: the order placed first is a long way off, and taking it first (as a
// first-come dispatcher does) leaves no time for the second before the off-time; the re-plan serves the near one
// first and still makes the far one, because a pickup only has to be by the off-time and the drop-off may follow.
func TestReplanDeliversWhatGreedyLoses(t *testing.T) {
	in := &Instance{
		Params:      Params{MetersPerMinute: 100, PickupService: 4, DropoffService: 4, Target: 40, MaxClickToDoor: 90},
		Restaurants: []Restaurant{{ID: "near", X: 0, Y: 0}, {ID: "far", X: 1500, Y: 0}},
		Couriers:    []Courier{{ID: "c1", X: 0, Y: 0, On: 0, Off: 30}},
		Orders: []Order{
			// Far: 15 min away; greedy goes there first (pickup at 17), delivers at 19+10+2 = 31: too late for near.
			// Near first: delivered at 8, free at 10, at the far restaurant at 26, picks up at 28.
			{ID: "o-far", X: 1500, Y: 1000, Placement: 0, Restaurant: "far", Ready: 0},
			// Near: ready at 1, its diner 100 m off.
			{ID: "o-near", X: 0, Y: 100, Placement: 1, Restaurant: "near", Ready: 1},
		},
	}
	sol := greedy(in, 1, 0)
	if v := Validate(in, sol); len(v) != 0 || len(sol.Orders) != 1 {
		t.Fatalf("the greedy solution should be feasible and deliver one order: %v, %d delivered", v, len(sol.Orders))
	}
	got, err := Replan(in, sol, ReplanOptions{From: 0, Iterations: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v := Validate(in, got); len(v) != 0 {
		t.Fatalf("the re-plan is not feasible: %v", v[0])
	}
	if len(got.Orders) != 2 {
		t.Fatalf("the re-plan delivers %d orders, want both", len(got.Orders))
	}
}

// A solution that is not feasible is refused with an error.
func TestReplanRefusesInfeasibleSolution(t *testing.T) {
	in, sol := fixture()
	sol.Assignments[0].Pickup = in.Couriers[0].Off + 1
	if _, err := Replan(in, sol, ReplanOptions{From: 0, Iterations: 10}); err == nil {
		t.Fatal("Replan accepted an infeasible solution")
	}
}

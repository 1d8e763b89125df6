package mdrp

import (
	"slices"
	"testing"
)

// An order is unreachable when every courier's earliest pickup (ready time, or the straight ride from its
// on-location plus half the service, rounded up to a minute) is after its off-time; one courier that can make it
// is enough.
func TestUnreachable(t *testing.T) {
	in := &Instance{
		Params:      Params{MetersPerMinute: 100, PickupService: 3},
		Restaurants: []Restaurant{{ID: "r1", X: 0, Y: 0}, {ID: "r2", X: 1000, Y: 0}},
		Couriers: []Courier{
			// c1 is at r1 from minute 0 to 60: it can pick up at r1 from 2 (half of 3 minutes, rounded up); it
			// needs 10 min to r2, so from 12 there.
			{ID: "c1", X: 0, Y: 0, On: 0, Off: 60},
			// c2 starts 500 m from r2 at 50 and works until 90: at r2 from 50+5+1.5, so 57.
			{ID: "c2", X: 1500, Y: 0, On: 50, Off: 90},
		},
		Orders: []Order{
			{ID: "ready-before-off", Restaurant: "r1", Placement: 0, Ready: 60},
			{ID: "ready-after-every-off", Restaurant: "r1", Placement: 80, Ready: 91},
			{ID: "only-c2", Restaurant: "r2", Placement: 70, Ready: 88},
			{ID: "ready-at-90", Restaurant: "r2", Placement: 70, Ready: 90},
		},
	}
	if got, want := Unreachable(in), []string{"ready-after-every-off"}; !slices.Equal(got, want) {
		t.Fatalf("unreachable %v, want %v", got, want)
	}
	// Half the service is rounded up: with c2 due off at 56 it would pick up at r2 at 57 at the earliest.
	in.Couriers[1].Off = 56
	in.Orders = []Order{{ID: "o", Restaurant: "r2", Placement: 50, Ready: 50}}
	in.Couriers[0].Off = 11 // c1 cannot reach r2 (12) before its off-time either
	if got := Unreachable(in); !slices.Equal(got, []string{"o"}) {
		t.Fatalf("unreachable %v, want [o]", got)
	}
	in.Couriers[1].Off = 57
	if got := Unreachable(in); len(got) != 0 {
		t.Fatalf("unreachable %v, want none (c2 picks up at 57)", got)
	}
}

// Two orders at two restaurants, each a long ride from its diner, and one courier whose shift leaves time for one
// trip: each order alone is reachable, but the courier cannot make a second pickup after the first, so one is
// lost whatever the plan. CapacityBound proves it where Unreachable proves nothing.
func TestCapacityBoundBeyondUnreachable(t *testing.T) {
	in := &Instance{
		Params:      Params{MetersPerMinute: 100, PickupService: 4, DropoffService: 4},
		Restaurants: []Restaurant{{ID: "r1", X: 0, Y: 0}, {ID: "r2", X: 200, Y: 0}},
		// On at r1 from 0 to 20: a pickup at r1 from minute 2, at r2 from 4.
		Couriers: []Courier{{ID: "c1", X: 0, Y: 0, On: 0, Off: 20}},
		Orders: []Order{
			// Diners 2 km out (20 min): after either pickup the courier is back at a restaurant 40 min later at
			// the earliest, long after its off-time.
			{ID: "o1", X: 0, Y: 2000, Placement: 0, Restaurant: "r1", Ready: 5},
			{ID: "o2", X: 200, Y: -2000, Placement: 0, Restaurant: "r2", Ready: 5},
		},
	}
	if got := Unreachable(in); len(got) != 0 {
		t.Fatalf("unreachable %v, want none: each order alone can be picked up", got)
	}
	lost, from := CapacityBound(in)
	if lost != 1 || from != 5 {
		t.Fatalf("capacity bound %d from minute %d, want 1 from 5", lost, from)
	}
	if got := LostBound(in); got != 1 {
		t.Fatalf("LostBound %d, want 1", got)
	}

	// Diners next to the restaurants: the courier has time for both (pickup at 5, drop-off near 8, back and a
	// second pickup near 13), and the bound proves nothing.
	in.Orders[0].Y, in.Orders[1].Y = 100, -100
	if lost, _ := CapacityBound(in); lost != 0 {
		t.Fatalf("capacity bound %d with short trips, want 0", lost)
	}

	// Two orders of one restaurant can share a pickup: one trip, nothing proven lost.
	in.Orders[0].Y, in.Orders[1].Y = 2000, -2000
	in.Orders[1].Restaurant = "r1"
	if lost, _ := CapacityBound(in); lost != 0 {
		t.Fatalf("capacity bound %d for one restaurant, want 0 (one pickup may carry both)", lost)
	}

	// A second courier on the same shift makes the second trip.
	in.Orders[1].Restaurant = "r2"
	in.Couriers = append(in.Couriers, Courier{ID: "c2", X: 200, Y: 0, On: 0, Off: 20})
	if lost, _ := CapacityBound(in); lost != 0 {
		t.Fatalf("capacity bound %d with two couriers, want 0", lost)
	}
}

// The bound never exceeds what a feasible solution misses: on random instances, the greedy dispatcher of the tests
// produces feasible solutions, and no bound may claim more orders lost than it loses.
func TestLostBoundBelowFeasibleSolutions(t *testing.T) {
	proved := 0
	for seed := uint64(1); seed <= 200; seed++ {
		in := randomInstance(seed)
		for _, bundle := range []int{1, 3} {
			sol := greedy(in, bundle, 10)
			if v := Validate(in, sol); len(v) != 0 {
				t.Fatalf("seed %d: the greedy solution is not feasible: %v", seed, v[0])
			}
			missed := len(in.Orders) - len(sol.Orders)
			if b := LostBound(in); b > missed {
				t.Fatalf("seed %d: bound %d orders lost, but a feasible solution misses only %d", seed, b, missed)
			}
		}
		if lost, _ := CapacityBound(in); lost > 0 {
			proved++
		}
	}
	t.Logf("the capacity bound proved an order lost in %d of 200 random instances", proved)
}

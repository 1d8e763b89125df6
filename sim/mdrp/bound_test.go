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

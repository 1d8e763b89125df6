package dispatch

import (
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Config.ExpiryHorizon: one courier, whose shift is about to end, and two orders. The one at its own store is
// cheaper to serve, but the other, 2 km away, can be picked up by nobody else and by this courier only if it sets
// off now. With the horizon the courier takes the order that would otherwise be lost; without it, the cheap one.
func TestExpiryServesTheOrderAboutToBeLost(t *testing.T) {
	for _, tc := range []struct {
		horizon time.Duration
		rules   bool // Rules.NoPickupAfterShiftEnd
		want    string
	}{
		{horizon: 0, rules: true, want: "cheap"},
		{horizon: 8 * time.Minute, rules: true, want: "urgent"},
		// Without the rule a shift end stops no pick-up: nothing expires.
		{horizon: 8 * time.Minute, rules: false, want: "cheap"},
	} {
		c := newCity(t, func(cfg *Config) {
			cfg.PostponeSlack = 0
			cfg.ExpiryHorizon = tc.horizon
			cfg.Rules.NoPickupAfterShiftEnd = tc.rules
		})
		c.store("B", 0, 0)
		c.store("A", 2000, 0)
		now := c.now()
		mustApply(t, c.e, now, CourierRegistered{CourierSpec{ID: "x", Vehicle: geo.Bike, Capacity: 1}})
		// At 4 m/s the courier reaches A in 8 min 20 s and picks up 2 min later: 1 min 40 s before its shift ends.
		mustApply(t, c.e, now, CourierOnline{CourierID: "x", Location: orb.Point{0, 0}, ShiftEnd: now.Add(12 * time.Minute)})
		c.order("cheap", "B", 0, 300, 0, time.Hour)
		c.order("urgent", "A", 2000, 300, 0, time.Hour)
		c.tick(time.Second)
		got := ""
		for _, id := range []string{"cheap", "urgent"} {
			if c.courierOf(id) == "x" {
				got = id
			}
		}
		if got != tc.want {
			t.Errorf("horizon %s, rule %v: the courier took %q, want %q", tc.horizon, tc.rules, got, tc.want)
		}
	}
}

// pickupSlack is the most any courier on shift has to spare before it can no longer pick an order up; it is
// negative when none can, and no courier without a known shift end lets an order expire.
func TestPickupSlack(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.ExpiryHorizon = 8 * time.Minute })
	c.store("A", 2000, 0)
	now := c.now()
	online := func(id string, x float64, end time.Duration) {
		mustApply(t, c.e, now, CourierRegistered{CourierSpec{ID: id, Vehicle: geo.Bike, Capacity: 1}})
		var shiftEnd time.Time
		if end > 0 {
			shiftEnd = now.Add(end)
		}
		mustApply(t, c.e, now, CourierOnline{CourierID: id, Location: orb.Point{x, 0}, ShiftEnd: shiftEnd})
	}
	// 2 km from A: at A 8 min 20 s from now, picks up 2 min later (10 min 20 s).
	online("x", 0, 12*time.Minute)
	// At A: picks up 2 min from now, but its shift ends in 1 min.
	online("y", 2000, time.Minute)
	c.order("a", "A", 2000, 300, 0, time.Hour)
	slack := func() time.Duration {
		e := c.e
		e.prepareExpiry()
		return time.Duration(e.pickupSlack(e.orders["a"]))
	}
	if got, want := slack(), 100*time.Second; got != want {
		t.Fatalf("slack %s, want %s (x's shift end minus its earliest pick-up)", got, want)
	}
	online("z", 0, 0)
	if got := slack(); got != never {
		t.Fatalf("slack %s with a courier of no known shift end, want never", got)
	}
}

package dispatch

import (
	"testing"
	"time"
)

func TestNearestIdleBaseline(t *testing.T) {
	base := func(cfg *Config) { cfg.Policy = PolicyNearestIdle }

	t.Run("OldestOrderTakesNearestIdleCourier", func(t *testing.T) {
		// x is nearest to both stores. The global matching would give A to y and B to x; the baseline serves the
		// older order first with the nearest courier, whatever that costs the next one.
		c := newCity(t, base)
		c.store("A", 0, 0)
		c.store("B", 2400, 0)
		c.courier("x", 1000, 0, 4)
		c.courier("y", 4000, 0, 4)
		c.order("b", "B", 2400, 600, 0, time.Hour) // placed first
		c.order("a", "A", 0, 600, 0, time.Hour)
		c.tick(time.Second)
		if got := c.courierOf("b"); got != "x" {
			t.Errorf("older order b went to %q, want x (nearest idle)", got)
		}
		if got := c.courierOf("a"); got != "y" {
			t.Errorf("a went to %q, want y (x is busy)", got)
		}
	})

	t.Run("OneOrderAtATimeNoBundles", func(t *testing.T) {
		// Two orders of one store and one courier with room for four: the baseline carries one, the other waits.
		c := newCity(t, base)
		c.store("A", 0, 0)
		c.courier("x", 0, 0, 4)
		c.order("a", "A", 100, 0, 0, time.Hour)
		c.order("b", "A", 120, 0, 0, time.Hour)
		c.tick(time.Second)
		r, _ := c.e.Route("x")
		if len(r.Stops) != 2 || r.Stops[0].OrderID != "a" || r.Stops[1].OrderID != "a" {
			t.Fatalf("route %+v, want only order a", r.Stops)
		}
		if o, _ := c.e.Order("b"); o.Status != StatusPending {
			t.Fatalf("b is %s, want pending", o.Status)
		}
		// Once x is free again, b goes to it.
		now := c.now()
		mustApply(t, c.e, now, CourierArrived{CourierID: "x", OrderID: "a"})
		mustApply(t, c.e, now, OrderPickedUp{CourierID: "x", OrderID: "a"})
		mustApply(t, c.e, now, OrderDelivered{CourierID: "x", OrderID: "a"})
		c.tick(time.Second)
		if got := c.courierOf("b"); got != "x" {
			t.Fatalf("b went to %q, want x", got)
		}
	})

	t.Run("NoCourierReason", func(t *testing.T) {
		c := newCity(t, base)
		c.store("A", 0, 0)
		c.courier("far", 50_000, 0, 4)
		c.order("a", "A", 100, 0, 0, time.Hour)
		fx := c.tick(time.Second)
		un := effectsOf[OrderUnplaced](fx)
		if len(un) != 1 || un[0].Reason != UnplacedNoCourier {
			t.Fatalf("unplaced %+v, want no_courier_in_reach", un)
		}
	})
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePolicy("greedy"); ErrorCodeOf(err) != EInvalid {
		t.Errorf("unknown policy: %v", err)
	}
}

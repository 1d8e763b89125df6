package dispatch

import (
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Config.ReachBeyond: an order no courier within ReachRadius can take (none is there, or those there cannot make
// it) goes to the nearest courier beyond the radius; without it the order waits.
func TestReachBeyondOffersFarCouriers(t *testing.T) {
	for _, tc := range []struct {
		name string
		// near: a courier 500 m from the store whose shift ends before it could pick up
		near, beyond bool
		want         string
	}{
		{name: "nobody within reach, off", want: ""},
		{name: "nobody within reach, on", beyond: true, want: "far"},
		{name: "nobody within reach that can make it, off", near: true, want: ""},
		{name: "nobody within reach that can make it, on", near: true, beyond: true, want: "far"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCity(t, func(cfg *Config) {
				cfg.PostponeSlack = 0
				cfg.ReachRadius = 8000
				cfg.HardLateness = 5 * time.Hour
				cfg.ReachBeyond = tc.beyond
			})
			c.store("A", 0, 0)
			now := c.now()
			online := func(id string, x float64, shiftEnd time.Time) {
				mustApply(t, c.e, now, CourierRegistered{CourierSpec{ID: id, Vehicle: geo.Bike, Capacity: 3}})
				mustApply(t, c.e, now, CourierOnline{CourierID: id, Location: orb.Point{x, 0}, ShiftEnd: shiftEnd})
			}
			online("far", 20000, time.Time{})
			if tc.near {
				online("near", 500, now.Add(time.Minute))
			}
			c.order("a", "A", 0, 600, 0, time.Hour)
			c.tick(time.Second)
			if got := c.courierOf("a"); got != tc.want {
				t.Fatalf("order a went to %q, want %q", got, tc.want)
			}
		})
	}
}

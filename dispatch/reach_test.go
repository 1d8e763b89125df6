package dispatch

import (
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// TestReachOf: the earliest drop-off is the ready time plus the fastest ride with the half services the planner
// counts; it is out of reach past the promise plus HardLateness (unless late is accepted), and past MaxRide always.
func TestReachOf(t *testing.T) {
	e := planarEngine(t, nil) // 4 m/s for every profile, no detour; services 4 min, hard lateness 30, max ride 45
	ready := t0
	for _, tc := range []struct {
		metres     float64
		acceptLate bool
		ride       time.Duration
		reason     string
	}{
		{4800, false, 24 * time.Minute, ""},           // 20 min of travel and 2+2 of service: by the promise
		{7200, false, 34 * time.Minute, ReachTooLate}, // 4 minutes past the 30 of hard lateness
		{7200, true, 34 * time.Minute, ""},
		{10800, true, 49 * time.Minute, ReachRideTooLong},
		{10800, false, 49 * time.Minute, ReachRideTooLong},
	} {
		r := ReachOf(&e.cfg, e.travel, orb.Point{0, 0}, orb.Point{0, tc.metres}, ready, ready, tc.acceptLate)
		if r.Ride != tc.ride || r.Reason != tc.reason || !r.EarliestDropoff.Equal(ready.Add(tc.ride)) ||
			!r.LatestDropoff.Equal(ready.Add(30*time.Minute)) {
			t.Errorf("%.0f m, accept late %v: %+v, want ride %s and reason %q", tc.metres, tc.acceptLate, r, tc.ride, tc.reason)
		}
	}
}

// TestAcceptLateOrderIsPlannedPastTheHardLimit: an order that no plan could deliver within the hard lateness waits
// (would_be_late) unless it accepts a late delivery; then a round plans it, and a checkpoint keeps the flag.
func TestAcceptLateOrderIsPlannedPastTheHardLimit(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("s", 0, 0)
	c.courier("a", 0, 0, 2)
	now := c.now()
	for _, spec := range []OrderSpec{
		{ID: "strict", StoreID: "s", Dropoff: orb.Point{0, 7200}, Ready: now, DeliverBy: now.Add(time.Minute)},
		{ID: "lenient", StoreID: "s", Dropoff: orb.Point{0, 7200}, Ready: now, DeliverBy: now.Add(time.Minute), AcceptLate: true},
	} {
		mustApply(t, c.e, now, OrderPlaced{spec})
	}
	mustApply(t, c.e, now, DispatchTick{})
	if o, _ := c.e.Order("strict"); o.Status != StatusPending {
		t.Fatalf("strict order: %s, want pending", o.Status)
	}
	if o, _ := c.e.Order("lenient"); o.Status != StatusAssigned || o.CourierID != "a" {
		t.Fatalf("lenient order: %s with %q, want assigned to a", o.Status, o.CourierID)
	}
	st := c.e.Export()
	restored := restoreFrom(t, c.e, st)
	found := false
	for _, so := range restored.Export().Orders {
		if so.ID == "lenient" {
			found = so.AcceptLate
		}
	}
	if !found || string(exportJSON(t, restored)) != string(exportJSON(t, c.e)) {
		t.Fatal("a checkpoint lost accept_late")
	}
}

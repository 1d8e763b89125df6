package dispatch

import (
	"errors"
	"testing"
	"time"
)

func plannedMDRP(cfg *Config) {
	cfg.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
	cfg.PostponeSlack = 0
	cfg.CommitLead = time.Minute
	cfg.PlanBudget = 50
}

// The planned round commits a trip only when its courier has no round to spare, as the matching does under
// CommitLead: x, 2 min from the store, is given the order ready in 10 min at the round where it would wait less than
// a minute for it, and picks it up when it is ready.
func TestPlannedRoundCommitsOnlyWhatCannotWait(t *testing.T) {
	c := newCity(t, plannedMDRP)
	c.store("A", 0, 0)
	c.courier("x", 480, 0, 4)
	c.order("a", "A", 0, 1200, 10*time.Minute, 40*time.Minute)
	assignedAt := time.Duration(-1)
	for m := range 10 {
		c.tick(time.Minute)
		if c.courierOf("a") == "x" {
			assignedAt = c.now().Sub(t0)
			break
		}
		if r, _ := c.e.Route("x"); len(r.Stops) != 0 {
			t.Fatalf("after %d min: the courier was given %+v before it had to leave", m+1, r.Stops)
		}
	}
	if assignedAt != 6*time.Minute {
		t.Fatalf("committed after %s, want 6m0s", assignedAt)
	}
	r, _ := c.e.Route("x")
	if want := t0.Add(10 * time.Minute); len(r.Stops) != 2 || !r.Stops[0].Handover.Equal(want) {
		t.Fatalf("route %+v, want the pick-up when the order is ready, %s", r.Stops, want.Format(time.TimeOnly))
	}
}

// Three orders of one store placed together go out as one trip with the one courier (the planned trip holds all
// three), and an order no courier can carry (too big) is told why it waits.
func TestPlannedRoundBundlesATripAndTellsWhatItCannotPlace(t *testing.T) {
	c := newCity(t, plannedMDRP)
	c.store("A", 0, 0)
	c.courier("x", 2400, 0, 3) // 10 min away: no time to spare for orders ready in 5
	for _, id := range []string{"a", "b", "c"} {
		c.order(id, "A", 0, 600, 5*time.Minute, 40*time.Minute)
	}
	now := c.now()
	mustApply(t, c.e, now, OrderPlaced{OrderSpec{ID: "big", StoreID: "A", Size: 4, Ready: now, DeliverBy: now.Add(time.Hour)}})
	fx := c.tick(time.Second)
	for _, id := range []string{"a", "b", "c"} {
		if got := c.courierOf(id); got != "x" {
			t.Fatalf("order %s given to %q, want x", id, got)
		}
	}
	if r, _ := c.e.Route("x"); len(r.Stops) != 6 {
		t.Fatalf("route %+v, want the three orders' pick-ups and drop-offs", r.Stops)
	}
	if o, _ := c.e.Order("big"); o.Status != StatusPending {
		t.Fatalf("order big: %+v, want pending", o)
	}
	told := false
	for _, u := range effectsOf[OrderUnplaced](fx) {
		told = told || u.OrderID == "big"
	}
	if !told {
		t.Fatal("order big was not told why it waits")
	}
}

func TestPlanBudgetMustNotBeNegative(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PlanBudget = -1
	var e *Error
	if err := cfg.Validate(); !errors.As(err, &e) || e.Field != "PlanBudget" {
		t.Fatalf("Validate: %v, want an error naming PlanBudget", err)
	}
}

package dispatch

import (
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// TestNoPickupAfterTheStoreCloses: an order whose store closes before a courier can get there is not planned, one
// the courier can still reach is, and an order already on a route is not pushed past the closing by a new one.
func TestNoPickupAfterTheStoreCloses(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 6000, 0, 2) // a bike ride of several minutes from A
	now := c.now()
	place := func(id string, pickupBy time.Duration) {
		mustApply(t, c.e, now, OrderPlaced{OrderSpec{ID: id, StoreID: "A", Dropoff: orb.Point{0, 900},
			Ready: now, DeliverBy: now.Add(2 * time.Hour), PickupBy: now.Add(pickupBy)}})
	}
	place("closing-soon", 2*time.Minute) // nobody reaches A in two minutes
	place("open-late", time.Hour)
	c.tick(time.Second)
	if got := c.courierOf("open-late"); got != "x" {
		t.Fatalf("open-late went to %q, want x", got)
	}
	if o, _ := c.e.Order("closing-soon"); o.Status != StatusPending {
		t.Fatalf("closing-soon is %s; a pick-up after the store closes was planned", o.Status)
	}
	r, _ := c.e.Route("x")
	for _, s := range r.Stops {
		if o, _ := c.e.Order(s.OrderID); s.Kind == Pickup && !o.PickupBy.IsZero() && s.Handover.After(o.PickupBy) {
			t.Fatalf("pick-up of %s planned at %s, after its store closes at %s", s.OrderID, s.Handover, o.PickupBy)
		}
	}
	// A pick-up window before the ready time is refused.
	now = c.now()
	_, err := c.e.Apply(now, OrderPlaced{OrderSpec{ID: "bad", StoreID: "A", Dropoff: orb.Point{0, 900},
		Ready: now.Add(time.Hour), DeliverBy: now.Add(2 * time.Hour), PickupBy: now.Add(time.Minute)}})
	if e, ok := err.(*Error); !ok || e.Field != "pickup_by" {
		t.Fatalf("pickup_by before ready: %v", err)
	}
}

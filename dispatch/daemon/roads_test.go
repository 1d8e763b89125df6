package daemon

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// northOffRoad is a road map whose roads end at latitude 31.3: anything north of it is off the map.
type northOffRoad struct{ geo.TravelModel }

func (northOffRoad) CheckPoint(p orb.Point) error {
	if p[1] > 31.3 {
		return fmt.Errorf("%w: %.0f m from the nearest road", geo.ErrOffRoad, (p[1]-31.3)*111_000)
	}
	return nil
}

func withRoads(cfg *Config) { cfg.Travel = northOffRoad{geo.NewStraightLine(geo.Geographic)} }

func TestPlacesOffTheRoadMapAreRefused(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), withRoads)
	key := h.city()
	shop := Principal{Role: RoleOrders, ID: key}
	wantField := func(err error, field string) {
		t.Helper()
		var e *dispatch.Error
		if !errors.As(err, &e) || e.Code != dispatch.EInvalid || e.Field != field || !strings.Contains(e.Message, "off the road map") {
			t.Fatalf("got %v, want invalid_argument on %s saying it is off the road map", err, field)
		}
	}
	_, _, err := h.d.PutStore(ctx, StoreInput{ID: "in-the-sea", Location: Location{31.5, 121.47}, PrepSeconds: 60})
	wantField(err, "location")
	_, _, err = h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.4, 121.47))
	wantField(err, "dropoff")
	_, err = h.d.Quote(ctx, orderIn("s0", 31.4, 121.47))
	wantField(err, "dropoff")
	if _, _, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.25, 121.49)); err != nil {
		t.Fatalf("an order on the roads: %v", err)
	}
	if _, ok := h.d.View().Store("in-the-sea"); ok {
		t.Fatal("a store off the roads was registered")
	}
	if n := h.d.View().OrdersByStatus["pending"]; n != 1 {
		t.Fatalf("%d pending orders, want only the one on the roads", n)
	}
}

// What was acknowledged before a map was loaded stays: the check is made at intake, never on replay.
func TestJournalFromBeforeTheMapReplaysOnIt(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	h := start(t, dir, clock, nil)
	key := h.city()
	if _, _, err := h.d.PutStore(ctx, StoreInput{ID: "north", Location: Location{31.5, 121.47}, PrepSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	_, body, err := h.d.PlaceOrder(ctx, Principal{Role: RoleOrders, ID: key}, "", nil, orderIn("s0", 31.4, 121.47))
	if err != nil {
		t.Fatal(err)
	}
	h.crash()

	h = start(t, dir, clock, withRoads)
	if _, ok := h.d.View().Store("north"); !ok {
		t.Fatal("the store registered before the map is gone")
	}
	if n := h.d.View().OrdersByStatus["pending"]; n != 1 {
		t.Fatalf("%d pending orders after the restart on the map, want the 1 acknowledged (%s)", n, body)
	}
}

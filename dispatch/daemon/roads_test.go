package daemon

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-polyline"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
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
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	wantField := func(err error, field string) {
		t.Helper()
		var e *dispatch.Error
		if !errors.As(err, &e) || e.Code != dispatch.EInvalid || e.Field != field || !strings.Contains(e.Message, "off the road map") {
			t.Fatalf("got %v, want invalid_argument on %s saying it is off the road map", err, field)
		}
	}
	_, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "in-the-sea", Location: service.Location{Lat: 31.5, Lon: 121.47}, PrepSeconds: 60})
	wantField(err, "location")
	_, err = h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.31, 121.47))
	wantField(err, "dropoff")
	_, err = h.d.Quote(ctx, orderIn("s0", 31.31, 121.47))
	wantField(err, "dropoff")
	if _, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.25, 121.49)); err != nil {
		t.Fatalf("an order on the roads: %v", err)
	}
	if _, ok := h.d.View().Store("in-the-sea"); ok {
		t.Fatal("a store off the roads was registered")
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 1 {
		t.Fatalf("%d pending orders, want only the one on the roads", n)
	}
}

// What was acknowledged before a map was loaded stays: the check is made at intake, never on replay.
func TestJournalFromBeforeTheMapReplaysOnIt(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	h := start(t, dir, clock, nil)
	key := h.city()
	if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: "north", Location: service.Location{Lat: 31.5, Lon: 121.47}, PrepSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	body, err := orderJSON(h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.31, 121.47)))
	if err != nil {
		t.Fatal(err)
	}
	h.crash()

	h = start(t, dir, clock, withRoads)
	if _, ok := h.d.View().Store("north"); !ok {
		t.Fatal("the store registered before the map is gone")
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 1 {
		t.Fatalf("%d pending orders after the restart on the map, want the 1 acknowledged (%s)", n, body)
	}
}

// straightPaths is a road map whose every trip is the straight line: its path is the two points.
type straightPaths struct{ geo.TravelModel }

func (m straightPaths) Path(from, to orb.Point, p geo.Profile) (geo.Path, error) {
	return geo.Path{Points: orb.LineString{from, to}, Metres: geo.Geographic.Distance(from, to),
		Duration: m.TravelTime(from, to, p)}, nil
}

func decodeLeg(t *testing.T, l *service.Leg) [][]float64 {
	t.Helper()
	coords, rest, err := polyline.DecodeCoords([]byte(l.Polyline))
	if err != nil || len(rest) != 0 {
		t.Fatalf("polyline %q: %v", l.Polyline, err)
	}
	return coords
}

func TestRoutesCarryTheirLegsOnARoadMap(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), func(c *Config) { c.Travel = straightPaths{geo.NewStraightLine(geo.Geographic)} })
	_, order, courier := h.firstAssigned()
	rt, ok := h.d.CourierRoute(courier)
	if !ok || len(rt.Stops) != 2 {
		t.Fatalf("route %+v", rt)
	}
	c, _ := h.d.View().Courier(courier)
	from := *c.Location
	for i, s := range rt.Stops {
		if s.Leg == nil {
			t.Fatalf("stop %d has no leg", i)
		}
		coords := decodeLeg(t, s.Leg)
		want := [][]float64{{from.Lat, from.Lon}, {s.Location.Lat, s.Location.Lon}}
		for k := range want {
			if math.Abs(coords[k][0]-want[k][0]) > 1e-5 || math.Abs(coords[k][1]-want[k][1]) > 1e-5 {
				t.Fatalf("stop %d: leg %v, want from %v to %v at precision 5", i, coords, want[0], want[1])
			}
		}
		if wantM := geo.Geographic.Distance(from.Point(), s.Location.Point()); math.Abs(s.Leg.Metres-wantM) > 0.1 {
			t.Fatalf("stop %d: %v m, want %v", i, s.Leg.Metres, wantM)
		}
		from = s.Location
	}
	// The shop sees the ride to its customer only once it is the courier's next stop.
	o, _ := h.d.View().Order(order.ID)
	if got := h.d.OrderWithLeg(o); got.ETA == nil || got.ETA.Leg != nil {
		t.Fatalf("before the pick-up the order shows a leg: %+v", got.ETA)
	}
	for _, step := range []string{"accept", "arrived", "picked_up"} {
		if _, err := h.d.CourierAction(ctx, courier, order.ID, step, ""); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	o, _ = h.d.View().Order(order.ID)
	got := h.d.OrderWithLeg(o)
	if got.ETA == nil || got.ETA.Leg == nil {
		t.Fatalf("on the way to the customer the order shows no leg: %+v", got.ETA)
	}
	if coords := decodeLeg(t, got.ETA.Leg); math.Abs(coords[1][0]-o.Dropoff.Lat) > 1e-5 {
		t.Fatalf("the leg ends at %v, not at the drop-off %v", coords[1], o.Dropoff)
	}

	// Without a map nothing carries a leg.
	plain := start(t, t.TempDir(), newFakeClock(), nil)
	_, _, courier = plain.firstAssigned()
	rt, _ = plain.d.CourierRoute(courier)
	for i, s := range rt.Stops {
		if s.Leg != nil {
			t.Fatalf("without a map stop %d has a leg", i)
		}
	}
}

package dispatch

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads"
	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

// plannedRide places one order from store to dropoff with one bike at the store, runs a round and returns the
// planned ride from the pick-up to the drop-off (hand-over to hand-over, less the two half services).
func plannedRide(t *testing.T, travel geo.TravelModel, store, dropoff orb.Point) time.Duration {
	t.Helper()
	e, err := New(DefaultConfig(), geo.Geographic, travel)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	for _, ev := range []Event{
		StoreUpserted{Store{ID: "s", Location: store}},
		CourierRegistered{CourierSpec{ID: "c", Vehicle: geo.Bike, Capacity: 2}},
		CourierOnline{CourierID: "c", Location: store},
		OrderPlaced{OrderSpec{ID: "o", StoreID: "s", Dropoff: dropoff, Ready: now, DeliverBy: now.Add(2 * time.Hour)}},
		DispatchTick{},
	} {
		if _, err := e.Apply(now, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
	o, ok := e.Order("o")
	if !ok || o.Status != StatusAssigned {
		t.Fatalf("order not assigned: %+v", o)
	}
	return o.DropoffETA.Sub(o.PickupETA) - e.Config().PickupService/2 - e.Config().DropoffService/2
}

// An order across a river gets the ride round by the bridge, not the crossing as the crow flies.
func TestOrderAcrossTheRiverRidesRoundByTheBridge(t *testing.T) {
	south := orb.Point{121.47, 31.23}
	net, err := roads.Open(roadstest.River(t, south, 300, 3000))
	if err != nil {
		t.Fatal(err)
	}
	// The store on the west bank 100 m from the south end, the door straight across on the east bank.
	store := orb.Point{south[0], south[1] + 100/111_320.0}
	dropoff := orb.Point{south[0] + 300/111_320.0/math.Cos(south[1]*math.Pi/180), store[1]}

	crow := plannedRide(t, geo.NewStraightLine(geo.Geographic), store, dropoff)
	road := plannedRide(t, net, store, dropoff)
	if want := net.TravelTime(store, dropoff, geo.Bike); road != want {
		t.Fatalf("the round planned a ride of %s, the map says %s", road, want)
	}
	// Round by the bridge: 2 900 m north, 300 m over, 2 900 m back; no bicycle does that above 30 km/h.
	if minRide := time.Duration(6100 / (30 / 3.6) * float64(time.Second)); road < minRide {
		t.Fatalf("the ride on the roads takes %s, less than 6.1 km at 30 km/h (%s): it crossed the water", road, minRide)
	}
	if crow > 3*time.Minute || road < 5*crow {
		t.Fatalf("straight line %s, roads %s: want the straight line short and the roads far longer", crow, road)
	}
}

// roadWorld is a 6 km city of streets 250 m apart (a grid around 31.23 N 121.47 E) with the engine on its roads.
func roadWorld(t *testing.T) world {
	const lat0, lon0 = 31.23, 121.47
	dLat := 1 / 111_320.0
	dLon := dLat / math.Cos(lat0*math.Pi/180)
	at := func(x, y float64) orb.Point { return orb.Point{lon0 + (x-3000)*dLon, lat0 + (y-3000)*dLat} }
	net, err := roads.Open(roadstest.Grid(t, at(3000, 3000), 25, 250))
	if err != nil {
		t.Fatal(err)
	}
	return world{at: at, engine: func(tb testing.TB, mutate func(*Config)) *Engine {
		cfg := DefaultConfig()
		if mutate != nil {
			mutate(&cfg)
		}
		e, err := New(cfg, geo.Geographic, net)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	}}
}

// The same random days as TestPropertyRandomDays, on roads: every invariant holds after every event, and a replay
// of the day gives the same effects (the road model is as deterministic as the straight line).
func TestPropertyRandomDaysOnRoads(t *testing.T) {
	w := roadWorld(t)
	for _, v := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"default", nil},
		{"mdrp-rules", func(c *Config) {
			c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		}},
		{"nearest-idle-baseline", func(c *Config) { c.Policy = PolicyNearestIdle }},
	} {
		t.Run(v.name, func(t *testing.T) {
			for seed := uint64(1); seed <= sized[uint64](4, 2); seed++ {
				log, want := randomDayIn(t, seed, v.cfg, w)
				e := w.engine(t, v.cfg)
				for i, te := range log {
					got, err := e.Apply(te.at, te.ev)
					if err != nil || !reflect.DeepEqual(got, want[i]) {
						t.Fatalf("seed %d: replay %d (%s) differs on roads: %v", seed, i, te.ev.EventName(), err)
					}
				}
			}
		})
	}
}

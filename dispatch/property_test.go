package dispatch

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

type timedEvent struct {
	at time.Time
	ev Event
}

// randomDay drives an engine through a random city: stores, couriers that come and go, orders arriving, being
// cancelled and declined, couriers following their routes (arriving, picking up, delivering, sometimes failing),
// and dispatch ticks. Every event is checked against the invariants, and the whole log is returned for replay.
func randomDay(t *testing.T, seed uint64, cfg func(*Config)) ([]timedEvent, [][]Effect) {
	t.Helper()
	return randomDayIn(t, seed, cfg, planarWorld)
}

// world is where a random day happens: its engine, and the point x, y metres east and north of its south-west
// corner (the city is 6 km square).
type world struct {
	engine func(testing.TB, func(*Config)) *Engine
	at     func(x, y float64) orb.Point
	// regions, when set, are given out in turn to the stores and couriers (the twin stores get different ones),
	// without drawing on the random source: a day is the same day with or without them, its regions apart.
	regions []string
}

// region is the i-th region given out ("" without regions: the default).
func (w world) region(i int) string {
	if len(w.regions) == 0 {
		return ""
	}
	return w.regions[i%len(w.regions)]
}

var planarWorld = world{engine: planarEngine, at: func(x, y float64) orb.Point { return orb.Point{x, y} }}

func randomDayIn(t *testing.T, seed uint64, cfg func(*Config), w world) ([]timedEvent, [][]Effect) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	e := w.engine(t, cfg)
	var log []timedEvent
	var fxLog [][]Effect
	now := t0
	apply := func(ev Event) []Effect {
		t.Helper()
		fx, err := e.Apply(now, ev)
		if err != nil {
			t.Fatalf("seed %d: %s at %s: %v", seed, ev.EventName(), now.Format(time.TimeOnly), err)
		}
		if err := checkInvariants(e); err != nil {
			t.Fatalf("seed %d: after %s at %s: %v", seed, ev.EventName(), now.Format(time.TimeOnly), err)
		}
		log = append(log, timedEvent{now, ev})
		fxLog = append(fxLog, fx)
		return fx
	}
	city := 6000.0
	pt := func() orb.Point { return w.at(rng.Float64()*city, rng.Float64()*city) }
	nStores := 3 + rng.IntN(6)
	for i := range nStores {
		apply(StoreUpserted{Store{ID: fmt.Sprintf("s%d", i), Location: pt(), Region: w.region(i)}})
	}
	// Two stores close together, so nearby-store bundles happen (unless they are of different regions).
	apply(StoreUpserted{Store{ID: "twin", Location: w.at(100, 100), Region: w.region(nStores + 1)}})
	nCouriers := 2 + rng.IntN(8)
	skills := []string{"cold", "alcohol"}
	for i := range nCouriers {
		spec := CourierSpec{ID: fmt.Sprintf("c%d", i), Vehicle: geo.Profile(rng.IntN(int(geo.NumProfiles))), Capacity: 1 + rng.IntN(5),
			Region: w.region(i)}
		if rng.IntN(3) == 0 {
			spec.Skills = []string{skills[rng.IntN(2)]}
		}
		apply(CourierRegistered{spec})
		var end time.Time
		if rng.IntN(2) == 0 {
			end = now.Add(time.Duration(30+rng.IntN(120)) * time.Minute)
		}
		apply(CourierOnline{CourierID: spec.ID, Location: pt(), ShiftEnd: end})
	}
	courierIDs := func() []string {
		ids := make([]string, 0, len(e.courierList))
		for _, c := range e.courierList {
			ids = append(ids, c.spec.ID)
		}
		return ids
	}
	onBoard := make(map[string]string) // order -> courier that picked it up
	nextOrder := 0
	for step := 0; step < 400; step++ {
		now = now.Add(time.Duration(5+rng.IntN(60)) * time.Second)
		switch r := rng.IntN(100); {
		case r < 30:
			store := fmt.Sprintf("s%d", rng.IntN(nStores))
			if rng.IntN(5) == 0 {
				store = "twin"
			}
			spec := OrderSpec{ID: fmt.Sprintf("o%d", nextOrder), StoreID: store, Dropoff: pt(),
				Ready: now.Add(time.Duration(rng.IntN(20)) * time.Minute), Size: 1 + rng.IntN(2)}
			spec.DeliverBy = spec.Ready.Add(time.Duration(15+rng.IntN(45)) * time.Minute)
			if rng.IntN(6) == 0 {
				spec.Skills = []string{skills[rng.IntN(2)]}
			}
			nextOrder++
			apply(OrderPlaced{spec})
		case r < 55:
			if len(w.regions) > 0 {
				// The round's own plan, before the decision's check (which would drop a cross-region move and so
				// hide a planner that proposes one).
				checkPlanRegions(t, seed, e, now)
			}
			apply(DispatchTick{})
		case r < 60 && nextOrder > 0:
			id := fmt.Sprintf("o%d", rng.IntN(nextOrder))
			if o, ok := e.orders[id]; ok && (o.status == StatusPending || o.status == StatusAssigned) {
				apply(OrderCancelled{OrderID: id, Reason: "customer"})
			}
		case r < 64:
			ids := courierIDs()
			c := e.couriers[ids[rng.IntN(len(ids))]]
			for _, s := range c.stops {
				if s.o.status == StatusAssigned {
					apply(CourierDeclined{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					break
				}
			}
		case r < 67:
			ids := courierIDs()
			id := ids[rng.IntN(len(ids))]
			if e.couriers[id].online {
				apply(CourierOffline{CourierID: id})
			} else {
				apply(CourierOnline{CourierID: id, Location: pt()})
			}
		case r < 72:
			ids := courierIDs()
			id := ids[rng.IntN(len(ids))]
			apply(CourierMoved{CourierID: id, Location: pt()})
		case r < 74:
			id := fmt.Sprintf("n%d", step)
			apply(CourierRegistered{CourierSpec{ID: id, Vehicle: geo.Bike, Capacity: 3, Region: w.region(step)}})
			apply(CourierOnline{CourierID: id, Location: pt()})
		default:
			// Couriers work their routes: every first stop whose hand-over time has come is done.
			for _, c := range e.courierList {
				for guard := 0; guard < 8 && len(c.stops) > 0; guard++ {
					s := c.stops[0]
					if s.hand > now.UnixNano() {
						break
					}
					if c.mode == modeMoving && rng.IntN(2) == 0 {
						apply(CourierArrived{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
						continue
					}
					if s.kind == Pickup {
						if now.UnixNano() < s.o.ready {
							t.Fatalf("seed %d: pickup of %s due before it is ready", seed, s.o.spec.ID)
						}
						apply(OrderPickedUp{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
						onBoard[s.o.spec.ID] = c.spec.ID
					} else if rng.IntN(30) == 0 {
						apply(OrderFailed{CourierID: c.spec.ID, OrderID: s.o.spec.ID, Reason: "nobody home"})
					} else {
						apply(OrderDelivered{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					}
				}
			}
		}
		// Orders on board never move to another courier.
		for oid, cid := range onBoard {
			o, ok := e.orders[oid]
			if !ok || o.status.Final() {
				delete(onBoard, oid)
				continue
			}
			if o.courier == nil || o.courier.spec.ID != cid {
				t.Fatalf("seed %d: order %s picked up by %s is now with %v", seed, oid, cid, o.courier)
			}
		}
	}
	return log, fxLog
}

// checkPlanRegions plans a round on a copy of e and fails if the plan puts an order on a courier of another region.
func checkPlanRegions(t *testing.T, seed uint64, e *Engine, now time.Time) {
	t.Helper()
	d, err := e.Planner().Plan(now)
	if err != nil {
		t.Fatalf("seed %d: plan: %v", seed, err)
	}
	for _, rp := range d.Routes {
		c := e.couriers[rp.CourierID]
		for _, s := range rp.Stops {
			if o := e.orders[s.OrderID]; o.region != c.spec.Region {
				t.Fatalf("seed %d: the round at %s plans order %s of %q onto %s of %q", seed, now.Format(time.TimeOnly), o.spec.ID, o.region, c.spec.ID, c.spec.Region)
			}
		}
	}
}

func TestPropertyRandomDays(t *testing.T) {
	variants := map[string]func(*Config){
		"default": nil,
		"mdrp-rules": func(c *Config) {
			c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		},
		"mdrp-rules-planned": func(c *Config) {
			c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
			c.PlanBudget = 30
			c.CommitLead = time.Minute
		},
		"no-bundles-no-postpone": func(c *Config) {
			c.MaxBundleOrders = 1
			c.PostponeSlack = 0
		},
		"nearest-idle-baseline": func(c *Config) { c.Policy = PolicyNearestIdle },
		"eager-reassign-short-exact": func(c *Config) {
			c.ReassignThreshold = 0
			c.ExactSequenceStops = 3
			c.Workers = 3
		},
	}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= sized[uint64](12, 3); seed++ {
				randomDay(t, seed, cfg)
			}
		})
	}
}

// TestPropertyRandomDaysInRegions runs random days whose stores and couriers are shared out among three
// regions: every event is checked against the invariants, among them that no route holds an order of another
// region (checkInvariants), and orders are still assigned.
func TestPropertyRandomDaysInRegions(t *testing.T) {
	variants := map[string]func(*Config){
		"default":               nil,
		"nearest-idle-baseline": func(c *Config) { c.Policy = PolicyNearestIdle },
		"eager-reassign": func(c *Config) {
			c.ReassignThreshold = 0
			c.Workers = 3
		},
		"wide-bundles": func(c *Config) {
			c.BundleStoreRadius = 8000
			c.MaxBundleOrders = 4
			c.PostponeSlack = 0
		},
	}
	w := planarWorld
	w.regions = []string{"default", "north", "south"}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			assigned := 0
			for seed := uint64(1); seed <= sized[uint64](10, 3); seed++ {
				_, fx := randomDayIn(t, seed, cfg, w)
				for _, f := range fx {
					assigned += len(effectsOf[OrderAssigned](f))
				}
			}
			if assigned == 0 {
				t.Fatal("no order was ever assigned")
			}
		})
	}
}

// TestDeterminismOfThePlannedRound is TestDeterminism with the planned round (Config.PlanBudget) under the MDRP
// rules, whose search is seeded by the clock alone.
func TestDeterminismOfThePlannedRound(t *testing.T) {
	planned := func(c *Config) {
		c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		c.PlanBudget = 30
		c.CommitLead = time.Minute
	}
	for seed := uint64(100); seed < 100+sized[uint64](4, 2); seed++ {
		replaySameDay(t, seed, planned, planned)
	}
}

// TestDeterminism replays the event log of a random day into a fresh engine and expects identical effects.
func TestDeterminism(t *testing.T) {
	for seed := uint64(100); seed < 100+sized[uint64](6, 2); seed++ {
		replaySameDay(t, seed, nil, func(c *Config) { c.Workers = 1 }) // worker count must not matter either
	}
}

// replaySameDay makes the random day of seed on an engine configured by day, replays its events into a fresh
// engine configured by replay, and fails unless every event has the same effects and some order was assigned.
func replaySameDay(t *testing.T, seed uint64, day, replay func(*Config)) {
	t.Helper()
	log, want := randomDay(t, seed, day)
	e := planarEngine(t, replay)
	assigned := 0
	for i, te := range log {
		got, err := e.Apply(te.at, te.ev)
		if err != nil {
			t.Fatalf("seed %d: replay %d: %v", seed, i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("seed %d: replay %d (%s): effects differ\n got %+v\nwant %+v", seed, i, te.ev.EventName(), got, want[i])
		}
		assigned += len(effectsOf[OrderAssigned](got))
	}
	if assigned == 0 {
		t.Fatalf("seed %d: no order was ever assigned; the log exercises nothing", seed)
	}
}

package dispatch

import (
	"math"
	"reflect"
	"testing"
)

// routeCosts is the sum of every route's cost as makeBasePlan prices it, the part of the round's objective the
// improvement works on.
func routeCosts(e *Engine) float64 {
	sum := 0.0
	for _, c := range e.courierList {
		if len(c.stops) == 0 {
			continue
		}
		var bp basePlan
		e.makeBasePlan(c, &bp, nil, nil)
		sum += bp.cost
	}
	return sum
}

// eachRound replays seed's random day under cfg: every event but the dispatch ticks is applied, and tick is called
// at each tick instead, to plan and apply the round as the test needs.
func eachRound(t *testing.T, seed uint64, cfg func(*Config), tick func(e *Engine, i int, te timedEvent)) {
	t.Helper()
	log, _ := randomDay(t, seed, cfg)
	e := planarEngine(t, cfg)
	for i, te := range log {
		if _, ok := te.ev.(DispatchTick); !ok {
			if _, err := e.Apply(te.at, te.ev); err != nil {
				t.Fatalf("seed %d: event %d: %v", seed, i, err)
			}
			continue
		}
		tick(e, i, te)
	}
}

// TestImproveOnRandomDays replays random days and, at every round, plans it three times on copies of the engine:
// without the improvement, with it, and with it again. With it, the copy must keep every invariant, its routes must
// cost no more than without it, it must have moved only orders that were neither picked up nor accepted nor on the
// stop their courier is heading to, it must spend no more than its budget, the second plan must equal the first,
// and applying the decision to the engine must apply all of it (every part passes ApplyDecision's checks).
func TestImproveOnRandomDays(t *testing.T) {
	variants := map[string]func(*Config){
		"default": nil,
		"mdrp-rules": func(c *Config) {
			c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		},
		"eager-reassign": func(c *Config) { c.ReassignThreshold = 0 },
		"no-reassign":    func(c *Config) { c.Reassign = false },
		"tiny-budget":    func(c *Config) { c.ImproveBudget = 7 },
	}
	for name, mutate := range variants {
		t.Run(name, func(t *testing.T) {
			cfg := func(c *Config) {
				c.ImproveBudget = 400
				if mutate != nil {
					mutate(c)
				}
			}
			moved := 0
			for seed := uint64(200); seed < 200+sized[uint64](4, 2); seed++ {
				eachRound(t, seed, cfg, func(e *Engine, i int, te timedEvent) {
					off := e.Planner()
					off.e.cfg.ImproveBudget = 0
					if _, err := off.Plan(te.at); err != nil {
						t.Fatal(err)
					}
					on := e.Planner()
					d, err := on.Plan(te.at)
					if err != nil {
						t.Fatal(err)
					}
					again := e.Planner()
					d2, err := again.Plan(te.at)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(d, d2) {
						t.Fatalf("seed %d: event %d: two plans of the same round differ", seed, i)
					}
					if err := checkInvariants(on.e); err != nil {
						t.Fatalf("seed %d: event %d: after the improvement: %v", seed, i, err)
					}
					if ev := on.e.round.improveEvals; ev > on.e.cfg.ImproveBudget {
						t.Fatalf("seed %d: event %d: %d evaluations, budget %d", seed, i, ev, on.e.cfg.ImproveBudget)
					}
					if a, b := routeCosts(on.e), routeCosts(off.e); a > b+1e-6*math.Max(1, math.Abs(b)) {
						t.Fatalf("seed %d: event %d: routes cost %.3f with the improvement, %.3f without", seed, i, a, b)
					}
					moved += on.e.round.improveMoved
					for id, o := range on.e.orders {
						ref := off.e.orders[id]
						if o.courier == nil || ref.courier == nil || o.courier.spec.ID == ref.courier.spec.ID {
							continue
						}
						// The improvement moved it: it must have been free to move.
						orig := e.orders[id]
						if orig.status == StatusPickedUp || orig.accepted {
							t.Fatalf("seed %d: event %d: moved order %s was %s (accepted %v)", seed, i, id, orig.status, orig.accepted)
						}
						if c := orig.courier; c != nil {
							if _, lock := e.courierStart(c); c.stopIndex(orig, Pickup) < lock {
								t.Fatalf("seed %d: event %d: moved order %s on the fixed part of %s's route", seed, i, id, c.spec.ID)
							}
						}
					}
					res, err := e.ApplyDecision(te.at, d)
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Dropped) > 0 {
						t.Fatalf("seed %d: event %d: applied at once, the decision lost %+v", seed, i, res.Dropped)
					}
					if err := checkInvariants(e); err != nil {
						t.Fatalf("seed %d: event %d: after applying: %v", seed, i, err)
					}
				})
			}
			if moved == 0 && name != "tiny-budget" {
				t.Fatal("the improvement never moved an order: the test exercised nothing")
			}
		})
	}
}

// TestImproveBudgetZeroIsOff checks that a zero budget leaves the round exactly as it was.
func TestImproveBudgetZeroIsOff(t *testing.T) {
	cfg := func(c *Config) { c.ImproveBudget = 0 }
	log, want := randomDay(t, 211, cfg)
	e := planarEngine(t, cfg)
	for i, te := range log {
		got, err := e.Apply(te.at, te.ev)
		if err != nil {
			t.Fatal(err)
		}
		if e.round.improveEvals != 0 || e.round.improveMoved != 0 {
			t.Fatalf("event %d: the improvement ran with a zero budget", i)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("event %d: effects differ", i)
		}
	}
}

// TestBlocksHold checks the shape a route must keep under Rules.NoDiversion.
func TestBlocksHold(t *testing.T) {
	e := planarEngine(t, func(c *Config) { c.Rules = Rules{NoDiversion: true, SameStoreBundlesOnly: true} })
	s1, s2 := &storeState{}, &storeState{}
	a, b, c := &orderState{store: s1}, &orderState{store: s1}, &orderState{store: s2}
	p := func(o *orderState) seqStop { return seqStop{o: o, kind: Pickup} }
	d := func(o *orderState) seqStop { return seqStop{o: o, kind: Dropoff} }
	for _, tc := range []struct {
		name string
		seq  []seqStop
		want bool
	}{
		{"one bundle", []seqStop{p(a), p(b), d(b), d(a)}, true},
		{"two assignments", []seqStop{p(a), d(a), p(c), d(c)}, true},
		{"a pick-up while carrying", []seqStop{p(a), d(a), p(b), p(c), d(b), d(c)}, false},
		{"pick-up between drop-offs", []seqStop{p(a), p(b), d(a), p(c), d(b), d(c)}, false},
		{"two stores in one block", []seqStop{p(a), p(c), d(a), d(c)}, false},
	} {
		if got := e.blocksHold(tc.seq, 0); got != tc.want {
			t.Errorf("%s: blocksHold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestImproveLeavesLockedOrders locks every assigned order on the planner's copy before each round of random days
// (as an operator's OrderAssignedByOperator with Lock does) and requires that no plan moves one of them off its courier, with the
// improvement's budget large enough that it would otherwise move some.
func TestImproveLeavesLockedOrders(t *testing.T) {
	cfg := func(c *Config) {
		c.ImproveBudget = 5000
		c.ReassignThreshold = 0
	}
	rounds := 0
	for seed := uint64(300); seed < 304; seed++ {
		eachRound(t, seed, cfg, func(e *Engine, i int, te timedEvent) {
			// Locked on the planner's copy only, so that the day goes on as its log was made.
			p := e.Planner()
			locked := map[string]string{}
			for _, o := range p.e.open {
				if o.status == StatusAssigned && o.courier != nil {
					o.locked = true
					locked[o.spec.ID] = o.courier.spec.ID
				}
			}
			d, err := p.Plan(te.at)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range d.Moves {
				if from, ok := locked[m.OrderID]; ok && m.To != from {
					t.Fatalf("seed %d: event %d: locked %s moved from %s to %s", seed, i, m.OrderID, from, m.To)
				}
			}
			if len(locked) > 0 {
				rounds++
			}
			if _, err := e.Apply(te.at, te.ev); err != nil {
				t.Fatal(err)
			}
		})
	}
	if rounds == 0 {
		t.Fatal("no round had a locked order: the test proves nothing")
	}
}

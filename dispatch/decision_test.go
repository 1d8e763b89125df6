package dispatch

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// inlineRound runs a dispatch round directly on e, as rounds ran before they planned on a copy.
func inlineRound(e *Engine, now time.Time) []Effect {
	e.now, e.plan.now = now.UnixNano(), now.UnixNano()
	e.fx = e.fx[:0]
	e.runRound()
	return slices.Clone(e.fx)
}

// TestDecisionMatchesInlineRound replays random days twice: once with every round planned on a clone and its
// decision applied (what Apply does), once with the round run on the engine itself. The effects and the whole
// exported state must agree after every event, so planning elsewhere changes nothing the simulator measures.
func TestDecisionMatchesInlineRound(t *testing.T) {
	variants := map[string]func(*Config){
		"default": nil,
		"mdrp-rules": func(c *Config) {
			c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		},
		"eager-reassign": func(c *Config) { c.ReassignThreshold = 0 },
		"nearest-idle":   func(c *Config) { c.Policy = PolicyNearestIdle },
	}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			moves := 0
			for seed := uint64(40); seed < 40+sized[uint64](6, 2); seed++ {
				log, want := randomDay(t, seed, cfg)
				inline := planarEngine(t, cfg)
				for i, te := range log {
					var got []Effect
					if _, ok := te.ev.(DispatchTick); ok {
						got = inlineRound(inline, te.at)
						if len(got) == 0 {
							got = nil
						}
						moves += len(effectsOf[OrderAssigned](got))
					} else {
						var err error
						if got, err = inline.Apply(te.at, te.ev); err != nil {
							t.Fatalf("seed %d: event %d: %v", seed, i, err)
						}
					}
					if name == "nearest-idle" {
						// The baseline tells an order why it waits as it goes; a decision tells it after the routes.
						got, want[i] = sortedEffects(got), sortedEffects(want[i])
					}
					if !reflect.DeepEqual(got, want[i]) {
						t.Fatalf("seed %d: event %d (%s): effects differ\ninline  %+v\ndecided %+v", seed, i, te.ev.EventName(), got, want[i])
					}
				}
				e := planarEngine(t, cfg)
				for _, te := range log {
					if _, err := e.Apply(te.at, te.ev); err != nil {
						t.Fatal(err)
					}
				}
				if a, b := inline.Export(), e.Export(); !reflect.DeepEqual(a, b) {
					t.Fatalf("seed %d: states differ at the end of the day", seed)
				}
			}
			if moves == 0 {
				t.Fatal("no round placed anything: the comparison exercised nothing")
			}
		})
	}
}

// A round that yields between pieces of its work (Planner.Yield, what the daemon does) decides exactly what one that
// does not decides.
func TestYieldingRoundDecidesTheSame(t *testing.T) {
	yields, rounds := 0, 0
	for seed := uint64(40); seed < 43; seed++ {
		log, _ := randomDay(t, seed, nil)
		e := planarEngine(t, nil)
		for i, te := range log {
			if _, ok := te.ev.(DispatchTick); ok {
				plain, yielding := e.Planner(), e.Planner()
				yielding.Yield(func() { yields++; runtime.Gosched() })
				want, err1 := plain.Plan(te.at)
				got, err2 := yielding.Plan(te.at)
				if err1 != nil || err2 != nil {
					t.Fatalf("seed %d: event %d: %v, %v", seed, i, err1, err2)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: event %d: the yielding round decided otherwise\nplain    %+v\nyielding %+v", seed, i, want, got)
				}
				rounds++
			}
			if _, err := e.Apply(te.at, te.ev); err != nil {
				t.Fatalf("seed %d: event %d: %v", seed, i, err)
			}
		}
	}
	if rounds == 0 || yields == 0 {
		t.Fatalf("%d rounds, %d yields: the comparison exercised nothing", rounds, yields)
	}
}

func sortedEffects(fx []Effect) []Effect {
	out := slices.Clone(fx)
	slices.SortStableFunc(out, func(a, b Effect) int { return strings.Compare(fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b)) })
	return out
}

// staleCity has five couriers, each alone near its own store with one order waiting there, so that a round gives
// each courier its store's order: five independent route parts. Courier e already carries an order.
func staleCity(t *testing.T) *city {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.Reassign = false })
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		x := float64(i) * 20000
		c.store("s"+id, x, 0)
		c.courier(id, x+100, 0, 2)
	}
	c.order("oe1", "se", 80000, 1000, 0, 40*time.Minute)
	c.tick(time.Second)
	if c.courierOf("oe1") != "e" {
		t.Fatalf("oe1 went to %q", c.courierOf("oe1"))
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		x := float64(strings.Index("abcde", id)) * 20000
		now := c.now()
		size := 1
		if id == "c" {
			size = 2 // all of c's room
		}
		mustApply(t, c.e, now, OrderPlaced{OrderSpec{ID: "o" + id, StoreID: "s" + id, Dropoff: orb.Point{x, 1000},
			Size: size, DeliverBy: now.Add(40 * time.Minute)}})
	}
	return c
}

func TestApplyDecisionDropsWhatNoLongerHolds(t *testing.T) {
	c := staleCity(t)
	now := c.now().Add(time.Second)
	d, err := c.e.Planner().Plan(now)
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]bool{}
	for _, m := range d.Moves {
		planned[m.To+"<-"+m.OrderID] = true
	}
	for _, want := range []string{"a<-oa", "b<-ob", "c<-oc", "d<-od", "e<-oe"} {
		if !planned[want] {
			t.Fatalf("the plan lacks %s: %+v", want, d.Moves)
		}
	}

	// Meanwhile: oa is cancelled, b goes off shift, c's capacity shrinks below what its plan needs, e picks up the
	// order it carries (its route changes). d's part still holds.
	mustApply(t, c.e, now, OrderCancelled{OrderID: "oa"})
	mustApply(t, c.e, now, CourierOffline{CourierID: "b"})
	mustApply(t, c.e, now, CourierRegistered{CourierSpec{ID: "c", Capacity: 1}})
	mustApply(t, c.e, now, OrderPickedUp{CourierID: "e", OrderID: "oe1"})

	res, err := c.e.ApplyDecision(now, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkInvariants(c.e); err != nil {
		t.Fatal(err)
	}
	dropped := map[string]string{}
	for _, x := range res.Dropped {
		if x.CourierID != "" {
			dropped[x.CourierID] = x.Reason
		}
	}
	for id, want := range map[string]string{"a": "no longer pending", "b": "offline", "c": "no longer has room", "e": "version"} {
		if !strings.Contains(dropped[id], want) {
			t.Errorf("courier %s: dropped as %q, want a reason with %q", id, dropped[id], want)
		}
	}
	if _, ok := dropped["d"]; ok || len(dropped) != 4 {
		t.Errorf("dropped %v, want a, b, c and e only", dropped)
	}
	if got := c.courierOf("od"); got != "d" {
		t.Errorf("od is with %q, want d (its part held)", got)
	}
	for _, id := range []string{"ob", "oc", "oe"} {
		if o, _ := c.e.Order(id); o.Status != StatusPending {
			t.Errorf("%s is %s, want pending (waiting for the next round)", id, o.Status)
		}
	}
	if len(res.Applied.Routes) != 1 || res.Applied.Routes[0].CourierID != "d" || len(res.Applied.Moves) != 1 {
		t.Errorf("applied %+v, want d's part only", res.Applied)
	}
	if got := effectsOf[OrderAssigned](res.Effects); len(got) != 1 || got[0].OrderID != "od" {
		t.Errorf("assigned effects %+v, want od's only", got)
	}

	// Twice: a no-op (every part is stale by now), and the next round places what waited.
	again, err := c.e.ApplyDecision(now, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Applied.Routes) != 0 || len(again.Applied.Moves) != 0 || len(effectsOf[OrderAssigned](again.Effects)) != 0 ||
		len(effectsOf[RouteChanged](again.Effects)) != 0 {
		t.Fatalf("a decision applied twice changed something: %+v", again)
	}
	if d, _ := c.e.Route("d"); d.Version != 1 {
		t.Fatalf("d's route is at version %d after applying twice, want 1", d.Version)
	}
	c.tick(time.Second)
	if got := c.courierOf("oe"); got != "e" {
		t.Errorf("after the next round oe is with %q, want e", got)
	}
}

// TestApplyDecisionTiesReassignedParts: an order moved from one courier to another ties both parts; when either
// no longer holds, neither is applied and the order stays where it was.
func TestApplyDecisionTiesReassignedParts(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.ReassignThreshold = 0 })
	c.store("s", 0, 0)
	c.store("s0", 3000, 0)
	c.courier("far", 3000, 0, 3)
	c.order("o0", "s0", 3000, 500, 0, 60*time.Minute) // far's first stop, which stays
	c.tick(time.Second)
	c.order("o1", "s", 500, 0, 0, 90*time.Minute)
	c.tick(time.Second) // a round gives a courier one bundle
	if c.courierOf("o0") != "far" || c.courierOf("o1") != "far" {
		t.Fatalf("o1 went to %q", c.courierOf("o1"))
	}
	c.courier("near", 10, 0, 3)
	now := c.now().Add(time.Second)
	d, err := c.e.Planner().Plan(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Moves) != 1 || d.Moves[0] != (Move{OrderID: "o1", From: "far", To: "near"}) {
		t.Fatalf("the plan should move o1 from far to near: %+v", d.Moves)
	}
	mustApply(t, c.e, now, CourierAccepted{CourierID: "far", OrderID: "o1"})
	res, err := c.e.ApplyDecision(now, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 2 || len(res.Applied.Routes) != 0 || len(res.Effects) != 0 {
		t.Fatalf("want both parts dropped and nothing applied: %+v", res)
	}
	if got := c.courierOf("o1"); got != "far" {
		t.Fatalf("o1 is with %q, want far (it accepted)", got)
	}
}

func TestApplyDecisionRefusesMalformed(t *testing.T) {
	c := staleCity(t)
	now := c.now()
	for name, d := range map[string]*Decision{
		"unknown courier": {Routes: []RoutePlan{{CourierID: "zz"}}},
		"move without part": {Routes: []RoutePlan{{CourierID: "a"}},
			Moves: []Move{{OrderID: "oa", To: "b"}}},
		"empty move":     {Moves: []Move{{OrderID: "oa"}}},
		"bad stop kind":  {Routes: []RoutePlan{{CourierID: "a", Stops: []PlannedStop{{Kind: 7, OrderID: "oa"}}}}},
		"two parts":      {Routes: []RoutePlan{{CourierID: "a"}, {CourierID: "a"}}},
		"empty order id": {Unplaced: []OrderUnplaced{{Reason: UnplacedBacklog}}},
		"unknown reason": {Unplaced: []OrderUnplaced{{OrderID: "oa", Reason: "bored"}}},
	} {
		before := c.e.Export()
		_, err := c.e.ApplyDecision(now, d)
		var e *Error
		if err == nil || !errors.As(err, &e) {
			t.Errorf("%s: err %v, want an *Error", name, err)
		}
		if !reflect.DeepEqual(before, c.e.Export()) {
			t.Errorf("%s: a refused decision changed the state", name)
		}
	}
	// A stop list that does not match the route is stale, not applied.
	res, err := c.e.ApplyDecision(now, &Decision{Routes: []RoutePlan{{CourierID: "a", Stops: []PlannedStop{{Kind: Dropoff, OrderID: "oa"}, {Kind: Pickup, OrderID: "oa"}}}},
		Moves: []Move{{OrderID: "oa", To: "a"}}})
	if err != nil || len(res.Dropped) != 1 || len(res.Applied.Routes) != 0 {
		t.Fatalf("a drop-off before its pick-up: %+v, %v", res, err)
	}
}

// TestCloneIsCompleteAndApart: a clone exports the same state, and events applied to the original afterwards
// leave the clone as it was (and the reverse).
func TestCloneIsCompleteAndApart(t *testing.T) {
	log, _ := randomDay(t, 7, nil)
	e := planarEngine(t, nil)
	half := len(log) / 2
	for _, te := range log[:half] {
		mustApply(t, e, te.at, te.ev)
	}
	c := e.Clone()
	want := e.Export()
	if got := c.Export(); !reflect.DeepEqual(got, want) {
		t.Fatal("the clone exports another state")
	}
	for _, te := range log[half:] {
		mustApply(t, e, te.at, te.ev)
	}
	if got := c.Export(); !reflect.DeepEqual(got, want) {
		t.Fatal("events applied to the original changed the clone")
	}
	// The clone carries on as the original did.
	for _, te := range log[half:] {
		mustApply(t, c, te.at, te.ev)
	}
	if !reflect.DeepEqual(c.Export(), e.Export()) {
		t.Fatal("the clone, given the same events, ended elsewhere")
	}
}

// TestSplitDecisionAppliesAsTheWhole replays random days on two engines: at every round one applies the decision
// whole, the other in pieces of two route parts, one after another. Their exported states must agree after every
// round, and the pieces' effects must be the whole's, in another order at most.
func TestSplitDecisionAppliesAsTheWhole(t *testing.T) {
	split, tied := 0, 0
	for seed := uint64(60); seed < 66; seed++ {
		eager := func(c *Config) { c.ReassignThreshold = 0 } // re-assignments, which tie parts
		log, _ := randomDay(t, seed, eager)
		whole, pieces := planarEngine(t, eager), planarEngine(t, eager)
		for i, te := range log {
			if _, ok := te.ev.(DispatchTick); !ok {
				for _, e := range []*Engine{whole, pieces} {
					if _, err := e.Apply(te.at, te.ev); err != nil {
						t.Fatalf("seed %d: event %d: %v", seed, i, err)
					}
				}
				continue
			}
			d, err := whole.Planner().Plan(te.at)
			if err != nil {
				t.Fatal(err)
			}
			res, err := whole.ApplyDecision(te.at, d)
			if err != nil {
				t.Fatal(err)
			}
			parts := d.Split(2)
			if len(parts) > 1 {
				split++
			}
			var fx []Effect
			routes := 0
			for _, p := range parts {
				routes += len(p.Routes)
				if len(p.Routes) > 2 {
					tied++
				}
				r, err := pieces.ApplyDecision(te.at, p)
				if err != nil {
					t.Fatalf("seed %d: event %d: a piece: %v", seed, i, err)
				}
				if len(r.Dropped) > 0 {
					t.Fatalf("seed %d: event %d: a piece dropped %+v with nothing between the pieces", seed, i, r.Dropped)
				}
				fx = append(fx, r.Effects...)
			}
			if routes != len(d.Routes) {
				t.Fatalf("seed %d: event %d: the pieces hold %d route parts of %d", seed, i, routes, len(d.Routes))
			}
			if !reflect.DeepEqual(sortedEffects(fx), sortedEffects(res.Effects)) {
				t.Fatalf("seed %d: event %d: the pieces' effects differ from the whole's\npieces %+v\nwhole  %+v", seed, i, fx, res.Effects)
			}
			if a, b := whole.Export(), pieces.Export(); !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d: event %d: states differ after the round's pieces", seed, i)
			}
		}
	}
	if split == 0 {
		t.Fatal("no decision was big enough to split: the comparison exercised nothing")
	}
	t.Logf("%d decisions split; %d pieces held more than two parts (tied by moves)", split, tied)
}

func TestSplitKeepsSmallAndMalformedDecisionsWhole(t *testing.T) {
	small := &Decision{Routes: []RoutePlan{{CourierID: "a"}, {CourierID: "b"}}}
	if got := small.Split(2); len(got) != 1 || got[0] != small {
		t.Errorf("a decision of two parts split by 2: %d pieces, want itself", len(got))
	}
	if got := small.Split(0); len(got) != 1 || got[0] != small {
		t.Errorf("size 0: %d pieces, want the decision itself", len(got))
	}
	bad := &Decision{Routes: []RoutePlan{{CourierID: "a"}, {CourierID: "b"}, {CourierID: "c"}},
		Moves: []Move{{OrderID: "o", To: "z"}}}
	if got := bad.Split(1); len(got) != 1 || got[0] != bad {
		t.Errorf("a move to a courier without a part: %d pieces, want the decision itself (ApplyDecision refuses it)", len(got))
	}
	tied := &Decision{
		Routes:    []RoutePlan{{CourierID: "a"}, {CourierID: "b"}, {CourierID: "c"}},
		Retimed:   []RoutePlan{{CourierID: "r1"}, {CourierID: "r2"}, {CourierID: "r3"}},
		Moves:     []Move{{OrderID: "o1", From: "a", To: "c"}, {OrderID: "o2", To: "b"}},
		Unplaced:  []OrderUnplaced{{OrderID: "u1", Reason: UnplacedBacklog}, {OrderID: "u2", Reason: UnplacedNoCourier}},
		Postponed: []string{"p"},
	}
	got := tied.Split(1)
	if len(got) != 3 {
		t.Fatalf("%d pieces, want 3 (a with c, b, and the last re-timed route)", len(got))
	}
	if ids(got[0].Routes) != "a,c" || len(got[0].Moves) != 1 || got[0].Moves[0].OrderID != "o1" {
		t.Errorf("first piece %+v: want a and c, tied by o1's move, with it", got[0])
	}
	if ids(got[1].Routes) != "b" || len(got[1].Moves) != 1 || got[1].Moves[0].OrderID != "o2" {
		t.Errorf("second piece %+v: want b with o2's move", got[1])
	}
	if ids(got[0].Retimed) != "r1" || ids(got[1].Retimed) != "r2" || ids(got[2].Retimed) != "r3" || len(got[2].Routes) != 0 {
		t.Errorf("re-timed routes %q %q %q: want one a piece", ids(got[0].Retimed), ids(got[1].Retimed), ids(got[2].Retimed))
	}
	if len(got[0].Unplaced) != 1 || got[0].Unplaced[0].OrderID != "u1" || len(got[2].Unplaced) != 1 || got[2].Unplaced[0].OrderID != "u2" {
		t.Errorf("notices %+v … %+v: want the backlog's first, the others last", got[0].Unplaced, got[2].Unplaced)
	}
	if len(got[0].Postponed) != 1 || len(got[1].Postponed)+len(got[2].Postponed) != 0 {
		t.Errorf("postponed orders should go with the first piece only")
	}
}

func ids(rps []RoutePlan) string {
	var out []string
	for _, rp := range rps {
		out = append(out, rp.CourierID)
	}
	return strings.Join(out, ",")
}

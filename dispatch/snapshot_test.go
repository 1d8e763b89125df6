package dispatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// snapDay drives an engine through a random day, like randomDay, with what snapshots must carry on top: stores
// removed, moved and added back under the same id, couriers re-registered with other skills and capacities,
// orders needing a skill no courier has yet, accepted orders, order ids reused once the first order of that id is
// forgotten, position reports from the past, and events the engine rejects. At chosen moments it exports the
// original engine, sends the State through encoding/json and restores a follower from it; every later event goes
// to the original and to every follower, which must answer alike, bit for bit.
type snapDay struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	e    *Engine
	// followers are the engines restored so far, each with the step it was restored at.
	followers []follower
	now       time.Time
	storeIDs  []string // every store id ever used (some may be removed now)
	nStores   int
	placed    []string // every order id ever placed, with repeats when an id was reused
	nextOrder int
	onBoard   map[string]string // order -> courier that picked it up
	stats     *snapCoverage
}

type follower struct {
	e    *Engine
	step int
}

// snapCoverage counts, over a whole test, what the restored states held, so that the test can tell it exercised
// them.
type snapCoverage struct {
	restores, removedSlots, finished, unknownSkill, arrived, continuing, declined, accepted, reusedIDs, rejected,
	backlog int
}

const snapCity = 6000.0

func newSnapDay(t *testing.T, seed uint64, cfg func(*Config), cov *snapCoverage) *snapDay {
	t.Helper()
	d := &snapDay{
		t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		e: planarEngine(t, cfg), now: t0, onBoard: make(map[string]string), stats: cov,
	}
	d.nStores = 3 + d.rng.IntN(6)
	for i := range d.nStores {
		d.storeIDs = append(d.storeIDs, fmt.Sprintf("s%d", i))
		d.mustApply(StoreUpserted{Store{ID: d.storeIDs[i], Name: "store " + d.storeIDs[i], Location: d.pt()}})
	}
	d.storeIDs = append(d.storeIDs, "twin")
	d.mustApply(StoreUpserted{Store{ID: "twin", Location: orb.Point{100, 100}}})
	for i := range 2 + d.rng.IntN(8) {
		d.newCourier(fmt.Sprintf("c%d", i))
	}
	return d
}

func (d *snapDay) pt() orb.Point {
	return orb.Point{d.rng.Float64() * snapCity, d.rng.Float64() * snapCity}
}

// apply applies ev to the original and every follower, requires the same effects and errors from all, and checks
// the invariants on all of them.
func (d *snapDay) apply(ev Event) ([]Effect, error) {
	d.t.Helper()
	fx, err := d.e.Apply(d.now, ev)
	if err != nil {
		d.stats.rejected++
	}
	if ierr := checkInvariants(d.e); ierr != nil {
		d.t.Fatalf("seed %d: after %s at %s: %v", d.seed, ev.EventName(), d.now.Format(time.TimeOnly), ierr)
	}
	for _, f := range d.followers {
		got, gerr := f.e.Apply(d.now, ev)
		if !reflect.DeepEqual(gerr, err) {
			d.t.Fatalf("seed %d: %s at %s: engine restored at step %d says %v, the original %v", d.seed, ev.EventName(), d.now.Format(time.TimeOnly), f.step, gerr, err)
		}
		if !reflect.DeepEqual(got, fx) {
			d.t.Fatalf("seed %d: %s at %s: engine restored at step %d gives other effects\n got %+v\nwant %+v", d.seed, ev.EventName(), d.now.Format(time.TimeOnly), f.step, got, fx)
		}
		if ierr := checkInvariants(f.e); ierr != nil {
			d.t.Fatalf("seed %d: engine restored at step %d, after %s: %v", d.seed, f.step, ev.EventName(), ierr)
		}
	}
	return fx, err
}

func (d *snapDay) mustApply(ev Event) []Effect {
	d.t.Helper()
	fx, err := d.apply(ev)
	if err != nil {
		d.t.Fatalf("seed %d: %s at %s: %v", d.seed, ev.EventName(), d.now.Format(time.TimeOnly), err)
	}
	return fx
}

func (d *snapDay) newCourier(id string) {
	spec := CourierSpec{ID: id, Vehicle: geo.Profile(d.rng.IntN(int(geo.NumProfiles))), Capacity: 1 + d.rng.IntN(5)}
	switch d.rng.IntN(6) {
	case 0:
		spec.Skills = []string{"cold"}
	case 1:
		spec.Skills = []string{"alcohol"}
	case 2:
		spec.Skills = []string{} // empty, not nil: reads must keep the difference
	}
	d.mustApply(CourierRegistered{spec})
	var end time.Time
	if d.rng.IntN(2) == 0 {
		end = d.now.Add(time.Duration(30+d.rng.IntN(120)) * time.Minute)
	}
	d.mustApply(CourierOnline{CourierID: id, Location: d.pt(), ShiftEnd: end})
}

func (d *snapDay) randomCourier() *courierState {
	return d.e.courierList[d.rng.IntN(len(d.e.courierList))]
}

// step applies one random event (or a few, when couriers work their routes).
func (d *snapDay) step(i int) {
	d.t.Helper()
	rng, e := d.rng, d.e
	d.now = d.now.Add(time.Duration(5+rng.IntN(60)) * time.Second)
	switch r := rng.IntN(100); {
	case r < 26:
		store := d.storeIDs[rng.IntN(len(d.storeIDs))]
		id := fmt.Sprintf("o%d", d.nextOrder)
		if rng.IntN(6) == 0 {
			// Reuse the id of an order the engine has forgotten, if there is one.
			for _, old := range d.placed {
				if _, known := e.orders[old]; !known {
					id = old
					break
				}
			}
		}
		spec := OrderSpec{ID: id, StoreID: store, Dropoff: d.pt(),
			Ready: d.now.Add(time.Duration(rng.IntN(20)) * time.Minute), Size: 1 + rng.IntN(2)}
		spec.DeliverBy = spec.Ready.Add(time.Duration(15+rng.IntN(45)) * time.Minute)
		switch rng.IntN(12) {
		case 0:
			spec.Skills = []string{"cold"}
		case 1:
			spec.Skills = []string{"alcohol"}
		case 2:
			spec.Skills = []string{"frozen"} // no courier has it, at first
		}
		if _, err := d.apply(OrderPlaced{spec}); err == nil {
			if slices.Contains(d.placed, id) {
				d.stats.reusedIDs++
			} else {
				d.nextOrder++
			}
			d.placed = append(d.placed, id)
		}
	case r < 50:
		d.mustApply(DispatchTick{})
	case r < 54 && len(d.placed) > 0:
		id := d.placed[rng.IntN(len(d.placed))]
		if o, ok := e.orders[id]; ok && (o.status == StatusPending || o.status == StatusAssigned) {
			d.mustApply(OrderCancelled{OrderID: id, Reason: "customer"})
		}
	case r < 57:
		c := d.randomCourier()
		for _, s := range c.stops {
			if s.o.status == StatusAssigned {
				d.mustApply(CourierDeclined{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
				break
			}
		}
	case r < 60:
		c := d.randomCourier()
		for _, s := range c.stops {
			if s.o.status == StatusAssigned && !s.o.accepted {
				d.mustApply(CourierAccepted{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
				break
			}
		}
	case r < 63:
		c := d.randomCourier()
		if c.online {
			d.mustApply(CourierOffline{CourierID: c.spec.ID})
		} else {
			d.mustApply(CourierOnline{CourierID: c.spec.ID, Location: d.pt()})
		}
	case r < 67:
		ev := CourierMoved{CourierID: d.randomCourier().spec.ID, Location: d.pt()}
		if rng.IntN(3) == 0 {
			ev.At = d.now.Add(-time.Duration(rng.IntN(90)) * time.Second) // a late report, maybe older than ours
		}
		d.mustApply(ev)
	case r < 69:
		d.newCourier(fmt.Sprintf("n%d", i))
	case r < 71:
		c := d.randomCourier()
		spec := c.spec
		if len(c.stops) == 0 {
			spec.Capacity = 1 + rng.IntN(5) // (a loaded route could end up over capacity, which is not our test)
		}
		spec.Skills = nil
		if rng.IntN(3) == 0 {
			spec.Skills = []string{"frozen", "cold"}
		}
		d.mustApply(CourierRegistered{spec})
	case r < 73:
		id := d.storeIDs[rng.IntN(len(d.storeIDs))]
		if rng.IntN(2) == 0 {
			d.apply(StoreRemoved{StoreID: id}) // refused while the store has open orders
		} else {
			d.mustApply(StoreUpserted{Store{ID: id, Location: d.pt()}}) // moves it, or adds it back
		}
	case r < 75:
		// Events the engine refuses must be refused alike, and change nothing.
		if len(d.placed) > 0 {
			d.apply(OrderDelivered{CourierID: d.randomCourier().spec.ID, OrderID: d.placed[rng.IntN(len(d.placed))]})
		}
		d.apply(OrderCancelled{OrderID: "never-placed"})
	default:
		for _, c := range e.courierList {
			// Some couriers do one thing at a time, so that checkpoints find couriers arrived or mid-visit.
			actions := 8
			if rng.IntN(2) == 0 {
				actions = 1
			}
			for guard := 0; guard < actions && len(c.stops) > 0; guard++ {
				s := c.stops[0]
				if s.hand > d.now.UnixNano() {
					break
				}
				if c.mode == modeMoving && rng.IntN(2) == 0 {
					d.mustApply(CourierArrived{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					continue
				}
				switch {
				case s.kind == Pickup:
					d.mustApply(OrderPickedUp{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					d.onBoard[s.o.spec.ID] = c.spec.ID
				case rng.IntN(30) == 0:
					d.mustApply(OrderFailed{CourierID: c.spec.ID, OrderID: s.o.spec.ID, Reason: "nobody home"})
				default:
					d.mustApply(OrderDelivered{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
				}
			}
		}
	}
}

// roundTrip encodes a State with encoding/json and decodes it into a new one, as a checkpoint on disk would.
func roundTrip(t testing.TB, st *State) (*State, []byte) {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	return &back, data
}

func exportJSON(t testing.TB, e *Engine) []byte {
	t.Helper()
	data, err := json.Marshal(e.Export())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// restoreFrom restores an engine with the original's configuration, space and travel model.
func restoreFrom(t testing.TB, orig *Engine, st *State) *Engine {
	t.Helper()
	e, err := Restore(orig.cfg, orig.space, orig.travel, st)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// cut checkpoints the original and adds a follower restored from the checkpoint.
func (d *snapDay) cut(step int) {
	d.t.Helper()
	st, data := roundTrip(d.t, d.e.Export())
	f := restoreFrom(d.t, d.e, st)
	if err := checkInvariants(f); err != nil {
		d.t.Fatalf("seed %d: restored at step %d: %v", d.seed, step, err)
	}
	// The restored engine exports what it was restored from: nothing was lost or invented.
	if again := exportJSON(d.t, f); !bytes.Equal(again, data) {
		d.t.Fatalf("seed %d: step %d: the restored engine exports another state\n got %s\nwant %s", d.seed, step, again, data)
	}
	d.sameReads(f, fmt.Sprintf("restored at step %d", step))
	d.followers = append(d.followers, follower{e: f, step: step})

	cov := d.stats
	cov.restores++
	for _, s := range st.Stores {
		if s.Removed {
			cov.removedSlots++
		}
	}
	cov.finished += len(st.Finished)
	for _, c := range st.Couriers {
		if len(c.Stops) > 0 && c.Mode == "arrived" {
			cov.arrived++
		}
		if len(c.Stops) > 0 && c.Mode == "continuing" {
			cov.continuing++
		}
	}
	for _, o := range st.Orders {
		if o.SkillMask == unknownSkill {
			cov.unknownSkill++
		}
		if o.Unplaced == UnplacedBacklog {
			cov.backlog++
		}
		if len(o.DeclinedBy) > 0 {
			cov.declined++
		}
		if o.Accepted && o.Status == "assigned" {
			cov.accepted++
		}
	}
}

// sameReads requires every read method to answer the same on f as on the original.
func (d *snapDay) sameReads(f *Engine, who string) {
	d.t.Helper()
	if !reflect.DeepEqual(f.Now(), d.e.Now()) {
		d.t.Fatalf("seed %d: %s: Now %v, want %v", d.seed, who, f.Now(), d.e.Now())
	}
	if got, want := f.LastRound(), d.e.LastRound(); got != want {
		d.t.Fatalf("seed %d: %s: LastRound %+v, want %+v", d.seed, who, got, want)
	}
	for _, id := range d.placed {
		got, gok := f.Order(id)
		want, wok := d.e.Order(id)
		if gok != wok || !reflect.DeepEqual(got, want) {
			d.t.Fatalf("seed %d: %s: Order(%s) = %+v, %v\nwant %+v, %v", d.seed, who, id, got, gok, want, wok)
		}
	}
	for _, c := range d.e.courierList {
		id := c.spec.ID
		got, gok := f.Courier(id)
		want, wok := d.e.Courier(id)
		if gok != wok || !reflect.DeepEqual(got, want) {
			d.t.Fatalf("seed %d: %s: Courier(%s) = %+v, want %+v", d.seed, who, id, got, want)
		}
		gr, gok := f.Route(id)
		wr, wok := d.e.Route(id)
		if gok != wok || !reflect.DeepEqual(gr, wr) {
			d.t.Fatalf("seed %d: %s: Route(%s) = %+v, want %+v", d.seed, who, id, gr, wr)
		}
	}
}

var snapshotVariants = []struct {
	name string
	cfg  func(*Config)
}{
	{"default", nil},
	{"mdrp-rules", func(c *Config) {
		c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
	}},
	{"mdrp-rules-planned", func(c *Config) {
		c.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		c.PlanBudget = 30
		c.CommitLead = time.Minute
	}},
	{"no-bundles-no-postpone", func(c *Config) { c.MaxBundleOrders = 1; c.PostponeSlack = 0 }},
	{"nearest-idle-baseline", func(c *Config) { c.Policy = PolicyNearestIdle }},
	{"eager-reassign-short-exact", func(c *Config) {
		c.ReassignThreshold = 0
		c.ExactSequenceStops = 3
		c.Workers = 3
	}},
	// Rounds consider few orders, so that restored states hold orders told "backlog".
	{"small-round-budget", func(c *Config) { c.MaxRoundOrders = 2 }},
	// Orders are forgotten soon, so that restored states hold forgotten ids reused by new orders.
	{"short-retention-append-horizon", func(c *Config) {
		c.FinishedRetention = 20 * time.Minute
		c.AppendHorizon = 25 * time.Minute
	}},
}

// TestSnapshotRestoreDeterminism checkpoints random days at several moments, restores each checkpoint after a trip
// through encoding/json, and feeds the rest of the day to the original and the restored engines: every effect,
// every error and, at the end, every read (Order, Courier, Route, LastRound, Now) must be identical, the invariants
// must hold on the restored engines, and they must all export the same State as the original.
func TestSnapshotRestoreDeterminism(t *testing.T) {
	cov := &snapCoverage{}
	for _, v := range snapshotVariants {
		t.Run(v.name, func(t *testing.T) {
			for seed := uint64(1); seed <= sized[uint64](4, 2); seed++ {
				d := newSnapDay(t, seed*7919, v.cfg, cov)
				const steps = 400
				cuts := []int{0, 20 + d.rng.IntN(60), 100 + d.rng.IntN(60), 180 + d.rng.IntN(60), 260 + d.rng.IntN(60), 340 + d.rng.IntN(60)}
				midVisitCut := false
				for i := 0; i < steps; i++ {
					// Besides the planned cuts, one the first time a courier is caught mid-visit (a rare state).
					if midVisit := slices.ContainsFunc(d.e.courierList, func(c *courierState) bool {
						return c.mode == modeContinuing && len(c.stops) > 0
					}); slices.Contains(cuts, i) || (midVisit && !midVisitCut) {
						midVisitCut = midVisitCut || midVisit
						d.cut(i)
					}
					d.step(i)
				}
				want := exportJSON(t, d.e)
				for _, f := range d.followers {
					d.sameReads(f.e, fmt.Sprintf("restored at step %d, at the end", f.step))
					if got := exportJSON(t, f.e); !bytes.Equal(got, want) {
						t.Fatalf("seed %d: engine restored at step %d ends in another state\n got %s\nwant %s", d.seed, f.step, got, want)
					}
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	// The days must have put in the checkpoints what a checkpoint has to carry.
	for name, n := range map[string]int{
		"removed store slots": cov.removedSlots, "finished orders": cov.finished,
		"orders with an unknown skill": cov.unknownSkill, "couriers arrived at their first stop": cov.arrived,
		"couriers mid-visit": cov.continuing, "declined orders": cov.declined, "accepted orders": cov.accepted,
		"reused order ids": cov.reusedIDs, "rejected events": cov.rejected, "orders told backlog": cov.backlog,
	} {
		if n == 0 {
			t.Errorf("no checkpoint held any %s: the test does not exercise them", name)
		}
	}
	t.Logf("coverage: %+v", *cov)
}

// TestSnapshotExportIsDeepCopy: a State shares no memory with the engine that exported it, nor with the engine
// restored from it. The engine goes on after Export and the State's encoding does not change; scribbling over a
// State after Restore does not change the restored engine.
func TestSnapshotExportIsDeepCopy(t *testing.T) {
	cov := &snapCoverage{}
	d := newSnapDay(t, 42, nil, cov)
	i := 0
	for ; i < 150; i++ {
		d.step(i)
	}
	st := d.e.Export()
	before, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	restored := restoreFrom(t, d.e, st)
	restoredBefore := exportJSON(t, restored)

	// The original goes on (routes are re-timed in place, timelines grow, couriers re-register, orders finish)
	// while another goroutine encodes the State, as the daemon does: under -race, any memory the two shared
	// would be reported.
	encoded := make(chan []byte)
	go func() {
		defer close(encoded)
		for range 20 {
			data, err := json.Marshal(st)
			if err != nil {
				panic(err)
			}
			encoded <- data
		}
	}()
	for ; i < 300; i++ {
		d.step(i)
	}
	for after := range encoded {
		if !bytes.Equal(before, after) {
			t.Fatalf("the exported State changed as the engine went on\nbefore %s\n after %s", before, after)
		}
	}
	if bytes.Equal(exportJSON(t, d.e), before) {
		t.Fatal("the engine did not change in 150 steps: the test proves nothing")
	}

	// Scribble over every slice and string of the State the restored engine was made from.
	scribbleState(st)
	if got := exportJSON(t, restored); !bytes.Equal(got, restoredBefore) {
		t.Fatalf("changing the State changed the engine restored from it\n got %s\nwant %s", got, restoredBefore)
	}
}

// scribbleState overwrites, in place, every element of every slice a State holds.
func scribbleState(st *State) {
	for i := range st.Skills {
		st.Skills[i] = "scribbled"
	}
	for i := range st.Stores {
		st.Stores[i] = SavedStore{ID: "scribbled"}
	}
	for i := range st.Couriers {
		c := &st.Couriers[i]
		for k := range c.Skills {
			c.Skills[k] = "scribbled"
		}
		for k := range c.Stops {
			c.Stops[k] = SavedStop{OrderID: "scribbled", Arrive: -1}
		}
		c.ID, c.Load = "scribbled", -1
	}
	for i := range st.Orders {
		o := &st.Orders[i]
		for k := range o.Skills {
			o.Skills[k] = "scribbled"
		}
		for k := range o.DeclinedBy {
			o.DeclinedBy[k] = "scribbled"
		}
		for k := range o.Timeline {
			o.Timeline[k] = SavedStatusChange{Status: "scribbled", At: -1}
		}
		o.ID, o.Status = "scribbled", "scribbled"
	}
	for i := range st.Open {
		st.Open[i] = "scribbled"
	}
	for i := range st.Finished {
		st.Finished[i] = "scribbled"
	}
}

// snapshotScenario builds, by hand, an engine whose state has one of everything Restore checks: an order picked
// up (its drop-off alone on a route), an assigned one (pick-up and drop-off), a pending one declined by a courier
// and needing a skill nobody has, two finished orders, one of a store since removed, and an offline courier.
func snapshotScenario(t testing.TB) (*Engine, *State) {
	t.Helper()
	e := planarEngine(t, nil)
	at := t0
	apply := func(ev Event) []Effect {
		t.Helper()
		at = at.Add(time.Second)
		return mustApply(t, e, at, ev)
	}
	apply(StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}}})
	apply(StoreUpserted{Store{ID: "s2", Location: orb.Point{1000, 0}}})
	apply(StoreUpserted{Store{ID: "gone", Location: orb.Point{3000, 3000}}})
	apply(CourierRegistered{CourierSpec{ID: "c1", Vehicle: geo.Bike, Capacity: 4, Skills: []string{"cold"}}})
	apply(CourierRegistered{CourierSpec{ID: "c2", Vehicle: geo.Bike, Capacity: 4}})
	apply(CourierRegistered{CourierSpec{ID: "c3", Vehicle: geo.Car, Capacity: 2}})
	apply(CourierOnline{CourierID: "c1", Location: orb.Point{0, 0}})
	apply(CourierOnline{CourierID: "c2", Location: orb.Point{1000, 0}})
	order := func(id, store string, drop orb.Point, skills ...string) {
		apply(OrderPlaced{OrderSpec{ID: id, StoreID: store, Dropoff: drop, DeliverBy: at.Add(50 * time.Minute), Skills: skills}})
	}
	order("o1", "s1", orb.Point{0, 2000})
	order("o2", "s2", orb.Point{1000, 2000})
	order("o3", "gone", orb.Point{3000, 3500})
	order("o4", "s1", orb.Point{500, 500}, "frozen")
	apply(OrderCancelled{OrderID: "o3", Reason: "test"})
	apply(StoreRemoved{StoreID: "gone"})
	order("o5", "s2", orb.Point{1500, 0})
	apply(OrderCancelled{OrderID: "o5", Reason: "test"})
	apply(DispatchTick{})
	for _, id := range []string{"o1", "o2"} {
		if o, _ := e.Order(id); o.Status != StatusAssigned {
			t.Fatalf("%s is %s after the first round", id, o.Status)
		}
	}
	o1, _ := e.Order("o1")
	apply(OrderPickedUp{CourierID: o1.CourierID, OrderID: "o1"})
	o2, _ := e.Order("o2")
	apply(CourierDeclined{CourierID: o2.CourierID, OrderID: "o2"})
	apply(DispatchTick{})
	if o, _ := e.Order("o2"); o.Status != StatusAssigned {
		t.Fatalf("o2 is %s after the second round", o.Status)
	}
	return e, e.Export()
}

// TestSnapshotRestoreRejectsCorruptState: a State that does not hang together is refused with an error that wraps
// ErrInvalidState and names the culprit; Restore never panics.
func TestSnapshotRestoreRejectsCorruptState(t *testing.T) {
	orig, valid := snapshotScenario(t)
	if _, err := Restore(orig.cfg, orig.space, orig.travel, valid); err != nil {
		t.Fatalf("the valid state is refused: %v", err)
	}
	courierOf := func(st *State, id string) *SavedCourier {
		for i := range st.Couriers {
			if st.Couriers[i].ID == id {
				return &st.Couriers[i]
			}
		}
		t.Fatalf("no courier %s", id)
		return nil
	}
	orderOf := func(st *State, id string) *SavedOrder {
		for i := range st.Orders {
			if st.Orders[i].ID == id {
				return &st.Orders[i]
			}
		}
		t.Fatalf("no order %s", id)
		return nil
	}
	// holder returns the courier whose route holds an order.
	holder := func(st *State, id string) *SavedCourier { return courierOf(st, orderOf(st, id).CourierID) }
	stopOf := func(st *State, id, kind string) *SavedStop {
		c := holder(st, id)
		for k := range c.Stops {
			if c.Stops[k].OrderID == id && c.Stops[k].Kind == kind {
				return &c.Stops[k]
			}
		}
		t.Fatalf("no %s stop of %s", kind, id)
		return nil
	}
	cases := []struct {
		name   string
		mutate func(st *State)
		want   string // the error names this
	}{
		{"version 0", func(st *State) { st.Version = 0 }, "version 0"},
		{"version 2", func(st *State) { st.Version = 2 }, "version 2"},
		{"stop names a missing order", func(st *State) { stopOf(st, "o1", "dropoff").OrderID = "ghost" }, `"ghost"`},
		{"stop of another courier's order", func(st *State) {
			other := "c1"
			if orderOf(st, "o1").CourierID == "c1" {
				other = "c2"
			}
			c := courierOf(st, other)
			c.Stops = append(c.Stops, *stopOf(st, "o1", "dropoff"))
		}, `"o1"`},
		{"stop of a finished order", func(st *State) {
			c := holder(st, "o1")
			c.Stops = append(c.Stops, SavedStop{Kind: "dropoff", OrderID: "o3"})
		}, `"o3"`},
		{"pick-up of a picked-up order", func(st *State) { stopOf(st, "o1", "dropoff").Kind = "pickup" }, `"o1"`},
		{"drop-off before pick-up", func(st *State) {
			p, d := stopOf(st, "o2", "pickup"), stopOf(st, "o2", "dropoff")
			*p, *d = *d, *p
		}, `"o2"`},
		{"drop-off missing", func(st *State) {
			c := holder(st, "o1")
			c.Stops = slices.DeleteFunc(c.Stops, func(s SavedStop) bool { return s.OrderID == "o1" })
		}, `"o1"`},
		{"unknown stop kind", func(st *State) { stopOf(st, "o2", "pickup").Kind = "detour" }, `"detour"`},
		{"route too long", func(st *State) {
			c := courierOf(st, "c3")
			for range maxStopsHard + 1 {
				c.Stops = append(c.Stops, SavedStop{Kind: "dropoff", OrderID: "o1"})
			}
		}, "stops"},
		{"load not what is carried", func(st *State) { holder(st, "o1").Load++ }, "load"},
		{"negative load", func(st *State) { courierOf(st, "c3").Load = -1 }, "load"},
		{"store index out of range", func(st *State) { orderOf(st, "o4").Store = len(st.Stores) }, "store index"},
		{"negative store index", func(st *State) { orderOf(st, "o4").Store = -1 }, "store index"},
		{"store index of another store", func(st *State) { orderOf(st, "o4").Store = 1 }, `"s2"`},
		{"open order of a removed store", func(st *State) { st.Stores[0] = SavedStore{Removed: true} }, `"s1"`},
		{"order held by an unknown courier", func(st *State) { orderOf(st, "o1").CourierID = "ghost" }, `"ghost"`},
		{"declined by an unknown courier", func(st *State) { orderOf(st, "o2").DeclinedBy = []string{"ghost"} }, `"ghost"`},
		{"pending order held by a courier", func(st *State) { orderOf(st, "o4").CourierID = "c3" }, `"o4"`},
		{"assigned order held by nobody", func(st *State) { orderOf(st, "o2").CourierID = "" }, `"o2"`},
		{"unknown status", func(st *State) { orderOf(st, "o4").Status = "lost" }, `"lost"`},
		{"timeline ends elsewhere", func(st *State) { orderOf(st, "o4").Status = "cancelled" }, "timeline"},
		{"empty timeline", func(st *State) { orderOf(st, "o4").Timeline = nil }, "timeline"},
		{"unknown unplaced reason", func(st *State) { orderOf(st, "o4").Unplaced = "bored" }, `"bored"`},
		{"times out of order", func(st *State) {
			o := orderOf(st, "o4")
			o.DeliverBy = o.Created
		}, `"o4"`},
		{"size out of range", func(st *State) { orderOf(st, "o4").Size = 0 }, "size"},
		{"invalid dropoff", func(st *State) { orderOf(st, "o4").Dropoff = orb.Point{math.NaN(), 0} }, "dropoff"},
		{"skill mask without skills", func(st *State) { orderOf(st, "o2").SkillMask = 1 }, "mask"},
		{"skill mask beyond the skills", func(st *State) { orderOf(st, "o4").SkillMask = 1 << 5 }, "mask"},
		{"duplicate order", func(st *State) { st.Orders = append(st.Orders, *orderOf(st, "o4")) }, `"o4"`},
		{"seq used twice", func(st *State) { orderOf(st, "o4").Seq = orderOf(st, "o2").Seq }, "seq"},
		{"seq beyond the counter", func(st *State) { st.Seq = 2 }, "seq"},
		{"open lists a missing order", func(st *State) { st.Open = append(st.Open, "ghost") }, `"ghost"`},
		{"open lists an order twice", func(st *State) { st.Open = append(st.Open, "o4") }, `"o4"`},
		{"open lists a finished order", func(st *State) { st.Open = append(st.Open, "o3") }, `"o3"`},
		{"open order in no list", func(st *State) { st.Open = slices.DeleteFunc(st.Open, func(id string) bool { return id == "o4" }) }, `"o4"`},
		{"finished lists an open order", func(st *State) { st.Finished = append(st.Finished, "o1") }, `"o1"`},
		{"finished order in no list", func(st *State) { st.Finished = st.Finished[1:] }, "neither"},
		{"finished out of order", func(st *State) {
			orderOf(st, st.Finished[0]).FinishedAt = orderOf(st, st.Finished[1]).FinishedAt + 1
		}, "finished[1]"},
		{"duplicate courier", func(st *State) { st.Couriers = append(st.Couriers, *courierOf(st, "c3")) }, `"c3"`},
		{"duplicate store", func(st *State) { st.Stores = append(st.Stores, st.Stores[0]) }, `"s1"`},
		{"store without id", func(st *State) { st.Stores[1].ID = "" }, "stores[1]"},
		{"invalid store location", func(st *State) { st.Stores[1].Location = orb.Point{math.Inf(1), 0} }, `"s2"`},
		{"online courier at an invalid point", func(st *State) {
			courierOf(st, "c1").Location = orb.Point{math.NaN(), math.NaN()} // would panic in the spatial index
		}, `"c1"`},
		{"offline courier at an invalid point", func(st *State) { courierOf(st, "c3").Location = orb.Point{0, math.Inf(-1)} }, `"c3"`},
		{"unknown vehicle", func(st *State) { courierOf(st, "c3").Vehicle = geo.NumProfiles }, "vehicle"},
		{"capacity out of range", func(st *State) { courierOf(st, "c3").Capacity = 0 }, "capacity"},
		{"unknown mode", func(st *State) { courierOf(st, "c3").Mode = "flying" }, `"flying"`},
		{"courier skill not interned", func(st *State) { courierOf(st, "c3").Skills = []string{"juggling"} }, `"juggling"`},
		{"skill twice", func(st *State) { st.Skills = append(st.Skills, st.Skills[0]) }, "twice"},
		{"too many skills", func(st *State) {
			for i := range 65 {
				st.Skills = append(st.Skills, fmt.Sprintf("k%d", i))
			}
		}, "skills"},
		{"empty skill name", func(st *State) { st.Skills = append(st.Skills, "") }, "skills["},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := roundTrip(t, valid)
			tc.mutate(st)
			e, err := restoreNoPanic(orig, st)
			if err == nil {
				t.Fatalf("accepted: %v", e != nil)
			}
			if !errors.Is(err, ErrInvalidState) {
				t.Errorf("error does not wrap ErrInvalidState: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s: %v", tc.want, err)
			}
		})
	}
	t.Run("nil state", func(t *testing.T) {
		if _, err := restoreNoPanic(orig, nil); !errors.Is(err, ErrInvalidState) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		cfg := orig.cfg
		cfg.Workers = 0
		_, err := Restore(cfg, orig.space, orig.travel, valid)
		if err == nil || errors.Is(err, ErrInvalidState) || ErrorCodeOf(err) != EInvalid {
			t.Fatalf("got %v, want the config's own validation error", err)
		}
	})
}

// restoreNoPanic turns a panic of Restore into an error that does not wrap ErrInvalidState.
func restoreNoPanic(orig *Engine, st *State) (e *Engine, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("Restore panicked: %v", p)
		}
	}()
	return Restore(orig.cfg, orig.space, orig.travel, st)
}

// TestSnapshotRestoreSurvivesRandomCorruption damages a checkpoint at random, value by value in its JSON form
// (numbers, strings, flags, list elements), and restores it: Restore must return an error or an engine, never
// panic, and an engine it returns must take a round and more events without panicking.
func TestSnapshotRestoreSurvivesRandomCorruption(t *testing.T) {
	cov := &snapCoverage{}
	d := newSnapDay(t, 5, nil, cov)
	for i := range 200 {
		d.step(i)
	}
	_, data := roundTrip(t, d.e.Export())
	// Numbers stay json.Numbers: through a float64, a skill mask of 1<<63 would not come back exact.
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var strs []string
	collectStrings(doc, &strs)
	rng := rand.New(rand.NewPCG(9, 10))
	accepted, refused := 0, 0
	for trial := range 400 {
		bad := cloneJSON(doc)
		for range 1 + rng.IntN(3) {
			mutateJSON(rng, bad, strs)
		}
		raw, err := json.Marshal(bad)
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if json.Unmarshal(raw, &st) != nil {
			continue // not even a State: the decoder's business
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("trial %d: panic %v\nstate %s", trial, p, raw)
				}
			}()
			e, err := Restore(d.e.cfg, d.e.space, d.e.travel, &st)
			if err != nil {
				refused++
				return
			}
			accepted++
			at := toTime(max(e.now, d.e.now)).Add(time.Minute)
			e.Apply(at, DispatchTick{})
			for _, c := range e.courierList {
				if len(c.stops) > 0 {
					s := c.stops[0]
					e.Apply(at, CourierArrived{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					e.Apply(at, OrderPickedUp{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
					e.Apply(at, OrderDelivered{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
				}
			}
			e.Apply(at.Add(time.Hour), DispatchTick{})
			e.Export()
		}()
	}
	t.Logf("%d corrupt states refused, %d accepted", refused, accepted)
	if refused == 0 || accepted == 0 {
		t.Fatal("every damaged state was accepted, or none: the test exercises only one side")
	}
}

func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case []any:
		for _, x := range v {
			collectStrings(x, out)
		}
	case map[string]any:
		for _, x := range v {
			collectStrings(x, out)
		}
	}
}

func cloneJSON(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSON(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneJSON(x)
		}
		return out
	}
	return v
}

// mutateJSON changes one value somewhere in a decoded JSON document: it walks down from the root through random
// children and changes what it stops at.
func mutateJSON(rng *rand.Rand, doc any, strs []string) {
	cur := doc
	for depth := 0; depth < 12; depth++ {
		switch v := cur.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			if len(keys) == 0 {
				return
			}
			slices.Sort(keys) // map order is random; the test must not be
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 || !isContainer(v[k]) {
				v[k] = mutateValue(rng, v[k], strs)
				return
			}
			cur = v[k]
		case []any:
			if len(v) == 0 {
				return
			}
			i := rng.IntN(len(v))
			switch rng.IntN(5) {
			case 0: // drop an element: shorten in place by shifting and blanking the last
				copy(v[i:], v[i+1:])
				v[len(v)-1] = nil
				return
			case 1: // copy an element over another
				v[rng.IntN(len(v))] = cloneJSON(v[i])
				return
			case 2:
				j := rng.IntN(len(v))
				v[i], v[j] = v[j], v[i]
				return
			}
			if !isContainer(v[i]) {
				v[i] = mutateValue(rng, v[i], strs)
				return
			}
			cur = v[i]
		default:
			return
		}
	}
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func mutateValue(rng *rand.Rand, v any, strs []string) any {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil { // a coordinate
			f, _ := v.Float64()
			return []float64{0, -1, f + 1, -f, 1e9, 7000}[rng.IntN(6)]
		}
		return []int64{0, -1, 1, n + 1, n - 1, n * 2, -n, 1e18, 63, 64, 65, n + int64(time.Minute), n - int64(time.Hour)}[rng.IntN(13)]
	case string:
		if rng.IntN(4) == 0 {
			return "x"
		}
		return strs[rng.IntN(len(strs))]
	case bool:
		return !v
	case nil:
		return []any{}
	}
	return nil
}

// TestSnapshotEdgeCases: an engine that has seen nothing round-trips, and an order's own times keep their instant
// and UTC offset through a checkpoint.
func TestSnapshotEdgeCases(t *testing.T) {
	empty := planarEngine(t, nil)
	st, _ := roundTrip(t, empty.Export())
	e := restoreFrom(t, empty, st)
	if !e.Now().IsZero() || e.LastRound() != (Stats{}) || len(e.orders)+len(e.couriers)+len(e.stores) != 0 {
		t.Fatalf("an empty engine restored as %+v", e.Export())
	}
	at := t0
	mustApply(t, e, at, StoreUpserted{Store{ID: "s", Location: orb.Point{0, 0}}})

	zone := time.FixedZone("CEST", 2*3600)
	spec := OrderSpec{ID: "o", StoreID: "s", Dropoff: orb.Point{100, 0}, Created: at.In(zone),
		Ready: at.Add(5 * time.Minute).In(zone), DeliverBy: at.Add(time.Hour).In(zone)}
	mustApply(t, e, at, OrderPlaced{spec})
	st, _ = roundTrip(t, e.Export())
	back := restoreFrom(t, e, st)
	got, _ := back.Order("o")
	want, _ := e.Order("o")
	for _, p := range [][2]time.Time{{got.Created, want.Created}, {got.Ready, want.Ready}, {got.DeliverBy, want.DeliverBy}} {
		_, gotOff := p[0].Zone()
		_, wantOff := p[1].Zone()
		if !p[0].Equal(p[1]) || gotOff != wantOff {
			t.Errorf("spec time %s came back as %s", p[1], p[0])
		}
	}
	// Apart from the zone's name, the order reads the same.
	got.Created, got.Ready, got.DeliverBy = want.Created, want.Ready, want.DeliverBy
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order reads %+v, want %+v", got, want)
	}
}

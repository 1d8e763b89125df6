package dispatch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// regionalEngine has store s1 in storeRegion at the origin, couriers "north" and "south" (each of that region)
// on shift beside it, and order o1 of s1 placed.
func regionalEngine(t *testing.T, storeRegion string) *Engine {
	t.Helper()
	e := planarEngine(t, func(c *Config) { c.PostponeSlack = 0 })
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}, Region: storeRegion}})
	for _, r := range []string{"north", "south"} {
		mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: r, Vehicle: geo.Bike, Capacity: 4, Region: r}})
	}
	// south stands nearer: geography alone would choose it.
	mustApply(t, e, t0, CourierOnline{CourierID: "north", Location: orb.Point{900, 0}})
	mustApply(t, e, t0, CourierOnline{CourierID: "south", Location: orb.Point{100, 0}})
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "o1", StoreID: "s1", Dropoff: orb.Point{0, 1200},
		Ready: t0.Add(5 * time.Minute), DeliverBy: t0.Add(40 * time.Minute)}})
	return e
}

func TestRegionRoundGivesOrdersToTheirRegion(t *testing.T) {
	for _, policy := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		e := regionalEngine(t, "north")
		e.cfg.Policy = policy
		as := effectsOf[OrderAssigned](mustApply(t, e, t0.Add(time.Second), DispatchTick{}))
		if len(as) != 1 || as[0].CourierID != "north" {
			t.Fatalf("policy %v: assigned %+v, want o1 to north (south is nearer, but of another region)", policy, as)
		}
	}
	// With the only couriers in reach of other regions, the order waits for a courier of its own: no courier.
	for _, policy := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		e := regionalEngine(t, "east")
		e.cfg.Policy = policy
		fx := mustApply(t, e, t0.Add(time.Second), DispatchTick{})
		if as := effectsOf[OrderAssigned](fx); len(as) != 0 {
			t.Fatalf("policy %v: an east order was assigned to %+v", policy, as)
		}
		if un := effectsOf[OrderUnplaced](fx); len(un) != 1 || un[0].Reason != UnplacedNoCourier {
			t.Fatalf("policy %v: unplaced %+v, want o1 told %s", policy, un, UnplacedNoCourier)
		}
	}
}

// A decision planned where the order was of another region (or by a planner that got regions wrong) is not
// applied as to the move that crosses regions.
func TestRegionDecisionCrossingRegionsIsDropped(t *testing.T) {
	elsewhere := regionalEngine(t, "south")
	d, err := elsewhere.Planner().Plan(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Moves) != 1 || d.Moves[0].To != "south" {
		t.Fatalf("the plan with the store in south: %+v", d.Moves)
	}
	e := regionalEngine(t, "north")
	res, err := e.ApplyDecision(t0.Add(time.Second), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied.Moves) != 0 || len(res.Dropped) == 0 {
		t.Fatalf("applied %+v, dropped %+v; want the move to south dropped", res.Applied.Moves, res.Dropped)
	}
	if o, _ := e.Order("o1"); o.Status != StatusPending {
		t.Fatalf("o1 is %s with %q", o.Status, o.CourierID)
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

func TestRegionQuoteAndOverride(t *testing.T) {
	e := regionalEngine(t, "north")
	q, err := e.Quote(t0, OrderSpec{StoreID: "s1", Dropoff: orb.Point{0, 1200}, DeliverBy: t0.Add(40 * time.Minute)})
	if err != nil || !q.Feasible || q.CourierID != "north" {
		t.Fatalf("quote %+v %v; want feasible with north", q, err)
	}
	_, err = e.Apply(t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "south"})
	var ee *Error
	if !asError(err, &ee) || ee.Code != EConflict || ee.Field != "courier_id" || len(ee.Reasons) != 1 || ee.Reasons[0] != RuleRegion {
		t.Fatalf("assigning o1 to south: %v, want a conflict on courier_id for rule %s", err, RuleRegion)
	}
	_, err = e.Apply(t0, OrdersMovedByOperator{CourierID: "south", OrderIDs: []string{"o1"}})
	if !asError(err, &ee) || ee.Code != EConflict || ee.Reasons[0] != RuleRegion {
		t.Fatalf("moving o1 to south: %v", err)
	}
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "north"})

	// No courier of the store's region: not feasible, though south could do it.
	e = regionalEngine(t, "east")
	q, err = e.Quote(t0, OrderSpec{StoreID: "s1", Dropoff: orb.Point{0, 1200}, DeliverBy: t0.Add(40 * time.Minute)})
	if err != nil || q.Feasible || q.CourierID != "" || len(q.Reasons) != 1 || q.Reasons[0] != UnplacedNoCourier {
		t.Fatalf("quote of an east order: %+v %v; want not feasible for want of a courier", q, err)
	}
}

func TestRegionChangesAndNames(t *testing.T) {
	e := regionalEngine(t, "north")
	// The store has an open order; the courier is on shift.
	_, err := e.Apply(t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}, Region: "south"}})
	wantEngineError(t, err, EConflict, "region")
	_, err = e.Apply(t0, CourierRegistered{CourierSpec{ID: "north", Vehicle: geo.Bike, Capacity: 4, Region: "south"}})
	wantEngineError(t, err, EConflict, "region")
	// The same region again, or a new name and capacity in it, is fine.
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Name: "S", Location: orb.Point{0, 0}, Region: "north"}})
	mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: "north", Vehicle: geo.Bike, Capacity: 5, Region: "north"}})
	// A courier with a route, even off shift, keeps its region.
	mustApply(t, e, t0.Add(time.Second), DispatchTick{})
	mustApply(t, e, t0.Add(5*time.Minute), OrderPickedUp{CourierID: "north", OrderID: "o1"})
	mustApply(t, e, t0.Add(5*time.Minute), CourierOffline{CourierID: "north"})
	_, err = e.Apply(t0.Add(5*time.Minute), CourierRegistered{CourierSpec{ID: "north", Vehicle: geo.Bike, Capacity: 4, Region: "south"}})
	wantEngineError(t, err, EConflict, "region")
	mustApply(t, e, t0.Add(10*time.Minute), OrderDelivered{CourierID: "north", OrderID: "o1"})
	mustApply(t, e, t0.Add(10*time.Minute), CourierRegistered{CourierSpec{ID: "north", Vehicle: geo.Bike, Capacity: 4, Region: "south"}})
	mustApply(t, e, t0.Add(10*time.Minute), StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}, Region: "south"}})
	if c, _ := e.Courier("north"); c.Region != "south" {
		t.Fatalf("courier north is in %q after moving", c.Region)
	}
	// The empty name is the default region; a malformed one is refused naming the field.
	mustApply(t, e, t0.Add(10*time.Minute), StoreUpserted{Store{ID: "s2", Location: orb.Point{0, 0}}})
	if st := e.stores["s2"]; st.Region != DefaultRegion {
		t.Fatalf("a store without a region is in %q", st.Region)
	}
	for _, bad := range []string{"a b", strings.Repeat("r", MaxRegionLen+1), "north/1", "ü"} {
		_, err := e.Apply(t0.Add(10*time.Minute), StoreUpserted{Store{ID: "s3", Location: orb.Point{0, 0}, Region: bad}})
		wantEngineError(t, err, EInvalid, "region")
		_, err = e.Apply(t0.Add(10*time.Minute), CourierRegistered{CourierSpec{ID: "c3", Vehicle: geo.Bike, Capacity: 1, Region: bad}})
		wantEngineError(t, err, EInvalid, "region")
	}
	for _, good := range []string{"a", "North-1", "east_2", strings.Repeat("r", MaxRegionLen)} {
		if !ValidRegion(good) {
			t.Fatalf("%q is a valid region", good)
		}
	}
}

// A State keeps the regions (the default one left out, as in states written before regions), and an engine
// restored from it keeps them apart.
func TestRegionSnapshot(t *testing.T) {
	e := regionalEngine(t, "north")
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s-default", Location: orb.Point{50, 0}}})
	st := e.Export()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"region":"north"`) || !strings.Contains(s, `"region":"south"`) || strings.Contains(s, `"region":"default"`) {
		t.Fatalf("state %s: want north and south, and the default region left out", s)
	}
	r, err := Restore(e.cfg, e.space, e.travel, st)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.stores["s-default"]; s.Region != DefaultRegion {
		t.Fatalf("a store of the default region is restored in %q", s.Region)
	}
	as := effectsOf[OrderAssigned](mustApply(t, r, t0.Add(time.Second), DispatchTick{}))
	if len(as) != 1 || as[0].CourierID != "north" {
		t.Fatalf("restored engine assigned %+v, want o1 to north", as)
	}
	// A state whose route holds an order of another region, or a malformed region, is refused.
	bad := r.Export()
	for i := range bad.Couriers {
		if bad.Couriers[i].ID == "north" {
			bad.Couriers[i].Region = "south"
		}
	}
	if _, err := Restore(e.cfg, e.space, e.travel, bad); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("restoring a route across regions: %v", err)
	}
	bad = r.Export()
	bad.Stores[0].Region = "no such name"
	if _, err := Restore(e.cfg, e.space, e.travel, bad); err == nil {
		t.Fatal("restored a store with a malformed region")
	}
}

func asError(err error, e **Error) bool {
	if err == nil {
		return false
	}
	ee, ok := err.(*Error)
	*e = ee
	return ok
}

func wantEngineError(t *testing.T, err error, code ErrorCode, field string) {
	t.Helper()
	var e *Error
	if !asError(err, &e) || e.Code != code || e.Field != field {
		t.Fatalf("got %v, want %s on %s", err, code, field)
	}
}

// The searches for couriers look only at the order's region: many couriers of another region, nearer the store,
// do not crowd its own region's courier out of the search (which stops after 8 x CandidateCouriers couriers).
func TestRegionCouriersOfAnotherRegionDoNotCrowdTheSearch(t *testing.T) {
	for _, policy := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		e := planarEngine(t, func(c *Config) {
			c.PostponeSlack = 0
			c.CandidateCouriers = 1
			c.Policy = policy
		})
		mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}, Region: "north"}})
		for i := range 12 {
			id := "south" + string(rune('a'+i))
			mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: id, Vehicle: geo.Bike, Capacity: 4, Region: "south"}})
			mustApply(t, e, t0, CourierOnline{CourierID: id, Location: orb.Point{float64(10 * i), 0}})
		}
		mustApply(t, e, t0, CourierRegistered{CourierSpec{ID: "north", Vehicle: geo.Bike, Capacity: 4, Region: "north"}})
		mustApply(t, e, t0, CourierOnline{CourierID: "north", Location: orb.Point{600, 0}})
		spec := OrderSpec{ID: "o1", StoreID: "s1", Dropoff: orb.Point{0, 1200}, Ready: t0.Add(5 * time.Minute), DeliverBy: t0.Add(40 * time.Minute)}
		if q, err := e.Quote(t0, spec); err != nil || q.CourierID != "north" {
			t.Fatalf("policy %v: quote %+v %v, want north", policy, q, err)
		}
		mustApply(t, e, t0, OrderPlaced{spec})
		as := effectsOf[OrderAssigned](mustApply(t, e, t0.Add(time.Second), DispatchTick{}))
		if len(as) != 1 || as[0].CourierID != "north" {
			t.Fatalf("policy %v: assigned %+v, want o1 to north", policy, as)
		}
	}
}

package dispatch

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// overrideCity: store s1 at the origin, s2 far east; couriers near (480 m from s1), far (4.8 km), off (registered,
// never online), small (capacity 1), skilled ("cold"); orders o1..o3 of s1, pending.
func overrideCity(t *testing.T) *Engine {
	t.Helper()
	e := planarEngine(t, nil)
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s1", Location: orb.Point{0, 0}}})
	mustApply(t, e, t0, StoreUpserted{Store{ID: "s2", Location: orb.Point{9000, 0}}})
	for _, c := range []CourierSpec{
		{ID: "near", Vehicle: geo.Bike, Capacity: 4},
		{ID: "far", Vehicle: geo.Bike, Capacity: 4},
		{ID: "off", Vehicle: geo.Bike, Capacity: 4},
		{ID: "small", Vehicle: geo.Bike, Capacity: 1},
		{ID: "cold", Vehicle: geo.Bike, Capacity: 4, Skills: []string{"cold"}},
	} {
		mustApply(t, e, t0, CourierRegistered{c})
	}
	mustApply(t, e, t0, CourierOnline{CourierID: "near", Location: orb.Point{480, 0}})
	mustApply(t, e, t0, CourierOnline{CourierID: "far", Location: orb.Point{6000, 0}})
	mustApply(t, e, t0, CourierOnline{CourierID: "small", Location: orb.Point{0, 480}})
	mustApply(t, e, t0, CourierOnline{CourierID: "cold", Location: orb.Point{0, 4800}})
	for _, id := range []string{"o1", "o2", "o3"} {
		mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: id, StoreID: "s1", Dropoff: orb.Point{0, 1200},
			Ready: t0, DeliverBy: t0.Add(60 * time.Minute)}})
	}
	return e
}

// busyFar gives far a first stop of its own (order "east" of s2), so that an order added after it is one a round
// may move (a courier's first stop, where it is heading, never is).
func busyFar(t *testing.T, e *Engine) {
	t.Helper()
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "east", StoreID: "s2", Dropoff: orb.Point{9000, 1200}, Ready: t0, DeliverBy: t0.Add(60 * time.Minute)}})
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "east", CourierID: "far", Lock: true})
	if r, _ := e.Route("far"); r.Stops[0].OrderID != "east" {
		t.Fatalf("setup: far's route %+v does not start with east", r.Stops)
	}
}

func refusal(t *testing.T, err error, code ErrorCode, rule, field string) {
	t.Helper()
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v, want a %s refusal", err, code)
	}
	if de.Code != code || de.Field != field || (rule != "" && (len(de.Reasons) != 1 || de.Reasons[0] != rule)) {
		t.Fatalf("error %+v, want code %s, rule %q, field %q", de, code, rule, field)
	}
}

func routeOrders(e *Engine, courier string) []string {
	r, _ := e.Route(courier)
	var ids []string
	for _, s := range r.Stops {
		if s.Kind == Pickup {
			ids = append(ids, s.OrderID)
		}
	}
	return ids
}

// An order assigned by an operator to a far courier with a lock stays there through rounds, although a nearer
// courier is idle; unlocked, the rounds may move it to the nearer one.
func TestOperatorAssignLockedStaysThroughRounds(t *testing.T) {
	e := overrideCity(t)
	busyFar(t, e)
	fx := mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "far", Lock: true})
	as := effectsOf[OrderAssigned](fx)
	if len(as) != 1 || as[0].CourierID != "far" || as[0].Previous != "" {
		t.Fatalf("assigned %+v, want o1 to far", as)
	}
	if rc := effectsOf[RouteChanged](fx); len(rc) != 1 || len(rc[0].Route.Stops) != 4 {
		t.Fatalf("routes %+v, want far's route with east's and o1's stops", rc)
	}
	if o, _ := e.Order("o1"); o.Status != StatusAssigned || o.CourierID != "far" || !o.Locked {
		t.Fatalf("order %+v, want assigned to far, locked", o)
	}
	for i := 1; i <= 3; i++ {
		mustApply(t, e, t0.Add(time.Duration(i)*time.Second), DispatchTick{})
		if o, _ := e.Order("o1"); o.CourierID != "far" {
			t.Fatalf("round %d moved locked o1 to %s", i, o.CourierID)
		}
	}
	// The control: without the lock, the same round moves it to the idle courier next to the store.
	e2 := overrideCity(t)
	busyFar(t, e2)
	mustApply(t, e2, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "far"})
	mustApply(t, e2, t0.Add(time.Second), DispatchTick{})
	if o, _ := e2.Order("o1"); o.CourierID == "far" {
		t.Fatalf("an unlocked o1 stayed on far; the lock test proves nothing")
	}
	mustApply(t, e, t0.Add(4*time.Second), OrderUnlocked{OrderID: "o1"})
	mustApply(t, e, t0.Add(5*time.Second), DispatchTick{})
	if o, _ := e.Order("o1"); o.CourierID == "far" || o.Locked {
		t.Fatalf("after unlock and a round o1 is %+v, want moved off far", o)
	}
}

// A decision planned before an operator's lock does not move the locked order.
func TestDecisionRespectsLockAndPause(t *testing.T) {
	e := overrideCity(t)
	busyFar(t, e)
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "far"})
	p := e.Planner()
	d, err := p.Plan(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, m := range d.Moves {
		moved = moved || m.OrderID == "o1" && m.From == "far"
	}
	if !moved {
		t.Fatalf("setup: the round did not move o1 off far: %+v", d.Moves)
	}
	mustApply(t, e, t0.Add(time.Second), OrderAssignedByOperator{OrderID: "o1", CourierID: "far", Lock: true})
	mustApply(t, e, t0.Add(time.Second), StorePaused{StoreID: "s1"})
	res, err := e.ApplyDecision(t0.Add(2*time.Second), d)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := e.Order("o1"); o.CourierID != "far" {
		t.Fatalf("a stale decision moved locked o1 to %s", o.CourierID)
	}
	for _, id := range []string{"o2", "o3"} {
		if o, _ := e.Order(id); o.Status != StatusPending {
			t.Fatalf("a stale decision assigned %s of a paused store: %+v (dropped %+v)", id, o, res.Dropped)
		}
	}
}

// A paused store's orders are not assigned, are told why, and new ones wait too; resumed, the next round places
// them.
func TestStorePausedOrdersWait(t *testing.T) {
	for _, policy := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		e := overrideCity(t)
		e.cfg.Policy = policy
		fx := mustApply(t, e, t0, StorePaused{StoreID: "s1"})
		if un := effectsOf[OrderUnplaced](fx); len(un) != 3 || un[0].Reason != UnplacedStorePaused {
			t.Fatalf("pause told %+v, want the three pending orders store_paused", un)
		}
		fx = mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "o4", StoreID: "s1", Dropoff: orb.Point{0, 600}, Ready: t0, DeliverBy: t0.Add(time.Hour)}})
		if un := effectsOf[OrderUnplaced](fx); len(un) != 1 || un[0].Reason != UnplacedStorePaused {
			t.Fatalf("an order placed while paused: told %+v", un)
		}
		fx = mustApply(t, e, t0.Add(time.Second), DispatchTick{})
		if as := effectsOf[OrderAssigned](fx); len(as) != 0 {
			t.Fatalf("policy %v: a round assigned orders of a paused store: %+v", policy, as)
		}
		mustApply(t, e, t0.Add(2*time.Second), StoreResumed{StoreID: "s1"})
		fx = mustApply(t, e, t0.Add(3*time.Second), DispatchTick{})
		if as := effectsOf[OrderAssigned](fx); len(as) == 0 {
			t.Fatalf("policy %v: no order assigned after resume", policy)
		}
	}
	e := overrideCity(t)
	_, err := e.Apply(t0, StorePaused{StoreID: "nope"})
	refusal(t, err, ENotFound, "", "store_id")
}

func TestOperatorAssignRefusals(t *testing.T) {
	e := overrideCity(t)
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "big", StoreID: "s1", Dropoff: orb.Point{0, 600}, Ready: t0, DeliverBy: t0.Add(time.Hour), Size: 2}})
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "tight", StoreID: "s2", Dropoff: orb.Point{9000, 600}, Ready: t0, DeliverBy: t0.Add(5 * time.Minute)}})
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "frozen", StoreID: "s1", Dropoff: orb.Point{0, 600}, Ready: t0, DeliverBy: t0.Add(time.Hour), Skills: []string{"cold"}}})
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o2", CourierID: "near"})
	mustApply(t, e, t0, OrderPickedUp{CourierID: "near", OrderID: "o2"})
	mustApply(t, e, t0, OrderCancelled{OrderID: "o3"})
	for _, tc := range []struct {
		name  string
		ev    Event
		code  ErrorCode
		rule  string
		field string
	}{
		{"unknown courier", OrderAssignedByOperator{OrderID: "o1", CourierID: "ghost"}, ENotFound, "", "courier_id"},
		{"unknown order", OrderAssignedByOperator{OrderID: "ghost", CourierID: "near"}, ENotFound, "", "order_id"},
		{"offline", OrderAssignedByOperator{OrderID: "o1", CourierID: "off"}, EConflict, RuleCourierOffline, "courier_id"},
		{"capacity", OrderAssignedByOperator{OrderID: "big", CourierID: "small"}, EConflict, RuleCapacity, "courier_id"},
		{"skills", OrderAssignedByOperator{OrderID: "frozen", CourierID: "near"}, EConflict, RuleSkills, "courier_id"},
		{"picked up", OrderAssignedByOperator{OrderID: "o2", CourierID: "far"}, EConflict, RulePickedUp, "order_id"},
		{"finished", OrderAssignedByOperator{OrderID: "o3", CourierID: "far"}, EConflict, RuleFinished, "order_id"},
		{"hard limit", OrderAssignedByOperator{OrderID: "tight", CourierID: "cold"}, EConflict, RulePromiseHardLimit, "order_id"},
		{"unassign picked up", OrderUnassignedByOperator{OrderID: "o2"}, EConflict, RulePickedUp, "order_id"},
		{"unassign pending", OrderUnassignedByOperator{OrderID: "o1"}, EConflict, RuleNotAssigned, "order_id"},
		{"move one refused", OrdersMovedByOperator{CourierID: "near", OrderIDs: []string{"o1", "o3"}}, EConflict, RuleFinished, "order_ids[1]"},
		{"move none", OrdersMovedByOperator{CourierID: "near"}, EInvalid, "", "order_ids"},
		{"move twice", OrdersMovedByOperator{CourierID: "near", OrderIDs: []string{"o1", "o1"}}, EInvalid, "", "order_ids[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Export()
			_, err := e.Apply(t0.Add(time.Second), tc.ev)
			refusal(t, err, tc.code, tc.rule, tc.field)
			after := e.Export()
			if !reflect.DeepEqual(before.Orders, after.Orders) || !reflect.DeepEqual(before.Couriers, after.Couriers) {
				t.Fatalf("a refused %s changed the state", tc.name)
			}
		})
	}
}

// A bulk move puts every order on the courier (taking them off the courier that held them), all or nothing.
func TestOperatorBulkMove(t *testing.T) {
	e := overrideCity(t)
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "near"})
	fx := mustApply(t, e, t0, OrdersMovedByOperator{CourierID: "far", OrderIDs: []string{"o1", "o2"}, Lock: true})
	un := effectsOf[OrderUnassigned](fx)
	if len(un) != 1 || un[0].OrderID != "o1" || un[0].CourierID != "near" {
		t.Fatalf("unassigned %+v, want o1 off near", un)
	}
	got := routeOrders(e, "far")
	if len(got) != 2 {
		t.Fatalf("far's route holds %v, want o1 and o2", got)
	}
	if r := routeOrders(e, "near"); len(r) != 0 {
		t.Fatalf("near's route still holds %v", r)
	}
	for _, id := range []string{"o1", "o2"} {
		if o, _ := e.Order(id); !o.Locked || o.CourierID != "far" {
			t.Fatalf("%s: %+v, want locked on far", id, o)
		}
	}
	// A move of an order that fits and one that cannot (size 2 on a courier of capacity 1) changes nothing.
	mustApply(t, e, t0, OrderPlaced{OrderSpec{ID: "o5", StoreID: "s1", Dropoff: orb.Point{0, 600}, Ready: t0, DeliverBy: t0.Add(time.Hour), Size: 2}})
	_, err := e.Apply(t0, OrdersMovedByOperator{CourierID: "small", OrderIDs: []string{"o3", "o5"}})
	refusal(t, err, EConflict, RuleCapacity, "courier_id")
	if o, _ := e.Order("o3"); o.Status != StatusPending {
		t.Fatalf("a refused move left o3 %+v", o)
	}
}

// Unassign returns the order to the pool and drops its lock; taking a courier off shift returns its orders not
// picked up and keeps those on board.
func TestOperatorUnassignAndOffShift(t *testing.T) {
	e := overrideCity(t)
	mustApply(t, e, t0, OrdersMovedByOperator{CourierID: "near", OrderIDs: []string{"o1", "o2", "o3"}, Lock: true})
	fx := mustApply(t, e, t0, OrderUnassignedByOperator{OrderID: "o1"})
	un := effectsOf[OrderUnassigned](fx)
	if len(un) != 1 || un[0].Reason != UnassignOperator {
		t.Fatalf("unassigned %+v, want o1 by the operator", un)
	}
	if o, _ := e.Order("o1"); o.Status != StatusPending || o.Locked {
		t.Fatalf("o1 after unassign: %+v", o)
	}
	mustApply(t, e, t0.Add(time.Minute), OrderPickedUp{CourierID: "near", OrderID: "o2"})
	fx = mustApply(t, e, t0.Add(time.Minute), CourierOffline{CourierID: "near"})
	if un := effectsOf[OrderUnassigned](fx); len(un) != 1 || un[0].OrderID != "o3" {
		t.Fatalf("off shift unassigned %+v, want o3 only", un)
	}
	if o, _ := e.Order("o2"); o.Status != StatusPickedUp || o.CourierID != "near" || o.Locked {
		t.Fatalf("o2 on board: %+v", o)
	}
}

// The lock and the pause survive an export and a restore.
func TestOverridesSurviveExport(t *testing.T) {
	e := overrideCity(t)
	mustApply(t, e, t0, OrderAssignedByOperator{OrderID: "o1", CourierID: "far", Lock: true})
	mustApply(t, e, t0, StorePaused{StoreID: "s1"})
	r, err := Restore(e.Config(), geo.Planar, e.travel, e.Export())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Locked("o1") || !r.StorePaused("s1") {
		t.Fatalf("restored: locked %v, paused %v", r.Locked("o1"), r.StorePaused("s1"))
	}
	c := e.Clone()
	if !c.Locked("o1") || !c.StorePaused("s1") {
		t.Fatalf("clone: locked %v, paused %v", c.Locked("o1"), c.StorePaused("s1"))
	}
	fx := mustApply(t, r, t0.Add(time.Second), DispatchTick{})
	if as := effectsOf[OrderAssigned](fx); len(as) != 0 {
		t.Fatalf("a restored engine assigned %+v", as)
	}
}

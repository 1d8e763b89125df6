package dispatch

import (
	"fmt"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// city is a small scripted scenario over planarEngine.
type city struct {
	t *testing.T
	e *Engine
}

func newCity(t *testing.T, mutate func(*Config)) *city {
	return &city{t: t, e: planarEngine(t, mutate)}
}

func (c *city) store(id string, x, y float64) {
	mustApply(c.t, c.e, c.now(), StoreUpserted{Store{ID: id, Location: orb.Point{x, y}}})
}

func (c *city) courier(id string, x, y float64, capacity int) {
	now := c.now()
	mustApply(c.t, c.e, now, CourierRegistered{CourierSpec{ID: id, Vehicle: geo.Bike, Capacity: capacity}})
	mustApply(c.t, c.e, now, CourierOnline{CourierID: id, Location: orb.Point{x, y}})
}

func (c *city) now() time.Time {
	if c.e.now == 0 {
		return t0
	}
	return c.e.Now()
}

func (c *city) order(id, store string, x, y float64, ready, promise time.Duration) {
	now := c.now()
	mustApply(c.t, c.e, now, OrderPlaced{OrderSpec{ID: id, StoreID: store, Dropoff: orb.Point{x, y},
		Ready: now.Add(ready), DeliverBy: now.Add(promise)}})
}

func (c *city) tick(after time.Duration) []Effect {
	return mustApply(c.t, c.e, c.now().Add(after), DispatchTick{})
}

// pickUp has the courier arrive at the order's store now and pick it up once half the service (2 min) is spent; it
// returns the pick-up time.
func (c *city) pickUp(courierID, orderID string) time.Time {
	now := c.now()
	mustApply(c.t, c.e, now, CourierArrived{CourierID: courierID, OrderID: orderID})
	pickAt := now.Add(2 * time.Minute)
	mustApply(c.t, c.e, pickAt, OrderPickedUp{CourierID: courierID, OrderID: orderID})
	return pickAt
}

func (c *city) courierOf(orderID string) string {
	o, ok := c.e.Order(orderID)
	if !ok {
		c.t.Fatalf("order %s unknown", orderID)
	}
	return o.CourierID
}

func TestGlobalMatchingBeatsGreedy(t *testing.T) {
	// Courier x sits between the two stores, y only near store B. First-come greedy gives the first order (store A)
	// to its nearest courier x, and the order of B then has to wait for y to ride across town... or the reverse.
	// The global matching sends x to A only if y cannot serve B better.
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.MaxBundleOrders = 1 })
	c.store("A", 0, 0)
	c.store("B", 2400, 0)
	c.courier("x", 1300, 0, 1) // 1 300 m from A, 1 100 m from B
	c.courier("y", 4800, 0, 1) // 2 400 m from B, 4 800 m from A
	c.order("a", "A", 0, 600, 0, time.Hour)
	c.order("b", "B", 2400, 600, 0, time.Hour)
	c.tick(time.Second)
	if got := c.courierOf("a"); got != "x" {
		t.Errorf("a went to %q, want x", got)
	}
	if got := c.courierOf("b"); got != "y" {
		t.Errorf("b went to %q, want y", got)
	}
}

func TestDeclinedOrderNotOfferedAgain(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("near", 100, 0, 2)
	c.courier("far", 3000, 0, 2)
	c.order("a", "A", 0, 600, 0, time.Hour)
	c.tick(time.Second)
	if got := c.courierOf("a"); got != "near" {
		t.Fatalf("first offer to %q, want near", got)
	}
	fx := mustApply(t, c.e, c.now().Add(time.Second), CourierDeclined{CourierID: "near", OrderID: "a", Reason: "flat tyre"})
	if un := effectsOf[OrderUnassigned](fx); len(un) != 1 || un[0].Reason != UnassignDeclined {
		t.Fatalf("unassigned effects %+v", un)
	}
	for range 3 {
		c.tick(30 * time.Second)
		if got := c.courierOf("a"); got == "near" {
			t.Fatal("the order was offered again to the courier who declined it")
		}
	}
	if got := c.courierOf("a"); got != "far" {
		t.Fatalf("after the decline the order went to %q, want far", got)
	}
}

func TestPostponeOrderWithSlack(t *testing.T) {
	c := newCity(t, nil)
	c.store("A", 0, 0)
	c.courier("x", 100, 0, 2)
	// Ready in 20 min, promised in 90: plenty of slack, no hurry.
	c.order("a", "A", 0, 600, 20*time.Minute, 90*time.Minute)
	c.tick(time.Second)
	if got := c.courierOf("a"); got != "" {
		t.Fatalf("an order with 80 min of slack was assigned at once to %q", got)
	}
	if st := c.e.LastRound(); st.Postponed != 1 {
		t.Fatalf("stats %+v, want one postponed", st)
	}
	// 12 minutes later it is ready in 8 minutes: inside PostponeReadyIn, so it goes.
	c.tick(12 * time.Minute)
	if got := c.courierOf("a"); got != "x" {
		t.Fatalf("order not assigned once due (courier %q)", got)
	}
}

func TestSameStoreOrdersAreBundled(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 200, 0, 4)
	c.courier("y", 300, 0, 4)
	// Two orders of one store to neighbouring doors, ready together: one courier takes both.
	c.order("a", "A", 0, 2400, 5*time.Minute, time.Hour)
	c.order("b", "A", 100, 2500, 6*time.Minute, time.Hour)
	c.tick(time.Second)
	if ca, cb := c.courierOf("a"), c.courierOf("b"); ca == "" || ca != cb {
		t.Fatalf("a with %q, b with %q: want one courier for both", ca, cb)
	}
	if st := c.e.LastRound(); st.Rows != 1 {
		t.Fatalf("stats %+v: want one bundle row", st)
	}
}

func TestOppositeDoorsAreNotBundled(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 200, 0, 4)
	c.courier("y", 300, 0, 4)
	c.order("a", "A", 0, 2400, 5*time.Minute, time.Hour)
	c.order("b", "A", 0, -2400, 5*time.Minute, time.Hour)
	c.tick(time.Second)
	if ca, cb := c.courierOf("a"), c.courierOf("b"); ca == "" || cb == "" || ca == cb {
		t.Fatalf("a with %q, b with %q: want two couriers", ca, cb)
	}
}

func TestNearbyStoreBundlesAndTheSameStoreRule(t *testing.T) {
	for _, sameStoreOnly := range []bool{false, true} {
		c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.Rules.SameStoreBundlesOnly = sameStoreOnly })
		c.store("A", 0, 0)
		c.store("B", 150, 0) // next door
		c.courier("x", 200, 0, 4)
		c.courier("y", 300, 0, 4)
		c.order("a", "A", 0, 2400, 5*time.Minute, time.Hour)
		c.order("b", "B", 100, 2500, 5*time.Minute, time.Hour)
		c.tick(time.Second)
		rows := c.e.LastRound().Rows
		if sameStoreOnly && rows != 2 {
			t.Errorf("same-store rule: %d rows, want 2 single orders", rows)
		}
		if !sameStoreOnly && rows != 1 {
			t.Errorf("nearby stores: %d rows, want 1 bundle", rows)
		}
	}
}

func TestCourierOfflineReturnsOrdersNotPickedUp(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.MaxBundleOrders = 1 })
	c.store("A", 0, 0)
	c.courier("x", 0, 0, 4)
	c.order("a", "A", 0, 2400, 0, time.Hour)
	c.order("b", "A", 0, -2400, 0, time.Hour)
	c.tick(time.Second)
	c.tick(time.Second)
	if c.courierOf("a") != "x" || c.courierOf("b") != "x" {
		t.Fatalf("setup: a with %q, b with %q", c.courierOf("a"), c.courierOf("b"))
	}
	mustApply(t, c.e, c.now().Add(3*time.Minute), OrderPickedUp{CourierID: "x", OrderID: "a"})
	fx := mustApply(t, c.e, c.now().Add(time.Second), CourierOffline{CourierID: "x"})
	un := effectsOf[OrderUnassigned](fx)
	if len(un) != 1 || un[0].OrderID != "b" || un[0].Reason != UnassignOffline {
		t.Fatalf("unassigned %+v, want b (courier_offline)", un)
	}
	if o, _ := c.e.Order("a"); o.Status != StatusPickedUp || o.CourierID != "x" {
		t.Fatalf("order on board: %+v", o)
	}
	// Nothing new goes to an offline courier.
	c.order("c", "A", 0, 1000, 0, time.Hour)
	c.tick(time.Second)
	if got := c.courierOf("c"); got != "" {
		t.Fatalf("order assigned to %q while the only courier is offline", got)
	}
	if o, _ := c.e.Order("c"); o.Status != StatusPending {
		t.Fatalf("status %s", o.Status)
	}
}

func TestReassignWhenABetterCourierAppears(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.store("F", 9000, 0)
	c.courier("far", 6000, 0, 4)
	c.order("f", "F", 9000, 600, 0, 2*time.Hour) // the far courier heads to F first
	c.order("a", "A", 0, 600, 20*time.Minute, 2*time.Hour)
	c.tick(time.Second)
	c.tick(time.Second) // a courier takes one bundle per round
	if c.courierOf("a") != "far" {
		t.Fatalf("setup: a with %q", c.courierOf("a"))
	}
	c.courier("near", 100, 0, 4)
	fx := c.tick(30 * time.Second)
	if got := c.courierOf("a"); got != "near" {
		t.Fatalf("a stayed with %q; want it moved to the courier next to its store", got)
	}
	as := effectsOf[OrderAssigned](fx)
	if len(as) != 1 || as[0].Previous != "far" {
		t.Fatalf("assigned effects %+v", as)
	}
	if o, _ := c.e.Order("f"); o.CourierID != "far" {
		t.Fatal("the order the far courier is heading to must stay")
	}
	// Accepted orders are not moved.
	c.courier("nearer", 0, 0, 4)
	mustApply(t, c.e, c.now(), CourierAccepted{CourierID: "near", OrderID: "a"})
	c.tick(30 * time.Second)
	if got := c.courierOf("a"); got != "near" {
		t.Fatalf("an accepted order moved to %q", got)
	}
}

func TestNoReassignmentUnderNoDiversion(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.Rules.NoDiversion = true })
	c.store("A", 0, 0)
	c.store("F", 9000, 0)
	c.courier("far", 6000, 0, 4)
	c.order("f", "F", 9000, 600, 0, 2*time.Hour)
	c.order("a", "A", 0, 600, 20*time.Minute, 2*time.Hour)
	c.tick(time.Second)
	c.tick(time.Second)
	first := c.courierOf("a")
	if first == "" {
		t.Fatal("setup: a not assigned")
	}
	c.courier("near", 100, 0, 4)
	c.tick(30 * time.Second)
	if got := c.courierOf("a"); got != first {
		t.Fatalf("a moved from %q to %q under no-diversion", first, got)
	}
}

func TestUnplacedReasons(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.ReachRadius = 5000 })
	c.store("A", 0, 0)
	c.order("a", "A", 0, 600, 0, time.Hour)
	fx := c.tick(time.Second)
	un := effectsOf[OrderUnplaced](fx)
	if len(un) != 1 || un[0].Reason != UnplacedNoCourier {
		t.Fatalf("no courier at all: %+v", un)
	}
	if fx := c.tick(time.Second); len(effectsOf[OrderUnplaced](fx)) != 0 {
		t.Fatal("the same reason is told again")
	}
	c.courier("tiny", 100, 0, 1)
	mustApply(t, c.e, c.now(), OrderPlaced{OrderSpec{ID: "big", StoreID: "A", Dropoff: orb.Point{0, 600}, Size: 3, DeliverBy: c.now().Add(time.Hour)}})
	mustApply(t, c.e, c.now(), OrderCancelled{OrderID: "a"})
	fx = c.tick(time.Second)
	if un := effectsOf[OrderUnplaced](fx); len(un) != 1 || un[0].Reason != UnplacedCouriersFull {
		t.Fatalf("too big for the courier: %+v", un)
	}
	// Promised in 10 minutes, 12 km away: later than the 30 min hard limit.
	c.courier("x", 100, 0, 4)
	c.order("late", "A", 0, 12000, 0, 10*time.Minute)
	fx = c.tick(time.Second)
	var late *OrderUnplaced
	for _, u := range effectsOf[OrderUnplaced](fx) {
		if u.OrderID == "late" {
			late = &u
		}
	}
	if late == nil || late.Reason != UnplacedWouldBeLate || late.LateBy < 30*time.Minute {
		t.Fatalf("hopeless order: %+v", late)
	}
}

// TestRoundBudgetTakesTheMostUrgent: with more pending orders than a round considers, the ones with the earliest
// promises go in, whatever the order they were placed in; the others are told "backlog" and wait, and they are
// considered once the urgent ones are placed.
func TestRoundBudgetTakesTheMostUrgent(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.MaxRoundOrders = 2; cfg.MaxBundleOrders = 1 })
	c.store("A", 0, 0)
	for i := range 4 {
		c.courier(fmt.Sprintf("k%d", i), 100*float64(i), 0, 1)
	}
	// Placed from the least urgent to the most: the round must not take the first two.
	for i, promise := range []time.Duration{90 * time.Minute, 80 * time.Minute, 40 * time.Minute, 50 * time.Minute} {
		c.order(fmt.Sprintf("o%d", i), "A", 0, 800+100*float64(i), 0, promise)
	}
	fx := c.tick(time.Second)
	assigned := map[string]bool{}
	for _, a := range effectsOf[OrderAssigned](fx) {
		assigned[a.OrderID] = true
	}
	if len(assigned) != 2 || !assigned["o2"] || !assigned["o3"] {
		t.Fatalf("assigned %v, want the two most urgent, o2 and o3", assigned)
	}
	backlog := map[string]bool{}
	for _, u := range effectsOf[OrderUnplaced](fx) {
		if u.Reason == UnplacedBacklog {
			backlog[u.OrderID] = true
		}
	}
	if len(backlog) != 2 || !backlog["o0"] || !backlog["o1"] {
		t.Fatalf("told backlog: %v, want o0 and o1", backlog)
	}
	if st := c.e.LastRound(); st.Candidates != 2 || st.Backlog != 2 {
		t.Fatalf("round stats %+v, want 2 candidates and 2 in the backlog", st)
	}
	fx = c.tick(time.Second)
	for _, a := range effectsOf[OrderAssigned](fx) {
		delete(backlog, a.OrderID)
	}
	if len(backlog) != 0 {
		t.Fatalf("the next round left %v unassigned with two couriers free", backlog)
	}
}

func TestEventErrorsNameTheFieldAndChangeNothing(t *testing.T) {
	c := newCity(t, nil)
	c.store("A", 0, 0)
	c.courier("x", 0, 0, 2)
	now := c.now()
	good := OrderSpec{ID: "o", StoreID: "A", Dropoff: orb.Point{0, 100}, DeliverBy: now.Add(time.Hour)}
	cases := []struct {
		name  string
		ev    Event
		code  ErrorCode
		field string
	}{
		{"missing order id", OrderPlaced{func() OrderSpec { s := good; s.ID = ""; return s }()}, EInvalid, "id"},
		{"unknown store", OrderPlaced{func() OrderSpec { s := good; s.StoreID = "nope"; return s }()}, ENotFound, "store_id"},
		{"no promise", OrderPlaced{func() OrderSpec { s := good; s.DeliverBy = time.Time{}; return s }()}, EInvalid, "deliver_by"},
		{"promise before creation", OrderPlaced{func() OrderSpec { s := good; s.DeliverBy = now.Add(-time.Minute); return s }()}, EInvalid, "deliver_by"},
		{"ready after promise", OrderPlaced{func() OrderSpec { s := good; s.Ready = now.Add(2 * time.Hour); return s }()}, EInvalid, "ready_at"},
		{"negative size", OrderPlaced{func() OrderSpec { s := good; s.Size = -1; return s }()}, EInvalid, "size"},
		{"courier capacity zero", CourierRegistered{CourierSpec{ID: "z", Capacity: 0}}, EInvalid, "capacity"},
		{"unknown courier", CourierOnline{CourierID: "ghost", Location: orb.Point{0, 0}}, ENotFound, "courier_id"},
		{"pick up a pending order", OrderPickedUp{CourierID: "x", OrderID: "o1"}, ENotFound, "order_id"},
		{"store with open orders", StoreRemoved{StoreID: "A"}, EConflict, ""},
		{"cancel unknown", OrderCancelled{OrderID: "nope"}, ENotFound, "order_id"},
	}
	mustApply(t, c.e, now, OrderPlaced{OrderSpec{ID: "o1", StoreID: "A", Dropoff: orb.Point{0, 100}, DeliverBy: now.Add(time.Hour)}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.e.orders)
			fx, err := c.e.Apply(now, tc.ev)
			if ErrorCodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			var de *Error
			if e, ok := err.(*Error); ok {
				de = e
			}
			if de == nil || de.Field != tc.field {
				t.Fatalf("err %#v: want field %q", err, tc.field)
			}
			if fx != nil || len(c.e.orders) != before {
				t.Fatal("a failed event changed the state or emitted effects")
			}
			if err := checkInvariants(c.e); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := c.e.Apply(now.Add(-time.Second), DispatchTick{}); ErrorCodeOf(err) != EInvalid {
		t.Fatalf("time going back: %v", err)
	}
	mustApply(t, c.e, now, OrderPlaced{good})
	if _, err := c.e.Apply(now, OrderPlaced{good}); ErrorCodeOf(err) != EConflict {
		t.Fatalf("same order id twice: %v", err)
	}
}

func TestLifecycleConflicts(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 0, 0, 2)
	c.courier("y", 9000, 0, 2)
	c.order("a", "A", 0, 600, 0, time.Hour)
	c.tick(time.Second)
	now := c.now()
	// Another courier's order is "not found", never "forbidden".
	if _, err := c.e.Apply(now, OrderPickedUp{CourierID: "y", OrderID: "a"}); ErrorCodeOf(err) != ENotFound {
		t.Fatalf("other courier's pickup: %v", err)
	}
	if _, err := c.e.Apply(now, OrderDelivered{CourierID: "x", OrderID: "a"}); ErrorCodeOf(err) != EConflict {
		t.Fatalf("deliver before pickup: %v", err)
	}
	mustApply(t, c.e, now.Add(2*time.Minute), OrderPickedUp{CourierID: "x", OrderID: "a"})
	if _, err := c.e.Apply(now.Add(2*time.Minute), OrderCancelled{OrderID: "a"}); ErrorCodeOf(err) != EConflict {
		t.Fatalf("cancel after pickup: %v", err)
	}
	if _, err := c.e.Apply(now.Add(2*time.Minute), CourierDeclined{CourierID: "x", OrderID: "a"}); ErrorCodeOf(err) != EConflict {
		t.Fatalf("decline after pickup: %v", err)
	}
	mustApply(t, c.e, now.Add(6*time.Minute), OrderDelivered{CourierID: "x", OrderID: "a"})
	o, _ := c.e.Order("a")
	var seq []OrderStatus
	for _, s := range o.Timeline {
		seq = append(seq, s.Status)
	}
	want := []OrderStatus{StatusPending, StatusAssigned, StatusPickedUp, StatusDelivered}
	if len(seq) != len(want) {
		t.Fatalf("timeline %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("timeline %v, want %v", seq, want)
		}
	}
	// Finished orders are forgotten after the retention.
	c.tick(c.e.cfg.FinishedRetention + time.Minute)
	if _, ok := c.e.Order("a"); ok {
		t.Fatal("a delivered order outlived FinishedRetention")
	}
}

func TestPlanAfterHandoverCountsTheRestOfTheService(t *testing.T) {
	// Service 4 min: 2 min before the hand-over, 2 after. A courier picking up at t leaves the store at t+2min, so
	// the drop-off 2 400 m away (10 min at 4 m/s) is reached at t+12min and handed over at t+14min, also when the
	// route is re-timed while the courier is still inside the store.
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 0, 0, 2)
	c.order("a", "A", 2400, 0, 0, time.Hour)
	c.tick(time.Second)
	pickAt := c.pickUp("x", "a")
	for _, at := range []time.Time{pickAt, pickAt.Add(time.Minute)} {
		mustApply(t, c.e, at, DispatchTick{})
		r, _ := c.e.Route("x")
		if len(r.Stops) != 1 {
			t.Fatalf("route %+v", r.Stops)
		}
		if got, want := r.Stops[0].Arrive, pickAt.Add(12*time.Minute); !got.Equal(want) {
			t.Errorf("at %s: drop-off planned at %s, want %s", at.Sub(pickAt), got.Sub(pickAt), want.Sub(pickAt))
		}
	}
}

func TestRoundWithNobodyOnShiftTellsWhy(t *testing.T) {
	c := newCity(t, nil)
	c.store("s", 0, 0)
	c.order("o1", "s", 0, 1000, 0, 30*time.Minute)
	c.order("o2", "s", 0, 1100, 0, 30*time.Minute)
	fx := c.tick(time.Second)
	if got := effectsOf[OrderUnplaced](fx); len(got) != 2 || got[0].Reason != UnplacedNoCourier || got[1].Reason != UnplacedNoCourier {
		t.Fatalf("unplaced effects %+v, want both orders told %s", got, UnplacedNoCourier)
	}
	if fx := c.tick(time.Second); len(effectsOf[OrderUnplaced](fx)) != 0 {
		t.Fatal("the same reason was told twice")
	}
	// A courier coming on shift gets them.
	c.courier("x", 100, 0, 2)
	c.tick(time.Second)
	if c.courierOf("o1") != "x" || c.courierOf("o2") != "x" {
		t.Fatal("orders not assigned once a courier is on shift")
	}
}

// Under no-diversion a committed courier can take nothing else until it has delivered, so with CommitLead a bundle
// is given to a courier only once that courier has no round to spare: one that would wait at the store for the
// food is left free until setting off later would still find the order just ready. Holding it delays nothing.
func TestCommitLeadHoldsACourierWithTimeToSpare(t *testing.T) {
	mdrpLike := func(lead time.Duration, noDiversion bool) func(*Config) {
		return func(cfg *Config) {
			cfg.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: noDiversion, NoPickupAfterShiftEnd: true}
			cfg.PostponeSlack = 0
			cfg.CommitLead = lead
		}
	}
	// x is 480 m (2 min) from the store: with 2 min of service before the hand-over it could pick up 4 min from
	// now; the order is ready in 10.
	setup := func(cfg func(*Config)) *city {
		c := newCity(t, cfg)
		c.store("A", 0, 0)
		c.courier("x", 480, 0, 4)
		c.order("a", "A", 0, 1200, 10*time.Minute, 40*time.Minute)
		return c
	}
	c := setup(mdrpLike(time.Minute, true))
	assignedAt := time.Duration(-1)
	for m := range 10 {
		c.tick(time.Minute)
		if c.courierOf("a") == "x" {
			assignedAt = c.now().Sub(t0)
			break
		}
		if st := c.e.LastRound(); st.Postponed != 1 {
			t.Fatalf("after %d min: stats %+v, want the held bundle counted as postponed", m+1, st)
		}
		if r, _ := c.e.Route("x"); len(r.Stops) != 0 {
			t.Fatalf("after %d min: the courier was given %+v while the order was held", m+1, r.Stops)
		}
	}
	// At 6 min it would be at the store at 10: the first round with less than a minute to spare.
	if assignedAt != 6*time.Minute {
		t.Fatalf("committed after %s, want 6m0s", assignedAt)
	}
	r, _ := c.e.Route("x")
	if want := t0.Add(10 * time.Minute); len(r.Stops) != 2 || !r.Stops[0].Handover.Equal(want) {
		t.Fatalf("route %+v, want the pick-up when the order is ready, %s", r.Stops, want.Format(time.TimeOnly))
	}

	// Without CommitLead, or where routes may change (no no-diversion rule), it is given at the first round.
	for name, cfg := range map[string]func(*Config){
		"CommitLead 0": mdrpLike(0, true), "diversion allowed": mdrpLike(time.Minute, false),
	} {
		c := setup(cfg)
		c.tick(time.Minute)
		if got := c.courierOf("a"); got != "x" {
			t.Errorf("%s: the first round gave the order to %q, want x", name, got)
		}
	}
}

// A courier with no time to spare (it cannot be at the store before the order is ready) is committed at once.
func TestCommitLeadCommitsACourierWithNoTimeToSpare(t *testing.T) {
	c := newCity(t, func(cfg *Config) {
		cfg.Rules = Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
		cfg.PostponeSlack = 0
		cfg.CommitLead = time.Minute
	})
	c.store("A", 0, 0)
	c.courier("far", 2400, 0, 4) // 10 min away: at the store 12 min from now, the order is ready in 10
	c.order("a", "A", 0, 1200, 10*time.Minute, 40*time.Minute)
	c.tick(time.Second)
	if got := c.courierOf("a"); got != "far" {
		t.Fatalf("order given to %q, want far at once", got)
	}
	if st := c.e.LastRound(); st.Postponed != 0 {
		t.Fatalf("stats %+v, want nothing held", st)
	}
}

// A courier idle after a hand-over is still at the door for the second half of that service: it is priced as
// setting off when that half is spent, as it does, so an order goes to the courier that really gets there first.
func TestPlanOfAnIdleCourierStartsAfterItsHandover(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("A", 0, 0)
	c.courier("x", 0, 0, 2)
	c.order("a", "A", 2400, 0, 0, time.Hour)
	c.tick(time.Second)
	pickAt := c.pickUp("x", "a")
	dropAt := pickAt.Add(14 * time.Minute)
	mustApply(t, c.e, dropAt, OrderDelivered{CourierID: "x", OrderID: "a"})
	// x leaves the door at 2 min and rides 2 400 m (10 min) back to the store: there at 12 min. y, idle 2 640 m
	// away, is there at 11.
	c.courier("y", 0, 2640, 2)
	c.order("b", "A", 0, 600, 0, time.Hour)
	mustApply(t, c.e, dropAt, DispatchTick{})
	if got := c.courierOf("b"); got != "y" {
		t.Fatalf("order given to %q, want y (x is still at its door)", got)
	}
	r, _ := c.e.Route("y")
	if got, want := r.Stops[0].Arrive, dropAt.Add(11*time.Minute); len(r.Stops) != 2 || !got.Equal(want) {
		t.Errorf("route %+v, want y at the store at %s", r.Stops, want.Sub(dropAt))
	}
}

// Leaving an order for later is priced with its lateness counted in full, as a plan counts it, so that an order
// does not lose a scarce courier for being long overdue: of two overdue orders, the one whose trip is cheaper
// gets the only courier, however much older it is.
func TestLongOverdueOrderDoesNotLoseItsCourierForItsAge(t *testing.T) {
	c := newCity(t, func(cfg *Config) {
		cfg.PostponeSlack = 0
		cfg.MaxBundleOrders = 1
		cfg.HardLateness = 5 * time.Hour
	})
	c.store("A", 0, 0)
	// Both placed now with nobody on shift; "old" promised in 10 min, "recent" in 129 min; "old" has the shorter
	// trip.
	c.order("old", "A", 0, 1200, 0, 10*time.Minute)
	c.order("recent", "A", 0, 1440, 0, 129*time.Minute)
	mustApply(t, c.e, t0.Add(130*time.Minute), DispatchTick{})
	c.courier("x", 0, 0, 1)
	c.tick(time.Second)
	if got := c.courierOf("old"); got != "x" {
		t.Fatalf("the order 2 h overdue with the shorter trip got %q, the one 1 min overdue %q; want x for the first",
			got, c.courierOf("recent"))
	}
}

// A round short of couriers (more pending orders than ScarceRatio times the couriers free to take them) bundles up
// to twice MaxBundleOrders: four orders of one store to neighbouring doors go with the only courier at once. With
// couriers enough, or without the ratio, bundles keep to MaxBundleOrders.
func TestShortOfCouriersBundlesMore(t *testing.T) {
	setup := func(ratio float64, couriers int) *city {
		c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0; cfg.MaxBundleOrders = 2; cfg.ScarceRatio = ratio })
		c.store("A", 0, 0)
		for i := range couriers {
			c.courier(fmt.Sprintf("x%d", i), 100+float64(i)*50, 0, 8)
		}
		for i, door := range []orb.Point{{0, 2400}, {100, 2400}, {0, 2500}, {100, 2500}} {
			c.order(fmt.Sprintf("o%d", i), "A", door[0], door[1], 0, time.Hour)
		}
		c.tick(time.Second)
		return c
	}
	largest := func(c *city) int {
		n := map[string]int{}
		for i := range 4 {
			if id := c.courierOf(fmt.Sprintf("o%d", i)); id != "" {
				n[id]++
			}
		}
		most := 0
		for _, k := range n {
			most = max(most, k)
		}
		return most
	}
	if c := setup(2, 1); largest(c) != 4 || c.e.LastRound().Rows != 1 {
		t.Errorf("one courier, ratio 2: %d orders with one courier in %d rows, want all 4 in one bundle", largest(c), c.e.LastRound().Rows)
	}
	if c := setup(2, 3); largest(c) != 2 {
		t.Errorf("three couriers, ratio 2: a courier took %d orders, want bundles of 2", largest(c))
	}
	if c := setup(0, 1); largest(c) != 2 {
		t.Errorf("one courier, no ratio: the courier took %d orders, want a bundle of 2", largest(c))
	}
}

// A round short of couriers bundles orders whose ready times are further apart: up to twice BundleReadyGap or
// DeferHorizon, whichever is longer (an order left out waits about that long for a courier of its own).
func TestShortOfCouriersBundlesOrdersReadyFurtherApart(t *testing.T) {
	rows := func(ratio float64) int {
		c := newCity(t, func(cfg *Config) {
			cfg.PostponeSlack = 0
			cfg.ScarceRatio = ratio
			cfg.DeferHorizon = time.Hour
		})
		c.store("A", 0, 0)
		c.courier("x", 100, 0, 8)
		// Ready 20 minutes apart: beyond the 8 min BundleReadyGap, within an hour.
		c.order("a", "A", 0, 2400, 5*time.Minute, 2*time.Hour)
		c.order("b", "A", 100, 2400, 25*time.Minute, 2*time.Hour)
		c.tick(time.Second)
		return c.e.LastRound().Rows
	}
	if got := rows(1); got != 1 {
		t.Errorf("short of couriers (2 orders, 1 courier, ratio 1): %d rows, want one bundle", got)
	}
	if got := rows(0); got != 2 {
		t.Errorf("without the ratio: %d rows, want each order alone", got)
	}
}

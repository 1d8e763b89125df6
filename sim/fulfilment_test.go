package sim_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim"
	"github.com/o2o-dispatch/dispatchd/sim/synth"
)

// smallMorning is the shipped morning-opening scenario cut to a sixth of its stores and about a tenth of its
// orders and couriers, so that a test runs it in a second or two.
func smallMorning(t testing.TB, seed uint64) *sim.Scenario {
	t.Helper()
	s, err := synth.Load(filepath.Join("scenarios", "morning-opening.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.Stores.Kinds[0].Count, s.Stores.Kinds[1].Count = 10, 2
	s.Demand.Orders = 300
	for i, n := range []int{4, 21, 3} {
		s.Couriers.Shifts[i].Count = n
	}
	sc, err := synth.Generate(s, seed)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// checked is one run of the small morning with every invariant checked after every event, shared by the tests
// that look at its outcome.
var checked struct {
	once sync.Once
	sc   *sim.Scenario
	out  *sim.Outcome
	err  error
	// events counts the events checked; restocked that the stock was seen after a restock.
	events int
}

func checkedRun(t *testing.T) (*sim.Scenario, *sim.Outcome) {
	t.Helper()
	checked.once.Do(func() {
		sc := smallMorning(t, 1)
		checked.sc = sc
		checked.out, checked.err = sim.RunScenario(sc, sim.Options{Policy: dispatch.PolicyOptimize,
			Check: invariants(sc, &checked.events)})
	})
	if checked.err != nil {
		t.Fatal(checked.err)
	}
	return checked.sc, checked.out
}

// invariants checks, after every event: every product's stock on hand covers what is reserved, nothing is
// negative, and each store's reservations are exactly the items of the live orders it serves; and no order
// collected in store is on a courier's route.
func invariants(sc *sim.Scenario, events *int) func(v *sim.View) error {
	collect := map[string]bool{}
	items := map[string]map[string]int{}
	for i, o := range sc.Orders {
		side := sc.Fulfil.Orders[i]
		collect[o.ID] = side.Collect
		items[o.ID] = map[string]int{}
		for _, it := range side.Items {
			items[o.ID][it.SKU] += it.Qty
		}
	}
	return func(v *sim.View) error {
		*events++
		net := v.Network()
		want := map[string]map[string]int{}
		for _, o := range sc.Orders {
			if !net.Holds(o.ID) {
				continue
			}
			st := v.StoreOf(o.ID)
			if want[st] == nil {
				want[st] = map[string]int{}
			}
			for sku, q := range items[o.ID] {
				want[st][sku] += q
			}
		}
		for _, st := range sc.Stores {
			onHand, reserved, ok := net.Inventory(st.ID)
			if !ok {
				return fmt.Errorf("%s: store %s is gone", v.Now(), st.ID)
			}
			for sku, q := range onHand {
				if q < 0 || q < reserved[sku] {
					return fmt.Errorf("%s: store %s has %d of %s on hand, %d reserved", v.Now(), st.ID, q, sku, reserved[sku])
				}
			}
			if !maps.Equal(reserved, want[st.ID]) && !(len(reserved) == 0 && len(want[st.ID]) == 0) {
				return fmt.Errorf("%s: store %s has %v reserved, its live orders hold %v", v.Now(), st.ID, reserved, want[st.ID])
			}
		}
		for r := range v.Routes() {
			for _, stop := range r.Stops {
				if collect[stop.OrderID] {
					return fmt.Errorf("%s: order %s, collected in store, is on the route of %s", v.Now(), stop.OrderID, r.CourierID)
				}
			}
		}
		return nil
	}
}

// TestStockIsNeverOverReserved runs the small morning with the invariants checked at every step, and checks that
// the stock really was the binding constraint somewhere (so the property was put to the test).
func TestStockIsNeverOverReserved(t *testing.T) {
	_, out := checkedRun(t)
	f := out.Summary.Fulfilment
	if checked.events < 2000 || f.StockOuts == 0 || f.RejectedByReason["out_of_stock"] == 0 || f.Restocks == 0 {
		t.Fatalf("%d events, %d stock-outs, %d orders rejected out of stock, %d restocks: the run does not test the stock",
			checked.events, f.StockOuts, f.RejectedByReason["out_of_stock"], f.Restocks)
	}
}

// TestNoPickupWhileTheStoreIsClosed checks every pick-up and collection time of the per-order output (and the exact
// times of the result) against the store's opening hours.
func TestNoPickupWhileTheStoreIsClosed(t *testing.T) {
	sc, out := checkedRun(t)
	hours := map[string]*sim.StoreSetup{}
	for i, st := range sc.Stores {
		hours[st.ID] = &sc.Fulfil.Stores[i]
	}
	open := func(store string, at time.Time, slack time.Duration) error {
		h := hours[store].Hours
		if h == nil {
			return fmt.Errorf("store %s has no hours", store)
		}
		from, to, ok := h.Window(at.Add(-slack))
		if !ok || from.After(at.Add(slack)) || (!to.IsZero() && at.Add(-slack).After(to)) {
			return fmt.Errorf("store %s is closed at %s (opening %s to %s)", store, at, from, to)
		}
		return nil
	}
	var buf bytes.Buffer
	if err := sim.WriteOrdersCSV(&buf, out.Result); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	y, m, d := sc.Start.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, sc.Start.Location())
	handed := 0
	for _, row := range rows[1:] {
		for _, c := range []string{"picked_up_min", "collected_min"} {
			if row[col[c]] == "" {
				continue
			}
			min, err := strconv.ParseFloat(row[col[c]], 64)
			if err != nil {
				t.Fatal(err)
			}
			at := midnight.Add(time.Duration(min * float64(time.Minute)))
			// The file keeps a tenth of a minute: allow its rounding.
			if err := open(row[col["store"]], at, 3*time.Second); err != nil {
				t.Errorf("order %s, %s: %v", row[col["order"]], c, err)
			}
			handed++
		}
	}
	overnight := 0
	for _, o := range out.Result.Orders {
		if done := o.Done(); !done.IsZero() {
			if err := open(o.StoreID, done, 0); err != nil {
				t.Errorf("order %s: %v", o.ID, err)
			}
			if o.Overnight {
				overnight++
			}
		}
	}
	if handed < 150 || overnight < 80 {
		t.Fatalf("only %d pick-ups and collections, %d of overnight orders: nothing to check", handed, overnight)
	}
}

// TestCollectOrdersStayOffTheRoads: besides the check at every step that no route holds one, an order collected in
// store has no courier, no store visit and no delivery, and was collected after it was ready.
func TestCollectOrdersStayOffTheRoads(t *testing.T) {
	_, out := checkedRun(t)
	r := out.Result
	collect := map[string]bool{}
	collected := 0
	for _, o := range r.Orders {
		if !o.Collect {
			continue
		}
		collect[o.ID] = true
		if o.CourierID != "" || o.Bundle >= 0 || !o.Assigned.IsZero() || !o.Delivered.IsZero() {
			t.Errorf("order %s, collected in store, went through the engine: %+v", o.ID, o)
		}
		if o.Rejected == "" {
			if o.Collected.IsZero() || o.Collected.Before(o.Ready) || o.Stage(time.Time{}) != "collected" {
				t.Errorf("order %s: ready %s, collected %s, stage %s", o.ID, o.Ready, o.Collected, o.Stage(time.Time{}))
			}
			collected++
		}
	}
	for _, p := range r.Pickups {
		for _, id := range p.Orders {
			if collect[id] {
				t.Errorf("courier %s picked up %s, an order collected in store", p.CourierID, id)
			}
		}
	}
	if collected < 20 || out.Summary.Fulfilment.Collect.Collected != collected {
		t.Fatalf("%d orders collected (summary: %d)", collected, out.Summary.Fulfilment.Collect.Collected)
	}
}

// TestFulfilmentRunIsDeterministic: the same scenario and seed give the same files.
func TestFulfilmentRunIsDeterministic(t *testing.T) {
	_, first := checkedRun(t)
	second, err := sim.RunScenario(smallMorning(t, 1), sim.Options{Policy: dispatch.PolicyOptimize})
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	for dir, out := range map[string]*sim.Outcome{a: first, b: second} {
		if err := sim.WriteOutputs(dir, []*sim.Outcome{out}, out.Result.Target, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"summary.json", "orders.csv", "stores.csv", "couriers.csv", "report.html"} {
		x, errX := os.ReadFile(filepath.Join(a, name))
		y, errY := os.ReadFile(filepath.Join(b, name))
		if errX != nil || errY != nil || len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of one scenario (%v, %v)", name, errX, errY)
		}
	}
}

// TestMorningBacklogPeaksAtOpeningAndClears checks the morning's figures for sense: the backlog grows all night,
// peaks at the opening, and falls back; the overnight orders are picked up after the opening and not before.
func TestMorningBacklogPeaksAtOpeningAndClears(t *testing.T) {
	sc, out := checkedRun(t)
	f := out.Summary.Fulfilment
	op := f.Opening
	loc := sc.Start.Location()
	y, m, d := sc.Start.Date()
	opening := time.Date(y, m, d+1, 8, 0, 0, 0, loc)
	if op == nil || !op.At.Equal(opening) {
		t.Fatalf("opening %+v, want %s", op, opening)
	}
	backlog := func(at time.Time) int {
		i := slices.IndexFunc(f.Backlog, func(p sim.BacklogPoint) bool { return !p.At.Before(at) })
		if i < 0 {
			t.Fatalf("no sample at %s", at)
		}
		return f.Backlog[i].Backlog
	}
	switch {
	case op.Peak != op.BacklogAtOpening && op.PeakAt.Sub(opening) > 15*time.Minute:
		t.Errorf("the backlog peaks at %d at %s, not at the opening (%d)", op.Peak, op.PeakAt, op.BacklogAtOpening)
	case !(backlog(opening.Add(-6*time.Hour)) < backlog(opening.Add(-2*time.Hour)) && backlog(opening.Add(-2*time.Hour)) < op.BacklogAtOpening):
		t.Errorf("the backlog does not grow through the night: %d at 02:00, %d at 06:00, %d at 08:00",
			backlog(opening.Add(-6*time.Hour)), backlog(opening.Add(-2*time.Hour)), op.BacklogAtOpening)
	case float64(op.BacklogAtOpening) < 4*op.Normal:
		t.Errorf("backlog at opening %d, normal level %.0f: no opening rush", op.BacklogAtOpening, op.Normal)
	case op.OvernightLeft != 0 || op.OvernightCleared.IsZero() || op.OvernightClearedMin <= 0 || op.OvernightClearedMin > 240:
		t.Errorf("overnight orders: %d left, cleared %s (%.0f min after opening)", op.OvernightLeft, op.OvernightCleared, op.OvernightClearedMin)
	case op.BackToNormal.IsZero() || op.BackToNormal.Before(op.PeakAt) || float64(backlog(op.BackToNormal)) > 1.25*op.Normal:
		t.Errorf("back to normal at %s (normal %.0f)", op.BackToNormal, op.Normal)
	case f.Overnight.Orders == 0 || f.Overnight.OnTimeShare < 0.8 || f.Daytime.Orders == 0:
		t.Errorf("overnight %+v, daytime %+v", f.Overnight, f.Daytime)
	}
	// While the stores are closed nothing is prepared: every accepted overnight order is ready after the opening,
	// and the orders in preparation just before it are exactly the overnight backlog.
	for _, o := range out.Result.Orders {
		if o.Overnight && o.Rejected == "" && o.Ready.Before(opening) {
			t.Errorf("overnight order %s ready at %s, before the opening", o.ID, o.Ready)
		}
	}
	before := f.Backlog[slices.IndexFunc(f.Backlog, func(p sim.BacklogPoint) bool { return !p.At.Before(opening) })-1]
	if before.Preparing != before.Overnight || before.Overnight == 0 {
		t.Errorf("at %s: %d in preparation, %d overnight orders waiting", before.At, before.Preparing, before.Overnight)
	}
}

package synth

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

func TestWithoutFulfilmentThereIsNoStoreSide(t *testing.T) {
	if sc := generate(t, validSpec(t), 1); sc.Fulfil != nil {
		t.Fatal("a spec without hours, pickers, stock, collection or slots gave a store side")
	}
}

// TestFulfilmentMovesNothingElse: the store side draws from streams of its own, so adding it leaves the stores,
// couriers and order times as they were (only the store of orders by items and the promise of slotted orders
// change).
func TestFulfilmentMovesNothingElse(t *testing.T) {
	plain := generate(t, validSpec(t), 5)
	s := validSpec(t)
	withFulfilment(s)
	sc := generate(t, s, 5)
	if sc.Fulfil == nil {
		t.Fatal("no store side")
	}
	if !slices.Equal(plain.Stores, sc.Stores) || len(plain.Orders) != len(sc.Orders) {
		t.Fatal("the store side moved the stores or changed the orders")
	}
	for i, o := range sc.Orders {
		p := plain.Orders[i]
		if o.ID != p.ID || !o.Created.Equal(p.Created) || !o.Ready.Equal(p.Ready) || o.Dropoff != p.Dropoff ||
			(o.StoreID != p.StoreID && o.StoreID != "") {
			t.Fatalf("order %s: %+v became %+v", o.ID, p, o)
		}
	}
}

func TestFulfilmentDraws(t *testing.T) {
	s := validSpec(t)
	withFulfilment(s)
	s.Demand.Orders = 3000
	for _, seed := range testSeeds {
		sc := generate(t, s, seed)
		checkInvariants(t, s, sc)
		f := sc.Fulfil
		var convenience, byItems, collect, slotted, closedAtOrder int
		popular := map[string]int{}
		for i, o := range sc.Orders {
			side := f.Orders[i]
			if side.Collect {
				collect++
				if side.CollectAfter <= 0 || side.CollectAfter > 90*time.Minute {
					t.Fatalf("order %s: collected %s after ready", o.ID, side.CollectAfter)
				}
			}
			isConvenience := o.StoreID == "" || o.StoreID[0] == 'c'
			if !isConvenience {
				if len(side.Items) > 0 || !o.DeliverBy.Equal(o.Created.Add(sc.Target)) {
					t.Fatalf("order %s at a restaurant (always open, no stock) has items or a slot", o.ID)
				}
				continue
			}
			convenience++
			if o.StoreID == "" {
				byItems++
			}
			if len(side.Items) == 0 {
				t.Fatalf("order %s at a convenience store has no items", o.ID)
			}
			for _, it := range side.Items {
				popular[it.SKU] += it.Qty
			}
			// The convenience stores open 11:00-19:00 (12:00-18:00 on Sundays; the day is a Monday): a customer
			// before 11:00, or too late to be served by 19:00 with the 35-minute promise, books a slot from the
			// next opening.
			clock := o.Created.Sub(sc.Start.Truncate(24 * time.Hour)).Minutes()
			closed := clock < 11*60 || clock+35 > 19*60
			if closed {
				closedAtOrder++
			}
			if o.DeliverBy.Equal(o.Created.Add(sc.Target)) {
				if closed {
					t.Fatalf("order %s placed at a closed store at %s has no slot", o.ID, o.Created.Format(time.TimeOnly))
				}
				continue
			}
			slotted++
			next := time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)
			if clock >= 11*60 {
				next = next.Add(24 * time.Hour)
			}
			k := o.DeliverBy.Sub(next) / (30 * time.Minute)
			if o.DeliverBy.Sub(next)%(30*time.Minute) != 0 || k < 1 || k > 3 || len(side.Later) != int(3-k) {
				t.Fatalf("order %s: slot ending %s, later slots %v", o.ID, o.DeliverBy, side.Later)
			}
		}
		near := func(name string, got, want, tol float64) {
			t.Helper()
			if math.Abs(got-want) > tol {
				t.Errorf("seed %d: %s %.3f, want %.3f ± %.3f", seed, name, got, want, tol)
			}
		}
		near("share by items", float64(byItems)/float64(convenience), 0.5, 0.06)
		near("share collected", float64(collect)/float64(len(sc.Orders)), 0.2, 0.03)
		if slotted != closedAtOrder || slotted == 0 {
			t.Errorf("seed %d: %d orders slotted, %d placed at a closed store", seed, slotted, closedAtOrder)
		}
		// Zipf with exponent 1: the first product is ordered about ten times as much as the tenth.
		if a, b := popular["sku001"], popular["sku010"]; a < 4*b || b == 0 {
			t.Errorf("seed %d: sku001 ordered %d times, sku010 %d", seed, a, b)
		}
		restocks := 0
		for i, st := range f.Stores {
			id := sc.Stores[i].ID
			if id[0] == 'c' {
				if st.Pickers != 2 || st.Hours == nil || len(st.Stock) == 0 || len(st.Stock) > 60 {
					t.Fatalf("store %s: %+v", id, st)
				}
				continue
			}
			if st.Pickers != 0 || st.Hours != nil || st.Stock != nil {
				t.Fatalf("restaurant %s has a store side %+v", id, st)
			}
		}
		for _, r := range f.Restocks {
			restocks++
			i := slices.IndexFunc(sc.Stores, func(st dispatch.Store) bool { return st.ID == r.StoreID })
			if !r.At.Equal(time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)) || !mapsEqual(r.Level, f.Stores[i].Stock) {
				t.Fatalf("restock %+v", r)
			}
		}
		if restocks != 3 {
			t.Errorf("seed %d: %d restocks, want one per convenience store", seed, restocks)
		}
	}
}

func TestStockFollowsPopularity(t *testing.T) {
	s := validSpec(t)
	withFulfilment(s)
	s.Stores.Kinds[1].Count = 40
	s.Stores.Kinds[1].Stock = &Stock{Assortment: 1, MedianUnits: 10, P90Units: 20, FollowPopularity: 1}
	sc := generate(t, s, 2)
	var top, tail []float64
	for _, st := range sc.Fulfil.Stores {
		if st.Stock == nil {
			continue
		}
		top = append(top, float64(st.Stock["sku001"]))
		tail = append(tail, float64(st.Stock["sku050"]))
	}
	// Zipf 1 over 60 products: sku001 is 50 times as popular as sku050, and stocked about 50 times as deep.
	if r := mean(top) / max(mean(tail), 1); r < 20 {
		t.Errorf("sku001 stocked %.1f deep on average, sku050 %.1f: ratio %.1f, want about 50", mean(top), mean(tail), r)
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTimeZoneAndDayPastMidnight(t *testing.T) {
	s := validSpec(t)
	s.Timezone = "Asia/Shanghai"
	s.Day = Day{Start: "22:00", Hours: 12}
	s.Couriers.Shifts[0].Start, s.Couriers.Shifts[0].End = "22:00", "23:30"
	s.Couriers.Shifts[1].Start, s.Couriers.Shifts[1].End = "07:45", "10:30"
	s.Demand.Peaks = []Peak{{Centre: "07:00", WidthMin: 60, Weight: 3}}
	s.Demand.Surges = []Surge{{Start: "23:00", End: "01:00", Multiplier: 2}}
	withFulfilment(s)
	s.Stores.Kinds[1].Hours = map[string][]string{"daily": {"08:00-23:00"}}
	s.Stores.Kinds[1].Restock = []string{"07:30"}
	sc := generate(t, s, 1)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, h, m int) time.Time { return time.Date(2026, 1, day, h, m, 0, 0, shanghai) }
	switch {
	case !sc.Start.Equal(at(5, 22, 0)) || sc.Start.Location().String() != "Asia/Shanghai":
		t.Errorf("start %s", sc.Start)
	case !sc.Couriers[0].On.Equal(at(5, 22, 0)) || !sc.Couriers[0].Off.Equal(at(5, 23, 30)):
		t.Errorf("evening shift %s to %s", sc.Couriers[0].On, sc.Couriers[0].Off)
	case !sc.Couriers[len(sc.Couriers)-1].On.Equal(at(6, 7, 45)):
		t.Errorf("morning shift starts %s, want the next morning", sc.Couriers[len(sc.Couriers)-1].On)
	case !sc.Fulfil.Restocks[0].At.Equal(at(6, 7, 30)):
		t.Errorf("restock at %s, want the next morning", sc.Fulfil.Restocks[0].At)
	}
	// The peak at 07:00 the next morning: more orders between 06:00 and 08:00 than between 02:00 and 04:00.
	count := func(from, to time.Time) int {
		n := 0
		for _, o := range sc.Orders {
			if !o.Created.Before(from) && o.Created.Before(to) {
				n++
			}
		}
		return n
	}
	if early, night := count(at(6, 6, 0), at(6, 8, 0)), count(at(6, 2, 0), at(6, 4, 0)); early < 2*night {
		t.Errorf("%d orders 06:00-08:00, %d orders 02:00-04:00: the morning peak is missing", early, night)
	}
	// Every order placed at a closed convenience store books a slot ending 08:30, 09:00 or 09:30 the next morning.
	for i, o := range sc.Orders {
		if len(sc.Fulfil.Orders[i].Items) == 0 {
			continue
		}
		local := o.Created.In(shanghai)
		if !local.After(at(5, 22, 25)) || !local.Before(at(6, 8, 0)) {
			continue // open for the whole promise
		}
		if end := o.DeliverBy; !end.Equal(at(6, 8, 30)) && !end.Equal(at(6, 9, 0)) && !end.Equal(at(6, 9, 30)) {
			t.Fatalf("order %s placed %s: promise %s", o.ID, local, end.In(shanghai))
		}
	}
}

// nextOpening's cases at a store open 08:00-23:00.
func TestNextOpening(t *testing.T) {
	h, err := fulfil.ParseHours(map[string][]string{"mon": {"08:00-23:00"}, "tue": {"08:00-23:00"}}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 1, day, hh, mm, 0, 0, time.UTC) }
	for _, c := range []struct {
		created, deliverBy, want time.Time
	}{
		{at(5, 7, 0), at(5, 7, 40), at(5, 8, 0)},    // closed: the opening
		{at(5, 12, 0), at(5, 12, 40), time.Time{}},  // open for the whole promise
		{at(5, 22, 30), at(5, 23, 10), at(6, 8, 0)}, // closes within the promise: the next opening
		{at(6, 23, 30), at(7, 0, 10), at(12, 8, 0)}, // closed until next Monday
		{at(5, 22, 20), at(5, 23, 0), time.Time{}},  // the promise ends as it closes
		{at(4, 23, 0), at(4, 23, 40), at(5, 8, 0)},  // Sunday night, closed all day
	} {
		if got := nextOpening(h, c.created, c.deliverBy); !got.Equal(c.want) {
			t.Errorf("nextOpening(%s, %s) = %s, want %s", c.created, c.deliverBy, got, c.want)
		}
	}
}

package fulfil

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// The tests work in metres on a plane with a bike at 4 m/s and no detour, so a store 2 400 m away is a 10-minute ride.
func testNetwork(t testing.TB) *Network {
	t.Helper()
	travel := geo.NewStraightLine(geo.Planar)
	travel.Detour = 1
	travel.SpeedMPS[geo.Bike] = 4
	cfg := DefaultConfig(travel)
	cfg.Handling = 0
	n, err := New(geo.Planar, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func put(t testing.TB, n *Network, s Store, stock map[string]int) {
	t.Helper()
	if err := n.PutStore(s, stock); err != nil {
		t.Fatal(err)
	}
}

func unservable(t *testing.T, err error) *dispatch.Error {
	t.Helper()
	de, ok := err.(*dispatch.Error)
	if !ok || de.Code != dispatch.EUnservable {
		t.Fatalf("got %v, want unservable", err)
	}
	return de
}

func TestChooseTakesTheEarliestDropoffAmongStoresWithStock(t *testing.T) {
	n := testNetwork(t)
	put(t, n, Store{ID: "near-empty", Location: orb.Point{100, 0}, Prep: 5 * time.Minute}, map[string]int{"milk": 1})
	put(t, n, Store{ID: "mid", Location: orb.Point{1200, 0}, Prep: 10 * time.Minute}, map[string]int{"milk": 5, "eggs": 2})
	put(t, n, Store{ID: "far-fast", Location: orb.Point{2400, 0}, Prep: time.Minute}, map[string]int{"milk": 5, "eggs": 2})
	items, _ := NormalizeItems([]Item{{"milk", 1}, {"eggs", 1}, {"milk", 1}})
	r := &Request{Items: items, Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(30 * time.Minute)}
	p, err := n.Choose(t0, r)
	if err != nil {
		t.Fatal(err)
	}
	// mid: 10 min prep + 5 min ride = 15; far-fast: 1 + 10 = 11. near-empty lacks eggs and has one milk.
	if p.StoreID != "far-fast" || !p.Ready.Equal(t0.Add(time.Minute)) || !p.Dropoff.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("plan %+v, want far-fast ready at +1m, drop-off at +11m", p)
	}
	if err := n.Reserve("o1", p, items); err != nil {
		t.Fatal(err)
	}
	_, reserved, _ := n.Inventory("far-fast")
	if !maps.Equal(reserved, map[string]int{"milk": 2, "eggs": 1}) {
		t.Fatalf("reserved %v", reserved)
	}
	// Collecting in store: no ride, so the nearest store that has it wins on preparation alone.
	rc := *r
	rc.Collect = true
	if p, err := n.Choose(t0, &rc); err != nil || p.StoreID != "far-fast" || !p.Dropoff.Equal(p.Ready) {
		t.Fatalf("collect: %+v, %v", p, err)
	}
}

func TestChooseSaysWhyEachStoreCannot(t *testing.T) {
	n := testNetwork(t)
	sh, _ := ParseHours(map[string][]string{"mon": {"12:00-20:00"}}, time.UTC) // 2026-11-23 is a Monday
	put(t, n, Store{ID: "a-empty", Location: orb.Point{100, 0}}, map[string]int{"milk": 0})
	put(t, n, Store{ID: "b-closed", Location: orb.Point{200, 0}, Hours: sh}, map[string]int{"milk": 9})
	put(t, n, Store{ID: "c-busy", Location: orb.Point{300, 0}, Prep: 10 * time.Minute, Pickers: 1}, map[string]int{"milk": 9})
	put(t, n, Store{ID: "d-far", Location: orb.Point{9000, 0}}, map[string]int{"milk": 9})
	busy := Plan{StoreID: "c-busy", Ready: t0.Add(25 * time.Minute)}
	if err := n.Reserve("queued", busy, nil); err != nil {
		t.Fatal(err)
	}
	items := []Item{{"milk", 1}}
	_, err := n.Choose(t0, &Request{Items: items, Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(30 * time.Minute)})
	de := unservable(t, err)
	want := map[string]string{"a-empty": ReasonOutOfStock, "b-closed": ReasonClosed, "c-busy": ReasonStoreBusy, "d-far": ReasonTooFar}
	got := map[string]string{}
	for _, c := range de.Candidates {
		got[c.StoreID] = c.Reason
		if c.Detail == "" {
			t.Errorf("%s: no detail", c.StoreID)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	if slices.Sorted(slices.Values(de.Reasons)) == nil || len(de.Reasons) != 4 {
		t.Errorf("reasons %v, want the four distinct ones", de.Reasons)
	}
	// Naming the store gives its own reason; an unknown store is store_not_found.
	_, err = n.Choose(t0, &Request{StoreID: "b-closed", Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(30 * time.Minute)})
	if de := unservable(t, err); de.Field != "store_id" || de.Reasons[0] != ReasonClosed {
		t.Errorf("named closed store: %+v", de)
	}
	_, err = n.Choose(t0, &Request{StoreID: "nope", Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(30 * time.Minute)})
	if de := unservable(t, err); de.Reasons[0] != ReasonStoreNotFound {
		t.Errorf("unknown store: %+v", de)
	}
	// Nothing in reach.
	_, err = n.Choose(t0, &Request{Items: items, Dropoff: orb.Point{1e6, 0}, DeliverBy: t0.Add(30 * time.Hour)})
	if de := unservable(t, err); de.Reasons[0] != ReasonNoStoreInReach {
		t.Errorf("nothing in reach: %+v", de)
	}
}

func TestClosedStoreReadyFromOpeningAndPickupByClosing(t *testing.T) {
	n := testNetwork(t)
	h, _ := ParseHours(map[string][]string{"mon": {"08:00-22:00"}, "tue": {"08:00-22:00"}}, time.UTC)
	put(t, n, Store{ID: "s", Location: orb.Point{1200, 0}, Prep: 10 * time.Minute, Pickers: 2, Hours: h}, nil)
	night := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	opening := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	r := &Request{StoreID: "s", Dropoff: orb.Point{0, 0}, DeliverBy: opening.Add(time.Hour)}
	p, err := n.Choose(night, r)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ready.Equal(opening.Add(10*time.Minute)) || !p.PickupBy.Equal(time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)) {
		t.Fatalf("plan %+v: want ready 08:10, pick-up by 22:00", p)
	}
	// A promise the opening cannot keep.
	r.DeliverBy = opening.Add(5 * time.Minute)
	if _, err := n.Choose(night, r); unservable(t, err).Reasons[0] != ReasonClosed {
		t.Errorf("promise before opening accepted: %v", err)
	}
	// Too close to closing: it waits for the next morning.
	late := time.Date(2026, 11, 23, 21, 50, 0, 0, time.UTC)
	r.DeliverBy = late.Add(12 * time.Hour)
	if p, err := n.Choose(late, r); err != nil || !p.Ready.Equal(time.Date(2026, 11, 24, 8, 10, 0, 0, time.UTC)) {
		t.Errorf("order at 21:50: %+v, %v; want ready 08:10 the next day", p, err)
	}
}

func TestPickingQueue(t *testing.T) {
	n := testNetwork(t)
	put(t, n, Store{ID: "s", Location: orb.Point{0, 0}, Prep: 10 * time.Minute, Pickers: 2}, nil)
	r := &Request{StoreID: "s", Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(3 * time.Hour)}
	var readies []time.Duration
	for i := range 5 {
		p, err := n.Choose(t0, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Reserve(fmt.Sprint(i), p, nil); err != nil {
			t.Fatal(err)
		}
		readies = append(readies, p.Ready.Sub(t0))
	}
	// Two pickers: two orders ready at +10, the next two at +20, the fifth at +30.
	want := []time.Duration{10 * time.Minute, 10 * time.Minute, 20 * time.Minute, 20 * time.Minute, 30 * time.Minute}
	if !slices.Equal(readies, want) {
		t.Fatalf("ready times %v, want %v", readies, want)
	}
	if q := n.Queue("s", t0); q != 5 {
		t.Errorf("queue %d, want 5", q)
	}
	// Cancelled orders give their places back: with two of the four queued ones gone, the next order takes the
	// picker freed at +10.
	if p, _ := n.Choose(t0, r); p.Ready.Sub(t0) != 30*time.Minute {
		t.Errorf("sixth order ready at %s, want +30m", p.Ready.Sub(t0))
	}
	n.Release("2")
	n.Release("3")
	if p, _ := n.Choose(t0, r); p.Ready.Sub(t0) != 20*time.Minute {
		t.Errorf("after two cancellations the next is ready at %s, want +20m", p.Ready.Sub(t0))
	}
	// Later, the first two are ready and out of the queue.
	if q := n.Queue("s", t0.Add(15*time.Minute)); q != 1 {
		t.Errorf("queue at +15m: %d, want 1 (order 4)", q)
	}
}

func TestInventoryChanges(t *testing.T) {
	n := testNetwork(t)
	put(t, n, Store{ID: "s", Location: orb.Point{0, 0}}, map[string]int{"milk": 5, "eggs": 2})
	if err := n.Reserve("o", Plan{StoreID: "s", Ready: t0}, []Item{{"milk", 3}}); err != nil {
		t.Fatal(err)
	}
	conflictOn := func(err error, field string) {
		t.Helper()
		de, ok := err.(*dispatch.Error)
		if !ok || de.Code != dispatch.EConflict || de.Field != field {
			t.Fatalf("got %v, want conflict on %s", err, field)
		}
	}
	_, err := n.AdjustInventory("s", nil, map[string]int{"milk": -3, "eggs": -1})
	conflictOn(err, "adjust.milk")
	_, err = n.AdjustInventory("s", map[string]int{"milk": 2}, nil)
	conflictOn(err, "set.milk")
	conflictOn(n.PutStore(Store{ID: "s", Location: orb.Point{0, 0}}, map[string]int{"eggs": 2}), "inventory.milk")
	if on, _, _ := n.Inventory("s"); !maps.Equal(on, map[string]int{"milk": 5, "eggs": 2}) {
		t.Fatalf("a refused change changed stock: %v", on)
	}
	on, err := n.AdjustInventory("s", map[string]int{"milk": 10, "bread": 4}, map[string]int{"milk": -2, "eggs": -2})
	if err != nil || !maps.Equal(on, map[string]int{"milk": 8, "bread": 4}) {
		t.Fatalf("set then adjust: %v, %v", on, err)
	}
	// A PUT without inventory keeps the stock.
	put(t, n, Store{ID: "s", Location: orb.Point{5, 5}, Prep: time.Minute}, nil)
	n.HandOver("o")
	if on, res, _ := n.Inventory("s"); !maps.Equal(on, map[string]int{"milk": 5, "bread": 4}) || len(res) != 0 {
		t.Fatalf("after hand-over: on hand %v, reserved %v", on, res)
	}
	if err := n.RemoveStore("s"); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveStoreWithLiveOrdersRefused(t *testing.T) {
	n := testNetwork(t)
	put(t, n, Store{ID: "s", Location: orb.Point{0, 0}}, nil)
	if err := n.Reserve("o", Plan{StoreID: "s", Ready: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.RemoveStore("s"); dispatch.ErrorCodeOf(err) != dispatch.EConflict {
		t.Fatalf("remove with a live order: %v", err)
	}
	n.Release("o")
	if err := n.RemoveStore("s"); err != nil {
		t.Fatal(err)
	}
}

// TestStockInvariants runs random placements, cancellations, hand-overs and inventory changes and checks after
// every step that stock on hand never goes negative, that no store has more reserved than on hand, and that what
// is reserved equals the items of the live orders, store by store and SKU by SKU.
func TestStockInvariants(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := testNetwork(t)
		skus := []string{"a", "b", "c", "d", "e"}
		for s := range 6 {
			stock := map[string]int{}
			for _, k := range skus {
				stock[k] = rng.IntN(6)
			}
			put(t, n, Store{ID: fmt.Sprint("s", s), Location: orb.Point{float64(rng.IntN(3000)), float64(rng.IntN(3000))},
				Prep: time.Duration(rng.IntN(10)) * time.Minute, Pickers: rng.IntN(3)}, stock)
		}
		live := map[string][]Item{}
		liveStore := map[string]string{}
		now := t0
		for step := range 400 {
			now = now.Add(time.Duration(rng.IntN(60)) * time.Second)
			switch op := rng.IntN(10); {
			case op < 5:
				var items []Item
				for range 1 + rng.IntN(3) {
					items = append(items, Item{skus[rng.IntN(len(skus))], 1 + rng.IntN(3)})
				}
				items, _ = NormalizeItems(items)
				p, err := n.Choose(now, &Request{Items: items, Dropoff: orb.Point{float64(rng.IntN(3000)), 0}, DeliverBy: now.Add(2 * time.Hour)})
				if err != nil {
					continue
				}
				id := fmt.Sprint("o", step)
				if err := n.Reserve(id, p, items); err != nil {
					t.Fatalf("seed %d: Reserve after Choose: %v", seed, err)
				}
				live[id], liveStore[id] = items, p.StoreID
			case op < 8 && len(live) > 0:
				ids := slices.Sorted(maps.Keys(live))
				id := ids[rng.IntN(len(ids))]
				if op == 6 {
					n.Release(id)
				} else {
					n.HandOver(id)
				}
				delete(live, id)
			default:
				s := fmt.Sprint("s", rng.IntN(6))
				_, _ = n.AdjustInventory(s, nil, map[string]int{skus[rng.IntN(len(skus))]: rng.IntN(7) - 3})
			}
			want := map[string]map[string]int{}
			for id, items := range live {
				if want[liveStore[id]] == nil {
					want[liveStore[id]] = map[string]int{}
				}
				for _, it := range items {
					want[liveStore[id]][it.SKU] += it.Qty
				}
			}
			for s := range 6 {
				id := fmt.Sprint("s", s)
				on, res, _ := n.Inventory(id)
				for sku, q := range on {
					if q < 0 || q < res[sku] {
						t.Fatalf("seed %d step %d: %s %s: %d on hand, %d reserved", seed, step, id, sku, q, res[sku])
					}
				}
				if w := want[id]; !maps.Equal(res, w) && !(len(res) == 0 && len(w) == 0) {
					t.Fatalf("seed %d step %d: %s reserves %v; live orders hold %v", seed, step, id, res, w)
				}
			}
		}
	}
}

// BenchmarkChoose5000Stores chooses a store by items among 5 000 stores spread over a 20 km square (a city's
// convenience stores and front warehouses), each carrying a share of a 500-SKU catalogue, for orders of 1 to 5
// lines drawn with a popularity skew. Sub-benchmarks: "common" (each store carries 90% of the catalogue) and
// "rare" (each carries 30%: most nearby stores lack something). It reports the median and 99th percentile of one
// choice, besides the mean.
func BenchmarkChoose5000Stores(b *testing.B) {
	for _, bc := range []struct {
		name  string
		share float64
	}{{"common", 0.9}, {"rare", 0.3}} {
		b.Run(bc.name, func(b *testing.B) { benchChoose(b, bc.share) })
	}
}

func benchChoose(b *testing.B, share float64) {
	travel := geo.NewStraightLine(geo.Geographic)
	n, err := New(geo.Geographic, DefaultConfig(travel))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const skus = 500
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 4, skus-1)
	centre := orb.Point{121.47, 31.23}
	for s := range 5000 {
		stock := map[string]int{}
		for k := range skus {
			if rng.Float64() < share {
				stock[fmt.Sprint("sku-", k)] = 1 + rng.IntN(50)
			}
		}
		loc := orb.Point{centre[0] + (rng.Float64()-0.5)*0.2, centre[1] + (rng.Float64()-0.5)*0.18}
		if err := n.PutStore(Store{ID: fmt.Sprint("store-", s), Location: loc, Prep: 5 * time.Minute, Pickers: 4}, stock); err != nil {
			b.Fatal(err)
		}
	}
	reqs := make([]Request, 4096)
	for i := range reqs {
		var items []Item
		for range 1 + rng.IntN(5) {
			items = append(items, Item{fmt.Sprint("sku-", zipf.Uint64()), 1 + rng.IntN(2)})
		}
		items, _ = NormalizeItems(items)
		reqs[i] = Request{Items: items, Dropoff: orb.Point{centre[0] + (rng.Float64()-0.5)*0.2, centre[1] + (rng.Float64()-0.5)*0.18},
			DeliverBy: t0.Add(45 * time.Minute)}
	}
	took := make([]time.Duration, 0, b.N)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		if _, err := n.Choose(t0, &reqs[i%len(reqs)]); err == nil {
			found++
		}
		took = append(took, time.Since(began))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(found)/float64(b.N), "served/op")
}

package dispatch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// benchCity builds the synthetic city of docs/benchmarks.md ("What each figure must show", dispatch round): 30 x 30 km (lon/lat around Shanghai), stores clustered
// in districts, couriers spread over the city each with 0-3 orders already on board, and open orders waiting.
func benchCity(tb testing.TB, couriers, openOrders int, seed uint64) *Engine {
	tb.Helper()
	return benchCityOn(tb, couriers, openOrders, seed, geo.NewStraightLine(geo.Geographic))
}

// benchCityOn is benchCity with the engine on the given travel model.
func benchCityOn(tb testing.TB, couriers, openOrders int, seed uint64, travel geo.TravelModel) *Engine {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	e, err := New(DefaultConfig(), geo.Geographic, travel)
	if err != nil {
		tb.Fatal(err)
	}
	const lat0, lon0 = 31.10, 121.30
	degLat := 30000 / 111320.0
	degLon := 30000 / (111320.0 * math.Cos(31.23*math.Pi/180))
	clamp := func(v float64) float64 { return min(max(v, 0), 1) }
	at := func(x, y float64) orb.Point { return orb.Point{lon0 + clamp(x)*degLon, lat0 + clamp(y)*degLat} }
	now := t0
	apply := func(ev Event) {
		if _, err := e.Apply(now, ev); err != nil {
			tb.Fatal(err)
		}
	}
	// Districts: centres spread over the city; stores around them within about 1 km.
	districts := 25
	centres := make([]orb.Point, districts)
	for i := range centres {
		centres[i] = orb.Point{0.1 + 0.8*rng.Float64(), 0.1 + 0.8*rng.Float64()}
	}
	stores := max(couriers/5, 10)
	for i := range stores {
		c := centres[rng.IntN(districts)]
		apply(StoreUpserted{Store{ID: fmt.Sprintf("s%d", i), Location: at(c[0]+rng.NormFloat64()/30, c[1]+rng.NormFloat64()/30)}})
	}
	// Drop-offs within about 4 km of their store.
	dropNear := func(p orb.Point) orb.Point {
		x := (p[0]-lon0)/degLon + (rng.Float64()*2-1)*4.0/30
		y := (p[1]-lat0)/degLat + (rng.Float64()*2-1)*4.0/30
		return at(x, y)
	}
	seq := 0
	newOrder := func(ready time.Time, promise time.Duration) OrderSpec {
		st := e.storeList[rng.IntN(stores)]
		seq++
		return OrderSpec{ID: fmt.Sprintf("o%d", seq), StoreID: st.ID, Dropoff: dropNear(st.Location),
			Created: now, Ready: ready, DeliverBy: now.Add(promise)}
	}
	for i := range couriers {
		id := fmt.Sprintf("c%d", i)
		apply(CourierRegistered{CourierSpec{ID: id, Vehicle: []geo.Profile{geo.Bike, geo.EBike, geo.Scooter}[rng.IntN(3)], Capacity: 4}})
		apply(CourierOnline{CourierID: id, Location: at(rng.Float64(), rng.Float64())})
		// Orders already on board: picked up a few minutes ago, dropped off in the order they were taken.
		c := e.couriers[id]
		for range rng.IntN(4) {
			spec := newOrder(now, time.Duration(20+rng.IntN(25))*time.Minute)
			spec.Dropoff = dropNear(c.loc)
			apply(OrderPlaced{spec})
			o := e.orders[spec.ID]
			o.status, o.courier, o.pickedUpAt = StatusPickedUp, c, now.UnixNano()
			o.timeline = append(o.timeline, StatusChange{Status: StatusPickedUp, At: now})
			c.stops = append(c.stops, stop{kind: Dropoff, o: o})
			c.load += o.size
		}
	}
	// Open orders: ready from now to 25 min on, promised 30 to 60 min after their creation.
	for range openOrders {
		spec := newOrder(now.Add(time.Duration(rng.IntN(25*60))*time.Second), time.Duration(30+rng.IntN(31))*time.Minute)
		apply(OrderPlaced{spec})
	}
	if err := checkInvariants(e); err != nil {
		tb.Fatal(err)
	}
	return e
}

// BenchmarkRound measures one dispatch round (docs/benchmarks.md, "Dispatch round"). Each iteration builds a fresh city outside the
// timer, so every measured round does the same work.
func BenchmarkRound(b *testing.B) {
	for _, size := range []struct{ couriers, orders int }{{1000, 300}, {5000, 1500}, {10000, 3000}} {
		b.Run(fmt.Sprintf("couriers=%d/orders=%d", size.couriers, size.orders), func(b *testing.B) {
			b.ReportAllocs()
			var stats Stats
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := benchCity(b, size.couriers, size.orders, uint64(i+1))
				b.StartTimer()
				if _, err := e.Apply(t0.Add(time.Second), DispatchTick{}); err != nil {
					b.Fatal(err)
				}
				stats = e.LastRound()
			}
			b.ReportMetric(float64(stats.Assigned), "assigned/op")
			b.ReportMetric(float64(stats.Postponed), "postponed/op")
			b.ReportMetric(float64(stats.Pairs), "pairs/op")
		})
	}
}

// TestBenchCityRoundAssigns keeps the benchmark honest: on the small city a round must place a good share of the
// orders that are due, keep the invariants, and leave nobody assigned twice.
func TestBenchCityRoundAssigns(t *testing.T) {
	e := benchCity(t, 1000, 300, 1)
	fx, err := e.Apply(t0.Add(time.Second), DispatchTick{})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
	st := e.LastRound()
	t.Logf("%+v", st)
	if st.Assigned+st.Postponed*1 < st.Candidates/2 {
		t.Fatalf("round placed %d and postponed %d bundles of %d candidates", st.Assigned, st.Postponed, st.Candidates)
	}
	if got := len(effectsOf[OrderAssigned](fx)); got != st.Assigned {
		t.Fatalf("%d OrderAssigned effects, stats say %d", got, st.Assigned)
	}
}

// BenchmarkRoundParts measures, on the largest benchmark city, what a driver that plans off its loop pays on the
// loop: the copy a round plans on (Planner; Clone, the complete copy a checkpoint exports, and Export with Restore
// for comparison) and applying the decision.
func BenchmarkRoundParts(b *testing.B) {
	e := benchCity(b, 10000, 3000, 1)
	now := t0.Add(time.Second)
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.Clone()
		}
	})
	b.Run("planner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.Planner()
		}
	})
	b.Run("export-restore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Restore(e.Config(), geo.Geographic, e.travel, e.Export()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply-decision", func(b *testing.B) {
		b.ReportAllocs()
		d, err := e.Planner().Plan(now)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(d.Routes)), "routes/op")
		for b.Loop() {
			b.StopTimer()
			target := e.Clone()
			b.StartTimer()
			if _, err := target.ApplyDecision(now, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRoundImprove measures the largest benchmark round with the improvement off and at the default budget
// (docs/benchmarks.md, "Dispatch round"): the round is planned on a copy and its decision applied, as Apply does.
func BenchmarkRoundImprove(b *testing.B) {
	for _, budget := range []int{0, DefaultConfig().ImproveBudget} {
		b.Run(fmt.Sprintf("budget=%d", budget), func(b *testing.B) {
			var evals, moved int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := benchCity(b, 10000, 3000, uint64(i+1))
				e.cfg.ImproveBudget = budget
				b.StartTimer()
				p := e.Planner()
				d, err := p.Plan(t0.Add(time.Second))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.ApplyDecision(t0.Add(time.Second), d); err != nil {
					b.Fatal(err)
				}
				evals, moved = p.e.round.improveEvals, p.e.round.improveMoved
			}
			b.ReportMetric(float64(evals), "evals/op")
			b.ReportMetric(float64(moved), "moved/op")
		})
	}
}

package synth

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/sim"
)

func generate(t *testing.T, s *Spec, seed uint64) *sim.Scenario {
	t.Helper()
	sc, err := Generate(s, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	return sc
}

func loadShipped(t *testing.T, name string) *Spec {
	t.Helper()
	s, err := Load(filepath.Join("..", "scenarios", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateDeterministic(t *testing.T) {
	s := validSpec(t)
	a, b := generate(t, s, 7), generate(t, s, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same spec and seed gave different scenarios")
	}
	c := generate(t, s, 8)
	if reflect.DeepEqual(a.Orders, c.Orders) || reflect.DeepEqual(a.Stores, c.Stores) || reflect.DeepEqual(a.Couriers, c.Couriers) {
		t.Fatal("different seeds gave the same stores, couriers or orders")
	}
}

func TestGenerateStreamsAreIndependent(t *testing.T) {
	s := validSpec(t)
	a := generate(t, s, 3)
	s.Couriers.Shifts[0].Count = 9
	s.Couriers.Shifts[1].Vehicle = "scooter"
	b := generate(t, s, 3)
	if !reflect.DeepEqual(a.Stores, b.Stores) || !reflect.DeepEqual(a.Orders, b.Orders) {
		t.Error("changing the shifts moved stores or orders")
	}
	if reflect.DeepEqual(a.Couriers, b.Couriers) {
		t.Error("changing the shifts did not change the couriers")
	}
}

func TestGenerateScenarioSettings(t *testing.T) {
	s := validSpec(t)
	s.Date = "2026-03-02"
	s.Dispatch = Dispatch{TickSec: 15, PickupServiceMin: ptr(2.5)}
	s.Promise.MaxClickToDoorMin = 90
	s.Pay = Pay{PerOrder: 2, PerHour: 10}
	sc := generate(t, s, 1)
	want := dispatch.DefaultConfig()
	want.PickupService, want.DropoffService = 150*time.Second, 4*time.Minute
	switch {
	case sc.Name != "test-town":
		t.Errorf("Name %q", sc.Name)
	case !sc.Start.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)):
		t.Errorf("Start %s", sc.Start)
	case sc.TickEvery != 15*time.Second || sc.Target != 35*time.Minute || sc.MaxClickToDoor != 90*time.Minute:
		t.Errorf("TickEvery %s, Target %s, MaxClickToDoor %s", sc.TickEvery, sc.Target, sc.MaxClickToDoor)
	case sc.PayPerOrder != 2 || sc.PayPerHour != 10:
		t.Errorf("pay %v %v", sc.PayPerOrder, sc.PayPerHour)
	case sc.Space != geo.Geographic || !reflect.DeepEqual(sc.Travel, geo.NewStraightLine(geo.Geographic)):
		t.Errorf("space or travel model")
	case !reflect.DeepEqual(sc.Config, want):
		t.Errorf("Config %+v, want %+v", sc.Config, want)
	}
	// Defaults.
	s = validSpec(t)
	sc = generate(t, s, 1)
	if sc.TickEvery != 30*time.Second || sc.MaxClickToDoor != 0 || sc.Config.PickupService != 4*time.Minute ||
		!sc.Start.Equal(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults: TickEvery %s, MaxClickToDoor %s, PickupService %s, Start %s",
			sc.TickEvery, sc.MaxClickToDoor, sc.Config.PickupService, sc.Start)
	}
}

// TestShippedScenarios generates every file of sim/scenarios and checks the invariants of a generated day.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "scenarios", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("scenario files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, seed := range []uint64{1, 2} {
				checkInvariants(t, s, generate(t, s, seed))
			}
		})
	}
}

func checkInvariants(t *testing.T, s *Spec, sc *sim.Scenario) {
	t.Helper()
	end := sc.Start.Add(time.Duration(s.Day.Hours * float64(time.Hour)))
	centre := orb.Point{s.City.Lon, s.City.Lat}
	within := func(p orb.Point, km float64) bool { return geo.Geographic.Distance(centre, p) <= km*1000+1e-6 }

	nStores := 0
	for _, k := range s.Stores.Kinds {
		nStores += k.Count
	}
	if len(sc.Stores) != nStores {
		t.Errorf("%d stores, want %d", len(sc.Stores), nStores)
	}
	for _, st := range sc.Stores {
		if !within(st.Location, s.City.RadiusKm) {
			t.Errorf("store %s at %v lies outside the city", st.ID, st.Location)
		}
	}
	nCouriers, maxCap := 0, 0
	for _, g := range s.Couriers.Shifts {
		nCouriers += g.Count
		maxCap = max(maxCap, g.Capacity)
	}
	if len(sc.Couriers) != nCouriers {
		t.Errorf("%d couriers, want %d", len(sc.Couriers), nCouriers)
	}
	for i, c := range sc.Couriers {
		if c.Courier.ID != "k"+strconv.Itoa(i+1) || !within(c.Location, s.City.RadiusKm) {
			t.Errorf("courier %d: id %s at %v", i, c.Courier.ID, c.Location)
		}
	}

	// The realised count is Poisson around demand.orders: allow five standard deviations.
	if want := float64(s.Demand.Orders); math.Abs(float64(len(sc.Orders))-want) > 5*math.Sqrt(want) {
		t.Errorf("%d orders, want about %v", len(sc.Orders), want)
	}
	stores := make(map[string]dispatch.Store)
	for _, st := range sc.Stores {
		stores[st.ID] = st
	}
	for i, o := range sc.Orders {
		switch {
		case o.ID != "o"+strconv.Itoa(i+1):
			t.Fatalf("order %d has id %s", i, o.ID)
		case i > 0 && o.Created.Before(sc.Orders[i-1].Created):
			t.Fatalf("order %s created before its predecessor", o.ID)
		case o.Created.Before(sc.Start) || !o.Created.Before(end) || o.Created.Truncate(time.Second) != o.Created:
			t.Fatalf("order %s created at %s, outside the day or not at a whole second", o.ID, o.Created)
		case o.Ready.Before(o.Created) || o.Ready.After(o.DeliverBy):
			t.Fatalf("order %s: ready %s, deliver by %s", o.ID, o.Ready, o.DeliverBy)
		case !o.DeliverBy.Equal(o.Created.Add(sc.Target)) && !isSlot(s, sc, o):
			t.Fatalf("order %s: deliver by %s is neither the promise nor a slot", o.ID, o.DeliverBy)
		case o.Size < 1 || o.Size > maxCap:
			t.Fatalf("order %s has size %d", o.ID, o.Size)
		}
		if o.StoreID == "" {
			if sc.Fulfil == nil || len(sc.Fulfil.Orders[i].Items) == 0 {
				t.Fatalf("order %s names neither a store nor items", o.ID)
			}
			if !within(o.Dropoff, s.City.RadiusKm+s.Demand.Dropoff.MaxKm) {
				t.Fatalf("order %s: drop-off %v out of reach of the city", o.ID, o.Dropoff)
			}
			continue
		}
		if d := geo.Geographic.Distance(stores[o.StoreID].Location, o.Dropoff); d > s.Demand.Dropoff.MaxKm*1000+1e-6 {
			t.Fatalf("order %s: drop-off %.1f m from its store, beyond max_km", o.ID, d)
		}
	}
	if sc.Fulfil != nil {
		checkFulfil(t, s, sc)
	}
}

// isSlot reports whether an order's promise is the end of a delivery slot after an opening of a store kind.
func isSlot(s *Spec, sc *sim.Scenario, o dispatch.OrderSpec) bool {
	if s.Promise.Slots == nil || sc.Fulfil == nil {
		return false
	}
	slot := time.Duration(s.Promise.Slots.SlotMin * float64(time.Minute))
	for _, st := range sc.Fulfil.Stores {
		if st.Hours == nil {
			continue
		}
		next := nextOpening(st.Hours, o.Created, o.Created.Add(sc.Target))
		if d := o.DeliverBy.Sub(next); !next.IsZero() && d > 0 && d%slot == 0 && d <= time.Duration(s.Promise.Slots.Count)*slot {
			return true
		}
	}
	return false
}

// checkFulfil checks the store side of a generated day.
func checkFulfil(t *testing.T, s *Spec, sc *sim.Scenario) {
	t.Helper()
	f := sc.Fulfil
	if len(f.Stores) != len(sc.Stores) || len(f.Orders) != len(sc.Orders) {
		t.Fatalf("fulfilment has %d stores and %d orders", len(f.Stores), len(f.Orders))
	}
	kinds := map[string]StoreKind{}
	for _, k := range s.Stores.Kinds {
		kinds[k.Kind] = k
	}
	for i, st := range f.Stores {
		k := kinds[st.Kind]
		switch {
		case st.Pickers != k.Pickers || (st.Hours == nil) != (len(k.Hours) == 0) || (st.Stock == nil) != (k.Stock == nil):
			t.Fatalf("store %s: %+v does not follow its kind %+v", sc.Stores[i].ID, st, k)
		case k.Stock != nil && len(st.Stock) == 0:
			t.Fatalf("store %s of a kind with stock stocks nothing", sc.Stores[i].ID)
		}
		for sku, n := range st.Stock {
			if n < 1 || !strings.HasPrefix(sku, "sku") {
				t.Fatalf("store %s: %d of %q", sc.Stores[i].ID, n, sku)
			}
		}
	}
	for _, r := range f.Restocks {
		if r.At.Before(sc.Start) || len(r.Level) == 0 {
			t.Fatalf("restock %+v", r)
		}
	}
	for i, side := range f.Orders {
		o := sc.Orders[i]
		items, err := fulfil.NormalizeItems(side.Items)
		if err != nil || !slices.Equal(items, side.Items) {
			t.Fatalf("order %s: items %v not normalized: %v", o.ID, side.Items, err)
		}
		if o.StoreID != "" && len(side.Items) > 0 {
			stock := f.Stores[slices.IndexFunc(sc.Stores, func(st dispatch.Store) bool { return st.ID == o.StoreID })].Stock
			for _, it := range side.Items {
				if stock[it.SKU] == 0 {
					t.Fatalf("order %s at %s asks for %s, which the store does not carry", o.ID, o.StoreID, it.SKU)
				}
			}
		}
		if !side.Collect && side.CollectAfter != 0 {
			t.Fatalf("order %s: a collection delay for a delivery", o.ID)
		}
		if s.Catalogue != nil && s.Catalogue.LinesMax > 0 && len(side.Items) > s.Catalogue.LinesMax {
			t.Fatalf("order %s: %d lines", o.ID, len(side.Items))
		}
	}
}

// countBetween counts the orders created in [from, to) (clock times of the scenario's day).
func countBetween(sc *sim.Scenario, from, to string) int {
	day := sc.Start.Truncate(24 * time.Hour)
	at := func(clock string) time.Time {
		t, _ := time.Parse("15:04", clock)
		return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
	}
	a, b := at(from), at(to)
	n := 0
	for _, o := range sc.Orders {
		if !o.Created.Before(a) && o.Created.Before(b) {
			n++
		}
	}
	return n
}

// testSeeds are the seeds of the statistical tests; their tolerances hold for any seed with overwhelming
// probability.
var testSeeds = []uint64{1, 2, 3}

func TestArrivalCurvePeaks(t *testing.T) {
	sc := generate(t, loadShipped(t, "city-day.json"), 1)
	lunch, afternoon := countBetween(sc, "11:30", "12:30"), countBetween(sc, "16:00", "17:00")
	dinner, promo, late := countBetween(sc, "18:00", "19:00"), countBetween(sc, "20:00", "21:00"), countBetween(sc, "21:00", "22:00")
	t.Logf("orders per hour: lunch %d, 16:00 %d, dinner %d, promotion %d, 21:00 %d", lunch, afternoon, dinner, promo, late)
	if lunch < 2*afternoon {
		t.Errorf("lunch hour has %d orders, 16:00 has %d: no lunch peak", lunch, afternoon)
	}
	if dinner < 2*afternoon {
		t.Errorf("dinner hour has %d orders, 16:00 has %d: no dinner peak", dinner, afternoon)
	}
	if promo < 2*late {
		t.Errorf("promotion hour has %d orders, 21:00 has %d: no surge", promo, late)
	}
}

func TestArrivalCountsFollowTheCurve(t *testing.T) {
	// Summed over seeds, the orders of each hour match the curve's expectation.
	s := loadShipped(t, "city-day.json")
	m, _ := s.resolve()
	const seeds = 5
	counts := make([]int, int(m.dayMin/60))
	for seed := range uint64(seeds) {
		sc := generate(t, s, seed)
		for _, o := range sc.Orders {
			counts[int(o.Created.Sub(sc.Start).Hours())]++
		}
	}
	scale := m.orders / m.curve.total()
	for h, n := range counts {
		want := seeds * scale * m.curve.integral(float64(h*60), float64(h*60+60))
		if math.Abs(float64(n)-want) > 5*math.Sqrt(want) {
			t.Errorf("hour %d: %d orders over %d seeds, want about %.0f", h, n, seeds, want)
		}
	}
}

func TestPrepTimes(t *testing.T) {
	s := loadShipped(t, "city-day.json")
	for _, seed := range testSeeds {
		sc := generate(t, s, seed)
		for _, k := range s.Stores.Kinds {
			var mins []float64
			for _, o := range sc.Orders {
				if strings.TrimRight(o.StoreID, "0123456789") == k.Prefix {
					mins = append(mins, o.Ready.Sub(o.Created).Minutes())
				}
			}
			if len(mins) < 200 {
				t.Fatalf("%s: only %d orders", k.Kind, len(mins))
			}
			slices.Sort(mins)
			// Allow four standard errors of the sample quantiles (in log scale: 1.2533·σ/√n for the median,
			// 1.7094·σ/√n for the 90th percentile).
			sigma, n := math.Log(k.Prep.P90Min/k.Prep.MedianMin)/z90, float64(len(mins))
			median, p90 := mins[len(mins)/2], mins[len(mins)*9/10]
			if math.Abs(math.Log(median/k.Prep.MedianMin)) > 4*1.2533*sigma/math.Sqrt(n) {
				t.Errorf("seed %d, %s: median prep %.2f min, want about %v", seed, k.Kind, median, k.Prep.MedianMin)
			}
			if math.Abs(math.Log(p90/k.Prep.P90Min)) > 4*1.7094*sigma/math.Sqrt(n) {
				t.Errorf("seed %d, %s: p90 prep %.2f min, want about %v", seed, k.Kind, p90, k.Prep.P90Min)
			}
			if mins[0] < k.Prep.MinMin || mins[len(mins)-1] > k.Prep.MaxMin {
				t.Errorf("seed %d, %s: prep from %.2f to %.2f min, outside [%v, %v]",
					seed, k.Kind, mins[0], mins[len(mins)-1], k.Prep.MinMin, k.Prep.MaxMin)
			}
		}
	}
}

func TestDemandShares(t *testing.T) {
	s := loadShipped(t, "city-day.json")
	for _, seed := range testSeeds {
		sc := generate(t, s, seed)
		n := make(map[string]int)
		for _, o := range sc.Orders {
			n[strings.TrimRight(o.StoreID, "0123456789")]++
		}
		for _, k := range s.Stores.Kinds {
			got := float64(n[k.Prefix]) / float64(len(sc.Orders))
			if math.Abs(got-k.DemandShare) > 0.03 {
				t.Errorf("seed %d, %s: %.3f of the orders, want about %v", seed, k.Kind, got, k.DemandShare)
			}
		}
	}
	// A kind with no share gets no orders.
	s = validSpec(t)
	s.Stores.Kinds[0].DemandShare, s.Stores.Kinds[1].DemandShare = 1, 0
	for _, o := range generate(t, s, 1).Orders {
		if strings.HasPrefix(o.StoreID, "c") || o.Size != 1 {
			t.Fatalf("order %s at %s of size %d: the kind has no demand", o.ID, o.StoreID, o.Size)
		}
	}
}

func TestDropoffDistances(t *testing.T) {
	s := loadShipped(t, "city-day.json")
	mean, limit := s.Demand.Dropoff.MeanKm*1000, s.Demand.Dropoff.MaxKm*1000
	// The mean of an exponential truncated at L is mean − L·e^(−L/mean)/(1 − e^(−L/mean)); its standard deviation
	// is below mean.
	want := mean - limit*math.Exp(-limit/mean)/(-math.Expm1(-limit/mean))
	for _, seed := range testSeeds {
		sc := generate(t, s, seed)
		loc := make(map[string]orb.Point)
		for _, st := range sc.Stores {
			loc[st.ID] = st.Location
		}
		var sum float64
		for _, o := range sc.Orders {
			d := geo.Geographic.Distance(loc[o.StoreID], o.Dropoff)
			if d > limit+1e-6 {
				t.Fatalf("seed %d, order %s: drop-off %.1f m from the store, beyond %v m", seed, o.ID, d, limit)
			}
			sum += d
		}
		n := float64(len(sc.Orders))
		if got := sum / n; math.Abs(got-want) > 5*mean/math.Sqrt(n) {
			t.Errorf("seed %d: mean drop-off distance %.0f m, want about %.0f m", seed, got, want)
		}
	}
}

func TestPopularitySkew(t *testing.T) {
	s := loadShipped(t, "city-day.json")
	sc := generate(t, s, 1)
	n := make(map[string]int)
	for _, o := range sc.Orders {
		n[o.StoreID]++
	}
	// With popularity_sigma 0.8 the busiest restaurant takes several times the average.
	k := s.Stores.Kinds[0]
	busiest := 0
	for i := 1; i <= k.Count; i++ {
		busiest = max(busiest, n[k.Prefix+strconv.Itoa(i)])
	}
	avg := float64(len(sc.Orders)) * k.DemandShare / float64(k.Count)
	if float64(busiest) < 2*avg {
		t.Errorf("busiest restaurant has %d orders, average %.1f: no popularity skew", busiest, avg)
	}
}

func TestCouriersStartInDistricts(t *testing.T) {
	s := validSpec(t)
	s.Couriers.StartAt = "district"
	s.Couriers.Shifts[0].Count = 200
	sc := generate(t, s, 5)
	g := &generator{m: mustResolve(t, s)}
	g.placeDistricts(rand.New(rand.NewPCG(5, streamStores)))
	for _, c := range sc.Couriers {
		near := false
		for _, d := range g.districts {
			near = near || geo.Geographic.Distance(d, c.Location) <= s.Stores.DistrictRadiusKm*1000+1e-6
		}
		if !near {
			t.Fatalf("courier %s at %v is in no district", c.Courier.ID, c.Location)
		}
	}
}

func mustResolve(t *testing.T, s *Spec) *model {
	t.Helper()
	m, errs := s.resolve()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return m
}

func TestPick(t *testing.T) {
	cum := []float64{0, 1, 1, 3, 3} // weights 0, 1, 0, 2, 0
	for _, tt := range []struct {
		u    float64
		want int
	}{{0, 1}, {0.2, 1}, {1.0 / 3, 3}, {0.5, 3}, {math.Nextafter(1, 0), 3}, {1, 3}} {
		if got := pick(cum, tt.u); got != tt.want {
			t.Errorf("pick(%v) = %d, want %d", tt.u, got, tt.want)
		}
	}
}

func TestDestination(t *testing.T) {
	for _, p := range []orb.Point{{120.15, 30.27}, {-0.1, 51.5}, {179.99, -45}, {10, 84}} {
		for _, d := range []float64{0, 10, 1234.5, 8000, 50000} {
			for _, b := range []float64{0, 1, 2.5, 4, 6} {
				q := destination(p, d, b)
				if err := geo.Geographic.Validate(q); err != nil {
					t.Fatal(err)
				}
				if got := geo.Geographic.Distance(p, q); math.Abs(got-d) > 1e-6*max(d, 1) {
					t.Errorf("destination(%v, %v, %v) is %v m away", p, d, b, got)
				}
			}
		}
	}
}

func TestCurveIntegral(t *testing.T) {
	s := loadShipped(t, "city-day.json")
	c := mustResolve(t, s).curve
	// Midpoint rule on a fine grid against the closed form.
	var sum float64
	const step = 0.01
	for x := step / 2; x < c.length; x += step {
		sum += c.rate(x) * step
	}
	if total := c.total(); math.Abs(sum-total) > 1e-4*total {
		t.Errorf("integral %v, numerically %v", total, sum)
	}
	for _, p := range c.envelope() {
		for x := p.from; x < p.to; x += 0.05 {
			if c.rate(x) > p.bound {
				t.Fatalf("rate %v at %v above the envelope %v of [%v, %v)", c.rate(x), x, p.bound, p.from, p.to)
			}
		}
	}
}

package synth

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/sim"
)

// The PCG streams of the three independent draws. Stores (and district centres), couriers and orders each have
// their own generator, so that changing the shifts does not move a single store or order, and changing the demand
// does not move the stores.
const (
	streamStores   = 0x5354_4f52_4553_0001 // "STORES"
	streamCouriers = 0x434f_5552_4945_0002 // "COURIE"
	streamOrders   = 0x4f52_4445_5253_0003 // "ORDERS"
	// The store side has streams of its own, so that a spec without it draws exactly what it always did, and
	// adding it moves no store, courier or order.
	streamStock  = 0x5354_4f43_4b00_0004 // "STOCK"
	streamFulfil = 0x4655_4c46_494c_0005 // "FULFIL": each order's items, collection and slot
)

// Generate draws the scenario that s describes for seed, after validating s. It is deterministic: the same spec and
// seed give an identical Scenario with a given Go release on a given architecture (across architectures the math
// functions, and the compiler's use of fused multiply-add, may differ in the last bit, which can move a draw).
//
// Stores get ids prefix1, prefix2, ... per kind, couriers k1, k2, ... in the order of the shift groups, orders
// o1, o2, ... in order of creation. Orders are created within the day's window at whole seconds; Ready is Created
// plus the preparation time and DeliverBy is Created plus the promise (or a slot's end, see Spec.Promise). The
// scenario uses the geographic space, the straight-line travel model with its default speeds, and
// dispatch.DefaultConfig() with the spec's service times; with fulfilment, Fulfil holds the store side.
func Generate(s *Spec, seed uint64) (*sim.Scenario, error) {
	return GenerateOn(s, seed, nil)
}

// Roads is what generating a scenario on a road map needs: the map's travel model, and a way to put a drawn point
// on its roads.
type Roads interface {
	geo.TravelModel
	// OnRoad returns the place on the roads nearest p, or an error when p lies farther than the map allows from
	// every road (in the sea, say).
	OnRoad(p orb.Point) (orb.Point, error)
}

// maxRoadDraws bounds how often a place is drawn again because it fell off the roads.
const maxRoadDraws = 64

// GenerateOn is Generate on a road map: stores, couriers' starting places and drop-offs are drawn as Generate
// draws them, then put on the nearest road; a place that falls off the map's roads is drawn again. The scenario
// then travels on the map. With roads nil it is Generate. The city of the spec must overlap the map's area.
func GenerateOn(s *Spec, seed uint64, roads Roads) (*sim.Scenario, error) {
	m, errs := s.resolve()
	if len(errs) > 0 {
		return nil, s.Validate()
	}
	cfg := dispatch.DefaultConfig()
	cfg.PickupService = m.pickupSvc
	cfg.DropoffService = m.dropoffSvc
	sc := &sim.Scenario{
		Name:           m.name,
		Start:          m.start,
		Space:          geo.Geographic,
		Travel:         geo.NewStraightLine(geo.Geographic),
		Config:         cfg,
		TickEvery:      m.tick,
		Target:         m.target,
		MaxClickToDoor: m.maxC2D,
		PayPerOrder:    m.payPerOrder,
		PayPerHour:     m.payPerHour,
	}

	g := &generator{m: m, roads: roads}
	if roads != nil {
		sc.Travel = roads
	}
	rs := rand.New(rand.NewPCG(seed, streamStores))
	g.placeDistricts(rs)
	sc.Stores = g.placeStores(rs)
	sc.Couriers = g.shifts(rand.New(rand.NewPCG(seed, streamCouriers)))
	sc.Orders = g.orders(rand.New(rand.NewPCG(seed, streamOrders)), sc.Stores)
	if g.offRoad != nil {
		return nil, g.offRoad
	}
	if m.fulfil {
		sc.Fulfil = g.fulfilment(sc, seed)
	}

	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("synth: generated an invalid scenario (a bug): %w", err)
	}
	return sc, nil
}

type generator struct {
	m     *model
	roads Roads
	// offRoad is the first place that could not be put on the roads in maxRoadDraws draws.
	offRoad   error
	districts []orb.Point
	// Per kind: the index in the scenario's store list of its first store, and the cumulative popularity weights.
	firstStore []int
	popCum     [][]float64
	kindCum    []float64
	// Per store, with stock: the products it carries and their cumulative popularity (the store's own shelf).
	shelf    [][]string
	shelfCum [][]float64
}

func (g *generator) placeDistricts(r *rand.Rand) {
	for range g.m.districts {
		g.districts = append(g.districts, inDisc(r, g.m.centre, max(g.m.radiusM-g.m.districtR, 0)))
	}
}

// somewhere returns a point uniform in the city, or in a random district when inDistrict.
func (g *generator) somewhere(r *rand.Rand, inDistrict bool) orb.Point {
	return g.onRoad(func() orb.Point {
		if inDistrict && len(g.districts) > 0 {
			return inDisc(r, g.districts[r.IntN(len(g.districts))], g.m.districtR)
		}
		return inDisc(r, g.m.centre, g.m.radiusM)
	})
}

// onRoad returns draw() without a map; on a map, the nearest place on the roads to the first drawn point that has
// one. Draws without a map consume the random stream exactly as before maps existed, so a scenario and seed give
// the same day they always did.
func (g *generator) onRoad(draw func() orb.Point) orb.Point {
	if g.roads == nil {
		return draw()
	}
	var p orb.Point
	var err error
	for range maxRoadDraws {
		p = draw()
		var on orb.Point
		if on, err = g.roads.OnRoad(p); err == nil {
			return on
		}
	}
	if g.offRoad == nil {
		g.offRoad = fmt.Errorf("synth: no road near the places drawn around %.5f,%.5f (lat,lon) in %d draws: does the map cover the city of the scenario? %w",
			p[1], p[0], maxRoadDraws, err)
	}
	return p
}

func (g *generator) placeStores(r *rand.Rand) []dispatch.Store {
	var stores []dispatch.Store
	var cum float64
	for _, k := range g.m.kinds {
		g.firstStore = append(g.firstStore, len(stores))
		weights := make([]float64, k.count)
		var w float64
		for i := range k.count {
			spread := len(g.districts) == 0 || r.Float64() < g.m.spread
			stores = append(stores, dispatch.Store{
				ID:       k.prefix + strconv.Itoa(i+1),
				Name:     k.kind + " " + strconv.Itoa(i+1),
				Location: g.somewhere(r, !spread),
			})
			pop := 1.0
			if k.popSigma > 0 {
				pop = math.Exp(k.popSigma*r.NormFloat64() - k.popSigma*k.popSigma/2)
			}
			w += pop
			weights[i] = w
		}
		g.popCum = append(g.popCum, weights)
		cum += k.share
		g.kindCum = append(g.kindCum, cum)
	}
	return stores
}

func (g *generator) shifts(r *rand.Rand) []sim.Shift {
	var out []sim.Shift
	for i, s := range g.m.shifts {
		for j := range s.count {
			id := "k" + strconv.Itoa(len(out)+1)
			out = append(out, sim.Shift{
				Courier: dispatch.CourierSpec{
					ID:       id,
					Name:     g.m.shiftLabels[i] + " #" + strconv.Itoa(j+1),
					Vehicle:  s.vehicle,
					Capacity: s.capacity,
				},
				Location: g.somewhere(r, g.m.atDistrict),
				On:       s.on,
				Off:      s.off,
			})
		}
	}
	return out
}

// orders draws the arrivals by thinning a non-homogeneous Poisson process against a piecewise-constant envelope,
// then each order's store, preparation time, drop-off and size.
func (g *generator) orders(r *rand.Rand, stores []dispatch.Store) []dispatch.OrderSpec {
	c := &g.m.curve
	scale := g.m.orders / c.total() // orders per minute per unit of relative rate
	var out []dispatch.OrderSpec
	for _, p := range c.envelope() {
		bound := p.bound * scale
		if !(bound > 0) {
			continue
		}
		for x := p.from; ; {
			x += r.ExpFloat64() / bound
			if x >= p.to {
				break
			}
			if r.Float64()*bound >= c.rate(x)*scale {
				continue
			}
			out = append(out, g.order(r, stores, len(out)+1, x))
		}
	}
	return out
}

func (g *generator) order(r *rand.Rand, stores []dispatch.Store, n int, x float64) dispatch.OrderSpec {
	ki := pick(g.kindCum, r.Float64())
	k := &g.m.kinds[ki]
	store := stores[g.firstStore[ki]+pick(g.popCum[ki], r.Float64())]
	created := g.m.start.Add(time.Duration(math.Floor(x*60)) * time.Second)
	prep := time.Duration(math.Round(k.prep.draw(r)*60)) * time.Second
	dropoff := g.onRoad(func() orb.Point {
		dist := truncatedExp(r.Float64(), g.m.dropMeanM, g.m.dropMaxM)
		return destination(store.Location, dist, 2*math.Pi*r.Float64())
	})
	o := dispatch.OrderSpec{
		ID:        "o" + strconv.Itoa(n),
		StoreID:   store.ID,
		Dropoff:   dropoff,
		Created:   created,
		Ready:     created.Add(min(prep, g.m.target)), // prep <= target but for rounding to the second
		DeliverBy: created.Add(g.m.target),
		Size:      1,
	}
	if k.sizeCum != nil {
		o.Size = k.sizes[pick(k.sizeCum, r.Float64())]
	}
	return o
}

// pick returns an index drawn with probability proportional to its weight, given the cumulative weights and u in
// [0, 1): the first i with cum[i] > u·total. Zero-weight entries are never drawn.
func pick(cum []float64, u float64) int {
	target := u * cum[len(cum)-1]
	i := sort.Search(len(cum), func(i int) bool { return cum[i] > target })
	if i == len(cum) { // u·total rounded up to total: take the last entry with weight
		i--
		for i > 0 && cum[i] == cum[i-1] {
			i--
		}
	}
	return i
}

// draw returns a preparation time in minutes.
func (p *prepModel) draw(r *rand.Rand) float64 {
	if p.sigma == 0 {
		return min(max(math.Exp(p.mu), p.lo), p.hi)
	}
	cdf := func(x float64) float64 {
		if x <= 0 {
			return 0
		}
		return 0.5 * math.Erfc(-(math.Log(x)-p.mu)/(p.sigma*math.Sqrt2))
	}
	lo, hi := cdf(p.lo), cdf(p.hi)
	u := lo + r.Float64()*(hi-lo)
	x := math.Exp(p.mu + p.sigma*math.Sqrt2*math.Erfinv(2*u-1))
	return min(max(x, p.lo), p.hi)
}

// median is the preparation time's median in minutes, within the bounds.
func (p *prepModel) median() float64 { return min(max(math.Exp(p.mu), p.lo), p.hi) }

// truncatedExp maps u in [0, 1) to an exponential distance with the given mean, truncated to [0, limit), by
// inverse transform.
func truncatedExp(u, mean, limit float64) float64 {
	d := -mean * math.Log1p(u*math.Expm1(-limit/mean))
	return min(max(d, 0), limit)
}

// inDisc returns a point uniform in the disc of radius metres around centre.
func inDisc(r *rand.Rand, centre orb.Point, radius float64) orb.Point {
	d := radius * math.Sqrt(r.Float64())
	return destination(centre, d, 2*math.Pi*r.Float64())
}

// destination returns the point at great-circle distance d metres from p in the direction bearing (radians
// clockwise from north), on the sphere geo.Geographic measures on.
func destination(p orb.Point, d, bearing float64) orb.Point {
	lat1, lon1 := p[1]*math.Pi/180, p[0]*math.Pi/180
	delta := d / orb.EarthRadius
	sinLat2 := math.Sin(lat1)*math.Cos(delta) + math.Cos(lat1)*math.Sin(delta)*math.Cos(bearing)
	sinLat2 = min(max(sinLat2, -1), 1)
	lat2 := math.Asin(sinLat2)
	lon2 := lon1 + math.Atan2(math.Sin(bearing)*math.Sin(delta)*math.Cos(lat1), math.Cos(delta)-math.Sin(lat1)*sinLat2)
	lon := lon2 * 180 / math.Pi
	lon = math.Mod(lon+540, 360) - 180 // into [-180, 180)
	return orb.Point{lon, lat2 * 180 / math.Pi}
}

// fulfilment draws the store side: each store's setup and opening stock, the restocks, and each order's items,
// collection and delivery slot. It may change an order's store (empty: the order names only its items) and
// promise (a slot's end).
func (g *generator) fulfilment(sc *sim.Scenario, seed uint64) *sim.Fulfilment {
	m := g.m
	cfg := fulfil.DefaultConfig(sc.Travel)
	// A courier waiting at the store hands over half a service after the order is ready and reaches the door half
	// a service before the drop-off: the ride estimate adds half of each.
	cfg.Handling = (m.pickupSvc + m.dropoffSvc) / 2
	if m.searchM > 0 {
		cfg.SearchRadius = m.searchM
	}
	if m.candidates > 0 {
		cfg.Candidates = m.candidates
	}
	f := &sim.Fulfilment{Config: cfg}
	rs := rand.New(rand.NewPCG(seed, streamStock))
	kindOf := make([]int, 0, len(sc.Stores))
	g.shelf, g.shelfCum = make([][]string, len(sc.Stores)), make([][]float64, len(sc.Stores))
	for ki := range m.kinds {
		k := &m.kinds[ki]
		for i := range k.count {
			idx := g.firstStore[ki] + i
			kindOf = append(kindOf, ki)
			setup := sim.StoreSetup{Kind: k.kind, Pickers: k.pickers, Hours: k.hours,
				Prep: time.Duration(math.Round(k.prep.median()*60)) * time.Second}
			if k.stock != nil && m.catalogue != nil {
				setup.Stock = g.stock(rs, k.stock, idx)
				for _, at := range k.restock {
					f.Restocks = append(f.Restocks, sim.Restock{At: at, StoreID: sc.Stores[idx].ID, Level: maps.Clone(setup.Stock)})
				}
			}
			f.Stores = append(f.Stores, setup)
		}
	}
	ro := rand.New(rand.NewPCG(seed, streamFulfil))
	index := make(map[string]int, len(sc.Stores))
	for i, st := range sc.Stores {
		index[st.ID] = i
	}
	for i := range sc.Orders {
		o := &sc.Orders[i]
		store := index[o.StoreID]
		f.Orders = append(f.Orders, g.orderSide(ro, o, store, &m.kinds[kindOf[store]]))
	}
	return f
}

// stock draws a store's opening stock and remembers its shelf.
func (g *generator) stock(r *rand.Rand, sm *stockModel, store int) map[string]int {
	cat := g.m.catalogue
	stock := make(map[string]int)
	var sum float64
	for k, sku := range cat.skus {
		carried := r.Float64() < sm.assortment
		z := r.NormFloat64()
		if !carried {
			continue
		}
		units := math.Round(math.Exp(sm.mu + sm.follow*math.Log(cat.relPop[k]) + sm.sigma*z))
		if !(units >= 1) {
			continue
		}
		stock[sku] = int(min(units, maxStock))
		sum += cat.relPop[k]
		g.shelf[store] = append(g.shelf[store], sku)
		g.shelfCum[store] = append(g.shelfCum[store], sum)
	}
	return stock
}

// maxStock caps a product's stock at a store.
const maxStock = 1_000_000

// orderSide draws an order's items (from its store's shelf, or from the catalogue when it names only its items),
// whether the customer collects it, and the slot booked when its store is closed.
func (g *generator) orderSide(r *rand.Rand, o *dispatch.OrderSpec, store int, k *kindModel) sim.OrderSetup {
	m := g.m
	var side sim.OrderSetup
	if cat := m.catalogue; cat != nil && k.stock != nil {
		skus, cum := g.shelf[store], g.shelfCum[store]
		if r.Float64() < m.byItems {
			o.StoreID = ""
			skus, cum = cat.skus, cat.popCum
		}
		side.Items = g.items(r, skus, cum)
	}
	if c := m.collect; c != nil && r.Float64() < c.share {
		side.Collect = true
		side.CollectAfter = time.Duration(math.Round(c.delay.draw(r)*60)) * time.Second
	}
	if sl := m.slots; sl != nil && k.hours != nil {
		if next := nextOpening(k.hours, o.Created, o.DeliverBy); !next.IsZero() && r.Float64() < sl.share {
			var ends []time.Time
			for j := 1; j <= sl.count; j++ {
				if end := next.Add(time.Duration(j) * sl.length); !end.Before(o.Ready) {
					ends = append(ends, end)
				}
			}
			if len(ends) > 0 {
				j := r.IntN(len(ends))
				o.DeliverBy = ends[j]
				side.Later = slices.Clone(ends[j+1:])
			}
		}
	}
	return side
}

// nextOpening is when a customer at created, promised by deliverBy, could be served by a store with hours h that
// is closed then or closes before the promise: its next opening. It is zero when the store is open for the whole
// promise, or never opens.
func nextOpening(h *fulfil.Hours, created, deliverBy time.Time) time.Time {
	open, close, ok := h.Window(created)
	switch {
	case !ok:
		return time.Time{}
	case open.After(created):
		return open
	case close.IsZero() || !close.Before(deliverBy):
		return time.Time{}
	}
	next, _, ok := h.Window(close)
	if !ok {
		return time.Time{}
	}
	return next
}

// items draws an order's lines from products with cumulative popularity cum: 1 + Poisson(lines_mean − 1) lines
// (at most lines_max), each 1 + Poisson(qty_mean − 1) units (at most qty_max), merged by product. No products: no
// items.
func (g *generator) items(r *rand.Rand, skus []string, cum []float64) []fulfil.Item {
	if len(skus) == 0 {
		return nil
	}
	cat := g.m.catalogue
	lines := min(cat.linesMax, 1+poisson(r, cat.linesMean-1))
	out := make([]fulfil.Item, 0, lines)
	for range lines {
		out = append(out, fulfil.Item{SKU: skus[pick(cum, r.Float64())], Qty: min(cat.qtyMax, 1+poisson(r, cat.qtyMean-1))})
	}
	items, err := fulfil.NormalizeItems(out)
	if err != nil {
		panic(fmt.Sprintf("synth: items out of the validated bounds (a bug): %v", err))
	}
	return items
}

// poisson draws a Poisson variate of mean lambda (Knuth's method: the means here are small).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	limit, p, k := math.Exp(-lambda), 1.0, 0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
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
)

// Generate draws the scenario that s describes for seed, after validating s. It is deterministic: the same spec and
// seed give an identical Scenario with a given Go release on a given architecture (across architectures the math
// functions, and the compiler's use of fused multiply-add, may differ in the last bit, which can move a draw).
//
// Stores get ids prefix1, prefix2, ... per kind, couriers k1, k2, ... in the order of the shift groups, orders
// o1, o2, ... in order of creation. Orders are created within the day's window at whole seconds; Ready is Created
// plus the preparation time and DeliverBy is Created plus the promise. The scenario uses the geographic space, the
// straight-line travel model with its default speeds, and dispatch.DefaultConfig() with the spec's service times.
func Generate(s *Spec, seed uint64) (*sim.Scenario, error) {
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

	g := &generator{m: m}
	rs := rand.New(rand.NewPCG(seed, streamStores))
	g.placeDistricts(rs)
	sc.Stores = g.placeStores(rs)
	sc.Couriers = g.shifts(rand.New(rand.NewPCG(seed, streamCouriers)))
	sc.Orders = g.orders(rand.New(rand.NewPCG(seed, streamOrders)), sc.Stores)

	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("synth: generated an invalid scenario (a bug): %w", err)
	}
	return sc, nil
}

type generator struct {
	m         *model
	districts []orb.Point
	// Per kind: the index in the scenario's store list of its first store, and the cumulative popularity weights.
	firstStore []int
	popCum     [][]float64
	kindCum    []float64
}

func (g *generator) placeDistricts(r *rand.Rand) {
	for range g.m.districts {
		g.districts = append(g.districts, inDisc(r, g.m.centre, max(g.m.radiusM-g.m.districtR, 0)))
	}
}

// somewhere returns a point uniform in the city, or in a random district when inDistrict.
func (g *generator) somewhere(r *rand.Rand, inDistrict bool) orb.Point {
	if inDistrict && len(g.districts) > 0 {
		return inDisc(r, g.districts[r.IntN(len(g.districts))], g.m.districtR)
	}
	return inDisc(r, g.m.centre, g.m.radiusM)
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
	dist := truncatedExp(r.Float64(), g.m.dropMeanM, g.m.dropMaxM)
	o := dispatch.OrderSpec{
		ID:        "o" + strconv.Itoa(n),
		StoreID:   store.ID,
		Dropoff:   destination(store.Location, dist, 2*math.Pi*r.Float64()),
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

package roads

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// The interfaces the network offers the engine, the daemon and the simulator.
var (
	_ geo.TravelModel  = (*Network)(nil)
	_ geo.BatchModel   = (*Network)(nil)
	_ geo.PathModel    = (*Network)(nil)
	_ geo.PointChecker = (*Network)(nil)
)

// ErrNoRoute is returned by Path for two points that no trip on the profile's roads joins.
var ErrNoRoute = errors.New("roads: no route between the points")

// walkMPS is WalkKMH in metres per second.
const walkMPS = WalkKMH / 3.6

// tripDuration is the time of a trip that costs ms on the profile's graph (times scale, see scaleOf) plus
// offMetres walked between the points and their places on the road. Every answer of the network goes through
// it, which is what makes a batch's answers equal the single pair's.
func tripDuration(ms uint32, scale, offMetres float64) time.Duration {
	s := float64(ms)*scale/1000 + offMetres/walkMPS
	if !(s < maxTripSeconds) { // also NaN
		return math.MaxInt64
	}
	return time.Duration(math.Round(math.Max(s, 0) * float64(time.Second)))
}

// maxTripSeconds is where durations saturate: 285 years, well inside time.Duration's 292.
const maxTripSeconds = 9e9

// best combines the hierarchy's answer with the direct trip along a shared edge.
func (net *Network) best(a, b snapped, g int, w, l uint32, ok bool) (uint32, uint32, bool) {
	if dw, dl, dok := net.direct(a, b, g); dok && (!ok || dw <= w) {
		return dw, dl, true
	}
	return w, l, ok
}

// route is the trip between two snapped points on graph g.
func (net *Network) route(a, b snapped, g int) (weight, length uint32, ok bool) {
	if !a.ok || !b.ok {
		return 0, 0, false
	}
	gr := net.graphs[g]
	var sb, tb [4]ch.Seed
	var ss, ts [4]seedSide
	src, _ := net.seeds(a, g, true, sb[:0], ss[:0])
	dst, _ := net.seeds(b, g, false, tb[:0], ts[:0])
	q := gr.query()
	w, l, ok := q.Route(src, dst)
	gr.pool.Put(q)
	return net.best(a, b, g, w, l, ok)
}

// TravelTime returns the time of the fastest trip from one point to another for profile p: the walk from the
// first point to its place on p's nearest road, the ride, and the walk from the road to the second point.
// Unreachable pairs and invalid points give the largest duration. It panics if p is not a defined profile,
// which is a programming error.
func (net *Network) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	if !p.Valid() {
		panic(fmt.Sprintf("roads: Network.TravelTime with undefined profile %d", uint8(p)))
	}
	if geo.Geographic.Validate(from) != nil || geo.Geographic.Validate(to) != nil {
		return math.MaxInt64
	}
	g := graphOf(p)
	a, b := net.snap(from, g), net.snap(to, g)
	w, _, ok := net.route(a, b, g)
	if !ok {
		return math.MaxInt64
	}
	return tripDuration(w, scaleOf(p), a.off+b.off)
}

// Table returns the durations and metres of the fastest trips from every source to every target for profile p,
// row-major (sources[i] → targets[j] at i*len(targets)+j), computed as TravelTime computes one pair. Metres
// count the ride and both walks. An unreachable pair has the largest duration and +Inf metres. A point that
// CheckPoint refuses fails the call with a *geo.PointError naming it (list "sources" or "destinations").
func (net *Network) Table(sources, targets []orb.Point, p geo.Profile) ([]time.Duration, []float64, error) {
	if !p.Valid() {
		return nil, nil, fmt.Errorf("roads: undefined vehicle profile %d", uint8(p))
	}
	g := graphOf(p)
	snapAll := func(list string, pts []orb.Point, source bool) ([]snapped, [][]ch.Seed, error) {
		sn := make([]snapped, len(pts))
		seeds := make([][]ch.Seed, len(pts))
		check := net.checkGraph()
		for i, pt := range pts {
			s, err := net.checkSnap(pt)
			if err != nil {
				return nil, nil, &geo.PointError{List: list, Index: i, Err: err}
			}
			if g != check {
				s = net.snap(pt, g)
			}
			sn[i] = s
			seeds[i], _ = net.seeds(sn[i], g, source, nil, nil)
		}
		return sn, seeds, nil
	}
	sa, sseeds, err := snapAll("sources", sources, true)
	if err != nil {
		return nil, nil, err
	}
	ta, tseeds, err := snapAll("destinations", targets, false)
	if err != nil {
		return nil, nil, err
	}
	dur := make([]time.Duration, len(sources)*len(targets))
	metres := make([]float64, len(dur))
	if len(dur) == 0 {
		return dur, metres, nil
	}
	ws, ls := net.graphs[g].h.Table(sseeds, tseeds)
	for i := range sources {
		for j := range targets {
			k := i*len(targets) + j
			w, l, ok := net.best(sa[i], ta[j], g, ws[k], ls[k], ws[k] != ch.Unreachable)
			if !ok {
				dur[k], metres[k] = math.MaxInt64, math.Inf(1)
				continue
			}
			off := sa[i].off + ta[j].off
			dur[k] = tripDuration(w, scaleOf(p), off)
			metres[k] = float64(l)/10 + off
		}
	}
	return dur, metres, nil
}

// Path returns the trip from one point to another for profile p: the road geometry from the first point's place
// on the road to the second's, its duration (as TravelTime) and its metres (the ride and both walks). It fails
// with a *geo.PointError for a point that CheckPoint refuses and with ErrNoRoute when nothing joins the points.
func (net *Network) Path(from, to orb.Point, p geo.Profile) (geo.Path, error) {
	if !p.Valid() {
		return geo.Path{}, fmt.Errorf("roads: undefined vehicle profile %d", uint8(p))
	}
	for i, pt := range [2]orb.Point{from, to} {
		if err := net.CheckPoint(pt); err != nil {
			return geo.Path{}, &geo.PointError{List: [2]string{"from", "to"}[i], Index: 0, Err: err}
		}
	}
	g := graphOf(p)
	gr := net.graphs[g]
	a, b := net.snap(from, g), net.snap(to, g)
	var sb, tb [4]ch.Seed
	var ss, ts [4]seedSide
	src, srcSide := net.seeds(a, g, true, sb[:0], ss[:0])
	dst, dstSide := net.seeds(b, g, false, tb[:0], ts[:0])
	q := gr.query()
	arcs, fi, ti, w, l, ok := q.Path(src, dst)
	gr.pool.Put(q)
	dw, dl, dok := net.direct(a, b, g)
	var line orb.LineString
	switch {
	case dok && (!ok || dw <= w):
		w, l = dw, dl
		line = net.piece(a.edge, a.frac, b.frac, line)
	case ok:
		e := a.edge
		if srcSide[fi] == atTo {
			line = net.piece(e, a.frac, 1, line)
		} else {
			line = net.piece(e, a.frac, 0, line)
		}
		for _, arc := range arcs {
			if base := gr.chBase[arc]; base >= 0 {
				line = net.piece(base, 0, 1, line)
			} else {
				line = net.piece(^base, 1, 0, line)
			}
		}
		if dstSide[ti] == atFrom {
			line = net.piece(b.edge, 0, b.frac, line)
		} else {
			line = net.piece(b.edge, 1, b.frac, line)
		}
	default:
		return geo.Path{}, ErrNoRoute
	}
	if len(line) < 2 {
		line = nil
	}
	off := a.off + b.off
	return geo.Path{Points: line, Metres: float64(l)/10 + off, Duration: tripDuration(w, scaleOf(p), off)}, nil
}

// pointAt returns the point at fraction f of edge e's length and the index in shape of the segment it lies on.
func (net *Network) pointAt(e int32, f float64) (orb.Point, uint32) {
	lo, hi := net.geomOff[e], net.geomOff[e+1]
	target := f * net.metres[e]
	var along float64
	for i := lo; i+1 < hi; i++ {
		d := geo.Geographic.Distance(net.shape[i], net.shape[i+1])
		if along+d >= target || i+2 == hi {
			t := 0.0
			if d > 0 {
				t = math.Max(0, math.Min(1, (target-along)/d))
			}
			a, b := net.shape[i], net.shape[i+1]
			return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}, i
		}
		along += d
	}
	return net.shape[lo], lo
}

// piece appends to line the part of edge e from fraction f0 to f1 (backwards along the edge when f1 < f0),
// leaving out a first point equal to line's last.
func (net *Network) piece(e int32, f0, f1 float64, line orb.LineString) orb.LineString {
	add := func(p orb.Point) {
		if len(line) == 0 || line[len(line)-1] != p {
			line = append(line, p)
		}
	}
	p0, s0 := net.pointAt(e, f0)
	p1, s1 := net.pointAt(e, f1)
	add(p0)
	if f1 >= f0 {
		for i := s0 + 1; i <= s1; i++ {
			add(net.shape[i])
		}
	} else {
		for i := s0; i > s1; i-- {
			add(net.shape[i])
		}
	}
	add(p1)
	return line
}

// Batch prepares the pairs sources × targets for the given profiles (see geo.BatchModel): each distinct point is
// snapped once per graph, and its search space (forward as a source, backward as a target) is computed the
// first time a pair asks for it, then shared by every pair it is in, and kept in a bounded cache for the batches
// that follow (see Options.SpaceCacheEntries); each pair's trip is kept the same way (Options.TripCacheEntries). A
// pair outside the batch is answered by the network itself. The result is safe for concurrent use.
func (net *Network) Batch(sources, targets []orb.Point, profiles []geo.Profile) geo.TravelModel {
	b := &batch{net: net, src: make(map[orb.Point]int32, len(sources)), dst: make(map[orb.Point]int32, len(targets)),
		trips: net.trips}
	if b.trips == nil {
		b.trips = newTripCache(math.MaxInt)
	}
	for _, pt := range sources {
		if _, ok := b.src[pt]; !ok {
			b.src[pt] = int32(len(b.srcPts))
			b.srcPts = append(b.srcPts, pt)
		}
	}
	for _, pt := range targets {
		if _, ok := b.dst[pt]; !ok {
			b.dst[pt] = int32(len(b.dstPts))
			b.dstPts = append(b.dstPts, pt)
		}
	}
	for _, p := range profiles {
		if !p.Valid() {
			continue
		}
		g := graphOf(p)
		if b.fwd[g] == nil {
			b.fwd[g] = make([]lazySpace, len(b.srcPts))
			b.bwd[g] = make([]lazySpace, len(b.dstPts))
		}
	}
	return b
}

// batch is the result of Network.Batch.
type batch struct {
	net      *Network
	src, dst map[orb.Point]int32
	srcPts   []orb.Point
	dstPts   []orb.Point
	fwd, bwd [numGraphs][]lazySpace
	trips    *tripCache // the network's, or the batch's own when the network keeps none
}

// lazySpace is a point's snap and search space on one graph, computed on first use.
type lazySpace struct {
	once sync.Once
	e    *spaceEntry
}

func (b *batch) space(g int, i int32, source bool) *spaceEntry {
	var ls *lazySpace
	var pt orb.Point
	if source {
		ls, pt = &b.fwd[g][i], b.srcPts[i]
	} else {
		ls, pt = &b.bwd[g][i], b.dstPts[i]
	}
	ls.once.Do(func() {
		net := b.net
		key := spaceKey{pt: pt, graph: int8(g), forward: source}
		if ls.e = net.cache.get(key); ls.e != nil {
			return
		}
		ls.e = &spaceEntry{}
		if geo.Geographic.Validate(pt) != nil {
			return
		}
		gr := net.graphs[g]
		// The point's place on the graph is the same both ways: the other side's, when kept, spares a snap.
		if other := net.cache.peek(spaceKey{pt: pt, graph: int8(g), forward: !source}); other != nil {
			ls.e.s = other.s
		} else {
			ls.e.s = net.snap(pt, g)
		}
		var sb [4]ch.Seed
		var ss [4]seedSide
		seeds, _ := net.seeds(ls.e.s, g, source, sb[:0], ss[:0])
		q := gr.query()
		if source {
			ls.e.space = q.Forward(seeds)
		} else {
			ls.e.space = q.Backward(seeds)
		}
		gr.pool.Put(q)
		net.cache.put(key, ls.e)
	})
	return ls.e
}

// TravelTime answers a pair of the batch from the two points' search spaces, and any other pair as the network
// does; the answers are the same. A pair's trip on its graph is kept (see Options.TripCacheEntries) for later
// questions about it, in this batch and the next ones, for every profile that travels on that graph.
func (b *batch) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	if !p.Valid() {
		panic(fmt.Sprintf("roads: batch TravelTime with undefined profile %d", uint8(p)))
	}
	g := graphOf(p)
	h := pairHash(from, to, g)
	if t, found := b.trips.get(from, to, g, h); found {
		return t.duration(p)
	}
	i, ok1 := b.src[from]
	j, ok2 := b.dst[to]
	if !ok1 || !ok2 || b.fwd[g] == nil {
		return b.net.TravelTime(from, to, p)
	}
	t := b.trip(g, i, j)
	b.trips.put(from, to, g, h, t)
	return t.duration(p)
}

// trip is a pair's answer on a graph, before a profile's scale: the ride's weight (ok false when there is none)
// and the metres walked to and from the road.
type trip struct {
	w   uint32
	ok  bool
	g   int8 // in the trip cache, the trip's graph plus one (0 marks an empty slot)
	off float64
}

func (t trip) duration(p geo.Profile) time.Duration {
	if !t.ok {
		return math.MaxInt64
	}
	return tripDuration(t.w, scaleOf(p), t.off)
}

// trip answers the pair of source i and target j of the batch on graph g.
func (b *batch) trip(g int, i, j int32) trip {
	fs, bs := b.space(g, i, true), b.space(g, j, false)
	if !fs.s.ok || !bs.s.ok {
		return trip{}
	}
	w, l, ok := ch.Meet(&fs.space, &bs.space)
	w, _, ok = b.net.best(fs.s, bs.s, g, w, l, ok)
	return trip{w: w, ok: ok, off: fs.s.off + bs.s.off}
}

// WarmTrips computes the trips from[k] → to[k] of the batch on profile p's graph (pairs outside the batch are
// ignored), on up to workers goroutines, and keeps them as TravelTime would. A source whose search space is not
// made yet is met with its target's space without making its own (ch.Query.MeetForward): a point asked about one
// trip, such as a courier who has moved since the last round on its way to its next stop, spares the cost of a
// space. The answers are those TravelTime gives.
func (b *batch) WarmTrips(from, to []orb.Point, p geo.Profile, workers int) {
	if !p.Valid() || len(from) != len(to) {
		return
	}
	g := graphOf(p)
	if b.fwd[g] == nil {
		return
	}
	order := b.net.alongCurve(from)
	parallel(len(from), workers, func(n int) {
		k := order[n]
		i, ok1 := b.src[from[k]]
		j, ok2 := b.dst[to[k]]
		if !ok1 || !ok2 {
			return
		}
		h := pairHash(from[k], to[k], g)
		if _, found := b.trips.get(from[k], to[k], g, h); found {
			return
		}
		b.trips.put(from[k], to[k], g, h, b.tripOne(g, i, j))
	})
}

// tripOne answers the pair of source i and target j of the batch on graph g as trip does, without making the
// source's search space unless it is kept already.
func (b *batch) tripOne(g int, i, j int32) trip {
	net := b.net
	pt := b.srcPts[i]
	key := spaceKey{pt: pt, graph: int8(g), forward: true}
	if net.cache.peek(key) != nil {
		return b.trip(g, i, j)
	}
	bs := b.space(g, j, false)
	if !bs.s.ok || geo.Geographic.Validate(pt) != nil {
		return trip{}
	}
	var s snapped
	if other := net.cache.peek(spaceKey{pt: pt, graph: int8(g), forward: false}); other != nil {
		s = other.s
	} else {
		s = net.snap(pt, g)
	}
	if !s.ok {
		return trip{}
	}
	var sb [4]ch.Seed
	var ss [4]seedSide
	seeds, _ := net.seeds(s, g, true, sb[:0], ss[:0])
	gr := net.graphs[g]
	q := gr.query()
	w, l, ok := q.MeetForward(seeds, &bs.space)
	gr.pool.Put(q)
	w, _, ok = net.best(s, bs.s, g, w, l, ok)
	return trip{w: w, ok: ok, off: s.off + bs.s.off}
}

// parallel calls fn(k) for every k below n on up to workers goroutines (one per 64 calls at most), each taking runs
// of consecutive k, and returns when all are done.
func parallel(n, workers int, fn func(k int)) {
	const run = 16
	workers = max(1, min(workers, n/64))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := next.Add(run) - run; k < int64(n); k = next.Add(run) - run {
				for i := k; i < min(k+run, int64(n)); i++ {
					fn(int(i))
				}
			}
		})
	}
	wg.Wait()
}

// Warm snaps sources (as trip starts) and targets (as trip ends) of the batch to profile p's roads and computes
// their search spaces, in bulk, on up to workers goroutines, and returns when that is done. The batch would do the
// same work on the first pair that needs it: warming ahead only moves it, so that it runs in parallel rather than
// where the caller asks one pair at a time. Points outside the batch, and a profile it was not made for, are
// ignored.
func (b *batch) Warm(sources, targets []orb.Point, p geo.Profile, workers int) {
	if !p.Valid() {
		return
	}
	g := graphOf(p)
	if b.fwd[g] == nil {
		return
	}
	type job struct {
		i      int32
		source bool
	}
	jobs := make([]job, 0, len(sources)+len(targets))
	for _, pt := range sources {
		if i, ok := b.src[pt]; ok {
			jobs = append(jobs, job{i, true})
		}
	}
	for _, pt := range targets {
		if i, ok := b.dst[pt]; ok {
			jobs = append(jobs, job{i, false})
		}
	}
	parallel(len(jobs), workers, func(k int) { b.space(g, jobs[k].i, jobs[k].source) })
}

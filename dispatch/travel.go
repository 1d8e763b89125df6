package dispatch

import (
	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// A round asks for travel times in bulk. On straight lines a pair costs a few arithmetic operations and is asked
// one at a time; on a road network every point must be snapped and searched from, and that work is shared by all
// the pairs a point is in. So when the travel model is a geo.BatchModel, a round first hands it every place it may
// ask about (where each courier stands, every stop of every route, the stores and drop-offs of the orders due) and
// plans on the answers until it ends. The answers are the model's own, pair for pair, so the round's outcome does
// not depend on whether the model batches.

// batchBuffers is the memory beginRoundTravel reuses from one round to the next.
type batchBuffers struct {
	sources, targets []orb.Point
	// legFrom and legTo list, per profile, the legs of its couriers' routes: from where each plan starts to the
	// first stop, and from each stop to the next.
	legFrom, legTo [geo.NumProfiles][]orb.Point
	// bundled lists the pending orders' stores and drop-offs, which bundling rides between.
	bundled []orb.Point
	// last is the batch of the engine's last round, kept after it for the decision it made (see handed).
	last geo.TravelModel
	// memo answers the round's questions on its goroutine from the batch (workers have their own, scratch.memo).
	memo legMemo
	// handed is a batch the decision being applied may re-time its routes with: the batch of the round that made
	// it, when that round was planned on a copy of this engine for this very application (Apply's DispatchTick).
	handed geo.TravelModel
}

// warmer is a batch that can do ahead, in bulk and on several goroutines, the work its points need before pairs
// are asked (on a road network, snapping and search spaces), without changing any answer.
type warmer interface {
	// Warm prepares the places: sources as the starts of trips, targets as their ends.
	Warm(sources, targets []orb.Point, p geo.Profile, workers int)
	// WarmTrips computes the trips from[k] → to[k]; a source asked about one trip is spared the preparation that
	// serves many.
	WarmTrips(from, to []orb.Point, p geo.Profile, workers int)
}

// beginRoundTravel gives the planner a batch of the round's places when the model answers in bulk. pending are the
// orders the round may place; endRoundTravel must follow.
func (e *Engine) beginRoundTravel(pending func(*orderState) bool) {
	bm, ok := e.travel.(geo.BatchModel)
	if !ok {
		return
	}
	b := &e.round.batch
	src, dst := b.sources[:0], b.targets[:0]
	for p := range b.legFrom {
		b.legFrom[p], b.legTo[p] = b.legFrom[p][:0], b.legTo[p][:0]
	}
	b.bundled = b.bundled[:0]
	var used [geo.NumProfiles]bool
	used[e.cfg.BundleProfile] = true
	for _, c := range e.courierList {
		if !c.online && len(c.stops) == 0 {
			continue
		}
		v := c.spec.Vehicle
		used[v] = true
		src = append(src, c.loc)
		for i := range c.stops {
			p := c.stops[i].location()
			src, dst = append(src, p), append(dst, p)
		}
		// What pricing the route as it stands asks: from where the plan starts through each stop to the next.
		if len(c.stops) > 0 {
			start, _ := e.courierStart(c)
			from := start.loc
			for i := range c.stops {
				to := c.stops[i].location()
				b.legFrom[v], b.legTo[v] = append(b.legFrom[v], from), append(b.legTo[v], to)
				from = to
			}
		}
	}
	for _, o := range e.open {
		if pending(o) {
			src = append(src, o.storeLoc, o.dropLoc)
			dst = append(dst, o.storeLoc, o.dropLoc)
			b.bundled = append(b.bundled, o.storeLoc, o.dropLoc)
		}
	}
	var profiles []geo.Profile
	for p, u := range used {
		if u {
			profiles = append(profiles, geo.Profile(p))
		}
	}
	b.sources, b.targets = src, dst
	batch := bm.Batch(src, dst, profiles)
	e.plan.travel = b.memo.over(batch)
	b.last = batch
	// The first steps of the round price every route as it stands and bundle the pending orders, one pair after
	// another: what they ask is prepared before, on the round's workers. The routes' legs are asked as trips (most
	// were asked in the round before, and are kept); the first leg of a courier who has moved since is the only
	// trip a round asks from where it now is (the first stop is locked: every insertion comes after it), which
	// spares its place the search space that serves a place asked about many trips. Bundling asks pairs among the
	// pending orders' places, not known before, so those are prepared as places. Pricing, which runs on the workers
	// already, prepares what else it needs where it first needs it.
	if w, ok := batch.(warmer); ok {
		for p := range b.legFrom {
			if len(b.legFrom[p]) > 0 {
				w.WarmTrips(b.legFrom[p], b.legTo[p], geo.Profile(p), e.cfg.Workers)
			}
		}
		if len(b.bundled) > 0 {
			w.Warm(b.bundled, b.bundled, e.cfg.BundleProfile, e.cfg.Workers)
		}
	}
}

// beginRoutesTravel gives the planner a batch of the places of routes about to be re-timed, each courier's
// position and the stops of its plan, when the model answers in bulk, and returns what to restore after. Applying a
// round's decision re-times every route it changed: on a road network these are places the round has just
// prepared, which the batch finds again rather than searching pair by pair; when the round handed over its own
// batch (batchBuffers.handed), that batch is used.
func (e *Engine) beginRoutesTravel(couriers []*courierState, plans [][]seqStop) (restore geo.TravelModel) {
	restore = e.plan.travel
	if h := e.round.batch.handed; h != nil {
		// The round's own batch holds every place of the routes it made, and the trips it priced them with.
		e.plan.travel = h
		return restore
	}
	bm, ok := e.travel.(geo.BatchModel)
	if !ok {
		return restore
	}
	b := &e.round.batch
	src, dst := b.sources[:0], b.targets[:0]
	var used [geo.NumProfiles]bool
	for i, c := range couriers {
		if c == nil || len(plans[i]) == 0 {
			continue
		}
		used[c.spec.Vehicle] = true
		src = append(src, c.loc)
		for k := range plans[i] {
			p := plans[i][k].location()
			src, dst = append(src, p), append(dst, p)
		}
	}
	if len(dst) == 0 {
		return restore
	}
	var profiles []geo.Profile
	for p, u := range used {
		if u {
			profiles = append(profiles, geo.Profile(p))
		}
	}
	b.sources, b.targets = src, dst
	e.plan.travel = bm.Batch(src, dst, profiles)
	return restore
}

// endRoundTravel drops the round's batch: outside rounds the planner asks the model pair by pair.
func (e *Engine) endRoundTravel() { e.plan.travel = e.travel }

// workerPlanner returns the planner a round's worker with scratch sc prices with: the engine's, asking the round's
// batch through the worker's own memo when the round asks through one (a memo serves one goroutine).
func (e *Engine) workerPlanner(sc *scratch) *planner {
	m, ok := e.plan.travel.(*legMemo)
	if !ok {
		return &e.plan
	}
	pl := e.plan
	pl.travel = sc.memo.over(m.inner)
	return &pl
}

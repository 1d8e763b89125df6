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
	var used [geo.NumProfiles]bool
	used[e.cfg.BundleProfile] = true
	for _, c := range e.courierList {
		if !c.online && len(c.stops) == 0 {
			continue
		}
		used[c.spec.Vehicle] = true
		src = append(src, c.loc)
		for i := range c.stops {
			p := c.stops[i].location()
			src, dst = append(src, p), append(dst, p)
		}
	}
	for _, o := range e.open {
		if pending(o) {
			src = append(src, o.storeLoc, o.dropLoc)
			dst = append(dst, o.storeLoc, o.dropLoc)
		}
	}
	var profiles []geo.Profile
	for p, u := range used {
		if u {
			profiles = append(profiles, geo.Profile(p))
		}
	}
	b.sources, b.targets = src, dst
	e.plan.travel = bm.Batch(src, dst, profiles)
}

// endRoundTravel drops the round's batch: outside rounds the planner asks the model pair by pair.
func (e *Engine) endRoundTravel() { e.plan.travel = e.travel }

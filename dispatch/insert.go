package dispatch

import "math"

// basePlan is a courier's current route priced at the start of a round: where it starts, which prefix is fixed, and
// the stops with the limits any new plan must keep.
type basePlan struct {
	c     *courierState
	start cursor
	// lock is the first position at which stops may be inserted: 0 for an idle courier, 1 when the courier is on its
	// way to (or at) its first stop, len(seq) under Rules.NoDiversion.
	lock int
	seq  []seqStop
	// pick is the pick-up time table: slots of orders already on board hold their pick-up time.
	pick  []int64
	cost  float64
	slots int
}

// scratch is one pricing goroutine's working memory.
type scratch struct {
	pick  []int64
	cand  []seqStop
	trial []seqStop
	best  []seqStop
	path  []int
	order []int
	memo  legMemo // a round's worker's (see Engine.workerPlanner)
}

func newScratch(maxStops int) *scratch {
	return &scratch{
		pick:  make([]int64, maxStops+2),
		cand:  make([]seqStop, 0, maxStops+2),
		trial: make([]seqStop, 0, maxStops+2),
		best:  make([]seqStop, 0, maxStops+2),
		path:  make([]int, maxStops+2),
		order: make([]int, maxStops+2),
	}
}

// insertion is the outcome of pricing a bundle on a courier's route.
type insertion struct {
	ok bool
	// delta is the cost the bundle adds to the route.
	delta float64
	// minSlack is the least time to spare before a promise among the bundle's drop-offs in the best plan.
	minSlack int64
	// failLate is the least lateness, past the hard limit, of any failed attempt (for telling the order why).
	failLate int64
}

// freshStops makes the seqStops of a bundle's orders for a courier: pick-ups in bundle order, drop-offs in the
// bundle's preferred order, with slots after the base plan's.
func (p *planner) freshStops(b *basePlan, pickups, drops []*orderState, shiftEnd int64, dst []seqStop) []seqStop {
	dst = dst[:0]
	pickLimit := int64(never)
	if p.cfg.Rules.NoPickupAfterShiftEnd && shiftEnd != 0 {
		pickLimit = shiftEnd
	}
	slotOf := func(o *orderState) int8 {
		for k, q := range pickups {
			if q == o {
				return int8(b.slots + k)
			}
		}
		return -1
	}
	for _, o := range pickups {
		dst = append(dst, seqStop{o: o, kind: Pickup, fresh: true, slot: slotOf(o), limit: min(pickLimit, o.pickupBy)})
	}
	for _, o := range drops {
		dst = append(dst, seqStop{o: o, kind: Dropoff, fresh: true, slot: slotOf(o),
			limit: o.dropLimit(p.cfg.HardLateness), rideLimit: int64(p.cfg.MaxRide)})
	}
	return dst
}

// insert prices adding a bundle (its fresh pick-ups then drop-offs, as made by freshStops) to the base plan: the
// pick-ups go in one block at every allowed position, each drop-off at its cheapest position after them. A single
// order is placed exactly (every pick-up and drop-off position pair). With keep, sc.best receives the best plan.
func (p *planner) insert(b *basePlan, fresh []seqStop, sc *scratch, keep bool) insertion {
	res := insertion{delta: math.Inf(1), minSlack: never, failLate: never}
	if len(b.seq)+len(fresh) > p.cfg.MaxRouteStops {
		return res
	}
	m := len(fresh) / 2
	best := math.Inf(1)
	L := len(b.seq)
	pick := sc.pick[:b.slots+m]
	copy(pick, b.pick)
	pre := b.start
	for i := 0; i <= L; i++ {
		if i > 0 && !p.step(&pre, &b.seq[i-1], pick, nil) {
			break
		}
		if i < b.lock {
			continue
		}
		if p.bound(&pre) >= best {
			break
		}
		mid := pre
		okPick := true
		for k := 0; k < m && okPick; k++ {
			okPick = p.step(&mid, &fresh[k], pick, nil)
		}
		if !okPick {
			continue
		}
		if m == 1 {
			p.placeOne(b, i, mid, &fresh[0], &fresh[1], pick, sc, keep, &best, &res)
		} else {
			p.placeMany(b, i, mid, fresh, pick, sc, keep, &best, &res)
		}
	}
	if res.ok {
		res.delta = max(best-b.cost, 0)
	}
	return res
}

// placeOne tries the drop-off of a single order at every position j >= i (mid is the cursor just after its pick-up
// at position i).
func (p *planner) placeOne(b *basePlan, i int, mid cursor, pickStop, drop *seqStop, pick []int64, sc *scratch, keep bool, best *float64, res *insertion) {
	L := len(b.seq)
	for j := i; j <= L; j++ {
		if j > i && !p.step(&mid, &b.seq[j-1], pick, nil) {
			return
		}
		if p.bound(&mid) >= *best {
			return
		}
		c := mid
		if !p.step(&c, drop, pick, nil) {
			if c.failLate < res.failLate {
				res.failLate = c.failLate
			}
			return // a later position only delivers later
		}
		cost, end, ok := p.eval(&c, b.seq[j:], pick, nil, *best)
		if !ok {
			if end.failLate < res.failLate {
				res.failLate = end.failLate
			}
			continue
		}
		*best, res.ok, res.minSlack = cost, true, end.minSlack
		if keep {
			sc.best = append(sc.best[:0], b.seq[:i]...)
			sc.best = append(sc.best, *pickStop)
			sc.best = append(sc.best, b.seq[i:j]...)
			sc.best = append(sc.best, *drop)
			sc.best = append(sc.best, b.seq[j:]...)
		}
	}
}

// placeMany inserts several drop-offs one after the other, each at its cheapest position after the pick-up block at
// position i.
func (p *planner) placeMany(b *basePlan, i int, mid cursor, fresh []seqStop, pick []int64, sc *scratch, keep bool, best *float64, res *insertion) {
	m := len(fresh) / 2
	rest := append(sc.cand[:0], b.seq[i:]...)
	var total float64
	var end cursor
	for k := m; k < len(fresh); k++ {
		bestHere := math.Inf(1)
		bestPos := -1
		var bestEnd cursor
		for j := 0; j <= len(rest); j++ {
			trial := append(sc.trial[:0], rest[:j]...)
			trial = append(trial, fresh[k])
			trial = append(trial, rest[j:]...)
			cost, e, ok := p.eval(&mid, trial, pick, nil, bestHere)
			if !ok {
				if e.failLate < res.failLate {
					res.failLate = e.failLate
				}
				continue
			}
			bestHere, bestPos, bestEnd = cost, j, e
			sc.trial = trial
		}
		if bestPos < 0 {
			return
		}
		rest = append(rest, seqStop{})
		copy(rest[bestPos+1:], rest[bestPos:])
		rest[bestPos] = fresh[k]
		total, end = bestHere, bestEnd
	}
	sc.cand = rest
	if total >= *best {
		return
	}
	*best, res.ok, res.minSlack = total, true, end.minSlack
	if keep {
		sc.best = append(sc.best[:0], b.seq[:i]...)
		sc.best = append(sc.best, fresh[:m]...)
		sc.best = append(sc.best, rest...)
	}
}

func satAdd(a, b int64) int64 {
	if a > 0 && b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

package dispatch

import "math"

// resequence looks for a cheaper order of the stops seq[lock:] (the prefix is where the courier is already
// heading). Precedence holds throughout: an order's drop-off never comes before its pick-up. Routes with at most
// cfg.ExactSequenceStops movable stops are solved exactly by branch and bound (costs only grow along a plan, so a
// partial plan that already costs more than the best complete one is cut); longer ones by relocating single stops
// while that improves the cost. seq is rewritten in place when a cheaper order is found; the cost of the returned
// order is returned.
func (p *planner) resequence(start *cursor, seq []seqStop, lock int, pick []int64, sc *scratch) float64 {
	cost, _, ok := p.eval(start, seq, pick, nil, math.Inf(1))
	if !ok {
		cost = math.Inf(1)
	}
	movable := len(seq) - lock
	if movable < 2 {
		return cost
	}
	if movable <= p.cfg.ExactSequenceStops {
		return p.exact(start, seq, lock, pick, sc, cost)
	}
	return p.relocate(start, seq, lock, pick, sc, cost)
}

// exact enumerates the precedence-respecting orders of seq[lock:] depth first with cost bounds.
func (p *planner) exact(start *cursor, seq []seqStop, lock int, pick []int64, sc *scratch, incumbent float64) float64 {
	pre := *start
	for i := 0; i < lock; i++ {
		if !p.step(&pre, &seq[i], pick, nil) {
			return incumbent
		}
	}
	mv := append(sc.cand[:0], seq[lock:]...)
	n := len(mv)
	// needs[k] is the position in mv of the pick-up that must precede mv[k], or -1.
	var needs [16]int8
	for k := range mv {
		needs[k] = -1
		if mv[k].kind == Dropoff {
			for q := range mv {
				if mv[q].kind == Pickup && mv[q].o == mv[k].o {
					needs[k] = int8(q)
				}
			}
		}
	}
	best := incumbent
	found := false
	path := sc.path[:n]
	bestPath := sc.order[:n]
	var dfs func(depth int, c cursor, used uint32)
	dfs = func(depth int, c cursor, used uint32) {
		if depth == n {
			if cost := p.finish(&c); cost < best {
				best, found = cost, true
				copy(bestPath, path)
			}
			return
		}
		for k := 0; k < n; k++ {
			if used&(1<<k) != 0 || (needs[k] >= 0 && used&(1<<needs[k]) == 0) {
				continue
			}
			// Identical neighbours (two parcels of one store in a row) give identical plans; try each once.
			if k > 0 && used&(1<<(k-1)) == 0 && sameStop(&mv[k-1], &mv[k]) && (needs[k-1] < 0 || used&(1<<needs[k-1]) != 0) {
				continue
			}
			next := c
			if !p.step(&next, &mv[k], pick, nil) || p.bound(&next) >= best {
				continue
			}
			path[depth] = k
			dfs(depth+1, next, used|1<<k)
		}
	}
	dfs(0, pre, 0)
	if found {
		out := append(sc.trial[:0], mv...)
		for d, k := range bestPath {
			seq[lock+d] = out[k]
		}
		sc.trial = out
	}
	return best
}

// sameStop reports whether two stops are interchangeable for timing: pick-ups of orders of the same store with the
// same ready time and size, which no limit tells apart.
func sameStop(a, b *seqStop) bool {
	return a.kind == Pickup && b.kind == Pickup && a.o.store == b.o.store && a.o.ready == b.o.ready &&
		a.o.size == b.o.size && a.limit == b.limit
}

// relocate improves seq[lock:] by moving one stop at a time to its best position, until no move helps (bounded by
// a number of passes so the cost of a round stays predictable).
func (p *planner) relocate(start *cursor, seq []seqStop, lock int, pick []int64, sc *scratch, incumbent float64) float64 {
	best := incumbent
	const passes = 4
	for pass := 0; pass < passes; pass++ {
		improved := false
		for from := lock; from < len(seq); from++ {
			s := seq[from]
			rest := append(sc.cand[:0], seq[:from]...)
			rest = append(rest, seq[from+1:]...)
			// The stop may move between its pick-up and its drop-off (whichever of them it is not).
			lo, hi := lock, len(rest)
			for q := lock; q < len(rest); q++ {
				if rest[q].o == s.o {
					if s.kind == Dropoff {
						lo = q + 1
					} else {
						hi = q
					}
				}
			}
			for to := lo; to <= hi; to++ {
				if to == from {
					continue
				}
				trial := append(sc.trial[:0], rest[:to]...)
				trial = append(trial, s)
				trial = append(trial, rest[to:]...)
				sc.trial = trial
				if cost, _, ok := p.eval(start, trial, pick, nil, best); ok && cost < best-1e-9 {
					best = cost
					copy(seq, trial)
					improved = true
					break
				}
			}
			sc.cand = rest
		}
		if !improved {
			break
		}
	}
	return best
}

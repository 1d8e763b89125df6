package dispatch

import (
	"cmp"
	"math"
	"slices"
)

// buildBundles groups the round's pending candidates into bundles, appending one row per bundle to rows.
//
// Orders of one store (or, unless Rules.SameStoreBundlesOnly, of stores within BundleStoreRadius of each other)
// whose ready times are within BundleReadyGap are grouped greedily: starting from the earliest-ready order, the
// order that adds least to the bundle's ideal trip joins, as long as what it adds (the longer trip, plus the later
// drop-offs of the orders already in the bundle, at the cost weights) is at most BundleDetourRatio of its own ideal
// trip's duration, nobody in the bundle is delivered later than the later of its promise and its own ideal trip,
// and the bundle stays within MaxBundleOrders. The newcomer's own wait is not counted against it: it would wait
// alone too, and the promise check bounds it. The ideal trip is the bundle alone, starting at its first store now,
// on a BundleProfile vehicle: whether a real courier can do it is for pricing to find out.
func (e *Engine) buildBundles(cands []*orderState, rows []row) []row {
	if e.cfg.MaxBundleOrders <= 1 {
		for _, o := range cands {
			rows = append(rows, singleRow(o))
		}
		return rows
	}
	// Group by store; ready order inside a store.
	byStore := slices.Clone(cands)
	slices.SortStableFunc(byStore, func(a, b *orderState) int {
		return cmp.Or(cmp.Compare(a.store.idx, b.store.idx), cmp.Compare(a.ready, b.ready), cmp.Compare(a.seq, b.seq))
	})
	type group struct {
		from, to  int
		clustered bool
	}
	var groups []group
	groupOf := make(map[int32]int)
	for i := 0; i < len(byStore); {
		j := i
		for j < len(byStore) && byStore[j].store == byStore[i].store {
			j++
		}
		groupOf[byStore[i].store.idx] = len(groups)
		groups = append(groups, group{from: i, to: j})
		i = j
	}
	sc := e.round.scratch
	if len(sc) == 0 {
		e.round.scratch = append(e.round.scratch, newScratch(e.cfg.MaxRouteStops))
	}
	b := bundler{e: e, sc: e.round.scratch[0]}
	var cluster []*orderState
	for gi := range groups {
		g := &groups[gi]
		if g.clustered {
			continue
		}
		g.clustered = true
		cluster = append(cluster[:0], byStore[g.from:g.to]...)
		if !e.cfg.Rules.SameStoreBundlesOnly && e.cfg.BundleStoreRadius > 0 {
			store := byStore[g.from].store
			e.storeIndex.Within(store.Location, e.cfg.BundleStoreRadius, func(n neighbor) bool {
				// Orders of another region's store never share a bundle: no courier could carry both.
				if other, ok := groupOf[n.ID]; ok && !groups[other].clustered && e.storeList[n.ID].Region == store.Region {
					groups[other].clustered = true
					cluster = append(cluster, byStore[groups[other].from:groups[other].to]...)
				}
				return true
			})
			slices.SortStableFunc(cluster, func(a, b *orderState) int {
				return cmp.Or(cmp.Compare(a.ready, b.ready), cmp.Compare(a.seq, b.seq))
			})
		}
		rows = b.group(cluster, rows)
	}
	return rows
}

func singleRow(o *orderState) row {
	return row{orders: []*orderState{o}, drops: []*orderState{o}, loc: o.storeLoc, units: o.size,
		skills: o.skills, minReady: o.ready, region: o.region}
}

// bundler holds the working memory of bundle building.
type bundler struct {
	e     *Engine
	sc    *scratch
	seq   []seqStop
	times []stopTimes
	// the last trip's duration (seconds) and drop-off times
	dur   float64
	hands []int64
}

// group bundles one cluster of orders sorted by ready time.
func (b *bundler) group(cluster []*orderState, rows []row) []row {
	e := b.e
	n := len(cluster)
	if n == 1 {
		return append(rows, singleRow(cluster[0]))
	}
	for _, o := range cluster {
		if b.trip([]*orderState{o}, []*orderState{o}, false) {
			o.soloDur, o.soloHand = b.dur, b.hands[0]
		} else {
			o.soloDur, o.soloHand = math.Inf(1), never
		}
	}
	used := make([]bool, n)
	gap := int64(e.cfg.BundleReadyGap)
	var hands []int64 // the bundle's drop-off times, in drops order
	for s := 0; s < n; s++ {
		if used[s] {
			continue
		}
		used[s] = true
		size := 1
		pickups := []*orderState{cluster[s]}
		drops := []*orderState{cluster[s]}
		dur := cluster[s].soloDur
		hands = append(hands[:0], cluster[s].soloHand)
		for size < e.cfg.MaxBundleOrders {
			bestQ, bestAdd, bestDur := -1, math.Inf(1), 0.0
			var bestDrops []*orderState
			var bestHands []int64
			for q := s + 1; q < n && max(cluster[q].ready, e.now)-max(cluster[s].ready, e.now) <= gap; q++ {
				if used[q] {
					continue
				}
				o := cluster[q]
				withPick := appendByStore(pickups, o)
				// Try the newcomer's drop-off at every place in the bundle's drop-off order.
				for pos := 0; pos <= len(drops); pos++ {
					tryDrops := slices.Insert(slices.Clone(drops), pos, o)
					if !b.trip(withPick, tryDrops, true) {
						continue
					}
					add := e.cfg.DurationWeight * (b.dur - dur)
					for k, d := range tryDrops {
						if d != o {
							old := hands[slices.Index(drops, d)]
							add += e.cfg.DeliveryWeight * float64(b.hands[k]-old) / 1e9
						}
					}
					if add <= e.cfg.BundleDetourRatio*e.cfg.DurationWeight*o.soloDur && add < bestAdd {
						bestQ, bestAdd, bestDur, bestDrops = q, add, b.dur, tryDrops
						bestHands = append(bestHands[:0], b.hands...)
					}
				}
			}
			if bestQ < 0 {
				break
			}
			used[bestQ] = true
			size++
			pickups = appendByStore(pickups, cluster[bestQ])
			drops, dur = bestDrops, bestDur
			hands = append(hands[:0], bestHands...)
		}
		rw := row{orders: pickups, drops: drops, loc: pickups[0].storeLoc, minReady: never, region: pickups[0].region}
		for _, o := range pickups {
			rw.units += o.size
			rw.skills |= o.skills
			rw.minReady = min(rw.minReady, o.ready)
		}
		rows = append(rows, rw)
	}
	return rows
}

// appendByStore returns pickups plus o, with o placed after the last order of its own store (so that one store is
// one visit), in a new slice.
func appendByStore(pickups []*orderState, o *orderState) []*orderState {
	at := len(pickups)
	for i := len(pickups) - 1; i >= 0; i-- {
		if pickups[i].store == o.store {
			at = i + 1
			break
		}
	}
	return slices.Insert(slices.Clone(pickups), at, o)
}

// trip times the ideal trip of a bundle: from its first store now, pick-ups then drop-offs in the given order. It
// leaves the trip's duration in seconds in b.dur and the drop-off times (in drops order) in b.hands. With limited,
// it reports false when a drop-off would be later than both its promise and its order's solo trip (which must
// have been timed).
func (b *bundler) trip(pickups, drops []*orderState, limited bool) bool {
	e := b.e
	b.seq = b.seq[:0]
	for k, o := range pickups {
		b.seq = append(b.seq, seqStop{o: o, kind: Pickup, slot: int8(k), limit: never})
	}
	for _, o := range drops {
		limit := int64(never)
		if limited {
			limit = max(o.deliverBy, o.soloHand+int64(e.cfg.BundleReadyGap))
		}
		slot := int8(slices.Index(pickups, o))
		b.seq = append(b.seq, seqStop{o: o, kind: Dropoff, slot: slot, limit: limit, rideLimit: int64(e.cfg.MaxRide)})
	}
	start := cursor{loc: pickups[0].storeLoc, hand: e.now, capacity: math.MaxInt32, profile: e.cfg.BundleProfile,
		minSlack: never, failLate: never}
	b.times = slices.Grow(b.times[:0], len(b.seq))[:len(b.seq)]
	if _, end, ok := e.plan.eval(&start, b.seq, b.sc.pick[:len(pickups)], b.times, math.Inf(1)); ok {
		b.dur = float64(end.hand+e.plan.halfAfter[Dropoff]-e.now) / 1e9
	} else {
		return false
	}
	b.hands = b.hands[:0]
	for i := len(pickups); i < len(b.seq); i++ {
		b.hands = append(b.hands, b.times[i].hand)
	}
	return true
}

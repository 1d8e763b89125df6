package roads

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

func TestSpaceCacheGenerations(t *testing.T) {
	c := newSpaceShard(2)
	key := func(i int) spaceKey { return spaceKey{pt: orb.Point{float64(i), 0}} }
	entries := make([]*spaceEntry, 6)
	for i := range entries {
		entries[i] = &spaceEntry{s: snapped{edge: int32(i)}}
	}
	c.put(key(0), entries[0])
	c.put(key(1), entries[1])
	c.put(key(2), entries[2]) // the generation {0, 1} becomes the previous one
	if c.get(key(0)) != entries[0] {
		t.Fatal("0 lost after one turn")
	}
	// get promoted 0 into the current generation {2, 0}; 3 turns it over, dropping {1}.
	c.put(key(3), entries[3])
	if c.get(key(1)) != nil {
		t.Error("1 survived two turns without use")
	}
	for _, i := range []int{0, 2, 3} {
		if c.get(key(i)) != entries[i] {
			t.Errorf("%d lost", i)
		}
	}
	if len(c.cur)+len(c.prev) > 4 {
		t.Errorf("%d entries, over twice the limit", len(c.cur)+len(c.prev))
	}
	var none *spaceCache // as Options.SpaceCacheEntries < 0 gives
	none.put(key(0), entries[0])
	if none.get(key(0)) != nil {
		t.Error("a nil cache answered")
	}
}

// TestBatchCacheAcrossBatches asks a second batch with points of the first: cached spaces give the same
// answers.
func TestBatchCacheAcrossBatches(t *testing.T) {
	net := openTown(t)
	pts := []orb.Point{townNode(1), townPoint(1.2, 0.3), townNode(8), townPoint(0.5, 3)}
	first := net.Batch(pts[:2], pts[2:], []geo.Profile{geo.Car})
	for _, a := range pts[:2] {
		for _, b := range pts[2:] {
			first.TravelTime(a, b, geo.Car)
		}
	}
	if n := currentSpaces(net.cache); n != 4 {
		t.Errorf("%d spaces cached after the first batch, want 4", n)
	}
	second := net.Batch(pts, pts, []geo.Profile{geo.Car, geo.Bike})
	for _, a := range pts {
		for _, b := range pts {
			for _, p := range []geo.Profile{geo.Car, geo.Bike} {
				if x, y := second.TravelTime(a, b, p), net.TravelTime(a, b, p); x != y {
					t.Errorf("%s %v→%v: batch %v, network %v", p, a, b, x, y)
				}
			}
		}
	}
}

// TestBatchWarm warms part of a batch on two goroutines: the warmed points' spaces are computed (and cached) for
// the warmed profile only and as the side asked, and every answer, asked twice so that the second comes from
// what the batch kept, equals the network's.
func TestBatchWarm(t *testing.T) {
	net := openTown(t)
	rng := rand.New(rand.NewPCG(8, 9))
	src := randomPoints(net, rng, 30)
	dst := append(randomPoints(net, rng, 30), src[:10]...)
	b := net.Batch(src, dst, []geo.Profile{geo.EBike, geo.Car})
	w, ok := b.(interface {
		Warm(sources, targets []orb.Point, p geo.Profile, workers int)
	})
	if !ok {
		t.Fatal("a batch of the network cannot be warmed")
	}
	outside := randomPoints(net, rng, 3)
	w.Warm(append(src[:20:20], outside...), dst[5:], geo.Car, 2)
	w.Warm(src, dst, geo.Foot, 2) // a profile the batch was not made for: nothing to do
	car, foot := graphOf(geo.Car), graphOf(geo.Foot)
	for i, pt := range src {
		got := net.cache.get(spaceKey{pt: pt, graph: int8(car), forward: true}) != nil
		if want := slices.Contains(src[:20], pt); got != want {
			t.Errorf("source %d: space cached %v after warming", i, got)
		}
		if net.cache.get(spaceKey{pt: pt, graph: int8(foot), forward: true}) != nil {
			t.Errorf("source %d: a walker's space was computed", i)
		}
	}
	for j, pt := range dst[5:] {
		if net.cache.get(spaceKey{pt: pt, graph: int8(car)}) == nil {
			t.Errorf("target %d: not warmed", j+5)
		}
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for range 2 {
				for _, p := range []geo.Profile{geo.Bike, geo.EBike, geo.Car, geo.Foot} {
					for i, a := range src {
						for j, c := range dst {
							if (i+j+g)%3 == 0 {
								continue
							}
							if x, y := b.TravelTime(a, c, p), net.TravelTime(a, c, p); x != y {
								t.Errorf("%s %v→%v: batch %v, network %v", p, a, c, x, y)
								return
							}
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestBatchWarmTrips warms pairs of a batch on two goroutines: each pair's trip is kept and equals the network's,
// the targets' spaces are made, and the sources, asked about one trip each, are spared theirs.
func TestBatchWarmTrips(t *testing.T) {
	net := openTown(t)
	rng := rand.New(rand.NewPCG(10, 11))
	src := randomPoints(net, rng, 200)
	dst := randomPoints(net, rng, 200)
	b := net.Batch(src, dst, []geo.Profile{geo.Car, geo.Bike})
	w, ok := b.(interface {
		WarmTrips(from, to []orb.Point, p geo.Profile, workers int)
	})
	if !ok {
		t.Fatal("a batch of the network cannot warm trips")
	}
	outside := randomPoints(net, rng, 1)[0]
	w.WarmTrips(append(src[:150:150], outside), append(dst[:150:150], dst[0]), geo.Car, 2)
	w.WarmTrips(src, dst, geo.Foot, 2) // a profile the batch was not made for: nothing to do
	w.WarmTrips(src[:2], dst[:1], geo.Bike, 2)
	car := graphOf(geo.Car)
	for k := range src {
		from, to := src[k], dst[k]
		_, kept := net.trips.get(from, to, car, pairHash(from, to, car))
		if want := k < 150; kept != want {
			t.Errorf("pair %d: trip kept %v after warming", k, kept)
		}
		if net.cache.get(spaceKey{pt: from, graph: int8(car), forward: true}) != nil {
			t.Errorf("source %d: its space was made for one trip", k)
		}
		if k < 150 && net.cache.get(spaceKey{pt: to, graph: int8(car)}) == nil {
			t.Errorf("target %d: no space made", k)
		}
	}
	if _, kept := net.trips.get(outside, dst[0], car, pairHash(outside, dst[0], car)); kept {
		t.Error("a pair outside the batch was kept")
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for k := g; k < len(src); k += 2 {
				for _, p := range []geo.Profile{geo.Car, geo.Bike} {
					if x, y := b.TravelTime(src[k], dst[k], p), net.TravelTime(src[k], dst[k], p); x != y {
						t.Errorf("%s %v→%v: batch %v, network %v", p, src[k], dst[k], x, y)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestTripCacheGenerations(t *testing.T) {
	c := newTripCache(2 << tripShardBits) // two entries a shard and generation
	// Points whose pairs fall in one shard, so that its generations turn.
	var pts []orb.Point
	for i := 0; len(pts) < 5; i++ {
		p := orb.Point{float64(i), 1}
		if pairHash(p, p, 1)>>(64-tripShardBits) == 0 {
			pts = append(pts, p)
		}
	}
	put := func(i int) { c.put(pts[i], pts[i], 1, pairHash(pts[i], pts[i], 1), trip{w: uint32(i), ok: true}) }
	has := func(i int) bool {
		tr, ok := c.get(pts[i], pts[i], 1, pairHash(pts[i], pts[i], 1))
		if ok && tr.w != uint32(i) {
			t.Fatalf("pair %d kept the trip of another", i)
		}
		return ok
	}
	put(0)
	put(1)
	put(2) // {0, 1} becomes the previous generation
	if !has(0) {
		t.Fatal("0 lost after one turn")
	}
	// get promoted 0 into the current generation {2, 0}; 3 turns it over, dropping {1}.
	put(3)
	if has(1) {
		t.Error("1 survived two turns without use")
	}
	for _, i := range []int{0, 2, 3} {
		if !has(i) {
			t.Errorf("%d lost", i)
		}
	}
	if _, ok := c.get(pts[0], pts[0], 2, pairHash(pts[0], pts[0], 2)); ok {
		t.Error("a trip answered for another graph")
	}
}

// TestTripsKeptAcrossBatches asks a second batch the pairs of a first after the network lost every search space:
// the trips kept answer them, the same as the network, without a search.
func TestTripsKeptAcrossBatches(t *testing.T) {
	net := openTown(t)
	rng := rand.New(rand.NewPCG(3, 4))
	src, dst := randomPoints(net, rng, 12), randomPoints(net, rng, 12)
	first := net.Batch(src, dst, []geo.Profile{geo.Bike, geo.Car})
	for _, a := range src {
		for _, b := range dst {
			first.TravelTime(a, b, geo.Car)
			first.TravelTime(a, b, geo.EBike)
		}
	}
	net.cache = newSpaceCache(DefaultSpaceCacheEntries)
	second := net.Batch(src, dst, []geo.Profile{geo.Bike, geo.Car})
	for _, a := range src {
		for _, b := range dst {
			for _, p := range []geo.Profile{geo.Car, geo.Bike, geo.EBike} {
				if x, y := second.TravelTime(a, b, p), net.TravelTime(a, b, p); x != y {
					t.Errorf("%s %v→%v: second batch %v, network %v", p, a, b, x, y)
				}
			}
		}
	}
	if n := currentSpaces(net.cache); n != 0 {
		t.Errorf("the second batch computed %d search spaces for pairs whose trips were kept", n)
	}
}

// currentSpaces counts the spaces in the current generations of c's shards.
func currentSpaces(c *spaceCache) int {
	n := 0
	c.current(func(*spaceEntry) { n++ })
	return n
}

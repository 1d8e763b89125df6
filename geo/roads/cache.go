package roads

import (
	"math"
	"sync"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// DefaultSpaceCacheEntries is how many points' search spaces a network keeps between batches by default: a
// dispatch round asks again about most places of the round before (couriers' stops, stores, drop-offs), and a
// round of 10 000 couriers and 3 000 orders asks about some 28 000 places, each as a source and as a target, on
// each graph its vehicles use: up to about 10⁵ spaces, which must fit in one generation or the cache turns over
// within a round and keeps little. An entry takes about 12 bytes per node of its space plus 150: some 1 KB on a
// city of 50 000 junctions, 2-3 KB on a million.
const DefaultSpaceCacheEntries = 1 << 17

// spaceKey names a point's search space on one graph, forwards (as a source) or backwards.
type spaceKey struct {
	pt      orb.Point
	graph   int8
	forward bool
}

// spaceEntry is a point's place on the graph and its search space from there.
type spaceEntry struct {
	s     snapped
	space ch.Space
}

// spaceCache keeps recently used search spaces across batches, spread over 2^spaceShardBits shards by key so that
// a round's workers seldom wait for each other. It is safe for concurrent use; a nil cache keeps nothing.
type spaceCache struct {
	shards [1 << spaceShardBits]spaceShard
}

// spaceShardBits sets how many shards (2^spaceShardBits) the spaces are spread over.
const spaceShardBits = 4

func newSpaceCache(limit int) *spaceCache {
	if limit <= 0 {
		return nil
	}
	c := &spaceCache{}
	for i := range c.shards {
		c.shards[i].init(max(1, limit>>spaceShardBits))
	}
	return c
}

func (c *spaceCache) shard(k spaceKey) *spaceShard {
	h := math.Float64bits(k.pt[0]) * 0x9e3779b97f4a7c15
	h = (h ^ h>>29 ^ math.Float64bits(k.pt[1]) ^ uint64(k.graph)<<1) * 0xbf58476d1ce4e5b9
	if k.forward {
		h ^= 0x94d049bb133111eb
	}
	h = (h ^ h>>32) * 0x9e3779b97f4a7c15
	return &c.shards[h>>(64-spaceShardBits)]
}

func (c *spaceCache) get(k spaceKey) *spaceEntry {
	if c == nil {
		return nil
	}
	return c.shard(k).get(k)
}

// peek returns the entry of k, if kept, without promoting it.
func (c *spaceCache) peek(k spaceKey) *spaceEntry {
	if c == nil {
		return nil
	}
	return c.shard(k).peek(k)
}

func (c *spaceCache) put(k spaceKey, e *spaceEntry) {
	if c != nil {
		c.shard(k).put(k, e)
	}
}

// current calls fn for every entry of the shards' current generations.
func (c *spaceCache) current(fn func(*spaceEntry)) {
	if c == nil {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, e := range sh.cur {
			fn(e)
		}
		sh.mu.Unlock()
	}
}

// spaceShard keeps spaces in two generations: lookups promote an entry to the current generation; when it is
// full, the previous one is dropped whole and the current one takes its place. So it holds at most 2 × limit
// entries, every entry used in the current generation survives the next turn, and no entry carries a timestamp.
type spaceShard struct {
	mu        sync.Mutex
	limit     int
	cur, prev map[spaceKey]*spaceEntry
	_         [32]byte // 64 bytes: shards taken by different goroutines do not share a cache line
}

func newSpaceShard(limit int) *spaceShard {
	c := &spaceShard{}
	c.init(limit)
	return c
}

func (c *spaceShard) init(limit int) { c.limit, c.cur = limit, make(map[spaceKey]*spaceEntry) }

func (c *spaceShard) get(k spaceKey) *spaceEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e
	}
	if e, ok := c.prev[k]; ok {
		c.putLocked(k, e)
		return e
	}
	return nil
}

func (c *spaceShard) peek(k spaceKey) *spaceEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e
	}
	return c.prev[k]
}

func (c *spaceShard) put(k spaceKey, e *spaceEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, e)
}

func (c *spaceShard) putLocked(k spaceKey, e *spaceEntry) {
	if len(c.cur) >= c.limit {
		c.prev, c.cur = c.cur, make(map[spaceKey]*spaceEntry, c.limit)
	}
	c.cur[k] = e
}

// DefaultTripCacheEntries is how many trips between points a network keeps between batches by default: a round of
// 10 000 couriers and 3 000 orders asks about some 125 000 distinct pairs, most of which the next round asks again
// (the same stores, drop-offs and stops), so that two rounds' fit in one generation. An entry takes 48 bytes, in
// tables at most three quarters full: 12-25 MB a generation when full.
const DefaultTripCacheEntries = 1 << 18

// tripShardBits sets how many locks (2^tripShardBits) the trips are spread over, so that a round's workers seldom
// wait for each other.
const tripShardBits = 6

// tripCache keeps trips between points (see batch.trip), in two generations per shard like spaceCache: lookups
// promote an entry to the current generation, and a full current generation becomes the previous one, whose
// entries are then dropped. It is safe for concurrent use.
type tripCache struct {
	limit  int // entries of a shard's generation
	shards [1 << tripShardBits]tripShard
}

type tripShard struct {
	mu        sync.Mutex
	cur, prev tripTable
	_         [56]byte // two cache lines each: shards taken by different goroutines do not share one
}

func newTripCache(limit int) *tripCache {
	return &tripCache{limit: max(1, limit>>tripShardBits)}
}

func (c *tripCache) get(from, to orb.Point, g int, h uint64) (trip, bool) {
	sh := &c.shards[h>>(64-tripShardBits)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if t, ok := sh.cur.get(from, to, g, h); ok {
		return t, true
	}
	t, ok := sh.prev.get(from, to, g, h)
	if ok {
		c.putLocked(sh, from, to, g, h, t)
	}
	return t, ok
}

func (c *tripCache) put(from, to orb.Point, g int, h uint64, t trip) {
	sh := &c.shards[h>>(64-tripShardBits)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.putLocked(sh, from, to, g, h, t)
}

func (c *tripCache) putLocked(sh *tripShard, from, to orb.Point, g int, h uint64, t trip) {
	if sh.cur.count >= c.limit {
		sh.prev, sh.cur = sh.cur, tripTable{}
	}
	t.g = int8(g) + 1
	sh.cur.put(tripEntry{from: from, to: to, trip: t}, h)
}

// tripTable is an open-addressing table of trips keyed by the pair's points (their bits: a point that equals a
// kept one only as a float, such as -0 for 0, is simply computed again) and graph.
type tripTable struct {
	slots []tripEntry
	count int
}

// tripEntry is a kept trip; its g is the graph plus one, 0 in an empty slot.
type tripEntry struct {
	from, to orb.Point
	trip
}

// pairHash mixes the bits of a pair's points and its graph.
func pairHash(from, to orb.Point, g int) uint64 {
	h := math.Float64bits(from[0]) * 0x9e3779b97f4a7c15
	h = (h ^ h>>29 ^ math.Float64bits(from[1])) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>32 ^ math.Float64bits(to[0])) * 0x94d049bb133111eb
	h = (h ^ h>>29 ^ math.Float64bits(to[1]) ^ uint64(g)) * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

func samePoint(a, b orb.Point) bool {
	return math.Float64bits(a[0]) == math.Float64bits(b[0]) && math.Float64bits(a[1]) == math.Float64bits(b[1])
}

func (m *tripTable) get(from, to orb.Point, g int, h uint64) (trip, bool) {
	if len(m.slots) == 0 {
		return trip{}, false
	}
	mask := uint64(len(m.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &m.slots[i]
		if e.g == 0 {
			return trip{}, false
		}
		if int(e.g) == g+1 && samePoint(e.from, from) && samePoint(e.to, to) {
			return e.trip, true
		}
	}
}

// put keeps e, whose hash is h, unless its pair is kept already. The table is at most three quarters full.
func (m *tripTable) put(e tripEntry, h uint64) {
	if 4*(m.count+1) > 3*len(m.slots) {
		old := m.slots
		m.slots = make([]tripEntry, max(64, 2*len(old)))
		m.count = 0
		for _, o := range old {
			if o.g != 0 {
				m.put(o, pairHash(o.from, o.to, int(o.g)-1))
			}
		}
	}
	mask := uint64(len(m.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		x := &m.slots[i]
		if x.g == 0 {
			*x = e
			m.count++
			return
		}
		if x.g == e.g && samePoint(x.from, e.from) && samePoint(x.to, e.to) {
			return
		}
	}
}

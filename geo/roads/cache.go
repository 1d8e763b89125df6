package roads

import (
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

// spaceCache keeps recently used search spaces across batches, in two generations: lookups promote an entry to
// the current generation; when it is full, the previous one is dropped whole and the current one takes its
// place. So it holds at most 2 × limit entries, every entry used in the current generation survives the next
// turn, and no entry carries a timestamp. It is safe for concurrent use.
type spaceCache struct {
	mu        sync.Mutex
	limit     int
	cur, prev map[spaceKey]*spaceEntry
}

func newSpaceCache(limit int) *spaceCache {
	return &spaceCache{limit: limit, cur: make(map[spaceKey]*spaceEntry)}
}

func (c *spaceCache) get(k spaceKey) *spaceEntry {
	if c == nil || c.limit <= 0 {
		return nil
	}
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

// peek returns the entry of k, if kept, without promoting it.
func (c *spaceCache) peek(k spaceKey) *spaceEntry {
	if c == nil || c.limit <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e
	}
	return c.prev[k]
}

func (c *spaceCache) put(k spaceKey, e *spaceEntry) {
	if c == nil || c.limit <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, e)
}

func (c *spaceCache) putLocked(k spaceKey, e *spaceEntry) {
	if len(c.cur) >= c.limit {
		c.prev, c.cur = c.cur, make(map[spaceKey]*spaceEntry, c.limit)
	}
	c.cur[k] = e
}

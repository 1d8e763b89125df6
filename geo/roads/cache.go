package roads

import (
	"sync"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// DefaultSpaceCacheEntries is how many points' search spaces a network keeps between batches by default: a
// dispatch round asks again about most stores and drop-offs of the round before.
const DefaultSpaceCacheEntries = 1 << 15

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

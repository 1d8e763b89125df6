package geo

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Index is a spatial index of points keyed by id, over tidwall/rtree (RTreeG). Not safe for concurrent use:
// one goroutine owns it (in dispatchd, the engine goroutine); concurrent readers need their own copy.
//
// Queries rank by true metres of the index's [Space] and break ties by
// ascending id, so the answer depends only on the set of (id, point) pairs and
// never on insertion order or the tree's shape: replaying the same events
// gives the same dispatch decisions.
//
// Create one with [NewIndex]; the zero value is not usable, and an Index must
// not be copied by value (use [Index.Clone]).
type Index[K cmp.Ordered] struct {
	space  Space
	tree   rtree.RTreeG[K]
	points map[K]orb.Point // current point of each id, to find its box for Replace and Delete
	// unbuilt: the tree does not hold points yet ([Index.Clone]); the first use builds it.
	unbuilt bool

	// busy is set while a query runs, to catch callbacks that re-enter the
	// index: they would corrupt the query state below or the tree walk.
	busy bool

	// Query state read by the prebuilt callbacks. Keeping it here instead of
	// in per-query closures is what makes a query allocation-free.
	q       orb.Point
	k       int
	radius  float64 // +Inf when unbounded
	accept  func(K) bool
	fn      func(Neighbor[K]) bool
	stopped bool
	scratch []Neighbor[K]

	distFn      func(min, max [2]float64, id K, item bool) float64
	nearestStep func(min, max [2]float64, id K, d float64) bool
	withinStep  func(min, max [2]float64, id K, d float64) bool
}

// Neighbor is one answer of [Index.Nearest] or [Index.Within].
type Neighbor[K cmp.Ordered] struct {
	ID     K
	Point  orb.Point
	Metres float64
}

// NewIndex returns an empty index over space. It panics if space is nil.
func NewIndex[K cmp.Ordered](space Space) *Index[K] {
	if space == nil {
		panic("geo: NewIndex with nil space")
	}
	ix := &Index[K]{space: space, points: make(map[K]orb.Point)}
	ix.bind()
	return ix
}

// bind builds the tree callbacks once, bound to ix; see the query state
// fields for why.
func (ix *Index[K]) bind() {
	ix.distFn = ix.dist
	ix.nearestStep = ix.stepNearest
	ix.withinStep = ix.stepWithin
}

// Space returns the space the index measures in.
func (ix *Index[K]) Space() Space { return ix.space }

// Set inserts id at p, or moves it there if present.
//
// p must be valid for the index's space: callers validate input at the edge
// (see [Space.Validate]); an invalid point here is a programming error and
// panics, because a NaN stored in the tree would silently break every later
// query. Set panics too when called from a query callback.
func (ix *Index[K]) Set(id K, p orb.Point) {
	ix.mustIdle("Set")
	if err := ix.space.Validate(p); err != nil {
		panic(fmt.Sprintf("geo: Index.Set(%v): %v", id, err))
	}
	ix.build()
	box := [2]float64(p)
	if old, ok := ix.points[id]; ok {
		if old == p {
			return
		}
		ix.tree.Replace([2]float64(old), [2]float64(old), id, box, box, id)
	} else {
		ix.tree.Insert(box, box, id)
	}
	ix.points[id] = p
}

// Remove deletes id and reports whether it was present. It panics when called
// from a query callback.
func (ix *Index[K]) Remove(id K) bool {
	ix.mustIdle("Remove")
	old, ok := ix.points[id]
	if !ok {
		return false
	}
	ix.build()
	ix.tree.Delete([2]float64(old), [2]float64(old), id)
	delete(ix.points, id)
	return true
}

// Location returns id's current point. It is safe to call from a query
// callback.
func (ix *Index[K]) Location(id K) (orb.Point, bool) {
	p, ok := ix.points[id]
	return p, ok
}

// Len returns the number of ids in the index.
func (ix *Index[K]) Len() int { return len(ix.points) }

// Clone returns an independent copy of the index that another goroutine may
// own. It copies the points (linear in Len); the copy builds its own tree on
// its first use, on the goroutine that owns it.
//
// The trees are never shared: rtree's copy-on-write (RTreeG.Copy) leaves a node
// it copies marked as shared, so after one Copy every later write to either tree
// copied its whole path again (a courier's move took 5 µs and 9 KB instead of
// 0.5 µs and nothing, for as long as the daemon ran).
func (ix *Index[K]) Clone() *Index[K] {
	ix.mustIdle("Clone")
	c := &Index[K]{space: ix.space, points: maps.Clone(ix.points), unbuilt: len(ix.points) > 0}
	c.bind()
	return c
}

// build puts the points into the tree of a clone, in the order of their ids (the answers do not depend on the
// order; the tree's shape, hence the time of a query, then does not depend on the map's iteration either).
func (ix *Index[K]) build() {
	if !ix.unbuilt {
		return
	}
	ix.unbuilt = false
	ids := slices.Sorted(maps.Keys(ix.points))
	for _, id := range ids {
		box := [2]float64(ix.points[id])
		ix.tree.Insert(box, box, id)
	}
}

// Nearest appends to dst[:0] up to k accepted points within radius metres of p (radius <= 0 means unbounded),
// nearest first by true metres (Space.Distance), ties broken by ascending ID so the result does not depend on
// the tree's internal shape (important: the same set of points inserted in another order must give the same answer).
// accept may be nil; rejected points do not count toward k (the search goes on past them).
//
// A point is within the radius when its distance is <= radius. Nearest with
// k <= 0, or with a query point that the space rejects, returns dst[:0].
// accept is called in increasing order of distance, at most once per id, and
// must not modify the index or run another query on it (that panics); it may
// call [Index.Location].
func (ix *Index[K]) Nearest(p orb.Point, k int, radius float64, accept func(K) bool, dst []Neighbor[K]) []Neighbor[K] {
	dst = dst[:0]
	if k <= 0 || len(ix.points) == 0 || ix.space.Validate(p) != nil {
		return dst
	}
	ix.build()
	ix.begin("Nearest", p, radius)
	defer ix.end()
	ix.k, ix.accept = k, accept
	ix.tree.Nearby(ix.distFn, ix.nearestStep)
	// Items arrive by distance, but equal distances arrive in tree order;
	// stepNearest kept every item tied with the k-th, so sorting by (metres,
	// id) and cutting at k is the deterministic answer.
	slices.SortFunc(ix.scratch, compareNeighbors[K])
	return append(dst, ix.scratch[:min(k, len(ix.scratch))]...)
}

// Within calls fn for every point within radius metres of p, nearest first (ties by ID); fn returns false to stop.
//
// A point is within the radius when its distance is <= radius; radius <= 0
// means unbounded (every point, in order), as for [Index.Nearest]. A query
// point that the space rejects yields no calls. fn must not modify the index
// or run another query on it (that panics); it may call [Index.Location].
func (ix *Index[K]) Within(p orb.Point, radius float64, fn func(Neighbor[K]) bool) {
	if len(ix.points) == 0 || ix.space.Validate(p) != nil {
		return
	}
	ix.build()
	ix.begin("Within", p, radius)
	defer ix.end()
	ix.fn = fn
	ix.tree.Nearby(ix.distFn, ix.withinStep)
	if !ix.stopped {
		ix.flushWithin()
	}
}

func (ix *Index[K]) mustIdle(op string) {
	if ix.busy {
		panic("geo: Index." + op + " called from a Nearest or Within callback")
	}
}

func (ix *Index[K]) begin(op string, p orb.Point, radius float64) {
	ix.mustIdle(op)
	ix.busy = true
	ix.q = p
	ix.radius = radius
	if !(radius > 0) {
		ix.radius = math.Inf(1)
	}
	ix.stopped = false
	ix.scratch = ix.scratch[:0]
}

// end resets the query state; callbacks are dropped so the index does not
// keep the caller's closures (and what they reference) alive.
func (ix *Index[K]) end() {
	ix.busy = false
	ix.accept = nil
	ix.fn = nil
	clear(ix.scratch) // ids may be strings: do not pin them
	ix.scratch = ix.scratch[:0]
}

// dist ranks tree entries by true metres: a lower bound for a node's box, the
// exact distance for an item. rtree's own BoxDist works in squared coordinate
// units, which misranks lon/lat points away from the equator.
func (ix *Index[K]) dist(min, max [2]float64, _ K, item bool) float64 {
	if item {
		return ix.space.Distance(ix.q, orb.Point(min))
	}
	return ix.space.BoxDistance(ix.q, orb.Point(min), orb.Point(max))
}

// stepNearest receives items in nondecreasing distance. It keeps accepted
// items until it has k of them and then every further item tied with the
// k-th, stopping at the first item beyond the k-th distance or the radius.
func (ix *Index[K]) stepNearest(min, _ [2]float64, id K, d float64) bool {
	if d > ix.radius {
		return false
	}
	if len(ix.scratch) >= ix.k && d > ix.scratch[ix.k-1].Metres {
		return false
	}
	if ix.accept != nil && !ix.accept(id) {
		return true
	}
	ix.scratch = append(ix.scratch, Neighbor[K]{ID: id, Point: orb.Point(min), Metres: d})
	return true
}

// stepWithin gathers items of equal distance in scratch and hands each group
// to fn sorted by id once an item farther away shows the group is complete.
func (ix *Index[K]) stepWithin(min, _ [2]float64, id K, d float64) bool {
	if d > ix.radius {
		return false
	}
	if len(ix.scratch) > 0 && d > ix.scratch[0].Metres && !ix.flushWithin() {
		ix.stopped = true
		return false
	}
	ix.scratch = append(ix.scratch, Neighbor[K]{ID: id, Point: orb.Point(min), Metres: d})
	return true
}

// flushWithin passes the current group of equally distant items to fn and
// reports whether fn wants more.
func (ix *Index[K]) flushWithin() bool {
	if len(ix.scratch) > 1 {
		slices.SortFunc(ix.scratch, compareNeighbors[K])
	}
	for _, n := range ix.scratch {
		if !ix.fn(n) {
			return false
		}
	}
	clear(ix.scratch)
	ix.scratch = ix.scratch[:0]
	return true
}

func compareNeighbors[K cmp.Ordered](a, b Neighbor[K]) int {
	if c := cmp.Compare(a.Metres, b.Metres); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

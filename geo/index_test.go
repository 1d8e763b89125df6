package geo_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// model is the brute-force reference: a plain map of the live points.
type model[K cmp.Ordered] struct {
	space  geo.Space
	points map[K]orb.Point
}

// sorted returns every point ranked by (metres, id), measured exactly as the
// index documents: Space.Distance(query, point).
func (m model[K]) sorted(q orb.Point) []geo.Neighbor[K] {
	all := make([]geo.Neighbor[K], 0, len(m.points))
	for id, p := range m.points {
		all = append(all, geo.Neighbor[K]{ID: id, Point: p, Metres: m.space.Distance(q, p)})
	}
	slices.SortFunc(all, func(a, b geo.Neighbor[K]) int {
		if c := cmp.Compare(a.Metres, b.Metres); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all
}

func bruteNearest[K cmp.Ordered](all []geo.Neighbor[K], k int, radius float64, accept func(K) bool) []geo.Neighbor[K] {
	var out []geo.Neighbor[K]
	for _, n := range all {
		if len(out) == k || (radius > 0 && n.Metres > radius) {
			break
		}
		if accept == nil || accept(n.ID) {
			out = append(out, n)
		}
	}
	return out
}

func bruteWithin[K cmp.Ordered](all []geo.Neighbor[K], radius float64) []geo.Neighbor[K] {
	var out []geo.Neighbor[K]
	for _, n := range all {
		if radius > 0 && n.Metres > radius {
			break
		}
		out = append(out, n)
	}
	return out
}

func collectWithin[K cmp.Ordered](ix *geo.Index[K], q orb.Point, radius float64, limit int) []geo.Neighbor[K] {
	var out []geo.Neighbor[K]
	ix.Within(q, radius, func(n geo.Neighbor[K]) bool {
		out = append(out, n)
		return len(out) != limit
	})
	return out
}

func sameNeighbors[K cmp.Ordered](a, b []geo.Neighbor[K]) bool {
	return slices.Equal(a, b) // Neighbor is comparable: id, point and metres must all match
}

// scenario drives an index and its model with the same random operations.
type scenario[K cmp.Ordered] struct {
	t       *testing.T
	r       *rand.Rand
	ix      *geo.Index[K]
	m       model[K]
	randPt  func() orb.Point
	queries int
	radii   []float64 // metres; 0 is unbounded
}

func (s *scenario[K]) set(id K, p orb.Point) {
	s.ix.Set(id, p)
	s.m.points[id] = p
}

// somePoint returns a random live point, so duplicates (exact ties) arise.
func (s *scenario[K]) somePoint() (K, orb.Point) {
	ids := s.ids()
	id := ids[s.r.IntN(len(ids))]
	return id, s.m.points[id]
}

func (s *scenario[K]) ids() []K {
	ids := make([]K, 0, len(s.m.points))
	for id := range s.m.points {
		ids = append(ids, id)
	}
	slices.Sort(ids) // map order is random; the test must replay exactly
	return ids
}

// check compares every query kind with brute force.
func (s *scenario[K]) check(phase string) {
	s.t.Helper()
	if s.ix.Len() != len(s.m.points) {
		s.t.Fatalf("%s: Len = %d, want %d", phase, s.ix.Len(), len(s.m.points))
	}
	for id, p := range s.m.points {
		if got, ok := s.ix.Location(id); !ok || got != p {
			s.t.Fatalf("%s: Location(%v) = %v, %v; want %v", phase, id, got, ok, p)
		}
	}
	var dst []geo.Neighbor[K]
	for qi := range s.queries {
		q := s.randPt()
		if qi%4 == 0 && len(s.m.points) > 0 { // queries on a stored point: a zero distance and often ties
			_, q = s.somePoint()
		}
		all := s.m.sorted(q)
		salt := uint64(qi)
		accepts := []struct {
			name string
			fn   func(K) bool
		}{
			{"all", nil},
			{"a third", func(id K) bool { return hashKey(id, salt)%3 == 0 }},
			{"none", func(K) bool { return false }},
		}
		for _, k := range []int{1, 2, 5, 37, len(s.m.points) + 3} {
			for _, radius := range s.radii {
				for _, acc := range accepts {
					calls := map[K]int{}
					counted := acc.fn
					if counted != nil {
						counted = func(id K) bool { calls[id]++; return acc.fn(id) }
					}
					dst = s.ix.Nearest(q, k, radius, counted, dst)
					want := bruteNearest(all, k, radius, acc.fn)
					if !sameNeighbors(dst, want) {
						s.t.Fatalf("%s: Nearest(%v, k=%d, radius=%v, accept=%s)\n got %v\nwant %v", phase, q, k, radius, acc.name, dst, want)
					}
					for id, n := range calls {
						if n > 1 {
							s.t.Fatalf("%s: accept called %d times for %v", phase, n, id)
						}
					}
				}
			}
		}
		for _, radius := range s.radii {
			if got, want := collectWithin(s.ix, q, radius, -1), bruteWithin(all, radius); !sameNeighbors(got, want) {
				s.t.Fatalf("%s: Within(%v, %v)\n got %d %v\nwant %d %v", phase, q, radius, len(got), head(got), len(want), head(want))
			}
			// Stopping early gives a prefix.
			want := bruteWithin(all, radius)
			want = want[:min(7, len(want))]
			if got := collectWithin(s.ix, q, radius, 7); !sameNeighbors(got, want) {
				s.t.Fatalf("%s: Within(%v, %v) stopped after 7\n got %v\nwant %v", phase, q, radius, got, want)
			}
		}
	}
}

func head[K cmp.Ordered](ns []geo.Neighbor[K]) []geo.Neighbor[K] { return ns[:min(len(ns), 10)] }

// hashKey gives a deterministic pseudo-random bit pattern for an id.
func hashKey[K cmp.Ordered](id K, salt uint64) uint64 {
	var h uint64 = 14695981039346656037 ^ salt
	for _, c := range []byte(fmt.Sprint(id)) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h >> 7
}

// run plays the phases: build, move, remove, re-add, each checked.
func (s *scenario[K]) run(newID func(i int) K, n int) {
	for i := range n {
		p := s.randPt()
		if i > 0 && s.r.IntN(10) == 0 {
			_, p = s.somePoint() // duplicate location: ties broken by id
		}
		s.set(newID(i), p)
	}
	s.check("built")

	for range n / 4 {
		id, _ := s.somePoint()
		switch s.r.IntN(4) {
		case 0: // onto another point
			_, p := s.somePoint()
			s.set(id, p)
		case 1: // to where it already is: a no-op
			s.set(id, s.m.points[id])
		default:
			s.set(id, s.randPt())
		}
	}
	s.check("moved")

	for range n / 3 {
		id, _ := s.somePoint()
		if !s.ix.Remove(id) {
			s.t.Fatalf("Remove(%v) = false for a present id", id)
		}
		delete(s.m.points, id)
		if s.ix.Remove(id) {
			s.t.Fatalf("second Remove(%v) = true", id)
		}
	}
	s.check("removed")

	for i := range n / 6 {
		s.set(newID(n+i), s.randPt())
	}
	s.check("re-added")

	// The same final set inserted in other orders must answer identically,
	// whatever shape the trees took.
	ids := s.ids()
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	shuffled := slices.Clone(ids)
	s.r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, order := range [][]K{ids, rev, shuffled} {
		other := geo.NewIndex[K](s.m.space)
		for _, id := range order {
			other.Set(id, s.m.points[id])
		}
		for range 30 {
			q := s.randPt()
			for _, k := range []int{1, 10, 50} {
				for _, radius := range s.radii {
					a := s.ix.Nearest(q, k, radius, nil, nil)
					b := other.Nearest(q, k, radius, nil, nil)
					if !sameNeighbors(a, b) {
						s.t.Fatalf("insertion order changed Nearest(%v, %d, %v):\n%v\n%v", q, k, radius, a, b)
					}
				}
			}
			if a, b := collectWithin(s.ix, q, s.radii[0], -1), collectWithin(other, q, s.radii[0], -1); !sameNeighbors(a, b) {
				s.t.Fatalf("insertion order changed Within(%v)", q)
			}
		}
	}

	// A clone answers the same and is independent of later changes.
	clone := s.ix.Clone()
	q := s.randPt()
	before := s.ix.Nearest(q, 20, 0, nil, nil)
	for _, id := range s.ids()[:10] {
		s.ix.Remove(id)
	}
	if got := clone.Nearest(q, 20, 0, nil, nil); !sameNeighbors(got, before) {
		s.t.Fatalf("clone changed when the original did:\n%v\n%v", got, before)
	}
	if clone.Len() != s.ix.Len()+10 {
		s.t.Fatalf("clone Len = %d, original %d", clone.Len(), s.ix.Len())
	}
}

func TestIndexGeographicAgainstBruteForce(t *testing.T) {
	t.Parallel() // the two slowest tests; each has its own seeded generator
	r := rand.New(rand.NewPCG(11, 12))
	// About 30 × 30 km around People's Square, Shanghai.
	randPt := func() orb.Point {
		return orb.Point{121.47 + (r.Float64()-0.5)*0.32, 31.23 + (r.Float64()-0.5)*0.27}
	}
	s := &scenario[string]{
		t: t, r: r, ix: geo.NewIndex[string](geo.Geographic),
		m:      model[string]{space: geo.Geographic, points: map[string]orb.Point{}},
		randPt: randPt, queries: 12, radii: []float64{1500, 0, 4000},
	}
	s.run(func(i int) string { return fmt.Sprintf("c%05d", (i*7919)%100000) }, 2000)
}

func TestIndexPlanarAgainstBruteForce(t *testing.T) {
	t.Parallel() // the two slowest tests; each has its own seeded generator
	r := rand.New(rand.NewPCG(21, 22))
	// A 30 km square on a 100 m grid: lattice points are at exactly equal
	// distances from grid queries, so ties are everywhere.
	randPt := func() orb.Point {
		return orb.Point{float64(r.IntN(301)) * 100, float64(r.IntN(301)) * 100}
	}
	s := &scenario[int]{
		t: t, r: r, ix: geo.NewIndex[int](geo.Planar),
		m:      model[int]{space: geo.Planar, points: map[int]orb.Point{}},
		randPt: randPt, queries: 12, radii: []float64{1000, 0, 2500},
	}
	s.run(func(i int) int { return 5000 - i }, 2000)
}

func TestIndexTiesByID(t *testing.T) {
	ix := geo.NewIndex[string](geo.Planar)
	// Inserted in an order unrelated to the ids.
	for _, id := range []string{"m", "c", "x", "a", "q"} {
		ix.Set(id, orb.Point{10, 0})
	}
	ix.Set("near", orb.Point{1, 0})
	ix.Set("b-other-side", orb.Point{-10, 0}) // same distance as the group
	got := ix.Nearest(orb.Point{0, 0}, 3, 0, nil, nil)
	want := []string{"near", "a", "b-other-side"}
	for i, n := range got {
		if n.ID != want[i] {
			t.Fatalf("Nearest = %v, want ids %v", got, want)
		}
	}
	var order []string
	ix.Within(orb.Point{0, 0}, 10, func(n geo.Neighbor[string]) bool {
		order = append(order, n.ID)
		return true
	})
	if fmt.Sprint(order) != "[near a b-other-side c m q x]" {
		t.Fatalf("Within order = %v", order)
	}
	// Radius is inclusive.
	if got := ix.Nearest(orb.Point{0, 0}, 100, 10, nil, nil); len(got) != 7 {
		t.Fatalf("radius 10 found %d points, want 7 (inclusive)", len(got))
	}
	if got := ix.Nearest(orb.Point{0, 0}, 100, 9.999, nil, nil); len(got) != 1 {
		t.Fatalf("radius 9.999 found %d points, want 1", len(got))
	}
}

func TestIndexAcrossAntimeridian(t *testing.T) {
	ix := geo.NewIndex[int](geo.Geographic)
	ix.Set(1, orb.Point{-179.99, 0})  // about 2.2 km east across the line
	ix.Set(2, orb.Point{179.90, 0})   // about 8.9 km west
	ix.Set(3, orb.Point{-179.995, 0}) // about 1.7 km
	for i := range 200 {              // filler far away, so the tree has levels
		ix.Set(100+i, orb.Point{-170 + float64(i)*0.5, float64(i%40) - 20})
	}
	got := ix.Nearest(orb.Point{179.98, 0}, 3, 10000, nil, nil)
	if len(got) != 3 || got[0].ID != 3 || got[1].ID != 1 || got[2].ID != 2 {
		t.Fatalf("Nearest across the antimeridian = %v, want ids 3, 1, 2", got)
	}
}

func TestIndexEdgeCases(t *testing.T) {
	ix := geo.NewIndex[int](geo.Geographic)
	dst := make([]geo.Neighbor[int], 3, 8)
	if got := ix.Nearest(orb.Point{0, 0}, 5, 0, nil, dst); len(got) != 0 || cap(got) != 8 {
		t.Errorf("Nearest on an empty index = %v (cap %d), want dst[:0]", got, cap(got))
	}
	ix.Within(orb.Point{0, 0}, 0, func(geo.Neighbor[int]) bool { t.Error("Within called fn on an empty index"); return true })
	ix.Set(1, orb.Point{0, 0})
	if got := ix.Nearest(orb.Point{0, 0}, 0, 0, nil, dst); len(got) != 0 {
		t.Errorf("k=0 gave %v", got)
	}
	if got := ix.Nearest(orb.Point{0, 0}, -1, 0, nil, dst); len(got) != 0 {
		t.Errorf("k=-1 gave %v", got)
	}
	if got := ix.Nearest(orb.Point{math.NaN(), 0}, 1, 0, nil, dst); len(got) != 0 {
		t.Errorf("NaN query gave %v", got)
	}
	if got := ix.Nearest(orb.Point{0, 0}, 1, math.NaN(), nil, dst); len(got) != 1 {
		t.Errorf("NaN radius (unbounded) gave %v", got)
	}
	if ix.Remove(2) {
		t.Error("Remove of an absent id = true")
	}
	if !ix.Remove(1) || ix.Len() != 0 {
		t.Error("Remove of the only id failed")
	}
	if _, ok := ix.Location(1); ok {
		t.Error("Location after Remove found the id")
	}
	if got := ix.Nearest(orb.Point{0, 0}, 1, 0, nil, dst); len(got) != 0 {
		t.Errorf("after removing everything Nearest = %v", got)
	}
	if ix.Space() != geo.Geographic {
		t.Error("Space() is not the one given")
	}
}

func TestIndexPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	ix := geo.NewIndex[int](geo.Geographic)
	mustPanic("Set with an invalid point", func() { ix.Set(1, orb.Point{200, 0}) })
	mustPanic("Set with NaN", func() { ix.Set(1, orb.Point{math.NaN(), 0}) })
	if ix.Len() != 0 {
		t.Fatal("a rejected Set stored the point")
	}
	mustPanic("NewIndex(nil)", func() { geo.NewIndex[int](nil) })

	ix.Set(1, orb.Point{0, 0})
	ix.Set(2, orb.Point{0, 0.001})
	mustPanic("Set from Within", func() {
		ix.Within(orb.Point{0, 0}, 0, func(geo.Neighbor[int]) bool { ix.Set(3, orb.Point{1, 1}); return true })
	})
	mustPanic("Remove from accept", func() {
		ix.Nearest(orb.Point{0, 0}, 2, 0, func(int) bool { ix.Remove(2); return true }, nil)
	})
	mustPanic("Nearest from Within", func() {
		ix.Within(orb.Point{0, 0}, 0, func(geo.Neighbor[int]) bool { ix.Nearest(orb.Point{0, 0}, 1, 0, nil, nil); return true })
	})
	// After a panicking callback the index is usable again.
	if got := ix.Nearest(orb.Point{0, 0}, 5, 0, nil, nil); len(got) != 2 || ix.Len() != 2 {
		t.Fatalf("index unusable after a callback panic: %v", got)
	}
	// Location is allowed from a callback.
	ix.Within(orb.Point{0, 0}, 0, func(n geo.Neighbor[int]) bool {
		if p, ok := ix.Location(n.ID); !ok || p != n.Point {
			t.Errorf("Location(%d) from Within = %v, %v", n.ID, p, ok)
		}
		return true
	})
}

func TestIndexNearestDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so rtree's queue pool allocates")
	}
	r := rand.New(rand.NewPCG(5, 6))
	ix := geo.NewIndex[string](geo.Geographic)
	for i := range 5000 {
		ix.Set(fmt.Sprintf("c%d", i), orb.Point{121.47 + (r.Float64()-0.5)*0.3, 31.23 + (r.Float64()-0.5)*0.3})
	}
	dst := make([]geo.Neighbor[string], 0, 10)
	accept := func(id string) bool { return len(id)%2 == 0 }
	q := orb.Point{121.47, 31.23}
	ix.Nearest(q, 10, 5000, accept, dst) // warm the scratch slice and rtree's queue pool
	if n := testing.AllocsPerRun(200, func() { dst = ix.Nearest(q, 10, 5000, accept, dst) }); n != 0 {
		t.Errorf("Nearest allocates %.1f times per call", n)
	}
	if n := testing.AllocsPerRun(200, func() { ix.Within(q, 300, func(geo.Neighbor[string]) bool { return true }) }); n != 0 {
		t.Errorf("Within allocates %.1f times per call", n)
	}
}

// TestIndexCloneConcurrent hands a clone to another goroutine while the owner
// keeps changing the original; under -race this proves they share nothing
// mutable.
func TestIndexCloneConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	randPt := func(r *rand.Rand) orb.Point {
		return orb.Point{121.47 + (r.Float64()-0.5)*0.3, 31.23 + (r.Float64()-0.5)*0.3}
	}
	ix := geo.NewIndex[int](geo.Geographic)
	for i := range 3000 {
		ix.Set(i, randPt(r))
	}
	clone := ix.Clone()
	q := orb.Point{121.47, 31.23}
	want := clone.Nearest(q, 25, 0, nil, nil)
	done := make(chan []geo.Neighbor[int])
	go func() {
		var got []geo.Neighbor[int]
		for range 200 {
			got = clone.Nearest(q, 25, 0, nil, got)
		}
		done <- got
	}()
	for i := range 3000 {
		if i%3 == 0 {
			ix.Remove(i)
		} else {
			ix.Set(i, randPt(r))
		}
	}
	if got := <-done; !sameNeighbors(got, want) {
		t.Fatalf("clone answered differently while the original changed:\n%v\n%v", got, want)
	}
}

// A clone costs the original nothing afterwards: moving a point in place allocates nothing, before a Clone and
// after it (with a tree shared copy-on-write, every move after a Clone copied the nodes on its path again), and
// the clone, changed on its own, still answers from its own points.
func TestIndexMovesInPlaceAfterClone(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	randPt := func() orb.Point { return orb.Point{121.4 + r.Float64()*0.1, 31.2 + r.Float64()*0.1} }
	ix := geo.NewIndex[int](geo.Geographic)
	for i := range 1000 {
		ix.Set(i, randPt())
	}
	move := func() { ix.Set(r.IntN(1000), randPt()) }
	for range 2000 {
		move() // settle the tree's node sizes
	}
	if a := testing.AllocsPerRun(2000, move); a != 0 {
		t.Fatalf("a move allocates %.2f times before any Clone", a)
	}
	clone := ix.Clone()
	if a := testing.AllocsPerRun(2000, move); a != 0 {
		t.Fatalf("a move allocates %.2f times after a Clone: the original's tree is shared with the clone", a)
	}
	clone.Set(5000, orb.Point{121.45, 31.25})
	got := clone.Nearest(orb.Point{121.45, 31.25}, 1, 0, nil, nil)
	if len(got) != 1 || got[0].ID != 5000 {
		t.Fatalf("the clone's own point is not its nearest: %v", got)
	}
	if _, ok := ix.Location(5000); ok {
		t.Fatal("a point set on the clone is in the original")
	}
}

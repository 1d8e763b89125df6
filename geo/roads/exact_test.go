package roads

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// osmData returns the path of a shared OSM extract, or skips the test when it is absent (licences keep it
// out of the repository). env names a variable that overrides the path.
func osmData(tb testing.TB, env, name string) string {
	tb.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = "/work/shared/data/osm/" + name
	}
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("%s not found (set %s to its path): %v", name, env, err)
	}
	return path
}

var (
	importedMu sync.Mutex
	imported   = map[string]*Network{}
)

// importOnce imports an extract once per test binary.
func importOnce(tb testing.TB, path string) *Network {
	tb.Helper()
	importedMu.Lock()
	defer importedMu.Unlock()
	if net, ok := imported[path]; ok {
		return net
	}
	net, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	imported[path] = net
	return net
}

func monaco(tb testing.TB) *Network {
	return importOnce(tb, osmData(tb, "MONACO_PBF", "monaco.osm.pbf"))
}

// randomPoints returns n points drawn uniformly from the network's bound.
func randomPoints(net *Network, rng *rand.Rand, n int) []orb.Point {
	b := net.Stats().Bound
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
	}
	return pts
}

// TestMonacoEqualsDijkstra checks the hierarchies against plain Dijkstra on the original arcs, with the same
// seeds, for random pairs of points in Monaco.
func TestMonacoEqualsDijkstra(t *testing.T) {
	net := monaco(t)
	pairs := 2000
	if testing.Short() || raceOn {
		pairs = 300
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for g, gr := range net.graphs {
		edges, _ := gr.arcs(net)
		pts := randomPoints(net, rng, 2*pairs)
		reached := 0
		for i := 0; i < pairs; i++ {
			a, b := net.snap(pts[2*i], g), net.snap(pts[2*i+1], g)
			src, _ := net.seeds(a, g, true, nil, nil)
			dst, _ := net.seeds(b, g, false, nil, nil)
			w, l, ok := ch.Dijkstra(len(net.nodes), edges, src, dst)
			w, _, ok = net.best(a, b, g, w, l, ok)
			gw, _, gok := net.route(a, b, g)
			if ok != gok || (ok && w != gw) {
				t.Fatalf("%s pair %d %v→%v: hierarchy %d ms (%v), Dijkstra %d ms (%v)", graphNames[g], i, pts[2*i], pts[2*i+1], gw, gok, w, ok)
			}
			if !ok {
				t.Fatalf("%s pair %d: unreachable inside one strongly connected component", graphNames[g], i)
			}
			reached++
			p := graphProfiles[g]
			if d := net.TravelTime(pts[2*i], pts[2*i+1], p); d != tripDuration(w, 1, a.off+b.off) {
				t.Fatalf("%s pair %d: TravelTime %v, Dijkstra's %v", p, i, d, tripDuration(w, 1, a.off+b.off))
			}
		}
		t.Logf("%s: %d pairs equal", graphNames[g], reached)
	}
}

func TestMonacoEBikeIsScaledBike(t *testing.T) {
	net := monaco(t)
	rng := rand.New(rand.NewPCG(3, 4))
	pts := randomPoints(net, rng, 200)
	for i := 0; i+1 < len(pts); i += 2 {
		bike, ebike := net.TravelTime(pts[i], pts[i+1], geo.Bike), net.TravelTime(pts[i], pts[i+1], geo.EBike)
		if !(ebike < bike) && bike != 0 {
			t.Errorf("pair %d: e-bike %v not faster than bike %v", i, ebike, bike)
		}
	}
}

// TestBatchEqualsSingle is the property that a batch answers every pair exactly as the network does, including
// pairs outside the batch and duplicate points, when two goroutines ask at once.
func TestBatchEqualsSingle(t *testing.T) {
	nets := map[string]*Network{"town": openTown(t)}
	if path := os.Getenv("MONACO_PBF"); path != "" || fileExists("/work/shared/data/osm/monaco.osm.pbf") {
		nets["monaco"] = monaco(t)
	}
	for name, net := range nets {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			src := randomPoints(net, rng, 25)
			dst := append(randomPoints(net, rng, 20), src[:10]...) // shared points, some on both sides
			src = append(src, src[0])                              // a duplicate
			profiles := []geo.Profile{geo.Foot, geo.EBike, geo.Car}
			b := net.Batch(src, dst, profiles)
			outside := randomPoints(net, rng, 5)
			froms, tos := slices.Concat(src, outside), slices.Concat(dst, outside)
			var wg sync.WaitGroup
			for w := 0; w < 2; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for p := geo.Profile(0); p < geo.NumProfiles; p++ {
						for i, a := range froms {
							for j, c := range tos {
								if (i+j+w)%2 == 0 && p != geo.Car {
									continue // the two goroutines share the work and meet on cars
								}
								if x, y := b.TravelTime(a, c, p), net.TravelTime(a, c, p); x != y {
									t.Errorf("%s %v→%v: batch %v, network %v", p, a, c, x, y)
									return
								}
							}
						}
					}
				}(w)
			}
			wg.Wait()
		})
	}
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestLargestSCC(t *testing.T) {
	// 0⇄1→2⇄3⇄4, 5 alone: {2,3,4} is the largest.
	from := []int32{0, 1, 1, 2, 3, 3, 4}
	to := []int32{1, 0, 2, 3, 2, 4, 3}
	in, size := largestSCC(6, from, to)
	if size != 3 || !in[2] || !in[3] || !in[4] || in[0] || in[1] || in[5] {
		t.Errorf("largestSCC = %v, %d", in, size)
	}
	// One cycle through a million nodes: a recursive search would need a million frames.
	n := 1_000_000
	from, to = make([]int32, n), make([]int32, n)
	for i := range from {
		from[i], to[i] = int32(i), int32((i+1)%n)
	}
	if _, size := largestSCC(n, from, to); size != n {
		t.Errorf("the million-node cycle: %d nodes", size)
	}
	// Cut the cycle once: every node is its own component.
	if _, size := largestSCC(n, from[:n-1], to[:n-1]); size != 1 {
		t.Errorf("the million-node chain: largest component %d", size)
	}
	if _, size := largestSCC(0, nil, nil); size != 0 {
		t.Errorf("empty graph: %d", size)
	}
}

func TestRoundU32(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want uint32
	}{{-1, 0}, {0.4, 0}, {0.5, 1}, {1e20, math.MaxUint32}} {
		if got := roundU32(c.in); got != c.want {
			t.Errorf("roundU32(%g) = %d", c.in, got)
		}
	}
}

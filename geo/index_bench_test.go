package geo_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Benchmarks model a city of about 30 × 30 km centred on People's Square,
// Shanghai, with couriers keyed by string ids as the engine keys them.
const (
	benchLon, benchLat = 121.47, 31.23
	benchSpanDeg       = 0.28 // about 30 km of latitude, 27 km of longitude at 31° N
	metresPerDegLat    = 6378137.0 * math.Pi / 180
)

func benchCity(b *testing.B, n int) (*geo.Index[string], []string, *rand.Rand) {
	b.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 42))
	ix := geo.NewIndex[string](geo.Geographic)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("courier-%06d", i)
		ix.Set(ids[i], benchPoint(r))
	}
	return ix, ids, r
}

func benchPoint(r *rand.Rand) orb.Point {
	return orb.Point{benchLon + (r.Float64()-0.5)*benchSpanDeg, benchLat + (r.Float64()-0.5)*benchSpanDeg}
}

// BenchmarkIndexMove moves a random courier by up to 200 m, as a location
// update does.
func BenchmarkIndexMove(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%dk", n/1000), func(b *testing.B) {
			ix, ids, r := benchCity(b, n)
			cosLat := math.Cos(benchLat * math.Pi / 180)
			b.ReportAllocs()
			for b.Loop() {
				id := ids[r.IntN(len(ids))]
				p, _ := ix.Location(id)
				// Up to 200 m in each direction, kept inside the city so the
				// density stays the same however long the benchmark runs.
				dLat := (r.Float64()*2 - 1) * 200 / math.Sqrt2 / metresPerDegLat
				dLon := (r.Float64()*2 - 1) * 200 / math.Sqrt2 / (metresPerDegLat * cosLat)
				p[0] = math.Max(benchLon-benchSpanDeg/2, math.Min(benchLon+benchSpanDeg/2, p[0]+dLon))
				p[1] = math.Max(benchLat-benchSpanDeg/2, math.Min(benchLat+benchSpanDeg/2, p[1]+dLat))
				ix.Set(id, p)
			}
		})
	}
}

// BenchmarkIndexNearest asks for the 10 nearest couriers within 5 km of a
// random point, as candidate selection for an order does.
func BenchmarkIndexNearest(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%dk", n/1000), func(b *testing.B) {
			ix, _, r := benchCity(b, n)
			dst := make([]geo.Neighbor[string], 0, 10)
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.Nearest(benchPoint(r), 10, 5000, nil, dst)
			}
			if len(dst) != 10 {
				b.Fatalf("found %d neighbours, want 10", len(dst))
			}
		})
	}
}

package roads

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// The benchmarks read their inputs once per test binary (importOnce, benchCity) and skip under -short.

func skipShort(b *testing.B) {
	b.Helper()
	if testing.Short() {
		b.Skip("benchmark skipped under -short")
	}
}

// benchRoute measures one-to-one travel times between random points: each op is queriesPerOp queries, and the
// median (p50) and 99th percentile of single queries are reported besides.
func benchRoute(b *testing.B, net *Network, p geo.Profile) {
	const queriesPerOp = 1000
	rng := rand.New(rand.NewPCG(1, 1))
	pts := randomPoints(net, rng, 2048)
	var lat []time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		for range queriesPerOp {
			t0 := time.Now()
			net.TravelTime(pts[i%len(pts)], pts[(i*7+1)%len(pts)], p)
			lat = append(lat, time.Since(t0))
			i++
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkRouteMonaco(b *testing.B) {
	skipShort(b)
	net := monaco(b)
	for _, p := range []geo.Profile{geo.Foot, geo.Bike, geo.Car} {
		b.Run(p.String(), func(b *testing.B) { benchRoute(b, net, p) })
	}
}

func BenchmarkRouteBaltimore(b *testing.B) {
	skipShort(b)
	net := importOnce(b, osmData(b, "BALTIMORE_PBF", "baltimore.osm.pbf"))
	for _, p := range []geo.Profile{geo.Foot, geo.Bike, geo.Car} {
		b.Run(p.String(), func(b *testing.B) { benchRoute(b, net, p) })
	}
}

func BenchmarkImportBaltimore(b *testing.B) {
	skipShort(b)
	path := osmData(b, "BALTIMORE_PBF", "baltimore.osm.pbf")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(path); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTable measures a 100 × 100 table.
func benchTable(b *testing.B, net *Network, p geo.Profile) {
	rng := rand.New(rand.NewPCG(2, 2))
	var src, dst []orb.Point
	for _, pt := range randomPoints(net, rng, 400) {
		if net.CheckPoint(pt) == nil {
			if len(src) < 100 {
				src = append(src, pt)
			} else if len(dst) < 100 {
				dst = append(dst, pt)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := net.Table(src, dst, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTable100Monaco(b *testing.B) {
	skipShort(b)
	benchTable(b, monaco(b), geo.Car)
}

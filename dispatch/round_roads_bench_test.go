package dispatch

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

var benchRoads struct {
	once sync.Once
	keep sync.Once
	net  *roads.Network
	err  error
	took time.Duration
}

// cpuTime is the user and system processor time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRoadNetwork builds, once per process, the road network of the benchmark city: ch.BenchCity, a metro of about
// a million junctions (95 × 95 km) centred on the 30 × 30 km that benchCity fills, or ROADS_BENCH_CITY_NODES
// junctions when that is set (100 000 cover about those 30 × 30 km). The hierarchies' kept spaces are made before
// the first round, as dispatchd makes them after loading a map. Only the graphs of benchCity's vehicles are
// built (bike, which e-bikes share, and scooter). ROADS_BENCH_MAP names a map file that keeps the network between
// runs: opened when it exists (whatever size it was built at), written after a build otherwise; delete it after
// any change to the network's build.
func benchRoadNetwork(b *testing.B) *roads.Network {
	spec := ch.BenchCity()
	if v := os.Getenv("ROADS_BENCH_CITY_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 {
			b.Fatalf("ROADS_BENCH_CITY_NODES=%q: want a number of junctions >= 16", v)
		}
		spec.Nodes = n
	}
	benchRoads.once.Do(func() {
		began := time.Now()
		file := os.Getenv("ROADS_BENCH_MAP")
		if file != "" {
			if _, err := os.Stat(file); err == nil {
				benchRoads.net, benchRoads.err = roads.Open(file)
				benchRoads.took = time.Since(began)
				runtime.GC()
				return
			}
		}
		benchRoads.net, benchRoads.err = roads.Synthetic(spec, roads.Options{Profiles: []geo.Profile{geo.Bike, geo.EBike, geo.Scooter}})
		benchRoads.took = time.Since(began)
		if benchRoads.err == nil && file != "" {
			benchRoads.err = writeMap(file, benchRoads.net)
		}
		runtime.GC()
	})
	if benchRoads.err != nil {
		b.Fatal(benchRoads.err)
	}
	benchRoads.keep.Do(func() {
		// As dispatchd does beside its first rounds after loading a map.
		began := time.Now()
		bytes, err := benchRoads.net.KeepTop(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("kept the top of every hierarchy in %s: %.0f MB", time.Since(began).Round(time.Millisecond), float64(bytes)/1e6)
	})
	return benchRoads.net
}

// writeMap writes net's map file to path, for the next run of the benchmark to open.
func writeMap(path string, net *roads.Network) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := net.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchMoves counts the runs of each travel=*-moved variant in the process.
var benchMoves = map[string]int{}

// moveCouriers has every courier on its way to a stop report a position up to metres further towards it, as the
// couriers of a city have moved between two rounds a few seconds apart.
func moveCouriers(tb testing.TB, e *Engine, metres float64) {
	for _, c := range e.courierList {
		if !c.online || len(c.stops) == 0 {
			continue
		}
		to := c.stops[0].location()
		d := geo.Geographic.Distance(c.loc, to)
		if d == 0 {
			continue
		}
		f := min(1, metres/d)
		at := orb.Point{c.loc[0] + f*(to[0]-c.loc[0]), c.loc[1] + f*(to[1]-c.loc[1])}
		if _, err := e.Apply(t0, CourierMoved{CourierID: c.spec.ID, Location: at}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRoundRoads measures one dispatch round on the benchmark city (BenchmarkRound's) on straight lines and on
// the roads of the synthetic city, in the same run, so that their ratio is the price of the roads. Each iteration
// builds a fresh city outside the timer. The road network keeps search spaces between rounds, so the first run of
// a size on roads is the cold round (a daemon's first); with -count above 1 the same city comes again and finds
// them warm. travel=roads-moved is that city after every courier on its way to a stop has moved towards it (100 m
// on the first run, 200 m on the second, ...), as between two rounds a few seconds apart: the places of the day
// are known, the couriers' positions are new; travel=straight-moved is the same city moved alike on straight
// lines, the round roads-moved compares with (moved couriers change the round's work on any model).
func BenchmarkRoundRoads(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a road network of a million junctions")
	}
	net := benchRoadNetwork(b)
	b.Logf("road network: %s, built in %s", net.Stats(), benchRoads.took.Round(time.Second))
	for _, size := range []struct{ couriers, orders int }{{1000, 300}, {10000, 3000}} {
		for _, travel := range []struct {
			name  string
			model geo.TravelModel
		}{{"straight", geo.NewStraightLine(geo.Geographic)}, {"roads", net},
			{"straight-moved", geo.NewStraightLine(geo.Geographic)}, {"roads-moved", net}} {
			b.Run(fmt.Sprintf("couriers=%d/orders=%d/travel=%s", size.couriers, size.orders, travel.name), func(b *testing.B) {
				b.ReportAllocs()
				var stats Stats
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					cpu1 := cpuTime()
					e := benchCityOn(b, size.couriers, size.orders, uint64(i+1), travel.model)
					if strings.HasSuffix(travel.name, "-moved") {
						// Further each run, so that every run finds the couriers somewhere new; the k-th run of
						// both variants moves them alike.
						benchMoves[travel.name]++
						moveCouriers(b, e, 100*float64(benchMoves[travel.name]))
					}
					cpu0 += cpuTime() - cpu1
					b.StartTimer()
					if _, err := e.Apply(t0.Add(time.Second), DispatchTick{}); err != nil {
						b.Fatal(err)
					}
					stats = e.LastRound()
				}
				b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(stats.Assigned), "assigned/op")
				b.ReportMetric(float64(stats.Pairs), "pairs/op")
			})
		}
	}
}

package roads

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

var (
	cityOnce sync.Once
	cityKeep sync.Once
	cityNet  *Network
	cityMap  []byte
	cityErr  error
)

// citySpec is ch.BenchCity (ch.DenseCity with ROADS_BENCH_CITY=dense), with ROADS_BENCH_CITY_NODES nodes when
// that variable is set (contracting the four graphs of the million-node city takes minutes on a shared two-core
// machine).
func citySpec(b *testing.B) ch.CitySpec {
	spec := ch.BenchCity()
	switch v := os.Getenv("ROADS_BENCH_CITY"); v {
	case "", "metro":
	case "dense":
		spec = ch.DenseCity()
	default:
		b.Fatalf("ROADS_BENCH_CITY=%q: want metro (the default) or dense", v)
	}
	if v := os.Getenv("ROADS_BENCH_CITY_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 {
			b.Fatalf("ROADS_BENCH_CITY_NODES=%q: want a number of nodes >= 16", v)
		}
		spec.Nodes = n
	}
	return spec
}

// cityOptions contracts with every core, and builds only the profiles ROADS_BENCH_CITY_PROFILES lists
// (comma-separated names) when it is set.
func cityOptions(b *testing.B) Options {
	opt := Options{CH: ch.Options{Workers: runtime.GOMAXPROCS(0)}}
	if v := os.Getenv("ROADS_BENCH_CITY_PROFILES"); v != "" {
		for _, name := range strings.Split(v, ",") {
			p, err := geo.ParseProfile(name)
			if err != nil {
				b.Fatalf("ROADS_BENCH_CITY_PROFILES: %v", err)
			}
			opt.Profiles = append(opt.Profiles, p)
		}
	}
	return opt
}

// benchCity builds the benchmark city's network (citySpec) and its map file once. With ROADS_BENCH_CITY_MAP set,
// the map file is kept there between runs: read when present (its city is whatever wrote it: delete the file after
// changing the city, its size or its profiles), written after a build otherwise. Building the four graphs of the
// million-node city takes minutes; opening it is what BenchmarkOpenCity measures. The hierarchies' kept spaces
// are made before the first benchmark uses the network, as dispatchd makes them after loading a map.
func benchCity(b *testing.B) (*Network, []byte) {
	b.Helper()
	skipShort(b)
	cityOnce.Do(func() {
		keep := os.Getenv("ROADS_BENCH_CITY_MAP")
		if keep != "" {
			if data, err := os.ReadFile(keep); err == nil {
				cityMap = data
				cityNet, cityErr = Open(keep)
				return
			}
		}
		cityNet, cityErr = Synthetic(citySpec(b), cityOptions(b))
		if cityErr != nil {
			return
		}
		var buf bytes.Buffer
		_, cityErr = cityNet.WriteTo(&buf)
		cityMap = buf.Bytes()
		if cityErr == nil && keep != "" {
			cityErr = os.WriteFile(keep, cityMap, 0o644)
		}
	})
	if cityErr != nil {
		b.Fatal(cityErr)
	}
	cityKeep.Do(func() {
		// As dispatchd does after loading a map: queries and batches measure the steady state.
		began := time.Now()
		bytes, err := cityNet.KeepTop(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("kept the top of every hierarchy in %s: %.0f MB", time.Since(began).Round(time.Millisecond), float64(bytes)/1e6)
	})
	return cityNet, cityMap
}

// BenchmarkPrepareCity builds the million-node city's network (four hierarchies) and writes its map file,
// reporting the live heap it holds once built.
func BenchmarkPrepareCity(b *testing.B) {
	skipShort(b)
	n, edges, coords := ch.SyntheticCity(citySpec(b))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		net, err := FromGraph(n, edges, coords, cityOptions(b))
		if err != nil {
			b.Fatal(err)
		}
		size, err := net.WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(size)/(1<<20), "file-MiB")
		runtime.KeepAlive(net)
		b.StartTimer()
	}
}

func BenchmarkOpenCity(b *testing.B) {
	_, data := benchCity(b)
	path := filepath.Join(b.TempDir(), "city.map")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
	b.ResetTimer()
	for b.Loop() {
		if _, err := Open(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteCity(b *testing.B) {
	net, _ := benchCity(b)
	for _, p := range []geo.Profile{geo.Foot, geo.Bike, geo.Car} {
		b.Run(p.String(), func(b *testing.B) { benchRoute(b, net, p) })
	}
}

func BenchmarkTable100City(b *testing.B) {
	net, _ := benchCity(b)
	benchTable(b, net, geo.Car)
}

// BenchmarkBatchCity is a dispatch round's work: Batch over 30 000 distinct points (10 000 sources, 20 000
// targets), then 100 000 distinct pairs asked from one goroutine. cold starts with an empty space cache; warm
// asks the same round again, every space cached.
func BenchmarkBatchCity(b *testing.B) {
	net, _ := benchCity(b)
	rng := rand.New(rand.NewPCG(9, 9))
	pts := randomPoints(net, rng, 30_000)
	src, dst := pts[:10_000], pts[10_000:]
	type pair struct{ a, b orb.Point }
	pairs := make([]pair, 0, 100_000)
	seen := map[[2]int]bool{}
	for len(pairs) < cap(pairs) {
		i, j := rng.IntN(len(src)), rng.IntN(len(dst))
		if !seen[[2]int{i, j}] {
			seen[[2]int{i, j}] = true
			pairs = append(pairs, pair{src[i], dst[j]})
		}
	}
	profiles := []geo.Profile{geo.Car}
	round := func() {
		m := net.Batch(src, dst, profiles)
		for _, pr := range pairs {
			m.TravelTime(pr.a, pr.b, geo.Car)
		}
	}
	defer func() { net.cache = newSpaceCache(DefaultSpaceCacheEntries) }()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			net.cache = newSpaceCache(DefaultSpaceCacheEntries)
			b.StartTimer()
			round()
		}
	})
	b.Run("warm", func(b *testing.B) {
		net.cache = newSpaceCache(DefaultSpaceCacheEntries)
		round()
		b.ResetTimer()
		for b.Loop() {
			round()
		}
		b.StopTimer()
		var entries, spaces int
		net.cache.current(func(e *spaceEntry) { entries, spaces = entries+e.space.Len(), spaces+1 })
		// A space entry is a node (4 bytes) and a cost (8 bytes).
		b.ReportMetric(float64(entries)/float64(spaces), "entries/space")
		b.ReportMetric(float64(entries)*12/(1<<20), "cache-MiB")
	})
}

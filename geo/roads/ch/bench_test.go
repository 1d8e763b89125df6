package ch

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The benchmarks share one synthetic city of about a million nodes ([BenchCity]) and its hierarchy, made once per
// process (by BenchmarkBuild1M when it runs). They skip under -short. CH_BENCH_NODES=100000 runs them on a
// smaller city of the same shape, to iterate faster; CH_BENCH_CITY=dense on the stress case, [DenseCity].
//
//	go test ./geo/roads/ch -run '^$' -bench 1M -benchtime 1x -timeout 60m

var bench struct {
	cityOnce sync.Once
	n        int
	edges    []Edge
	mu       sync.Mutex
	h        *Hierarchy // built by the first benchmark that needs it, BenchmarkBuild1M or another
}

func benchGraph(b *testing.B) (int, []Edge) {
	b.Helper()
	if testing.Short() {
		b.Skip("the million-node city is not built under -short")
	}
	bench.cityOnce.Do(func() {
		spec := BenchCity()
		switch v := os.Getenv("CH_BENCH_CITY"); v {
		case "", "metro":
		case "dense":
			spec = DenseCity()
		default:
			b.Fatalf("CH_BENCH_CITY=%q: want metro (the default) or dense", v)
		}
		if v := os.Getenv("CH_BENCH_NODES"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 16 {
				b.Fatalf("CH_BENCH_NODES=%q: want a node count of at least 16", v)
			}
			spec.Nodes = n
		}
		bench.n, bench.edges, _ = SyntheticCity(spec)
	})
	return bench.n, bench.edges
}

// benchCity returns the city and its hierarchy. CH_BENCH_HIERARCHY names a file that keeps the hierarchy between
// runs: read from it when it exists (for the same city), written to it after a build otherwise.
func benchCity(b *testing.B) (int, []Edge, *Hierarchy) {
	b.Helper()
	n, edges := benchGraph(b)
	bench.mu.Lock()
	defer bench.mu.Unlock()
	if bench.h == nil {
		if path := os.Getenv("CH_BENCH_HIERARCHY"); path != "" {
			if f, err := os.Open(path); err == nil {
				h, err := ReadFrom(f)
				f.Close()
				if err != nil || h.NumNodes() != n || h.NumEdges() != len(edges) {
					b.Fatalf("CH_BENCH_HIERARCHY=%s: not this city's hierarchy (%v)", path, err)
				}
				bench.h = h
				return n, edges, h
			}
		}
		h, err := Build(n, edges, Options{Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			b.Fatal(err)
		}
		bench.h = h
		saveBenchHierarchy(b, h)
	}
	return n, edges, bench.h
}

// saveBenchHierarchy writes h to CH_BENCH_HIERARCHY when it is set.
func saveBenchHierarchy(b *testing.B, h *Hierarchy) {
	path := os.Getenv("CH_BENCH_HIERARCHY")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.WriteTo(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkBuild1M(b *testing.B) {
	n, edges := benchGraph(b)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { // sampled peak of the heap while building (ReadMemStats stops the world: not too often); stopped and waited for below
		var m runtime.MemStats
		var top uint64
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			top = max(top, m.HeapAlloc)
			select {
			case <-stop:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	var h *Hierarchy
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if h, err = Build(n, edges, Options{Workers: runtime.GOMAXPROCS(0)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	close(stop)
	b.ReportMetric(float64(<-peak-before.HeapAlloc)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(h.NumArcs())/float64(len(edges)), "arcs/edge")
	b.ReportMetric(float64(n), "nodes")
	bench.mu.Lock()
	bench.h = h
	bench.mu.Unlock()
	saveBenchHierarchy(b, h)
}

// benchPairs runs query on random pairs of nodes of the city, and reports the median time of one.
func benchPairs(b *testing.B, seed uint64, query func(q *Query, from, to []Seed)) {
	n, _, h := benchCity(b)
	benchPairsOn(b, n, h, seed, query)
}

func benchPairsOn(b *testing.B, n int, h *Hierarchy, seed uint64, query func(q *Query, from, to []Seed)) {
	rng := rand.New(rand.NewPCG(seed, seed))
	pts := randomNodes(rng, n, 4000)
	q := h.NewQuery()
	i := 0
	for b.Loop() {
		query(q, pts[i%4000], pts[(i+1)%4000])
		i += 2
	}
	reportP50(b, "p50-µs", func(i int) { query(q, pts[2*i], pts[2*i+1]) })
}

// BenchmarkQuery1M measures Route on random pairs: kept, once every kept space of the hierarchy is made (a
// daemon's steady state; made-s is the time that took, kept-MB their memory); cold, on a hierarchy whose kept
// spaces are made as the queries need them (the first queries after a start); search, the bidirectional search
// alone (no kept space, what Path runs).
func BenchmarkQuery1M(b *testing.B) {
	n, _, built := benchCity(b)
	for _, v := range []struct {
		name string
		keep int
		make bool
	}{{"kept", 0, true}, {"cold", 0, false}, {"search", -1, false}} {
		b.Run(v.name, func(b *testing.B) {
			h := sharing(built, v.keep)
			var made time.Duration
			if v.make {
				t0 := time.Now()
				if err := h.KeepTop(context.Background()); err != nil {
					b.Fatal(err)
				}
				made = time.Since(t0)
			}
			benchPairsOn(b, n, h, 1, func(q *Query, from, to []Seed) { q.Route(from, to) })
			if v.make {
				b.ReportMetric(made.Seconds(), "made-s")
			}
			b.ReportMetric(float64(h.KeptBytes())/1e6, "kept-MB")
		})
	}
}

// BenchmarkQueryCache1M separates what a query computes from what it waits for in memory: the median of one pair
// asked again and again (everything it reads in the cache), of eight pairs in turn (in the shared cache at best)
// and of random pairs (the graph's lower levels from memory), interleaved so that the load falls on all three.
func BenchmarkQueryCache1M(b *testing.B) {
	n, _, h := benchCity(b)
	rng := rand.New(rand.NewPCG(1, 1))
	pts := randomNodes(rng, n, 4000)
	q := h.NewQuery()
	var same, eight, random []time.Duration
	timed := func(d *[]time.Duration, from, to []Seed) {
		t0 := time.Now()
		q.Route(from, to)
		*d = append(*d, time.Since(t0))
	}
	i := 0
	for b.Loop() {
		timed(&same, pts[0], pts[1])
		timed(&eight, pts[2*(i%8)], pts[2*(i%8)+1])
		timed(&random, pts[(2*i)%4000], pts[(2*i+1)%4000])
		i++
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"same-p50-µs", same}, {"eight-p50-µs", eight}, {"random-p50-µs", random}} {
		slices.Sort(m.d)
		b.ReportMetric(float64(m.d[len(m.d)/2].Nanoseconds())/1000, m.name)
	}
}

func BenchmarkPath1M(b *testing.B) {
	benchPairs(b, 2, func(q *Query, from, to []Seed) { q.Path(from, to) })
}

// BenchmarkTable100x100_1M measures a 100 × 100 table as Hierarchy.Table runs it (on GOMAXPROCS goroutines)
// and on one query, with the processor time per table besides.
func BenchmarkTable100x100_1M(b *testing.B) {
	n, _, h := benchCity(b)
	rng := rand.New(rand.NewPCG(3, 3))
	from, to := randomNodes(rng, n, 100), randomNodes(rng, n, 100)
	q := h.NewQuery()
	for _, c := range []struct {
		name  string
		table func(from, to [][]Seed) ([]uint32, []uint32)
	}{{"pooled", h.Table}, {"one-query", q.Table}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				c.table(from, to)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkSpaces1M computes the forward and backward spaces of random nodes, on the hierarchy as queries use it
// (the spaces of its top twentieth kept, see upper), keeping a fiftieth, and keeping none: nodes/space is what
// Meet then reads, p50-forward-µs a forward space once the kept spaces the points need are made, kept-MB their
// memory after the run.
func BenchmarkSpaces1M(b *testing.B) {
	n, _, built := benchCity(b)
	for _, keep := range []struct {
		name string
		n    int
	}{{"kept=none", -1}, {"kept=top20th", 0}, {"kept=top50th", built.numNodes / 50}} {
		b.Run(keep.name, func(b *testing.B) {
			h := sharing(built, keep.n)
			rng := rand.New(rand.NewPCG(4, 4))
			pts := randomNodes(rng, n, 4000)
			q := h.NewQuery()
			i := 0
			var size int
			cpu0 := cpuTime()
			for b.Loop() {
				f := q.Forward(pts[i%4000])
				bw := q.Backward(pts[i%4000])
				size += f.Len() + bw.Len()
				i++
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(i), "cpu-µs/op")
			b.ReportMetric(float64(size)/float64(2*i), "nodes/space")
			reportP50(b, "p50-forward-µs", func(i int) { q.Forward(pts[i]) })
			b.ReportMetric(float64(h.KeptBytes())/1e6, "kept-MB")
		})
	}
}

func BenchmarkMeet1M(b *testing.B) {
	n, _, h := benchCity(b)
	rng := rand.New(rand.NewPCG(5, 5))
	pts := randomNodes(rng, n, 200)
	q := h.NewQuery()
	fs := make([]Space, len(pts))
	bs := make([]Space, len(pts))
	for i, p := range pts {
		fs[i], bs[i] = q.Forward(p), q.Backward(p)
	}
	i := 0
	for b.Loop() {
		Meet(&fs[i%200], &bs[(i*7+3)%200])
		i++
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNumbering1M compares the query on the hierarchy as Build numbers it with the same hierarchy numbered
// by rank, in one process, alternating blocks of 100 queries so that the load of a shared machine falls on both
// alike: p50-µs-built and p50-µs-rank.
func BenchmarkNumbering1M(b *testing.B) {
	n, _, h := benchCity(b)
	byRank := &Hierarchy{numNodes: h.numNodes, numEdges: h.numEdges, arcs: h.arcs, g: h.g,
		idOf: slices.Clone(h.idOf), nodeOf: slices.Clone(h.nodeOf), rank: slices.Clone(h.rank)}
	permute(byRank, h.rank)
	rng := rand.New(rand.NewPCG(6, 6))
	pts := randomNodes(rng, n, 4000)
	qs := [2]*Query{h.NewQuery(), byRank.NewQuery()}
	var lat [2][]time.Duration
	i := 0
	for b.Loop() {
		for k, q := range qs {
			for j := range 100 {
				p := (i + j) % 2000
				t0 := time.Now()
				q.Route(pts[2*p], pts[2*p+1])
				lat[k] = append(lat[k], time.Since(t0))
			}
		}
		i += 100
	}
	for k, name := range [2]string{"p50-µs-built", "p50-µs-rank"} {
		slices.Sort(lat[k])
		b.ReportMetric(float64(lat[k][len(lat[k])/2].Nanoseconds())/1000, name)
	}
}

// BenchmarkReadFrom1M measures reading the city's hierarchy back from its encoding (in memory).
func BenchmarkReadFrom1M(b *testing.B) {
	_, _, h := benchCity(b)
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
}

func randomNodes(rng *rand.Rand, n, k int) [][]Seed {
	out := make([][]Seed, k)
	for i := range out {
		out[i] = []Seed{{Node: int32(rng.IntN(n))}}
	}
	return out
}

// reportP50 runs f on 2000 items and reports the median duration in µs, and the mean CPU time of the process per
// item (cpu-µs, which a loaded machine inflates less than the durations).
func reportP50(b *testing.B, name string, f func(i int)) {
	b.Helper()
	d := make([]time.Duration, 2000)
	cpu0 := cpuTime()
	for i := range d {
		t0 := time.Now()
		f(i)
		d[i] = time.Since(t0)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1000/float64(len(d)), "cpu-µs")
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1000, name)
}

// BenchmarkKeepAll1M makes the kept spaces of every top node, both ways, for a few shares of the top: the
// memory they take (all-kept-MB), their mean size (nodes/kept) and the time to make them all.
func BenchmarkKeepAll1M(b *testing.B) {
	_, _, built := benchCity(b)
	for _, keep := range []struct {
		name string
		n    int
	}{{"top50th", built.numNodes / 50}, {"top20th", built.numNodes / 20}, {"top10th", built.numNodes / 10}} {
		b.Run(keep.name, func(b *testing.B) {
			var h *Hierarchy
			for b.Loop() {
				h = sharing(built, keep.n)
				if err := h.KeepTop(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			spaces, entries, bytes := h.kept()
			b.ReportMetric(float64(bytes)/1e6, "all-kept-MB")
			b.ReportMetric(float64(entries)/float64(spaces), "nodes/kept")
		})
	}
}

// sharing returns a hierarchy that shares built's graph and keeps the spaces of keep top nodes (0: the default
// share, negative: none), none of them made yet.
func sharing(built *Hierarchy, keep int) *Hierarchy {
	return &Hierarchy{numNodes: built.numNodes, numEdges: built.numEdges, arcs: built.arcs, g: built.g,
		idOf: built.idOf, nodeOf: built.nodeOf, rank: built.rank, upperNodes: keep}
}

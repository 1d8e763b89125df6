package load

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exposition is a daemon's /metrics with the route's histogram holding counts for the given cumulative buckets
// (1, 2.5, 5, 10 ms, +Inf) and the process CPU.
func exposition(cum [5]int, cpu string) string {
	return `# HELP dispatchd_http_request_duration_seconds Time to answer.
# TYPE dispatchd_http_request_duration_seconds histogram
dispatchd_http_request_duration_seconds_bucket{route="GET /v1/orders",le="0.001"} 999
dispatchd_http_request_duration_seconds_bucket{route="GET /v1/orders",le="+Inf"} 999
dispatchd_http_request_duration_seconds_sum{route="GET /v1/orders"} 1
dispatchd_http_request_duration_seconds_count{route="GET /v1/orders"} 999
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.001"} ` + strconv.Itoa(cum[0]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.0025"} ` + strconv.Itoa(cum[1]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.005"} ` + strconv.Itoa(cum[2]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.01"} ` + strconv.Itoa(cum[3]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="+Inf"} ` + strconv.Itoa(cum[4]) + `
dispatchd_http_request_duration_seconds_sum{route="POST /v1/orders"} 1
dispatchd_http_request_duration_seconds_count{route="POST /v1/orders"} ` + strconv.Itoa(cum[4]) + `
# HELP process_cpu_seconds_total CPU.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total ` + cpu + "\n"
}

func TestDaemonStepFromTwoScrapes(t *testing.T) {
	before, err := parseDaemonSample(strings.NewReader(exposition([5]int{10, 10, 10, 10, 10}, "2.0")), "POST /v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	// Over the step: 500 requests under 1 ms, 400 in (1, 2.5], 90 in (2.5, 5], 10 in (5, 10].
	after, err := parseDaemonSample(strings.NewReader(exposition([5]int{510, 910, 1000, 1010, 1010}, "3.5")), "POST /v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stepOf("POST /v1/orders", before, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 1000 {
		t.Errorf("requests = %v, want 1000 (the step's, not the daemon's life's)", st.Requests)
	}
	// The median is the 500th request: the top of the first bucket.
	if math.Abs(st.P50MS-1) > 1e-9 {
		t.Errorf("p50 = %v ms, want 1", st.P50MS)
	}
	// The 990th request is the last of the (2.5, 5] bucket's 90: its upper bound.
	if math.Abs(st.P99MS-5) > 1e-9 {
		t.Errorf("p99 = %v ms, want 5", st.P99MS)
	}
	// 1.5 s of CPU over 1 000 requests.
	if math.Abs(st.CPUMSPer1000-1500) > 1e-6 {
		t.Errorf("CPU per 1000 = %v ms, want 1500", st.CPUMSPer1000)
	}
}

func TestHistogramQuantileInterpolatesAndCapsAtTheLastBound(t *testing.T) {
	bs := []bucket{{0.001, 0}, {0.002, 100}, {math.Inf(1), 100}}
	if got := histogramQuantile(0.5, bs); math.Abs(got-0.0015) > 1e-12 {
		t.Errorf("p50 = %v, want 0.0015 (half-way through the bucket)", got)
	}
	over := []bucket{{0.001, 10}, {math.Inf(1), 100}}
	if got := histogramQuantile(0.99, over); got != 0.001 {
		t.Errorf("p99 in +Inf = %v, want the highest finite bound 0.001", got)
	}
	if got := histogramQuantile(0.5, []bucket{{0.001, 0}, {math.Inf(1), 0}}); !math.IsNaN(got) {
		t.Errorf("no observations: %v, want NaN", got)
	}
}

func TestDaemonSampleNamesWhatIsMissing(t *testing.T) {
	_, err := parseDaemonSample(strings.NewReader(exposition([5]int{1, 1, 1, 1, 1}, "1")), "POST /v1/courier/location")
	if err == nil || !strings.Contains(err.Error(), "POST /v1/courier/location") {
		t.Errorf("a route without a histogram: %v, want an error naming it", err)
	}
	_, err = parseDaemonSample(strings.NewReader("# TYPE x counter\nx 1\n"), "POST /v1/orders")
	if err == nil || !strings.Contains(err.Error(), durationMetric) {
		t.Errorf("no histogram at all: %v, want an error naming it", err)
	}
}

// driveExposition is a daemon's /metrics in the drive: orders and positions, each with its histogram, the process
// CPU and the loop's gauges.
func driveExposition(orders [3]int, positions int, cpu, busy, longest string) string {
	return `# HELP dispatchd_http_request_duration_seconds Time to answer.
# TYPE dispatchd_http_request_duration_seconds histogram
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/courier/location",le="0.001"} ` + strconv.Itoa(positions) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/courier/location",le="+Inf"} ` + strconv.Itoa(positions) + `
dispatchd_http_request_duration_seconds_sum{route="POST /v1/courier/location"} 1
dispatchd_http_request_duration_seconds_count{route="POST /v1/courier/location"} ` + strconv.Itoa(positions) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.002"} ` + strconv.Itoa(orders[0]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="0.01"} ` + strconv.Itoa(orders[1]) + `
dispatchd_http_request_duration_seconds_bucket{route="POST /v1/orders",le="+Inf"} ` + strconv.Itoa(orders[2]) + `
dispatchd_http_request_duration_seconds_sum{route="POST /v1/orders"} 1
dispatchd_http_request_duration_seconds_count{route="POST /v1/orders"} ` + strconv.Itoa(orders[2]) + `
# HELP dispatchd_loop_busy_ratio Busy.
# TYPE dispatchd_loop_busy_ratio gauge
dispatchd_loop_busy_ratio ` + busy + `
# HELP dispatchd_loop_longest_step_seconds Longest.
# TYPE dispatchd_loop_longest_step_seconds gauge
dispatchd_loop_longest_step_seconds ` + longest + `
# HELP process_cpu_seconds_total CPU.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total ` + cpu + "\n"
}

func mustSample(t *testing.T, text string) daemonSample {
	t.Helper()
	s, err := parseDaemonSample(strings.NewReader(text), "POST /v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The drive's view: the order route's quantiles over the load, the CPU per thousand requests of every route, and
// the loop's gauges over the samples.
func TestDriveViewFromScrapes(t *testing.T) {
	before := mustSample(t, driveExposition([3]int{100, 100, 100}, 5000, "10", "0.1", "0.002"))
	if before.all != 5100 || !before.hasBusy || before.busy != 0.1 || !before.hasLongest || before.longest != 0.002 {
		t.Fatalf("sample %+v: want 5 100 requests of every route, busy 0.1, longest step 2 ms", before)
	}
	// Over the load: 1 000 orders (980 under 2 ms, 15 in (2, 10], 5 above) and 19 000 positions, 6 s of CPU.
	mid := mustSample(t, driveExposition([3]int{600, 610, 612}, 15000, "13", "0.4", "0.031"))
	after := mustSample(t, driveExposition([3]int{1080, 1095, 1100}, 24000, "16", "0.2", "0.007"))
	v := driveView(before, after, []daemonSample{mid, after}, 20*time.Second)
	if v.Error != "" || v.Orders == nil {
		t.Fatalf("view %+v", v)
	}
	if v.Orders.Requests != 1000 {
		t.Errorf("orders = %v, want 1000 (the load's, not the daemon's life's)", v.Orders.Requests)
	}
	// The 990th order is the 10th of the 15 in (2, 10]: 2 + 8×10/15 ms.
	if want := 2 + 8*10.0/15; math.Abs(v.Orders.P99MS-want) > 1e-9 {
		t.Errorf("p99 = %v ms, want %v", v.Orders.P99MS, want)
	}
	// 6 s over 20 000 requests of every kind.
	if math.Abs(v.Orders.CPUMSPer1000-300) > 1e-6 {
		t.Errorf("CPU per 1000 = %v ms, want 300 (positions count too)", v.Orders.CPUMSPer1000)
	}
	if v.Samples != 2 || math.Abs(v.BusyMean-0.3) > 1e-9 || v.BusyMax != 0.4 {
		t.Errorf("busy: %d samples, mean %v, max %v; want 2, 0.3, 0.4", v.Samples, v.BusyMean, v.BusyMax)
	}
	if math.Abs(v.LongestStepMS-31) > 1e-9 || len(v.LongestSteps) != 2 {
		t.Errorf("longest step %v ms of %v, want 31 ms, the worst window's", v.LongestStepMS, v.LongestSteps)
	}
}

// A daemon without the loop's gauges (an older build) still gives its latency; the loop is said to be unknown.
func TestDriveViewWithoutLoopGauges(t *testing.T) {
	before := mustSample(t, exposition([5]int{0, 0, 0, 0, 0}, "1"))
	after := mustSample(t, exposition([5]int{90, 99, 100, 100, 100}, "2"))
	if after.hasBusy || after.hasLongest {
		t.Fatalf("sample %+v: no loop gauges in the text", after)
	}
	v := driveView(before, after, []daemonSample{after}, 20*time.Second)
	if v.Orders == nil || v.Orders.Requests != 100 || v.Samples != 0 || v.GC != nil {
		t.Fatalf("view %+v: want the orders' figures and no loop sample, no GC figures", v)
	}
	var b strings.Builder
	printDriveSelfView(&b, v, 12)
	if !strings.Contains(b.String(), "no sample of its gauges") {
		t.Errorf("printed %q: want it to say the loop was not sampled", b.String())
	}
}

// The self view scrapes the address the daemon was told to serve /metrics on: its API address serves none then.
func TestMetricsTargetFollowsTheDaemonsFlag(t *testing.T) {
	api := "http://127.0.0.1:4000"
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, api},
		{[]string{"--queue-size=8"}, api},
		{[]string{"--metrics-addr=127.0.0.1:18191", "--pprof"}, "http://127.0.0.1:18191"},
		{[]string{"-metrics-addr", "127.0.0.1:9"}, "http://127.0.0.1:9"},
		{[]string{"--metrics-addr=:9100"}, "http://127.0.0.1:9100"},
		{[]string{"--metrics-addr=0.0.0.0:9100"}, "http://127.0.0.1:9100"},
		{[]string{"--metrics-addr=[::1]:9100"}, "http://[::1]:9100"},
		{[]string{"--metrics-addr=127.0.0.1:1", "--metrics-addr=127.0.0.1:2"}, "http://127.0.0.1:2"},
		{[]string{"--metrics-auth", "--metrics-addr-x=1"}, api},
		{[]string{"--metrics-addr"}, api},
	} {
		if got := metricsTarget(api, c.args); got != c.want {
			t.Errorf("metricsTarget(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// goRuntime is the Go collector's part of an exposition: collections, bytes allocated, goroutines.
func goRuntime(cycles, alloc, goroutines string) string {
	return `# HELP go_gc_duration_seconds Pauses.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count ` + cycles + `
# HELP go_memstats_alloc_bytes_total Allocated.
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total ` + alloc + `
# HELP go_goroutines Goroutines.
# TYPE go_goroutines gauge
go_goroutines ` + goroutines + "\n"
}

// The drive's view says how often the daemon collected over the load, what it allocated per request and the
// most goroutines seen.
func TestDriveViewGC(t *testing.T) {
	before := mustSample(t, driveExposition([3]int{100, 100, 100}, 5000, "10", "0.1", "0.002")+goRuntime("40", "1e9", "2100"))
	mid := mustSample(t, driveExposition([3]int{600, 610, 612}, 15000, "13", "0.4", "0.031")+goRuntime("44", "1.2e9", "5300"))
	after := mustSample(t, driveExposition([3]int{1080, 1095, 1100}, 24000, "16", "0.2", "0.007")+goRuntime("50", "1.5e9", "2500"))
	v := driveView(before, after, []daemonSample{mid, after}, 20*time.Second)
	g := v.GC
	if g == nil {
		t.Fatalf("view %+v: want GC figures", v)
	}
	// 10 collections in 20 s; 500 MB over 20 000 requests of every kind: 25 000 KB per 1 000.
	if g.Cycles != 10 || g.EveryS != 2 || math.Abs(g.KBPer1000-25000) > 1e-6 || g.GoroutinesMax != 5300 {
		t.Errorf("GC %+v: want 10 collections, one every 2 s, 25 000 KB per 1 000 requests, 5 300 goroutines at most", g)
	}
	var b strings.Builder
	printDriveSelfView(&b, v, 12)
	if !strings.Contains(b.String(), "GC: 10 collections (one every 2.0 s), 25000 KB allocated per 1 000 requests") {
		t.Errorf("printed %q", b.String())
	}
}

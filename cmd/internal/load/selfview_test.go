package load

import (
	"math"
	"strconv"
	"strings"
	"testing"
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

package metrics

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// fleetNames are the metrics the fleet collector emits, minus its own cost gauge (which reads the wall clock in
// New's collector).
var fleetNames = []string{
	"dispatchd_orders", "dispatchd_couriers", "dispatchd_stores",
	"dispatchd_dispatch_last_round_orders", "dispatchd_dispatch_last_round_assigned",
	"dispatchd_loop_queue_depth", "dispatchd_loop_queue_capacity", "dispatchd_loop_busy_ratio",
	"dispatchd_loop_longest_step_seconds",
	"dispatchd_journal_pending_records", "dispatchd_ready", "dispatchd_read_only",
}

func sampleFleet() Fleet {
	return Fleet{
		OrdersByStatus:      map[string]int{"pending": 7, "assigned": 3, "delivered": 40, "returned": 2},
		CouriersByStatus:    map[string]int{"idle": 4, "busy": 5},
		Stores:              12,
		LastRoundCandidates: 9,
		LastRoundAssigned:   6,
		QueueDepth:          17,
		QueueCapacity:       1024,
		LoopBusyRatio:       0.25,
		LoopLongestStep:     12500 * time.Microsecond,
		JournalPending:      3,
		Ready:               true,
	}
}

// Missing statuses are emitted at zero, unknown keys are passed through, every scalar lands in its own gauge,
// and the collector's cost is the time between its two clock readings.
const sampleFleetExposition = `
# HELP dispatchd_orders Orders known to the daemon, by status, from the latest snapshot.
# TYPE dispatchd_orders gauge
dispatchd_orders{status="assigned"} 3
dispatchd_orders{status="cancelled"} 0
dispatchd_orders{status="delivered"} 40
dispatchd_orders{status="collected"} 0
dispatchd_orders{status="failed"} 0
dispatchd_orders{status="pending"} 7
dispatchd_orders{status="picked_up"} 0
dispatchd_orders{status="ready_for_pickup"} 0
dispatchd_orders{status="returned"} 2
# HELP dispatchd_couriers Couriers by status (offline; idle: online with an empty route; busy: online with work; awaiting_location), from the latest snapshot.
# TYPE dispatchd_couriers gauge
dispatchd_couriers{status="awaiting_location"} 0
dispatchd_couriers{status="busy"} 5
dispatchd_couriers{status="idle"} 4
dispatchd_couriers{status="offline"} 0
# HELP dispatchd_stores Stores known to the daemon, from the latest snapshot.
# TYPE dispatchd_stores gauge
dispatchd_stores 12
# HELP dispatchd_dispatch_last_round_orders Orders considered in the last dispatch round.
# TYPE dispatchd_dispatch_last_round_orders gauge
dispatchd_dispatch_last_round_orders 9
# HELP dispatchd_dispatch_last_round_assigned Orders assigned in the last dispatch round.
# TYPE dispatchd_dispatch_last_round_assigned gauge
dispatchd_dispatch_last_round_assigned 6
# HELP dispatchd_loop_queue_depth Requests waiting in the event loop's queue.
# TYPE dispatchd_loop_queue_depth gauge
dispatchd_loop_queue_depth 17
# HELP dispatchd_loop_queue_capacity Capacity of the event loop's queue; requests beyond it are rejected.
# TYPE dispatchd_loop_queue_capacity gauge
dispatchd_loop_queue_capacity 1024
# HELP dispatchd_loop_busy_ratio Share of wall time the event loop spent working over its last measurement window (0 to 1).
# TYPE dispatchd_loop_busy_ratio gauge
dispatchd_loop_busy_ratio 0.25
# HELP dispatchd_loop_longest_step_seconds Longest single step of the event loop (a batch of requests, a round's decision, a tick) over its last measurement window: what a request arriving at the worst moment waits before the loop takes it.
# TYPE dispatchd_loop_longest_step_seconds gauge
dispatchd_loop_longest_step_seconds 0.0125
# HELP dispatchd_journal_pending_records Journal records appended but not yet synced to disk.
# TYPE dispatchd_journal_pending_records gauge
dispatchd_journal_pending_records 3
# HELP dispatchd_ready 1 when the daemon serves (recovered, loop running, journal healthy: GET /readyz answers 200), else 0.
# TYPE dispatchd_ready gauge
dispatchd_ready 1
# HELP dispatchd_read_only 1 when a failed journal commit has left the daemon read-only until a restart, else 0.
# TYPE dispatchd_read_only gauge
dispatchd_read_only 0
`

func TestFleetCollectorEmitsSnapshot(t *testing.T) {
	// A fake clock that advances 250 ms per reading makes the cost gauge exact.
	var clock time.Time
	now := func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }
	calls := 0
	c := newFleetCollector(func() Fleet { calls++; return sampleFleet() }, now)

	want := sampleFleetExposition + `
# HELP dispatchd_scrape_collector_duration_seconds Time a scrape-time collector took to read its snapshot and emit its metrics.
# TYPE dispatchd_scrape_collector_duration_seconds gauge
dispatchd_scrape_collector_duration_seconds{collector="fleet"} 0.25
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("fleet func called %d times in one collection, want 1", calls)
	}
}

func TestFleetCollectorEmptyFleetKeepsStableSeries(t *testing.T) {
	c := newFleetCollector(func() Fleet { return Fleet{} }, time.Now)
	// 8 order statuses + 4 courier statuses + 10 scalar gauges + the cost gauge, all present with nothing to count.
	if n := testutil.CollectAndCount(c); n != 23 {
		t.Fatalf("empty fleet: %d series, want 23", n)
	}
	// The zero Fleet (what the daemon reports before it is open) is neither ready nor read-only.
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dispatchd_ready 1 when the daemon serves (recovered, loop running, journal healthy: GET /readyz answers 200), else 0.
# TYPE dispatchd_ready gauge
dispatchd_ready 0
# HELP dispatchd_read_only 1 when a failed journal commit has left the daemon read-only until a restart, else 0.
# TYPE dispatchd_read_only gauge
dispatchd_read_only 0
`), "dispatchd_ready", "dispatchd_read_only"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "dispatchd_orders"); n != len(orderStatuses) {
		t.Fatalf("dispatchd_orders: %d series, want %d", n, len(orderStatuses))
	}
	if n := testutil.CollectAndCount(c, "dispatchd_couriers"); n != len(courierStatuses) {
		t.Fatalf("dispatchd_couriers: %d series, want %d", n, len(courierStatuses))
	}
}

func TestNewRegistersFleetCollector(t *testing.T) {
	m := New(sampleFleet)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(sampleFleetExposition), fleetNames...); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "dispatchd_scrape_collector_duration_seconds"); err != nil || n != 1 {
		t.Fatalf("dispatchd_scrape_collector_duration_seconds: %d series, err %v; want 1", n, err)
	}
}

func TestNewPanicsOnNilFleet(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(nil) did not panic")
		}
	}()
	New(nil)
}

// Two Metrics in one process must not collide, which they would on a shared (default) registry.
func TestRegistriesArePrivate(t *testing.T) {
	a, b := New(sampleFleet), New(sampleFleet)
	a.OrderPlaced()
	if got := testutil.ToFloat64(a.ordersPlaced); got != 1 {
		t.Fatalf("a: orders placed %v, want 1", got)
	}
	if got := testutil.ToFloat64(b.ordersPlaced); got != 0 {
		t.Fatalf("b: orders placed %v, want 0", got)
	}
	if n, _ := testutil.GatherAndCount(prometheus.DefaultGatherer, "dispatchd_orders_placed_total"); n != 0 {
		t.Fatalf("default registry holds %d dispatchd_orders_placed_total series, want 0", n)
	}
}

func TestObservations(t *testing.T) {
	m := New(func() Fleet { return Fleet{} })

	// Before anything happens, the pre-created label values are already there at zero.
	const zero = `
# HELP dispatchd_orders_finished_total Orders that ended without delivery, by final status.
# TYPE dispatchd_orders_finished_total counter
dispatchd_orders_finished_total{status="cancelled"} 0
dispatchd_orders_finished_total{status="failed"} 0
# HELP dispatchd_requests_rejected_total Requests refused before reaching the event loop, by reason.
# TYPE dispatchd_requests_rejected_total counter
dispatchd_requests_rejected_total{reason="queue_full"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(zero),
		"dispatchd_orders_finished_total", "dispatchd_requests_rejected_total"); err != nil {
		t.Fatal(err)
	}

	m.OrderPlaced()
	m.OrderPlaced()
	m.OrderPlaced()
	m.OrderDelivered(22*time.Minute, false)
	m.OrderDelivered(50*time.Minute, true)
	m.OrderFinished("cancelled")
	m.Rejected("queue_full")
	m.Rejected("queue_full")
	// Durations are binary fractions of a second (1.953125 ms = 2^-9 s), so that the histograms' sums are exact.
	m.DispatchRound(1953125*time.Nanosecond, 9, 6)
	m.DispatchRound(31250*time.Microsecond, 4, 0)
	m.DispatchRound(2*time.Second, -1, -1) // negative counts are ignored, not a panic
	m.JournalSync(1953125*time.Nanosecond, 5)
	m.JournalSync(15625*time.Microsecond, 12)

	const want = `
# HELP dispatchd_orders_placed_total Orders accepted by the daemon.
# TYPE dispatchd_orders_placed_total counter
dispatchd_orders_placed_total 3
# HELP dispatchd_orders_delivered_total Orders delivered.
# TYPE dispatchd_orders_delivered_total counter
dispatchd_orders_delivered_total 2
# HELP dispatchd_orders_late_total Orders delivered after their promised time.
# TYPE dispatchd_orders_late_total counter
dispatchd_orders_late_total 1
# HELP dispatchd_orders_finished_total Orders that ended without delivery, by final status.
# TYPE dispatchd_orders_finished_total counter
dispatchd_orders_finished_total{status="cancelled"} 1
dispatchd_orders_finished_total{status="failed"} 0
# HELP dispatchd_requests_rejected_total Requests refused before reaching the event loop, by reason.
# TYPE dispatchd_requests_rejected_total counter
dispatchd_requests_rejected_total{reason="queue_full"} 2
# HELP dispatchd_click_to_door_seconds Time from an order's placement to its delivery.
# TYPE dispatchd_click_to_door_seconds histogram
dispatchd_click_to_door_seconds_bucket{le="300"} 0
dispatchd_click_to_door_seconds_bucket{le="600"} 0
dispatchd_click_to_door_seconds_bucket{le="900"} 0
dispatchd_click_to_door_seconds_bucket{le="1200"} 0
dispatchd_click_to_door_seconds_bucket{le="1500"} 1
dispatchd_click_to_door_seconds_bucket{le="1800"} 1
dispatchd_click_to_door_seconds_bucket{le="2100"} 1
dispatchd_click_to_door_seconds_bucket{le="2400"} 1
dispatchd_click_to_door_seconds_bucket{le="2700"} 1
dispatchd_click_to_door_seconds_bucket{le="3000"} 2
dispatchd_click_to_door_seconds_bucket{le="3600"} 2
dispatchd_click_to_door_seconds_bucket{le="4500"} 2
dispatchd_click_to_door_seconds_bucket{le="5400"} 2
dispatchd_click_to_door_seconds_bucket{le="6300"} 2
dispatchd_click_to_door_seconds_bucket{le="7200"} 2
dispatchd_click_to_door_seconds_bucket{le="+Inf"} 2
dispatchd_click_to_door_seconds_sum 4320
dispatchd_click_to_door_seconds_count 2
# HELP dispatchd_dispatch_round_duration_seconds Time a dispatch round took.
# TYPE dispatchd_dispatch_round_duration_seconds histogram
dispatchd_dispatch_round_duration_seconds_bucket{le="0.001"} 0
dispatchd_dispatch_round_duration_seconds_bucket{le="0.0025"} 1
dispatchd_dispatch_round_duration_seconds_bucket{le="0.005"} 1
dispatchd_dispatch_round_duration_seconds_bucket{le="0.01"} 1
dispatchd_dispatch_round_duration_seconds_bucket{le="0.025"} 1
dispatchd_dispatch_round_duration_seconds_bucket{le="0.05"} 2
dispatchd_dispatch_round_duration_seconds_bucket{le="0.1"} 2
dispatchd_dispatch_round_duration_seconds_bucket{le="0.25"} 2
dispatchd_dispatch_round_duration_seconds_bucket{le="0.5"} 2
dispatchd_dispatch_round_duration_seconds_bucket{le="1"} 2
dispatchd_dispatch_round_duration_seconds_bucket{le="2.5"} 3
dispatchd_dispatch_round_duration_seconds_bucket{le="5"} 3
dispatchd_dispatch_round_duration_seconds_bucket{le="10"} 3
dispatchd_dispatch_round_duration_seconds_bucket{le="+Inf"} 3
dispatchd_dispatch_round_duration_seconds_sum 2.033203125
dispatchd_dispatch_round_duration_seconds_count 3
# HELP dispatchd_dispatch_round_orders_total Orders considered by dispatch rounds, summed over rounds (an order counts once per round).
# TYPE dispatchd_dispatch_round_orders_total counter
dispatchd_dispatch_round_orders_total 13
# HELP dispatchd_dispatch_round_assigned_total Orders assigned by dispatch rounds, summed over rounds.
# TYPE dispatchd_dispatch_round_assigned_total counter
dispatchd_dispatch_round_assigned_total 6
# HELP dispatchd_journal_sync_duration_seconds Time a journal sync took; its _count is the number of syncs.
# TYPE dispatchd_journal_sync_duration_seconds histogram
dispatchd_journal_sync_duration_seconds_bucket{le="0.0001"} 0
dispatchd_journal_sync_duration_seconds_bucket{le="0.00025"} 0
dispatchd_journal_sync_duration_seconds_bucket{le="0.0005"} 0
dispatchd_journal_sync_duration_seconds_bucket{le="0.001"} 0
dispatchd_journal_sync_duration_seconds_bucket{le="0.0025"} 1
dispatchd_journal_sync_duration_seconds_bucket{le="0.005"} 1
dispatchd_journal_sync_duration_seconds_bucket{le="0.01"} 1
dispatchd_journal_sync_duration_seconds_bucket{le="0.025"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="0.05"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="0.1"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="0.25"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="0.5"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="1"} 2
dispatchd_journal_sync_duration_seconds_bucket{le="+Inf"} 2
dispatchd_journal_sync_duration_seconds_sum 0.017578125
dispatchd_journal_sync_duration_seconds_count 2
# HELP dispatchd_journal_synced_records_total Journal records made durable by syncs.
# TYPE dispatchd_journal_synced_records_total counter
dispatchd_journal_synced_records_total 17
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"dispatchd_orders_placed_total", "dispatchd_orders_delivered_total", "dispatchd_orders_late_total",
		"dispatchd_orders_finished_total", "dispatchd_requests_rejected_total", "dispatchd_click_to_door_seconds",
		"dispatchd_dispatch_round_duration_seconds", "dispatchd_dispatch_round_orders_total",
		"dispatchd_dispatch_round_assigned_total", "dispatchd_journal_sync_duration_seconds",
		"dispatchd_journal_synced_records_total"); err != nil {
		t.Fatal(err)
	}
}

// Observations from many goroutines while scrapes run: nothing is lost, and -race has something to look at.
func TestObservationsConcurrent(t *testing.T) {
	m := New(sampleFleet)
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m.OrderPlaced()
				m.JournalSync(time.Millisecond, 1)
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if got := testutil.ToFloat64(m.ordersPlaced); got != workers*each {
		t.Fatalf("orders placed %v, want %d", got, workers*each)
	}
	if got := testutil.ToFloat64(m.journalRecords); got != workers*each {
		t.Fatalf("journal records %v, want %d", got, workers*each)
	}
}

// durationCount returns the observation count of dispatchd_http_request_duration_seconds for route, or -1 when
// the route has no series. Only the count is checked: the observed latencies come from the wall clock.
func durationCount(t *testing.T, m *Metrics, route string) int {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dispatchd_http_request_duration_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			if labelValue(metric, "route") == route {
				return int(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestInstrumentHTTPRecordsRouteCodeAndLatency(t *testing.T) {
	m := New(func() Fleet { return Fleet{} })
	created := m.InstrumentHTTP("POST /v1/orders", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"o-1"}`)
	}))
	notFound := m.InstrumentHTTP("GET /v1/orders/{id}", http.NotFoundHandler())
	// Writes a body without WriteHeader: net/http sends 200.
	implicit := m.InstrumentHTTP("GET /v1/stores", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "[]")
	}))
	// Writes nothing at all: net/http still sends 200.
	silent := m.InstrumentHTTP("POST /v1/ping", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	// The route exists with a zero count before its first request.
	if n := durationCount(t, m, "POST /v1/orders"); n != 0 {
		t.Fatalf("duration count before any request = %d, want 0", n)
	}

	serve := func(h http.Handler, method, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	for range 2 {
		if code := serve(created, "POST", "/v1/orders"); code != http.StatusCreated {
			t.Fatalf("wrapped handler answered %d, want 201", code)
		}
	}
	serve(notFound, "GET", "/v1/orders/o-42")
	serve(implicit, "GET", "/v1/stores")
	serve(silent, "POST", "/v1/ping")

	const want = `
# HELP dispatchd_http_requests_total HTTP requests served, by route pattern and status code.
# TYPE dispatchd_http_requests_total counter
dispatchd_http_requests_total{code="201",route="POST /v1/orders"} 2
dispatchd_http_requests_total{code="404",route="GET /v1/orders/{id}"} 1
dispatchd_http_requests_total{code="200",route="GET /v1/stores"} 1
dispatchd_http_requests_total{code="200",route="POST /v1/ping"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "dispatchd_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	for route, n := range map[string]int{
		"POST /v1/orders": 2, "GET /v1/orders/{id}": 1, "GET /v1/stores": 1, "POST /v1/ping": 1,
	} {
		if got := durationCount(t, m, route); got != n {
			t.Errorf("duration count for %q = %d, want %d", route, got, n)
		}
	}
	// The raw path must never become a label value.
	if got := durationCount(t, m, "/v1/orders/o-42"); got != -1 {
		t.Errorf("raw path recorded as a route (%d observations)", got)
	}
}

// A server-sent-events handler behind InstrumentHTTP: the wrapped writer must still be an http.Flusher, and
// http.NewResponseController must reach the connection through Unwrap (SetWriteDeadline is not implemented by
// the wrapper itself, so it only succeeds by unwrapping). The client reads the first event while the handler is
// still blocked, which only happens if the flush really reached the network.
func TestInstrumentHTTPStreamingFlushes(t *testing.T) {
	m := New(func() Fleet { return Fleet{} })
	release := make(chan struct{})
	problems := make(chan string, 4)
	h := m.InstrumentHTTP("GET /v1/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			problems <- "wrapped ResponseWriter is not an http.Flusher"
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			problems <- "ResponseController.SetWriteDeadline through the wrapper: " + err.Error()
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		f.Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: second\n\n")
		if err := rc.Flush(); err != nil {
			problems <- "ResponseController.Flush through the wrapper: " + err.Error()
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	line, err := body.ReadString('\n')
	if err != nil {
		srv.Close()
		close(problems)
		for p := range problems {
			t.Error(p)
		}
		t.Fatalf("reading the first event: %v", err)
	}
	if line != "data: first\n" {
		t.Fatalf("first line %q, want %q", line, "data: first\n")
	}
	close(release)
	rest, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rest); got != "\ndata: second\n\n" {
		t.Fatalf("rest of stream %q", got)
	}
	srv.Close() // waits for the handler, and so for its observation, to finish
	close(problems)
	for p := range problems {
		t.Error(p)
	}

	const want = `
# HELP dispatchd_http_requests_total HTTP requests served, by route pattern and status code.
# TYPE dispatchd_http_requests_total counter
dispatchd_http_requests_total{code="200",route="GET /v1/events"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "dispatchd_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	if got := durationCount(t, m, "GET /v1/events"); got != 1 {
		t.Fatalf("duration count %d, want 1", got)
	}
}

func TestHandlerServesTextExposition(t *testing.T) {
	m := New(sampleFleet)
	m.OrderPlaced()
	// Handler may be called more than once (a handler built per call would register promhttp's error counter
	// twice and panic).
	m.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want text/plain", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE dispatchd_orders gauge",
		`dispatchd_orders{status="pending"} 7`,
		`dispatchd_couriers{status="offline"} 0`,
		"dispatchd_orders_placed_total 1",
		`dispatchd_requests_rejected_total{reason="queue_full"} 0`,
		"# TYPE dispatchd_click_to_door_seconds histogram",
		`dispatchd_scrape_collector_duration_seconds{collector="fleet"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// promlint's naming rules (units, _total on counters, no _total elsewhere) over every dispatchd_ metric.
func TestMetricNamesLint(t *testing.T) {
	m := New(sampleFleet)
	m.InstrumentHTTP("GET /v1/stores", http.NotFoundHandler()).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/stores", nil))
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "dispatchd_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

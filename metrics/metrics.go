package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Histogram buckets, in seconds. Each range is chosen so that the values worth telling apart fall inside it: a
// bucket layout that puts most observations in +Inf, or all in the first bucket, makes quantiles meaningless.
var (
	// clickToDoorBuckets spans 5 to 120 minutes, with 5-minute steps where delivery promises usually sit
	// (15 to 45 minutes) and coarser ones in the tail.
	clickToDoorBuckets = minutes(5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 90, 105, 120)
	// millisToTenSeconds spans 1 ms to 10 s in 1-2.5-5 steps: a dispatch round or an HTTP request is usually in
	// the milliseconds, and a multi-second one is what an alert should catch.
	millisToTenSeconds = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// requestBuckets span 0.5 ms to 10 s, finest where an API answer's targets sit (a p99 of 5 or 10 ms), so
	// that a quantile read from them is not off by a whole 1-2.5-5 step.
	requestBuckets = []float64{.0005, .001, .002, .003, .004, .005, .0075, .01, .015, .02, .03, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// journalSyncBuckets spans 100 µs (a sync on a fast SSD) to 1 s (a disk in trouble) in 1-2.5-5 steps.
	journalSyncBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
)

func minutes(ms ...float64) []float64 {
	s := make([]float64, len(ms))
	for i, m := range ms {
		s[i] = m * 60
	}
	return s
}

// Label values created up front, so that their series exist (at zero) from the first scrape: rate() and
// absent-series alerts need a series to exist before the first event, not after it.
var (
	finishedStatuses = []string{"cancelled", "failed"}
	rejectReasons    = []string{"queue_full"}
)

// Metrics holds dispatchd's metrics and the private registry that serves them. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	ordersPlaced    prometheus.Counter
	ordersDelivered prometheus.Counter
	ordersLate      prometheus.Counter
	ordersFinished  *prometheus.CounterVec
	clickToDoor     prometheus.Histogram

	roundDuration prometheus.Histogram
	roundOrders   prometheus.Counter
	roundAssigned prometheus.Counter

	journalSync    prometheus.Histogram
	journalRecords prometheus.Counter

	rejected *prometheus.CounterVec
	webhooks *prometheus.CounterVec

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

// New makes the metrics with their own registry. fleet is called once per scrape (it must be cheap and safe to
// call from any goroutine). The registry also gets the Go runtime and process collectors. New panics if fleet is
// nil, since a daemon that cannot report its state should not start.
func New(fleet func() Fleet) *Metrics {
	if fleet == nil {
		panic("metrics.New: nil fleet func")
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),

		ordersPlaced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_orders_placed_total",
			Help: "Orders accepted by the daemon.",
		}),
		ordersDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_orders_delivered_total",
			Help: "Orders delivered.",
		}),
		ordersLate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_orders_late_total",
			Help: "Orders delivered after their promised time.",
		}),
		ordersFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_orders_finished_total",
			Help: "Orders that ended without delivery, by final status.",
		}, []string{"status"}),
		clickToDoor: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dispatchd_click_to_door_seconds",
			Help:    "Time from an order's placement to its delivery.",
			Buckets: clickToDoorBuckets,
		}),

		roundDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dispatchd_dispatch_round_duration_seconds",
			Help:    "Time a dispatch round took.",
			Buckets: millisToTenSeconds,
		}),
		roundOrders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_dispatch_round_orders_total",
			Help: "Orders considered by dispatch rounds, summed over rounds (an order counts once per round).",
		}),
		roundAssigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_dispatch_round_assigned_total",
			Help: "Orders assigned by dispatch rounds, summed over rounds.",
		}),

		journalSync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dispatchd_journal_sync_duration_seconds",
			Help:    "Time a journal sync took; its _count is the number of syncs.",
			Buckets: journalSyncBuckets,
		}),
		journalRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatchd_journal_synced_records_total",
			Help: "Journal records made durable by syncs.",
		}),

		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_requests_rejected_total",
			Help: "Requests refused before reaching the event loop, by reason.",
		}, []string{"reason"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by result: ok, failed (retried later) or given_up.",
		}, []string{"result"}),

		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dispatchd_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern; for a streaming route, the life of the stream.",
			Buckets: requestBuckets,
		}, []string{"route"}),
	}
	for _, s := range finishedStatuses {
		m.ordersFinished.WithLabelValues(s)
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}

	for _, r := range []string{"ok", "failed", "given_up"} {
		m.webhooks.WithLabelValues(r) // stable series from the start
	}

	m.reg.MustRegister(
		newFleetCollector(fleet, time.Now),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.ordersPlaced, m.ordersDelivered, m.ordersLate, m.ordersFinished, m.clickToDoor,
		m.roundDuration, m.roundOrders, m.roundAssigned,
		m.journalSync, m.journalRecords,
		m.rejected, m.webhooks,
		m.httpRequests, m.httpDuration,
	)

	// The handler is built once: with HandlerOpts.Registry set, promhttp registers its error counter, and a
	// second registration would panic.
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One failing collector should cost its own metrics, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Registry makes promhttp count those failures in promhttp_metric_handler_errors_total, so that a
		// scrape that carried on past an error is still visible and can be alerted on.
		Registry: m.reg,
	})
	return m
}

// Registry returns the private registry holding every metric of m, for tests and for serving it another way.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats (text by default, protobuf or OpenMetrics when
// the scraper asks, compressed when it accepts it). Collection errors do not fail the scrape; they are counted in
// promhttp_metric_handler_errors_total. The same handler is returned on every call.
func (m *Metrics) Handler() http.Handler { return m.handler }

// OrderPlaced counts an order accepted by the daemon.
func (m *Metrics) OrderPlaced() { m.ordersPlaced.Inc() }

// OrderDelivered counts a delivered order, counts it as late too when late, and records its click-to-door time
// (from placement to delivery).
func (m *Metrics) OrderDelivered(clickToDoor time.Duration, late bool) {
	m.ordersDelivered.Inc()
	if late {
		m.ordersLate.Inc()
	}
	m.clickToDoor.Observe(clickToDoor.Seconds())
}

// OrderFinished counts an order that ended without delivery, by its final status (cancelled or failed).
// Delivered orders are reported through OrderDelivered instead, so that they are not counted twice.
func (m *Metrics) OrderFinished(status string) { m.ordersFinished.WithLabelValues(status).Inc() }

// DispatchRound records a dispatch round: how long it took, the orders it considered and the orders it assigned.
// The counters complement the last-round gauges, which a scrape samples and so miss the rounds in between.
func (m *Metrics) DispatchRound(d time.Duration, candidates, assigned int) {
	m.roundDuration.Observe(d.Seconds())
	addCount(m.roundOrders, candidates)
	addCount(m.roundAssigned, assigned)
}

// JournalSync records a journal sync: its latency and the records it made durable. The number of syncs is the
// latency histogram's _count.
func (m *Metrics) JournalSync(d time.Duration, records int) {
	m.journalSync.Observe(d.Seconds())
	addCount(m.journalRecords, records)
}

// Rejected counts a request refused before it reached the event loop, by reason (for example "queue_full").
// reason must come from a small fixed set, as each value is a series of its own.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// addCount adds n to c, ignoring negative n: Counter.Add panics on a decrease, and a bookkeeping slip must not
// bring down the daemon.
func addCount(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// WebhookDelivery counts a webhook delivery attempt by result ("ok", "failed", "given_up").
func (m *Metrics) WebhookDelivery(result string) { m.webhooks.WithLabelValues(result).Inc() }

package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Fleet is the state read at scrape time from the daemon's latest published snapshot.
//
// Counts for a status missing from a map are reported as zero; keys outside the known statuses are reported
// too, under their own label, so that a status added to the daemon shows up before this package learns its name.
type Fleet struct {
	// OrdersByStatus counts orders by status: pending, assigned, picked_up, delivered, cancelled, failed,
	// ready_for_pickup, collected.
	OrdersByStatus map[string]int
	// CouriersByStatus counts couriers by status: offline, idle (online, empty route), busy (online with work),
	// awaiting_location.
	CouriersByStatus map[string]int
	// Stores is the number of stores known to the daemon.
	Stores int
	// LastRoundCandidates is the number of orders considered in the last dispatch round ("last round size").
	LastRoundCandidates int
	// LastRoundAssigned is the number of orders assigned in the last dispatch round.
	LastRoundAssigned int
	// QueueDepth is the number of requests waiting in the event loop's queue.
	QueueDepth int
	// QueueCapacity is the size of the event loop's queue; beyond it requests are rejected.
	QueueCapacity int
	// LoopBusyRatio is the share of wall time the loop spent working over the last measurement window, 0..1.
	LoopBusyRatio float64
	// LoopLongestStep is the longest single step of the loop over the same window: what a request arriving at
	// the worst moment waits before the loop takes it.
	LoopLongestStep time.Duration
	// JournalPending is the number of journal records appended but not yet synced.
	JournalPending int
	// WebhookBacklog is, by webhook id, how many order events wait for delivery.
	WebhookBacklog map[string]int
	// WebhookOldestPending is, by webhook id, the time of the oldest event still waiting for delivery (the one its
	// worker is on). A webhook in WebhookBacklog that is missing here, or has the zero time, has nothing waiting.
	WebhookOldestPending map[string]time.Time
	// Ready says whether the daemon serves: recovered, its loop running and its journal healthy (GET /readyz).
	Ready bool
	// ReadOnly says whether a failed journal commit has left the daemon read-only: writes are refused until a
	// restart rebuilds the state from what is on disk.
	ReadOnly bool
}

// The statuses every scrape reports, even at zero, so that dashboards and alerts see stable series. The order
// lists follow the daemon's API names (dispatch.OrderStatus) and the courier states the daemon derives.
var (
	orderStatuses   = []string{"pending", "assigned", "picked_up", "delivered", "cancelled", "failed", "ready_for_pickup", "collected"}
	courierStatuses = []string{"offline", "idle", "busy", "awaiting_location"}
)

// fleetCollector turns one Fleet per scrape into const metrics. Reading a snapshot at scrape time, rather than
// setting gauges as the state changes, keeps the gauges consistent with each other (they all come from the same
// snapshot) and keeps the event loop free of metric bookkeeping.
type fleetCollector struct {
	fleet func() Fleet
	// now is time.Now in the daemon; tests pin it so that the collector's cost gauge is deterministic.
	now func() time.Time

	orders            *prometheus.Desc
	couriers          *prometheus.Desc
	stores            *prometheus.Desc
	lastRoundOrders   *prometheus.Desc
	lastRoundAssigned *prometheus.Desc
	queueDepth        *prometheus.Desc
	queueCapacity     *prometheus.Desc
	busyRatio         *prometheus.Desc
	longestStep       *prometheus.Desc
	journalPending    *prometheus.Desc
	webhookBacklog    *prometheus.Desc
	webhookOldest     *prometheus.Desc
	ready             *prometheus.Desc
	readOnly          *prometheus.Desc
	scrapeDuration    *prometheus.Desc
}

// fleetCollectorName is the collector label of dispatchd_scrape_collector_duration_seconds; the label is there,
// as in node_exporter, so that any later scrape-time collector reports its cost under the same name.
const fleetCollectorName = "fleet"

func newFleetCollector(fleet func() Fleet, now func() time.Time) *fleetCollector {
	return &fleetCollector{
		fleet: fleet,
		now:   now,
		orders: prometheus.NewDesc("dispatchd_orders",
			"Orders known to the daemon, by status, from the latest snapshot.", []string{"status"}, nil),
		couriers: prometheus.NewDesc("dispatchd_couriers",
			"Couriers by status (offline; idle: online with an empty route; busy: online with work; "+
				"awaiting_location), from the latest snapshot.", []string{"status"}, nil),
		stores: prometheus.NewDesc("dispatchd_stores",
			"Stores known to the daemon, from the latest snapshot.", nil, nil),
		lastRoundOrders: prometheus.NewDesc("dispatchd_dispatch_last_round_orders",
			"Orders considered in the last dispatch round.", nil, nil),
		lastRoundAssigned: prometheus.NewDesc("dispatchd_dispatch_last_round_assigned",
			"Orders assigned in the last dispatch round.", nil, nil),
		queueDepth: prometheus.NewDesc("dispatchd_loop_queue_depth",
			"Requests waiting in the event loop's queue.", nil, nil),
		queueCapacity: prometheus.NewDesc("dispatchd_loop_queue_capacity",
			"Capacity of the event loop's queue; requests beyond it are rejected.", nil, nil),
		busyRatio: prometheus.NewDesc("dispatchd_loop_busy_ratio",
			"Share of wall time the event loop spent working over its last measurement window (0 to 1).", nil, nil),
		longestStep: prometheus.NewDesc("dispatchd_loop_longest_step_seconds",
			"Longest single step of the event loop (a batch of requests, a round's decision, a tick) over its last "+
				"measurement window: what a request arriving at the worst moment waits before the loop takes it.", nil, nil),
		journalPending: prometheus.NewDesc("dispatchd_journal_pending_records",
			"Journal records appended but not yet synced to disk.", nil, nil),
		webhookBacklog: prometheus.NewDesc("dispatchd_webhook_backlog",
			"Order events waiting for delivery, by webhook; one that keeps growing is a failing endpoint.", []string{"webhook"}, nil),
		webhookOldest: prometheus.NewDesc("dispatchd_webhook_oldest_pending_age_seconds",
			"Age of the oldest order event waiting for delivery, by webhook (0 when none waits).", []string{"webhook"}, nil),
		ready: prometheus.NewDesc("dispatchd_ready",
			"1 when the daemon serves (recovered, loop running, journal healthy: GET /readyz answers 200), else 0.", nil, nil),
		readOnly: prometheus.NewDesc("dispatchd_read_only",
			"1 when a failed journal commit has left the daemon read-only until a restart, else 0.", nil, nil),
		scrapeDuration: prometheus.NewDesc("dispatchd_scrape_collector_duration_seconds",
			"Time a scrape-time collector took to read its snapshot and emit its metrics.", []string{"collector"}, nil),
	}
}

// Describe sends every descriptor, which makes the collector a checked one: the registry rejects it at
// registration, not at the first scrape, if a name or label set clashes.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.orders
	ch <- c.couriers
	ch <- c.stores
	ch <- c.lastRoundOrders
	ch <- c.lastRoundAssigned
	ch <- c.queueDepth
	ch <- c.queueCapacity
	ch <- c.busyRatio
	ch <- c.longestStep
	ch <- c.journalPending
	ch <- c.webhookBacklog
	ch <- c.webhookOldest
	ch <- c.ready
	ch <- c.readOnly
	ch <- c.scrapeDuration
}

// Collect reads the fleet once and emits its gauges, then its own cost.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	start := c.now()
	f := c.fleet()

	byStatus(ch, c.orders, orderStatuses, f.OrdersByStatus)
	byStatus(ch, c.couriers, courierStatuses, f.CouriersByStatus)
	gauge(ch, c.stores, float64(f.Stores))
	gauge(ch, c.lastRoundOrders, float64(f.LastRoundCandidates))
	gauge(ch, c.lastRoundAssigned, float64(f.LastRoundAssigned))
	gauge(ch, c.queueDepth, float64(f.QueueDepth))
	gauge(ch, c.queueCapacity, float64(f.QueueCapacity))
	gauge(ch, c.busyRatio, f.LoopBusyRatio)
	gauge(ch, c.longestStep, f.LoopLongestStep.Seconds())
	gauge(ch, c.journalPending, float64(f.JournalPending))
	gauge(ch, c.ready, boolGauge(f.Ready))
	gauge(ch, c.readOnly, boolGauge(f.ReadOnly))
	for id, n := range f.WebhookBacklog {
		gauge(ch, c.webhookBacklog, float64(n), id)
		// The age is emitted for every webhook, 0 when nothing waits, so that its series is as stable as the
		// backlog's. A clock step backwards cannot make it negative.
		age := 0.0
		if t := f.WebhookOldestPending[id]; n > 0 && !t.IsZero() {
			age = max(0, start.Sub(t).Seconds())
		}
		gauge(ch, c.webhookOldest, age, id)
	}

	gauge(ch, c.scrapeDuration, c.now().Sub(start).Seconds(), fleetCollectorName)
}

// byStatus emits one series per known status, zero when counts lacks it, then one per unknown key in counts.
// Unknown keys are reported rather than dropped so that a new status is visible, not silently uncounted; they
// come from the daemon's own enumerations, so they cannot blow up cardinality.
func byStatus(ch chan<- prometheus.Metric, desc *prometheus.Desc, known []string, counts map[string]int) {
	for _, s := range known {
		gauge(ch, desc, float64(counts[s]), s)
	}
	var extra []string
	for s := range counts {
		if !slices.Contains(known, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra) // the registry sorts anyway; this keeps Collect itself deterministic
	for _, s := range extra {
		gauge(ch, desc, float64(counts[s]), s)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func gauge(ch chan<- prometheus.Metric, desc *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

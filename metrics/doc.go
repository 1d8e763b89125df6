// Package metrics exposes dispatchd's Prometheus metrics, all named under dispatchd_, on a private registry.
//
// # Two kinds of metric
//
// State (how many orders are pending, how many couriers are busy, how full the event loop's queue is) is not kept
// up to date by hand. A Fleet value is read from the daemon's latest published snapshot once per scrape and turned
// into const metrics by a custom collector, so the gauges can never drift from the state they describe, and the
// event loop pays nothing for them between scrapes. Every known status is emitted, zero or not, so that series do
// not appear and vanish as counts pass through zero.
//
// Things that happen (an order placed or delivered, a dispatch round, a journal sync, a rejected request, an HTTP
// request) are observed by the daemon as they happen, through the methods of Metrics, into counters and
// histograms. A snapshot cannot recover these: it shows where the fleet is, not what went through it between two
// scrapes.
//
// # Registry
//
// New builds its own prometheus.Registry (with the Go runtime and process collectors) and registers nothing
// globally: there is no init() registration and the default registry is not touched, so tests and several
// daemons in one process do not collide, and nothing a dependency registers leaks into dispatchd's /metrics.
//
// # Wiring
//
//	m := metrics.New(func() metrics.Fleet { return fleetOf(engine.LatestSnapshot()) })
//	mux.Handle("GET /metrics", m.Handler())
//	mux.Handle("POST /v1/orders", m.InstrumentHTTP("POST /v1/orders", placeOrder))
//
// # Metrics
//
// Scrape time, from Fleet:
//
//	dispatchd_orders{status}                     gauge  pending, assigned, picked_up, delivered, cancelled, failed,
//	                                                    ready_for_pickup, collected (in-store pick-up)
//	dispatchd_couriers{status}                   gauge  offline, idle, busy, awaiting_location
//	dispatchd_stores                             gauge
//	dispatchd_dispatch_last_round_orders         gauge  orders considered in the last round
//	dispatchd_dispatch_last_round_assigned       gauge  orders assigned in the last round
//	dispatchd_loop_queue_depth                   gauge
//	dispatchd_loop_queue_capacity                gauge
//	dispatchd_loop_busy_ratio                    gauge  0..1
//	dispatchd_loop_longest_step_seconds          gauge  the longest step over the busy ratio's window
//	dispatchd_journal_pending_records            gauge
//	dispatchd_webhook_backlog{webhook}           gauge  order events waiting for delivery
//	dispatchd_webhook_oldest_pending_age_seconds{webhook}  gauge  age of the oldest of them, 0 when none waits
//	dispatchd_ready                              gauge  1 when GET /readyz would answer 200
//	dispatchd_read_only                          gauge  1 after a failed journal commit, until a restart
//	dispatchd_scrape_collector_duration_seconds{collector}  gauge  the fleet collector's own cost
//
// Scrape time, from the file system (NewDataDirCollector, registered by the daemon over its data directory):
//
//	dispatchd_data_dir_avail_bytes               gauge  space the daemon may still write
//	dispatchd_data_dir_size_bytes                gauge
//
// Observed as things happen:
//
//	dispatchd_orders_placed_total                counter
//	dispatchd_orders_delivered_total             counter
//	dispatchd_orders_late_total                  counter
//	dispatchd_orders_finished_total{status}      counter  cancelled, failed
//	dispatchd_click_to_door_seconds              histogram  5 to 120 minutes
//	dispatchd_dispatch_round_duration_seconds    histogram  1 ms to 10 s
//	dispatchd_dispatch_round_orders_total        counter  orders considered, summed over rounds
//	dispatchd_dispatch_round_assigned_total      counter  orders assigned, summed over rounds
//	dispatchd_journal_sync_duration_seconds      histogram  100 µs to 1 s (its _count counts syncs)
//	dispatchd_journal_synced_records_total       counter
//	dispatchd_requests_rejected_total{reason}    counter  queue_full, ...
//	dispatchd_webhook_deliveries_total{result}   counter  ok, failed (retried later), given_up
//	dispatchd_http_requests_total{route,code}    counter
//	dispatchd_http_request_duration_seconds{route}  histogram  1 ms to 10 s
//
// A cluster node (dispatchd --cluster) adds its own (NewCluster, cluster.go): regions owned, each standby's lag,
// lease acquisitions, losses and renewals, and requests forwarded to other nodes by outcome.
//
// The registry also serves the standard go_* and process_* metrics, and promhttp_metric_handler_errors_total,
// which counts scrapes that lost metrics to a collection error (the handler carries on past such errors). The
// daemon registers dispatchd_build_info{version,commit,goversion} (NewBuildInfo) beside them.
//
// # Rules and dashboard
//
// The files beside this package are for an operator's Prometheus and Grafana: prometheus.yml (a scrape config),
// rules.yml (recording rules), alerts.yml (alerting rules, with their unit tests in alerts_test.yml) and
// grafana/dispatchd.json (a dashboard). `make alerts-check` runs promtool over them; the package's tests check that
// every metric their expressions use is one this package exports, so they cannot drift from the code.
// docs/operations.md ("Alerts and dashboards") is the runbook of each alert.
package metrics

// Package metrics exposes dispatchd's Prometheus metrics (names under dispatchd_), computed at scrape time from the
// engine's published snapshot, on a private registry.
//
// It is built in the daemon issue; this file reserves the package and states its role.
package metrics

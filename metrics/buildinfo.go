package metrics

import "github.com/prometheus/client_golang/prometheus"

// NewBuildInfo returns dispatchd_build_info, always 1, whose labels say which build serves: the stamped version and
// commit (as --version prints them) and the Go toolchain. It is what an operator checks after an upgrade, and what
// a dashboard joins on to mark one.
func NewBuildInfo(version, commit, goVersion string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dispatchd_build_info",
		Help:        "The running build: version and commit as stamped at build time (--version), and the Go toolchain. Always 1.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": goVersion},
	})
	g.Set(1)
	return g
}

package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// errNoStatfs is what statfs answers on a platform where this package cannot read a file system's space.
var errNoStatfs = errors.New("file system space is not available on this platform")

// dataDirCollector reports, at scrape time, the space of the file system holding the daemon's data directory.
type dataDirCollector struct {
	dir string
	// statfs returns the bytes available to the daemon (not to root) and the file system's size.
	statfs func(dir string) (avail, size uint64, err error)

	avail *prometheus.Desc
	size  *prometheus.Desc
}

// NewDataDirCollector returns a collector of the space left on the file system that holds dir, the daemon's data
// directory, read at each scrape:
//
//	dispatchd_data_dir_avail_bytes  gauge  bytes the daemon may still write (what an unprivileged user can use)
//	dispatchd_data_dir_size_bytes   gauge  the file system's size
//
// The journal, the event log and the checkpoints all live there, and a journal commit that cannot write leaves
// the daemon read-only, so this is the disk to watch. A read that fails costs these two series for that scrape
// and is counted in promhttp_metric_handler_errors_total (the handler carries on past collection errors). On a
// platform without statfs the collector emits nothing.
func NewDataDirCollector(dir string) prometheus.Collector {
	return &dataDirCollector{
		dir:    dir,
		statfs: statfs,
		avail: prometheus.NewDesc("dispatchd_data_dir_avail_bytes",
			"Bytes still available to the daemon on the file system holding its data directory (journal, events, checkpoints).", nil, nil),
		size: prometheus.NewDesc("dispatchd_data_dir_size_bytes",
			"Size in bytes of the file system holding the daemon's data directory.", nil, nil),
	}
}

// Describe sends both descriptors.
func (c *dataDirCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.avail
	ch <- c.size
}

// Collect reads the file system's space once.
func (c *dataDirCollector) Collect(ch chan<- prometheus.Metric) {
	avail, size, err := c.statfs(c.dir)
	if errors.Is(err, errNoStatfs) {
		return
	}
	if err != nil {
		err = fmt.Errorf("data directory %s: %w", c.dir, err)
		ch <- prometheus.NewInvalidMetric(c.avail, err)
		ch <- prometheus.NewInvalidMetric(c.size, err)
		return
	}
	gauge(ch, c.avail, float64(avail))
	gauge(ch, c.size, float64(size))
}

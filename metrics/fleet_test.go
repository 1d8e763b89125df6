package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The age of a webhook's oldest waiting event is measured from the collector's first clock reading; a webhook with
// nothing waiting, or whose oldest event is unknown, reports 0; an event stamped after the reading (a clock step)
// does not make the age negative; every webhook with a backlog series has an age series.
func TestFleetCollectorWebhookAge(t *testing.T) {
	scrape := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := newFleetCollector(func() Fleet {
		return Fleet{
			WebhookBacklog: map[string]int{"late": 12, "caught_up": 0, "unknown": 3, "ahead": 1},
			WebhookOldestPending: map[string]time.Time{
				"late":      scrape.Add(-90 * time.Second),
				"caught_up": scrape.Add(-time.Hour), // a stale stamp with no backlog: nothing waits
				"ahead":     scrape.Add(time.Minute),
			},
		}
	}, func() time.Time { return scrape })
	want := `
# HELP dispatchd_webhook_backlog Order events waiting for delivery, by webhook; one that keeps growing is a failing endpoint.
# TYPE dispatchd_webhook_backlog gauge
dispatchd_webhook_backlog{webhook="ahead"} 1
dispatchd_webhook_backlog{webhook="caught_up"} 0
dispatchd_webhook_backlog{webhook="late"} 12
dispatchd_webhook_backlog{webhook="unknown"} 3
# HELP dispatchd_webhook_oldest_pending_age_seconds Age of the oldest order event waiting for delivery, by webhook (0 when none waits).
# TYPE dispatchd_webhook_oldest_pending_age_seconds gauge
dispatchd_webhook_oldest_pending_age_seconds{webhook="ahead"} 0
dispatchd_webhook_oldest_pending_age_seconds{webhook="caught_up"} 0
dispatchd_webhook_oldest_pending_age_seconds{webhook="late"} 90
dispatchd_webhook_oldest_pending_age_seconds{webhook="unknown"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"dispatchd_webhook_backlog", "dispatchd_webhook_oldest_pending_age_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestFleetCollectorReadOnly(t *testing.T) {
	c := newFleetCollector(func() Fleet { return Fleet{ReadOnly: true} }, time.Now)
	want := `
# HELP dispatchd_ready 1 when the daemon serves (recovered, loop running, journal healthy: GET /readyz answers 200), else 0.
# TYPE dispatchd_ready gauge
dispatchd_ready 0
# HELP dispatchd_read_only 1 when a failed journal commit has left the daemon read-only until a restart, else 0.
# TYPE dispatchd_read_only gauge
dispatchd_read_only 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dispatchd_ready", "dispatchd_read_only"); err != nil {
		t.Fatal(err)
	}
}

const dataDirExposition = `
# HELP dispatchd_data_dir_avail_bytes Bytes still available to the daemon on the file system holding its data directory (journal, events, checkpoints).
# TYPE dispatchd_data_dir_avail_bytes gauge
dispatchd_data_dir_avail_bytes 2.5e+09
# HELP dispatchd_data_dir_size_bytes Size in bytes of the file system holding the daemon's data directory.
# TYPE dispatchd_data_dir_size_bytes gauge
dispatchd_data_dir_size_bytes 1e+10
`

func TestDataDirCollector(t *testing.T) {
	c := NewDataDirCollector("/var/lib/dispatchd").(*dataDirCollector)
	var asked string
	c.statfs = func(dir string) (uint64, uint64, error) { asked = dir; return 2_500_000_000, 10_000_000_000, nil }
	if err := testutil.CollectAndCompare(c, strings.NewReader(dataDirExposition)); err != nil {
		t.Fatal(err)
	}
	if asked != "/var/lib/dispatchd" {
		t.Fatalf("statfs of %q, want the data directory", asked)
	}
}

// A failed read costs the two series and is reported as a collection error naming the directory; the rest of
// the registry is still served.
func TestDataDirCollectorError(t *testing.T) {
	c := NewDataDirCollector("/gone").(*dataDirCollector)
	c.statfs = func(string) (uint64, uint64, error) { return 0, 0, errors.New("no such file or directory") }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	_, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "/gone") {
		t.Fatalf("gather: %v, want an error naming the directory", err)
	}
	c.statfs = func(string) (uint64, uint64, error) { return 0, 0, errNoStatfs }
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("without statfs: %d series, want none", n)
	}
}

// On this machine the collector reads a real file system: a temporary directory has some space, and never more
// available than the whole.
func TestDataDirCollectorReadsTheFileSystem(t *testing.T) {
	avail, size, err := statfs(t.TempDir())
	if errors.Is(err, errNoStatfs) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if size == 0 || avail > size {
		t.Fatalf("statfs: avail %d, size %d", avail, size)
	}
	if _, _, err := statfs(t.TempDir() + "/missing"); err == nil {
		t.Fatal("statfs of a missing directory: no error")
	}
}

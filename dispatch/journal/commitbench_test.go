package journal

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkCommitLatency appends a 300-byte record and waits for it, one at a time, so that every commit is one
// record and one sync, as an order arriving alone is; it reports the commit latency the journal measures
// (Options.OnSync: the write and the sync) at the median and the 99th percentile. The journal lives in the
// benchmark's temporary directory: set TMPDIR to measure another disk.
func BenchmarkCommitLatency(b *testing.B) {
	var lat []time.Duration
	j, err := Open(b.TempDir(), Options{OnSync: func(d time.Duration, _ int) { lat = append(lat, d) }})
	if err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 300)
	for b.Loop() {
		seq, err := j.Append(rec)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Wait(context.Background(), seq); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

package jsjournal

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// BenchmarkAppendLatency appends a 300-byte record and waits until it is durable, one at a time (an order arriving
// alone), and reports the latency the caller sees at the median and the 99th percentile: on a stream replicated
// on three servers on loopback that fsync every write (sync=always, as docs/cluster.md requires), on the same with
// JetStream's default lazy sync (sync=lazy, for the cost), and on the local journal in the benchmark's temporary
// directory (local; set TMPDIR to measure another disk).
func BenchmarkAppendLatency(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(b *testing.B) journal.Log
	}{
		{"sync=always", func(b *testing.B) journal.Log { return openBench(b, false) }},
		{"sync=lazy", func(b *testing.B) journal.Log { return openBench(b, true) }},
		{"local", func(b *testing.B) journal.Log {
			j, err := journal.Open(b.TempDir(), journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return j
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			j := tc.open(b)
			defer j.Close()
			rec := make([]byte, 300)
			var lat []time.Duration
			ctx := context.Background()
			for b.Loop() {
				start := time.Now()
				seq, err := j.Append(rec)
				if err != nil {
					b.Fatal(err)
				}
				if err := j.Wait(ctx, seq); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func openBench(b *testing.B, lazy bool) journal.Log {
	c := clustertest.StartWith(b, clustertest.Options{LazySync: lazy})
	j, err := Open(clustertest.Context(b), c.Connect(), Config{Region: "bench", Owner: "n1", Epoch: 1})
	if err != nil {
		b.Fatal(err)
	}
	return j
}

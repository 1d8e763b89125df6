package daemon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// heapPeak runs fn and reports the bytes it allocated in all and the most the heap held at once beyond what it held
// before (sampled every half millisecond, after a collection).
func heapPeak(fn func()) (alloc, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > top.Load() {
				top.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Microsecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, top.Load() - min(top.Load(), before.HeapAlloc)
}

// BenchmarkCheckpoint60k writes the checkpoint of a daemon with 60 000 open orders (a graceful stop's checkpoint,
// on the loop) and starts a daemon on it, reporting for each the bytes allocated and the peak of the heap beyond
// what it held before: the size of what the writer and the reader hold at once.
func BenchmarkCheckpoint60k(b *testing.B) {
	const orders = 60_000
	h, key := benchDaemon(b, 100)
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < orders; i += 32 {
				in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
				if _, err := h.d.PlaceOrder(ctx, shop, "", nil, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	cfg := h.d.cfg
	var writeAlloc, writePeak, readAlloc, readPeak uint64
	var size int64
	for b.Loop() {
		a, p := heapPeak(func() {
			h.d.do(ctx, func(time.Time) (any, uint64, error) { return nil, 0, h.d.checkpoint(true) })
		})
		writeAlloc, writePeak = max(writeAlloc, a), max(writePeak, p)
		st, err := os.Stat(cfg.DataDir + "/" + checkpointFile)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
		dir := b.TempDir()
		copyDir(b, cfg.DataDir, dir)
		os.Remove(dir + "/lock")
		c := cfg
		c.DataDir = dir
		a, p = heapPeak(func() {
			d, err := Open(c)
			if err != nil {
				b.Fatal(err)
			}
			d.Close()
		})
		readAlloc, readPeak = max(readAlloc, a), max(readPeak, p)
	}
	b.ReportMetric(float64(size)/1e6, "file-MB")
	b.ReportMetric(float64(writeAlloc)/1e6, "write-alloc-MB")
	b.ReportMetric(float64(writePeak)/1e6, "write-peak-MB")
	b.ReportMetric(float64(readAlloc)/1e6, "read-alloc-MB")
	b.ReportMetric(float64(readPeak)/1e6, "read-peak-MB")
}

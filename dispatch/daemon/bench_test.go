package daemon

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// benchDaemon is a daemon with 50 stores and n couriers on shift, on a real journal in a temp directory.
func benchDaemon(b *testing.B, couriers int) (*harness, string) {
	b.Helper()
	t := &testing.T{}
	h := start(t, b.TempDir(), newFakeClock(), nil)
	h.t = t
	for i := range 50 {
		loc := Location{31.20 + 0.01*float64(i%7), 121.44 + 0.01*float64(i/7)}
		if _, _, err := h.d.PutStore(ctx, StoreInput{ID: fmt.Sprintf("s%d", i), Location: loc}); err != nil {
			b.Fatal(err)
		}
	}
	// Registered by 16 clients at once, so that group commit shares the fsyncs.
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < couriers; i += 16 {
				id := fmt.Sprintf("c%d", i)
				if _, _, _, err := h.d.PutCourier(ctx, CourierInput{ID: id, Capacity: 3}, false); err != nil {
					b.Error(err)
					return
				}
				loc := Location{31.20 + 0.0001*float64(i%500), 121.44 + 0.0001*float64(i/500)}
				if _, err := h.d.SetShift(ctx, id, true, &loc, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	k, _, err := h.d.CreateAPIKey(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.stop(); <-h.done })
	return h, k.ID
}

// BenchmarkPlaceOrder measures intake through the loop and the journal (every placement waits for its fsync,
// shared by group commit), without HTTP. Run with -cpu and -benchtime to vary concurrency.
func BenchmarkPlaceOrder(b *testing.B) {
	h, key := benchDaemon(b, 100)
	shop := Principal{Role: RoleOrders, ID: key}
	b.SetParallelism(32) // many clients at once, as a busy order service would be
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
			if _, _, err := h.d.PlaceOrder(ctx, shop, "", nil, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReportLocation measures position reports through the loop over 10 000 couriers, without HTTP.
func BenchmarkReportLocation(b *testing.B) {
	const n = 10_000
	h, _ := benchDaemon(b, n)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
		for pb.Next() {
			i := rng.IntN(n)
			loc := Location{31.20 + 0.05*rng.Float64(), 121.44 + 0.05*rng.Float64()}
			if err := h.d.ReportLocation(ctx, fmt.Sprintf("c%d", i), loc, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

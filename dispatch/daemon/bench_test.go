package daemon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// benchDaemon is a daemon with 50 stores and n couriers on shift, on a real journal in a temp directory.
func benchDaemon(b *testing.B, couriers int) (*harness, string) {
	return benchDaemonWith(b, couriers, nil)
}

// benchDaemonWith is benchDaemon with its configuration changed by mutate.
func benchDaemonWith(b *testing.B, couriers int, mutate func(*Config)) (*harness, string) {
	b.Helper()
	t := &testing.T{}
	h := start(t, b.TempDir(), newFakeClock(), mutate)
	h.t = t
	for i := range 50 {
		loc := service.Location{Lat: 31.20 + 0.01*float64(i%7), Lon: 121.44 + 0.01*float64(i/7)}
		if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: fmt.Sprintf("s%d", i), Location: loc}); err != nil {
			b.Fatal(err)
		}
	}
	// Registered by 16 clients at once, so that group commit shares the fsyncs.
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < couriers; i += 16 {
				id := fmt.Sprintf("c%d", i)
				if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: id, Capacity: 3}, false); err != nil {
					b.Error(err)
					return
				}
				loc := service.Location{Lat: 31.20 + 0.0001*float64(i%500), Lon: 121.44 + 0.0001*float64(i/500)}
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
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	b.SetParallelism(32) // many clients at once, as a busy order service would be
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
			if _, err := h.d.PlaceOrder(ctx, shop, "", nil, in); err != nil {
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
			loc := service.Location{Lat: 31.20 + 0.05*rng.Float64(), Lon: 121.44 + 0.05*rng.Float64()}
			if err := h.d.ReportLocation(ctx, fmt.Sprintf("c%d", i), loc, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRestart measures recovery: Open on a data directory whose last checkpoint is followed by the journal of
// a stretch of the day, rounds every 10 s with orders placed between them, as a crash leaves it. Each iteration
// opens a fresh copy of that directory. "normal-day": 1 000 couriers, 2 000 open orders, 5 minutes (30 rounds)
// since the checkpoint; "backlog-60k": 1 000 couriers and 60 000 open orders, 10 rounds since the checkpoint.
// median-ms is the wall time of Open; cpu-ms the CPU time the process spent in it (all its threads: Open decodes
// on every core), which a machine shared with other work inflates less.
func BenchmarkRestart(b *testing.B) {
	for _, sc := range []struct {
		name                   string
		couriers, open, rounds int
	}{{"normal-day", 1000, 2000, 30}, {"backlog-60k", 1000, 60_000, 10}} {
		b.Run(sc.name, func(b *testing.B) {
			dir, cfg := restartScenario(b, sc.couriers, sc.open, sc.rounds)
			var took, cpu []time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				run := b.TempDir()
				if err := os.CopyFS(run, os.DirFS(dir)); err != nil {
					b.Fatal(err)
				}
				cfg.DataDir = run
				b.StartTimer()
				began, cpu0 := time.Now(), processCPU()
				d, err := Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				took, cpu = append(took, time.Since(began)), append(cpu, processCPU()-cpu0)
				b.StopTimer()
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			slices.Sort(took)
			slices.Sort(cpu)
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
			b.ReportMetric(float64(cpu[len(cpu)/2].Milliseconds()), "cpu-ms")
		})
	}
}

// restartScenario builds the data directory BenchmarkRestart opens and the configuration to open it with.
func restartScenario(b *testing.B, couriers, open, rounds int) (string, Config) {
	b.Helper()
	dir, clock := b.TempDir(), newFakeClock()
	mutate := func(c *Config) {
		c.CheckpointRecords = 1 << 30
		c.CheckpointInterval = 24 * time.Hour
	}
	t := &testing.T{}
	h := start(t, dir, clock, mutate)
	h.t = t
	for i := range 50 {
		loc := service.Location{Lat: 31.20 + 0.01*float64(i%7), Lon: 121.44 + 0.01*float64(i/7)}
		if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: fmt.Sprintf("s%d", i), Location: loc}); err != nil {
			b.Fatal(err)
		}
	}
	k, _, err := h.d.CreateAPIKey(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	shop := service.Principal{Role: service.RoleOrders, ID: k.ID}
	parallel := func(n int, fn func(i int) error) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < n; i += 16 {
					if err := fn(i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
	parallel(couriers, func(i int) error {
		id := fmt.Sprintf("c%d", i)
		if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: id, Capacity: 3}, false); err != nil {
			return err
		}
		loc := service.Location{Lat: 31.20 + 0.0001*float64(i%500), Lon: 121.44 + 0.0001*float64(i/500)}
		_, err := h.d.SetShift(ctx, id, true, &loc, nil)
		return err
	})
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	place := func(int) error {
		mu.Lock()
		in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
		mu.Unlock()
		promise := 4 * 3600 // a backlog that waits, not one that expires
		in.PromiseSeconds = &promise
		_, err := h.d.PlaceOrder(ctx, shop, "", nil, in)
		return err
	}
	parallel(open, place)
	// A graceful stop writes the checkpoint; the journal after it is what a restart replays.
	h.stop()
	<-h.done
	h = start(t, dir, clock, mutate)
	h.t = t
	for range rounds {
		clock.Advance(10 * time.Second)
		parallel(20, place)
		if err := h.d.DispatchNow(ctx); err != nil {
			b.Fatal(err)
		}
	}
	h.crash()
	cfg := DefaultConfig()
	cfg.Now = clock.Now
	cfg.Engine.PostponeSlack = 0
	mutate(&cfg)
	return dir, cfg
}

package daemon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
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
				began, cpu0 := time.Now(), threadCPU()
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

// BenchmarkRoundOnTheLoop measures what a dispatch round costs the loop over a backlog the fleet can deliver
// (the drive's balance): 1 000 couriers of capacity 3 spread over the city, 1 000 orders placed between rounds
// (10 s apart), and every order the last round assigned picked up and delivered before the next. The round plans
// off the loop, as it does in the daemon; what is measured is what runs on the loop, where every request queued
// meanwhile waits: copy-ms the round's copy of the engine (Planner); decision-ms applying, journaling and
// publishing the whole decision, in longest-step-ms's steps ("whole": one step; "pieces": decisionPiece route
// parts a step, requests served between them); decision-cpu-ms and longest-step-cpu-ms the same in the loop
// thread's CPU time, which other work on the machine inflates less. Medians over the rounds.
func BenchmarkRoundOnTheLoop(b *testing.B) {
	for _, bc := range []struct {
		name  string
		piece int
	}{{"whole", 0}, {"pieces", decisionPiece}} {
		b.Run(bc.name, func(b *testing.B) { benchRoundOnTheLoop(b, bc.piece) })
	}
}

func benchRoundOnTheLoop(b *testing.B, piece int) {
	h, key := benchDaemon(b, 1000)
	h.d.pieceSize = piece
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	rng := rand.New(rand.NewPCG(3, 4))
	// The fleet spread over the city the orders come from (a grid of 40 × 25).
	for i := range 1000 {
		loc := service.Location{Lat: 31.20 + 0.05*float64(i%40)/40, Lon: 121.44 + 0.05*float64(i/40)/25}
		if err := h.d.ReportLocation(ctx, fmt.Sprintf("c%d", i), loc, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	placeBatch := func(n int) []string {
		ids := make([]string, n)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < n; i += 16 {
					mu.Lock()
					in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
					mu.Unlock()
					o, err := h.d.PlaceOrder(ctx, shop, "", nil, in)
					if err != nil {
						b.Error(err)
						return
					}
					ids[i] = o.ID
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		return ids
	}
	// onLoop runs fn on the loop, between requests, as the loop runs a step.
	onLoop := func(fn func(now time.Time)) {
		err := h.d.submit(ctx, request{fn: func(now time.Time) (uint64, error) { fn(now); return 0, nil }, reply: make(chan reply, 1)})
		if err != nil {
			b.Fatal(err)
		}
	}
	// The loop's goroutine keeps its thread from now on, so that the thread's CPU time is the loop's (the thread
	// ends with the goroutine when the daemon stops).
	onLoop(func(time.Time) { runtime.LockOSThread() })
	deliver := func(ids []string) []string {
		var open []string
		var wg sync.WaitGroup
		var omu sync.Mutex
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < len(ids); i += 16 {
					o, ok := h.d.View().Order(ids[i])
					if !ok || o.Status != "assigned" {
						omu.Lock()
						open = append(open, ids[i])
						omu.Unlock()
						continue
					}
					for _, a := range []string{"picked_up", "delivered"} {
						if _, err := h.d.CourierAction(ctx, o.CourierID, o.ID, a, ""); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		return open
	}
	var open []string
	var copies, decisions, longest, cpus, longestCPU []time.Duration
	var steps []int
	for b.Loop() {
		b.StopTimer()
		open = append(open, placeBatch(1000)...)
		h.clock.Advance(10 * time.Second)
		b.StartTimer()
		var p *dispatch.Planner
		var at time.Time
		onLoop(func(now time.Time) {
			began := time.Now()
			p, at = h.d.eng.Planner(), now
			copies = append(copies, time.Since(began))
		})
		b.StopTimer()
		dec, err := p.Plan(at)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// The decision as the loop applies it: the first piece when the round comes back, the others one a step
		// (kept from the loop between the steps, so that each is measured).
		var total, most, cpu, mostCPU time.Duration
		var rest []*dispatch.Decision
		n, more := 0, true
		for more {
			onLoop(func(time.Time) {
				began, cpu0 := time.Now(), threadCPU()
				if n == 0 {
					h.d.planning = true
					h.d.roundReturned(roundResult{decision: dec})
				} else {
					h.d.pieces = rest
					h.d.applyPiece()
				}
				h.d.publish()
				took := time.Since(began)
				stepCPU := threadCPU() - cpu0
				total, most, cpu, mostCPU = total+took, max(most, took), cpu+stepCPU, max(mostCPU, stepCPU)
				rest, h.d.pieces = h.d.pieces, nil
				more = len(rest) > 0
			})
			n++
		}
		decisions, longest, cpus, steps = append(decisions, total), append(longest, most), append(cpus, cpu), append(steps, n)
		longestCPU = append(longestCPU, mostCPU)
		b.StopTimer()
		// The couriers act on what the round published.
		var seq uint64
		onLoop(func(time.Time) { seq = h.d.jnl().LastSeq() })
		if err := h.d.waitVisible(ctx, seq); err != nil {
			b.Fatal(err)
		}
		open = deliver(open)
		b.StartTimer()
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	slices.Sort(steps)
	b.ReportMetric(median(copies), "copy-ms")
	b.ReportMetric(median(decisions), "decision-ms")
	b.ReportMetric(median(longest), "longest-step-ms")
	b.ReportMetric(median(cpus), "decision-cpu-ms")
	b.ReportMetric(median(longestCPU), "longest-step-cpu-ms")
	b.ReportMetric(float64(steps[len(steps)/2]), "steps")
	b.ReportMetric(float64(len(open)), "open-orders")
}

// BenchmarkPositionsOnTheLoop measures what a courier's position costs the loop when positions come one at a time
// (the drive's case: 2 500 a second over HTTP to a loop idle most of the time, so that each is a step of its
// own): loop-cpu-us the loop thread's CPU time per position, alloc-B the bytes the process allocated per
// position (the loop's, and the few of QueueLocation). "each-step" publishes a snapshot after every step of
// positions, "deferred" leaves them to the next step or positionsPublishAfter later, as the daemon does.
func BenchmarkPositionsOnTheLoop(b *testing.B) {
	for _, bc := range []struct {
		name  string
		delay time.Duration
	}{{"each-step", 0}, {"deferred", positionsPublishAfter}} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := benchDaemon(b, 1000)
			h.d.positionsDelay = bc.delay
			onLoop := func(fn func()) {
				err := h.d.submit(ctx, request{fn: func(time.Time) (uint64, error) { fn(); return 0, nil }, reply: make(chan reply, 1)})
				if err != nil {
					b.Fatal(err)
				}
			}
			// The loop's goroutine keeps its thread from now on, so that the thread's CPU time is the loop's.
			onLoop(func() { runtime.LockOSThread() })
			var cpu0, cpu1 time.Duration
			var m0, m1 runtime.MemStats
			n := 0
			onLoop(func() { cpu0 = threadCPU() })
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				i := n % 1000
				loc := service.Location{Lat: 31.20 + 0.0001*float64(i%500) + 1e-6*float64(n%7), Lon: 121.44 + 0.0001*float64(i/500)}
				if err := h.d.QueueLocation(fmt.Sprintf("c%d", i), loc, time.Time{}); err != nil {
					b.Fatal(err)
				}
				n++
				// One at a time: the next once the loop has taken this one.
				for len(h.d.pings) > 0 {
					runtime.Gosched()
				}
			}
			runtime.ReadMemStats(&m1)
			onLoop(func() { cpu1 = threadCPU() })
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/float64(n), "loop-cpu-us")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "alloc-B")
		})
	}
}

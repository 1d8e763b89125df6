package daemon

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/ckptstore"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// BenchmarkIntakeJetStream measures order intake through the daemon (PlaceOrder, without HTTP: the loop, the
// journal, the wait for durability and the snapshot) on a region's JetStream stream, replicated on three embedded
// servers on loopback that fsync every write (sync_interval: always, as docs/cluster.md requires), beside the
// local journal in the benchmark's temporary directory, in the same run; "local-watched" is the local journal handed
// in (Config.Journal), which the daemon waits on as on a stream (no callback into it), for the cost of that. Two
// loads: "saturated", 32 clients placing orders back to back (orders-per-s is the throughput); "paced-200", orders
// arriving at 200 per second whatever the answers (the figure: p99 at 200 orders/s). p50-ms and p99-ms are
// each PlaceOrder's time.
func BenchmarkIntakeJetStream(b *testing.B) {
	for _, jname := range []string{"local", "local-watched", "jetstream-R3"} {
		for _, load := range []string{"saturated", "paced-200"} {
			b.Run("journal="+jname+"/load="+load, func(b *testing.B) {
				var mutate func(*Config)
				if jname == "jetstream-R3" {
					mutate = jetStreamRegion(b)
				}
				if jname == "local-watched" {
					mutate = func(c *Config) {
						j, err := journal.Open(b.TempDir(), journal.Options{})
						if err != nil {
							b.Fatal(err)
						}
						c.Journal = j
					}
				}
				h, key := benchDaemonWith(b, 100, mutate)
				shop := service.Principal{Role: service.RoleOrders, ID: key}
				place := func(rng *rand.Rand) time.Duration {
					in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
					began := time.Now()
					if _, err := h.d.PlaceOrder(ctx, shop, "", nil, in); err != nil {
						b.Error(err)
					}
					return time.Since(began)
				}
				var mu sync.Mutex
				var lat []time.Duration
				b.ResetTimer()
				began := time.Now()
				if load == "saturated" {
					b.SetParallelism(16) // 16 × GOMAXPROCS clients
					b.RunParallel(func(pb *testing.PB) {
						rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
						var mine []time.Duration
						for pb.Next() {
							mine = append(mine, place(rng))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
				} else {
					var wg sync.WaitGroup
					for i := range b.N {
						time.Sleep(time.Until(began.Add(time.Duration(i) * 5 * time.Millisecond)))
						wg.Go(func() {
							d := place(rand.New(rand.NewPCG(uint64(i), 2)))
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						})
					}
					wg.Wait()
				}
				took := time.Since(began)
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(len(lat))/took.Seconds(), "orders-per-s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// jetStreamRegion starts three embedded servers (sync always) and returns the configuration of a region's owner
// on them: the stream in epoch 1, checkpoints in the object store.
func jetStreamRegion(b *testing.B) func(*Config) {
	c := clustertest.Start(b, 3)
	cctx := clustertest.Context(b)
	j, err := jsjournal.Open(cctx, c.Connect(), jsjournal.Config{Region: "bench", Owner: "n1", Epoch: 1})
	if err != nil {
		b.Fatal(err)
	}
	store, err := ckptstore.Open(cctx, c.Connect(), ckptstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return func(cfg *Config) { cfg.Journal, cfg.Checkpoints = j, store.Region("bench") }
}

// BenchmarkStandbyFollow measures how fast a standby applies an owner's records (Follow, one at a time, each
// published as a snapshot): order placements (b.N of them, made by an owner on a local journal first), against
// the owner's intake above.
func BenchmarkStandbyFollow(b *testing.B) {
	store := newMemCheckpoints("bench")
	var tee *teeLog
	h, key := benchDaemonWith(b, 100, func(c *Config) {
		j, err := journal.Open(b.TempDir(), journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		tee = &teeLog{Log: j, recs: map[uint64][]byte{}}
		c.Journal, c.Checkpoints = tee, store
	})
	if _, err := h.d.do(ctx, func(time.Time) (any, uint64, error) { return nil, 0, h.d.checkpoint(true) }); err != nil {
		b.Fatal(err)
	}
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := w; i < b.N; i += 16 {
				in := orderIn(fmt.Sprintf("s%d", rng.IntN(50)), 31.20+0.05*rng.Float64(), 121.44+0.05*rng.Float64())
				if _, err := h.d.PlaceOrder(ctx, shop, "", nil, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t := &testing.T{}
	sb := start(t, b.TempDir(), newFakeClock(), func(c *Config) { c.Standby, c.Checkpoints = true, store })
	b.Cleanup(func() { sb.stop(); <-sb.done })
	seqs, recs := tee.durable(sb.d.Position())
	b.ResetTimer()
	began := time.Now()
	for i, s := range seqs {
		if err := sb.d.Follow(ctx, s, recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(seqs))/time.Since(began).Seconds(), "records-per-s")
}

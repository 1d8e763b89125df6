package daemon

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// TestReplayMatchesLive drives random days through a daemon the way the API does, with everything that runs beside
// the engine in the live daemon: rounds on their own goroutine with placements, positions and courier actions
// arriving while they run, positions queued without an answer, checkpoints written in the background, and clocks
// that move in uneven steps. At random moments it crashes the daemon (or stops it gracefully) and requires the
// recovered state to be exactly the one it had: every order, route (stops, ETAs, versions), courier, event and
// the engine's whole state. A difference means that something a reader or a courier saw was not what a replay
// of the journal makes, which after a real crash shows as a route going back a version or an order changing
// courier.
func TestReplayMatchesLive(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	if testing.Short() || raceOn {
		seeds = seeds[:2]
	}
	// REPLAY_SEEDS=N runs seeds 1..N instead (a longer search after a change to the loop).
	if n, err := strconv.Atoi(os.Getenv("REPLAY_SEEDS")); err == nil && n > 0 {
		seeds = seeds[:0]
		for s := range n {
			seeds = append(seeds, uint64(s+1))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { replayDay(t, seed) })
	}
}

type replayWorld struct {
	t      *testing.T
	rng    *rand.Rand
	h      *harness
	dir    string
	clock  *fakeClock
	mutate func(*Config)
	shop   service.Principal
	orders []string
	// idem remembers the idempotency key and body hash of some placements, to retry them.
	idem     map[string]service.OrderInput
	couriers []string
	stores   []string
}

func replayDay(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ckptRecords := 5 + rng.IntN(40)
	w := &replayWorld{
		t: t, rng: rng, dir: t.TempDir(), clock: newFakeClock(), idem: map[string]service.OrderInput{},
		mutate: func(c *Config) {
			c.CheckpointRecords = ckptRecords
			c.Engine.PostponeSlack = 0
		},
	}
	w.h = start(t, w.dir, w.clock, w.mutate)
	w.pieceByPiece()
	w.setUp()
	restarts := 0
	for step := range 400 {
		w.step(step)
		if rng.IntN(40) == 0 {
			w.restart(step, rng.IntN(4) == 0)
			restarts++
		}
	}
	w.restart(400, false)
	released := 0
	for _, id := range w.orders {
		if o, ok := w.h.d.View().Order(id); ok && o.Schedule != nil && o.Schedule.ReleasedAt != nil {
			released++
		}
	}
	t.Logf("seed %d: %d orders (%d scheduled orders released), %d restarts, checkpoint every %d records; %v", seed,
		len(w.orders), released, restarts+1, ckptRecords, w.h.d.View().OrdersByStatus())
}

func (w *replayWorld) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *replayWorld) setUp() {
	d := w.h.d
	for i := range 4 {
		id := fmt.Sprintf("s%d", i)
		_, _, err := d.PutStore(ctx, service.StoreInput{ID: id, Location: w.near(31.23, 121.47, 0.02), PrepSeconds: 120 + 60*i,
			MaxActiveOrders: 2 + i, Inventory: map[string]int{"milk": 40, "bread": 25}})
		w.must(err)
		w.stores = append(w.stores, id)
	}
	for i := range 6 {
		id := fmt.Sprintf("c%d", i)
		_, _, _, err := d.PutCourier(ctx, service.CourierInput{ID: id, Vehicle: "ebike", Capacity: 3}, false)
		w.must(err)
		loc := w.near(31.23, 121.47, 0.02)
		_, err = d.SetShift(ctx, id, true, &loc, nil)
		w.must(err)
		w.couriers = append(w.couriers, id)
	}
	k, _, err := d.CreateAPIKey(ctx, "shop")
	w.must(err)
	w.shop = service.Principal{Role: service.RoleOrders, ID: k.ID}
}

func (w *replayWorld) near(lat, lon, spread float64) service.Location {
	return service.Location{Lat: lat + spread*(2*w.rng.Float64()-1), Lon: lon + spread*(2*w.rng.Float64()-1)}
}

// place places an order (sometimes by items, sometimes with an idempotency key) and remembers its id. Refusals
// (no stock, no store in reach) are part of the day.
func (w *replayWorld) place() {
	in := orderIn(w.stores[w.rng.IntN(len(w.stores))], 0, 0)
	in.Dropoff = w.near(31.23, 121.47, 0.03)
	if w.rng.IntN(3) == 0 {
		in.StoreID = ""
		in.Items = []fulfil.Item{{SKU: "milk", Qty: 1 + w.rng.IntN(2)}}
	}
	key := ""
	if w.rng.IntN(2) == 0 {
		key = fmt.Sprintf("k%d", w.rng.Int64())
	}
	if w.rng.IntN(5) == 0 {
		// A delivery window, often far enough ahead to be scheduled (schedule.go).
		after := w.clock.Now().Add(time.Duration(60+w.rng.IntN(90)) * time.Minute)
		by := after.Add(time.Hour)
		in.DeliverAfter, in.DeliverBy = &after, &by
	}
	body, err := orderJSON(w.h.d.PlaceOrder(ctx, w.shop, key, []byte(key), in))
	if err != nil {
		return
	}
	var o service.Order
	w.must(json.Unmarshal(body, &o))
	w.orders = append(w.orders, o.ID)
	if key != "" {
		w.idem[key] = in
	}
}

// retry repeats an earlier placement with its idempotency key: it must answer the same order.
func (w *replayWorld) retry() {
	for key, in := range w.idem {
		body, err := orderJSON(w.h.d.PlaceOrder(ctx, w.shop, key, []byte(key), in))
		w.must(err)
		var o service.Order
		w.must(json.Unmarshal(body, &o))
		if _, ok := w.h.d.View().Order(o.ID); !ok {
			w.t.Fatalf("retry of %s answered order %s, which is not there", key, o.ID)
		}
		return
	}
}

// act moves one of a courier's orders on: accept, arrive, pick up, deliver; now and then a decline or a failure.
func (w *replayWorld) act() {
	v := w.h.d.View()
	c := w.couriers[w.rng.IntN(len(w.couriers))]
	r, ok := v.Route(c)
	if !ok || len(r.Stops) == 0 {
		return
	}
	s := r.Stops[0]
	o, _ := v.Order(s.OrderID)
	var action, reason string
	switch {
	case w.rng.IntN(12) == 0 && o.Status == "assigned":
		action, reason = "decline", "too far"
	case w.rng.IntN(15) == 0 && o.Status == "picked_up":
		action, reason = "failed", "nobody home"
	case o.Status == "assigned" && w.rng.IntN(2) == 0:
		action = "accept"
	case s.Kind == "pickup" && w.rng.IntN(2) == 0:
		action = "arrived"
	case s.Kind == "pickup":
		action = "picked_up"
	default:
		action = "delivered"
	}
	w.h.d.CourierAction(ctx, c, s.OrderID, action, reason) // refusals (an action out of turn) are part of the day
}

func (w *replayWorld) move() {
	c := w.couriers[w.rng.IntN(len(w.couriers))]
	loc := w.near(31.23, 121.47, 0.03)
	if w.rng.IntN(2) == 0 {
		w.h.d.QueueLocation(c, loc, time.Time{})
	} else {
		w.must(w.h.d.ReportLocation(ctx, c, loc, w.clock.Now().Add(-time.Duration(w.rng.IntN(5))*time.Second)))
	}
}

// cancel cancels one of the orders placed (refusals, for orders past cancelling, are part of the day).
func (w *replayWorld) cancel() {
	if len(w.orders) > 0 {
		w.h.d.CancelOrder(ctx, w.orders[w.rng.IntN(len(w.orders))], "customer")
	}
}

// toggleShift takes a courier off shift, or puts it on.
func (w *replayWorld) toggleShift() {
	c := w.couriers[w.rng.IntN(len(w.couriers))]
	cv, _ := w.h.d.View().Courier(c)
	loc := w.near(31.23, 121.47, 0.02)
	w.h.d.SetShift(ctx, c, cv.Status == "offline", &loc, nil)
}

func (w *replayWorld) step(i int) {
	d := w.h.d
	switch n := w.rng.IntN(100); {
	case n < 30:
		w.place()
	case n < 32:
		w.retry()
	case n < 50:
		w.act()
	case n < 70:
		w.move()
	case n < 73:
		w.cancel()
	case n < 75:
		w.toggleShift()
	case n < 77:
		_, err := d.PatchInventory(ctx, w.stores[w.rng.IntN(len(w.stores))], service.InventoryChange{Adjust: map[string]int{"milk": 5}})
		w.must(err)
	case n < 83:
		w.must(d.DispatchNow(ctx))
	case n < 85:
		// Now and then the day moves on by minutes, so that scheduled orders come due.
		w.clock.Advance(time.Duration(w.rng.IntN(20)) * time.Minute)
		w.must(d.PlanScheduleNow(ctx))
	default:
		w.roundBesideIntake()
	}
	w.clock.Advance(time.Duration(w.rng.IntN(20_000)) * time.Millisecond)
}

// roundBesideIntake starts a round on its own goroutine, as the ticker does, and sends requests while it plans:
// placements, positions, courier actions, cancellations and shifts, all served at once. Those that change what the
// round planned on make parts of its decision stale: the loop drops them when it applies the decision.
func (w *replayWorld) roundBesideIntake() {
	d := w.h.d
	entered, release := make(chan struct{}), make(chan struct{})
	d.do(ctx, func(time.Time) (any, uint64, error) {
		d.beforeRound = func() { close(entered); <-release }
		d.tick()
		if !d.planning {
			close(entered)
			close(release)
		}
		d.beforeRound = nil
		return nil, 0, nil
	})
	<-entered
	for range w.rng.IntN(8) {
		w.clock.Advance(time.Duration(w.rng.IntN(3000)) * time.Millisecond)
		switch n := w.rng.IntN(10); {
		case n < 3:
			w.place()
		case n < 5:
			w.move()
		case n < 8:
			w.act()
		case n < 9:
			w.cancel()
		default:
			w.toggleShift()
		}
	}
	select {
	case <-release:
	default:
		close(release)
	}
	// The decision is applied by the loop when it comes back, a piece at a time: requests sent now may come
	// between two pieces and make the later ones stale.
	for range w.rng.IntN(3) {
		switch n := w.rng.IntN(3); {
		case n < 1:
			w.place()
		case n < 2:
			w.act()
		default:
			w.cancel()
		}
	}
	w.h.waitRound()
}

// pieceByPiece has the daemon apply the decisions of rounds planned off the loop one route part a step, so that
// the pieces and the requests served between them are part of what a replay must rebuild.
func (w *replayWorld) pieceByPiece() {
	w.h.d.do(ctx, func(time.Time) (any, uint64, error) {
		w.h.d.pieceSize = 1
		return nil, 0, nil
	})
}

// restart crashes the daemon (or stops it) once everything sent has been taken, and requires the state it comes
// back with to be the one it had.
func (w *replayWorld) restart(step int, graceful bool) {
	t, d := w.t, w.h.d
	// Queued positions are taken by the loop in its own time; wait for them, then journal the last ones (a crash
	// may lose positions that no record followed: that is the documented price of journaling them lazily, and
	// no route depends on them).
	for len(d.pings) > 0 || len(d.pingBatches) > 0 {
		time.Sleep(time.Millisecond)
	}
	// An engine request waits for a round still running; the one after it for the publication of that batch.
	d.do(ctx, func(time.Time) (any, uint64, error) {
		seq, err := d.flushLocations()
		return nil, seq, err
	})
	d.do(ctx, func(time.Time) (any, uint64, error) { return nil, 0, nil })
	// A plan of the scheduled book that a tick started comes back to the loop; then the releases already due are
	// written (a start would write them at once).
	for planning := true; planning; time.Sleep(time.Millisecond) {
		d.do(ctx, func(time.Time) (any, uint64, error) { planning = d.sched.planning; return nil, 0, nil })
	}
	d.do(ctx, func(now time.Time) (any, uint64, error) { seq, err := d.releaseDue(now); return nil, seq, err })
	for {
		d.pubMu.Lock()
		settled := len(d.pending) == 0 && d.jnl().Durable() >= d.jnl().LastSeq()
		d.pubMu.Unlock()
		if settled {
			break
		}
		time.Sleep(time.Millisecond)
	}
	d.ckptWG.Wait()
	want := stateOf(t, d)
	if graceful {
		w.h.close()
	} else {
		w.h.crash()
		if w.rng.IntN(4) > 0 {
			// Mostly a machine crash rather than a process crash: the event log's pages after the last checkpoint
			// were never synced and are lost. The replay must make those events again, the same, under the same ids.
			loseUnsyncedEvents(t, w.dir)
		}
	}
	w.h = start(t, w.dir, w.clock, w.mutate)
	w.pieceByPiece()
	if got := stateOf(t, w.h.d); got != want {
		t.Fatalf("step %d: state after a %s differs from the one before:\n%s", step, map[bool]string{true: "graceful restart", false: "crash"}[graceful], jsonDiff(want, got))
	}
}

// jsonDiff lists the paths at which two JSON documents differ (at most 12), with both values.
func jsonDiff(a, b string) string {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return firstDiff(a, b)
	}
	var out []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		if len(out) >= 12 {
			return
		}
		switch xv := x.(type) {
		case map[string]any:
			if yv, ok := y.(map[string]any); ok {
				for k := range xv {
					walk(path+"."+k, xv[k], yv[k])
				}
				for k := range yv {
					if _, ok := xv[k]; !ok {
						walk(path+"."+k, nil, yv[k])
					}
				}
				return
			}
		case []any:
			if yv, ok := y.([]any); ok && len(xv) == len(yv) {
				for i := range xv {
					walk(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i])
				}
				return
			}
		}
		xb, _ := json.Marshal(x)
		yb, _ := json.Marshal(y)
		if string(xb) != string(yb) {
			out = append(out, fmt.Sprintf("%s:\n  want %.600s\n  got  %.600s", path, xb, yb))
		}
	}
	walk("", x, y)
	return strings.Join(out, "\n")
}

// loseUnsyncedEvents cuts the event log after the last event the checkpoint covers (the part a machine crash may
// lose: only that part is synced before the checkpoint is written).
func loseUnsyncedEvents(t *testing.T, dir string) {
	t.Helper()
	var covered uint64
	if b, err := os.ReadFile(filepath.Join(dir, checkpointFile)); err == nil {
		var c struct { // the header, the checkpoint's first line
			Header struct {
				EventSeq uint64 `json:"event_seq"`
			} `json:"header"`
		}
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
			t.Fatal(err)
		}
		covered = c.Header.EventSeq
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "events", "seg-*.log"))
	for i := len(segs) - 1; i >= 0; i-- {
		b := segmentData(t, segs[i])
		// Frames: length, checksum, sequence number (16 bytes), then the event.
		off := 0
		for off+16 <= len(b) && binary.LittleEndian.Uint64(b[off+8:]) <= covered {
			off += 16 + int(binary.LittleEndian.Uint32(b[off:]))
		}
		if off > 0 || i == 0 {
			if err := os.Truncate(segs[i], int64(off)); err != nil {
				t.Fatal(err)
			}
			return
		}
		// The whole segment is after the checkpoint's events: it was never synced either.
		if err := os.Remove(segs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

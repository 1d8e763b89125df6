package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/ckptstore"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/lease"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The checkpoint store bound to a region is a CheckpointStore.
var _ CheckpointStore = (*ckptstore.RegionStore)(nil)

// standbyFollower runs a jsjournal.Follower into a standby's Follow, as a node does, and notes the first record
// it handed on.
type standbyFollower struct {
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	first  uint64
}

func followStream(t *testing.T, c *clustertest.Cluster, d *Daemon, region string) *standbyFollower {
	t.Helper()
	f, err := jsjournal.NewFollower(clustertest.Context(t), c.Connect(), region, d.Position())
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(context.Background())
	sf := &standbyFollower{cancel: cancel, done: make(chan error, 1)}
	go func() {
		sf.done <- f.Run(fctx, func(seq uint64, rec []byte) error {
			sf.mu.Lock()
			if sf.first == 0 {
				sf.first = seq
			}
			sf.mu.Unlock()
			return d.Follow(fctx, seq, rec)
		})
	}()
	t.Cleanup(sf.stop)
	return sf
}

func (sf *standbyFollower) stop() {
	sf.cancel()
	<-sf.done
	sf.done <- context.Canceled // a second stop returns at once
}

func (sf *standbyFollower) firstSeq() uint64 {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.first
}

// latestSeq is the seq of the region's latest checkpoint (0: none).
func latestSeq(t *testing.T, cs CheckpointStore) uint64 {
	t.Helper()
	seq, rc, ok, err := cs.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		rc.Close()
	}
	return seq
}

// caughtUp waits until d's position reaches seq.
func caughtUp(t *testing.T, d *Daemon, seq uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); d.Position() < seq; {
		if time.Now().After(deadline) {
			t.Fatalf("the standby is at %d, want %d", d.Position(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A region on the three-server cluster: owner a on its stream and the object store takes orders, couriers, rounds
// and checkpoints; standby b, opened from a checkpoint, follows only the stream after it; a loses its lease
// while it still runs; b takes the lease, opens the stream in its epoch (which fences a off) and is promoted. Every
// order a acknowledged is on b with the same status, a retry with the same key answers the same order, events go
// on with the same ids and no gap, a's writes after the takeover are refused and acknowledged nowhere, a third
// standby, following across the takeover marker, ends with b's state, and so does a once abandoned and opened
// again as a standby in its own data directory.
func TestRegionFailoverOnJetStream(t *testing.T) {
	c := clustertest.Start(t, 3)
	cctx := clustertest.Context(t)
	clock := newFakeClock()
	store, err := ckptstore.Open(cctx, c.Connect(), ckptstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	region := store.Region("east")
	leases := func(node string) *lease.Leases {
		l, err := lease.Open(cctx, c.Connect(), lease.Config{Node: node, TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	la, lb := leases("a"), leases("b")
	ha, err := la.Acquire(cctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	ja, err := jsjournal.Open(cctx, c.Connect(), jsjournal.Config{Region: "east", Owner: "a", Epoch: ha.Epoch()})
	if err != nil {
		t.Fatal(err)
	}
	a := start(t, t.TempDir(), clock, func(cfg *Config) { cfg.Journal, cfg.Checkpoints = ja, region })
	key := a.city()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	ckpt(t, a.d)
	seq1 := latestSeq(t, region)
	if seq1 == 0 {
		t.Fatal("a's first checkpoint is not in the store")
	}

	// b starts from the checkpoint: the stream before it is purged, and b reads only what follows.
	b := start(t, t.TempDir(), clock, func(cfg *Config) { cfg.Standby, cfg.Checkpoints = true, region })
	if b.d.Position() != seq1 {
		t.Fatalf("b opened at %d, want the checkpoint's %d", b.d.Position(), seq1)
	}
	if floor, err := ja.Floor(); err != nil || floor != 0 {
		t.Fatalf("the stream's floor %d (%v) after the first checkpoint, want 0: it is purged up to the one before", floor, err)
	}
	fb := followStream(t, c, b.d, "east")
	ids := a.fullLifecycle(key)
	acked := map[string]bool{}
	for _, id := range ids {
		acked[id] = true
	}
	for i := range 5 {
		o, err := a.d.PlaceOrder(ctx, shop, fmt.Sprintf("more-%d", i), []byte{byte(i)}, orderIn("s1", 31.238+0.001*float64(i), 121.481))
		if err != nil {
			t.Fatal(err)
		}
		acked[o.ID] = true
	}
	caughtUp(t, b.d, a.d.Position())
	if first := fb.firstSeq(); first <= seq1 {
		t.Fatalf("b's first followed record %d, want one after the checkpoint %d", first, seq1)
	}
	if got, want := stateOf(t, b.d), stateOf(t, a.d); got != want {
		t.Fatalf("b's state differs from a's:\n%s", firstDiff(want, got))
	}
	// A second checkpoint, after b caught up; a third node starts from it.
	ckpt(t, a.d)
	seq2 := latestSeq(t, region)
	if seq2 <= seq1 {
		t.Fatalf("second checkpoint at %d, first at %d", seq2, seq1)
	}
	if floor, err := ja.Floor(); err != nil || floor != seq1 {
		t.Fatalf("the stream's floor %d (%v) after the second checkpoint, want the first's %d", floor, err, seq1)
	}
	cn := start(t, t.TempDir(), clock, func(cfg *Config) { cfg.Standby, cfg.Checkpoints = true, region })
	if cn.d.Position() != seq2 {
		t.Fatalf("c opened at %d, want %d", cn.d.Position(), seq2)
	}
	followStream(t, c, cn.d, "east")
	last, err := a.d.PlaceOrder(ctx, shop, "last", []byte("last"), orderIn("s0", 31.236, 121.477))
	if err != nil {
		t.Fatal(err)
	}
	acked[last.ID] = true
	caughtUp(t, b.d, a.d.Position())
	aEvents := allEvents(t, a.d)
	aView := a.d.View()

	// a's lease goes (it stops renewing, as a node cut off from the bucket); a itself runs on.
	ha.Stop()
	var hb *lease.Lease
	for hb == nil {
		hb, err = lb.Acquire(cctx, "east")
		if err != nil && !errors.Is(err, lease.ErrHeld) {
			t.Fatal(err)
		}
		if cctx.Err() != nil {
			t.Fatal("b never took the lease")
		}
		if hb == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer hb.Stop()
	jb, err := jsjournal.Open(cctx, c.Connect(), jsjournal.Config{Region: "east", Owner: "b", Epoch: hb.Epoch()})
	if err != nil {
		t.Fatal(err)
	}
	fb.stop()
	if err := b.d.Promote(cctx, jb); err != nil {
		t.Fatal(err)
	}

	// a, fenced off, acknowledges nothing more.
	_, err = a.d.PlaceOrder(ctx, shop, "fenced", []byte("fenced"), orderIn("s0", 31.237, 121.479))
	if dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("an order on the fenced-off owner: %v, want %s", err, dispatch.EUnavailable)
	}
	if !errors.Is(ja.Err(), jsjournal.ErrFenced) {
		t.Fatalf("a's journal: %v, want ErrFenced", ja.Err())
	}
	if got := a.d.View().OrdersByStatus(); fmt.Sprint(got) != fmt.Sprint(aView.OrdersByStatus()) {
		t.Fatalf("a's view changed after it was fenced off: %v, was %v", got, aView.OrdersByStatus())
	}
	a.d.Abandon()
	<-a.done

	// Every order a acknowledged is on b, with the status a showed.
	for id := range acked {
		want, _ := aView.Order(id)
		got, ok := b.d.View().Order(id)
		if !ok || got.Status != want.Status {
			t.Fatalf("order %s on b: %v %v, a showed %s", id, ok, got, want.Status)
		}
	}
	if b.d.View().OrdersByStatus()["pending"] != aView.OrdersByStatus()["pending"] {
		t.Fatalf("b has %v, a had %v (the fenced-off order must not be there)", b.d.View().OrdersByStatus(), aView.OrdersByStatus())
	}
	again, err := b.d.PlaceOrder(ctx, shop, "last", []byte("last"), orderIn("s0", 31.236, 121.477))
	if err != nil || again.ID != last.ID {
		t.Fatalf("retry on b: %v %v, want %s", again, err, last.ID)
	}
	// Events resume on b after a's last id: same ids, same content, no gap.
	lastID := aEvents[len(aEvents)-1].ID
	if _, err := b.d.PlaceOrder(ctx, shop, "on-b", []byte("on-b"), orderIn("s1", 31.239, 121.482)); err != nil {
		t.Fatal(err)
	}
	eventsKept(t, aEvents, allEvents(t, b.d))
	resumed, _, err := b.d.Events(lastID, 100)
	if err != nil || len(resumed) == 0 || resumed[0].ID != lastID+1 {
		t.Fatalf("resuming after %d on b: %v %v", lastID, resumed, err)
	}
	for i, ev := range resumed {
		if ev.ID != lastID+1+uint64(i) {
			t.Fatalf("gap after %d: event %d is %d", lastID, i, ev.ID)
		}
	}
	// c, following across the takeover marker, holds b's state (its events start after its checkpoint); b
	// checkpoints to the store.
	caughtUp(t, cn.d, b.d.Position())
	if got, want := withoutEvents(t, stateOf(t, cn.d)), withoutEvents(t, stateOf(t, b.d)); got != want {
		t.Fatalf("c's state differs from b's:\n%s", firstDiff(want, got))
	}
	// a goes back to standby in its own data directory, from the latest checkpoint (older than its event log):
	// following b, it ends with b's state and the very same events.
	a2 := start(t, a.dir, clock, func(cfg *Config) { cfg.Standby, cfg.Checkpoints = true, region })
	followStream(t, c, a2.d, "east")
	caughtUp(t, a2.d, b.d.Position())
	if got, want := stateOf(t, a2.d), stateOf(t, b.d); got != want {
		t.Fatalf("a, standby again, differs from b:\n%s", firstDiff(want, got))
	}
	ckpt(t, b.d)
	seq3 := latestSeq(t, region)
	if seq3 <= seq2 {
		t.Fatalf("b's checkpoint %d, not after a's %d", seq3, seq2)
	}

	// c dies; b takes orders and checkpoints again. c, restarted in its own data directory, has an event log that
	// ends before the latest checkpoint's events: it opens from the one before (the stream still holds what
	// follows it) and makes the events in between again, so its log runs on without a gap.
	caughtUp(t, cn.d, b.d.Position())
	cFirst := allEvents(t, cn.d)[0].ID
	cn.crash()
	for i := range 3 {
		if _, err := b.d.PlaceOrder(ctx, shop, fmt.Sprintf("while-c-is-down-%d", i), []byte{byte(i)}, orderIn("s1", 31.238, 121.48+0.001*float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	ckpt(t, b.d)
	if seq4 := latestSeq(t, region); seq4 <= seq3 {
		t.Fatalf("b's second checkpoint %d, not after %d", seq4, seq3)
	}
	c2 := start(t, cn.dir, clock, func(cfg *Config) { cfg.Standby, cfg.Checkpoints = true, region })
	if c2.d.Position() != seq3 {
		t.Fatalf("c, restarted, opened at %d, want the checkpoint before the latest, %d", c2.d.Position(), seq3)
	}
	followStream(t, c, c2.d, "east")
	caughtUp(t, c2.d, b.d.Position())
	bEvents, cEvents := allEvents(t, b.d), allEvents(t, c2.d)
	for i, ev := range cEvents {
		if ev.ID != cFirst+uint64(i) {
			t.Fatalf("c's event log, restarted: event %d after %d", ev.ID, cEvents[i-1].ID)
		}
	}
	if got, want := cEvents[len(cEvents)-1].ID, bEvents[len(bEvents)-1].ID; got != want {
		t.Fatalf("c's event log ends at %d, b's at %d", got, want)
	}
	eventsKept(t, cEvents, bEvents)
}

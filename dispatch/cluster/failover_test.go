package cluster_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/lease"
)

// The pieces together, as the daemon will use them: node a owns a region (lease, then the journal in the lease's
// epoch) and is cut off from the lease bucket while its journal connection still works (a partial partition). a
// learns its lease is unsafe before b can take it; b takes it and opens the journal in its epoch; a write a still
// makes is fenced off, and b's replay holds exactly what a was told is durable.
func TestFailoverFencesTheOldOwner(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx := clustertest.Context(t)
	leaseConnA := c.Connect()
	la, err := lease.Open(ctx, leaseConnA, lease.Config{Node: "a", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := lease.Open(ctx, c.Connect(), lease.Config{Node: "b", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ha, err := la.Acquire(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Stop()
	ja, err := jsjournal.Open(ctx, c.Connect(), jsjournal.Config{Region: "east", Owner: "a", Epoch: ha.Epoch()})
	if err != nil {
		t.Fatal(err)
	}
	defer ja.Close()
	var durable []string
	for i := range 50 {
		rec := fmt.Sprintf("a %d", i)
		seq, err := ja.Append([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		if err := ja.Wait(ctx, seq); err != nil {
			t.Fatal(err)
		}
		durable = append(durable, rec)
	}

	leaseConnA.Close()
	select {
	case <-ha.Lost():
	case <-ctx.Done():
		t.Fatal("a never learned its lease was unsafe")
	}
	var hb *lease.Lease
	var takenAt time.Time
	for hb == nil {
		takenAt = time.Now()
		hb, err = lb.Acquire(ctx, "east")
		if err != nil && !errors.Is(err, lease.ErrHeld) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("b never took the lease")
		}
		if hb == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer hb.Stop()
	if !ha.ValidUntil().Before(takenAt) {
		t.Fatalf("a's lease was valid until %v, after b took it at %v", ha.ValidUntil(), takenAt)
	}
	jb, err := jsjournal.Open(ctx, c.Connect(), jsjournal.Config{Region: "east", Owner: "b", Epoch: hb.Epoch()})
	if err != nil {
		t.Fatal(err)
	}
	defer jb.Close()

	// a ignores its lost lease and writes on: the stream refuses it.
	seq, err := ja.Append([]byte("a after the takeover"))
	if err == nil {
		err = ja.Wait(ctx, seq)
	}
	if !errors.Is(err, jsjournal.ErrFenced) {
		t.Fatalf("a's write after the takeover: %v, want ErrFenced", err)
	}
	var replayed []string
	if err := jb.Replay(0, func(_ uint64, rec []byte) error {
		replayed = append(replayed, string(rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(replayed) != fmt.Sprint(durable) {
		t.Fatalf("b's replay %v, want what a was told is durable %v", replayed, durable)
	}
}

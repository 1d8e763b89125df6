package jsjournal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
)

// A follower started on a region sees every record in order as the writer appends, across a takeover (whose
// marker it notes and does not pass on), and reports its position; it stops when its context ends.
func TestFollowerSeesEveryRecordInOrder(t *testing.T) {
	c := clustertest.Start(t, 3)
	w1 := open(t, c.Connect(), "harbour", "n1", 1)
	f, err := NewFollower(ctxT(t), c.Connect(), "harbour", 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []entry
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(seq uint64, rec []byte) error {
			mu.Lock()
			got = append(got, entry{seq, string(rec)})
			mu.Unlock()
			return nil
		})
	}()
	var want []entry
	for i := range 300 {
		seq, err := w1.Append(rec(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{seq, string(rec(i))})
	}
	waitPos := func(pos uint64) {
		t.Helper()
		deadline := time.Now().Add(testTimeout)
		for f.Position() < pos {
			if time.Now().After(deadline) {
				t.Fatalf("the follower is at %d, never reached %d", f.Position(), pos)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPos(w1.LastSeq())
	if o := f.Owner(); o.Owner != "n1" || o.Epoch != 1 {
		t.Fatalf("owner %+v, want n1 in epoch 1", o)
	}
	w2 := open(t, c.Connect(), "harbour", "n2", 2)
	for i := 300; i < 400; i++ {
		seq, err := w2.Append(rec(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{seq, string(rec(i))})
	}
	waitPos(w2.LastSeq())
	if o := f.Owner(); o.Owner != "n2" || o.Epoch != 2 {
		t.Fatalf("owner after the takeover %+v, want n2 in epoch 2", o)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the follower saw %d records, want %d (or not in order)", len(got), len(want))
	}
}

// A follower behind records the writer already purged stops with a *GapError (it must load a newer checkpoint).
func TestFollowerBehindAPurgeStops(t *testing.T) {
	c := clustertest.Start(t, 3)
	w := open(t, c.Connect(), "quay", "n1", 1)
	for i := range 20 {
		w.Append(rec(i))
	}
	if err := w.Wait(ctxT(t), w.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if err := w.Truncate(10); err != nil {
		t.Fatal(err)
	}
	f, err := NewFollower(ctxT(t), c.Connect(), "quay", 5)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Run(ctxT(t), func(uint64, []byte) error { return nil })
	var gap *GapError
	if !errors.As(err, &gap) || gap.After != 5 || gap.Next != 11 {
		t.Fatalf("Run behind a purge: %v, want a gap after 5 up to 11", err)
	}
	// From the checkpoint's position it follows.
	f2, err := NewFollower(ctxT(t), c.Connect(), "quay", 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	n := 0
	err = f2.Run(ctx, func(seq uint64, _ []byte) error {
		if n++; seq == w.LastSeq() {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != int(w.LastSeq()-10) {
		t.Fatalf("Run from 10: %v after %d records, want %d", err, n, w.LastSeq()-10)
	}
}

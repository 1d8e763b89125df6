package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
)

const testTimeout = clustertest.Timeout

var ctxT = clustertest.Context

// ttl is short so that takeovers happen within a test; nothing asserts how long they take.
const ttl = 2 * time.Second

func openL(t *testing.T, nc *nats.Conn, node string, mod func(*Config)) *Leases {
	t.Helper()
	cfg := Config{Node: node, TTL: ttl}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Open(ctxT(t), nc, cfg)
	if err != nil {
		t.Fatalf("open leases as %s: %v", node, err)
	}
	return l
}

func acquire(t *testing.T, l *Leases, region string) *Lease {
	t.Helper()
	h, err := l.Acquire(ctxT(t), region)
	if err != nil {
		t.Fatalf("acquire %s: %v", region, err)
	}
	t.Cleanup(h.Stop)
	return h
}

// acquireEventually tries until the lease is free (its holder stopped renewing), failing after testTimeout.
func acquireEventually(t *testing.T, l *Leases, region string) (*Lease, time.Time) {
	t.Helper()
	ctx := ctxT(t)
	for {
		at := time.Now()
		h, err := l.Acquire(ctx, region)
		if err == nil {
			t.Cleanup(h.Stop)
			return h, at
		}
		if !errors.Is(err, ErrHeld) {
			t.Fatalf("acquire %s: %v", region, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s was never free: %v", region, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Node"},
		{Config{Node: "n", TTL: 500 * time.Millisecond}, "TTL"},
		{Config{Node: "n", TTL: time.Second, Margin: time.Second}, "Margin"},
		{Config{Node: "n", TTL: 4 * time.Second, Renew: 4 * time.Second}, "Renew"},
		{Config{Node: "n", Replicas: 9}, "Replicas"},
	} {
		_, err := Open(context.Background(), nil, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}

// A held lease refuses others, names its holder, and is renewed (compare-and-set on its revision) with its epoch
// kept.
func TestHeldLeaseRefusesOthersAndIsRenewed(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := openL(t, c.Connect(), "a", nil)
	b := openL(t, c.Connect(), "b", nil)
	h := acquire(t, a, "r1")
	_, err := b.Acquire(ctxT(t), "r1")
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) || held.Holder.Owner != "a" || held.Holder.Epoch != h.Epoch() {
		t.Fatalf("second acquire: %v, want held by a in epoch %d", err, h.Epoch())
	}
	first := h.Revision()
	ctx := ctxT(t)
	for h.Revision() == first {
		select {
		case <-ctx.Done():
			t.Fatal("the lease was never renewed")
		case <-h.Lost():
			t.Fatalf("lost while renewing: %v", h.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	info, err := b.Get(ctx, "r1")
	if err != nil || info.Owner != "a" || info.Epoch != h.Epoch() || info.Revision < h.Revision()-1 {
		t.Fatalf("Get after a renewal: %+v, %v (lease epoch %d revision %d)", info, err, h.Epoch(), h.Revision())
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 1 || list[0].Region != "r1" {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if _, err := b.Get(ctx, "nobody"); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Get of a free region: %v", err)
	}
}

// A holder that stops renewing loses the lease at once in its own eyes, and another node takes it once it ran
// out, in a higher epoch.
func TestTakeoverAfterTheHolderStopsRenewing(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := openL(t, c.Connect(), "a", nil)
	b := openL(t, c.Connect(), "b", nil)
	ha := acquire(t, a, "r1")
	ha.Stop()
	select {
	case <-ha.Lost():
	default:
		t.Fatal("a stopped lease is not lost")
	}
	if !errors.Is(ha.Err(), ErrReleased) {
		t.Fatalf("Err after Stop: %v", ha.Err())
	}
	hb, _ := acquireEventually(t, b, "r1")
	if hb.Epoch() <= ha.Epoch() {
		t.Fatalf("the taker's epoch %d is not above the old holder's %d", hb.Epoch(), ha.Epoch())
	}

	// A key still on the servers is taken once the taker's clock passed the expiry its holder wrote (a taker
	// whose clock is a lease ahead: at once), by a compare-and-set; with its clock before that it is refused.
	ha2 := acquire(t, a, "r2")
	ha2.Stop()
	behind := openL(t, c.Connect(), "b", func(cfg *Config) { cfg.Now = func() time.Time { return time.Now().Add(-time.Hour) } })
	if _, err := behind.Acquire(ctxT(t), "r2"); !errors.Is(err, ErrHeld) {
		t.Fatalf("a lease taken before its holder's expiry: %v", err)
	}
	ahead := openL(t, c.Connect(), "b", func(cfg *Config) { cfg.Now = func() time.Time { return time.Now().Add(ttl) } })
	hb2 := acquire(t, ahead, "r2")
	if hb2.Epoch() <= ha2.Epoch() {
		t.Fatalf("the expired lease's taker has epoch %d, not above the old holder's %d", hb2.Epoch(), ha2.Epoch())
	}
	awaitHolder(t, ahead, "r2", "b", hb2)
	awaitHolder(t, a, "r1", "b", hb)
}

// awaitHolder waits until l's Get of region says owner holds it with h's epoch. A Get may read a replica of the
// bucket that has not applied the last write yet (even the writer's own): it sees the taker soon, not necessarily
// at once.
func awaitHolder(t *testing.T, l *Leases, region, owner string, h *Lease) {
	t.Helper()
	ctx := ctxT(t)
	for {
		info, err := l.Get(ctx, region)
		if err == nil && info.Owner == owner && info.Epoch == h.Epoch() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Get of %s after the takeover: %+v, %v; want %s at epoch %d", region, info, err, owner, h.Epoch())
		case <-h.Lost():
			t.Fatalf("the taker lost the lease of %s: %v", region, h.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Release frees the region at once.
func TestReleaseFreesTheRegion(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := openL(t, c.Connect(), "a", nil)
	b := openL(t, c.Connect(), "b", nil)
	ha := acquire(t, a, "r1")
	if err := ha.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	hb := acquire(t, b, "r1")
	if hb.Epoch() <= ha.Epoch() {
		t.Fatalf("epoch %d after release, want above %d", hb.Epoch(), ha.Epoch())
	}
}

// Two nodes contending for the same free regions at the same moment: exactly one holds each.
func TestTwoContendersExactlyOneHolds(t *testing.T) {
	c := clustertest.Start(t, 3)
	nodes := []*Leases{openL(t, c.Connect(), "a", nil), openL(t, c.Connect(), "b", nil)}
	ctx := ctxT(t)
	for r := range 10 {
		region := fmt.Sprintf("r%d", r)
		var wg sync.WaitGroup
		got := make([]*Lease, len(nodes))
		errs := make([]error, len(nodes))
		start := make(chan struct{})
		for i, l := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = l.Acquire(ctx, region)
			}()
		}
		close(start)
		wg.Wait()
		holders := 0
		for i := range nodes {
			if errs[i] == nil {
				holders++
				t.Cleanup(got[i].Stop)
			} else if !errors.Is(errs[i], ErrHeld) {
				t.Fatalf("%s: %v", region, errs[i])
			}
		}
		if holders != 1 {
			t.Fatalf("%s: %d holders (%v)", region, holders, errs)
		}
	}
}

// A holder cut off from NATS (its connection closed) learns that its lease is unsafe, and does so before anyone
// else can hold it: its ValidUntil is before the moment another node's Acquire succeeded.
func TestAHolderCutOffLearnsItsLeaseIsUnsafe(t *testing.T) {
	c := clustertest.Start(t, 3)
	ncA := c.Connect()
	a := openL(t, ncA, "a", nil)
	b := openL(t, c.Connect(), "b", nil)
	ha := acquire(t, a, "r1")
	ncA.Close()
	select {
	case <-ha.Lost():
	case <-time.After(testTimeout):
		t.Fatal("a holder cut off never learned its lease was unsafe")
	}
	if !errors.Is(ha.Err(), ErrExpired) {
		t.Fatalf("Err: %v, want ErrExpired", ha.Err())
	}
	_, takenAt := acquireEventually(t, b, "r1")
	if !ha.ValidUntil().Before(takenAt) {
		t.Fatalf("the old holder's lease was valid until %v, after the takeover at %v", ha.ValidUntil(), takenAt)
	}
}

// fakeClock is a clock the test moves: After's channels fire when Advance passes their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, fakeWaiter{f.now.Add(d), ch})
	return ch
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			keep = append(keep, w)
		}
	}
	f.waiters = keep
}

func (f *fakeClock) waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// With renewals failing, the holder counts its lease's validity by its own clock: Lost stays open while the clock
// is before ValidUntil and closes once it passes, whatever the servers do meanwhile.
func TestLostFollowsTheHoldersClock(t *testing.T) {
	c := clustertest.Start(t, 3)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	nc := c.Connect()
	// A TTL far longer than the test: the servers never expire the key on their own clocks meanwhile.
	l := openL(t, nc, "a", func(cfg *Config) {
		cfg.Bucket, cfg.TTL, cfg.Now, cfg.After = "fake-clock-leases", time.Hour, clock.Now, clock.After
	})
	h := acquire(t, l, "r1")
	want := clock.Now().Add(time.Hour - time.Hour/5)
	if !h.ValidUntil().Equal(want) {
		t.Fatalf("ValidUntil %v, want %v (sent + TTL - Margin)", h.ValidUntil(), want)
	}
	nc.Close() // every renewal fails from now on
	waitWaiting := func() {
		t.Helper()
		deadline := time.Now().Add(testTimeout)
		for clock.waiting() == 0 {
			select {
			case <-h.Lost():
				t.Fatalf("lost at %v, before ValidUntil %v: %v", clock.Now(), h.ValidUntil(), h.Err())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("the renewer never waited on the clock")
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Step the clock up to just before ValidUntil: each step lets the renewer try (and fail) once.
	for clock.Now().Add(time.Hour / 4).Before(want) {
		waitWaiting()
		clock.Advance(time.Hour / 4)
	}
	waitWaiting()
	clock.Advance(want.Sub(clock.Now()) - time.Millisecond)
	waitWaiting()
	if h.Err() != nil {
		t.Fatalf("lost before ValidUntil: %v", h.Err())
	}
	clock.Advance(time.Millisecond)
	select {
	case <-h.Lost():
	case <-time.After(testTimeout):
		t.Fatal("not lost once the clock passed ValidUntil")
	}
	if !errors.Is(h.Err(), ErrExpired) {
		t.Fatalf("Err: %v", h.Err())
	}
}

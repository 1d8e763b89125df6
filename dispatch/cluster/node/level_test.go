package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
)

// gatedReplica is a stand-in replica whose following can be held: while held, it applies nothing (a standby
// behind its owner).
type gatedReplica struct {
	*fakeReplica
	mu   sync.Mutex
	gate chan struct{} // nil: not held
}

func (g *gatedReplica) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedReplica) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedReplica) Follow(ctx context.Context, seq uint64, rec []byte) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.fakeReplica.Follow(ctx, seq, rec)
}

// On the embedded cluster: a standby that is caught up but has not applied what its owner wrote since is not
// level (a key made a moment ago through the owner is not known here yet), and is again once it applied it; the
// owner always is.
func TestLevelIsNotCaughtUp(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := &acks{}
	nb := startNode(t, c, "b", a)
	waitShares(t, "b takes every region", func(c map[string]int) bool { return c["b"] == len(testRegions) }, nb)
	var mu sync.Mutex
	gated := map[string]*gatedReplica{}
	na := startNodeWith(t, Config{ID: "a", URL: "http://a.invalid", Conn: c.Connect(), Regions: testRegions, LeaseTTL: testTTL,
		Open: func(_ context.Context, region string) (Replica, error) {
			g := &gatedReplica{fakeReplica: newFake("a", region, a)}
			mu.Lock()
			gated[region] = g
			mu.Unlock()
			return g, nil
		}})
	// a joins: it takes a share of the regions once ready; one of b's stays a standby on a.
	waitShares(t, "a and b share the regions", func(c map[string]int) bool { return c["a"] == 2 && c["b"] == 2 }, na, nb)
	var standby string
	for _, r := range testRegions {
		if _, owned := na.n.Local(r); !owned {
			standby = r
			break
		}
	}
	ctx := clustertest.Context(t)
	if ok, err := nb.n.Level(ctx, standby); err != nil || !ok {
		t.Errorf("the owner of %s: level %v (%v), want level", standby, ok, err)
	}
	eventually := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := na.n.Level(ctx, standby)
			if err == nil && ok == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: a's standby of %s level %v (%v), want %v", what, standby, ok, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eventually("following", true)

	mu.Lock()
	g := gated[standby]
	mu.Unlock()
	g.hold()
	t.Cleanup(g.release)
	// The owner writes every 30 ms: the held standby falls behind, while it stays caught up.
	eventually("held", false)
	if !na.n.CaughtUp(standby) {
		t.Errorf("a's standby of %s, held: not caught up; want caught up (it read its stream to where it ended when it began)", standby)
	}
	g.release()
	eventually("released", true)
}

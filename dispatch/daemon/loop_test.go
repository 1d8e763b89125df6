package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The loop measures its steps on its own clock: the longest step of a window and the share of the window spent
// working are published when the window closes.
func TestLoopReportsItsLongestStepAndBusyRatio(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	stepOf := func(d time.Duration) {
		t.Helper()
		err := h.d.submit(ctx, request{fn: func(time.Time) (uint64, error) {
			clock.Advance(d)
			return 0, nil
		}, reply: make(chan reply, 1)})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two steps of 2 s and 4 s: the window (5 s) closes with the second, which was the longest, and the loop
	// worked all of it.
	stepOf(2 * time.Second)
	if got := h.d.LongestStep(); got != 0 {
		t.Fatalf("longest step %v before the first window closed, want 0", got)
	}
	stepOf(4 * time.Second)
	// The step is accounted after its reply: wait for the loop to get there.
	deadline := time.Now().Add(10 * time.Second)
	for h.d.LongestStep() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := h.d.LongestStep(); got != 4*time.Second {
		t.Errorf("longest step %v, want 4s", got)
	}
	if got := h.d.BusyRatio(); got != 1 {
		t.Errorf("busy ratio %v, want 1 (the loop worked the whole window)", got)
	}
	// A quiet window after it: 1 s of work in 10 s, the longest step that 1 s.
	clock.Advance(9 * time.Second)
	stepOf(time.Second)
	for h.d.LongestStep() == 4*time.Second && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := h.d.LongestStep(); got != time.Second {
		t.Errorf("longest step of the quiet window %v, want 1s", got)
	}
	if got := h.d.BusyRatio(); got != 0.1 {
		t.Errorf("busy ratio of the quiet window %v, want 0.1", got)
	}
}

// A round's decision is applied a piece at a time, each piece journaled as a decision record of its own, and a
// replay of those records reaches the state the live daemon showed.
func TestRoundDecisionAppliedInPieces(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	noBundles := func(c *Config) { c.Engine.MaxBundleOrders = 1 }
	h := start(t, dir, clock, noBundles)
	h.d.do(ctx, func(time.Time) (any, uint64, error) { h.d.pieceSize = 1; return nil, 0, nil })
	shop := service.Principal{Role: service.RoleOrders, ID: h.city()}
	var ids []string
	for i, s := range []string{"s0", "s1"} {
		o, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn(s, 31.235+0.01*float64(i), 121.478+0.01*float64(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	clock.Advance(time.Second)
	close(h.holdRound())
	h.waitRound()
	couriers := map[string]bool{}
	for _, id := range ids {
		o, _ := h.d.View().Order(id)
		if o.Status != "assigned" {
			t.Fatalf("order %s is %s after the round, want assigned", id, o.Status)
		}
		couriers[o.CourierID] = true
	}
	if len(couriers) != 2 {
		t.Fatalf("the orders went to %v: want one each, two route parts", couriers)
	}
	want := stateOf(t, h.d)
	h.crash()

	var parts []int
	for _, rec := range decodedRecords(t, dir) {
		if rec.Type == recDecision {
			parts = append(parts, len(rec.Decision.Routes))
		}
	}
	if !slices.Equal(parts, []int{1, 1}) {
		t.Fatalf("decision records with %v route parts, want two pieces of one", parts)
	}
	h2 := start(t, dir, clock, noBundles)
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("the replay of a decision in pieces reaches another state:\n%s", firstDiff(want, got))
	}
}

// A burst of requests queued while the loop was held is taken in batches of at most stepBudget of the loop's
// clock, each published on its own, not in one long step.
func TestABurstIsTakenInShortSteps(t *testing.T) {
	clock := newFakeClock()
	h := start(t, t.TempDir(), clock, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- h.d.submit(ctx, request{fn: func(time.Time) (uint64, error) {
			close(entered)
			<-release
			return 0, nil
		}, reply: make(chan reply, 1)})
	}()
	<-entered
	const burst = 10
	errs := make(chan error, burst)
	for range burst {
		go func() {
			errs <- h.d.submit(ctx, request{fn: func(time.Time) (uint64, error) {
				clock.Advance(stepBudget / 2)
				return 0, nil
			}, reply: make(chan reply, 1)})
		}()
	}
	for len(h.d.queue) < burst {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range burst {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// Close the window with an empty step after it has run its length.
	clock.Advance(loopWindow)
	if err := h.d.submit(ctx, request{fn: func(time.Time) (uint64, error) { return 0, nil }, reply: make(chan reply, 1)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.d.LongestStep() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := h.d.LongestStep(); got != stepBudget {
		t.Errorf("longest step %v for a burst of %d requests of %v each, want %v: batches cut at the budget", got, burst, stepBudget/2, stepBudget)
	}
}

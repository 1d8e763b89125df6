package daemon

import (
	"testing"
	"time"
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

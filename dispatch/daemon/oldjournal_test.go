package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestJournalWithTickRecordsStillOpens: journals written before rounds were decisions hold "tick" records, which
// a replay runs as rounds. A journal with one (journaled as the daemon used to, applied live by running the round)
// replays to the state the live daemon showed, and the daemon goes on with decisions after it.
func TestJournalWithTickRecordsStillOpens(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	shop := Principal{Role: RoleOrders, ID: h.city()}
	_, body, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.235, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := h.d.do(ctx, func(now time.Time) (any, uint64, error) {
		return h.d.record(&record{Type: recTick, At: now})
	}); err != nil {
		t.Fatal(err)
	}
	if n := h.d.View().OrdersByStatus["assigned"]; n != 1 {
		t.Fatalf("%d orders assigned by the tick, want 1 (%s)", n, body)
	}
	want := stateOf(t, h.d)
	h.crash()
	var ticks int
	segs, _ := filepath.Glob(filepath.Join(dir, "journal", "*"))
	for _, s := range segs {
		b, _ := os.ReadFile(s)
		ticks += bytes.Count(b, []byte(`{"t":"tick"`))
	}
	if ticks != 1 {
		t.Fatalf("%d tick records in the journal, want 1", ticks)
	}

	h2 := start(t, dir, clock, nil)
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("a journal with a tick record replays to another state:\n%s", firstDiff(want, got))
	}
	// And on from there with decisions.
	if _, _, err := h2.d.PlaceOrder(ctx, shop, "", nil, orderIn("s1", 31.245, 121.488)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := h2.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	want = stateOf(t, h2.d)
	h2.crash()
	h3 := start(t, dir, clock, nil)
	if got := stateOf(t, h3.d); got != want {
		t.Fatalf("a journal of ticks then decisions replays to another state:\n%s", firstDiff(want, got))
	}
}

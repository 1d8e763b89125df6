package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// TestJournalWithTickRecordsStillOpens: journals written before rounds were decisions hold "tick" records, which
// a replay runs as rounds. A journal with one (journaled as the daemon used to, applied live by running the round)
// replays to the state the live daemon showed, and the daemon goes on with decisions after it.
func TestJournalWithTickRecordsStillOpens(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	shop := service.Principal{Role: service.RoleOrders, ID: h.city()}
	body, err := orderJSON(h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.235, 121.478)))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := h.d.do(ctx, func(now time.Time) (any, uint64, error) {
		return h.d.record(&record{Type: recTick, At: now})
	}); err != nil {
		t.Fatal(err)
	}
	if n := h.d.View().OrdersByStatus()["assigned"]; n != 1 {
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
	if _, err := h2.d.PlaceOrder(ctx, shop, "", nil, orderIn("s1", 31.245, 121.488)); err != nil {
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

// TestDecisionJournaledAsApplied: an order cancelled while a round plans is in the round's decision, but not in
// the record the loop journals; the order stays cancelled, the record holds what was applied of the rest, and a
// replay of the journal reaches the state the live daemon showed. (No bundles: each order is a part of its own.)
func TestDecisionJournaledAsApplied(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	noBundles := func(c *Config) { c.Engine.MaxBundleOrders = 1 }
	h := start(t, dir, clock, noBundles)
	shop := service.Principal{Role: service.RoleOrders, ID: h.city()}
	var ids []string
	for i, s := range []string{"s0", "s1"} {
		body, err := orderJSON(h.d.PlaceOrder(ctx, shop, "", nil, orderIn(s, 31.235+0.01*float64(i), 121.478+0.01*float64(i))))
		if err != nil {
			t.Fatal(err)
		}
		var o service.Order
		if err := json.Unmarshal(body, &o); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	clock.Advance(time.Second)
	release := h.holdRound()
	if _, err := h.d.CancelOrder(ctx, ids[0], "customer"); err != nil {
		t.Fatalf("a cancellation while a round plans: %v", err)
	}
	close(release)
	h.waitRound()
	if o, _ := h.d.View().Order(ids[0]); o.Status != "cancelled" {
		t.Fatalf("the cancelled order is %s after the round, want cancelled", o.Status)
	}
	other, _ := h.d.View().Order(ids[1])
	want := stateOf(t, h.d)
	h.crash()

	var decisions []decisionRecord
	for _, b := range journalRecords(t, filepath.Join(dir, "journal")) {
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == recTick {
			t.Fatal("the daemon journaled a tick")
		}
		if rec.Type == recDecision {
			decisions = append(decisions, *rec.Decision)
		}
	}
	if len(decisions) != 1 {
		t.Fatalf("%d decision records, want 1", len(decisions))
	}
	moved := map[string]bool{}
	for _, m := range decisions[0].Moves {
		moved[m.Order] = true
	}
	if moved[ids[0]] {
		t.Fatalf("the journaled decision moves the cancelled order %s: %v", ids[0], moved)
	}
	if moved[ids[1]] != (other.Status == "assigned") {
		t.Fatalf("the journaled decision moves %v, but the other order is %s", moved, other.Status)
	}
	h2 := start(t, dir, clock, noBundles)
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("the replay of a decision journaled as applied reaches another state:\n%s", firstDiff(want, got))
	}
}

// testdata/main-v2 is a data directory written by the daemon before journal records had types of their own (they
// held the API's store and webhook views and locations): a checkpoint of version 2, then a journal of store_put,
// webhook_put, shift (with a position), order_place and decision records after it, and its event log, as a crash
// left them. The daemon starts on it with the state that version showed (testdata/main-v2.state: stateOf and the
// webhooks), and again after its own checkpoint.
func TestDataDirOfRecordsWithViewsIsRead(t *testing.T) {
	dir, want, clock := dataDirFixture(t, "main-v2")
	for _, start := range []string{"replaying the old records", "from its own checkpoint"} {
		h := startAt(t, dir, clock)
		webhooks, _ := json.MarshalIndent(h.d.view.Load().Webhooks(), "", " ")
		if got := canonicalState(t, stateOf(t, h.d)+"\n"+string(webhooks), nil); got != want {
			t.Fatalf("state %s differs from the one the old version showed:\n%s", start, firstDiff(want, got))
		}
		h.close()
	}
}

// startAt starts a daemon on dir with the configuration the fixtures were written with.
func startAt(t *testing.T, dir string, clock *fakeClock) *harness {
	t.Helper()
	return start(t, dir, clock, func(c *Config) {
		c.CheckpointRecords = 1 << 30
		c.CheckpointInterval = 24 * time.Hour
		c.EventSegmentBytes = 1 << 16
	})
}

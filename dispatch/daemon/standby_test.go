package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// memCheckpoints is a CheckpointStore in memory, for one region.
type memCheckpoints struct {
	region string
	mu     sync.Mutex
	ckpts  map[uint64][]byte
	puts   []uint64
}

func newMemCheckpoints(region string) *memCheckpoints {
	return &memCheckpoints{region: region, ckpts: map[uint64][]byte{}}
}

func (m *memCheckpoints) Region() string { return m.region }

func (m *memCheckpoints) Put(_ context.Context, seq uint64, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ckpts[seq] = b
	m.puts = append(m.puts, seq)
	return nil
}

func (m *memCheckpoints) Latest(context.Context) (uint64, io.ReadCloser, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ckpts) == 0 {
		return 0, nil, false, nil
	}
	seq := slices.Max(slices.Collect(func(yield func(uint64) bool) {
		for k := range m.ckpts {
			if !yield(k) {
				return
			}
		}
	}))
	return seq, io.NopCloser(bytes.NewReader(m.ckpts[seq])), true, nil
}

func (m *memCheckpoints) lastPut() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.puts) == 0 {
		return 0
	}
	return m.puts[len(m.puts)-1]
}

// teeLog is a journal the test hands in (Config.Journal) that keeps a copy of every record appended, for a standby
// to follow.
type teeLog struct {
	journal.Log
	mu   sync.Mutex
	recs map[uint64][]byte
}

func (l *teeLog) Append(rec []byte) (uint64, error) {
	seq, err := l.Log.Append(rec)
	if err == nil {
		l.mu.Lock()
		l.recs[seq] = slices.Clone(rec)
		l.mu.Unlock()
	}
	return seq, err
}

// durable returns the records appended and durable after after, in order.
func (l *teeLog) durable(after uint64) (seqs []uint64, recs [][]byte) {
	d := l.Durable()
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := after + 1; s <= d; s++ {
		if r, ok := l.recs[s]; ok {
			seqs, recs = append(seqs, s), append(recs, r)
		}
	}
	return seqs, recs
}

func openLocal(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// eventsKept requires every event the old owner published to be among the new owner's, with the same id and
// content.
func eventsKept(t *testing.T, old, now []service.OrderEvent) {
	t.Helper()
	byID := map[uint64]service.OrderEvent{}
	for _, ev := range now {
		byID[ev.ID] = ev
	}
	for _, ev := range old {
		a, _ := json.Marshal(ev)
		b, _ := json.Marshal(byID[ev.ID])
		if !bytes.Equal(a, b) {
			t.Fatalf("event %d differs on the new owner:\n%s\n%s", ev.ID, a, b)
		}
	}
}

// ckpt writes a checkpoint now and waits for it.
func ckpt(t *testing.T, d *Daemon) {
	t.Helper()
	if _, err := d.do(ctx, func(time.Time) (any, uint64, error) { return nil, 0, d.checkpoint(true) }); err != nil {
		t.Fatal(err)
	}
}

// follow hands the standby every durable record of tee after its position.
func follow(t *testing.T, sb *Daemon, tee *teeLog) {
	t.Helper()
	seqs, recs := tee.durable(sb.Position())
	for i, s := range seqs {
		if err := sb.Follow(ctx, s, recs[i]); err != nil {
			t.Fatalf("follow %d: %v", s, err)
		}
	}
}

// A journal and a checkpoint store handed in replace the data directory's: the owner writes its records to the
// one and its checkpoints to the other (none in DataDir), truncates the journal after each Put, and a restart
// from them recovers the same state.
func TestHandedInJournalAndCheckpoints(t *testing.T) {
	dir, jdir, clock := t.TempDir(), t.TempDir(), newFakeClock()
	store := newMemCheckpoints("east")
	mutate := func(j journal.Log) func(*Config) {
		return func(c *Config) { c.Journal, c.Checkpoints = j, store }
	}
	j := openLocal(t, jdir)
	h := start(t, dir, clock, mutate(j))
	key := h.city()
	ckpt(t, h.d)
	ids := h.fullLifecycle(key)
	if store.lastPut() == 0 {
		t.Fatal("no checkpoint reached the store")
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a checkpoint file in DataDir beside a checkpoint store: %v", err)
	}
	if floor, _ := j.Floor(); floor != store.lastPut() {
		t.Fatalf("journal truncated up to %d, want the last checkpoint put %d", floor, store.lastPut())
	}
	want := stateOf(t, h.d)
	h.crash()

	h2 := start(t, dir, clock, mutate(openLocal(t, jdir)))
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after recovery from the store and the journal differs:\n%s", firstDiff(want, got))
	}
	if h2.d.replayed == 0 {
		t.Fatal("nothing replayed: the test wants records after the checkpoint")
	}
	h2.retryLifecycleOrder(key, ids)
	h2.close()
	// The graceful stop put its final checkpoint into the store; the data directory alone cannot start (its
	// journal was truncated under a checkpoint it does not have).
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Journal = dir, openLocal(t, jdir)
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open without the store: %v, want a refusal naming the missing checkpoint", err)
	}
}

// A standby takes no command: each fails with EUnavailable naming the region, positions too; it writes nothing.
func TestStandbyRefusesCommands(t *testing.T) {
	clock := newFakeClock()
	store := newMemCheckpoints("east")
	sb := start(t, t.TempDir(), clock, func(c *Config) { c.Standby, c.Checkpoints = true, store })
	if !sb.d.Standby() {
		t.Fatal("not a standby")
	}
	_, _, err := sb.d.PutStore(ctx, service.StoreInput{ID: "s0", Location: service.Location{Lat: 31.23, Lon: 121.47}, PrepSeconds: 300})
	e := wantCode(t, err, dispatch.EUnavailable, "")
	if e.Message != "region east is owned by another node" {
		t.Fatalf("refusal %q", e.Message)
	}
	if _, err := sb.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: "k"}, "", nil, orderIn("s0", 31.25, 121.49)); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("place order on a standby: %v", err)
	}
	if err := sb.d.QueueLocation("c0", service.Location{Lat: 31.23, Lon: 121.47}, time.Time{}); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("position on a standby: %v", err)
	}
	if err := sb.d.DispatchNow(ctx); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("round on a standby: %v", err)
	}
	if sb.d.Position() != 0 || sb.d.View().OrdersByStatus()["pending"] != 0 {
		t.Fatalf("a standby changed: position %d", sb.d.Position())
	}
	// Open refuses what a standby cannot be.
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Standby = t.TempDir(), true
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "Checkpoints") {
		t.Fatalf("standby without checkpoints: %v", err)
	}
	cfg.Checkpoints, cfg.Journal = store, openLocal(t, t.TempDir())
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "Journal") {
		t.Fatalf("standby with a journal: %v", err)
	}
	sb.close()
	if len(store.puts) != 0 {
		t.Fatalf("a standby put checkpoints %v", store.puts)
	}
}

// pair is an owner on a local journal handed in (tee, in jdir) and a checkpoint store, with the city registered
// and checkpointed, and a standby opened from that checkpoint.
type pair struct {
	owner, sb *harness
	tee       *teeLog
	store     *memCheckpoints
	jdir, key string
}

func newPair(t *testing.T) *pair {
	t.Helper()
	clock := newFakeClock()
	p := &pair{jdir: t.TempDir(), store: newMemCheckpoints("east")}
	p.tee = &teeLog{Log: openLocal(t, p.jdir), recs: map[uint64][]byte{}}
	p.owner = start(t, t.TempDir(), clock, func(c *Config) { c.Journal, c.Checkpoints = p.tee, p.store })
	p.key = p.owner.city()
	ckpt(t, p.owner.d)
	p.sb = start(t, t.TempDir(), clock, func(c *Config) { c.Standby, c.Checkpoints = true, p.store })
	return p
}

// A standby that follows an owner's records holds the owner's state, views and events (same ids) and wakes courier
// streams; promoted on the owner's journal after the owner died, it replays what it had not followed, serves,
// answers a retry with the order first placed, numbers events on without a gap, and checkpoints to the store.
func TestStandbyFollowsAndIsPromoted(t *testing.T) {
	// A checkpoint before the standby starts: it starts from it.
	p := newPair(t)
	owner, sb, tee, store, jdir, key := p.owner, p.sb, p.tee, p.store, p.jdir, p.key
	ckptSeq := store.lastPut()
	if sb.d.Position() != ckptSeq || ckptSeq == 0 {
		t.Fatalf("standby at %d, want the checkpoint's %d", sb.d.Position(), ckptSeq)
	}
	sub := sb.d.Subscribe("c0")
	defer sub.Close()
	ids := owner.fullLifecycle(key)
	follow(t, sb.d, tee)
	select {
	case <-sub.Wake():
	default:
		t.Fatal("the standby did not wake c0's stream after following its route changes")
	}
	// Records at or below the position are skipped; a gap above is allowed.
	seqs, recs := tee.durable(ckptSeq)
	if err := sb.d.Follow(ctx, seqs[0], recs[0]); err != nil {
		t.Fatal(err)
	}
	if got, want := stateOf(t, sb.d), stateOf(t, owner.d); got != want {
		t.Fatalf("the standby's state differs from the owner's:\n%s", firstDiff(want, got))
	}
	if sb.d.Position() != owner.d.Position() {
		t.Fatalf("standby at %d, owner at %d", sb.d.Position(), owner.d.Position())
	}
	// The owner goes on; the standby does not hear of the last records (they are in the journal), then the owner
	// dies.
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	late, err := owner.d.PlaceOrder(ctx, shop, "late", []byte("late"), orderIn("s1", 31.241, 121.484))
	if err != nil {
		t.Fatal(err)
	}
	ownerEvents := allEvents(t, owner.d)
	owner.d.Abandon()
	if err := <-owner.done; err != nil {
		t.Fatal(err)
	}
	if _, err := owner.d.PlaceOrder(ctx, shop, "", nil, orderIn("s1", 31.241, 121.484)); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("order on an abandoned owner: %v", err)
	}

	j2 := openLocal(t, jdir)
	if err := sb.d.Promote(ctx, j2); err != nil {
		t.Fatal(err)
	}
	if sb.d.Standby() || sb.d.Position() != j2.LastSeq() {
		t.Fatalf("after Promote: standby %v, position %d, journal at %d", sb.d.Standby(), sb.d.Position(), j2.LastSeq())
	}
	if o, ok := sb.d.View().Order(late.ID); !ok || o.Status != late.Status {
		t.Fatalf("the order placed after the standby's last follow: %v %+v", ok, o)
	}
	for _, id := range ids {
		if _, ok := sb.d.View().Order(id); !ok {
			t.Fatalf("order %s missing on the new owner", id)
		}
	}
	again, err := sb.d.PlaceOrder(ctx, shop, "late", []byte("late"), orderIn("s1", 31.241, 121.484))
	if err != nil || again.ID != late.ID {
		t.Fatalf("retry on the new owner: %v %v, want %s", again, err, late.ID)
	}
	if _, err := sb.d.PlaceOrder(ctx, shop, "after", []byte("after"), orderIn("s0", 31.236, 121.479)); err != nil {
		t.Fatal(err)
	}
	got := allEvents(t, sb.d)
	if len(got) <= len(ownerEvents) {
		t.Fatalf("%d events on the new owner, the old had %d", len(got), len(ownerEvents))
	}
	for i, ev := range got {
		if ev.ID != uint64(i)+got[0].ID {
			t.Fatalf("event ids have a gap at %d: %d", i, ev.ID)
		}
	}
	eventsKept(t, ownerEvents, got)
	before := store.lastPut()
	sb.close()
	if store.lastPut() <= before {
		t.Fatal("the promoted daemon's graceful stop put no checkpoint")
	}
}

// Abandon stops at once: commands queued behind it fail with EUnavailable, nothing is appended after it returns,
// and no checkpoint is written.
func TestAbandonAppendsNothing(t *testing.T) {
	clock := newFakeClock()
	store := newMemCheckpoints("east")
	tee := &teeLog{Log: openLocal(t, t.TempDir()), recs: map[uint64][]byte{}}
	h := start(t, t.TempDir(), clock, func(c *Config) { c.Journal, c.Checkpoints = tee, store })
	key := h.city()
	// Hold the loop so that commands queue, then abandon.
	entered, release := make(chan struct{}), make(chan struct{})
	go h.d.do(ctx, func(time.Time) (any, uint64, error) { close(entered); <-release; return nil, 0, nil })
	<-entered
	errs := make(chan error, 5)
	for i := range 5 {
		go func() {
			_, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.235+0.001*float64(i), 121.478))
			errs <- err
		}()
	}
	for h.d.QueueDepth() < 5 {
		time.Sleep(time.Millisecond)
	}
	last := tee.LastSeq()
	h.d.Abandon()
	close(release)
	for range 5 {
		if err := <-errs; dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
			t.Fatalf("a command queued when the lease went: %v, want %s", err, dispatch.EUnavailable)
		}
	}
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	if tee.LastSeq() != last {
		t.Fatalf("records appended after Abandon: last %d, was %d", tee.LastSeq(), last)
	}
	if len(store.puts) != 0 {
		t.Fatalf("checkpoints after Abandon: %v", store.puts)
	}
}

// receiver counts the deliveries of each event id.
type receiver struct {
	mu   sync.Mutex
	seen map[uint64]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseUint(strings.TrimPrefix(req.Header.Get("webhook-id"), "evt_"), 10, 64)
	if err != nil {
		http.Error(w, "no id", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.seen[id]++
	r.mu.Unlock()
}

func (r *receiver) count(id uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

// waitCount waits until every event in (from, to] was delivered at least n times.
func (r *receiver) waitCount(t *testing.T, from, to uint64, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		done := true
		for id := from + 1; id <= to; id++ {
			done = done && r.count(id) >= n
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %d to %d not delivered %d times: %v", from+1, to, n, r.seen)
		}
	}
}

// A promoted standby resumes webhook deliveries after the cursor the old owner last journaled: the events
// delivered before it are not sent again, those after it are, at least once.
func TestWebhookDeliveriesResumeFromTheJournaledCursor(t *testing.T) {
	recv := &receiver{seen: map[uint64]int{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	// The standby has every event from the first: without the journaled cursor it would send them all again.
	p := newPair(t)
	owner, sb, tee, jdir, key := p.owner, p.sb, p.tee, p.jdir, p.key
	if _, _, err := owner.d.PutWebhook(ctx, service.WebhookInput{ID: "shop", URL: srv.URL, Secret: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	for i := range 3 {
		if _, err := owner.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.235+0.001*float64(i), 121.478)); err != nil {
			t.Fatal(err)
		}
	}
	evs := allEvents(t, owner.d)
	cursor := evs[len(evs)-1].ID
	recv.waitCount(t, 0, cursor, 1)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if w, _ := owner.d.WebhookView("shop"); w.DeliveredThrough == cursor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook's cursor never reached the last event")
		}
	}
	ckpt(t, owner.d) // journals the cursor, then checkpoints
	journaled, _ := owner.d.do(ctx, func(time.Time) (any, uint64, error) {
		w, _ := owner.d.st.webhooks.Get("shop")
		return w.Delivered, 0, nil
	})
	if journaled != cursor {
		t.Fatalf("journaled cursor %v, want %d", journaled, cursor)
	}
	for i := range 2 {
		if _, err := owner.d.PlaceOrder(ctx, shop, "", nil, orderIn("s1", 31.241+0.001*float64(i), 121.484)); err != nil {
			t.Fatal(err)
		}
	}
	evs = allEvents(t, owner.d)
	last := evs[len(evs)-1].ID
	recv.waitCount(t, cursor, last, 1)
	follow(t, sb.d, tee)
	if w, ok := sb.d.WebhookView("shop"); !ok || w.DeliveredThrough != cursor {
		t.Fatalf("the standby shows the webhook delivered through %v, want the journaled %d", w, cursor)
	}
	owner.d.Abandon()
	<-owner.done
	if err := sb.d.Promote(ctx, openLocal(t, jdir)); err != nil {
		t.Fatal(err)
	}
	recv.waitCount(t, cursor, last, 2)
	for id := uint64(1); id <= cursor; id++ {
		if n := recv.count(id); n != 1 {
			t.Fatalf("event %d, delivered before the journaled cursor %d, was delivered %d times", id, cursor, n)
		}
	}
	sb.close()
}

// Promote refuses a journal purged past the standby's position (the owner checkpointed records the standby never
// followed): the standby stays one, and a standby opened from the newer checkpoint can be promoted.
func TestPromoteRefusesAJournalPurgedPastItsPosition(t *testing.T) {
	p := newPair(t)
	shop := service.Principal{Role: service.RoleOrders, ID: p.key}
	o, err := p.owner.d.PlaceOrder(ctx, shop, "k", []byte("k"), orderIn("s0", 31.235, 121.478))
	if err != nil {
		t.Fatal(err)
	}
	ckpt(t, p.owner.d)
	p.owner.d.Abandon()
	<-p.owner.done
	j := openLocal(t, p.jdir)
	err = p.sb.d.Promote(ctx, j)
	if !errors.Is(err, journal.ErrBehindFloor) {
		t.Fatalf("promote over a purged journal: %v", err)
	}
	if !p.sb.d.Standby() {
		t.Fatal("a failed promotion left the daemon serving")
	}
	if _, err := p.sb.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.235, 121.478)); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("an order on the standby after a failed promotion: %v", err)
	}
	sb2 := start(t, t.TempDir(), newFakeClock(), func(c *Config) { c.Standby, c.Checkpoints = true, p.store })
	if err := sb2.d.Promote(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got, ok := sb2.d.View().Order(o.ID); !ok || got.Status != o.Status {
		t.Fatalf("the order on the promoted standby: %v %v", ok, got)
	}
}

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/webhook"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The fuzz targets of this file feed made-up content to what the daemon reads from its data directory: journal
// records, the checkpoint, the event log and the webhook cursors. Whatever is there, opening must never panic or
// hang: it refuses with an error, or it starts; and a state it starts with must survive a restart unchanged (a
// graceful stop checkpoints it, and what the checkpoint restores is the same state).
//
// Seed corpora are in testdata/fuzz/<target>; `make fuzz-smoke` runs every target briefly, `make fuzz` longer.

// noNetwork is the webhook transport of the fuzz targets: a record or checkpoint the fuzzer made up may name any
// URL, and a test must not post to it.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in fuzz tests")
}

// fuzzDaemon is a daemon the fuzz targets run: opened, its loop started, its webhooks kept off the network.
type fuzzDaemon struct {
	d    *Daemon
	stop context.CancelFunc
	done chan error
}

func fuzzConfig(dir string, clock *fakeClock) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.DispatchInterval = time.Hour
	cfg.CheckpointRecords = 1_000_000
	cfg.Now = clock.Now
	cfg.Engine.PostponeSlack = 0
	cfg.JournalSegmentBytes = testSegmentBytes
	return cfg
}

// runFuzz opens a daemon and runs its loop; an error is Open's.
func runFuzz(cfg Config) (*fuzzDaemon, error) {
	d, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	hc := hookConfig(d, cfg.Webhooks)
	hc.Transport = noNetwork{}
	d.hooks = webhook.New(hc)
	ctx, cancel := context.WithCancel(context.Background())
	fd := &fuzzDaemon{d: d, stop: cancel, done: make(chan error, 1)}
	go func() { fd.done <- d.Run(ctx) }()
	return fd, nil
}

// close stops the daemon gracefully (it writes a checkpoint) and fails the test if that takes more than 10 s.
func (fd *fuzzDaemon) close(tb testing.TB, what string) {
	tb.Helper()
	fd.stop()
	select {
	case err := <-fd.done:
		if err != nil {
			tb.Fatalf("%s: stopping: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s: the daemon does not stop", what)
	}
}

// crash stops the loop with no checkpoint, as a killed process would: every record stays in the journal.
func (fd *fuzzDaemon) crash() {
	close(fd.d.kill)
	<-fd.done
	fd.d.jnl().Close()
	fd.d.events.Close()
	fd.d.unlock()
}

// fuzzDay runs a small day in dir and leaves it as a crash would: every record in the journal, the order events
// in the event log. Stores, couriers on shift, keys (one revoked), a webhook, orders with idempotency keys through
// a round, one picked up, one cancelled, positions.
func fuzzDay(tb testing.TB, dir string) {
	tb.Helper()
	clock := newFakeClock()
	fd, err := runFuzz(fuzzConfig(dir, clock))
	if err != nil {
		tb.Fatal(err)
	}
	d := fd.d
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	for i, loc := range []service.Location{{Lat: 31.2304, Lon: 121.4737}, {Lat: 31.2404, Lon: 121.4837}} {
		_, _, err := d.PutStore(ctx, service.StoreInput{ID: fmt.Sprintf("s%d", i), Location: loc, PrepSeconds: 300, Inventory: map[string]int{"milk": 3}})
		must(err)
	}
	for i, loc := range []service.Location{{Lat: 31.2310, Lon: 121.4740}, {Lat: 31.2400, Lon: 121.4830}} {
		id := fmt.Sprintf("c%d", i)
		_, _, _, err := d.PutCourier(ctx, service.CourierInput{ID: id, Vehicle: "ebike", Capacity: 3, Skills: []string{"cold"}}, false)
		must(err)
		_, err = d.SetShift(ctx, id, true, &loc, nil)
		must(err)
	}
	k, _, err := d.CreateAPIKey(ctx, "shop")
	must(err)
	old, _, err := d.CreateAPIKey(ctx, "old")
	must(err)
	must(d.RevokeAPIKey(ctx, old.ID))
	_, _, err = d.PutWebhook(ctx, service.WebhookInput{ID: "w1", URL: "http://127.0.0.1:9/hook", Secret: "0123456789abcdef"})
	must(err)
	shop := service.Principal{Role: service.RoleOrders, ID: k.ID}
	var ids []string
	for i := range 3 {
		in := orderIn(fmt.Sprintf("s%d", i%2), 31.235+0.002*float64(i), 121.478)
		in.ExternalID = fmt.Sprintf("ext-%d", i)
		body, err := orderJSON(d.PlaceOrder(ctx, shop, fmt.Sprintf("idem-%d", i), []byte{byte(i)}, in))
		must(err)
		var o service.Order
		must(json.Unmarshal(body, &o))
		ids = append(ids, o.ID)
		clock.Advance(10 * time.Second)
	}
	must(d.DispatchNow(ctx))
	for _, id := range ids {
		if o, _ := d.View().Order(id); o.Status == "assigned" {
			_, err := d.CourierAction(ctx, o.CourierID, id, "picked_up", "")
			must(err)
			break
		}
	}
	must(d.ReportLocation(ctx, "c1", service.Location{Lat: 31.2401, Lon: 121.4831}, time.Time{}))
	clock.Advance(time.Minute)
	_, err = d.CancelOrder(ctx, ids[2], "customer")
	must(err)
	fd.crash()
}

// copyDir copies the files of a data directory.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if e.Name() == "lock" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// A preallocated journal segment is mostly zeros: the copy writes what comes before them and extends the
		// file to its size, which reads back the same without writing 64 MiB of zeros for every input.
		n := len(b)
		for zero := make([]byte, 64<<10); n >= len(zero) && bytes.Equal(b[n-len(zero):n], zero); {
			n -= len(zero)
		}
		f, err := os.OpenFile(filepath.Join(dst, rel), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(b[:n])
		if err == nil {
			err = f.Truncate(int64(len(b)))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// journalRecords returns the records of the journal in dir.
func journalRecords(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	j, err := journal.Open(dir, journal.Options{NoSync: true, SegmentBytes: testSegmentBytes})
	if err != nil {
		tb.Fatal(err)
	}
	defer j.Close()
	var recs [][]byte
	if err := j.Replay(0, func(_ uint64, rec []byte) error { recs = append(recs, rec); return nil }); err != nil {
		tb.Fatal(err)
	}
	return recs
}

// restartStable fails unless the daemon on dir, once open, shows the same state after a graceful restart.
func restartStable(t *testing.T, dir string, fd *fuzzDaemon, what string) {
	t.Helper()
	clock := newFakeClock()
	clock.Advance(time.Hour)
	want := stateOf(t, fd.d)
	fd.close(t, what)
	fd2, err := runFuzz(fuzzConfig(dir, clock))
	if err != nil {
		t.Fatalf("%s: the checkpoint the daemon wrote is refused: %v", what, err)
	}
	got := stateOf(t, fd2.d)
	fd2.close(t, what)
	if got != want {
		t.Fatalf("%s: the state differs after a restart:\n%s", what, firstDiff(want, got))
	}
}

// FuzzReplayRecord appends one record to the journal of a small day and recovers: a record the daemon cannot read
// is refused with an error (Open fails) or skipped and logged, never a panic; and the state recovered survives a
// restart unchanged. The day's own records are seeds, valid and near-valid ones are in testdata.
func FuzzReplayRecord(f *testing.F) {
	base := filepath.Join(f.TempDir(), "day")
	fuzzDay(f, base)
	for _, rec := range journalRecords(f, filepath.Join(base, "journal")) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{NoSync: true, SegmentBytes: testSegmentBytes})
		if err != nil {
			t.Fatal(err)
		}
		seq, err := j.Append(rec)
		if err == nil {
			err = j.Wait(ctx, seq)
		}
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		clock := newFakeClock()
		clock.Advance(time.Hour)
		fd, err := runFuzz(fuzzConfig(dir, clock))
		if err != nil {
			return // refused, with an error that says why: allowed
		}
		restartStable(t, dir, fd, fmt.Sprintf("record %q", rec))
	})
}

// fuzzCheckpointed is the data directory of a small day stopped gracefully: a checkpoint, an empty journal, the
// event log.
func fuzzCheckpointed(f *testing.F) string {
	dir := filepath.Join(f.TempDir(), "day")
	fuzzDay(f, dir)
	clock := newFakeClock()
	clock.Advance(time.Hour)
	fd, err := runFuzz(fuzzConfig(dir, clock))
	if err != nil {
		f.Fatal(err)
	}
	fd.close(f, "the day")
	return dir
}

// FuzzRestoreCheckpoint starts a daemon on a made-up checkpoint.json beside the event log of the day it was taken
// from (seeded with a good one of the current version and damaged ones; the corpus holds some of version 1): it
// refuses with an error or starts, never panics or hangs; and a state it starts with re-exports
// identically: the checkpoint a graceful stop writes, restored and checkpointed again, is the same file.
func FuzzRestoreCheckpoint(f *testing.F) {
	base := fuzzCheckpointed(f)
	good, err := os.ReadFile(filepath.Join(base, checkpointFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	// Damage the reader must name: cut in a record, a null entity, a kind it does not know, a record out of place.
	lines := bytes.SplitAfter(good, []byte("\n"))
	with := func(i int, line string) []byte {
		out := append([][]byte{}, lines[:i]...)
		return bytes.Join(append(append(out, []byte(line+"\n")), lines[i+1:]...), nil)
	}
	f.Add(good[:len(good)/2])
	f.Add(with(len(lines)/2, `{"k":"order","order":null}`))
	f.Add(with(1, `{"k":"courier_v9","courier_v9":{}}`))
	f.Add(with(1, `{"k":"idem","idem":{"key":"k"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		path := filepath.Join(dir, checkpointFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		clock := newFakeClock()
		clock.Advance(2 * time.Hour)
		var written [2][]byte
		for i := range written {
			fd, err := runFuzz(fuzzConfig(dir, clock))
			if err != nil {
				if i == 0 {
					return // refused, with an error that says why: allowed
				}
				t.Fatalf("the checkpoint the daemon wrote is refused: %v", err)
			}
			fd.close(t, "a restored checkpoint")
			if written[i], err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(written[0], written[1]) {
			t.Fatalf("restored and checkpointed again, the checkpoint differs:\n%s", firstDiff(string(written[0]), string(written[1])))
		}
	})
}

// TestEventLogBehindTheCheckpoint: a data directory whose event log lost its files (found by FuzzRestoreCheckpoint,
// where it hung every checkpoint and the shutdown) is refused, saying which events are lost; with salvage it
// starts, numbers new events after the checkpoint's last one, serves them, and stops.
func TestEventLogBehindTheCheckpoint(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	key := h.city()
	h.fullLifecycle(key)
	// The event log's writer takes events after they are published: its last id is final once the daemon stopped.
	h.close()
	last := h.d.LastEventID()
	if err := os.RemoveAll(filepath.Join(dir, "events")); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now = dir, clock.Now
	if d, err := Open(cfg); !errors.Is(err, ErrSalvageable) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("a lost event log: %v, want a refusal that salvage would override", err)
	}
	h2 := start(t, dir, clock, func(c *Config) { c.Salvage = true })
	if _, err := h2.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.25, 121.49)); err != nil {
		t.Fatal(err)
	}
	// The event log's writer takes events after the order is published, and after a salvage its first events are
	// read from its files, which the writer fills asynchronously: poll until the event is readable.
	var evs []service.OrderEvent
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if evs, _, err = h2.d.Events(0, 100); err != nil || len(evs) > 0 {
			break
		}
	}
	if err != nil || len(evs) != 1 || evs[0].ID != last+1 || evs[0].Type != service.EventCreated {
		t.Fatalf("events after the restart: %+v (%v), want one order.created numbered %d", evs, err, last+1)
	}
	h2.close()
}

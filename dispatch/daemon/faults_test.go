package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The tests here damage a daemon's data directory the ways a crash or a bad disk does and restart it: what comes
// back must be exactly the acknowledged state the intact records make, and the start must say what it dropped.

const faultSeed = 20261123

// scratchDir is a temporary directory for tests that restart a daemon hundreds of times: on a memory file system
// when there is one (/dev/shm), where an fsync costs nothing, since they check what recovery reads, not what a
// disk keeps.
func scratchDir(t *testing.T) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "daemon-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}

// logBuffer collects a daemon's logs (written from several goroutines).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// step is what a reader could see after an acknowledged change: the state, the size of the journal's segment then,
// and a copy of the event log as it was.
type step struct {
	journalSize int64
	state       string
	events      string
}

// frame is a record of the journal as the test finds it in the segment.
type frame struct {
	start, end int64
	rec        record
}

// recordedRun is a daemon's run, recorded step by step, then crashed.
type recordedRun struct {
	dir     string // the scratch directory
	live    string // the daemon's data directory
	clock   *fakeClock
	steps   []step
	segment string // the journal's (only) segment after the crash
	data    []byte
	frames  []frame
}

// recordRun sets up a city, places orders (one with a position report journaled just before it, so that a step
// writes two records), runs a round, and crashes.
func recordRun(t *testing.T) *recordedRun {
	t.Helper()
	r := &recordedRun{dir: scratchDir(t), clock: newFakeClock()}
	r.live = filepath.Join(r.dir, "live")
	h := start(t, r.live, r.clock, nil)
	shop := service.Principal{Role: service.RoleOrders, ID: h.city()}
	r.snap(h)
	place := func(i int) {
		in := orderIn(fmt.Sprintf("s%d", i%2), 31.235+0.002*float64(i), 121.478+0.002*float64(i))
		in.Customer = json.RawMessage(`{"name":"W"}`)
		if _, err := h.d.PlaceOrder(ctx, shop, fmt.Sprintf("k%d", i), []byte{byte(i)}, in); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(10 * time.Second)
	}
	for i := range 4 {
		place(i)
		r.snap(h)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	r.snap(h)
	place(4)
	r.snap(h)
	if err := h.d.ReportLocation(ctx, "c1", service.Location{Lat: 31.2401, Lon: 121.4831}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	place(5) // the position goes into the journal just before this order
	r.snap(h)
	place(6)
	r.snap(h)
	h.crash()
	segs, _ := filepath.Glob(filepath.Join(r.live, "journal", "seg-*.log"))
	if len(segs) != 1 {
		t.Fatalf("setup: %d segments, want one", len(segs))
	}
	r.segment = filepath.Base(segs[0])
	r.data = segmentData(t, segs[0])
	// Frames: length, checksum, sequence number (16 bytes), then the record.
	for off := int64(0); off < int64(len(r.data)); {
		end := off + 16 + int64(binary.LittleEndian.Uint32(r.data[off:]))
		var rec record
		if err := json.Unmarshal(r.data[off+16:end], &rec); err != nil {
			t.Fatal(err)
		}
		r.frames = append(r.frames, frame{off, end, rec})
		off = end
	}
	if n := len(r.frames); r.frames[n-3].rec.Type != recLocations || r.frames[n-1].rec.Type != recOrderPlace {
		t.Fatalf("setup: the last records are not a position and two orders")
	}
	return r
}

// snap records a step: it waits for the step's events to be in the event log's file, then copies it.
func (r *recordedRun) snap(h *harness) {
	t := h.t
	t.Helper()
	st := stateOf(t, h.d)
	// stateOf waits for the event log to take the events; wait for them to be in its file too.
	if err := h.d.events.WaitFor(h.d.LastEventID()); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(r.live, "journal", "seg-*.log"))
	size := int64(len(segmentData(t, segs[len(segs)-1])))
	ev := filepath.Join(r.dir, fmt.Sprintf("events-%d", len(r.steps)))
	copyDir(t, filepath.Join(r.live, "events"), ev)
	r.steps = append(r.steps, step{size, st, ev})
}

// segmentData is a journal segment's records, without the zeros of its preallocated tail (a record, JSON, never
// ends in a zero byte).
func segmentData(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(b, "\x00")
}

// stepAt is the last step whose journal ends at or before byte x: the state acknowledged when a crash tore the
// journal at x.
func (r *recordedRun) stepAt(x int64) int {
	i := 0
	for i+1 < len(r.steps) && r.steps[i+1].journalSize <= x {
		i++
	}
	return i
}

// restart makes a data directory as a crash at byte x of the journal leaves it (with the event log of the step
// acknowledged then, and damage applied to the journal's bytes if given), starts a daemon on it and returns it
// with its logs, or Open's error. The caller crashes it.
func (r *recordedRun) restart(t *testing.T, x int64, events string, damage func([]byte), mutate func(*Config)) (*harness, *logBuffer, error) {
	t.Helper()
	dir := filepath.Join(r.dir, "restart")
	os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "journal"), 0o700)
	b := slices.Clone(r.data[:x])
	if damage != nil {
		damage(b)
	}
	os.WriteFile(filepath.Join(dir, "journal", r.segment), b, 0o600)
	copyDir(t, events, filepath.Join(dir, "events"))
	logs := &logBuffer{}
	h, err := boot(t, dir, r.clock, func(c *Config) {
		c.Logger = zerolog.New(logs)
		if mutate != nil {
			mutate(c)
		}
	})
	return h, logs, err
}

// boot is start without a cleanup and with Open's error returned: for tests that restart hundreds of times and
// crash each daemon themselves (cleanups would keep every one of them alive to the end).
func boot(t *testing.T, dir string, clock *fakeClock, mutate func(*Config)) (*harness, error) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now, cfg.DispatchInterval = dir, clock.Now, time.Hour
	cfg.Engine.PostponeSlack = 0
	mutate(&cfg)
	d, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, d: d, dir: dir, clock: clock, stop: cancel, done: make(chan error, 1)}
	go func() { h.done <- d.Run(runCtx) }()
	return h, nil
}

// ordersPlacedBy is the set of orders the records place.
func ordersPlacedBy(frames []frame) []string {
	var ids []string
	for _, f := range frames {
		if f.rec.Type == recOrderPlace {
			ids = append(ids, f.rec.Order.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestRestartAfterACutAtEveryOffset tears the journal at every byte of its last three records (a position and two
// orders, the last two steps) and restarts: the state is exactly the one the whole records make (the acknowledged
// state when the cut is where a step ended), the orders are those whose records are whole, once each, and the start
// logs the bytes it cut and where.
func TestRestartAfterACutAtEveryOffset(t *testing.T) {
	r := recordRun(t)
	n := len(r.frames)
	from := r.frames[n-3].start
	clean := map[int]string{} // state after a clean cut after k records
	began := time.Now()
	for x := from; x <= int64(len(r.data)); x++ {
		kept := 0
		for kept < n && r.frames[kept].end <= x {
			kept++
		}
		lastEnd := r.frames[kept-1].end
		si := r.stepAt(x)
		h, logs, err := r.restart(t, x, r.steps[si].events, nil, nil)
		if err != nil {
			t.Fatalf("cut at byte %d: %v", x, err)
		}
		got := stateOf(t, h.d)
		v := h.d.view.Load()
		orders := v.orders.SortedKeys()
		total := 0
		for _, c := range v.OrdersByStatus() {
			total += c
		}
		h.crash()
		what := fmt.Sprintf("cut at byte %d of %d (%d whole records)", x, len(r.data), kept)
		if want := ordersPlacedBy(r.frames[:kept]); !slices.Equal(orders, want) || total != len(want) {
			t.Fatalf("%s: orders %v (%d by status), want %v", what, orders, total, want)
		}
		var want string
		if lastEnd == r.steps[si].journalSize {
			want = r.steps[si].state // exactly what was acknowledged
		} else {
			if _, ok := clean[kept]; !ok {
				h, _, err := r.restart(t, lastEnd, r.steps[si].events, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				clean[kept] = stateOf(t, h.d)
				h.crash()
			}
			want = clean[kept]
		}
		if got != want {
			t.Fatalf("%s: state differs from the records' own:\n%s", what, firstDiff(want, got))
		}
		// The journal does not count zeros at the end of what it cuts (a preallocated tail's, or the torn
		// frame's: it cannot tell them apart), nor reports a cut of zeros alone.
		if end := max(lastEnd, int64(len(bytes.TrimRight(r.data[:x], "\x00")))); lastEnd < end {
			l := logs.String()
			for _, s := range []string{"cut off a torn tail", r.segment, fmt.Sprintf(`"offset":%d`, lastEnd), fmt.Sprintf(`"bytes":%d`, end-lastEnd)} {
				if !strings.Contains(l, s) {
					t.Fatalf("%s: the start's log does not say %q:\n%s", what, s, l)
				}
			}
		}
	}
	t.Logf("%d cuts from byte %d to %d of the journal (%d records, %d steps) in %v",
		int64(len(r.data))-from+1, from, len(r.data), n, len(r.steps), time.Since(began).Round(time.Millisecond))
}

// eventsAfter returns the events after id once there are at least n (the event log's writer runs behind the
// answers), or what there is after 5 s.
func eventsAfter(d *Daemon, id uint64, n int) []service.OrderEvent {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		evs, _, _ := d.Events(id, 100)
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
	}
}

// withoutEvents drops the event log from a state, for comparisons where the log rightly holds more.
func withoutEvents(t *testing.T, state string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(state), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "events")
	b, _ := json.MarshalIndent(m, "", " ")
	return string(b)
}

// A bit flipped in a record that intact records follow: the daemon refuses to start, naming the segment and the
// byte (those records were acknowledged), and with Salvage starts on the records before it, logging what it lost;
// events already published keep their ids, and new ones are numbered after them.
func TestDamagedJournalRefusedThenSalvaged(t *testing.T) {
	r := recordRun(t)
	n := len(r.frames)
	last := r.steps[len(r.steps)-1]
	// The order of the second to last step (after its position record): two orders' records follow it.
	bad := r.frames[n-2]
	if bad.rec.Type != recOrderPlace {
		t.Fatal("setup: not an order")
	}
	rnd := rand.New(rand.NewPCG(faultSeed, 3))
	var refusal error
	for range 20 {
		bit := bad.start*8 + rnd.Int64N((bad.end-bad.start)*8)
		flip := func(b []byte) { b[bit/8] ^= 1 << (bit % 8) }
		_, _, err := r.restart(t, int64(len(r.data)), last.events, flip, func(*Config) {})
		if !errors.Is(err, ErrSalvageable) || !strings.Contains(err.Error(), r.segment) ||
			!strings.Contains(err.Error(), fmt.Sprintf("byte %d", bad.start)) {
			t.Fatalf("bit %d flipped: Open gave %v, want a refusal naming %s and byte %d", bit, err, r.segment, bad.start)
		}
		refusal = err
	}
	t.Logf("refused: %v", refusal)
	bit := bad.start*8 + 100
	flip := func(b []byte) { b[bit/8] ^= 1 << (bit % 8) }
	h, logs, err := r.restart(t, int64(len(r.data)), last.events, flip, func(c *Config) { c.Salvage = true })
	if err != nil {
		t.Fatal(err)
	}
	// The records before the damage: the step before the damaged order, plus its position record.
	kept := n - 2
	if want := ordersPlacedBy(r.frames[:kept]); !slices.Equal(h.d.view.Load().orders.SortedKeys(), want) {
		t.Fatalf("orders after salvage %v, want %v", h.d.view.Load().orders.SortedKeys(), want)
	}
	l := logs.String()
	for _, s := range []string{"salvaged", `"intact_dropped":1`, fmt.Sprintf(`"offset":%d`, bad.start), "moved_to", "event log: it holds events"} {
		if !strings.Contains(l, s) {
			t.Fatalf("the salvaging start's log does not say %q:\n%s", s, l)
		}
	}
	// Events already published stay; the next ones come after them.
	published := last.state
	var lastStep struct{ Events []service.OrderEvent }
	json.Unmarshal([]byte(published), &lastStep)
	maxID := lastStep.Events[len(lastStep.Events)-1].ID
	if _, err := h.d.CancelOrder(ctx, r.frames[n-4].rec.Order.ID, "customer"); err != nil {
		t.Fatal(err)
	}
	evs := eventsAfter(h.d, maxID, 1)
	if len(evs) == 0 || evs[0].ID != maxID+1 || evs[0].Type != "order.cancelled" {
		t.Fatalf("events after %d once salvaged: %+v, want the cancellation as %d", maxID, evs, maxID+1)
	}
	want := stateOf(t, h.d)
	h.crash()
	// The next start, without salvage, finds nothing wrong and the same state.
	dir := filepath.Join(r.dir, "restart")
	logs2 := &logBuffer{}
	h2 := start(t, dir, r.clock, func(c *Config) { c.Logger = zerolog.New(logs2) })
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after the start that follows salvage differs:\n%s", firstDiff(want, got))
	}
	if strings.Contains(logs2.String(), `"level":"error"`) || strings.Contains(logs2.String(), "torn") {
		t.Fatalf("the start after salvage reports damage:\n%s", logs2.String())
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "journal", "damaged-*", r.segment)); len(matches) != 1 {
		t.Fatalf("the damaged segment was not kept aside: %v", matches)
	}
	h2.crash()
}

// A bit flipped in the last record looks like a torn write: it is cut off and reported. Its events were published
// (the record was acknowledged), which the start says, and new events are numbered after them.
func TestDamagedLastRecordIsCut(t *testing.T) {
	r := recordRun(t)
	n := len(r.frames)
	last := r.steps[len(r.steps)-1]
	bad := r.frames[n-1]
	flip := func(b []byte) { b[bad.start+40] ^= 4 }
	h, logs, err := r.restart(t, int64(len(r.data)), last.events, flip, func(*Config) {})
	if err != nil {
		t.Fatal(err)
	}
	defer h.crash()
	if got, want := withoutEvents(t, stateOf(t, h.d)), withoutEvents(t, r.steps[len(r.steps)-2].state); got != want {
		t.Fatalf("state after the last record was cut differs from the step before:\n%s", firstDiff(want, got))
	}
	for _, s := range []string{"cut off a torn tail", "checksum mismatch", "event log: it holds events"} {
		if !strings.Contains(logs.String(), s) {
			t.Fatalf("the start's log does not say %q:\n%s", s, logs.String())
		}
	}
}

// checkpointRun stops a daemon gracefully (a checkpoint, and the journal truncated under it) and returns its data
// directory, the checkpoint's bytes and the state.
func checkpointRun(t *testing.T) (string, []byte, string, *fakeClock) {
	t.Helper()
	dir, clock := scratchDir(t), newFakeClock()
	h := start(t, dir, clock, nil)
	h.fullLifecycle(h.city())
	want := stateOf(t, h.d)
	h.close()
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, b, want, clock
}

// recordsOf is what the checkpoint file holds, as the reader hands it over: its header and records as JSON.
func recordsOf(path string) (string, error) {
	var b strings.Builder
	reader := &Daemon{log: zerolog.Nop()}
	err := reader.readCheckpoint(path, func(h *checkpoint.Header, r *checkpoint.Record) error {
		b.Write(mustJSON(h))
		b.Write(mustJSON(r))
		return nil
	})
	return b.String(), err
}

// checkpoint.json cut short or with a bit flipped: the daemon refuses to start, naming the file, and never panics
// or starts with a state the checkpoint did not hold. A flip the reader accepts (one that turns a key's letter to
// upper case, which encoding/json matches all the same, in the trailer the checksum does not cover) must give
// exactly the records written; so must the one cut that is not refused, of the last newline.
func TestDamagedCheckpoint(t *testing.T) {
	dir, good, _, clock := checkpointRun(t)
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now = dir, clock.Now
	path := filepath.Join(dir, checkpointFile)
	want, err := recordsOf(path)
	if err != nil {
		t.Fatal(err)
	}
	tries := 0
	// try reports whether a damaged checkpoint is read (and fails the test if it gives other records): through the
	// reader, and one time in 16 through Open, whose refusal must name the file.
	try := func(what string, b []byte) (read bool) {
		t.Helper()
		os.WriteFile(path, b, 0o600)
		if tries++; tries%16 != 0 {
			got, err := recordsOf(path)
			if err == nil && got != want {
				t.Fatalf("%s: accepted, with other records:\n%s", what, firstDiff(want, got))
			}
			return err == nil
		}
		d, err := Open(cfg)
		if err != nil {
			if !strings.Contains(err.Error(), checkpointFile) {
				t.Fatalf("%s: %v, want an error naming %s", what, err, checkpointFile)
			}
			return false
		}
		d.Close()
		if got, err := recordsOf(path); err != nil || got != want {
			t.Fatalf("%s: started on it, and its records are not those written (%v)", what, err)
		}
		return true
	}
	rnd := rand.New(rand.NewPCG(faultSeed, 4))
	cuts, flips, accepted := 0, 0, 0
	// A sample of cuts, and every one in the last 200 bytes (the trailer and the record before it).
	for x := 0; x < len(good); x += 1 + rnd.IntN(512) {
		if x > len(good)-200 {
			for x = len(good) - 200; x < len(good); x++ {
				cuts++
				if try(fmt.Sprintf("cut at byte %d of %d", x, len(good)), good[:x]) && x != len(good)-1 {
					t.Fatalf("a checkpoint cut at byte %d of %d was accepted", x, len(good))
				}
			}
			break
		}
		cuts++
		if try(fmt.Sprintf("cut at byte %d of %d", x, len(good)), good[:x]) {
			t.Fatalf("a checkpoint cut at byte %d of %d was accepted", x, len(good))
		}
	}
	// Every bit of the trailer and the line before it, and a sample of the rest.
	var bits []int
	for bit := (len(good) - 200) * 8; bit < len(good)*8; bit++ {
		bits = append(bits, bit)
	}
	for range 100 {
		bits = append(bits, rnd.IntN(len(good)*8))
	}
	trailer := bytes.LastIndexByte(good[:len(good)-1], '\n') + 1
	for _, bit := range bits {
		b := slices.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		flips++
		if try(fmt.Sprintf("bit %d flipped", bit), b) {
			accepted++
			if bit/8 < trailer {
				t.Fatalf("bit %d flipped, before the trailer, was accepted", bit)
			}
		}
	}
	t.Logf("checkpoint of %d bytes: %d cuts and %d bit flips, %d of them accepted with the records written (seed %d)", len(good), cuts, flips, accepted, faultSeed)
}

// testdata/checkpoint-v1 is a data directory a graceful stop left with a checkpoint of version 1 (one JSON
// document of the API's views), written by that version: the daemon starts on it with the state that version
// had (testdata/checkpoint-v1.state), and its next checkpoint is of the current version and gives the same state.
func TestCheckpointV1IsRead(t *testing.T) {
	dir, want, clock := dataDirFixture(t, "checkpoint-v1")
	for _, version := range []string{"1", "2"} {
		h := start(t, dir, clock, nil)
		if got := canonicalState(t, stateOf(t, h.d), nil); got != want {
			t.Fatalf("state from a checkpoint of version %s differs from the one version 1 wrote it from:\n%s", version, firstDiff(want, got))
		}
		h.close()
		b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(`{"k":"header","header":{"version":2,`)) {
			t.Fatalf("the checkpoint written after starting on version %s begins %q, want version 2's header", version, b[:min(len(b), 60)])
		}
	}
}

// The event log is written without fsync: a crash may lose any part of its last segment. Whatever is lost after
// the checkpoint, the replay makes again, the same; events the checkpoint covers are refused as lost, and salvage
// numbers on after them.
func TestDamagedEventLog(t *testing.T) {
	t.Run("AfterTheCheckpoint", func(t *testing.T) {
		r := recordRun(t)
		last := r.steps[len(r.steps)-1]
		segs, _ := filepath.Glob(filepath.Join(last.events, "seg-*.log"))
		b := segmentData(t, segs[len(segs)-1])
		for i := len(b) / 3; i < len(b)/2; i++ {
			b[i] = 0 // a page the crash did not write
		}
		os.WriteFile(segs[len(segs)-1], b, 0o600)
		h, logs, err := r.restart(t, int64(len(r.data)), last.events, nil, func(*Config) {})
		if err != nil {
			t.Fatal(err)
		}
		if got := stateOf(t, h.d); got != last.state {
			t.Fatalf("state after losing part of the event log differs:\n%s", firstDiff(last.state, got))
		}
		if !strings.Contains(logs.String(), "event log: cut off a torn tail") {
			t.Fatalf("the start does not say it cut the event log:\n%s", logs.String())
		}
		h.crash()
	})
	t.Run("CoveredByTheCheckpoint", func(t *testing.T) {
		dir, _, _, clock := checkpointRun(t)
		segs, _ := filepath.Glob(filepath.Join(dir, "events", "seg-*.log"))
		b := segmentData(t, segs[len(segs)-1])
		b[len(b)/2] ^= 1
		os.WriteFile(segs[len(segs)-1], b, 0o600)
		cfg := DefaultConfig()
		cfg.DataDir, cfg.Now = dir, clock.Now
		_, err := Open(cfg)
		if !errors.Is(err, ErrSalvageable) || !strings.Contains(err.Error(), "event log ends at event") {
			t.Fatalf("open with events the checkpoint covers lost: %v, want a refusal", err)
		}
		logs := &logBuffer{}
		h := start(t, dir, clock, func(c *Config) { c.Salvage = true; c.Logger = zerolog.New(logs) })
		var covered uint64
		h.d.do(ctx, func(time.Time) (any, uint64, error) { covered = h.d.st.eventSeq; return nil, 0, nil })
		if !strings.Contains(logs.String(), "events the checkpoint covers are lost") {
			t.Fatalf("salvage does not say what it lost:\n%s", logs.String())
		}
		var open string
		for _, id := range h.d.view.Load().orders.SortedKeys() {
			if o, _ := h.d.View().Order(id); !o.Final() {
				open = id
			}
		}
		if _, err := h.d.CancelOrder(ctx, open, "customer"); err != nil {
			t.Fatal(err)
		}
		evs := eventsAfter(h.d, covered, 1)
		if len(evs) == 0 || evs[0].ID != covered+1 || evs[0].Type != service.EventCancelled {
			t.Fatalf("events after salvage: %+v, want the cancellation numbered %d", evs, covered+1)
		}
		h.close()
		h = start(t, dir, clock, nil)
		if again, _, _ := h.d.Events(covered, 10); len(again) != len(evs) || again[0].ID != covered+1 || again[0].Type != service.EventCancelled {
			t.Fatalf("events after the next start: %+v, want %d from %d", again, len(evs), covered+1)
		}
		h.close()
	})
}

// A checkpoint older than the journal's floor (a copy restored from an earlier backup) would lose the records
// between the two: the start is refused.
func TestOlderCheckpointIsRefused(t *testing.T) {
	dir, old, _, clock := checkpointRun(t)
	h := start(t, dir, clock, nil)
	if _, _, err := h.d.CreateAPIKey(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	h.close() // a newer checkpoint, and the journal truncated under it
	os.WriteFile(filepath.Join(dir, checkpointFile), old, 0o600)
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now = dir, clock.Now
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "the journal was truncated after record") {
		t.Fatalf("open with an older checkpoint: %v, want a refusal", err)
	}
}

// Event ids go on across restarts with no gap and no duplicate: after a graceful stop, after a crash, and after a
// crash that tore the event log mid-way (the replay makes the lost events again, under the same ids).
func TestEventIDsAcrossRestarts(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	key := h.city()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	var seen []service.OrderEvent // every event, as first read
	readAll := func() []service.OrderEvent {
		t.Helper()
		evs := eventsAfter(h.d, 0, int(h.d.LastEventID()))
		for len(evs) < int(h.d.LastEventID()) {
			more := eventsAfter(h.d, evs[len(evs)-1].ID, 1)
			if len(more) == 0 {
				t.Fatalf("events stop at %d of %d", evs[len(evs)-1].ID, h.d.LastEventID())
			}
			evs = append(evs, more...)
		}
		type what struct {
			typ, order, status, courier string
			at                          time.Time
		}
		made := map[what]uint64{}
		for i, ev := range evs {
			w := what{ev.Type, ev.Order.ID, ev.Order.Status, ev.Order.CourierID, ev.At}
			if id, ok := made[w]; ok {
				t.Fatalf("events %d and %d are the same %+v", id, ev.ID, w)
			}
			made[w] = ev.ID
			if ev.ID != uint64(i+1) {
				t.Fatalf("event #%d has id %d", i, ev.ID)
			}
			if i < len(seen) && (ev.Type != seen[i].Type || ev.Order.ID != seen[i].Order.ID || !ev.At.Equal(seen[i].At)) {
				t.Fatalf("event %d is %s %s, was %s %s before the restart", ev.ID, ev.Type, ev.Order.ID, seen[i].Type, seen[i].Order.ID)
			}
		}
		return evs
	}
	place := func(n int) {
		t.Helper()
		for i := range n {
			if _, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn(fmt.Sprintf("s%d", i%2), 31.24, 121.48)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(5 * time.Second)
		}
		if err := h.d.DispatchNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	place(5)
	seen = readAll()
	h.close()
	h = start(t, dir, clock, nil)
	place(5)
	seen = readAll()
	h.crash()
	h = start(t, dir, clock, nil)
	place(5)
	seen = readAll()
	if err := h.d.events.WaitFor(h.d.LastEventID()); err != nil {
		t.Fatal(err)
	}
	h.crash()
	// The crash wrote only the first half of the event log's last segment.
	segs, _ := filepath.Glob(filepath.Join(dir, "events", "seg-*.log"))
	b := segmentData(t, segs[len(segs)-1])
	full, _ := os.ReadFile(segs[len(segs)-1])
	clear(full[len(b)/2:])
	if err := os.WriteFile(segs[len(segs)-1], full, 0o600); err != nil {
		t.Fatal(err)
	}
	h = start(t, dir, clock, nil)
	if got := readAll(); len(got) < len(seen) {
		t.Fatalf("%d events after the torn restart, want at least the %d made before it", len(got), len(seen))
	}
	place(3)
	if got := readAll(); len(got) <= len(seen) {
		t.Fatalf("no new events after the torn restart (%d)", len(got))
	}
	h.close()
}

// dataDirFixture copies the data directory testdata/<name> to a temporary one, and returns it, the state it holds
// (testdata/<name>.state) and a clock set to when it was written (testdata/<name>.clock).
//
// state is the fixture's state as the daemon shows it now (regionalState: every store, courier and order in the
// default region), in canonicalState's form.
func dataDirFixture(t *testing.T, name string) (dir string, state string, clock *fakeClock) {
	t.Helper()
	dir = t.TempDir()
	copyDir(t, filepath.Join("testdata", name), dir)
	old, err := os.ReadFile(filepath.Join("testdata", name+".state"))
	if err != nil {
		t.Fatal(err)
	}
	state = regionalState(t, old)
	at, err := os.ReadFile(filepath.Join("testdata", name+".clock"))
	if err != nil {
		t.Fatal(err)
	}
	when, err := time.Parse(time.RFC3339Nano, string(at))
	if err != nil {
		t.Fatal(err)
	}
	clock = newFakeClock()
	clock.Set(when)
	return dir, state, clock
}

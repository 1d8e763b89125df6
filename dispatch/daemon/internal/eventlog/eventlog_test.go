package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// event has the daemon's order event's layout: id, type and time first, then a nested object.
type event struct {
	ID    uint64          `json:"id"`
	Type  string          `json:"type"`
	At    time.Time       `json:"at"`
	Order json.RawMessage `json:"order"`
}

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func open(tb testing.TB, dir string, segmentBytes int64) *Log[event] {
	tb.Helper()
	l, err := Open(dir, Options[event]{SegmentBytes: segmentBytes, Log: zerolog.Nop(),
		ID: func(e *event) uint64 { return e.ID }, At: func(e *event) time.Time { return e.At }})
	if err != nil {
		tb.Fatal(err)
	}
	l.BuildIndex()
	return l
}

// events makes the events from..to, one a minute from t0.
func events(from, to uint64) []event {
	var out []event
	for id := from; id <= to; id++ {
		out = append(out, event{ID: id, Type: "order.created", At: t0.Add(time.Duration(id) * time.Minute),
			Order: json.RawMessage(fmt.Sprintf(`{"id":"ord_%d","note":"{[,\"at\":\"x\"]}"}`, id))})
	}
	return out
}

// put adds the events from..to and waits until they are in the log's files (for the reads from disk).
func put(t *testing.T, l *Log[event], from, to uint64) {
	t.Helper()
	if err := l.CatchUp(events(from, to)); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitFor(to); err != nil {
		t.Fatal(err)
	}
}

// all reads every event after after, a page at a time, and checks that the ids run on by one (from the first
// returned, which is the oldest kept when after is older).
func all(t *testing.T, l *Log[event], after uint64) []event {
	t.Helper()
	var out []event
	for {
		page, _, err := l.Since(after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			if ev.ID != after+1 && (len(out) > 0 || ev.ID <= after) {
				t.Fatalf("event %d after %d", ev.ID, after)
			}
			after = ev.ID
		}
		out = append(out, page...)
	}
}

// dropRing makes reads go to the disk, as for a reader far behind.
func (l *Log[E]) dropRing() {
	l.mu.Lock()
	l.ring = nil
	l.mu.Unlock()
}

// Ids go on after a restart with no gap and no duplicate, whether the caller adds again events the log kept (a
// replay makes them again) or not, and whether the reads come from memory or from disk.
func TestIDsContinueAfterARestart(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 2000)
	if err := l.CatchUp(events(1, 40)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir, 2000)
	if got := l.LastID(); got != 40 {
		t.Fatalf("last id after a restart %d, want 40", got)
	}
	// Before the background index is in, reads come from the disk.
	if got := all(t, l, 0); len(got) != 40 {
		t.Fatalf("%d events before the index, want 40", len(got))
	}
	// A replay makes again events 31 to 40, then new ones.
	put(t, l, 31, 55)
	<-l.Indexed()
	for _, from := range []string{"memory", "disk"} {
		if from == "disk" {
			l.dropRing()
		}
		got := all(t, l, 0)
		if len(got) != 55 {
			t.Fatalf("%d events from %s, want 55", len(got), from)
		}
		if got[54].Order == nil || !strings.Contains(string(got[54].Order), "ord_55") {
			t.Fatalf("event 55 from %s: %+v", from, got[54])
		}
	}
	l.Close()
}

// A crash leaves the last segment torn: Open cuts it at the first bad frame and the ids go on from the last event
// intact, which the caller (whose records are durable) makes again.
func TestIDsContinueAfterACrashMidWay(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1<<20)
	if err := l.WaitFor(0); err != nil {
		t.Fatal(err)
	}
	put(t, l, 1, 30)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	last := segs[len(segs)-1]
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	// The crash wrote the frames up to some byte of event 21's and nothing after: the rest of the preallocated
	// segment is zeros.
	var cut int
	j, err := journal.Open(dir, journal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	j.Replay(0, func(seq uint64, rec []byte) error {
		if seq == 21 {
			cut = strings.Index(string(b), string(rec)) + len(rec)/2
		}
		return nil
	})
	j.Close()
	clear(b[cut:])
	if err := os.WriteFile(last, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir, 1<<20)
	defer l.Close()
	if l.Recovery().Cut == nil {
		t.Fatal("Open did not cut the torn tail")
	}
	if got := l.LastID(); got != 20 {
		t.Fatalf("last id after the crash %d, want 20", got)
	}
	put(t, l, 15, 35)
	<-l.Indexed()
	if got := all(t, l, 0); len(got) != 35 {
		t.Fatalf("%d events after the crash, want 35", len(got))
	}
	l.dropRing()
	if got := all(t, l, 18); len(got) != 17 || got[0].ID != 19 {
		t.Fatalf("events after 18 from disk: %d from %d", len(got), got[0].ID)
	}
}

// Retention waits for the index of times, cuts whole segments of events older than the cutoff, and never moves
// the floor back.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1000)
	for _, ev := range events(1, 60) { // one commit each: a segment ends at a commit
		if err := l.CatchUp([]event{ev}); err != nil {
			t.Fatal(err)
		}
		l.WaitFor(ev.ID)
	}
	l.Close()
	l = open(t, dir, 1000)
	defer l.Close()
	<-l.Indexed()
	cutoff := t0.Add(40 * time.Minute)
	if err := l.Prune(cutoff); err != nil {
		t.Fatal(err)
	}
	l.dropRing()
	got := all(t, l, 0)
	if len(got) == 0 || got[0].ID == 1 || got[0].ID > 40 {
		t.Fatalf("after pruning at event 40's time the first event is %d", got[0].ID)
	}
	if got[len(got)-1].ID != 60 {
		t.Fatalf("last event %d, want 60", got[len(got)-1].ID)
	}
	before, _ := l.j.Floor()
	if err := l.Prune(t0); err != nil { // an earlier cutoff: nothing to do
		t.Fatal(err)
	}
	if floor, _ := l.j.Floor(); floor != before {
		t.Fatalf("floor %d after an earlier cutoff, was %d", floor, before)
	}
}

// SkipTo numbers on after events the log lost, and the background index does not put the lost run back.
func TestSkipTo(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0)
	l.CatchUp(events(1, 10))
	l.Close()
	l = open(t, dir, 0)
	defer l.Close()
	if err := l.SkipTo(25); err != nil {
		t.Fatal(err)
	}
	put(t, l, 26, 28)
	<-l.Indexed()
	// A reader from before the skip gets what is left, then the events after the skip.
	if got, _, err := l.Since(5, 10); err != nil || len(got) != 8 || got[4].ID != 10 || got[5].ID != 26 {
		t.Fatalf("events after 5, across the skip: %+v %v", got, err)
	}
	if got := all(t, l, 25); len(got) != 3 || got[0].ID != 26 {
		t.Fatalf("events after the skip: %+v", got)
	}
}

// A log closed before its index was started closes, and says the index is done.
func TestCloseWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0)
	l.CatchUp(events(1, 3))
	l.Close()
	l, err := Open(dir, Options[event]{ID: func(e *event) uint64 { return e.ID }, At: func(e *event) time.Time { return e.At }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-l.Indexed()
	l.BuildIndex() // after Close: nothing to do
}

// An event on disk whose id is not its place is never served: the read fails naming it.
func TestWrongIDIsNotServed(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, journal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events(1, 3) {
		if ev.ID == 2 {
			ev.ID = 7
		}
		b, _ := json.Marshal(ev)
		j.Append(b)
	}
	j.Wait(context.Background(), 3)
	j.Close()
	l := open(t, dir, 0)
	defer l.Close()
	<-l.Indexed()
	if _, _, err := l.Since(0, 10); err == nil || !strings.Contains(err.Error(), "event 2 has id 7") {
		t.Fatalf("reading past a misfiled event: %v", err)
	}
	if page, _, err := l.Since(2, 10); err != nil || len(page) != 1 || page[0].ID != 3 {
		t.Fatalf("reading after it: %+v %v", page, err)
	}
}

// The quick read of an event's id and time gives what decoding it gives, or declines.
func TestQuickStamp(t *testing.T) {
	for _, c := range []struct {
		rec string
		ok  bool
	}{
		{`{"id":12,"type":"order.created","at":"2026-12-07T08:00:00.5Z","order":{"at":"x"}}`, true},
		{`{"id":12,"order":{"id":1,"at":"2020-01-01T00:00:00Z"},"at":"2026-12-07T08:00:00Z"}`, false}, // nested first
		{`{"type":"x","id":12,"at":"2026-12-07T08:00:00Z"}`, false},
		{`{"id":12,"type":"a\",\"at\":\"2020-01-01T00:00:00Z","at":"2026-12-07T08:00:00Z"}`, true},
	} {
		var want struct {
			ID uint64    `json:"id"`
			At time.Time `json:"at"`
		}
		if err := json.Unmarshal([]byte(c.rec), &want); err != nil {
			t.Fatal(err)
		}
		id, at, ok := quickStamp([]byte(c.rec))
		if ok != c.ok || ok && (id != want.ID || !at.Equal(want.At)) {
			t.Errorf("%s: quick read %d %v %v, decoded %d %v", c.rec, id, at, ok, want.ID, want.At)
		}
		if id, at, err := stamp([]byte(c.rec)); err != nil || id != want.ID || !at.Equal(want.At) {
			t.Errorf("%s: stamp %d %v %v, decoded %d %v", c.rec, id, at, err, want.ID, want.At)
		}
	}
}

// FuzzRecord appends one record to a small log and opens it: it opens (the records are read after), and after any
// id it serves, from memory and from disk, exactly the events that follow, in order, each with the id it was
// written under; a record that is not such an event is never served (the read that reaches it fails).
// fuzzSegment keeps the fuzz target's segments small: each run copies them and checks their preallocated tail.
const fuzzSegment = 64 << 10

func FuzzRecord(f *testing.F) {
	base := f.TempDir()
	l := open(f, base, fuzzSegment)
	if err := l.CatchUp(events(1, 12)); err != nil {
		f.Fatal(err)
	}
	l.Close()
	for _, ev := range events(5, 6) {
		b, _ := json.Marshal(ev)
		f.Add(b) // an event again, under the wrong id
	}
	b, _ := json.Marshal(events(13, 13)[0])
	f.Add(b) // the event that would come next
	f.Fuzz(func(t *testing.T, rec []byte) {
		dir := t.TempDir()
		segs, _ := filepath.Glob(filepath.Join(base, "seg-*"))
		for _, s := range segs {
			b, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, filepath.Base(s)), b, 0o600)
		}
		j, err := journal.Open(dir, journal.Options{NoSync: true, SegmentBytes: fuzzSegment})
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := j.Append(rec)
		j.Wait(context.Background(), seq)
		j.Close()
		var ev event
		good := json.Unmarshal(rec, &ev) == nil && ev.ID == seq
		l := open(t, dir, fuzzSegment)
		defer l.Close()
		if last := l.LastID(); last != seq {
			t.Fatalf("the log holds %d records, its last event id is %d", seq, last)
		}
		<-l.Indexed()
		for _, from := range []string{"memory", "disk"} {
			if from == "disk" {
				l.dropRing()
			}
			for after := uint64(0); after <= seq; after++ {
				page, _, err := l.Since(after, 1000)
				if err != nil {
					if good || after >= seq {
						t.Fatalf("events after %d from %s: %v", after, from, err)
					}
					continue
				}
				if !good && after < seq {
					t.Fatalf("events after %d from %s: served %d events through a record that is no event %d", after, from, len(page), seq)
				}
				if uint64(len(page)) != seq-after {
					t.Fatalf("%d events after %d of %d from %s", len(page), after, seq, from)
				}
				for i, ev := range page {
					if ev.ID != after+1+uint64(i) {
						t.Fatalf("events after %d from %s: #%d has id %d", after, from, i, ev.ID)
					}
				}
			}
		}
	})
}

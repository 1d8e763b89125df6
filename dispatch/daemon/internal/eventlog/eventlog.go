// Package eventlog is the daemon's durable, ordered log of events: a journal (package journal) whose sequence
// numbers are the event ids, a ring of the most recent events in memory, and a wake-up for readers.
//
// Events are stored as JSON objects with two top-level fields the log reads itself: "id" (the event's id, which
// must equal its sequence number) and "at" (its time, for retention). The rest is the caller's (type E).
//
// Open reads no event. Opening the journal checks every frame (checksums, a torn tail cut off, the run of
// sequence numbers), which tells the log where its ids stand; the ring of recent events and the index of times
// that retention cuts by are filled by a goroutine of the log's own, started by BuildIndex. Until they are,
// readers are served from the disk and Prune does nothing. Building them in the background rather than
// persisting an index keeps one source of truth: no index file to keep in step with the segments, nothing to
// repair after a crash between the two.
package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// RingSize is how many recent events the log keeps in memory, so that streams and deliveries that keep up never
// read the disk.
const RingSize = 1 << 13

// errStop ends a replay early.
var errStop = errors.New("stop")

// Options configure a log.
type Options[E any] struct {
	// SegmentBytes is the size of the journal's files, the grain of Prune (0: the journal's default).
	SegmentBytes int64
	// Salvage opens a damaged journal on what is intact (journal.Options.Salvage).
	Salvage bool
	// Log gets the write errors and what the background index finds wrong.
	Log zerolog.Logger
	// ID and At read an event's id and time; the log sets neither.
	ID func(*E) uint64
	At func(*E) time.Time
	// Upgrade, when set, is called on every event read from disk before it is served: it brings an event an
	// older version wrote to the current form (a field added since, with the value it stands for).
	Upgrade func(*E)
}

// Log is an event log. Add, Since, LastID and the rest may be called from any goroutine.
type Log[E any] struct {
	j   *journal.Journal
	opt Options[E]

	// queue holds added events not yet written; the writer goroutine takes them, so that encoding events never
	// sits on the caller's path. cond wakes the writer and whoever waits for it.
	queue   []E
	queued  uint64 // last id queued
	cond    *sync.Cond
	closing bool
	// failed is the first write error: the log stops taking events, and those waiting for them are released.
	failed  error
	stopped chan struct{}
	// indexDone is closed when the background index has finished (or given up, or was never started); stop asks
	// it to give up. opened is the journal's floor and last id at Open, what the index reads.
	indexDone chan struct{}
	stop      chan struct{}
	indexOnce sync.Once
	openFloor uint64
	openLast  uint64

	mu     sync.Mutex
	ring   []E    // a run of events with consecutive ids, ring[0] having id first
	first  uint64 // id of ring[0]
	last   uint64 // last event id written (or found at Open)
	notify chan struct{}
	// floor is the journal's floor: ids up to it are gone (Prune, SkipTo).
	floor uint64
	// minutes samples (id, time) once a minute, to find where retention cuts; indexed says it covers the events
	// found at Open (the background index merged its marks in).
	minutes []mark
	indexed bool
}

type mark struct {
	id uint64
	at time.Time
}

// Open opens (or creates) the event log in dir. It reads no event (see the package comment): the journal's own
// checks are all it waits for. The log is written without an fsync per append: the caller's events can be made
// again from its own durable records, as long as it calls WaitFor before it stops being able to (a checkpoint);
// so a torn or damaged last segment is cut at its first bad frame whatever follows.
func Open[E any](dir string, opt Options[E]) (*Log[E], error) {
	if opt.ID == nil || opt.At == nil {
		return nil, errors.New("eventlog: Options.ID and Options.At are required")
	}
	j, err := journal.Open(dir, journal.Options{SegmentBytes: opt.SegmentBytes, NoSync: true, Salvage: opt.Salvage})
	if err != nil {
		return nil, err
	}
	floor, err := j.Floor()
	if err != nil {
		j.Close()
		return nil, err
	}
	l := &Log[E]{j: j, opt: opt, notify: make(chan struct{}), stopped: make(chan struct{}),
		indexDone: make(chan struct{}), stop: make(chan struct{}), floor: floor}
	l.cond = sync.NewCond(&l.mu)
	// The journal checked that its sequence numbers run on from the floor without a gap: its last is the last id.
	l.last = j.LastSeq()
	l.queued = l.last
	l.openFloor, l.openLast = floor, l.last
	go l.writer()
	return l, nil
}

// BuildIndex starts filling the ring and the minute marks from the events found at Open, in the background (see
// the package comment). The caller chooses when: the daemon starts it once recovery, which wants both cores, is
// done. Calls after the first do nothing.
func (l *Log[E]) BuildIndex() {
	l.indexOnce.Do(func() { go l.index(l.openFloor, l.openLast) })
}

// Recovery is what opening the journal found and did about damage.
func (l *Log[E]) Recovery() journal.Recovery { return l.j.Recovery() }

// index fills, in the background, the ring with the last events found at Open (from, to] and the minute marks
// with all of them, checking every event's id against its place in the log.
func (l *Log[E]) index(from, to uint64) {
	defer close(l.indexDone)
	if to <= from {
		l.mu.Lock()
		l.indexed = true
		l.mu.Unlock()
		return
	}
	ringFrom := max(from, to-min(to, RingSize/2))
	var marks []mark
	var tail []E
	err := l.j.Replay(from, func(seq uint64, rec []byte) error {
		select {
		case <-l.stop:
			return errStop
		default:
		}
		id, at, err := stamp(rec)
		if err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		if id != seq {
			return fmt.Errorf("event %d has id %d", seq, id)
		}
		if n := len(marks); n == 0 || at.Sub(marks[n-1].at) >= time.Minute {
			marks = append(marks, mark{id, at})
		}
		if seq > ringFrom {
			ev, err := l.decode(seq, rec)
			if err != nil {
				return err
			}
			tail = append(tail, ev)
		}
		if seq == to {
			return errStop
		}
		return nil
	})
	complete := err == errStop && len(tail) > 0 && l.opt.ID(&tail[len(tail)-1]) == to
	if err != nil && err != errStop {
		// Readers that reach the damaged event get the same error from the disk; new events are unaffected, and
		// retention works with the marks read before it.
		l.opt.Log.Error().Err(err).Msg("event log: reading the events found at the start")
	} else if !complete {
		return // stopped by Close
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Installed only where it joins what was written since Open (SkipTo may have moved the ids on meanwhile).
	if complete && ((len(l.ring) == 0 && l.last == to) || (len(l.ring) > 0 && l.first == to+1)) {
		l.ring = append(tail, l.ring...)
		l.first = to + 1 - uint64(len(tail))
		l.trimRing()
	}
	// Marks at or below the floor are of events gone (SkipTo, or a Prune of live events).
	kept := marks[:0]
	for _, m := range marks {
		if m.id > l.floor {
			kept = append(kept, m)
		}
	}
	l.minutes = append(kept, l.minutes...)
	l.indexed = true
}

// decode decodes the event of sequence number seq, which must carry seq as its id: one filed under another number
// would be served in the wrong place.
func (l *Log[E]) decode(seq uint64, rec []byte) (E, error) {
	var ev E
	if err := json.Unmarshal(rec, &ev); err != nil {
		return ev, fmt.Errorf("event %d: %w", seq, err)
	}
	if id := l.opt.ID(&ev); id != seq {
		return ev, fmt.Errorf("event %d has id %d", seq, id)
	}
	if l.opt.Upgrade != nil {
		l.opt.Upgrade(&ev)
	}
	return ev, nil
}

// stamp reads an event's "id" and "at". Events as encoding/json writes them open with the id and have "at"
// before any nested value, which is read without decoding the event; anything else is decoded.
func stamp(rec []byte) (uint64, time.Time, error) {
	if id, at, ok := quickStamp(rec); ok {
		return id, at, nil
	}
	var s struct {
		ID uint64    `json:"id"`
		At time.Time `json:"at"`
	}
	err := json.Unmarshal(rec, &s)
	return s.ID, s.At, err
}

// quickStamp reads `{"id":N,` and then `,"at":"T"` before the first '{' or '[' after the opening brace. The
// sequence `,"at":"` cannot occur inside a JSON string (a quote there is escaped), so what it finds before any
// nested value is the top-level key.
func quickStamp(rec []byte) (uint64, time.Time, bool) {
	const idKey, atKey = `{"id":`, `,"at":"`
	if !bytes.HasPrefix(rec, []byte(idKey)) {
		return 0, time.Time{}, false
	}
	rest := rec[len(idKey):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	id, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil || n == len(rest) || rest[n] != ',' {
		return 0, time.Time{}, false
	}
	rest = rest[n:]
	if nested := bytes.IndexAny(rest, "{["); nested >= 0 {
		rest = rest[:nested]
	}
	i := bytes.Index(rest, []byte(atKey))
	if i < 0 {
		return 0, time.Time{}, false
	}
	rest = rest[i+len(atKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return 0, time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	if err != nil {
		return 0, time.Time{}, false
	}
	return id, at, true
}

// writer writes queued events in order until Close.
func (l *Log[E]) writer() {
	defer close(l.stopped)
	l.mu.Lock()
	for {
		for len(l.queue) == 0 && !l.closing {
			l.cond.Wait()
		}
		if len(l.queue) == 0 && l.closing {
			l.mu.Unlock()
			return
		}
		batch := l.queue
		l.queue = nil
		l.mu.Unlock()
		encoded := make([][]byte, len(batch))
		var encErr error
		for i := range batch {
			if encoded[i], encErr = json.Marshal(&batch[i]); encErr != nil {
				break
			}
		}
		l.mu.Lock()
		for i := range batch {
			id := l.opt.ID(&batch[i])
			err := encErr
			var seq uint64
			if err == nil {
				seq, err = l.j.Append(encoded[i])
			}
			if err == nil && seq != id {
				err = fmt.Errorf("journal gave sequence %d to event %d", seq, id)
			}
			if err != nil {
				l.opt.Log.Error().Err(err).Uint64("id", id).Msg("event log: append failed; no more events are written")
				l.failed = err
				l.queue = nil
				break
			}
			l.keep(batch[i])
		}
		close(l.notify)
		l.notify = make(chan struct{})
		l.cond.Broadcast()
	}
}

// keep puts a written event in the ring and the minute marks. Callers hold mu.
func (l *Log[E]) keep(ev E) {
	id := l.opt.ID(&ev)
	if len(l.ring) == 0 {
		l.first = id
	}
	l.ring = append(l.ring, ev)
	l.trimRing()
	l.last = id
	at := l.opt.At(&ev)
	if n := len(l.minutes); n == 0 || at.Sub(l.minutes[n-1].at) >= time.Minute {
		l.minutes = append(l.minutes, mark{id, at})
	}
}

// trimRing keeps the ring within RingSize, dropping the older half when it is over. Callers hold mu.
func (l *Log[E]) trimRing() {
	if len(l.ring) > RingSize {
		drop := len(l.ring) - RingSize/2
		l.ring = append(l.ring[:0:0], l.ring[drop:]...)
		l.first += uint64(drop)
	}
}

// Add queues events for the writer; they are readable once written (Written). Ids the log already has are
// skipped (after a restart the caller makes again events the log kept); a gap is a bug, logged.
func (l *Log[E]) Add(evs []E) {
	if len(evs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return
	}
	for i := range evs {
		id := l.opt.ID(&evs[i])
		if id <= l.queued {
			continue
		}
		if id != l.queued+1 {
			l.opt.Log.Error().Uint64("id", id).Uint64("last", l.queued).Msg("event log: gap in event ids")
		}
		l.queue = append(l.queue, evs[i])
		l.queued = id
	}
	l.cond.Broadcast()
}

// Written waits until the writer has taken every event up to id, and returns its error if it failed.
func (l *Log[E]) Written(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.last < id && !l.closing && l.failed == nil {
		l.cond.Wait()
	}
	if l.failed != nil {
		return fmt.Errorf("event log: %w", l.failed)
	}
	return nil
}

// CatchUp adds events and waits until they are written: after a replay, the events the log does not have yet.
func (l *Log[E]) CatchUp(evs []E) error {
	l.Add(evs)
	if len(evs) > 0 {
		return l.Written(l.opt.ID(&evs[len(evs)-1]))
	}
	return nil
}

// WaitFor blocks until every event up to id is on disk.
func (l *Log[E]) WaitFor(id uint64) error {
	if id == 0 {
		return nil
	}
	if err := l.Written(id); err != nil {
		return err
	}
	if err := l.j.Wait(context.Background(), id); err != nil {
		return err
	}
	return l.j.Sync()
}

// Since returns up to limit events after the id after, oldest first, from memory when it has them and from disk
// otherwise, and a channel closed when more arrive. Events pruned away are skipped: the first returned is then
// the oldest kept. An event on disk whose id is not its place in the log is an error, never served.
func (l *Log[E]) Since(after uint64, limit int) ([]E, <-chan struct{}, error) {
	l.mu.Lock()
	notify, first, last := l.notify, l.first, l.last
	if after >= last {
		l.mu.Unlock()
		return nil, notify, nil
	}
	if len(l.ring) > 0 && after+1 >= first {
		from := int(after + 1 - first)
		to := min(len(l.ring), from+limit)
		out := append([]E(nil), l.ring[from:to]...)
		l.mu.Unlock()
		return out, notify, nil
	}
	l.mu.Unlock()
	var out []E
	err := l.j.Replay(after, func(seq uint64, rec []byte) error {
		ev, err := l.decode(seq, rec)
		if err != nil {
			return err
		}
		out = append(out, ev)
		if len(out) == limit || seq >= last {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return nil, notify, fmt.Errorf("event log: %w", err)
	}
	return out, notify, nil
}

// SkipTo makes the next event id+1: for a log that lost events the caller had numbered (salvage). It may be
// called before any event is added.
func (l *Log[E]) SkipTo(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.j.Skip(id); err != nil {
		return err
	}
	// The ring holds a run of ids ending at last; reads past it go to the disk.
	l.ring = l.ring[:0]
	l.last, l.queued, l.floor = id, id, id
	l.minutes = l.minutes[:0]
	return nil
}

// LastID is the id of the newest event written.
func (l *Log[E]) LastID() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Prune deletes events older than cutoff, a whole segment at a time. Until the background index is in, it does
// nothing (the next call does it).
func (l *Log[E]) Prune(cutoff time.Time) error {
	l.mu.Lock()
	if !l.indexed {
		l.mu.Unlock()
		return nil
	}
	var upTo uint64
	n := 0
	for n < len(l.minutes)-1 && l.minutes[n+1].at.Before(cutoff) {
		n++
	}
	if n > 0 {
		upTo = l.minutes[n].id - 1
		l.minutes = l.minutes[n:]
	}
	// The floor only goes up: one moved back would have the journal expect records it deleted.
	if upTo <= l.floor {
		l.mu.Unlock()
		return nil
	}
	l.floor = upTo
	l.mu.Unlock()
	return l.j.Truncate(upTo)
}

// Indexed returns a channel closed once the background index has finished (or given up, or Close found it not
// started).
func (l *Log[E]) Indexed() <-chan struct{} { return l.indexDone }

// Close stops the background index, writes what is queued, stops the writer and closes the journal (which syncs
// it).
func (l *Log[E]) Close() error {
	l.mu.Lock()
	alreadyClosing := l.closing
	l.closing = true
	l.cond.Broadcast()
	l.mu.Unlock()
	if alreadyClosing {
		return nil
	}
	close(l.stop)
	l.indexOnce.Do(func() { close(l.indexDone) }) // never started
	<-l.indexDone
	<-l.stopped
	return l.j.Close()
}

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// errPageFull stops a replay of the event log once a page is read.
var errPageFull = errors.New("page full")

// ringSize is how many recent events the event log keeps in memory, so that streams and deliveries that keep up
// never read the disk.
const ringSize = 1 << 13

// eventLog is the durable, ordered log of order events: a journal whose sequence numbers are the event ids, a ring
// of the most recent events, and a wake-up for readers. It is written by the publisher (events appear only once the
// records that caused them are durable) and read by any goroutine.
type eventLog struct {
	j            *journal.Journal
	log          zerolog.Logger
	dir          string
	segmentBytes int64

	// queue holds published events not yet written; the writer goroutine takes them, so that encoding events
	// never sits on the record journal's commit path. cond wakes the writer and whoever waits for it.
	queue   []service.OrderEvent
	queued  uint64 // last id queued
	cond    *sync.Cond
	closing bool
	// failed is the first write error: the log stops taking events, and those waiting for them are released.
	failed  error
	stopped chan struct{}

	mu     sync.Mutex
	ring   []service.OrderEvent // ring[i%ringSize] holds event ringFirst+i... kept as a slice with a start id
	first  uint64               // id of ring[0]
	last   uint64               // last event id added
	notify chan struct{}
	// minutes samples (id, time) once a minute, to find where retention cuts.
	minutes []eventMark
}

type eventMark struct {
	id uint64
	at time.Time
}

// The event log is written without an fsync per commit: its events can be made again by replaying the record
// journal, as long as the events a checkpoint covers are synced before the checkpoint is written (waitFor). So
// Open cuts its last segment at the first bad frame whatever follows (a crash may lose any unsynced part of it),
// and recover checks that what is left still reaches the checkpoint's events.
func openEventLog(dir string, segmentBytes int64, log zerolog.Logger, salvage bool) (*eventLog, error) {
	j, err := journal.Open(dir, journal.Options{SegmentBytes: segmentBytes, NoSync: true, Salvage: salvage})
	if err != nil {
		return nil, fmt.Errorf("daemon: event log: %w", salvageable(err))
	}
	l := &eventLog{j: j, log: log, dir: dir, segmentBytes: segmentBytes, notify: make(chan struct{}), stopped: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	logRecovery(log, "event log", j.Recovery(), "a crash loses what was not synced; the replay makes those events again")
	// Rebuild the ring and the minute marks from what is on disk.
	floor, err := j.Floor()
	if err != nil {
		j.Close()
		return nil, err
	}
	l.last = floor
	err = j.Replay(floor, func(seq uint64, rec []byte) error {
		var ev service.OrderEvent
		if err := json.Unmarshal(rec, &ev); err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		// Readers find an event by its id as a position in the log: one filed under another number would be served
		// in the wrong place, and the next one written would fail.
		if ev.ID != seq {
			return fmt.Errorf("event %d has id %d", seq, ev.ID)
		}
		l.keep(ev)
		return nil
	})
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("daemon: event log: %w", err)
	}
	l.queued = l.last
	go l.writer()
	return l, nil
}

// writer writes queued events in order until close.
func (l *eventLog) writer() {
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
		for i, ev := range batch {
			encoded[i], _ = json.Marshal(ev)
		}
		l.mu.Lock()
		for i, ev := range batch {
			seq, err := l.j.Append(encoded[i])
			if err == nil && seq != ev.ID {
				err = fmt.Errorf("journal gave sequence %d to event %d", seq, ev.ID)
			}
			if err != nil {
				l.log.Error().Err(err).Uint64("id", ev.ID).Msg("event log: append failed; no more events are written")
				l.failed = err
				l.queue = nil
				break
			}
			l.keep(ev)
		}
		close(l.notify)
		l.notify = make(chan struct{})
		l.cond.Broadcast()
	}
}

// keep puts an event in the ring and the minute marks. Callers hold mu (or are openEventLog).
func (l *eventLog) keep(ev service.OrderEvent) {
	if len(l.ring) == 0 {
		l.first = ev.ID
	}
	l.ring = append(l.ring, ev)
	if len(l.ring) > ringSize {
		drop := len(l.ring) - ringSize/2
		l.ring = append(l.ring[:0:0], l.ring[drop:]...)
		l.first += uint64(drop)
	}
	l.last = ev.ID
	if n := len(l.minutes); n == 0 || ev.At.Sub(l.minutes[n-1].at) >= time.Minute {
		l.minutes = append(l.minutes, eventMark{ev.ID, ev.At})
	}
}

// add queues published events for the writer. Ids the log already has are skipped (after a restart the replay
// makes events the log kept); a gap is a bug, logged.
func (l *eventLog) add(evs []service.OrderEvent) {
	if len(evs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return
	}
	for _, ev := range evs {
		if ev.ID <= l.queued {
			continue
		}
		if ev.ID != l.queued+1 {
			l.log.Error().Uint64("id", ev.ID).Uint64("last", l.queued).Msg("event log: gap in event ids")
		}
		l.queue = append(l.queue, ev)
		l.queued = ev.ID
	}
	l.cond.Broadcast()
}

// written waits until the writer has taken every event up to id, and returns its error if it failed.
func (l *eventLog) written(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.last < id && !l.closing && l.failed == nil {
		l.cond.Wait()
	}
	if l.failed != nil {
		return fmt.Errorf("daemon: event log: %w", l.failed)
	}
	return nil
}

// catchUp writes, after a replay, the events the log does not have yet.
func (l *eventLog) catchUp(evs []service.OrderEvent) error {
	l.add(evs)
	if len(evs) > 0 {
		return l.written(evs[len(evs)-1].ID)
	}
	return nil
}

// waitFor blocks until every event up to id is on disk (the checkpoint that covers them is about to be written).
func (l *eventLog) waitFor(id uint64) error {
	if id == 0 {
		return nil
	}
	if err := l.written(id); err != nil {
		return err
	}
	if err := l.j.Wait(context.Background(), id); err != nil {
		return err
	}
	return l.j.Sync()
}

// Since returns up to limit events after the id after, oldest first, from memory when it has them and from disk
// otherwise, and a channel closed when more arrive. Events compacted away are skipped: the first returned is then
// the oldest kept.
func (l *eventLog) since(after uint64, limit int) ([]service.OrderEvent, <-chan struct{}, error) {
	l.mu.Lock()
	notify, first, last := l.notify, l.first, l.last
	if after >= last {
		l.mu.Unlock()
		return nil, notify, nil
	}
	if len(l.ring) > 0 && after+1 >= first {
		from := int(after + 1 - first)
		to := min(len(l.ring), from+limit)
		out := append([]service.OrderEvent(nil), l.ring[from:to]...)
		l.mu.Unlock()
		return out, notify, nil
	}
	l.mu.Unlock()
	var out []service.OrderEvent
	err := l.j.Replay(after, func(seq uint64, rec []byte) error {
		var ev service.OrderEvent
		if err := json.Unmarshal(rec, &ev); err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		out = append(out, ev)
		if len(out) == limit {
			return errPageFull
		}
		return nil
	})
	if err != nil && err != errPageFull {
		return nil, notify, err
	}
	return out, notify, nil
}

// skipTo makes the next event id+1: for an event log that lost events a checkpoint covers (salvage), since the
// checkpoint fixes the ids of the events that follow. Called by recover, before any event is added.
func (l *eventLog) skipTo(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.j.Skip(id); err != nil {
		return err
	}
	// The ring holds a run of ids ending at last; reads past it go to the disk.
	l.ring = l.ring[:0]
	l.last, l.queued = id, id
	return nil
}

// lastID is the id of the newest event.
func (l *eventLog) lastID() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// prune compacts the log: events older than cutoff go, a whole segment at a time.
func (l *eventLog) prune(cutoff time.Time) error {
	l.mu.Lock()
	var upTo uint64
	n := 0
	for n < len(l.minutes)-1 && l.minutes[n+1].at.Before(cutoff) {
		n++
	}
	if n > 0 {
		upTo = l.minutes[n].id - 1
		l.minutes = l.minutes[n:]
	}
	l.mu.Unlock()
	if upTo == 0 {
		return nil
	}
	return l.j.Truncate(upTo)
}

// close writes what is queued, stops the writer and closes the journal (which syncs it).
func (l *eventLog) close() error {
	l.mu.Lock()
	l.closing = true
	l.cond.Broadcast()
	l.mu.Unlock()
	<-l.stopped
	return l.j.Close()
}

// Events returns up to limit order events after the id after (oldest first), and a channel that is closed when
// newer ones arrive. An id older than the retention resumes at the oldest event kept.
func (d *Daemon) Events(after uint64, limit int) ([]service.OrderEvent, <-chan struct{}, error) {
	return d.events.since(after, min(max(limit, 1), 1000))
}

// LastEventID is the id of the newest order event.
func (d *Daemon) LastEventID() uint64 { return d.events.lastID() }

package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// A region's daemon in a cluster (docs/cluster.md) is its owner, writing the region's journal, or a warm standby
// applying what the owner wrote. A standby recovers from the region's latest checkpoint, then Follow hands it the
// owner's records one at a time: it applies them as recovery's replay does (a round's decision is applied, not
// planned again), so its state, views and event ids are the owner's. Promote makes it the owner; Abandon stops an
// owner whose lease is gone.

// errAbandoned is what the daemon says once Abandon was called.
var errAbandoned = &dispatch.Error{Code: dispatch.EUnavailable, Message: "this node lost the region's lease; not accepted"}

// errStandby is a standby's refusal of a command.
func (d *Daemon) errStandby() error {
	return &dispatch.Error{Code: dispatch.EUnavailable, Message: fmt.Sprintf("region %s is owned by another node", d.regionName())}
}

// regionName names the region, from the checkpoint store when it says (a method Region() string).
func (d *Daemon) regionName() string {
	if r, ok := d.cfg.Checkpoints.(interface{ Region() string }); ok {
		return r.Region()
	}
	return "(this region)"
}

// followLog is a standby's journal: it writes nothing, and its position (LastSeq and Durable) is the last record
// followed, so that the snapshots of followed records are published as soon as they are applied.
type followLog struct{ pos atomic.Uint64 }

var errFollowLog = errors.New("daemon: a standby writes no journal record")

func (l *followLog) Append([]byte) (uint64, error) { return 0, errFollowLog }
func (l *followLog) Wait(_ context.Context, seq uint64) error {
	if seq <= l.pos.Load() {
		return nil
	}
	return errFollowLog
}
func (l *followLog) Durable() uint64                                 { return l.pos.Load() }
func (l *followLog) LastSeq() uint64                                 { return l.pos.Load() }
func (l *followLog) Pending() int                                    { return 0 }
func (l *followLog) Err() error                                      { return nil }
func (l *followLog) Replay(uint64, func(uint64, []byte) error) error { return nil }
func (l *followLog) Truncate(uint64) error                           { return nil }
func (l *followLog) Floor() (uint64, error)                          { return 0, nil }
func (l *followLog) Close() error                                    { return nil }

// Skip sets the position: the checkpoint the standby starts from.
func (l *followLog) Skip(seq uint64) error {
	l.pos.Store(seq)
	return nil
}

var _ journal.Log = (*followLog)(nil)

type followRequest struct {
	seq   uint64
	rec   []byte
	reply chan error
}

type promoteRequest struct {
	j     journal.Log
	reply chan error
}

// Standby reports whether the daemon is a standby (not yet promoted).
func (d *Daemon) Standby() bool { return d.standby.Load() }

// Position is the last journal sequence number the daemon's state includes (owner or standby): on an owner the
// last record appended, on a standby the last followed (or its checkpoint's).
func (d *Daemon) Position() uint64 { return d.jnl().LastSeq() }

// Follow applies, on a standby, a record the owner wrote at seq. Records at or below Position are skipped (a
// follower that reconnected sends them again); gaps above are allowed (the stream's takeover markers take numbers
// but are not handed on). Called from one goroutine; returns once the record is applied and its snapshot
// published (or ctx ends). A record that does not decode is an error (the standby should be opened again); one
// that applying refuses is logged and passed, as recovery does.
func (d *Daemon) Follow(ctx context.Context, seq uint64, rec []byte) error {
	req := followRequest{seq: seq, rec: rec, reply: make(chan error, 1)}
	select {
	case d.follows <- req:
	case <-d.stopped:
		return ErrShutdown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// follow applies a followed record on the loop.
func (d *Daemon) follow(f followRequest) error {
	fl, ok := d.jnl().(*followLog)
	if !ok || !d.standby.Load() {
		return errors.New("daemon: Follow on a daemon that is not a standby")
	}
	if f.seq <= fl.pos.Load() {
		return nil
	}
	rec := new(record)
	if err := json.Unmarshal(f.rec, rec); err != nil {
		return fmt.Errorf("daemon: followed record %d: %w", f.seq, err)
	}
	d.following = true
	d.applyJournaled(f.seq, rec)
	d.following = false
	fl.pos.Store(f.seq)
	d.sinceCkpt++
	d.publish()
	return nil
}

// applyJournaled applies a record read from the journal (recovery's replay, a standby's Follow, Promote's catch-up)
// as replay does: the record's time moves the loop's clock on, and a record older than the engine's clock is
// applied at it. It reports whether the record was applied.
func (d *Daemon) applyJournaled(n uint64, rec *record) bool {
	if rec.At.After(d.lastNow) {
		d.lastNow = rec.At
	}
	if rec.At.Before(d.eng.Now()) {
		rec.At = d.eng.Now()
	}
	d.replaying = true
	_, err := d.apply(rec)
	d.replaying = false
	if err != nil {
		// Only records that were accepted are journaled, so this is a bug; keep going with what can be applied
		// rather than refuse every other order.
		d.log.Error().Err(err).Uint64("seq", n).Str("type", rec.Type).Msg("journal record refused on replay")
		return false
	}
	return true
}

// Promote turns a running standby into the owner: it replays j after Position (the records written since the
// follower's last), then takes commands, writing to j, plans rounds and the scheduled book, writes checkpoints
// and starts webhook deliveries. It returns once the daemon serves. j must be the region's journal opened by the
// new owner (for a stream: in the new lease's epoch, which fenced the old writer off); the daemon closes it when
// it stops. When Promote fails the daemon stays a standby and j is the caller's.
func (d *Daemon) Promote(ctx context.Context, j journal.Log) error {
	if j == nil {
		return errors.New("daemon: Promote: no journal")
	}
	req := promoteRequest{j: j, reply: make(chan error, 1)}
	select {
	case d.promotes <- req:
	case <-d.stopped:
		return ErrShutdown
	case <-ctx.Done():
		return ctx.Err()
	}
	// The loop answers once the promotion is done or failed; it does not stop half way for ctx.
	return <-req.reply
}

// promote runs on the loop.
func (d *Daemon) promote(p promoteRequest) error {
	fl, ok := d.jnl().(*followLog)
	if !ok || !d.standby.Load() {
		return errors.New("daemon: Promote on a daemon that is not a standby")
	}
	if d.abandoned.Load() {
		return errAbandoned
	}
	pos := fl.pos.Load()
	floor, err := p.j.Floor()
	if err != nil {
		return fmt.Errorf("daemon: promote: %w", err)
	}
	if floor > pos {
		return fmt.Errorf("daemon: promote: %w: the journal was truncated after record %d, past the standby's "+
			"position %d: open a standby from the newer checkpoint", journal.ErrBehindFloor, floor, pos)
	}
	if last := p.j.LastSeq(); last < pos {
		return fmt.Errorf("daemon: promote: the journal ends at %d, before the standby's position %d", last, pos)
	}
	began, replayed, refused := d.clock(), 0, 0
	err = d.replayJournal(p.j, pos, func(n uint64, rec *record) error {
		if !d.applyJournaled(n, rec) {
			refused++
		}
		fl.pos.Store(n) // a replay that fails part way leaves a standby at its last record
		replayed++
		return nil
	})
	if err != nil {
		// The records applied so far are the region's (durable in j): the state stays, a standby at its last
		// record, and the caller may follow on or open a new standby.
		d.sinceCkpt += replayed
		d.publish()
		return fmt.Errorf("daemon: promote: replay: %w", err)
	}
	d.jr.Store(&logRef{p.j})
	d.sinceCkpt += replayed
	d.startWatch()
	d.standby.Store(false)
	d.log.Info().Uint64("from", pos).Uint64("to", p.j.LastSeq()).Int("replayed", replayed).Int("refused", refused).
		Float64("took_ms", Millis(d.clock().Sub(began))).Msg("promoted: this daemon owns the region")
	d.startServing()
	return nil
}

// startServing starts what an owner does beyond a standby: webhook deliveries, a checkpoint when the last is older
// than the interval, and the releases of scheduled orders that fell due. On the loop (or before it runs).
func (d *Daemon) startServing() {
	d.startHooks()
	// The checkpoint interval runs from the last checkpoint, across restarts: a start that replayed a journal
	// older than that checkpoints at once (off the loop), or restarts closer together than the interval would
	// replay an ever longer journal.
	if d.sinceCkpt > 0 && d.clock().Sub(d.lastCkpt) >= d.cfg.CheckpointInterval {
		if err := d.checkpoint(false); err != nil {
			d.log.Error().Err(err).Msg("checkpoint after recovery")
		}
	}
	// Releases of scheduled orders that fell due while the daemon was down happen at once (the book is planned
	// again at the first tick).
	if d.jnl().Err() == nil {
		d.releaseDue(d.now())
	}
	d.publish()
}

// startHooks starts webhook deliveries beside the loop, reading the event log, and keepHooks; d.stopHooks stops
// them (they stop before the event log closes).
func (d *Daemon) startHooks() {
	hctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		d.hooks.Run(hctx)
	}()
	go func() {
		defer wg.Done()
		d.keepHooks(hctx)
	}()
	var once sync.Once
	d.stopHooks = func() { once.Do(func() { stop(); wg.Wait() }) }
}

// append writes a record to the journal unless the daemon was abandoned: Abandon takes appendMu, so once it
// returns no append starts.
func (d *Daemon) append(b []byte) (uint64, error) {
	d.appendMu.Lock()
	defer d.appendMu.Unlock()
	if d.abandoned.Load() {
		return 0, errAbandoned
	}
	return d.jnl().Append(b)
}

// Abandon stops the daemon at once because its lease is gone: no append starts after it returns, no checkpoint is
// written, and queued and waiting commands fail with EUnavailable (what was not acknowledged was not promised; a
// record already durable stands, and a retry on the new owner finds it). Run returns after it, closing the
// journal (which waits, at most its own retry time, for the records in flight) and the event log, and writing no
// checkpoint. Safe to call more than once, from any goroutine, before or while Run runs.
func (d *Daemon) Abandon() {
	d.appendMu.Lock()
	d.abandoned.Store(true)
	d.appendMu.Unlock()
	d.abandon1.Do(func() {
		close(d.abandonCh)
		d.bgCancel() // a checkpoint uploading stops
	})
}

// abandonLoop ends Run after Abandon: nothing is written, what waits is refused.
func (d *Daemon) abandonLoop() error {
	// A round still planning is waited for and its decision dropped, like the pieces of one that returned:
	// nothing more is journaled.
	if d.planning && len(d.pieces) == 0 {
		<-d.roundDone
	}
	d.pieces, d.planning = nil, false
	d.sched.stop()
	for {
		select {
		case req := <-d.queue:
			req.reply <- reply{err: errAbandoned}
			continue
		default:
		}
		break
	}
	d.ckptWG.Wait()
	err := d.jnl().Close()
	d.releaseAllHeld()
	d.stopWatch()
	d.stopHooks()
	err = errors.Join(err, d.events.Close())
	d.unlock()
	d.streams.closeAll()
	if err != nil {
		d.log.Warn().Err(err).Msg("abandoned: closing the journal")
	}
	d.log.Warn().Msg("abandoned: the region's lease is gone; this daemon stopped without a checkpoint")
	return nil
}

// durWatch publishes snapshots for a journal the daemon did not open: such a journal has no callback into the
// daemon, so a goroutine waits for the last record published (want) to be durable, then publishes what is.
type durWatch struct {
	target atomic.Uint64
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *durWatch) want(seq uint64) {
	if seq > w.target.Load() {
		w.target.Store(seq)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// startWatch starts the watcher when the journal in use is not the daemon's own local one (whose committer calls
// onDurable itself). On the loop.
func (d *Daemon) startWatch() {
	j := d.jnl()
	if d.watch != nil || !d.needsWatch(j) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &durWatch{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	d.watch = w
	go func() {
		defer close(w.done)
		var seen uint64
		for {
			if target := w.target.Load(); target > seen {
				if err := j.Wait(ctx, target); err != nil {
					if ctx.Err() == nil && !errors.Is(err, journal.ErrClosed) {
						d.onJournalFailed(err)
					}
					return
				}
				seen = j.Durable()
				d.onDurable(seen)
				continue
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	w.want(j.LastSeq())
}

func (d *Daemon) needsWatch(j journal.Log) bool {
	switch j.(type) {
	case *followLog:
		return false
	case *journal.Journal:
		return d.cfg.Journal != nil || d.cfg.Standby // a local journal handed in has no callbacks into the daemon
	}
	return true
}

// stopWatch stops the watcher and waits for it.
func (d *Daemon) stopWatch() {
	if w := d.watch; w != nil {
		w.cancel()
		<-w.done
		d.watch = nil
	}
}

// olderCheckpoints is what a CheckpointStore may also do (ckptstore.RegionStore does): open the newest checkpoint
// below seq.
type olderCheckpoints interface {
	Before(ctx context.Context, seq uint64) (older uint64, rc io.ReadCloser, ok bool, err error)
}

// oldEnough chooses the checkpoint a standby opens from, given the latest (seq, rc): the newest whose events this
// node's event log reaches, so that following the stream from it makes the events in between again and the log
// has no gap (the owner truncates the stream only up to the checkpoint before its latest). When none is old
// enough it is the latest, and the log goes on after it (checkAgainstCheckpoint). It returns the chosen
// checkpoint opened afresh (only the headers were read); rc is closed.
func (d *Daemon) oldEnough(ctx context.Context, older olderCheckpoints, seq uint64, rc io.ReadCloser) (uint64, io.ReadCloser, error) {
	have, latest := d.events.LastID(), seq
	for {
		events, err := checkpointEvents(rc)
		rc.Close()
		if err != nil || events <= have {
			break
		}
		oseq, orc, ok, err := older.Before(ctx, seq)
		if err != nil || !ok {
			d.log.Warn().Uint64("event_log_last", have).Uint64("checkpoint_events", events).AnErr("store", err).
				Msg("event log: no checkpoint old enough to make again the events this node missed")
			seq = latest
			break
		}
		seq, rc = oseq, orc
	}
	if seq != latest {
		d.log.Info().Uint64("latest", latest).Uint64("seq", seq).Uint64("event_log_last", have).
			Msg("standby: opening from an older checkpoint, to make again the events this node missed")
	}
	// Opened again to be read whole.
	got, rc, ok, err := d.cfg.Checkpoints.Latest(ctx)
	if err == nil && ok && got != seq {
		rc.Close()
		got, rc, ok, err = older.Before(ctx, seq+1)
	}
	if err == nil && (!ok || got != seq) {
		if ok {
			rc.Close()
		}
		err = fmt.Errorf("checkpoint %d left the store while it was opened", seq)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("daemon: the region's checkpoint: %w", err)
	}
	return seq, rc, nil
}

// checkpointEvents reads the header of the checkpoint in r, and no more: the last event id it covers.
func checkpointEvents(r io.Reader) (uint64, error) {
	var events uint64
	errHeader := errors.New("header read")
	err := readCheckpointRecords(bufio.NewReader(r), func(h *checkpoint.Header, _ *checkpoint.Record) error {
		events = h.EventSeq
		return errHeader
	})
	if errors.Is(err, errHeader) {
		err = nil
	}
	return events, err
}

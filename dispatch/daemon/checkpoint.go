package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/cow"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// checkpointFile is where the checkpoint lives, beside the journal, written apart from it: a large checkpoint
// written through the journal's committer held every commit, and so every client, for seconds. Its format is
// package checkpoint's; a file of version 1 is read by readCheckpointV1.
const checkpointFile = "checkpoint.json"

// ckptSource is what a checkpoint is written from: what the loop goes on changing, copied; the views, frozen
// (their maps are immutable once frozen, so listing and sorting them can wait for the checkpoint's goroutine);
// and the engine's export, once made.
type ckptSource struct {
	header    checkpoint.Header
	engine    *dispatch.State
	stores    cow.Frozen[*service.Store]
	couriers  cow.Frozen[*service.Courier]
	orders    cow.Frozen[*service.Order]
	keys      cow.Frozen[*service.APIKey]
	webhooks  cow.Frozen[*Webhook]
	stock     map[string]map[string]int
	aux       map[string]courierAux
	announced map[string]time.Time
	idem      map[string]*idemRecord
	// book is the scheduled book, by order id (its entries are never changed once stored).
	book []*booked
}

// checkpoint writes the state as of the last journal record. The loop freezes the views (immutable from then on)
// and copies what it goes on changing (the engine with dispatch.Engine.Clone); the engine's export, the encoding
// and the writing are done on another goroutine, so the loop waits neither for the export nor for the disk. final
// does it all at once and waits (shutdown, recovery).
func (d *Daemon) checkpoint(final bool) error {
	if !final && !d.ckptBusy.CompareAndSwap(false, true) {
		return nil // the previous one is still being written
	}
	if final {
		d.ckptWG.Wait()
		d.ckptBusy.Store(true)
	}
	d.journalCursors()
	if _, err := d.flushLocations(); err != nil {
		d.ckptBusy.Store(false)
		return err
	}
	region := trace.StartRegion(context.Background(), "checkpoint: capture")
	defer region.End()
	s := d.st
	src := &ckptSource{stores: s.stores.Freeze(), couriers: s.couriers.Freeze(), orders: s.orders.Freeze(),
		keys: s.keys.Freeze(), webhooks: s.webhooks.Freeze(), idem: maps.Clone(s.idem), announced: maps.Clone(s.announced)}
	src.stock = map[string]map[string]int{}
	for _, k := range src.stores.SortedKeys() {
		src.stock[k], _, _ = d.net.Inventory(k)
	}
	src.book = bookEntries(s.book)
	src.aux = make(map[string]courierAux, src.couriers.Len())
	for k, a := range s.aux {
		src.aux[k] = *a
	}
	seq := d.jnl().LastSeq()
	src.header = checkpoint.Header{Seq: seq, At: d.lastNow, EventSeq: s.eventSeq}
	d.sinceCkpt, d.lastCkpt = 0, d.clock()
	write := func() error {
		defer d.ckptBusy.Store(false)
		began := d.clock()
		// The records it covers must be durable first: a checkpoint of changes whose commit then fails would bring
		// back on the next start what the clients were told failed, and one written past the end of the journal
		// would have the records that follow numbered as if it covered them.
		if err := d.jnl().Wait(context.Background(), seq); err != nil {
			return fmt.Errorf("daemon: checkpoint: %w", err)
		}
		// The events up to the checkpoint must be on disk before it is: a replay from it cannot make them again.
		if err := d.events.WaitFor(src.header.EventSeq); err != nil {
			return err
		}
		var size int64
		var err error
		if cs := d.cfg.Checkpoints; cs != nil {
			// A daemon whose lease is gone writes no checkpoint (one already uploading may finish: it covers
			// durable records only, and the store keeps the newest by seq).
			if d.abandoned.Load() {
				return errAbandoned
			}
			size, err = putCheckpoint(d.bg, cs, seq, src)
		} else {
			size, err = writeCheckpoint(d.cfg.DataDir, src)
		}
		if err != nil {
			return err
		}
		if d.abandoned.Load() {
			return errAbandoned
		}
		// Only now that the checkpoint is durable may the records it covers go. In a store that keeps older
		// checkpoints, only those the one before it covers: a node whose event log ends between the two opens its
		// standby from the older one and makes the events in between again from the stream (oldEnough).
		upTo := seq
		if _, older := d.cfg.Checkpoints.(olderCheckpoints); older {
			upTo, d.ckptPrev = min(d.ckptPrev, seq), seq
		}
		if err := d.jnl().Truncate(upTo); err != nil {
			return err
		}
		d.log.Info().Uint64("seq", seq).Int64("bytes", size).Float64("took_ms", Millis(d.clock().Sub(began))).Msg("checkpoint written")
		return nil
	}
	if final {
		src.engine = d.eng.Export()
		return write()
	}
	// The engine's export (hundreds of milliseconds with tens of thousands of orders) is made on the checkpoint's
	// goroutine, from a copy of the engine: nothing on the loop waits for it.
	eng, hook := d.eng.Clone(), d.beforeExport
	d.ckptWG.Add(1)
	go func() {
		defer d.ckptWG.Done()
		if hook != nil {
			hook()
		}
		src.engine = eng.Export()
		if err := write(); err != nil {
			d.log.Error().Err(err).Msg("checkpoint failed; the journal keeps everything until the next one")
		}
	}()
	return nil
}

// writeCheckpoint writes the checkpoint atomically: a temporary file, synced, renamed over the old one, and the
// directory synced, so that a crash leaves the old checkpoint or the new one, never a torn one. The records are
// encoded one at a time into a buffer of pacedChunk, which pacedFile hands to the disk as it fills.
func writeCheckpoint(dir string, src *ckptSource) (int64, error) {
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("daemon: checkpoint: %w", err)
	}
	err = src.writeTo(&pacedFile{f: f})
	if err == nil {
		err = f.Sync()
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, checkpointFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("daemon: checkpoint: %w", err)
	}
	return size, nil
}

// putCheckpoint streams the checkpoint into a CheckpointStore, encoded as it is uploaded, and returns its size.
func putCheckpoint(ctx context.Context, cs CheckpointStore, seq uint64, src *ckptSource) (int64, error) {
	pr, pw := io.Pipe()
	cw := &countWriter{w: pw}
	wrote := make(chan error, 1)
	go func() {
		err := src.writeTo(cw)
		pw.CloseWithError(err)
		wrote <- err
	}()
	err := cs.Put(ctx, seq, pr)
	pr.CloseWithError(errors.New("the store stopped reading")) // the encoder, if still writing, stops
	if werr := <-wrote; err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return 0, fmt.Errorf("daemon: checkpoint %d: %w", seq, err)
	}
	return cw.n, nil
}

// countWriter counts what goes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeTo writes the checkpoint's records to w.
func (src *ckptSource) writeTo(w io.Writer) error {
	h := src.header
	e := src.engine
	h.Counts = checkpoint.Counts{EngineStores: len(e.Stores), EngineCouriers: len(e.Couriers), EngineOrders: len(e.Orders),
		Stores: src.stores.Len(), Couriers: src.couriers.Len(), Orders: src.orders.Len(), Keys: src.keys.Len(),
		Webhooks: src.webhooks.Len(), Announced: len(src.announced), Idem: len(src.idem), Scheduled: len(src.book)}
	cw := checkpoint.NewWriter(w, pacedChunk, h)
	put := func(r *checkpoint.Record) error { return cw.Write(r) }
	if err := engineRecords(e, put); err != nil {
		return err
	}
	for _, k := range src.stores.SortedKeys() {
		v, _ := src.stores.Get(k)
		if err := put(&checkpoint.Record{K: checkpoint.KindStore, Store: ckptStore(v, src.stock[k])}); err != nil {
			return err
		}
	}
	for _, k := range src.couriers.SortedKeys() {
		v, _ := src.couriers.Get(k)
		if err := put(&checkpoint.Record{K: checkpoint.KindCourier, Courier: ckptCourier(v, src.aux[k])}); err != nil {
			return err
		}
	}
	for _, k := range src.orders.SortedKeys() {
		v, _ := src.orders.Get(k)
		if err := put(&checkpoint.Record{K: checkpoint.KindOrder, Order: ckptOrder(v)}); err != nil {
			return err
		}
	}
	for _, k := range src.keys.SortedKeys() {
		v, _ := src.keys.Get(k)
		if err := put(&checkpoint.Record{K: checkpoint.KindKey, Key: ckptKey(v)}); err != nil {
			return err
		}
	}
	for _, k := range src.webhooks.SortedKeys() {
		v, _ := src.webhooks.Get(k)
		if err := put(&checkpoint.Record{K: checkpoint.KindWebhook, Webhook: ckptWebhook(v)}); err != nil {
			return err
		}
	}
	if err := tailRecords(src.announced, src.idem, put); err != nil {
		return err
	}
	for _, b := range src.book {
		if err := put(&checkpoint.Record{K: checkpoint.KindScheduled, Scheduled: ckptBooked(b)}); err != nil {
			return err
		}
	}
	return cw.Close()
}

// tailRecords hands fn the records of the announced ETAs and the idempotency keys, in key order.
func tailRecords(announced map[string]time.Time, idem map[string]*idemRecord, fn func(*checkpoint.Record) error) error {
	for _, k := range slices.Sorted(maps.Keys(announced)) {
		if err := fn(&checkpoint.Record{K: checkpoint.KindAnnounced, Announced: &checkpoint.Announced{OrderID: k, At: announced[k]}}); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(idem)) {
		if err := fn(&checkpoint.Record{K: checkpoint.KindIdem, Idem: ckptIdem(k, idem[k])}); err != nil {
			return err
		}
	}
	return nil
}

// engineRecords hands the engine's state to fn as records: one for the state without its stores, couriers and
// orders, then one for each of those. Split so, the largest record is a courier with its route, not the engine
// whole (tens of megabytes with tens of thousands of orders, which the reader would hold as bytes and as values
// at once).
func engineRecords(st *dispatch.State, fn func(*checkpoint.Record) error) error {
	head := *st
	head.Stores, head.Couriers, head.Orders = nil, nil, nil
	if err := fn(&checkpoint.Record{K: checkpoint.KindEngine, Engine: &head}); err != nil {
		return err
	}
	for i := range st.Stores {
		if err := fn(&checkpoint.Record{K: checkpoint.KindEngineStore, EngineStore: &st.Stores[i]}); err != nil {
			return err
		}
	}
	for i := range st.Couriers {
		if err := fn(&checkpoint.Record{K: checkpoint.KindEngineCourier, EngineCourier: &st.Couriers[i]}); err != nil {
			return err
		}
	}
	for i := range st.Orders {
		if err := fn(&checkpoint.Record{K: checkpoint.KindEngineOrder, EngineOrder: &st.Orders[i]}); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// recover rebuilds the state: the last checkpoint, then every journal record after it through apply.
func (d *Daemon) recover() error {
	d.st = newState()
	net, err := fulfil.New(geoSpace, d.cfg.Fulfil)
	if err != nil {
		return err
	}
	d.net = net
	began := d.clock()
	var seq uint64
	rs := &restorer{d: d}
	found, err := d.loadCheckpoint(rs.add)
	switch {
	case err == nil && found:
		d.lastCkpt = rs.header.At
		if seq, err = rs.finish(); err != nil {
			return fmt.Errorf("daemon: %s: %w", d.ckptName(), err)
		}
		if err := d.checkAgainstCheckpoint(seq); err != nil {
			return err
		}
	case err == nil:
		// A journal truncated under a checkpoint that is now missing has lost what the checkpoint held: refuse to
		// start with half a state rather than serve it.
		if floor, ferr := d.jnl().Floor(); ferr != nil || floor > 0 {
			return fmt.Errorf("daemon: %s is missing but the journal starts after record %d", d.ckptName(), floor)
		}
		eng, err := dispatch.New(d.cfg.Engine, geoSpace, d.cfg.Travel)
		if err != nil {
			return err
		}
		d.eng = eng
	default:
		return fmt.Errorf("daemon: %s: %w", d.ckptName(), err)
	}
	replayed, refused := 0, 0
	err = d.replayJournal(d.jnl(), seq, func(n uint64, rec *record) error {
		if d.lastCkpt.IsZero() {
			d.lastCkpt = rec.At // no checkpoint yet: the journal is as old as its first record
		}
		if !d.applyJournaled(n, rec) {
			refused++
		}
		replayed++
		return nil
	})
	d.stepChanged = nil
	// The replay made again every event of the records after the checkpoint; the event log has those that were
	// published before the crash. Write the rest.
	if err := d.events.CatchUp(d.stepEvents); err != nil {
		return err
	}
	d.stepEvents = nil
	if err != nil {
		return err
	}
	d.sinceCkpt, d.replayed = replayed, replayed
	d.log.Info().Uint64("checkpoint_seq", seq).Int("replayed", replayed).Int("refused", refused).
		Int("open_orders", d.st.openOrders()).Float64("took_ms", Millis(d.clock().Sub(began))).Msg("state recovered")
	// An event log ahead of the replay holds events of records the journal lost (a damaged last record cut off, or
	// salvage): they were published, so their ids must not be given again to other events, which readers that
	// resume after an id would skip. Number on after them, and checkpoint at once so that it holds.
	// A standby's own event log may be ahead of the checkpoint it starts from: it holds the events of records it
	// followed before, which following them again makes with the same ids (the log skips those it has).
	if last := d.events.LastID(); last > d.st.eventSeq && !d.cfg.Standby {
		d.log.Warn().Uint64("first", d.st.eventSeq+1).Uint64("last", last).
			Msg("event log: it holds events of records the journal no longer has; new events are numbered after them")
		d.st.eventSeq = last
		if err := d.checkpoint(true); err != nil {
			return err
		}
	}
	return nil
}

// errReplayStopped ends the reading of the journal when its apply stopped.
var errReplayStopped = errors.New("replay stopped")

// replayJournal hands fn the records of j after seq, in order. They are read and decoded on a goroutine of
// its own, ahead of fn (which applies them, one at a time), and waited for before it returns.
func (d *Daemon) replayJournal(j journal.Log, seq uint64, fn func(n uint64, rec *record) error) error {
	type decoded struct {
		n   uint64
		rec *record
		err error
	}
	out, stop, done := make(chan decoded, 256), make(chan struct{}), make(chan struct{})
	var readErr error
	go func() {
		defer close(done)
		defer close(out)
		readErr = j.Replay(seq, func(n uint64, b []byte) error {
			rec := new(record)
			var err error
			if err = json.Unmarshal(b, rec); err != nil {
				err = fmt.Errorf("daemon: journal record %d: %w", n, err)
			}
			select {
			case out <- decoded{n, rec, err}:
				return err
			case <-stop:
				return errReplayStopped
			}
		})
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for x := range out {
		if x.err != nil {
			return x.err
		}
		if err := fn(x.n, x.rec); err != nil {
			return err
		}
	}
	return readErr
}

// checkAgainstCheckpoint checks, once the checkpoint of record seq is loaded, that the journal and the event log go
// on from where it stops, and sets their numbering after it when they stop short of it.
func (d *Daemon) checkAgainstCheckpoint(seq uint64) error {
	floor, err := d.jnl().Floor()
	if err != nil {
		return err
	}
	if floor > seq {
		return fmt.Errorf("daemon: %s covers the records up to %d but the journal was truncated after record %d: "+
			"records %d to %d are in neither (is the checkpoint an older copy?)", d.ckptName(), seq, floor, seq+1, floor)
	}
	if d.cfg.Standby {
		// A standby's position starts at its checkpoint.
		if err := d.jnl().Skip(seq); err != nil {
			return err
		}
	} else if last := d.jnl().LastSeq(); last < seq {
		// The checkpoint holds records the journal does not (salvage cut them, or a checkpoint was written before
		// they were durable): nothing is lost, but the next record must be numbered after the checkpoint, or the
		// next replay would take it for one the checkpoint covers and skip it.
		d.log.Warn().Uint64("journal_last", last).Uint64("checkpoint_seq", seq).
			Msg("journal: it ends before the checkpoint; numbering goes on after the checkpoint")
		if err := d.jnl().Skip(seq); err != nil {
			return err
		}
	}
	if last, want := d.events.LastID(), d.st.eventSeq; last < want && d.cfg.Checkpoints != nil {
		// The checkpoint is the region's, from whichever node owned it; this node's event log has only what it
		// saw. It goes on after the checkpoint: a reader resuming from before it here resumes at the oldest event
		// this node has.
		d.log.Warn().Uint64("event_log_last", last).Uint64("checkpoint_events", want).
			Msg("event log: this node's log starts after the region's checkpoint; earlier events are on the nodes that saw them")
		if err := d.events.SkipTo(want); err != nil {
			return err
		}
	} else if last < want {
		if !d.cfg.Salvage {
			return fmt.Errorf("daemon: the event log ends at event %d but %s covers events up to %d: events %d to %d are lost: %w",
				last, d.ckptName(), want, last+1, want, ErrSalvageable)
		}
		d.log.Error().Uint64("first", last+1).Uint64("last", want).
			Msg("event log: salvaged: events the checkpoint covers are lost; new events are numbered after them")
		if err := d.events.SkipTo(want); err != nil {
			return err
		}
	}
	return nil
}

// ErrSalvageable marks Open's refusal of damage that Config.Salvage would start on, losing what the error names.
var ErrSalvageable = errors.New("salvage can start on what is intact, without the rest")

// salvageable marks a journal's refusal to open that Config.Salvage overrides.
func salvageable(err error) error {
	var ce *journal.CorruptError
	if errors.As(err, &ce) || errors.Is(err, journal.ErrDamagedFloor) {
		return fmt.Errorf("%w: %w", err, ErrSalvageable)
	}
	return err
}

// logRecovery logs what opening a journal (the record journal or the event log) found and did: a torn tail cut
// off (a warning: what a crash leaves, explained by torn), damage salvaged or a floor rebuilt (errors: records the
// daemon had acknowledged may be lost).
func logRecovery(log zerolog.Logger, what string, r journal.Recovery, torn string) {
	if c := r.Cut; c != nil {
		log.Warn().Str("segment", c.Segment).Int64("offset", c.Offset).Int64("bytes", c.Dropped).Str("reason", c.Reason).
			Uint64("last_kept", c.LastKept).Int("intact_dropped", c.Intact).
			Msgf("%s: cut off a torn tail (%s)", what, torn)
	}
	if s := r.Salvaged; s != nil {
		log.Error().Str("segment", s.Segment).Int64("offset", s.Offset).Int64("bytes", s.Dropped).Str("reason", s.Reason).
			Uint64("last_kept", s.LastKept).Int("intact_dropped", s.Intact).Uint64("first_intact_dropped", s.IntactFirst).
			Uint64("last_intact_dropped", s.IntactLast).Str("moved_to", s.MovedTo).
			Msgf("%s: salvaged: kept the records up to last_kept, before the damage; the damaged ones and the intact ones after them are lost (the damaged segments are in moved_to)", what)
	}
	if r.FloorRebuilt {
		log.Error().Uint64("floor", r.Floor).Msgf("%s: the floor file was damaged; salvage rebuilt it from the first record", what)
	}
}

// readCheckpoint reads the checkpoint file, of the current version or of version 1, and hands fn its header and
// its records one at a time, in the file's order. Damage is an error naming what is wrong, and may come after fn
// has had records: the caller must not use what it built from them then.
func (d *Daemon) readCheckpoint(path string, fn func(*checkpoint.Header, *checkpoint.Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if b, _ := br.Peek(5); string(b) != `{"k":` {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return d.readCheckpointV1(f, fn)
	}
	return readCheckpointRecords(br, fn)
}

// loadCheckpoint reads the latest checkpoint, from Config.Checkpoints or the data directory, into fn; found is
// false when there is none.
func (d *Daemon) loadCheckpoint(fn func(*checkpoint.Header, *checkpoint.Record) error) (found bool, err error) {
	cs := d.cfg.Checkpoints
	if cs == nil {
		err := d.readCheckpoint(filepath.Join(d.cfg.DataDir, checkpointFile), fn)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq, rc, ok, err := cs.Latest(ctx)
	if err != nil || !ok {
		return false, err
	}
	if older, can := cs.(olderCheckpoints); can && d.cfg.Standby && d.events.LastID() > 0 {
		if seq, rc, err = d.oldEnough(ctx, older, seq, rc); err != nil {
			return false, err
		}
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	if b, _ := br.Peek(5); string(b) != `{"k":` {
		return false, fmt.Errorf("checkpoint %d is not a checkpoint of this version", seq)
	}
	var headSeq uint64
	err = readCheckpointRecords(br, func(h *checkpoint.Header, rec *checkpoint.Record) error {
		headSeq = h.Seq
		return fn(h, rec)
	})
	if err == nil && headSeq != seq {
		err = fmt.Errorf("checkpoint stored as %d covers the records up to %d", seq, headSeq)
	}
	if err == nil {
		d.ckptPrev = seq
	}
	return err == nil, err
}

// ckptName names where checkpoints are, for errors.
func (d *Daemon) ckptName() string {
	if d.cfg.Checkpoints != nil {
		return "the region's checkpoint"
	}
	return checkpointFile
}

// readCheckpointRecords reads a checkpoint of the current version from br into fn.
func readCheckpointRecords(br *bufio.Reader, fn func(*checkpoint.Header, *checkpoint.Record) error) error {
	r, err := checkpoint.NewReader(br)
	if err != nil {
		return err
	}
	defer r.Close()
	h := r.Header()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(&h, rec); err != nil {
			return err
		}
	}
}

// restorer rebuilds the state from a checkpoint's records, as they come: the engine from its records, then the
// stores (which the orders' reservations need), couriers, orders, keys, webhooks, ETAs announced and idempotency
// keys; routes last (their drop-off stops carry the orders' customer details).
type restorer struct {
	d        *Daemon
	header   checkpoint.Header
	engine   *dispatch.State
	restored bool
	couriers []string
	finished []expiry
	// eventSeq and announced are set after the routes, which make no events on a restore that count.
	eventSeq  uint64
	announced map[string]time.Time
}

// maxPresize bounds what a checkpoint's header may have allocated before its records are read.
const maxPresize = 1 << 20

func (r *restorer) add(h *checkpoint.Header, rec *checkpoint.Record) error {
	d, s := r.d, r.d.st
	r.header = *h
	switch rec.K {
	case checkpoint.KindEngine:
		if r.engine != nil || r.restored {
			return fmt.Errorf("a second record of the engine's state")
		}
		r.engine = rec.Engine
		// Sized from the header's counts (which the trailer checks), within reason should they be damaged.
		c := h.Counts
		r.engine.Stores = make([]dispatch.SavedStore, 0, min(c.EngineStores, maxPresize))
		r.engine.Couriers = make([]dispatch.SavedCourier, 0, min(c.EngineCouriers, maxPresize))
		r.engine.Orders = make([]dispatch.SavedOrder, 0, min(c.EngineOrders, maxPresize))
		return nil
	case checkpoint.KindEngineStore, checkpoint.KindEngineCourier, checkpoint.KindEngineOrder:
		if r.engine == nil {
			return fmt.Errorf("an engine %s before the engine's record", rec.K)
		}
		switch rec.K {
		case checkpoint.KindEngineStore:
			r.engine.Stores = append(r.engine.Stores, *rec.EngineStore)
		case checkpoint.KindEngineCourier:
			r.engine.Couriers = append(r.engine.Couriers, *rec.EngineCourier)
		default:
			r.engine.Orders = append(r.engine.Orders, *rec.EngineOrder)
		}
		return nil
	}
	if !r.restored {
		if err := r.restoreEngine(); err != nil {
			return err
		}
	}
	switch rec.K {
	case checkpoint.KindStore:
		v, stock := storeView(rec.Store)
		d.replaying = true // stores' hours are read as a replay reads them
		err := d.putNetStore(v, stock)
		d.replaying = false
		if err != nil {
			return fmt.Errorf("store %s: %w", v.ID, err)
		}
		s.stores.Set(v.ID, v)
	case checkpoint.KindCourier:
		v, aux := courierView(rec.Courier)
		s.aux[v.ID] = &aux
		s.setCourier(v)
		if aux.TokenHash != nil {
			s.principals.Set(string(aux.TokenHash), service.Principal{Role: service.RoleCourier, ID: v.ID})
		}
		r.couriers = append(r.couriers, v.ID)
	case checkpoint.KindOrder:
		o := orderView(rec.Order)
		s.orders.Set(o.ID, o)
		if o.ExternalID != "" {
			s.externalIDs[o.ExternalID] = o.ID
		}
		if st, ok := statusIndex(o.Status); ok {
			s.byStatus[st]++
		}
		if o.Final() {
			r.finished = append(r.finished, expiry{o.ID, o.Timeline[len(o.Timeline)-1].At})
		}
		if o.Fulfilment == "" {
			o.Fulfilment = service.FulfilDelivery
		}
		if err := d.reserve(o); err != nil {
			return fmt.Errorf("order %s: %w", o.ID, err)
		}
	case checkpoint.KindKey:
		key := keyView(rec.Key)
		s.keys.Set(key.ID, key)
		if key.RevokedAt == nil {
			role, err := keyRole(key.Role)
			if err != nil {
				return fmt.Errorf("key %s: %w", key.ID, err)
			}
			key.Role = role
			s.principals.Set(string(key.Hash), service.Principal{Role: key.Role, ID: key.ID})
		}
	case checkpoint.KindWebhook:
		w := webhookOf(rec.Webhook)
		s.webhooks.Set(w.ID, w)
	case checkpoint.KindAnnounced:
		r.announced[rec.Announced.OrderID] = rec.Announced.At
	case checkpoint.KindIdem:
		e, err := idemOf(rec.Idem)
		if err != nil {
			return fmt.Errorf("idempotency key %q: %w", rec.Idem.Key, err)
		}
		s.idem[rec.Idem.Key] = e
		s.idemQ = append(s.idemQ, expiry{rec.Idem.Key, rec.Idem.At})
	case checkpoint.KindScheduled:
		b := bookedOfCkpt(rec.Scheduled)
		s.book[b.ID] = b
	}
	return nil
}

// restoreEngine makes the engine from its records, once they are all in.
func (r *restorer) restoreEngine() error {
	if r.engine == nil {
		return fmt.Errorf("checkpoint without engine state")
	}
	d := r.d
	eng, err := dispatch.Restore(d.cfg.Engine, geoSpace, d.cfg.Travel, r.engine)
	if err != nil {
		return err
	}
	r.engine, r.restored = nil, true
	d.eng = eng
	d.lastNow = r.header.At
	d.lastStats = eng.LastRound()
	r.eventSeq, r.announced = r.header.EventSeq, map[string]time.Time{}
	return nil
}

// finish sets the routes and the expiry queues once every record is in, and returns the checkpoint's journal
// sequence number.
func (r *restorer) finish() (uint64, error) {
	if !r.restored {
		if err := r.restoreEngine(); err != nil {
			return 0, err
		}
	}
	d, s := r.d, r.d.st
	for _, id := range r.couriers {
		if rt, ok := d.eng.Route(id); ok && (rt.Version > 0 || len(rt.Stops) > 0) {
			d.setRoute(rt, false)
		}
	}
	slices.SortFunc(r.finished, func(a, b expiry) int { return a.at.Compare(b.at) })
	s.finishedQ = r.finished
	s.eventSeq, s.announced = r.eventSeq, r.announced
	slices.SortFunc(s.idemQ, func(a, b expiry) int { return a.at.Compare(b.at) })
	return r.header.Seq, nil
}

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// checkpointVersion is the layout of checkpointData; recovery refuses others rather than misread them.
const checkpointVersion = 1

// checkpointFile is where the checkpoint lives, beside the journal, written apart from it: a large checkpoint
// written through the journal's committer held every commit, and so every client, for seconds.
const checkpointFile = "checkpoint.json"

// checkpointData is the whole state after some journal record: the engine's state and the daemon's.
type checkpointData struct {
	Version  int                    `json:"version"`
	Seq      uint64                 `json:"seq"`
	At       time.Time              `json:"at"`
	Engine   *dispatch.State        `json:"engine"`
	Stores   []*StoreView           `json:"stores"`
	Couriers []checkpointCourier    `json:"couriers"`
	Orders   []*OrderView           `json:"orders"`
	Keys     []checkpointKey        `json:"keys"`
	Idem     map[string]*idemRecord `json:"idem"`
	// EventSeq is the last order event; Announced the drop-off ETAs order services last heard of.
	EventSeq  uint64               `json:"event_seq"`
	Webhooks  []*Webhook           `json:"webhooks"`
	Announced map[string]time.Time `json:"announced"`
	// Stock is each store's stock on hand, by store id (a checkpoint without it, from before stock was kept apart
	// from the views, has it in each StoreView's Inventory). Reservations and picking queues are not written:
	// they are the live orders' items and ready times, and are rebuilt from the orders.
	Stock map[string]map[string]int `json:"stock"`
}

// check refuses a checkpoint with a hole the restore would fall into (a null entry, an order without a timeline):
// the daemon never writes one, but a damaged file may hold it, and it must be an error, not a crash.
func (c *checkpointData) check() error {
	for i, v := range c.Stores {
		if v == nil {
			return fmt.Errorf("checkpoint: stores[%d] is null", i)
		}
	}
	for i, v := range c.Couriers {
		if v.View == nil {
			return fmt.Errorf("checkpoint: couriers[%d] has no view", i)
		}
	}
	for i, v := range c.Orders {
		if v == nil || len(v.Timeline) == 0 {
			return fmt.Errorf("checkpoint: orders[%d] is null or has no timeline", i)
		}
	}
	for i, v := range c.Keys {
		if v.Key == nil {
			return fmt.Errorf("checkpoint: keys[%d] has no key", i)
		}
	}
	for i, v := range c.Webhooks {
		if v == nil {
			return fmt.Errorf("checkpoint: webhooks[%d] is null", i)
		}
	}
	for k, v := range c.Idem {
		if v == nil {
			return fmt.Errorf("checkpoint: idempotency key %q is null", k)
		}
	}
	return nil
}

type checkpointCourier struct {
	View *CourierView `json:"view"`
	Aux  courierAux   `json:"aux"`
}

type checkpointKey struct {
	Key  *APIKey `json:"key"`
	Hash []byte  `json:"hash"`
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
	if _, err := d.flushLocations(); err != nil {
		d.ckptBusy.Store(false)
		return err
	}
	// What the loop goes on changing is copied here; the views are frozen (their maps are immutable once frozen,
	// so listing and sorting them can wait for the checkpoint's goroutine).
	s := d.st
	data := &checkpointData{Version: checkpointVersion, At: d.lastNow, Idem: maps.Clone(s.idem)}
	stores, couriers, orders := s.stores.freeze(), s.couriers.freeze(), s.orders.freeze()
	keys, webhooks := s.keys.freeze(), s.webhooks.freeze()
	storeIDs := stores.sortedKeys()
	data.Stock = map[string]map[string]int{}
	for _, k := range storeIDs {
		data.Stock[k], _, _ = d.net.Inventory(k)
	}
	aux := make(map[string]courierAux, couriers.len())
	for k, a := range s.aux {
		aux[k] = *a
	}
	data.EventSeq, data.Announced = s.eventSeq, maps.Clone(s.announced)
	seq := d.journal.LastSeq()
	d.sinceCkpt, d.lastCkpt = 0, d.clock()
	data.Seq = seq
	assemble := func(eng *dispatch.State) {
		data.Engine = eng
		for _, k := range storeIDs {
			v, _ := stores.get(k)
			data.Stores = append(data.Stores, v)
		}
		for _, k := range couriers.sortedKeys() {
			v, _ := couriers.get(k)
			data.Couriers = append(data.Couriers, checkpointCourier{View: v, Aux: aux[k]})
		}
		for _, k := range orders.sortedKeys() {
			v, _ := orders.get(k)
			data.Orders = append(data.Orders, v)
		}
		for _, k := range keys.sortedKeys() {
			v, _ := keys.get(k)
			data.Keys = append(data.Keys, checkpointKey{Key: v, Hash: v.Hash})
		}
		for _, k := range webhooks.sortedKeys() {
			w, _ := webhooks.get(k)
			data.Webhooks = append(data.Webhooks, w)
		}
	}
	write := func() error {
		defer d.ckptBusy.Store(false)
		began := d.clock()
		// The records it covers must be durable first: a checkpoint of changes whose commit then fails would bring
		// back on the next start what the clients were told failed, and one written past the end of the journal
		// would have the records that follow numbered as if it covered them.
		if err := d.journal.Wait(context.Background(), seq); err != nil {
			return fmt.Errorf("daemon: checkpoint: %w", err)
		}
		// The events up to the checkpoint must be on disk before it is: a replay from it cannot make them again.
		if err := d.events.waitFor(data.EventSeq); err != nil {
			return err
		}
		size, err := writeCheckpoint(d.cfg.DataDir, data)
		if err != nil {
			return err
		}
		// Only now that the checkpoint is durable may the records it covers go.
		if err := d.journal.Truncate(seq); err != nil {
			return err
		}
		d.log.Info().Uint64("seq", seq).Int64("bytes", size).Float64("took_ms", Millis(d.clock().Sub(began))).Msg("checkpoint written")
		return nil
	}
	if final {
		assemble(d.eng.Export())
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
		st := eng.Export()
		assemble(st)
		if err := write(); err != nil {
			d.log.Error().Err(err).Msg("checkpoint failed; the journal keeps everything until the next one")
		}
	}()
	return nil
}

// A checkpoint file is the JSON of checkpointData and a last line, "crc32c <8 hex digits>\n", the CRC-32C of
// everything before it: a bit the disk flipped in a number would otherwise still parse, as a wrong state.
const (
	checksumPrefix = "crc32c "
	checksumLine   = len(checksumPrefix) + 8 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeCheckpoint writes the checkpoint atomically: a temporary file, synced, renamed over the old one, and the
// directory synced, so that a crash leaves the old checkpoint or the new one, never a torn one.
func writeCheckpoint(dir string, data *checkpointData) (int64, error) {
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("daemon: checkpoint: %w", err)
	}
	pf := &pacedFile{f: f}
	sum := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(pf, sum), pacedChunk)
	err = writeJSONStreamed(w, data)
	if err == nil {
		w.WriteByte('\n')
		err = w.Flush()
	}
	if err == nil {
		_, err = fmt.Fprintf(pf, "%s%08x\n", checksumPrefix, sum.Sum32())
	}
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
	data, err := d.readCheckpoint(filepath.Join(d.cfg.DataDir, checkpointFile))
	switch {
	case err == nil:
		if seq, err = d.restoreCheckpoint(data); err != nil {
			return fmt.Errorf("daemon: %s: %w", checkpointFile, err)
		}
		if err := d.checkAgainstCheckpoint(seq); err != nil {
			return err
		}
	case errors.Is(err, os.ErrNotExist):
		// A journal truncated under a checkpoint that is now missing has lost what the checkpoint held: refuse to
		// start with half a state rather than serve it.
		if floor, ferr := d.journal.Floor(); ferr != nil || floor > 0 {
			return fmt.Errorf("daemon: %s is missing but the journal starts after record %d", checkpointFile, floor)
		}
		eng, err := dispatch.New(d.cfg.Engine, geoSpace, d.cfg.Travel)
		if err != nil {
			return err
		}
		d.eng = eng
	default:
		return fmt.Errorf("daemon: %s: %w", checkpointFile, err)
	}
	d.replaying = true
	replayed, refused := 0, 0
	err = d.journal.Replay(seq, func(n uint64, b []byte) error {
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("daemon: journal record %d: %w", n, err)
		}
		if rec.At.After(d.lastNow) {
			d.lastNow = rec.At
		}
		if rec.At.Before(d.eng.Now()) {
			rec.At = d.eng.Now()
		}
		if _, err := d.apply(&rec); err != nil {
			// Only records that were accepted are journaled, so this is a bug; keep going with what can be applied
			// rather than refuse to start with every other order in it.
			refused++
			d.log.Error().Err(err).Uint64("seq", n).Str("type", rec.Type).Msg("journal record refused on replay")
		}
		replayed++
		return nil
	})
	d.replaying = false
	d.stepChanged = nil
	// The replay made again every event of the records after the checkpoint; the event log has those that were
	// published before the crash. Write the rest.
	if err := d.events.catchUp(d.stepEvents); err != nil {
		return err
	}
	d.stepEvents = nil
	if err != nil {
		return err
	}
	d.sinceCkpt = replayed
	d.log.Info().Uint64("checkpoint_seq", seq).Int("replayed", replayed).Int("refused", refused).
		Int("open_orders", d.st.openOrders()).Float64("took_ms", Millis(d.clock().Sub(began))).Msg("state recovered")
	// An event log ahead of the replay holds events of records the journal lost (a damaged last record cut off, or
	// salvage): they were published, so their ids must not be given again to other events, which readers that
	// resume after an id would skip. Number on after them, and checkpoint at once so that it holds.
	if last := d.events.lastID(); last > d.st.eventSeq {
		d.log.Warn().Uint64("first", d.st.eventSeq+1).Uint64("last", last).
			Msg("event log: it holds events of records the journal no longer has; new events are numbered after them")
		d.st.eventSeq = last
		if err := d.checkpoint(true); err != nil {
			return err
		}
	}
	return nil
}

// checkAgainstCheckpoint checks, once the checkpoint of record seq is loaded, that the journal and the event log go
// on from where it stops, and sets their numbering after it when they stop short of it.
func (d *Daemon) checkAgainstCheckpoint(seq uint64) error {
	floor, err := d.journal.Floor()
	if err != nil {
		return err
	}
	if floor > seq {
		return fmt.Errorf("daemon: %s covers the records up to %d but the journal was truncated after record %d: "+
			"records %d to %d are in neither (is the checkpoint an older copy?)", checkpointFile, seq, floor, seq+1, floor)
	}
	if last := d.journal.LastSeq(); last < seq {
		// The checkpoint holds records the journal does not (salvage cut them, or a checkpoint was written before
		// they were durable): nothing is lost, but the next record must be numbered after the checkpoint, or the
		// next replay would take it for one the checkpoint covers and skip it.
		d.log.Warn().Uint64("journal_last", last).Uint64("checkpoint_seq", seq).
			Msg("journal: it ends before the checkpoint; numbering goes on after the checkpoint")
		if err := d.journal.Skip(seq); err != nil {
			return err
		}
	}
	if last, want := d.events.lastID(), d.st.eventSeq; last < want {
		if !d.cfg.Salvage {
			return fmt.Errorf("daemon: the event log ends at event %d but %s covers events up to %d: events %d to %d are lost: %w",
				last, checkpointFile, want, last+1, want, ErrSalvageable)
		}
		d.log.Error().Uint64("first", last+1).Uint64("last", want).
			Msg("event log: salvaged: events the checkpoint covers are lost; new events are numbered after them")
		if err := d.events.skipTo(want); err != nil {
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

// readCheckpoint reads and checks the checkpoint file. One without a checksum line (written before there was one)
// is read unchecked.
func (d *Daemon) readCheckpoint(path string) (*checkpointData, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	body := st.Size()
	var want uint32
	checked := false
	if body >= int64(checksumLine) {
		line := make([]byte, checksumLine)
		if _, err := f.ReadAt(line, body-int64(checksumLine)); err != nil {
			return nil, err
		}
		if v, ok := parseChecksumLine(line); ok {
			want, checked, body = v, true, body-int64(checksumLine)
		}
	}
	if !checked {
		d.log.Warn().Str("path", path).Msg("checkpoint: no checksum line (written by an older version); read unchecked")
	}
	sum := crc32.New(castagnoli)
	r := bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, body), sum), 1<<20)
	dec := json.NewDecoder(r)
	var data checkpointData
	if err := dec.Decode(&data); err != nil {
		return nil, err
	}
	// Only the JSON's newline may follow it: anything else is a damaged checksum line, or damage the JSON hid.
	rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%d unexpected bytes after the state (a damaged checksum line?)", len(rest))
	}
	if got := sum.Sum32(); checked && got != want {
		return nil, fmt.Errorf("checksum mismatch: the file's bytes give %08x, its last line says %08x", got, want)
	}
	return &data, nil
}

// parseChecksumLine reads "crc32c <8 lower-case hex digits>\n", exactly as written.
func parseChecksumLine(line []byte) (uint32, bool) {
	hex, ok := strings.CutPrefix(string(line), checksumPrefix)
	if !ok || len(hex) != 9 || hex[8] != '\n' || strings.ContainsFunc(hex[:8], func(c rune) bool {
		return (c < '0' || c > '9') && (c < 'a' || c > 'f')
	}) {
		return 0, false
	}
	v, err := strconv.ParseUint(hex[:8], 16, 32)
	return uint32(v), err == nil
}

func (d *Daemon) restoreCheckpoint(data *checkpointData) (uint64, error) {
	if data.Version != checkpointVersion {
		return 0, fmt.Errorf("checkpoint version %d, this build reads %d", data.Version, checkpointVersion)
	}
	if data.Engine == nil {
		return 0, fmt.Errorf("checkpoint without engine state")
	}
	if err := data.check(); err != nil {
		return 0, err
	}
	eng, err := dispatch.Restore(d.cfg.Engine, geoSpace, d.cfg.Travel, data.Engine)
	if err != nil {
		return 0, err
	}
	d.eng = eng
	d.lastNow = data.At
	d.lastStats = eng.LastRound()
	s := d.st
	d.replaying = true // stores' hours are read as a replay reads them
	for _, v := range data.Stores {
		stock := v.Inventory
		if data.Stock != nil {
			stock = data.Stock[v.ID]
			if stock == nil {
				stock = map[string]int{}
			}
		}
		if err := d.putNetStore(v, stock); err != nil {
			return 0, fmt.Errorf("store %s: %w", v.ID, err)
		}
		if v.Inventory != nil {
			cp := *v
			cp.Inventory = nil
			v = &cp
		}
		s.stores.set(v.ID, v)
	}
	d.replaying = false
	for _, c := range data.Couriers {
		aux := c.Aux
		s.aux[c.View.ID] = &aux
		s.setCourier(c.View)
		if aux.TokenHash != nil {
			s.principals.set(string(aux.TokenHash), Principal{Role: RoleCourier, ID: c.View.ID})
		}
	}
	var finished []expiry
	for _, o := range data.Orders {
		s.orders.set(o.ID, o)
		if o.ExternalID != "" {
			s.externalIDs[o.ExternalID] = o.ID
		}
		if st, ok := statusIndex(o.Status); ok {
			s.byStatus[st]++
		}
		if o.Final() && len(o.Timeline) > 0 {
			finished = append(finished, expiry{o.ID, o.Timeline[len(o.Timeline)-1].At})
		}
		if o.Fulfilment == "" {
			o.Fulfilment = FulfilDelivery
		}
		if err := d.reserve(o); err != nil {
			return 0, fmt.Errorf("order %s: %w", o.ID, err)
		}
	}
	// Routes last: their drop-off stops carry the orders' customer details.
	for _, c := range data.Couriers {
		if r, ok := eng.Route(c.View.ID); ok && (r.Version > 0 || len(r.Stops) > 0) {
			d.setRoute(r, false)
		}
	}
	slices.SortFunc(finished, func(a, b expiry) int { return a.at.Compare(b.at) })
	s.finishedQ = finished
	for _, k := range data.Keys {
		key := *k.Key
		key.Hash = k.Hash
		s.keys.set(key.ID, &key)
		if key.RevokedAt == nil {
			if key.Role, err = keyRole(key.Role); err != nil {
				return 0, fmt.Errorf("key %s: %w", key.ID, err)
			}
			s.principals.set(string(key.Hash), Principal{Role: key.Role, ID: key.ID})
		}
	}
	s.eventSeq = data.EventSeq
	for _, w := range data.Webhooks {
		s.webhooks.set(w.ID, w)
	}
	if data.Announced != nil {
		s.announced = data.Announced
	}
	for k, r := range data.Idem {
		s.idem[k] = r
		s.idemQ = append(s.idemQ, expiry{k, r.At})
	}
	slices.SortFunc(s.idemQ, func(a, b expiry) int { return a.at.Compare(b.at) })
	return data.Seq, nil
}

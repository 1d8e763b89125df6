package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
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

// checkpoint writes the state as of the last journal record. The copy is taken on the loop (the views are
// immutable, so it is a copy of pointers; the engine exports a deep copy) and encoded and written on another
// goroutine, so the loop does not wait for the disk. final waits for it (shutdown).
func (d *Daemon) checkpoint(final bool) error {
	if !final && !d.ckptBusy.CompareAndSwap(false, true) {
		return nil // the previous one is still being written
	}
	if final {
		d.ckptWG.Wait()
		d.ckptBusy.Store(true)
	}
	if _, err := d.flushLocations(d.lastNow); err != nil {
		d.ckptBusy.Store(false)
		return err
	}
	s := d.st
	data := &checkpointData{Version: checkpointVersion, At: d.lastNow, Engine: d.eng.Export(), Idem: make(map[string]*idemRecord, len(s.idem))}
	for _, k := range s.stores.sortedKeys() {
		v, _ := s.stores.get(k)
		data.Stores = append(data.Stores, v)
	}
	for _, k := range s.couriers.sortedKeys() {
		v, _ := s.couriers.get(k)
		data.Couriers = append(data.Couriers, checkpointCourier{View: v, Aux: *s.aux[k]})
	}
	for _, k := range s.orders.sortedKeys() {
		v, _ := s.orders.get(k)
		data.Orders = append(data.Orders, v)
	}
	for _, k := range s.keys.sortedKeys() {
		v, _ := s.keys.get(k)
		data.Keys = append(data.Keys, checkpointKey{Key: v, Hash: v.Hash})
	}
	for k, r := range s.idem {
		data.Idem[k] = r
	}
	data.EventSeq, data.Announced = s.eventSeq, maps.Clone(s.announced)
	for _, k := range s.webhooks.sortedKeys() {
		w, _ := s.webhooks.get(k)
		data.Webhooks = append(data.Webhooks, w)
	}
	seq := d.journal.LastSeq()
	d.sinceCkpt, d.lastCkpt = 0, d.clock()
	data.Seq = seq
	write := func() error {
		defer d.ckptBusy.Store(false)
		began := d.clock()
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
		d.log.Info().Uint64("seq", seq).Int64("bytes", size).Dur("took", d.clock().Sub(began)).Msg("checkpoint written")
		return nil
	}
	if final {
		return write()
	}
	d.ckptWG.Add(1)
	go func() {
		defer d.ckptWG.Done()
		if err := write(); err != nil {
			d.log.Error().Err(err).Msg("checkpoint failed; the journal keeps everything until the next one")
		}
	}()
	return nil
}

// writeCheckpoint writes the checkpoint atomically: a temporary file, synced, renamed over the old one, and the
// directory synced, so that a crash leaves the old checkpoint or the new one, never a torn one.
func writeCheckpoint(dir string, data *checkpointData) (int64, error) {
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("daemon: checkpoint: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = json.NewEncoder(w).Encode(data)
	if err == nil {
		err = w.Flush()
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
	began := d.clock()
	var seq uint64
	f, err := os.Open(filepath.Join(d.cfg.DataDir, checkpointFile))
	switch {
	case err == nil:
		seq, err = d.restoreCheckpoint(bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return fmt.Errorf("daemon: %s: %w", checkpointFile, err)
		}
		// An event log that ends before the checkpoint's last event lost files (the journal that made those events
		// is truncated under the checkpoint, so they cannot be made again). Numbering goes on after the checkpoint's;
		// left behind, the log would refuse every new event and each checkpoint would wait for it forever.
		if have := d.events.lastID(); have < d.st.eventSeq {
			d.log.Warn().Uint64("event_log_ends", have).Uint64("checkpoint_event", d.st.eventSeq).
				Msg("event log: events up to the checkpoint's are missing; new events are numbered after it")
			if d.events, err = d.events.skipTo(d.st.eventSeq); err != nil {
				return err
			}
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
		return fmt.Errorf("daemon: %w", err)
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
		Int("open_orders", d.st.openOrders()).Dur("took", d.clock().Sub(began)).Msg("state recovered")
	return nil
}

func (d *Daemon) restoreCheckpoint(r io.Reader) (uint64, error) {
	var data checkpointData
	if err := json.NewDecoder(r).Decode(&data); err != nil {
		return 0, err
	}
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
	for _, v := range data.Stores {
		s.stores.set(v.ID, v)
	}
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
		if st, ok := parseStatus(o.Status); ok {
			s.byStatus[st]++
		}
		if o.Final() && len(o.Timeline) > 0 {
			finished = append(finished, expiry{o.ID, o.Timeline[len(o.Timeline)-1].At})
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
			s.principals.set(string(key.Hash), Principal{Role: RoleOrders, ID: key.ID})
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

package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// A checkpoint of version 1 is one JSON document of the API's views (checkpointV1) and a last line,
// "crc32c <8 hex digits>\n", the CRC-32C of everything before it (a file without that line, from before there was
// one, is read unchecked). The daemon no longer writes it; it reads it, as records, so that a data directory of an
// older version starts, and its next checkpoint is of the current version.
const (
	checksumPrefix = "crc32c "
	checksumLine   = len(checksumPrefix) + 8 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpointV1 is the whole state after some journal record, as version 1 wrote it.
type checkpointV1 struct {
	Version   int                       `json:"version"`
	Seq       uint64                    `json:"seq"`
	At        time.Time                 `json:"at"`
	Engine    *dispatch.State           `json:"engine"`
	Stores    []*service.Store          `json:"stores"`
	Couriers  []checkpointV1Courier     `json:"couriers"`
	Orders    []*service.Order          `json:"orders"`
	Keys      []checkpointV1Key         `json:"keys"`
	Idem      map[string]*idemRecord    `json:"idem"`
	EventSeq  uint64                    `json:"event_seq"`
	Webhooks  []*Webhook                `json:"webhooks"`
	Announced map[string]time.Time      `json:"announced"`
	Stock     map[string]map[string]int `json:"stock"`
}

type checkpointV1Courier struct {
	View *service.Courier `json:"view"`
	Aux  courierAux       `json:"aux"`
}

type checkpointV1Key struct {
	Key  *service.APIKey `json:"key"`
	Hash []byte          `json:"hash"`
}

// readCheckpointV1 reads and checks a version 1 checkpoint and hands it to fn as the records the current version
// would hold.
func (d *Daemon) readCheckpointV1(f *os.File, fn func(*checkpoint.Header, *checkpoint.Record) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	body := st.Size()
	var want uint32
	checked := false
	if body >= int64(checksumLine) {
		line := make([]byte, checksumLine)
		if _, err := f.ReadAt(line, body-int64(checksumLine)); err != nil {
			return err
		}
		if v, ok := parseChecksumLine(line); ok {
			want, checked, body = v, true, body-int64(checksumLine)
		}
	}
	if !checked {
		d.log.Warn().Str("path", f.Name()).Msg("checkpoint: no checksum line (written by an older version); read unchecked")
	}
	sum := crc32.New(castagnoli)
	r := bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, body), sum), 1<<20)
	dec := json.NewDecoder(r)
	var data checkpointV1
	if err := dec.Decode(&data); err != nil {
		return err
	}
	// Only the JSON's newline may follow it: anything else is a damaged checksum line, or damage the JSON hid.
	rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("%d unexpected bytes after the state (a damaged checksum line?)", len(rest))
	}
	if got := sum.Sum32(); checked && got != want {
		return fmt.Errorf("checksum mismatch: the file's bytes give %08x, its last line says %08x", got, want)
	}
	if data.Version != 1 {
		return fmt.Errorf("checkpoint version %d, this build reads %d and 1", data.Version, checkpoint.Version)
	}
	if data.Engine == nil {
		return fmt.Errorf("checkpoint without engine state")
	}
	if err := data.check(); err != nil {
		return err
	}
	h := &checkpoint.Header{Version: 1, Seq: data.Seq, At: data.At, EventSeq: data.EventSeq}
	return data.records(func(r *checkpoint.Record) error { return fn(h, r) })
}

// check refuses a checkpoint with a hole the restore would fall into (a null entry, an order without a timeline).
func (c *checkpointV1) check() error {
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

// records hands the checkpoint to fn as records, in the order of the current version.
func (c *checkpointV1) records(fn func(*checkpoint.Record) error) error {
	if err := engineRecords(c.Engine, fn); err != nil {
		return err
	}
	for _, v := range c.Stores {
		// Stock is each store's stock on hand; a checkpoint without it, from before stock was kept apart from the
		// views, has it in each view's Inventory.
		stock := v.Inventory
		if c.Stock != nil {
			stock = c.Stock[v.ID]
		}
		if err := fn(&checkpoint.Record{K: checkpoint.KindStore, Store: ckptStore(v, stock)}); err != nil {
			return err
		}
	}
	for _, v := range c.Couriers {
		if err := fn(&checkpoint.Record{K: checkpoint.KindCourier, Courier: ckptCourier(v.View, v.Aux)}); err != nil {
			return err
		}
	}
	for _, v := range c.Orders {
		if err := fn(&checkpoint.Record{K: checkpoint.KindOrder, Order: ckptOrder(v)}); err != nil {
			return err
		}
	}
	for _, v := range c.Keys {
		k := ckptKey(v.Key)
		k.Hash = v.Hash
		if err := fn(&checkpoint.Record{K: checkpoint.KindKey, Key: k}); err != nil {
			return err
		}
	}
	for _, v := range c.Webhooks {
		if err := fn(&checkpoint.Record{K: checkpoint.KindWebhook, Webhook: ckptWebhook(v)}); err != nil {
			return err
		}
	}
	return tailRecords(c.Announced, c.Idem, fn)
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

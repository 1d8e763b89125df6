package daemon

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/eventlog"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// openEventLog opens the log of order events (package eventlog), whose ids are the journal's sequence numbers.
// It reads no event: the ring of recent events and retention's index are filled in the background. Recovery
// checks that what the log holds reaches the checkpoint's events (checkAgainstCheckpoint).
func openEventLog(dir string, segmentBytes int64, log zerolog.Logger, salvage bool) (*eventlog.Log[service.OrderEvent], error) {
	l, err := eventlog.Open(dir, eventlog.Options[service.OrderEvent]{
		SegmentBytes: segmentBytes,
		Salvage:      salvage,
		Log:          log,
		ID:           func(ev *service.OrderEvent) uint64 { return ev.ID },
		At:           func(ev *service.OrderEvent) time.Time { return ev.At },
		Upgrade:      upgradeEvent,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: event log: %w", salvageable(err))
	}
	logRecovery(log, "event log", l.Recovery(), "a crash loses what was not synced; the replay makes those events again")
	return l, nil
}

// upgradeEvent brings an event written before regions existed to the current form: its order is of the default
// region, as every order then was.
func upgradeEvent(ev *service.OrderEvent) {
	if ev.Order.Region == "" {
		ev.Order.Region = service.DefaultRegion
	}
}

// Events returns up to limit order events after the id after (oldest first), and a channel that is closed when
// newer ones arrive. An id older than the retention resumes at the oldest event kept.
func (d *Daemon) Events(after uint64, limit int) ([]service.OrderEvent, <-chan struct{}, error) {
	return d.events.Since(after, min(max(limit, 1), 1000))
}

// LastEventID is the id of the newest order event.
func (d *Daemon) LastEventID() uint64 { return d.events.LastID() }

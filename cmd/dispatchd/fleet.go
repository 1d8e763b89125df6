package main

import (
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/metrics"
)

// fleetOf reads what the metrics report at scrape time from d's latest snapshot and its queues: the zero Fleet
// while d is not open yet. For a webhook with events waiting it reads the oldest of them from the event log (the
// one its worker is on), once per webhook and scrape.
func fleetOf(d *daemon.Daemon) metrics.Fleet {
	if d == nil {
		return metrics.Fleet{}
	}
	v := d.View()
	f := metrics.Fleet{
		OrdersByStatus:       v.OrdersByStatus(),
		CouriersByStatus:     v.CouriersByStatus(),
		Stores:               v.StoreCount(),
		LastRoundCandidates:  v.LastRound().Candidates,
		LastRoundAssigned:    v.LastRound().Assigned,
		QueueDepth:           d.QueueDepth(),
		QueueCapacity:        d.QueueCapacity(),
		LoopBusyRatio:        d.BusyRatio(),
		LoopLongestStep:      d.LongestStep(),
		JournalPending:       d.JournalPending(),
		WebhookBacklog:       map[string]int{},
		WebhookOldestPending: map[string]time.Time{},
		Ready:                d.Ready(),
		ReadOnly:             d.ReadOnly(),
	}
	for _, w := range d.WebhookViews() {
		f.WebhookBacklog[w.ID] = int(w.Backlog)
		if w.Backlog <= 0 {
			continue
		}
		// A read error leaves the age at 0 for this scrape; the webhook workers log the same read failing.
		if evs, _, err := d.Events(w.DeliveredThrough, 1); err == nil && len(evs) > 0 {
			f.WebhookOldestPending[w.ID] = evs[0].At
		}
	}
	return f
}

package daemon

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The views below are what the API shows. The loop never changes a view it has stored: it stores a new one, so
// that published snapshots (and checkpoints being written) can read them from any goroutine.

func locationOf(p orb.Point) service.Location { return service.Location{Lat: p[1], Lon: p[0]} }

// orderStatuses lists every status an order view can have; byStatus counts by index in it. The first six are the
// engine's, in dispatch.OrderStatus order.
var orderStatuses = [...]string{"pending", "assigned", "picked_up", "delivered", "cancelled", "failed", service.StatusReadyForPickup, service.StatusCollected, service.StatusScheduled}

func statusIndex(name string) (int, bool) {
	for i, s := range orderStatuses {
		if s == name {
			return i, true
		}
	}
	return 0, false
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// The daemon is what the HTTP API serves.
var _ service.Service = (*Daemon)(nil)

package daemon

import (
	"sync"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// geoSpace is how the daemon reads locations: WGS 84 lon/lat.
var geoSpace = geo.Geographic

// broker wakes the streams of couriers whose route changed. A wake-up carries nothing: the stream reads the route
// from the latest snapshot, so a slow client never holds the loop up and never reads a stale route.
type broker struct {
	mu     sync.Mutex
	subs   map[string]map[chan struct{}]struct{}
	closed bool
	done   chan struct{}
}

func newBroker() *broker {
	return &broker{subs: map[string]map[chan struct{}]struct{}{}, done: make(chan struct{})}
}

// Subscription is a courier stream's registration: Wake fires (coalesced) after the courier's route changed; Done
// closes when the daemon stops.
type Subscription struct {
	b       *broker
	courier string
	ch      chan struct{}
}

// Wake fires when the courier's route may have changed.
func (s *Subscription) Wake() <-chan struct{} { return s.ch }

// Done closes when the daemon stops streaming.
func (s *Subscription) Done() <-chan struct{} { return s.b.done }

// Close unregisters the subscription.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if m := s.b.subs[s.courier]; m != nil {
		delete(m, s.ch)
		if len(m) == 0 {
			delete(s.b.subs, s.courier)
		}
	}
}

func (b *broker) subscribe(courier string) *Subscription {
	s := &Subscription{b: b, courier: courier, ch: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[courier] == nil {
		b.subs[courier] = map[chan struct{}]struct{}{}
	}
	b.subs[courier][s.ch] = struct{}{}
	return s
}

func (b *broker) notify(couriers []string) {
	if len(couriers) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range couriers {
		for ch := range b.subs[c] {
			select {
			case ch <- struct{}{}:
			default: // already woken; it will read the latest route
			}
		}
	}
}

func (b *broker) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

// Subscribe registers a stream for a courier's route changes. Close it when the stream ends.
func (d *Daemon) Subscribe(courierID string) service.Subscription {
	return d.streams.subscribe(courierID)
}

// StopStreams ends every courier stream (an HTTP server's graceful shutdown waits for open requests, and a stream
// never ends by itself).
func (d *Daemon) StopStreams() { d.streams.closeAll() }

// StreamsDone is closed when the daemon ends its streams (StopStreams or shutdown).
func (d *Daemon) StreamsDone() <-chan struct{} { return d.streams.done }

package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// streamWriteTimeout bounds each write to a courier stream, so that a client that stopped reading does not hold a
// connection (and its goroutine) forever.
const streamWriteTimeout = 30 * time.Second

// lastEventID reads the Last-Event-ID header a reconnecting client sends (ok false when there is none).
func lastEventID(r *http.Request, what string) (id uint64, ok bool, err error) {
	h := r.Header.Get("Last-Event-ID")
	if h == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(h, 10, 63)
	if err != nil {
		return 0, false, apiError(dispatch.EInvalid, "Last-Event-ID", "Last-Event-ID must be %s (an integer)", what)
	}
	return v, true, nil
}

// startSSE answers 200 with a server-sent event stream and returns how to write to it: each write is flushed at
// once and bounded by streamWriteTimeout, and false means the client is gone. The first write (of anything, nil
// included) starts with the retry line that tells the client how soon to reconnect.
func startSSE(w http.ResponseWriter) func([]byte) bool {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	started := false
	return func(b []byte) bool {
		if !started {
			started = true
			b = append([]byte("retry: 2000\n\n"), b...)
		}
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
}

// stream is the courier's server-sent event stream. Every event is the whole route with its version as the event
// id, so "what was missed" after a reconnect is the current route when its version is above Last-Event-ID: a
// superseded route is never worth sending. A comment line every heartbeat keeps proxies from closing the stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var last int64 = -1
	if v, ok, err := lastEventID(r, "a route version"); err != nil {
		return err
	} else if ok {
		last = int64(v)
	}
	if _, ok := s.d.View().Route(p.ID); !ok {
		return apiError(dispatch.ENotFound, "", "courier not found")
	}
	closed, err := s.limits.openStream(p)
	if err != nil {
		return err
	}
	defer closed()
	sub := s.d.Subscribe(p.ID)
	defer sub.Close()
	write := startSSE(w)
	send := func() bool {
		rt, ok := s.d.CourierRoute(p.ID)
		if !ok || int64(rt.Version) <= last && last >= 0 {
			return true
		}
		data, _ := json.Marshal(rt)
		last = int64(rt.Version)
		return write(fmt.Appendf(nil, "id: %d\nevent: route\ndata: %s\n\n", rt.Version, data))
	}
	if !write(nil) || !send() {
		return nil
	}
	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-sub.Done():
			return nil
		case <-sub.Wake():
			if !send() {
				return nil
			}
		case <-hb.C:
			if !write([]byte(": heartbeat\n\n")) {
				return nil
			}
		}
	}
}

// events is the order services' stream of order events (server-sent events): one event per order change, its id
// the event id. A reconnect with Last-Event-ID gets exactly the events after it, also across a daemon restart,
// within the event retention; without it the stream starts with the events that come next.
func (s *Server) events(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	after := s.d.LastEventID()
	if v, ok, err := lastEventID(r, "an event id"); err != nil {
		return err
	} else if ok {
		after = v
	}
	closed, err := s.limits.openStream(p)
	if err != nil {
		return err
	}
	defer closed()
	write := startSSE(w)
	if !write(nil) {
		return nil
	}
	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	done := s.d.Done()
	stop := s.d.StreamsDone()
	for {
		page, more, err := s.d.Events(after, 500)
		if err != nil {
			logFrom(r).Error().Err(err).Msg("event stream: reading the event log")
			return nil
		}
		if len(page) > 0 {
			var buf []byte
			for _, ev := range page {
				data, _ := json.Marshal(ev)
				buf = fmt.Appendf(buf, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
				after = ev.ID
			}
			if !write(buf) {
				return nil
			}
			continue
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-done:
			return nil
		case <-stop:
			return nil
		case <-more:
		case <-hb.C:
			if !write([]byte(": heartbeat\n\n")) {
				return nil
			}
		}
	}
}

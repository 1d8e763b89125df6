// Package webhook delivers order events to the order services' webhooks: one worker per webhook reads the event
// log from its cursor, posts each event it wants signed the Standard Webhooks way, retries with backoff until the
// receiver acknowledges it or the event is given up on, and keeps its place in a cursor file. It reads the event
// log and the webhooks' settings through Log and Config.Endpoints, never the daemon's loop, so a receiver that is
// down or slow never slows dispatching. Delivery is at least once: an event whose cursor write a crash lost is
// delivered again.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Endpoint is a webhook's settings as deliveries need them.
type Endpoint struct {
	ID     string
	URL    string
	Secret string
	// Events are the event types delivered (none: every type).
	Events []string
	// FromEvent is the last event before the webhook was made: deliveries start after it.
	FromEvent uint64
	// Resume is the delivery cursor the region's journal last recorded (another node's progress, when this node
	// took the region over): without a cursor of its own further on, deliveries resume after it. Not a setting: a
	// change of it alone does not restart deliveries.
	Resume uint64
}

// Wants reports whether events of type typ are delivered to the endpoint.
func (e *Endpoint) Wants(typ string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, typ)
}

func (e *Endpoint) same(o *Endpoint) bool {
	return e.URL == o.URL && e.Secret == o.Secret && e.FromEvent == o.FromEvent && slices.Equal(e.Events, o.Events)
}

// Log is the event log as deliveries read it.
type Log interface {
	// Events returns up to limit events after the id after, and a channel closed when more may have come.
	Events(after uint64, limit int) ([]service.OrderEvent, <-chan struct{}, error)
	// LastEventID is the id of the latest event.
	LastEventID() uint64
}

// Config configures deliveries. Zero durations take the defaults.
type Config struct {
	// Dir holds the cursor files (made, mode 0700, when deliveries start).
	Dir string
	// RetryMin and RetryMax bound the backoff between attempts (doubling from RetryMin, with ±25 % jitter).
	// Defaults 1 s and 5 min.
	RetryMin, RetryMax time.Duration
	// GiveUpAfter: an event still failing this long after its first attempt is given up on (counted and shown),
	// and deliveries move on. Default 24 h.
	GiveUpAfter time.Duration
	// Timeout bounds one attempt. Default 10 s.
	Timeout time.Duration
	// Transport makes the requests (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Endpoints returns the webhooks to deliver to, as now set; it is called every 200 ms.
	Endpoints func() []Endpoint
	// Log is the event log deliveries read.
	Log Log
	// Logger receives deliveries' errors and give-ups.
	Logger zerolog.Logger
	// Observe, when set, counts an attempt to deliver an event: "ok", "failed" (to be retried) or "given_up".
	Observe func(result string)
}

// Status is how a webhook's deliveries go.
type Status struct {
	// Cursor is the last event id dealt with (delivered, skipped by the filter, or given up on).
	Cursor uint64
	// Failing: the last attempt failed and the event is being retried.
	Failing                    bool
	LastError                  string
	LastErrorAt, LastSuccessAt time.Time
	// Delivered, Retries and GivenUp count since the manager started.
	Delivered, Retries, GivenUp int64
}

// Manager runs one delivery worker per endpoint.
type Manager struct {
	cfg    Config
	client *http.Client

	mu      sync.Mutex
	workers map[string]*worker
	wg      sync.WaitGroup
}

type worker struct {
	hook   Endpoint
	cancel context.CancelFunc

	mu sync.Mutex
	st Status
}

// New makes a manager; Run starts its deliveries.
func New(cfg Config) *Manager {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(5*time.Minute, cfg.RetryMin)
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	return &Manager{cfg: cfg,
		client: &http.Client{
			Transport: cfg.Transport,
			Timeout:   cfg.Timeout,
			// A redirect would turn the POST into a GET without its body: answer 3xx is a failed delivery instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		workers: map[string]*worker{}}
}

// Status returns how a webhook's deliveries go; false when no worker delivers to it (yet).
func (m *Manager) Status(id string) (Status, bool) {
	if m == nil {
		return Status{}, false
	}
	m.mu.Lock()
	w, ok := m.workers[id]
	m.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st, true
}

// Run keeps one worker per endpoint until ctx ends, then stops them all and returns.
func (m *Manager) Run(ctx context.Context) {
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		m.cfg.Logger.Error().Err(err).Msg("webhooks: no directory for cursors; deliveries off")
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		m.sync(ctx)
		select {
		case <-ctx.Done():
			m.mu.Lock()
			for _, w := range m.workers {
				w.cancel()
			}
			m.mu.Unlock()
			m.wg.Wait()
			return
		case <-t.C:
		}
	}
}

func (m *Manager) sync(ctx context.Context) {
	want := map[string]Endpoint{}
	for _, h := range m.cfg.Endpoints() {
		want[h.ID] = h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, w := range m.workers {
		if h, ok := want[id]; !ok || !h.same(&w.hook) {
			w.cancel() // deleted or changed: a changed one restarts from its cursor with the new settings
			delete(m.workers, id)
			if !ok {
				os.Remove(m.cursorPath(id))
			}
		}
	}
	for id, h := range want {
		if _, ok := m.workers[id]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{hook: h, cancel: cancel}
		w.st.Cursor = m.loadCursor(&h)
		m.workers[id] = w
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.deliverAll(wctx, w)
		}()
	}
}

func (m *Manager) cursorPath(id string) string { return filepath.Join(m.cfg.Dir, id+".cursor") }

// loadCursor returns where a webhook's deliveries resume. A cursor file that is missing, damaged (its checksum
// fails) or past the last event falls back to the webhook's starting point, or to the cursor the journal recorded
// (Resume) when that is later: events are delivered again, which at-least-once allows, rather than skipped.
func (m *Manager) loadCursor(h *Endpoint) uint64 {
	from := max(h.FromEvent, min(h.Resume, m.cfg.Log.LastEventID()))
	b, err := os.ReadFile(m.cursorPath(h.ID))
	if errors.Is(err, os.ErrNotExist) {
		return from
	}
	n, ok := parseCursor(b)
	if err == nil && ok && n <= m.cfg.Log.LastEventID() {
		return max(n, from) // a webhook changed to start later starts there
	}
	m.cfg.Logger.Warn().Err(err).Str("webhook", h.ID).Str("cursor", strings.TrimSpace(string(b))).Uint64("from_event", from).
		Msg("webhooks: cursor file damaged or past the last event; delivering again from the webhook's start")
	return from
}

// saveCursor records progress. It is not synced: losing the last writes in a crash only means delivering those
// events again, which at-least-once allows.
func (m *Manager) saveCursor(id string, n uint64) {
	tmp := m.cursorPath(id) + ".tmp"
	if err := os.WriteFile(tmp, formatCursor(n), 0o600); err == nil {
		os.Rename(tmp, m.cursorPath(id))
	}
}

func (m *Manager) deliverAll(ctx context.Context, w *worker) {
	for {
		w.mu.Lock()
		cursor := w.st.Cursor
		w.mu.Unlock()
		evs, more, err := m.cfg.Log.Events(cursor, 100)
		if err != nil {
			m.cfg.Logger.Error().Err(err).Str("webhook", w.hook.ID).Msg("webhooks: reading the event log")
			evs = nil
		}
		if len(evs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-more:
			case <-time.After(time.Second): // also after a read error
			}
			continue
		}
		for _, ev := range evs {
			if w.hook.Wants(ev.Type) && !m.deliver(ctx, w, ev) {
				return // stopping
			}
			w.mu.Lock()
			w.st.Cursor = ev.ID
			w.mu.Unlock()
			m.saveCursor(w.hook.ID, ev.ID)
		}
	}
}

// deliver sends one event until it is acknowledged or given up on; false when ctx ended first.
func (m *Manager) deliver(ctx context.Context, w *worker, ev service.OrderEvent) bool {
	body, err := json.Marshal(ev)
	if err != nil {
		return true
	}
	msgID := "evt_" + strconv.FormatUint(ev.ID, 10)
	first := time.Now()
	for attempt := 0; ; attempt++ {
		err := m.post(ctx, &w.hook, msgID, body)
		now := time.Now()
		w.mu.Lock()
		if err == nil {
			w.st.Failing, w.st.LastSuccessAt = false, now
			w.st.Delivered++
			w.mu.Unlock()
			m.cfg.Observe("ok")
			return true
		}
		if ctx.Err() != nil {
			w.mu.Unlock()
			return false
		}
		w.st.Failing, w.st.LastError, w.st.LastErrorAt = true, err.Error(), now
		w.st.Retries++
		giveUp := now.Sub(first) >= m.cfg.GiveUpAfter
		if giveUp {
			w.st.GivenUp++
			w.st.Failing = false
		}
		w.mu.Unlock()
		if giveUp {
			m.cfg.Observe("given_up")
			m.cfg.Logger.Warn().Str("webhook", w.hook.ID).Uint64("event", ev.ID).Msg("webhook: gave up on an event")
			return true
		}
		m.cfg.Observe("failed")
		wait := min(m.cfg.RetryMin<<min(attempt, 30), m.cfg.RetryMax)
		wait = time.Duration(float64(wait) * (0.75 + 0.5*rand.Float64())) // jitter: receivers coming back are not hit in step
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

func (m *Manager) post(ctx context.Context, h *Endpoint, msgID string, body []byte) error {
	ts := time.Now().Unix()
	sig, err := Sign(h.Secret, msgID, ts, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dispatchd-webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := m.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is the receiver's own; the cause is what helps
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}

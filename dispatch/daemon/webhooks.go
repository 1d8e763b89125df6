package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Webhook is an order service's endpoint for order events. The secret signs deliveries, so it is kept as given (in
// the journal and the checkpoint, in the data directory, mode 0600); the API never shows it back.
type Webhook struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events"`
	// FromEvent is the last event before the webhook was made: deliveries start after it.
	FromEvent uint64    `json:"from_event"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (w *Webhook) wants(typ string) bool { return len(w.Events) == 0 || slices.Contains(w.Events, typ) }

// WebhookView is a webhook as the API shows it: its settings (not the secret) and how its deliveries go.
type WebhookView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DeliveredThrough is the last event id dealt with (delivered, skipped by the filter, or given up on).
	DeliveredThrough uint64 `json:"delivered_through"`
	// Backlog is how many events came after it.
	Backlog int64 `json:"backlog"`
	// Failing: the last attempt failed and the event is being retried.
	Failing       bool       `json:"failing"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	// Delivered, Retries and GivenUp count since the daemon started.
	Delivered int64 `json:"delivered"`
	Retries   int64 `json:"retries"`
	GivenUp   int64 `json:"given_up"`
}

// WebhookInput is a webhook as an admin sets it.
type WebhookInput struct {
	ID     string
	URL    string
	Secret string
	Events []string
}

// PutWebhook creates or replaces a webhook. created says which.
func (d *Daemon) PutWebhook(ctx context.Context, in WebhookInput) (*WebhookView, bool, error) {
	if !ValidID(in.ID) {
		return nil, false, errorf(dispatch.EInvalid, "webhook_id", "webhook_id must match [A-Za-z0-9._:-]{1,64}")
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2000 {
		return nil, false, errorf(dispatch.EInvalid, "url", "url must be an absolute http or https URL")
	}
	if _, err := signingKey(in.Secret); err != nil {
		return nil, false, err
	}
	for i, e := range in.Events {
		if !slices.Contains(EventTypes, e) {
			return nil, false, errorf(dispatch.EInvalid, fmt.Sprintf("events[%d]", i), "unknown event type %q", e)
		}
	}
	o, err := run(ctx, d, putWebhook{&Webhook{ID: in.ID, URL: in.URL, Secret: in.Secret, Events: slices.Clone(in.Events)}})
	if err != nil {
		return nil, false, err
	}
	return d.webhookView(o.hook), o.created, nil
}

// putWebhook creates or replaces a webhook.
type putWebhook struct{ w *Webhook }

type putWebhookReply struct {
	hook    *Webhook
	created bool
}

func (c putWebhook) run(d *Daemon, now time.Time) (putWebhookReply, uint64, error) {
	_, existed := d.st.webhooks.get(c.w.ID)
	w, seq, err := recordAs[*Webhook](d, &record{Type: recWebhookPut, At: now, Webhook: newWebhookRecord(c.w)})
	return putWebhookReply{w, !existed}, seq, err
}

// DeleteWebhook removes a webhook; deliveries to it stop.
func (d *Daemon) DeleteWebhook(ctx context.Context, id string) error {
	_, err := run(ctx, d, recordCommand[*Webhook]{&record{Type: recWebhookDel, ID: id}})
	return err
}

// WebhookView returns a webhook with its delivery state.
func (d *Daemon) WebhookView(id string) (*WebhookView, bool) {
	w, ok := d.View().Webhook(id)
	if !ok {
		return nil, false
	}
	return d.webhookView(w), true
}

// WebhookViews returns every webhook with its delivery state.
func (d *Daemon) WebhookViews() []*WebhookView {
	hooks := d.View().Webhooks()
	out := make([]*WebhookView, len(hooks))
	for i, w := range hooks {
		out[i] = d.webhookView(w)
	}
	return out
}

func (d *Daemon) webhookView(w *Webhook) *WebhookView {
	v := &WebhookView{ID: w.ID, URL: w.URL, Events: w.Events, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, DeliveredThrough: w.FromEvent}
	if v.Events == nil {
		v.Events = []string{}
	}
	if st, ok := d.hooks.status(w.ID); ok {
		v.DeliveredThrough = st.cursor
		v.Failing, v.LastError = st.failing, st.lastError
		v.LastErrorAt, v.LastSuccessAt = timePtr(st.lastErrorAt), timePtr(st.lastSuccessAt)
		v.Delivered, v.Retries, v.GivenUp = st.delivered, st.retries, st.givenUp
	}
	v.Backlog = int64(d.LastEventID()) - int64(v.DeliveredThrough)
	return v
}

// WebhookBacklogs returns, by webhook id, how many events wait for delivery (for metrics).
func (d *Daemon) WebhookBacklogs() map[string]int {
	out := map[string]int{}
	for _, w := range d.WebhookViews() {
		out[w.ID] = int(w.Backlog)
	}
	return out
}

// signingKey is the HMAC key of a secret: "whsec_" and base64 (the Standard Webhooks form), or the secret's bytes.
func signingKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) < 16 {
			return nil, errorf(dispatch.EInvalid, "secret", "a whsec_ secret is base64 of at least 16 bytes")
		}
		return key, nil
	}
	if len(secret) < 16 || len(secret) > 256 {
		return nil, errorf(dispatch.EInvalid, "secret", "secret must be 16 to 256 bytes (or whsec_ and base64)")
	}
	return []byte(secret), nil
}

// Sign returns the Standard Webhooks signature header value of a delivery: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" with the secret's key.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := signingKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// WebhookConfig tunes deliveries.
type WebhookConfig struct {
	// RetryMin and RetryMax bound the backoff between attempts (doubling from RetryMin, with ±25 % jitter).
	// Defaults 1 s and 5 min.
	RetryMin, RetryMax time.Duration
	// GiveUpAfter: an event still failing this long after its first attempt is given up on (counted and shown),
	// and deliveries move on. Default 24 h.
	GiveUpAfter time.Duration
	// Timeout bounds one attempt. Default 10 s.
	Timeout time.Duration
}

// hookManager runs one delivery worker per webhook. Workers read the event log, never the loop, so a receiver that
// is down or slow never slows dispatching; each keeps its place in a cursor file, so a restart resumes where it
// was (an event whose cursor write a crash lost is delivered again: at least once).
type hookManager struct {
	d      *Daemon
	cfg    WebhookConfig
	dir    string
	client *http.Client

	mu      sync.Mutex
	workers map[string]*hookWorker
	wg      sync.WaitGroup
}

type hookWorker struct {
	hook   *Webhook
	cancel context.CancelFunc

	mu sync.Mutex
	st hookStatus
}

type hookStatus struct {
	cursor                     uint64
	failing                    bool
	lastError                  string
	lastErrorAt, lastSuccessAt time.Time
	delivered, retries         int64
	givenUp                    int64
}

func newHookManager(d *Daemon, cfg WebhookConfig) *hookManager {
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
	return &hookManager{d: d, cfg: cfg, dir: filepath.Join(d.cfg.DataDir, "webhooks"),
		client: &http.Client{
			Timeout: cfg.Timeout,
			// A redirect would turn the POST into a GET without its body: answer 3xx is a failed delivery instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		workers: map[string]*hookWorker{}}
}

func (m *hookManager) status(id string) (hookStatus, bool) {
	if m == nil {
		return hookStatus{}, false
	}
	m.mu.Lock()
	w, ok := m.workers[id]
	m.mu.Unlock()
	if !ok {
		return hookStatus{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st, true
}

// run keeps one worker per webhook of the published View until ctx ends, then stops them all.
func (m *hookManager) run(ctx context.Context) {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		m.d.log.Error().Err(err).Msg("webhooks: no directory for cursors; deliveries off")
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

func (m *hookManager) sync(ctx context.Context) {
	want := map[string]*Webhook{}
	for _, h := range m.d.View().Webhooks() {
		want[h.ID] = h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, w := range m.workers {
		if h, ok := want[id]; !ok || h != w.hook {
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
		w := &hookWorker{hook: h, cancel: cancel}
		w.st.cursor = m.loadCursor(h)
		m.workers[id] = w
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.deliverAll(wctx, w)
		}()
	}
}

func (m *hookManager) cursorPath(id string) string { return filepath.Join(m.dir, id+".cursor") }

// loadCursor returns where a webhook's deliveries resume. A cursor file that is missing, damaged (its checksum
// fails) or past the last event falls back to the webhook's starting point: events are delivered again, which
// at-least-once allows, rather than skipped.
func (m *hookManager) loadCursor(h *Webhook) uint64 {
	b, err := os.ReadFile(m.cursorPath(h.ID))
	if errors.Is(err, os.ErrNotExist) {
		return h.FromEvent
	}
	n, ok := parseCursor(b)
	if err == nil && ok && n <= m.d.LastEventID() {
		return max(n, h.FromEvent) // a webhook changed to start later starts there
	}
	m.d.log.Warn().Err(err).Str("webhook", h.ID).Str("cursor", strings.TrimSpace(string(b))).Uint64("from_event", h.FromEvent).
		Msg("webhooks: cursor file damaged or past the last event; delivering again from the webhook's start")
	return h.FromEvent
}

// A cursor file holds "<event id> <crc32c of the id's digits, 8 hex digits>\n"; one written before the checksum
// was added holds the id alone.
func formatCursor(n uint64) []byte {
	id := strconv.FormatUint(n, 10)
	return fmt.Appendf(nil, "%s %08x\n", id, crc32.Checksum([]byte(id), castagnoli))
}

func parseCursor(b []byte) (uint64, bool) {
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f) > 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	if len(f) == 2 {
		sum, err := strconv.ParseUint(f[1], 16, 32)
		if err != nil || uint32(sum) != crc32.Checksum([]byte(f[0]), castagnoli) {
			return 0, false
		}
	}
	return n, true
}

// saveCursor records progress. It is not synced: losing the last writes in a crash only means delivering those
// events again, which at-least-once allows.
func (m *hookManager) saveCursor(id string, n uint64) {
	tmp := m.cursorPath(id) + ".tmp"
	if err := os.WriteFile(tmp, formatCursor(n), 0o600); err == nil {
		os.Rename(tmp, m.cursorPath(id))
	}
}

func (m *hookManager) deliverAll(ctx context.Context, w *hookWorker) {
	for {
		w.mu.Lock()
		cursor := w.st.cursor
		w.mu.Unlock()
		evs, more, err := m.d.Events(cursor, 100)
		if err != nil {
			m.d.log.Error().Err(err).Str("webhook", w.hook.ID).Msg("webhooks: reading the event log")
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
			if w.hook.wants(ev.Type) && !m.deliver(ctx, w, ev) {
				return // stopping
			}
			w.mu.Lock()
			w.st.cursor = ev.ID
			w.mu.Unlock()
			m.saveCursor(w.hook.ID, ev.ID)
		}
	}
}

// deliver sends one event until it is acknowledged or given up on; false when ctx ended first.
func (m *hookManager) deliver(ctx context.Context, w *hookWorker, ev OrderEvent) bool {
	body, err := json.Marshal(ev)
	if err != nil {
		return true
	}
	msgID := "evt_" + strconv.FormatUint(ev.ID, 10)
	first := time.Now()
	for attempt := 0; ; attempt++ {
		err := m.post(ctx, w.hook, msgID, body)
		now := time.Now()
		w.mu.Lock()
		if err == nil {
			w.st.failing, w.st.lastSuccessAt = false, now
			w.st.delivered++
			w.mu.Unlock()
			m.d.obs.WebhookDelivery("ok")
			return true
		}
		if ctx.Err() != nil {
			w.mu.Unlock()
			return false
		}
		w.st.failing, w.st.lastError, w.st.lastErrorAt = true, err.Error(), now
		w.st.retries++
		giveUp := now.Sub(first) >= m.cfg.GiveUpAfter
		if giveUp {
			w.st.givenUp++
			w.st.failing = false
		}
		w.mu.Unlock()
		if giveUp {
			m.d.obs.WebhookDelivery("given_up")
			m.d.log.Warn().Str("webhook", w.hook.ID).Uint64("event", ev.ID).Msg("webhook: gave up on an event")
			return true
		}
		m.d.obs.WebhookDelivery("failed")
		wait := min(m.cfg.RetryMin<<min(attempt, 30), m.cfg.RetryMax)
		wait = time.Duration(float64(wait) * (0.75 + 0.5*rand.Float64())) // jitter: receivers coming back are not hit in step
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

func (m *hookManager) post(ctx context.Context, h *Webhook, msgID string, body []byte) error {
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

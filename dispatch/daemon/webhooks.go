package daemon

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/webhook"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
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
	// Delivered is the owner's delivery cursor as last journaled (a webhook_cursors record): a node that takes the
	// region over resumes deliveries after it, at least once, when it has no cursor of its own further on. Kept by
	// webhook_cursors records and the checkpoint, not in this JSON (old journals' webhook views).
	Delivered uint64 `json:"-"`
}

// endpoint is the webhook as deliveries need it.
func (w *Webhook) endpoint() webhook.Endpoint {
	return webhook.Endpoint{ID: w.ID, URL: w.URL, Secret: w.Secret, Events: w.Events, FromEvent: w.FromEvent, Resume: w.Delivered}
}

// journalCursors journals the webhooks' delivery cursors that moved since last journaled, so that a node taking
// the region over (which follows the journal, or starts from a checkpoint holding them) resumes deliveries near
// where this one was rather than from each webhook's start. Owner only, on the loop. It reports whether it
// journaled a record.
func (d *Daemon) journalCursors() bool {
	if d.hooks == nil || d.standby.Load() || d.jnl().Err() != nil {
		return false // recovering (no deliveries yet), a standby, or a journal that cannot write
	}
	var moved map[string]uint64
	for _, id := range d.st.webhooks.SortedKeys() {
		w, _ := d.st.webhooks.Get(id)
		if st, ok := d.hooks.Status(id); ok && st.Cursor > w.Delivered {
			if moved == nil {
				moved = map[string]uint64{}
			}
			moved[id] = st.Cursor
		}
	}
	if moved == nil {
		return false
	}
	if _, _, err := d.record(&record{Type: recWebhookCursors, At: d.now(), Cursors: moved}); err != nil {
		d.log.Warn().Err(err).Msg("webhook cursors not journaled")
		return false
	}
	return true
}

// applyCursors takes a webhook_cursors record: cursors only move forward, for webhooks that still exist.
func (d *Daemon) applyCursors(rec *record) {
	for _, id := range slices.Sorted(maps.Keys(rec.Cursors)) {
		if w, ok := d.st.webhooks.Get(id); ok && rec.Cursors[id] > w.Delivered {
			cp := *w
			cp.Delivered = rec.Cursors[id]
			d.st.webhooks.Set(id, &cp)
		}
	}
}

// PutWebhook creates or replaces a webhook. created says which.
func (d *Daemon) PutWebhook(ctx context.Context, in service.WebhookInput) (*service.Webhook, bool, error) {
	if !ValidID(in.ID) {
		return nil, false, errorf(dispatch.EInvalid, "webhook_id", "webhook_id must match [A-Za-z0-9._:-]{1,64}")
	}
	if err := webhook.Check(in.URL, in.Secret); err != nil {
		return nil, false, err
	}
	for i, e := range in.Events {
		if !slices.Contains(service.EventTypes, e) {
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
	_, existed := d.st.webhooks.Get(c.w.ID)
	w, seq, err := recordAs[*Webhook](d, &record{Type: recWebhookPut, At: now, Webhook: newWebhookRecord(c.w)})
	return putWebhookReply{w, !existed}, seq, err
}

// DeleteWebhook removes a webhook; deliveries to it stop.
func (d *Daemon) DeleteWebhook(ctx context.Context, id string) error {
	_, err := run(ctx, d, recordCommand[*Webhook]{&record{Type: recWebhookDel, ID: id}})
	return err
}

// WebhookView returns a webhook with its delivery state.
func (d *Daemon) WebhookView(id string) (*service.Webhook, bool) {
	w, ok := d.view.Load().Webhook(id)
	if !ok {
		return nil, false
	}
	return d.webhookView(w), true
}

// WebhookViews returns every webhook with its delivery state.
func (d *Daemon) WebhookViews() []*service.Webhook {
	hooks := d.view.Load().Webhooks()
	out := make([]*service.Webhook, len(hooks))
	for i, w := range hooks {
		out[i] = d.webhookView(w)
	}
	return out
}

func (d *Daemon) webhookView(w *Webhook) *service.Webhook {
	v := &service.Webhook{ID: w.ID, URL: w.URL, Events: w.Events, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		DeliveredThrough: max(w.FromEvent, w.Delivered)} // deliveries not running here (a standby): the journaled cursor
	if v.Events == nil {
		v.Events = []string{}
	}
	if st, ok := d.hooks.Status(w.ID); ok {
		v.DeliveredThrough = st.Cursor
		v.Failing, v.LastError = st.Failing, st.LastError
		v.LastErrorAt, v.LastSuccessAt = timePtr(st.LastErrorAt), timePtr(st.LastSuccessAt)
		v.Delivered, v.Retries, v.GivenUp = st.Delivered, st.Retries, st.GivenUp
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
	// JournalCursorsEvery, when set, journals the delivery cursors that moved this often (a webhook_cursors record)
	// besides once a minute and before every checkpoint: what a new owner of the region delivers again after a
	// failover is at most about this long's worth. A cluster sets it to the lease's length.
	JournalCursorsEvery time.Duration
}

// hookConfig is how the daemon's webhooks are delivered (internal/webhook): from the event log, to the webhooks of
// the published view, with cursors in the data directory's webhooks/.
func hookConfig(d *Daemon, cfg WebhookConfig) webhook.Config {
	return webhook.Config{Dir: filepath.Join(d.cfg.DataDir, "webhooks"),
		RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, GiveUpAfter: cfg.GiveUpAfter, Timeout: cfg.Timeout,
		Endpoints: func() []webhook.Endpoint {
			hooks := d.view.Load().Webhooks()
			out := make([]webhook.Endpoint, len(hooks))
			for i, w := range hooks {
				out[i] = w.endpoint()
			}
			return out
		},
		Log: d, Logger: d.log, Observe: d.obs.WebhookDelivery}
}

// Webhooks returns the region's webhooks as set, secrets included (copies). In a cluster these are the control
// region's, which every other region's owner delivers its own region's events to (Config.ControlWebhooks).
func (d *Daemon) Webhooks() []*Webhook {
	hooks := d.view.Load().Webhooks()
	out := make([]*Webhook, len(hooks))
	for i, w := range hooks {
		cp := *w
		cp.Events = slices.Clone(w.Events)
		out[i] = &cp
	}
	return out
}

// hookKeepEvery is how often an owner compares its region's webhooks with the control region's.
const hookKeepEvery = 250 * time.Millisecond

// keepHooks runs beside the deliveries on an owner, until ctx ends: with Config.ControlWebhooks it keeps the
// region's webhooks the same as the control region's (mirrorWebhooks), and with WebhookConfig.JournalCursorsEvery
// it journals the delivery cursors that moved that often (besides the loop's once a minute).
func (d *Daemon) keepHooks(ctx context.Context) {
	if d.cfg.ControlWebhooks == nil && d.cfg.Webhooks.JournalCursorsEvery <= 0 {
		return // a single daemon, or the control region: the loop journals the cursors
	}
	t := time.NewTicker(hookKeepEvery)
	defer t.Stop()
	lastJournal := d.clock()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.jnl().Err() != nil {
			continue // read-only: the node gives the region up
		}
		if d.cfg.ControlWebhooks != nil {
			err := d.mirrorWebhooks(ctx)
			if err != nil && ctx.Err() == nil && err.Error() != lastErr {
				d.log.Warn().Err(err).Msg("webhooks: the control region's not taken over") // once per cause, not every turn
			}
			lastErr = ""
			if err != nil {
				lastErr = err.Error()
			}
		}
		if every := d.cfg.Webhooks.JournalCursorsEvery; every > 0 && d.clock().Sub(lastJournal) >= every {
			lastJournal = d.clock()
			if _, err := run(ctx, d, journalCursorsCommand{}); err != nil && ctx.Err() == nil {
				d.log.Debug().Err(err).Msg("webhooks: cursors not journaled")
			}
		}
	}
}

// journalCursorsCommand is journalCursors on the loop.
type journalCursorsCommand struct{}

func (journalCursorsCommand) run(d *Daemon, _ time.Time) (bool, uint64, error) {
	return d.journalCursors(), 0, nil
}

// mirrorWebhooks makes the region's webhooks those of the control region (Config.ControlWebhooks), by journaled
// webhook_put and webhook_delete records: a webhook new here starts after the region's last event at its put
// (Webhook.FromEvent, journaled with the record, so every replica and a later owner agree on it), one changed
// keeps its start and cursor, one deleted (or gone) there stops here. Nothing is done while the control region's
// list cannot be trusted (ControlWebhooks answers false: this node's replica of it has not caught up), so that a
// lagging replica never deletes a webhook. Owner only.
func (d *Daemon) mirrorWebhooks(ctx context.Context) error {
	want, ok := d.cfg.ControlWebhooks()
	if !ok {
		return nil
	}
	ids := map[string]bool{}
	for _, w := range want {
		ids[w.ID] = true
		if have, ok := d.view.Load().Webhook(w.ID); ok && have.URL == w.URL && have.Secret == w.Secret &&
			slices.Equal(have.Events, w.Events) {
			continue
		}
		in := &Webhook{ID: w.ID, URL: w.URL, Secret: w.Secret, Events: slices.Clone(w.Events)}
		if _, err := run(ctx, d, putWebhook{in}); err != nil {
			return fmt.Errorf("webhook %s: %w", w.ID, err)
		}
	}
	for _, have := range d.view.Load().Webhooks() {
		if ids[have.ID] {
			continue
		}
		err := d.DeleteWebhook(ctx, have.ID)
		if err != nil && dispatch.ErrorCodeOf(err) != dispatch.ENotFound {
			return fmt.Errorf("webhook %s: %w", have.ID, err)
		}
	}
	return nil
}

package daemon

import (
	"sync"
	"testing"
)

// control is a control region's webhook list as a test sets it (Config.ControlWebhooks).
type control struct {
	mu      sync.Mutex
	hooks   []*Webhook
	trusted bool
}

func (c *control) set(trusted bool, hooks ...*Webhook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks, c.trusted = hooks, trusted
}

func (c *control) get() ([]*Webhook, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Webhook, len(c.hooks))
	for i, w := range c.hooks {
		cp := *w
		out[i] = &cp
	}
	return out, c.trusted
}

// A region's owner makes its webhooks the control region's: new ones put, changed ones put again keeping their
// start, gone ones deleted; never while the control region's list is not to be trusted (a lagging replica), so
// that a webhook is not deleted because this node has not read it yet.
func TestMirrorWebhooks(t *testing.T) {
	var c control
	h := start(t, t.TempDir(), newFakeClock(), func(cfg *Config) { cfg.ControlWebhooks = c.get })
	d := h.d
	mirror := func() {
		t.Helper()
		if err := d.mirrorWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w1 := &Webhook{ID: "w1", URL: "http://127.0.0.1:9/a", Secret: "0123456789abcdef", Events: []string{"order.created"}}

	c.set(false, w1)
	mirror()
	if _, ok := d.WebhookView("w1"); ok {
		t.Fatal("w1 taken over from a control list not caught up")
	}

	c.set(true, w1)
	mirror()
	got, ok := d.view.Load().Webhook("w1")
	if !ok || got.URL != w1.URL || got.Secret != w1.Secret || len(got.Events) != 1 {
		t.Fatalf("w1 after the mirror: %+v, %v", got, ok)
	}
	seq := d.Position()
	mirror()
	if d.Position() != seq {
		t.Errorf("an unchanged list journaled records: position %d → %d", seq, d.Position())
	}

	changed := *w1
	changed.URL = "http://127.0.0.1:9/b"
	c.set(true, &changed)
	mirror()
	again, _ := d.view.Load().Webhook("w1")
	if again.URL != changed.URL || !again.CreatedAt.Equal(got.CreatedAt) || again.FromEvent != got.FromEvent {
		t.Errorf("w1 changed: %+v, want the new URL with the start and creation of %+v", again, got)
	}

	c.set(false)
	mirror()
	if _, ok := d.WebhookView("w1"); !ok {
		t.Fatal("w1 deleted on a control list not caught up")
	}
	c.set(true)
	mirror()
	if _, ok := d.WebhookView("w1"); ok {
		t.Fatal("w1, gone from the control region, still here")
	}
}

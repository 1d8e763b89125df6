package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// memLog is an event log in memory.
type memLog struct {
	mu   sync.Mutex
	evs  []service.OrderEvent
	more chan struct{}
}

func newMemLog(types ...string) *memLog {
	l := &memLog{more: make(chan struct{})}
	for i, typ := range types {
		l.evs = append(l.evs, service.OrderEvent{ID: uint64(i + 1), Type: typ, At: time.Date(2026, 11, 23, 11, 0, i, 0, time.UTC),
			Order: service.Order{ID: fmt.Sprintf("ord_%d", i+1), Status: "pending"}})
	}
	return l
}

func (l *memLog) Events(after uint64, limit int) ([]service.OrderEvent, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after >= uint64(len(l.evs)) {
		return nil, l.more, nil
	}
	return slices.Clone(l.evs[after:min(uint64(len(l.evs)), after+uint64(limit))]), l.more, nil
}

func (l *memLog) LastEventID() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.evs))
}

const secret = "a-secret-of-32-bytes-for-tests!!"

// Deliveries go to the endpoint's URL, in order, only the types it wants, each signed over its id, timestamp and
// body; an attempt the receiver refuses is retried until acknowledged; the cursor file ends at the last event and
// the status and the metrics count what happened.
func TestDeliveryIsSignedRetriedAndResumable(t *testing.T) {
	var mu sync.Mutex
	var got []service.OrderEvent
	refuse := 2 // the receiver answers 503 to the first two attempts
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		want, _ := Sign(secret, r.Header.Get("webhook-id"), ts, body)
		if !hmac.Equal([]byte(r.Header.Get("webhook-signature")), []byte(want)) {
			t.Errorf("signature %q, want %q", r.Header.Get("webhook-signature"), want)
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse > 0 {
			refuse--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev service.OrderEvent
		if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get("webhook-id") != "evt_"+strconv.FormatUint(ev.ID, 10) {
			t.Errorf("body %s (%v) under id %q", body, err, r.Header.Get("webhook-id"))
		}
		got = append(got, ev)
	}))
	defer recv.Close()
	log := newMemLog(service.EventCreated, service.EventETAChanged, service.EventAssigned, service.EventCreated)
	var observed sync.Map
	hook := Endpoint{ID: "wh1", URL: recv.URL, Secret: secret, Events: []string{service.EventCreated, service.EventAssigned}}
	m := New(Config{Dir: t.TempDir(), RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, Log: log,
		Endpoints: func() []Endpoint { return []Endpoint{hook} }, Logger: zerolog.Nop(),
		Observe: func(r string) {
			n, _ := observed.LoadOrStore(r, new(int))
			mu.Lock()
			*n.(*int)++
			mu.Unlock()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, ok := m.Status("wh1"); ok && st.Cursor == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the four events were not dealt with in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var ids []uint64
	for _, ev := range got {
		ids = append(ids, ev.ID)
	}
	if !slices.Equal(ids, []uint64{1, 3, 4}) {
		t.Fatalf("delivered events %v, want 1, 3, 4 (2 is a type the webhook does not want)", ids)
	}
	st, _ := m.Status("wh1")
	if st.Delivered != 3 || st.Retries != 2 || st.GivenUp != 0 || st.Failing || st.LastError != "answered 503" {
		t.Fatalf("status %+v, want 3 delivered after 2 retries, the last error kept", st)
	}
	for r, want := range map[string]int{"ok": 3, "failed": 2} {
		n, _ := observed.Load(r)
		if n == nil || *n.(*int) != want {
			t.Fatalf("observed %q %v times, want %d", r, n, want)
		}
	}
	if c := m.loadCursor(&hook); c != 4 {
		t.Fatalf("the cursor file reads %d, want 4", c)
	}
}

// An event the receiver never acknowledges is given up on once GiveUpAfter has passed since its first attempt, and
// deliveries move on.
func TestDeliveryGivesUp(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer recv.Close()
	hook := Endpoint{ID: "wh1", URL: recv.URL, Secret: secret}
	m := New(Config{Dir: t.TempDir(), RetryMin: time.Millisecond, RetryMax: time.Millisecond, GiveUpAfter: 20 * time.Millisecond,
		Log: newMemLog(service.EventCreated, service.EventCreated), Endpoints: func() []Endpoint { return []Endpoint{hook} }, Logger: zerolog.Nop()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, ok := m.Status("wh1"); ok && st.Cursor == 2 {
			if st.GivenUp != 2 || st.Delivered != 0 {
				t.Fatalf("status %+v, want both events given up on", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the events were not given up on in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Settings an admin gives are checked, naming the field.
func TestCheck(t *testing.T) {
	for _, tc := range []struct{ url, secret, field string }{
		{"https://shop.example/hooks", secret, ""},
		{"https://shop.example/hooks", "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZg==", ""},
		{"ftp://shop.example/hooks", secret, "url"},
		{"/hooks", secret, "url"},
		{"https://" + strings.Repeat("a", 2000), secret, "url"},
		{"https://shop.example/hooks", "short", "secret"},
		{"https://shop.example/hooks", "whsec_c2hvcnQ=", "secret"},
	} {
		err := Check(tc.url, tc.secret)
		if tc.field == "" {
			if err != nil {
				t.Errorf("Check(%q, %q): %v", tc.url, tc.secret, err)
			}
			continue
		}
		if e, ok := err.(*dispatch.Error); !ok || e.Code != dispatch.EInvalid || e.Field != tc.field {
			t.Errorf("Check(%q, %q): %v, want invalid %s", tc.url, tc.secret, err, tc.field)
		}
	}
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A webhook's cursor file with any bit flipped resumes at the cursor or at the webhook's start (delivering again),
// never elsewhere; garbage, an empty file or a cursor past the last event resume at the start too.
func TestDamagedWebhookCursor(t *testing.T) {
	log := newMemLog(service.EventCreated, service.EventCreated, service.EventCreated)
	m := New(Config{Dir: t.TempDir(), Log: log, Logger: zerolog.Nop()})
	last := log.LastEventID()
	hook := &Endpoint{ID: "wh1", FromEvent: 1}
	m.saveCursor(hook.ID, 2)
	if got := m.loadCursor(hook); got != 2 {
		t.Fatalf("cursor saved at 2 reads %d", got)
	}
	good, _ := os.ReadFile(m.cursorPath(hook.ID))
	for bit := range len(good) * 8 {
		b := slices.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		mustWrite(t, m.cursorPath(hook.ID), b)
		if got := m.loadCursor(hook); got != 2 && got != hook.FromEvent {
			t.Fatalf("cursor %q (bit %d flipped) reads %d, want 2 or the webhook's start", b, bit, got)
		}
	}
	for _, content := range []string{"", "garbage", "2 00000000\n", fmt.Sprint(last + 5), string(formatCursor(last + 5))} {
		mustWrite(t, m.cursorPath(hook.ID), []byte(content))
		if got := m.loadCursor(hook); got != hook.FromEvent {
			t.Fatalf("cursor file %q reads %d, want the webhook's start %d", content, got, hook.FromEvent)
		}
	}
	mustWrite(t, m.cursorPath(hook.ID), []byte("2\n")) // written before cursors had a checksum
	if got := m.loadCursor(hook); got != 2 {
		t.Fatalf("a cursor without a checksum reads %d, want 2", got)
	}
}

// FuzzWebhookCursor reads a made-up webhook cursor file: a cursor accepted from it is the number it starts with
// (never a made-up one), and a cursor the manager writes is read back exactly. (The first argument is kept from
// the corpus's earlier form, where it was the webhook's first event.)
func FuzzWebhookCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, content []byte, n uint64) {
		if got, ok := parseCursor(content); ok {
			fields := strings.Fields(string(content))
			if want, err := strconv.ParseUint(fields[0], 10, 64); err != nil || got != want {
				t.Fatalf("cursor file %q read as %d", content, got)
			}
		}
		if got, ok := parseCursor(formatCursor(n)); !ok || got != n {
			t.Fatalf("cursor %d written as %q, read back as %d, %v", n, formatCursor(n), got, ok)
		}
	})
}

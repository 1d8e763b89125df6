package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

func TestFleetOfBeforeOpen(t *testing.T) {
	f := fleetOf(nil)
	if f.Ready || f.ReadOnly || f.OrdersByStatus != nil {
		t.Fatalf("fleet of no daemon: %+v, want the zero Fleet", f)
	}
}

// A failed journal commit shows in the fleet as read-only and not ready, which dispatchd_read_only and
// dispatchd_ready report and the alerts watch.
func TestFleetOfReadOnlyAfterFailedCommit(t *testing.T) {
	var fail atomic.Bool
	cfg := daemon.DefaultConfig()
	cfg.DataDir, cfg.DispatchInterval = t.TempDir(), time.Hour
	cfg.FailCommit = func() error {
		if fail.Load() {
			return errors.New("disk full (test)")
		}
		return nil
	}
	d, err := daemon.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	for deadline := time.Now().Add(10 * time.Second); !d.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("daemon never ready")
		}
	}
	if f := fleetOf(d); !f.Ready || f.ReadOnly {
		t.Fatalf("healthy daemon: ready %v, read-only %v", f.Ready, f.ReadOnly)
	}
	fail.Store(true)
	store := service.StoreInput{ID: "s1", Location: service.Location{Lat: 31.23, Lon: 121.47}}
	if _, _, err := d.PutStore(ctx, store); err == nil {
		t.Fatal("a write whose commit fails was acknowledged")
	}
	if f := fleetOf(d); f.Ready || !f.ReadOnly {
		t.Fatalf("after a failed commit: ready %v, read-only %v; want not ready, read-only", f.Ready, f.ReadOnly)
	}
}

// A webhook whose endpoint refuses has a backlog, and the age of its oldest waiting event is reported; the data
// directory's file system and the readiness gauges are in the daemon's scrape.
func TestScrapeHasWebhookAgeReadinessAndDisk(t *testing.T) {
	c, _ := startMain(t, t.TempDir(), "--dispatch-interval", "1h")
	admin := testAdminToken
	c.must(201, "PUT", "/v1/stores/s1", admin, map[string]any{"location": map[string]float64{"lat": 31.2304, "lon": 121.4737}}, nil)
	c.must(201, "PUT", "/v1/webhooks/w1", admin, map[string]any{"url": "http://127.0.0.1:1/refused", "secret": "0123456789abcdef"}, nil)
	var key struct{ Key string }
	c.must(201, "POST", "/v1/api-keys", admin, map[string]string{"name": "shop"}, &key)
	c.must(201, "POST", "/v1/orders", key.Key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, nil)

	// The event reaches the event log, and the webhook's backlog, once the order's view is published, which may
	// be just after the answer: scrape until it is there (or a deadline).
	var v map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, scrape := c.do("GET", "/metrics", "", nil)
		if status != 200 {
			t.Fatalf("GET /metrics: %d", status)
		}
		v = scrapeValues(scrape)
		if v[`dispatchd_webhook_backlog{webhook="w1"}`] >= 1 && v[`dispatchd_webhook_oldest_pending_age_seconds{webhook="w1"}`] > 0 ||
			time.Now().After(deadline) {
			break
		}
	}
	for name, ok := range map[string]func(float64) bool{
		`dispatchd_webhook_backlog{webhook="w1"}`:                    func(x float64) bool { return x >= 1 },
		`dispatchd_webhook_oldest_pending_age_seconds{webhook="w1"}`: func(x float64) bool { return x > 0 },
		`dispatchd_ready`:                                         func(x float64) bool { return x == 1 },
		`dispatchd_read_only`:                                     func(x float64) bool { return x == 0 },
		`dispatchd_data_dir_size_bytes`:                           func(x float64) bool { return x > 0 },
		`dispatchd_data_dir_avail_bytes`:                          func(x float64) bool { return x <= v[`dispatchd_data_dir_size_bytes`] },
		`promhttp_metric_handler_errors_total{cause="gathering"}`: func(x float64) bool { return x == 0 },
	} {
		x, found := v[name]
		if !found || !ok(x) {
			t.Errorf("%s = %v (in the scrape: %v)", name, x, found)
		}
	}
}

// scrapeValues reads the samples of a text exposition, by series as written ("name{labels}").
func scrapeValues(b []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if x, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = x
		}
	}
	return out
}

package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMetricsPassPromtool lints the metrics of a running daemon, after traffic that touches every metric, with
// `promtool check metrics` (names, units, help texts, histogram layout). It runs when DISPATCHD_PROMTOOL names the
// promtool binary, as `make metrics-check` does; CI installs promtool with .ci/install-promtool.
func TestMetricsPassPromtool(t *testing.T) {
	promtool := os.Getenv("DISPATCHD_PROMTOOL")
	if promtool == "" {
		t.Skip("DISPATCHD_PROMTOOL is not set (make metrics-check sets it)")
	}
	c, _ := startMain(t, t.TempDir(), "--dispatch-interval", "200ms")
	touchEveryMetric(t, c)

	req, _ := http.NewRequest("GET", c.base+"/metrics", nil)
	req.Header.Set("Accept", "text/plain") // the text format, which promtool reads
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, scrape)
	}
	// The scrape has what the traffic made, so the lint saw it.
	for _, want := range []string{`dispatchd_click_to_door_seconds_count 1`, `dispatchd_orders_finished_total{status="cancelled"} 1`,
		`dispatchd_http_requests_total{code="400",route="POST /v1/orders"} 1`, `dispatchd_webhook_backlog{webhook="w1"}`,
		`dispatchd_journal_sync_duration_seconds_bucket`, `dispatchd_dispatch_round_duration_seconds_count`,
		`dispatchd_webhook_oldest_pending_age_seconds{webhook="w1"}`, `dispatchd_ready 1`, `dispatchd_data_dir_avail_bytes`} {
		if !bytes.Contains(scrape, []byte(want)) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Logf("promtool: %s", s)
	}
	t.Logf("promtool check metrics: %d lines clean", bytes.Count(scrape, []byte("\n")))
}

// touchEveryMetric sends c's daemon the traffic that gives every metric a value: a store, a courier on shift, a
// webhook whose endpoint refuses (failed deliveries and a backlog by webhook), orders placed, one delivered (click
// to door), one cancelled, and refusals. The daemon must run rounds often (--dispatch-interval 200ms).
func touchEveryMetric(t *testing.T, c *client) {
	t.Helper()
	admin := testAdminToken
	c.must(201, "PUT", "/v1/stores/s1", admin, map[string]any{"location": map[string]float64{"lat": 31.2304, "lon": 121.4737}, "prep_seconds": 0}, nil)
	var courier struct{ Token string }
	c.must(201, "PUT", "/v1/couriers/r1", admin, map[string]any{"capacity": 3}, &courier)
	c.must(200, "POST", "/v1/courier/shift", courier.Token, map[string]any{"status": "online", "location": map[string]float64{"lat": 31.231, "lon": 121.474}}, nil)
	c.must(204, "POST", "/v1/courier/location", courier.Token, map[string]any{"location": map[string]float64{"lat": 31.2311, "lon": 121.4741}}, nil)
	c.must(201, "PUT", "/v1/webhooks/w1", admin, map[string]any{"url": "http://127.0.0.1:1/refused", "secret": "0123456789abcdef"}, nil)
	var key struct{ Key string }
	c.must(201, "POST", "/v1/api-keys", admin, map[string]string{"name": "shop"}, &key)
	var delivered, cancelled order
	c.must(201, "POST", "/v1/orders", key.Key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, &delivered)
	c.must(201, "POST", "/v1/orders", key.Key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, &cancelled)
	c.must(200, "POST", "/v1/orders/"+cancelled.ID+"/cancel", key.Key, map[string]string{"reason": "customer"}, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var o order
		c.must(200, "GET", "/v1/orders/"+delivered.ID, key.Key, nil, &o)
		if o.Status == "assigned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never assigned: %+v", delivered.ID, o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, action := range []string{"accept", "arrived", "picked_up", "arrived", "delivered"} {
		c.must(200, "POST", "/v1/courier/orders/"+delivered.ID+"/"+action, courier.Token, nil, nil)
	}
	c.must(400, "POST", "/v1/orders", key.Key, map[string]any{"store_id": "s1"}, nil)
	c.must(404, "GET", "/v1/nothing", "", nil, nil)
}

package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// limitedServer is an API over the fixture's daemon with the given limits.
func limitedServer(t *testing.T, f *fixture, l Limits) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(f.d, Config{AdminToken: adminToken, Limits: l}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// openStream opens a stream and returns its response (the caller closes it with cancel) or the refusal, read.
func openStream(t *testing.T, srv *httptest.Server, path, token string) (resp *http.Response, body []byte, cancel func()) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return resp, body, func() { stop(); resp.Body.Close() }
}

// TestStreamCapPerCaller: a caller at its cap of open streams gets 429 with Retry-After; the cap is per caller, and
// closing a stream frees its slot.
func TestStreamCapPerCaller(t *testing.T) {
	f := newFixture(t)
	srv := limitedServer(t, f, Limits{StreamsPerCaller: 2})
	for _, tc := range []struct{ path, token, other string }{
		{"/v1/courier/stream", f.riders["a"], f.riders["b"]},
		{"/v1/events", f.key, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var open []func()
			defer func() {
				for _, c := range open {
					c()
				}
			}()
			for i := range 2 {
				resp, body, cancel := openStream(t, srv, tc.path, tc.token)
				open = append(open, cancel)
				if resp.StatusCode != 200 {
					t.Fatalf("stream %d within the cap: %d %s", i, resp.StatusCode, body)
				}
			}
			resp, body, cancel := openStream(t, srv, tc.path, tc.token)
			cancel()
			var e errorBody
			json.Unmarshal(body, &e)
			if resp.StatusCode != 429 || e.Error.Code != "rate_limited" {
				t.Fatalf("a third stream: %d %s, want 429 rate_limited", resp.StatusCode, body)
			}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("a third stream: Retry-After %q, want whole seconds", resp.Header.Get("Retry-After"))
			}
			if tc.other != "" {
				resp, body, cancel := openStream(t, srv, tc.path, tc.other)
				open = append(open, cancel)
				if resp.StatusCode != 200 {
					t.Fatalf("another caller's stream: %d %s", resp.StatusCode, body)
				}
			}
			// Closing one frees its slot once the server has seen the close: a new stream opens.
			open[0]()
			open = open[1:]
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp, body, cancel := openStream(t, srv, tc.path, tc.token)
				if resp.StatusCode == 200 {
					open = append(open, cancel)
					break
				}
				cancel()
				if resp.StatusCode != 429 || time.Now().After(deadline) {
					t.Fatalf("after closing a stream: %d %s, want a free slot", resp.StatusCode, body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestRateLimitPerCaller: each order-service key and each courier has its own bucket; past it the answer is 429
// with the JSON error and a Retry-After of the seconds one token takes to come back.
func TestRateLimitPerCaller(t *testing.T) {
	f := newFixture(t)
	srv := limitedServer(t, f, Limits{OrdersRate: 0.5, OrdersBurst: 2, CourierRate: 0.25, CourierBurst: 3})
	get := func(path, token string) (*http.Response, []byte) { return request(t, srv, "GET", path, token, "") }
	for _, tc := range []struct {
		who, path, token, other string
		burst                   int
		retryAfter              string
	}{
		{"a key", "/v1/stores/s1", f.key, "", 2, "2"},
		{"a courier", "/v1/courier/route", f.riders["a"], f.riders["b"], 3, "4"},
	} {
		for i := range tc.burst {
			if resp, b := get(tc.path, tc.token); resp.StatusCode != 200 {
				t.Fatalf("%s, request %d within the burst: %d %s", tc.who, i, resp.StatusCode, b)
			}
		}
		resp, b := get(tc.path, tc.token)
		var e errorBody
		json.Unmarshal(b, &e)
		if resp.StatusCode != 429 || e.Error.Code != "rate_limited" || resp.Header.Get("Retry-After") != tc.retryAfter {
			t.Fatalf("%s past the burst: %d Retry-After %q %s, want 429 rate_limited with Retry-After %s",
				tc.who, resp.StatusCode, resp.Header.Get("Retry-After"), b, tc.retryAfter)
		}
		if tc.other != "" {
			if resp, b := get(tc.path, tc.other); resp.StatusCode != 200 {
				t.Fatalf("%s: another caller was limited: %d %s", tc.who, resp.StatusCode, b)
			}
		}
	}
}

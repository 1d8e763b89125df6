package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofOnlyOnTheMetricsAddress: --pprof serves the runtime's profiles on the metrics listener only, behind the
// admin token when --metrics-auth is set, and is refused without a metrics listener (never on the API's address).
func TestPprofOnlyOnTheMetricsAddress(t *testing.T) {
	if err := NewMain(io.Discard).ParseFlags([]string{"--pprof"}, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("--pprof without --metrics-addr: %v, want a refusal naming --metrics-addr", err)
	}
	m := NewMain(io.Discard)
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--metrics-addr", "127.0.0.1:0", "--metrics-auth", "--pprof"}
	if err := m.ParseFlags(args, func(k string) string {
		if k == "DISPATCHD_ADMIN_TOKEN" {
			return testAdminToken
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-m.Started():
	case err := <-done:
		t.Fatalf("dispatchd did not start: %v", err)
	}
	get := func(addr, path, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	metrics, api := m.MetricsListenAddr().String(), m.ListenAddr().String()
	if code := get(metrics, "/debug/pprof/goroutine?debug=1", ""); code != http.StatusUnauthorized {
		t.Fatalf("profile without the admin token: %d, want 401", code)
	}
	if code := get(metrics, "/debug/pprof/goroutine?debug=1", testAdminToken); code != http.StatusOK {
		t.Fatalf("profile with the admin token: %d, want 200", code)
	}
	if code := get(api, "/debug/pprof/goroutine?debug=1", testAdminToken); code != http.StatusNotFound {
		t.Fatalf("profile on the API's address: %d, want 404", code)
	}
}

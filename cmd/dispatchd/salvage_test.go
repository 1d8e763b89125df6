package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startErr runs the program on dir and returns the error that stopped it from starting (nil if it started, which
// it then stops).
func startErr(t *testing.T, dir string, env map[string]string) error {
	t.Helper()
	m := NewMain(io.Discard)
	env["DISPATCHD_ADMIN_TOKEN"] = testAdminToken
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", dir}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-m.Started():
		cancel()
		<-done
		return nil
	}
}

// Damage the daemon refuses (a floor file or an event log that no longer reaches the checkpoint) stops the start
// with an error that says how to go on; with --journal-salvage, or DISPATCHD_JOURNAL_SALVAGE, it starts on what is
// intact, and the next start needs no flag.
func TestJournalSalvage(t *testing.T) {
	dir := t.TempDir()
	c, stop := startMain(t, dir)
	c.must(201, "PUT", "/v1/stores/s1", testAdminToken, map[string]any{"location": map[string]float64{"lat": 31.2304, "lon": 121.4737}}, nil)
	var k struct{ Key string }
	c.must(201, "POST", "/v1/api-keys", testAdminToken, map[string]string{"name": "shop"}, &k)
	var placed []order
	for range 2 {
		var o order
		c.must(201, "POST", "/v1/orders", k.Key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, &o)
		placed = append(placed, o)
	}
	if err := stop(); err != nil { // a checkpoint, and the journal truncated under it
		t.Fatal(err)
	}
	flip := func(path string, at func(size int) int) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[at(len(b))] ^= 0x10
		os.WriteFile(path, b, 0o600)
	}
	for _, tc := range []struct {
		name   string
		damage func()
		env    map[string]string
		args   []string
	}{
		{"DamagedFloor", func() { flip(filepath.Join(dir, "journal", "floor"), func(int) int { return 0 }) }, nil, []string{"--journal-salvage"}},
		{"EventLogShortOfTheCheckpoint", func() {
			segs, _ := filepath.Glob(filepath.Join(dir, "events", "seg-*.log"))
			flip(segs[0], func(int) int { return 20 })
		}, map[string]string{"DISPATCHD_JOURNAL_SALVAGE": "true"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage()
			err := startErr(t, dir, map[string]string{})
			if err == nil || !strings.Contains(err.Error(), "--journal-salvage") || !strings.Contains(err.Error(), "DISPATCHD_JOURNAL_SALVAGE") {
				t.Fatalf("start on damaged data: %v, want a refusal that names --journal-salvage", err)
			}
			t.Logf("refused: %v", err)
			if tc.env != nil {
				if err := startErr(t, dir, tc.env); err != nil {
					t.Fatalf("start with %v: %v", tc.env, err)
				}
			} else {
				_, stop := startMain(t, dir, tc.args...)
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			c, stop := startMain(t, dir) // no flag: nothing is wrong any more
			for _, o := range placed {
				var got order
				c.must(200, "GET", "/v1/orders/"+o.ID, k.Key, nil, &got)
				if got.Status != o.Status {
					t.Fatalf("order %s is %s after salvage, was %s", o.ID, got.Status, o.Status)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

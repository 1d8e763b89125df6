package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests follow docs/operations.md, "Back-up and restore": a copy of the data directory taken as the page
// says is a data directory a second daemon starts on, holding every order acknowledged before the copy.

// backupCopy copies a data directory the documented way: cp -a, which keeps the files' modes (the admin token and
// the checkpoint are 0600).
func backupCopy(t *testing.T, dataDir, to string) {
	t.Helper()
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("no cp on PATH")
	}
	if b, err := exec.Command("cp", "-a", dataDir, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", dataDir, to, err, b)
	}
}

// onlineFleet registers what orders need: store s1, courier r1 online beside it, and an order-service key. It
// returns the key and the courier's token.
func onlineFleet(c *client) (key, courierToken string) {
	admin := testAdminToken
	c.must(201, "PUT", "/v1/stores/s1", admin, map[string]any{"location": map[string]float64{"lat": 31.2304, "lon": 121.4737}}, nil)
	var courier struct {
		Token string `json:"token"`
	}
	c.must(201, "PUT", "/v1/couriers/r1", admin, map[string]any{"vehicle": "ebike", "capacity": 4}, &courier)
	c.must(200, "POST", "/v1/courier/shift", courier.Token, map[string]any{"status": "online", "location": map[string]float64{"lat": 31.231, "lon": 121.474}}, nil)
	var k struct {
		Key string `json:"key"`
	}
	c.must(201, "POST", "/v1/api-keys", admin, map[string]string{"name": "shop"}, &k)
	return k.Key, courier.Token
}

func backupOrder(i int) map[string]any {
	return map[string]any{"external_id": fmt.Sprintf("ext-%d", i), "store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}
}

// checkOrders asserts that the daemon behind c holds each order of ids (order id → external id).
func checkOrders(t *testing.T, c *client, key string, ids map[string]string) {
	t.Helper()
	for id, ext := range ids {
		var got order
		c.must(200, "GET", "/v1/orders/"+id, key, nil, &got)
		if got.ExternalID != ext {
			t.Fatalf("order %s came back as %+v, want external id %s", id, got, ext)
		}
	}
}

// Stopped: stop the daemon, copy the directory, start again. Restoring is starting on the copy; what was acknowledged
// after the copy is not in it.
func TestBackupOfAStoppedDaemon(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, stop := startMain(t, dir)
	key, courierToken := onlineFleet(c)
	acked := map[string]string{}
	for i := range 30 {
		var o order
		c.must(201, "POST", "/v1/orders", key, backupOrder(i), &o)
		acked[o.ID] = o.ExternalID
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	backupCopy(t, dir, backup)

	// The daemon goes on after the back-up; then its disk is lost and the back-up restored.
	c, stop = startMain(t, dir)
	var late order
	c.must(201, "POST", "/v1/orders", key, backupOrder(99), &late)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	r, _ := startMain(t, backup)
	checkOrders(t, r, key, acked)
	if status, b := r.do("GET", "/v1/orders/"+late.ID, key, nil); status != 404 {
		t.Fatalf("an order placed after the back-up: %d %s in the restored daemon, want 404", status, b)
	}
	// Keys and courier tokens are in the back-up too.
	r.must(200, "GET", "/v1/courier/route", courierToken, nil, nil)
}

// Running: the process is paused (SIGSTOP) while the directory is copied, then resumed. The copy is what a crash at
// that instant would leave, which the daemon recovers from; orders keep coming meanwhile.
func TestBackupOfARunningDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := filepath.Join(t.TempDir(), "data")
	c, cmd := child(t, dir)
	key, _ := onlineFleet(c)

	// One order service places orders all along; each 201 it has read is recorded.
	var mu sync.Mutex
	acked := map[string]string{}
	quit, loadDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		cl := &http.Client{Timeout: 30 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			b, _ := json.Marshal(backupOrder(i))
			req, _ := http.NewRequest("POST", c.base+"/v1/orders", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := cl.Do(req)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var o order
			if resp.StatusCode == 201 && json.Unmarshal(body, &o) == nil {
				mu.Lock()
				acked[o.ID] = o.ExternalID
				mu.Unlock()
			}
		}
	}()
	waitAcked := func(n int) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d orders acknowledged in 30 s, want %d", got, n)
			}
		}
	}
	waitAcked(50)

	// Every order acknowledged before the pause must be in the copy.
	mu.Lock()
	before := make(map[string]string, len(acked))
	for id, ext := range acked {
		before[id] = ext
	}
	mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	backupCopy(t, dir, backup)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The daemon goes on serving after the pause.
	waitAcked(len(before) + 20)
	close(quit)
	<-loadDone
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the daemon after the back-up: %v", err)
	}

	r, _ := startMain(t, backup)
	checkOrders(t, r, key, before)
	t.Logf("%d orders acknowledged before the pause, all in the copy", len(before))
}

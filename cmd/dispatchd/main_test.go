package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testAdminToken = "test-admin-token-0123456789"

// client talks JSON to a running daemon.
type client struct {
	t    testing.TB
	base string
	// http is the client's own HTTP client; nil: http.DefaultClient.
	http *http.Client
}

func (c *client) do(method, path, token string, body any, hdr ...string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must does a request that must answer want, and decodes the answer into out (when not nil).
func (c *client) must(want int, method, path, token string, body, out any, hdr ...string) {
	c.t.Helper()
	status, b := c.do(method, path, token, body, hdr...)
	if status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type order struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Status     string `json:"status"`
	CourierID  string `json:"courier_id"`
	Timeline   []struct {
		Status string `json:"status"`
	} `json:"timeline"`
}

type route struct {
	Version uint64 `json:"version"`
	Stops   []struct {
		Kind    string `json:"kind"`
		OrderID string `json:"order_id"`
	} `json:"stops"`
}

// startMain runs the real program in-process on :0 with a temp data directory.
func startMain(t *testing.T, dir string, args ...string) (*client, func() error) {
	t.Helper()
	m := NewMain(io.Discard)
	args = append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, args...)
	env := map[string]string{"DISPATCHD_ADMIN_TOKEN": testAdminToken}
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Started():
	case err := <-done:
		t.Fatalf("dispatchd did not start: %v", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return &client{t: t, base: "http://" + m.ListenAddr().String()}, stop
}

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event, data string
}

// readEvents reads server-sent events from r into the channel until the stream ends.
func readEvents(r io.Reader, out chan<- sseEvent) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				out <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			out <- sseEvent{event: "comment"}
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func openStream(t *testing.T, c *client, token, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/v1/courier/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go readEvents(resp.Body, ch)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			resp.Body.Close()
			go func() { // the reader ends once the body is closed; take what it still sends so it can
				for range ch {
				}
			}()
		})
	}
}

// nextRoute waits for the next route event, skipping heartbeats, until the deadline.
func nextRoute(t *testing.T, ch <-chan sseEvent, within time.Duration) (route, string) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.event != "route" {
				continue
			}
			var r route
			if err := json.Unmarshal([]byte(ev.data), &r); err != nil {
				t.Fatal(err)
			}
			return r, ev.id
		case <-deadline:
			t.Fatalf("no route event within %s", within)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	const interval = time.Second
	c, stop := startMain(t, t.TempDir(), "--dispatch-interval", interval.String(), "--stream-heartbeat", "50ms")
	admin := testAdminToken

	c.must(201, "PUT", "/v1/stores/store-12", admin, map[string]any{"name": "Corner shop", "location": map[string]float64{"lat": 31.2304, "lon": 121.4737}, "prep_seconds": 0}, nil)
	var courier struct {
		Token string `json:"token"`
	}
	c.must(201, "PUT", "/v1/couriers/rider-1", admin, map[string]any{"name": "Li", "vehicle": "ebike", "capacity": 3}, &courier)
	if courier.Token == "" {
		t.Fatal("courier registration returned no token")
	}
	var key struct {
		Key string `json:"key"`
	}
	c.must(201, "POST", "/v1/api-keys", admin, map[string]string{"name": "shop-backend"}, &key)

	c.must(200, "POST", "/v1/courier/shift", courier.Token, map[string]string{"status": "online"}, nil)
	c.must(204, "POST", "/v1/courier/location", courier.Token, map[string]any{"location": map[string]float64{"lat": 31.2310, "lon": 121.4740}, "speed_mps": 4.2, "heading": 90}, nil)

	events, closeStream := openStream(t, c, courier.Token, "")
	defer closeStream()
	first, _ := nextRoute(t, events, 5*time.Second)
	if len(first.Stops) != 0 {
		t.Fatalf("first event: %+v, want the empty route", first)
	}
	// Heartbeats arrive between routes.
	select {
	case ev := <-events:
		if ev.event != "comment" {
			t.Fatalf("expected a heartbeat, got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}

	var placed order
	c.must(201, "POST", "/v1/orders", key.Key, map[string]any{
		"external_id": "shop-7781-0042", "store_id": "store-12", "dropoff": map[string]float64{"lat": 31.2401, "lon": 121.4801},
		"promise_seconds": 1800, "customer": map[string]string{"name": "Wang", "phone": "+86 138 0000 0000"},
	}, &placed, "Idempotency-Key", "e2e-1")
	if placed.Status != "pending" || placed.ID == "" {
		t.Fatalf("placed %+v", placed)
	}
	// The next round is at most one interval away; a second interval is margin for a loaded machine.
	r, id := nextRoute(t, events, 2*interval)
	if len(r.Stops) != 2 || r.Stops[0].OrderID != placed.ID || r.Stops[0].Kind != "pickup" || r.Stops[1].Kind != "dropoff" {
		t.Fatalf("route %+v, want the order's pick-up then drop-off", r)
	}
	if id != fmt.Sprint(r.Version) {
		t.Fatalf("event id %s, want the route version %d", id, r.Version)
	}
	closeStream()
	// A reconnect that saw this version gets nothing new; one that saw less gets the current route.
	again, closeAgain := openStream(t, c, courier.Token, fmt.Sprint(r.Version-1))
	if r2, _ := nextRoute(t, again, 5*time.Second); r2.Version != r.Version {
		t.Fatalf("resume from %d: version %d, want %d", r.Version-1, r2.Version, r.Version)
	}
	closeAgain()

	for _, action := range []string{"accept", "arrived", "picked_up", "arrived", "delivered"} {
		c.must(200, "POST", "/v1/courier/orders/"+placed.ID+"/"+action, courier.Token, nil, nil)
	}
	var got order
	c.must(200, "GET", "/v1/orders/"+placed.ID, key.Key, nil, &got)
	var statuses []string
	for _, e := range got.Timeline {
		statuses = append(statuses, e.Status)
	}
	if got.Status != "delivered" || strings.Join(statuses, ",") != "pending,assigned,picked_up,delivered" {
		t.Fatalf("order %+v with timeline %v, want delivered after pending,assigned,picked_up", got, statuses)
	}
	status, metrics := c.do("GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{"dispatchd_orders_delivered_total 1", `dispatchd_orders{status="delivered"} 1`, "dispatchd_orders_placed_total 1", `dispatchd_couriers{status="idle"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/dispatchd.json"
	os.WriteFile(file, []byte(`{"dispatch-interval": "3s", "queue_size": 77, "addr": ":9999"}`), 0o600)
	env := map[string]string{"DISPATCHD_CONFIG": file, "DISPATCHD_ADDR": ":7777"}
	m := NewMain(io.Discard)
	if err := m.ParseFlags([]string{"--queue-size", "5"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	// Flags beat the environment, which beats the file.
	if m.QueueSize != 5 || m.Addr != ":7777" || m.DispatchInterval != 3*time.Second || m.DataDir != "./var" {
		t.Fatalf("queue %d addr %s interval %s data %s", m.QueueSize, m.Addr, m.DispatchInterval, m.DataDir)
	}
	os.WriteFile(file, []byte(`{"no-such-flag": 1}`), 0o600)
	if err := NewMain(io.Discard).ParseFlags(nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("unknown setting in the file: %v", err)
	}
	if err := NewMain(io.Discard).ParseFlags([]string{"--policy", "random"}, func(string) string { return "" }); err == nil {
		t.Fatal("an unknown policy was accepted")
	}
}

func TestAdminTokenIsGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	m := NewMain(&logs)
	if err := m.ParseFlags([]string{"--data-dir", dir, "--log-format", "json"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	log, _ := m.logger()
	tok, err := m.loadAdminToken(log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir + "/admin.token")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v mode %v, want 0600", err, st.Mode().Perm())
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("the admin token was logged")
	}
	if !strings.Contains(logs.String(), dir+"/admin.token") {
		t.Fatal("the token's path was not logged")
	}
	again, _ := m.loadAdminToken(log)
	if again != tok {
		t.Fatal("a second start made a new token")
	}
}

// TestHelperProcess is the daemon as a child process, for the kill test. It does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("DISPATCHD_TEST_CHILD") != "1" {
		t.Skip("runs only as the child of TestKillAndRestart")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stderr)
	if err := m.ParseFlags(args, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child starts the daemon as a separate process and returns its client once it listens.
func child(t *testing.T, dir string, extra ...string) (*client, *exec.Cmd) {
	t.Helper()
	args := append([]string{"-test.run=^TestHelperProcess$", "--", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--log-format", "json", "--dispatch-interval", "200ms"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DISPATCHD_TEST_CHILD=1", "DISPATCHD_ADMIN_TOKEN="+testAdminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "listening" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return &client{t: t, base: "http://" + a}, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("the child daemon did not start")
	}
	return nil, nil
}

func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	c, cmd := child(t, dir)
	key, courierToken := onlineFleet(c)

	// Orders placed by several clients at once; the process is killed while some are in flight.
	type ack struct {
		idem string
		body []byte
	}
	var mu sync.Mutex
	var acked []ack
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				idem := fmt.Sprintf("w%d-%d", w, i)
				b, _ := json.Marshal(map[string]any{"external_id": "ext-" + idem, "store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}})
				req, _ := http.NewRequest("POST", c.base+"/v1/orders", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Idempotency-Key", idem)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the process is gone
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, ack{idem, body})
					mu.Unlock()
				}
			}
		}()
	}
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
	}
	// The courier's route and the first order events as they stand, read while orders keep coming, then the kill.
	var before route
	for deadline := time.Now().Add(10 * time.Second); before.Version == 0 && time.Now().Before(deadline); {
		c.must(200, "GET", "/v1/courier/route", courierToken, nil, &before)
		time.Sleep(50 * time.Millisecond)
	}
	if before.Version == 0 {
		t.Fatal("no round gave the courier a route")
	}
	eventsBefore := readOrderEvents(t, c, key, "0", 30)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(stopLoad)
	wg.Wait()

	c2, _ := child(t, dir)
	var after route
	c2.must(200, "GET", "/v1/courier/route", courierToken, nil, &after)
	if after.Version < before.Version {
		t.Fatalf("route version %d after restart, below the %d seen before", after.Version, before.Version)
	}
	for _, a := range acked {
		var first order
		json.Unmarshal(a.body, &first)
		var got order
		c2.must(200, "GET", "/v1/orders/"+first.ID, key, nil, &got)
		if got.ExternalID != "ext-"+a.idem {
			t.Fatalf("order %s came back as %+v", first.ID, got)
		}
		// The key is remembered: a retry answers the same, and no second order appears.
		status, again := c2.do("POST", "/v1/orders", key, map[string]any{"external_id": "ext-" + a.idem, "store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, "Idempotency-Key", a.idem)
		if status != 201 || !bytes.Equal(bytes.TrimSpace(again), bytes.TrimSpace(a.body)) {
			t.Fatalf("retry of %s after restart: %d %s, want the first answer %s", a.idem, status, again, a.body)
		}
	}
	// A key made before the kill still works, and the daemon still dispatches.
	c2.must(200, "GET", "/v1/stores/s1", key, nil, nil)

	// The event stream: the events seen before the kill come back the same, and every acknowledged order has its
	// order.created exactly once; a resume from the middle gets exactly the events after it.
	created := map[string]int{}
	var all []orderEvent
	for after := "0"; len(created) < len(acked); {
		page := readOrderEvents(t, c2, key, after, 200)
		if len(page) == 0 {
			t.Fatalf("event stream ended with %d of %d orders created", len(created), len(acked))
		}
		for _, ev := range page {
			if ev.Type == "order.created" {
				created[ev.Order.ID]++
			}
		}
		all = append(all, page...)
		after = fmt.Sprint(page[len(page)-1].ID)
	}
	for i, ev := range all {
		if ev.ID != uint64(i+1) {
			t.Fatalf("event %d has id %d after the restart", i+1, ev.ID)
		}
		if i < len(eventsBefore) && (ev.Type != eventsBefore[i].Type || ev.Order.ID != eventsBefore[i].Order.ID) {
			t.Fatalf("event %d was %s of %s before the kill, %s of %s after", ev.ID, eventsBefore[i].Type, eventsBefore[i].Order.ID, ev.Type, ev.Order.ID)
		}
	}
	for _, a := range acked {
		var o order
		json.Unmarshal(a.body, &o)
		if created[o.ID] != 1 {
			t.Fatalf("order %s has %d order.created events", o.ID, created[o.ID])
		}
	}
	mid := len(all) / 2
	resumed := readOrderEvents(t, c2, key, fmt.Sprint(all[mid-1].ID), len(all)-mid)
	if len(resumed) != len(all)-mid || resumed[0].ID != all[mid].ID {
		t.Fatalf("resume after %d: %d events from %d, want %d from %d", all[mid-1].ID, len(resumed), resumed[0].ID, len(all)-mid, all[mid].ID)
	}
	t.Logf("%d acknowledged orders all found after SIGKILL; route version %d → %d", len(acked), before.Version, after.Version)
}

type orderEvent struct {
	ID    uint64 `json:"id"`
	Type  string `json:"type"`
	Order struct {
		ID string `json:"id"`
	} `json:"order"`
}

// readOrderEvents reads up to n events of GET /v1/events after the id given, stopping early when none comes for a
// second (the stream has caught up).
func readOrderEvents(t *testing.T, c *client, key, after string, n int) []orderEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Last-Event-ID", after)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 256)
	go readEvents(resp.Body, ch)
	defer func() {
		// Stop the reader: close the stream, then take what it still sends until it closes the channel.
		cancel()
		resp.Body.Close()
		for range ch {
		}
	}()
	var out []orderEvent
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			if ev.event == "" || ev.event == "comment" {
				continue
			}
			var oe orderEvent
			if err := json.Unmarshal([]byte(ev.data), &oe); err != nil {
				t.Fatal(err)
			}
			out = append(out, oe)
		case <-time.After(time.Second):
			return out
		}
	}
	return out
}

// receiver is a webhook endpoint on loopback that checks every signature, records what arrives, fails its first
// attempts on purpose and can be stopped and started again on the same address.
type receiver struct {
	t      *testing.T
	secret []byte
	addr   string

	mu       sync.Mutex
	failLeft int
	got      []orderEvent // in arrival order, duplicates included
	badSigs  int
	srv      *http.Server
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	r := &receiver{t: t, secret: []byte(secret), failLeft: failFirst}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *receiver) serve(ln net.Listener) {
	r.srv = &http.Server{Handler: http.HandlerFunc(r.handle)}
	go r.srv.Serve(ln)
}

func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	srv.Close()
}

func (r *receiver) start() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serve(ln)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, r.secret)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	r.mu.Lock()
	defer r.mu.Unlock()
	if sig != want {
		r.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.failLeft > 0 {
		r.failLeft--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev orderEvent
	if err := json.Unmarshal(body, &ev); err != nil || id != fmt.Sprintf("evt_%d", ev.ID) {
		r.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.got = append(r.got, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() []orderEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]orderEvent(nil), r.got...)
}

func TestWebhooksSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const secret = "a-webhook-secret-of-some-length"
	rcv := newReceiver(t, secret, 3)
	dir := t.TempDir()
	c, cmd := child(t, dir, "--webhook-retry-min", "20ms", "--webhook-retry-max", "200ms")
	admin := testAdminToken
	c.must(201, "PUT", "/v1/webhooks/shop", admin, map[string]any{"url": "http://" + rcv.addr + "/hook", "secret": secret}, nil)
	key, _ := onlineFleet(c)
	place := func(c *client, n int, tag string) {
		for i := range n {
			c.must(201, "POST", "/v1/orders", key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.24, "lon": 121.48}}, nil, "Idempotency-Key", fmt.Sprintf("%s-%d", tag, i))
		}
	}
	place(c, 10, "a")
	// The receiver goes away for a while, orders keep coming; then the daemon is killed.
	rcv.stop()
	place(c, 10, "b")
	time.Sleep(500 * time.Millisecond) // rounds run, events pile up undelivered
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	rcv.start()
	c2, _ := child(t, dir, "--webhook-retry-min", "20ms", "--webhook-retry-max", "200ms")
	place(c2, 5, "c")

	// Every event in the log arrives, at least once, in order per order.
	var log []orderEvent
	deadline := time.Now().Add(30 * time.Second)
	for {
		log = log[:0]
		for after := "0"; ; {
			page := readOrderEvents(t, c2, key, after, 500)
			if len(page) == 0 {
				break
			}
			log = append(log, page...)
			after = fmt.Sprint(page[len(page)-1].ID)
		}
		seen := map[uint64]bool{}
		for _, ev := range rcv.received() {
			seen[ev.ID] = true
		}
		missing := 0
		for _, ev := range log {
			if !seen[ev.ID] {
				missing++
			}
		}
		if missing == 0 && len(log) >= 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never arrived", missing, len(log))
		}
		time.Sleep(100 * time.Millisecond)
	}
	firstSeen := map[uint64]bool{}
	lastOf := map[string]uint64{}
	for _, ev := range rcv.received() {
		if firstSeen[ev.ID] {
			continue // a duplicate: at least once allows it
		}
		firstSeen[ev.ID] = true
		if ev.ID < lastOf[ev.Order.ID] {
			t.Fatalf("order %s: event %d arrived after event %d", ev.Order.ID, ev.ID, lastOf[ev.Order.ID])
		}
		lastOf[ev.Order.ID] = ev.ID
	}
	rcv.mu.Lock()
	bad := rcv.badSigs
	rcv.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", bad)
	}
	var hook struct {
		Backlog   int64 `json:"backlog"`
		Delivered int64 `json:"delivered"`
	}
	c2.must(200, "GET", "/v1/webhooks/shop", admin, nil, &hook)
	t.Logf("%d events, %d deliveries (duplicates included) across a receiver outage and a kill; backlog %d", len(log), len(rcv.received()), hook.Backlog)
}

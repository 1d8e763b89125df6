package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// clusterNode is a dispatchd run in-process with --cluster.
type clusterNode struct {
	id     string
	m      *Main
	c      *client
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

// kill stops the node as a crash would for the others: its NATS connection goes first (its leases are not
// released but run out), then the process.
func (n *clusterNode) kill(t *testing.T) {
	t.Helper()
	n.m.mu.Lock()
	cr := n.m.cluster
	n.m.mu.Unlock()
	cr.nc.Close()
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s did not stop", n.id)
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startClusterNode(t *testing.T, nats, id, regions string) *clusterNode {
	t.Helper()
	port := freeLoopbackPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var logw io.Writer = io.Discard
	if dir := os.Getenv("CLUSTER_TEST_LOGS"); dir != "" {
		f, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		logw = f
	}
	m := NewMain(logw)
	env := map[string]string{"DISPATCHD_ADMIN_TOKEN": testAdminToken}
	args := []string{"--addr", addr, "--data-dir", t.TempDir(), "--log-format", "json", "--dispatch-interval", "1s",
		"--cluster", nats, "--node-id", id, "--regions", regions, "--advertise", "http://" + addr, "--lease-ttl", "2s"}
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &clusterNode{id: id, m: m, c: &client{t: t, base: "http://" + addr}, cancel: cancel, done: make(chan struct{})}
	var runErr error
	go func() {
		defer close(n.done)
		runErr = m.Run(ctx)
	}()
	select {
	case <-m.Started():
	case <-n.done:
		t.Fatalf("node %s did not start: %v", id, runErr)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-n.done:
		case <-time.After(60 * time.Second):
			t.Errorf("node %s did not stop", id)
		}
	})
	return n
}

// clusterStatus is GET /v1/cluster through c.
func clusterStatus(t *testing.T, c *client) (service.ClusterStatus, bool) {
	status, b := c.do("GET", "/v1/cluster", testAdminToken, nil)
	var st service.ClusterStatus
	if status != 200 || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, true
}

// waitServed waits until every region has an owner serving it (its journal reported), other than not, and
// returns region → owner.
func waitServed(t *testing.T, c *client, not string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st, ok := clusterStatus(t, c); ok {
			owners := map[string]string{}
			for _, r := range st.Regions {
				if r.Owner != "" && r.Owner != not && r.Journal != nil {
					owners[r.Region] = r.Owner
				}
			}
			if len(owners) == len(st.Regions) {
				return owners
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	st, _ := clusterStatus(t, c)
	t.Fatalf("the regions never all had an owner (other than %q): %+v", not, st)
	return nil
}

// eventually does an admin request until it answers other than 503, which must be want.
func eventually(t *testing.T, c *client, want int, method, path string, body, out any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, b := c.do(method, path, testAdminToken, body)
		if status == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
}

// Three nodes on a three-server NATS cluster serve two regions: orders go in through any node; the owner of a
// region dies; another node serves it again; every order answered 201 exists exactly once, and a retry with the
// same Idempotency-Key answers the same order, whichever node takes it.
func TestClusterEndToEnd(t *testing.T) {
	nodes := startThreeNodes(t, "north,south")
	owners := waitServed(t, nodes[0].c, "")
	t.Logf("owners: %v", owners)

	admin := testAdminToken
	stores := map[string]string{"north": "s-north", "south": "s-south"}
	// A node learns who owns what every fifth of a lease: until then it answers 503 for a region it does not own.
	eventually(t, nodes[1].c, 201, "PUT", "/v1/stores/s-north", map[string]any{"name": "N", "region": "north",
		"location": map[string]float64{"lat": 31.30, "lon": 121.40}, "prep_seconds": 0}, nil)
	eventually(t, nodes[2].c, 201, "PUT", "/v1/stores/s-south", map[string]any{"name": "S", "region": "south",
		"location": map[string]float64{"lat": 31.10, "lon": 121.40}, "prep_seconds": 0}, nil)
	var key struct {
		Key string `json:"key"`
	}
	eventually(t, nodes[0].c, 201, "POST", "/v1/api-keys", map[string]string{"name": "shop"}, &key)

	// place sends one order by key through node i; the order's id when answered 201.
	var lastBody []byte
	place := func(i int, k, region string) (string, int) {
		status, b := nodes[i].c.do("POST", "/v1/orders", key.Key, map[string]any{"store_id": stores[region],
			"dropoff": map[string]float64{"lat": 31.2, "lon": 121.45}, "promise_seconds": 3600}, "Idempotency-Key", k)
		lastBody = b
		var o order
		if status == 201 || status == 200 {
			if err := json.Unmarshal(b, &o); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
		}
		return o.ID, status
	}
	// The key was made in the control region (north); every node authenticates it once it followed that far.
	deadline := time.Now().Add(30 * time.Second)
	for i := range nodes {
		for {
			if _, status := place(i, fmt.Sprintf("warm-%d", i), "north"); status == 201 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s never accepted the API key", nodes[i].id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	acked := map[string]string{} // idempotency key → order id answered 201
	var pending []string         // keys not answered 201 yet
	regionOf := map[string]string{}
	n := 0
	round := func(alive []int) {
		for _, region := range []string{"north", "south"} {
			k := fmt.Sprintf("k-%s-%d", region, n)
			n++
			regionOf[k] = region
			i := alive[n%len(alive)]
			if id, status := place(i, k, region); status == 201 {
				acked[k] = id
			} else {
				if status != http.StatusServiceUnavailable {
					t.Errorf("order %s through %s: %d %s", k, nodes[i].id, status, lastBody)
				}
				pending = append(pending, k)
			}
		}
	}
	for range 20 {
		round([]int{0, 1, 2})
	}

	victim := owners["south"]
	var alive []int
	for i, nd := range nodes {
		if nd.id == victim {
			t.Logf("killing %s, the owner of south", victim)
			nd.kill(t)
		} else {
			alive = append(alive, i)
		}
	}
	killed := time.Now()
	// Orders keep coming through the others while south fails over.
	for time.Since(killed) < 3*time.Second {
		round(alive)
		time.Sleep(50 * time.Millisecond)
	}
	after := waitServed(t, nodes[alive[0]].c, victim)
	t.Logf("after the kill (%v): owners %v", time.Since(killed).Round(100*time.Millisecond), after)
	// Each node learns the new owner within a fifth of a lease of the others.
	for _, i := range alive {
		eventually(t, nodes[i].c, 200, "GET", "/v1/orders?region=south&limit=1", nil, nil)
	}
	for range 10 {
		round(alive)
	}

	// Keys not answered 201 are retried until they are; keys answered are retried and answer the same order.
	for _, k := range pending {
		deadline := time.Now().Add(30 * time.Second)
		for {
			id, status := place(alive[0], k, regionOf[k])
			if status == 201 || status == 200 {
				acked[k] = id
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s still answers %d after the failover", k, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for k, id := range acked {
		for _, i := range alive {
			if again, status := place(i, k, regionOf[k]); again != id {
				t.Errorf("retry of %s through %s: %d %q, want order %s", k, nodes[i].id, status, again, id)
			}
		}
	}

	// Every order answered exists exactly once: each region's listing has one order per key, and no other.
	for _, region := range []string{"north", "south"} {
		seen := map[string]int{}
		cursor := ""
		for {
			path := "/v1/orders?region=" + region + "&limit=100"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page struct {
				Orders []struct {
					ID     string `json:"id"`
					Region string `json:"region"`
				} `json:"orders"`
				NextCursor string `json:"next_cursor"`
			}
			nodes[alive[1]].c.must(200, "GET", path, admin, nil, &page)
			for _, o := range page.Orders {
				seen[o.ID]++
				if o.Region != region {
					t.Errorf("order %s listed in %s has region %q", o.ID, region, o.Region)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		want := 0
		for k, id := range acked {
			if regionOf[k] != region {
				continue
			}
			want++
			if seen[id] != 1 {
				t.Errorf("order %s (key %s) is listed %d times in %s", id, k, seen[id], region)
			}
		}
		if region == "north" {
			want += len(nodes) // the warm-up orders
		}
		if len(seen) != want {
			t.Errorf("%s lists %d orders, want %d (one per key)", region, len(seen), want)
		}
	}
	// South's order events, read from the start through each surviving node (forwarded or not), run on without
	// a gap across the failover: the new owner numbers them as the old one did.
	for _, i := range alive {
		checkEvents(t, nodes[i].c, "south", acked, regionOf)
	}
	if !strings.Contains(fmt.Sprint(after), "south") || after["south"] == victim {
		t.Errorf("south is served by %q after %s died", after["south"], victim)
	}
}

// checkEvents reads region's order events from the first through c, until it saw an order.created for every
// order acknowledged in the region, and checks that ids run on by one, and that no order was created twice.
func checkEvents(t *testing.T, c *client, region string, acked, regionOf map[string]string) {
	t.Helper()
	want := map[string]bool{}
	for k, id := range acked {
		if regionOf[k] == region {
			want[id] = true
		}
	}
	req, _ := http.NewRequest("GET", c.base+"/v1/events?region="+region, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Last-Event-ID", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("events of %s: %d %s", region, resp.StatusCode, b)
	}
	ch := make(chan sseEvent, 64)
	go readEvents(resp.Body, ch)
	created := map[string]int{}
	var last uint64
	for len(created) < len(want) {
		ev, ok := <-ch
		if !ok {
			t.Fatalf("events of %s through %s: the stream ended after %d of %d orders' creation", region, c.base, len(created), len(want))
		}
		if ev.event == "comment" {
			continue
		}
		var oe service.OrderEvent
		if err := json.Unmarshal([]byte(ev.data), &oe); err != nil {
			t.Fatalf("event %s: %v", ev.data, err)
		}
		if last != 0 && oe.ID != last+1 {
			t.Errorf("events of %s: id %d after %d", region, oe.ID, last)
		}
		last = oe.ID
		if oe.Type == service.EventCreated {
			created[oe.Order.ID]++
			if !want[oe.Order.ID] {
				t.Errorf("events of %s: order %s created, which no key was answered with", region, oe.Order.ID)
			}
			if created[oe.Order.ID] > 1 {
				t.Errorf("events of %s: order %s created twice", region, oe.Order.ID)
			}
		}
	}
}

func TestClusterFlags(t *testing.T) {
	ok := []string{"--cluster", "nats://127.0.0.1:4222", "--node-id", "n1", "--regions", "a,b", "--advertise", "http://127.0.0.1:8081"}
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--node-id", "n1"}, "go with --cluster"},
		{[]string{"--cluster", "nats://127.0.0.1:4222"}, "--node-id"},
		{append(slices.Clone(ok), "--node-id", "n 1"), "--node-id"},
		{append(slices.Clone(ok), "--regions", "a,b,a"), "--regions: a is named twice"},
		{append(slices.Clone(ok), "--regions", ""), "--regions"},
		{append(slices.Clone(ok), "--advertise", "127.0.0.1:8081"), "--advertise"},
		{append(slices.Clone(ok), "--lease-ttl", "500ms"), "--lease-ttl"},
		{append(slices.Clone(ok), "--cluster-replicas", "0"), "--cluster-replicas"},
		{append(slices.Clone(ok), "--journal-salvage"), "--journal-salvage"},
	} {
		m := NewMain(io.Discard)
		err := m.ParseFlags(tc.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	m := NewMain(io.Discard)
	if err := m.ParseFlags(ok, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	// Forwarded requests carry the caller's token: a node must not make up its own admin token.
	m.DataDir = t.TempDir()
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "same admin token") {
		t.Errorf("a cluster node without an admin token: %v", err)
	}
}

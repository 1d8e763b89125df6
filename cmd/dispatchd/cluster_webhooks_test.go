package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// startThreeNodes starts three nodes serving regions on a three-server NATS cluster of their own.
func startThreeNodes(t *testing.T, regions string) []*clusterNode {
	nc := clustertest.Start(t, 3)
	return []*clusterNode{
		startClusterNode(t, nc.URLs(), "n1", regions),
		startClusterNode(t, nc.URLs(), "n2", regions),
		startClusterNode(t, nc.URLs(), "n3", regions),
	}
}

// replicaOf is nd's replica of region open now (nil before it opened).
func replicaOf(nd *clusterNode, region string) *replica {
	nd.m.mu.Lock()
	cr := nd.m.cluster
	nd.m.mu.Unlock()
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.reps[region]
}

// waitWebhookIn waits until every one of nodes' replicas of regions has the webhook id (want) or has it no more.
func waitWebhookIn(t *testing.T, id string, want bool, nodes []*clusterNode, regions ...string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		all := true
		for _, nd := range nodes {
			for _, region := range regions {
				r := replicaOf(nd, region)
				if r == nil {
					all = false
				} else if _, ok := r.Daemon.WebhookView(id); ok != want {
					all = false
				}
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s never present=%v in every replica of %v", id, want, regions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A webhook registered through one node of a cluster receives the events of orders in every region, each from its
// region's owner; after the owner of a region that is not the control region dies, the new owner resumes after
// the journaled cursor: every event from the webhook's start on arrives (at least once, ids consecutive per
// region), the region's first events are not delivered again, and an order placed before the webhook is not
// delivered at all. Deleted, the webhook is gone from every region.
func TestClusterWebhooksEveryRegion(t *testing.T) {
	nodes := startThreeNodes(t, "north,south")
	// The share-out gives the two regions to two nodes, in a moment on an idle machine. On a loaded one it may
	// not before the wait ends: the test goes on with both on one node, whose death then fails both over.
	var owners map[string]string
	for deadline := time.Now().Add(30 * time.Second); ; {
		owners = waitServed(t, nodes[0].c, "")
		if owners["north"] != owners["south"] {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("north and south stay on one node: %v", owners)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	eventually(t, nodes[1].c, 201, "PUT", "/v1/stores/s-north", map[string]any{"name": "N", "region": "north",
		"location": map[string]float64{"lat": 31.30, "lon": 121.40}, "prep_seconds": 0}, nil)
	eventually(t, nodes[2].c, 201, "PUT", "/v1/stores/s-south", map[string]any{"name": "S", "region": "south",
		"location": map[string]float64{"lat": 31.10, "lon": 121.40}, "prep_seconds": 0}, nil)

	regionOf := map[string]string{} // order id → region
	place := func(i int, region, key string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, b := nodes[i].c.do("POST", "/v1/orders", testAdminToken, map[string]any{"store_id": "s-" + region,
				"dropoff": map[string]float64{"lat": 31.2, "lon": 121.45}, "promise_seconds": 3600}, "Idempotency-Key", key)
			if status == 201 || status == 200 {
				var o order
				if err := json.Unmarshal(b, &o); err != nil {
					t.Fatal(err)
				}
				regionOf[o.ID] = region
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s through %s: %d %s", key, nodes[i].id, status, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	before := map[string]bool{}
	for _, region := range []string{"north", "south"} {
		place(0, region, "before-"+region)
	}
	for id := range regionOf {
		before[id] = true
	}

	const secret = "a-webhook-secret-of-some-length"
	rcv := newReceiver(t, secret, 0)
	eventually(t, nodes[2].c, 201, "PUT", "/v1/webhooks/w1", map[string]any{"url": "http://" + rcv.addr + "/hook", "secret": secret}, nil)
	// The other region's owner takes the webhook over a moment later, once its replica of the control region has
	// it: the webhook starts there then. Orders are placed once every replica of both regions has it.
	waitWebhookIn(t, "w1", true, nodes, "north", "south")

	// waitCreated waits until the receiver got order.created for every order placed (but those placed before).
	waitCreated := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := map[string]bool{}
			for _, ev := range rcv.received() {
				if ev.Type == "order.created" {
					got[ev.Order.ID] = true
				}
			}
			var missing []string
			for id, region := range regionOf {
				if !before[id] && !got[id] {
					missing = append(missing, region+"/"+id)
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the creation of %v never reached the webhook", missing)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	n := 0
	for range 5 {
		for _, region := range []string{"north", "south"} {
			place(n%3, region, fmt.Sprintf("k-%d", n))
			n++
		}
	}
	waitCreated()
	firstSouth := map[uint64]int{}
	for _, ev := range rcv.received() {
		if regionOf[ev.Order.ID] == "south" {
			firstSouth[ev.ID]++
		}
	}

	// Kill south's owner once a standby holds the journaled cursor past what was delivered.
	victim := owners["south"]
	var alive []int
	for i, nd := range nodes {
		if nd.id != victim {
			alive = append(alive, i)
		}
	}
	lastSouth := slices.Max(slices.Collect(func(yield func(uint64) bool) {
		for id := range firstSouth {
			if !yield(id) {
				return
			}
		}
	}))
	standby := nodes[alive[0]]
	for deadline := time.Now().Add(10 * time.Second); ; {
		if r := replicaOf(standby, "south"); r != nil {
			if v, ok := r.Daemon.WebhookView("w1"); ok && v.DeliveredThrough >= lastSouth {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("south's standby on %s never had w1's cursor at %d", standby.id, lastSouth)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, nd := range nodes {
		if nd.id == victim {
			t.Logf("killing %s, the owner of south", victim)
			nd.kill(t)
		}
	}
	for range 5 {
		for _, region := range []string{"north", "south"} {
			place(alive[n%2], region, fmt.Sprintf("k-%d", n))
			n++
		}
	}
	waitCreated()

	got := rcv.received()
	ids := map[string]map[uint64]int{"north": {}, "south": {}}
	for _, ev := range got {
		region := regionOf[ev.Order.ID]
		if before[ev.Order.ID] {
			t.Errorf("event %d of order %s, placed before the webhook, was delivered", ev.ID, ev.Order.ID)
		}
		if region == "" {
			t.Errorf("event %d of an order never placed: %s", ev.ID, ev.Order.ID)
			continue
		}
		ids[region][ev.ID]++
	}
	for region, seen := range ids {
		sorted := slices.Sorted(func(yield func(uint64) bool) {
			for id := range seen {
				if !yield(id) {
					return
				}
			}
		})
		for i := 1; i < len(sorted); i++ {
			if sorted[i] != sorted[i-1]+1 {
				t.Errorf("%s: event %d delivered after %d: a gap", region, sorted[i], sorted[i-1])
			}
		}
		deliveries := 0
		for _, k := range seen {
			deliveries += k
		}
		t.Logf("%s: events %d to %d delivered, %d deliveries", region, sorted[0], sorted[len(sorted)-1], deliveries)
	}
	// The new owner resumed after the journaled cursor, not from the webhook's start.
	for id, k := range firstSouth {
		if ids["south"][id] > k {
			t.Errorf("south's event %d was delivered again after the failover (cursor journaled past it)", id)
		}
	}

	// GET /v1/webhooks/w1, through any node, says where each region's deliveries stand: south's reaches its last
	// event once the new owner delivered it (on a standby: once it journaled its cursor, within a lease).
	lastOf := map[string]uint64{}
	for region, seen := range ids {
		for id := range seen {
			lastOf[region] = max(lastOf[region], id)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var v service.Webhook
		eventually(t, nodes[alive[0]].c, 200, "GET", "/v1/webhooks/w1", nil, &v)
		at := map[string]uint64{}
		for _, r := range v.Regions {
			at[r.Region] = r.DeliveredThrough
		}
		if at["north"] >= lastOf["north"] && at["south"] >= lastOf["south"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/webhooks/w1: regions %+v, want north at %d and south at %d at least", v.Regions, lastOf["north"], lastOf["south"])
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Deleted through one node, the webhook goes from the other region's journal too: its deliveries stop.
	eventually(t, nodes[alive[1]].c, 204, "DELETE", "/v1/webhooks/w1", nil, nil)
	var survivors []*clusterNode
	for _, i := range alive {
		survivors = append(survivors, nodes[i])
	}
	waitWebhookIn(t, "w1", false, survivors, "south")
}

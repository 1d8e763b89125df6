package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// fakeRecord is what a fake owner writes: which replica (a node's promotion) wrote it, and its number there.
type fakeRecord struct {
	Writer string `json:"writer"`
	N      int    `json:"n"`
}

// acks collects the records the journal acknowledged to fake owners, by region.
type acks struct {
	mu   sync.Mutex
	recs map[string][]fakeRecord
}

func (a *acks) add(region string, r fakeRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.recs == nil {
		a.recs = map[string][]fakeRecord{}
	}
	a.recs[region] = append(a.recs[region], r)
}

func (a *acks) of(region string) []fakeRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.recs[region])
}

var writerCount struct {
	sync.Mutex
	n int
}

// fakeReplica stands in for a region's daemon: as a standby it notes what it follows; as the owner it writes a
// record every few milliseconds and notes each one acknowledged.
type fakeReplica struct {
	node, region string
	acks         *acks

	mu        sync.Mutex
	pos       uint64
	j         journal.Log
	stopped   bool // no append after it: set by Abandon and by the end of Run
	abandoned chan struct{}
	once      sync.Once
	writer    sync.WaitGroup
}

func newFake(node, region string, a *acks) *fakeReplica {
	return &fakeReplica{node: node, region: region, acks: a, abandoned: make(chan struct{})}
}

func (f *fakeReplica) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-f.abandoned:
	}
	f.halt()
	return nil
}

func (f *fakeReplica) halt() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.writer.Wait()
}

func (f *fakeReplica) Follow(_ context.Context, seq uint64, _ []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.j != nil {
		return errors.New("fake: Follow on an owner")
	}
	f.pos = max(f.pos, seq)
	return nil
}

func (f *fakeReplica) Position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

func (f *fakeReplica) Promote(ctx context.Context, j journal.Log) error {
	if err := j.Replay(f.Position(), func(seq uint64, _ []byte) error {
		f.mu.Lock()
		f.pos = seq
		f.mu.Unlock()
		return nil
	}); err != nil {
		return err
	}
	writerCount.Lock()
	writerCount.n++
	id := fmt.Sprintf("%s#%d", f.node, writerCount.n)
	writerCount.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return errors.New("fake: stopped")
	}
	f.j = j
	f.writer.Go(func() { f.write(id, j) })
	return nil
}

func (f *fakeReplica) write(id string, j journal.Log) {
	for i := 0; ; i++ {
		time.Sleep(30 * time.Millisecond)
		b, _ := json.Marshal(fakeRecord{Writer: id, N: i})
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			return
		}
		seq, err := j.Append(b)
		f.mu.Unlock()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = j.Wait(ctx, seq)
		cancel()
		if err != nil {
			return
		}
		f.acks.add(f.region, fakeRecord{Writer: id, N: i})
		f.mu.Lock()
		f.pos = max(f.pos, seq)
		f.mu.Unlock()
	}
}

func (f *fakeReplica) Abandon() {
	f.once.Do(func() { close(f.abandoned) })
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

func (f *fakeReplica) Handler() http.Handler { return nil }
func (f *fakeReplica) View() service.View    { return nil }

// running is a node under test.
type running struct {
	n      *Node
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not stop", r.n.ID())
	}
}

var testRegions = []string{"north", "south", "east", "west"}

const testTTL = 2 * time.Second

func startNode(t *testing.T, c *clustertest.Cluster, id string, a *acks) *running {
	t.Helper()
	return startNodeWith(t, Config{ID: id, URL: "http://" + id + ".invalid", Conn: c.Connect(), Regions: testRegions,
		LeaseTTL: testTTL, Open: func(_ context.Context, region string) (Replica, error) {
			return newFake(id, region, a), nil
		}})
}

// startNodeWith runs a node of cfg until the test ends.
func startNodeWith(t *testing.T, cfg Config) *running {
	t.Helper()
	id, nc := cfg.ID, cfg.Conn
	n, err := New(clustertest.Context(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := n.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("node %s: Run: %v", id, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// owners is region → the nodes that say they own it now.
func owners(nodes ...*running) map[string][]string {
	out := map[string][]string{}
	for _, r := range nodes {
		for _, region := range testRegions {
			if _, own := r.n.Local(region); own {
				out[region] = append(out[region], r.n.ID())
			}
		}
	}
	return out
}

// counts is how many regions each node owns, when every region has exactly one owner.
func counts(nodes ...*running) (map[string]int, bool) {
	o := owners(nodes...)
	c := map[string]int{}
	for _, r := range nodes {
		c[r.n.ID()] = 0
	}
	for _, region := range testRegions {
		if len(o[region]) != 1 {
			return c, false
		}
		c[o[region][0]]++
	}
	return c, true
}

// waitShares waits until every region has one owner among nodes and want says the counts are right.
func waitShares(t *testing.T, what string, want func(map[string]int) bool, nodes ...*running) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		c, ok := counts(nodes...)
		if ok && want(c) {
			t.Logf("%s: %v", what, c)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; owners now %v", what, owners(nodes...))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// monitor checks, until stopped, that no region ever has two nodes that say they own it.
func monitor(t *testing.T, nodes func() []*running) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for region, o := range owners(nodes()...) {
				if len(o) > 1 {
					bad = append(bad, fmt.Sprintf("%s owned by %v", region, o))
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if len(bad) > 0 {
			t.Errorf("two owners at once: %v", bad[:min(len(bad), 5)])
		}
	}
}

// checkStreams reads every region's stream and checks the fence and durability: between two takeover markers
// only one writer's records; no writer in two stretches; every acknowledged record stored exactly once.
func checkStreams(t *testing.T, c *clustertest.Cluster, a *acks) {
	t.Helper()
	ctx := clustertest.Context(t)
	js, err := jetstream.New(c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range testRegions {
		s, err := js.Stream(ctx, jsjournal.StreamName(region))
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[fakeRecord]int{}
		seen := map[string]bool{} // writers of earlier stretches
		stretch, writer, markers := 0, "", 0
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("%s: %d: %v", region, seq, err)
			}
			if m.Header.Get(jsjournal.KindHeader) != "" {
				markers++
				stretch++
				if writer != "" {
					seen[writer] = true
				}
				writer = ""
				continue
			}
			var r fakeRecord
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatalf("%s: %d: %v", region, seq, err)
			}
			stored[r]++
			switch {
			case writer == "":
				if seen[r.Writer] {
					t.Errorf("%s: %d: %s writes again after another writer took over", region, seq, r.Writer)
				}
				writer = r.Writer
			case r.Writer != writer:
				t.Errorf("%s: %d: %s writes in %s's stretch %d", region, seq, r.Writer, writer, stretch)
			}
		}
		acked := a.of(region)
		for _, r := range acked {
			if stored[r] != 1 {
				t.Errorf("%s: acknowledged record %+v stored %d times", region, r, stored[r])
			}
		}
		t.Logf("%s: %d records, %d acknowledged, %d takeovers", region, info.State.Msgs, len(acked), markers)
		if len(acked) == 0 {
			t.Errorf("%s: nothing was ever written", region)
		}
	}
}

// Regions are shared out and move between nodes as nodes join, drain, stop and die, one owner at a time, and the
// streams show every takeover fenced: one writer between two markers, every acknowledged record stored once.
func TestRegionsMoveBetweenNodes(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := &acks{}
	var mu sync.Mutex
	var nodes []*running
	all := func() []*running {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(nodes)
	}
	add := func(r *running) {
		mu.Lock()
		nodes = append(nodes, r)
		mu.Unlock()
	}
	stopMonitor := monitor(t, all)

	na, nb := startNode(t, c, "a", a), startNode(t, c, "b", a)
	add(na)
	add(nb)
	waitShares(t, "two nodes take two regions each", func(c map[string]int) bool { return c["a"] == 2 && c["b"] == 2 }, na, nb)

	// A node whose reading of the cluster is stale (or empty) still finds each region's owner, afresh.
	for _, region := range testRegions {
		want := owners(na, nb)[region][0]
		na.n.mu.Lock()
		na.n.snap = &snapshot{owners: map[string]string{}}
		na.n.mu.Unlock()
		id, url, ok := na.n.Owner(region)
		if !ok || id != want || url != "http://"+want+".invalid" {
			t.Errorf("Owner(%s) from an empty reading: %q %q %v, want %s", region, id, url, ok, want)
		}
	}

	nc := startNode(t, c, "c", a)
	add(nc)
	waitShares(t, "a third node gets a region", func(c map[string]int) bool {
		return c["a"] >= 1 && c["a"] <= 2 && c["b"] >= 1 && c["b"] <= 2 && c["c"] >= 1 && c["c"] <= 2
	}, na, nb, nc)

	checkStatus(t, nc.n, "a", "b", "c")

	if err := nb.n.Drain(clustertest.Context(t)); err != nil {
		t.Fatal(err)
	}
	waitShares(t, "a drained node's regions move", func(c map[string]int) bool {
		return c["b"] == 0 && c["a"] == 2 && c["c"] == 2
	}, na, nb, nc)

	na.stop(t)
	waitShares(t, "a stopped node's regions move", func(c map[string]int) bool { return c["c"] == 4 }, nb, nc)

	// c dies: its connection goes, its leases run out; b (drained) takes nothing until it is let. b's readings
	// show every region free for a few of them before it is checked.
	nc.nc.Close()
	for free := 0; free < 5; {
		snap, changed := nb.n.current()
		if len(snap.owners) == 0 {
			free++
		}
		select {
		case <-changed:
		case <-time.After(clustertest.Timeout):
			t.Fatal("b stopped reading the cluster")
		}
	}
	if o := owners(nb); len(o) != 0 {
		t.Fatalf("a draining node took %v", o)
	}
	if err := nb.n.Undrain(clustertest.Context(t)); err != nil {
		t.Fatal(err)
	}
	waitShares(t, "the regions of a dead node move", func(c map[string]int) bool { return c["b"] == 4 }, nb, nc)
	// More writes by b in every region, for the streams' check.
	ctx := clustertest.Context(t)
	for _, region := range testRegions {
		for n := len(a.of(region)); len(a.of(region)) < n+5; {
			select {
			case <-ctx.Done():
				t.Fatalf("b wrote no more in %s", region)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	stopMonitor()
	nb.stop(t)
	nc.stop(t)
	checkStreams(t, c, a)
}

func TestConfigErrors(t *testing.T) {
	open := func(context.Context, string) (Replica, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"ID", Config{URL: "http://x", Regions: []string{"a"}, Open: open}},
		{"ID", Config{ID: "a.b", URL: "http://x", Regions: []string{"a"}, Open: open}},
		{"URL", Config{ID: "n", URL: "x:80", Regions: []string{"a"}, Open: open}},
		{"Conn", Config{ID: "n", URL: "http://x", Regions: []string{"a"}, Open: open}},
	} {
		_, err := New(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), "node: "+tc.name+":") {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.name)
		}
	}
}

// checkStatus waits until n's Status shows every region with its owner (as the nodes say), the owner's journal,
// and a replica on every node, the owner's as owner.
func checkStatus(t *testing.T, n *Node, nodes ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var problem string
	for time.Now().Before(deadline) {
		st, err := n.Status(clustertest.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		problem = ""
		var ids []string
		for _, nd := range st.Nodes {
			if nd.Alive && nd.URL != "" {
				ids = append(ids, nd.ID)
			}
		}
		if !slices.Equal(ids, nodes) {
			problem = fmt.Sprintf("alive nodes %v, want %v", ids, nodes)
		}
		for _, r := range st.Regions {
			if r.Owner == "" || r.Epoch == 0 || r.LeaseExpires == nil || r.Journal == nil || r.Journal.DurableSeq == 0 {
				problem = fmt.Sprintf("%s: owner %q epoch %d journal %+v", r.Region, r.Owner, r.Epoch, r.Journal)
				continue
			}
			if len(r.Replicas) != len(nodes) {
				problem = fmt.Sprintf("%s: replicas %+v", r.Region, r.Replicas)
				continue
			}
			for _, rep := range r.Replicas {
				if (rep.Node == r.Owner) != (rep.Role == RoleOwner) {
					problem = fmt.Sprintf("%s owned by %s: replica %+v", r.Region, r.Owner, rep)
				}
			}
		}
		if problem == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("status: %s", problem)
}

// behindReplica is a fake standby that finds, at its promotion, the stream truncated past its position.
type behindReplica struct{ *fakeReplica }

func (b behindReplica) Promote(context.Context, journal.Log) error {
	return fmt.Errorf("fake: %w", journal.ErrBehindFloor)
}

// leaseLog records a node's lease events.
type leaseLog struct {
	nopObserver
	mu     sync.Mutex
	events []string
}

func (l *leaseLog) LeaseAcquired(region string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "acquired "+region)
}

func (l *leaseLog) LeaseLost(region, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "lost "+region+" ("+reason+")")
}

func (l *leaseLog) of(region string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if strings.Contains(e, " "+region) {
			out = append(out, e)
		}
	}
	return out
}

// A standby behind the stream's floor (the owner before it checkpointed and truncated past what it followed) does
// not give the region back: a replica opened from the newer checkpoint takes over under the same lease.
func TestTakeoverFromBehindTheFloorKeepsTheLease(t *testing.T) {
	c := clustertest.Start(t, 3)
	a := &acks{}
	obs := &leaseLog{}
	var mu sync.Mutex
	opened := map[string]int{}
	r := startNodeWith(t, Config{ID: "a", URL: "http://a.invalid", Conn: c.Connect(), Regions: testRegions,
		LeaseTTL: testTTL, Observer: obs, Open: func(_ context.Context, region string) (Replica, error) {
			mu.Lock()
			defer mu.Unlock()
			opened[region]++
			f := newFake("a", region, a)
			if region == "north" && opened[region] == 1 {
				return behindReplica{f}, nil
			}
			return f, nil
		}})
	waitShares(t, "one node owns every region", func(c map[string]int) bool { return c["a"] == 4 }, r)
	mu.Lock()
	northOpens := opened["north"]
	mu.Unlock()
	if northOpens != 2 {
		t.Errorf("north's replica opened %d times, want 2 (the standby behind the floor, then one from the newer checkpoint)", northOpens)
	}
	if ev := obs.of("north"); !slices.Equal(ev, []string{"acquired north"}) {
		t.Errorf("north's lease events %q, want it acquired once and never given back", ev)
	}
}

// An owner whose journal fails (here fenced off by a writer of a later epoch; a record never acknowledged does the
// same) takes nothing more: the node gives the region up at once rather than hold the lease of a region that
// refuses every write.
func TestAFailedJournalGivesTheRegionUp(t *testing.T) {
	c := clustertest.Start(t, 3)
	obs := &leaseLog{}
	a := &acks{}
	r := startNodeWith(t, Config{ID: "a", URL: "http://a.invalid", Conn: c.Connect(), Regions: testRegions,
		LeaseTTL: testTTL, Observer: obs, Open: func(_ context.Context, region string) (Replica, error) {
			return newFake("a", region, a), nil
		}})
	waitShares(t, "one node owns every region", func(c map[string]int) bool { return c["a"] == 4 }, r)
	intruder, err := jsjournal.Open(clustertest.Context(t), c.Connect(), jsjournal.Config{Region: "north", Owner: "intruder", Epoch: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	ctx := clustertest.Context(t)
	for !slices.Contains(obs.of("north"), "lost north (released)") {
		select {
		case <-ctx.Done():
			t.Fatalf("north's lease events %q: never given up after its journal failed", obs.of("north"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if ev := obs.of("south"); !slices.Equal(ev, []string{"acquired south"}) {
		t.Errorf("south's lease events %q: a region whose journal works was given up too", ev)
	}
}

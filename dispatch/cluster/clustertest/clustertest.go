// Package clustertest runs a NATS cluster with JetStream inside a test: three embedded nats-servers on
// 127.0.0.1 with routes between them, their stores in the test's temporary directories, fsync after every write
// (as docs/cluster.md says a deployment must run). A server can be stopped and started again on the same ports
// and store, as a machine that reboots; Cleanup stops them all.
package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a running test cluster. Its methods fail the test (t.Fatal) on error and are safe for concurrent
// use.
type Cluster struct {
	t    testing.TB
	name string
	opt  Options

	mu      sync.Mutex
	servers []*server.Server // nil while stopped
	nodes   []node
}

type node struct {
	name        string
	dir         string
	clientPort  int
	clusterPort int
}

// Timeout bounds every wait of a test on the cluster: long, since the machine may be busy. Tests never assert a
// duration.
const Timeout = 60 * time.Second

// Context is a context that ends after Timeout or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// startTimeout bounds how long Start and Restart wait for a server to take connections and for JetStream to
// have a leader.
const startTimeout = 30 * time.Second

// Options change how StartWith runs the cluster.
type Options struct {
	// Servers is how many (default 3).
	Servers int
	// LazySync runs the servers with JetStream's default of syncing to disk every two minutes instead of after
	// every write: for measuring what the sync costs, never for a test of durability.
	LazySync bool
}

// Start starts n servers (3 when n is 0) in one cluster and waits until they are ready (WaitReady). The
// servers stop when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartWith(t, Options{Servers: n})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opt Options) *Cluster {
	t.Helper()
	n := opt.Servers
	if n <= 0 {
		n = 3
	}
	c := &Cluster{t: t, name: "dispatchd-test", opt: opt, servers: make([]*server.Server, n), nodes: make([]node, n)}
	t.Cleanup(c.Shutdown)
	// The route ports must be known before any server starts (each names the others), so they are reserved by
	// listening on port 0 and closing: another process (the other test packages run beside this one) could take
	// one in between. A cluster that does not start is started again on other ports and fresh stores, twice at
	// most, and the failure says what each server reported.
	for attempt := 1; ; attempt++ {
		for i := range c.nodes {
			c.nodes[i] = node{name: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), clusterPort: freePort(t)}
		}
		var err error
		for i := range c.nodes {
			if err = c.launch(i); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
		c.Shutdown()
		if attempt == 3 {
			t.Fatalf("clustertest: %v", err)
		}
		t.Logf("clustertest: starting the cluster again on other ports: %v", err)
	}
	c.WaitReady()
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("clustertest: reserve a port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) options(i int) *server.Options {
	nd := c.nodes[i]
	var routes []string
	for j, o := range c.nodes {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.clusterPort))
		}
	}
	port := nd.clientPort
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return &server.Options{
		ServerName: nd.name,
		Host:       "127.0.0.1",
		Port:       port,
		NoLog:      os.Getenv("CLUSTERTEST_LOG") == "",
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   nd.dir,
		// Every write to a stream's replicated log is on disk before the server acknowledges it: docs/cluster.md.
		SyncAlways: !c.opt.LazySync,
		Cluster: server.ClusterOpts{
			Name: c.name,
			Host: "127.0.0.1",
			Port: nd.clusterPort,
		},
		Routes: server.RoutesFromStr(strings.Join(routes, ",")),
	}
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	if err := c.launch(i); err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
}

// launch starts server i and waits until it takes connections.
func (c *Cluster) launch(i int) error {
	s, err := server.NewServer(c.options(i))
	if err != nil {
		return fmt.Errorf("server %s: %w", c.nodes[i].name, err)
	}
	var log startLog
	if os.Getenv("CLUSTERTEST_LOG") != "" {
		s.ConfigureLogger()
	} else {
		s.SetLogger(&log, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(startTimeout) {
		s.Shutdown()
		return fmt.Errorf("server %s did not take connections within %v; it reported: %s", c.nodes[i].name,
			startTimeout, log.String())
	}
	c.mu.Lock()
	c.servers[i] = s
	if c.nodes[i].clientPort == 0 {
		c.nodes[i].clientPort = s.Addr().(*net.TCPAddr).Port
	}
	c.mu.Unlock()
	return nil
}

// startLog keeps the errors a server reports (a port already taken, a store it cannot open; not its warnings,
// which a cluster coming up repeats), for the message of a start that fails; a server logs nothing otherwise
// unless CLUSTERTEST_LOG is set.
type startLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *startLog) add(kind, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 20 {
		l.lines = append(l.lines, kind+": "+fmt.Sprintf(format, v...))
	}
}

func (l *startLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "nothing"
	}
	return strings.Join(l.lines, "; ")
}

func (l *startLog) Noticef(string, ...any)         {}
func (l *startLog) Warnf(string, ...any)           {}
func (l *startLog) Fatalf(format string, v ...any) { l.add("fatal", format, v...) }
func (l *startLog) Errorf(format string, v ...any) { l.add("error", format, v...) }
func (l *startLog) Debugf(string, ...any)          {}
func (l *startLog) Tracef(string, ...any)          {}

// Size is the number of servers, running or not.
func (c *Cluster) Size() int { return len(c.nodes) }

// URL is the client URL of server i (whether it runs or not: a restart keeps the port).
func (c *Cluster) URL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].clientPort)
}

// URLs is every server's client URL, comma-separated, as nats.Connect takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// Connect opens a client connection to the cluster (any server, reconnecting to the others without limit),
// closed when the test ends.
func (c *Cluster) Connect(opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	return c.connect(c.URLs(), opts)
}

// ConnectTo opens a client connection to server i only (no other server is offered to it, and the cluster's
// gossip of other servers is ignored), closed when the test ends.
func (c *Cluster) ConnectTo(i int, opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	return c.connect(c.URL(i), append([]nats.Option{nats.IgnoreDiscoveredServers()}, opts...))
}

func (c *Cluster) connect(urls string, opts []nats.Option) *nats.Conn {
	c.t.Helper()
	all := append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(urls, all...)
	if err != nil {
		c.t.Fatalf("clustertest: connect to %s: %v", urls, err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// Server is server i, nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Stop shuts server i down (its store stays for Restart).
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts server i again, stopped or not, on its ports and store, and waits until the cluster is ready
// (WaitReady).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.start(i)
	c.WaitReady()
}

// StartServer starts server i, which must be stopped, on its ports and store, without waiting for JetStream (to
// start several after all were stopped: a lone server has no quorum). WaitReady waits for them.
func (c *Cluster) StartServer(i int) {
	c.t.Helper()
	if c.Server(i) != nil {
		c.t.Fatalf("clustertest: server %s is running", c.nodes[i].name)
	}
	c.start(i)
}

// WaitReady waits until JetStream has a meta leader that counts every running server as a current peer, and
// every running server is current with it: then streams can be placed on all of them.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	c.waitFor(func() bool {
		l := c.Leader()
		if l < 0 {
			return false
		}
		info, err := c.Server(l).Jsz(nil)
		if err != nil || info.Meta == nil {
			return false
		}
		current := 0
		for _, p := range info.Meta.Replicas {
			if p.Current && !p.Offline {
				current++
			}
		}
		running := 0
		for i := range c.nodes {
			if s := c.Server(i); s != nil {
				running++
				if !s.JetStreamIsCurrent() {
					return false
				}
			}
		}
		return current == running-1
	}, "JetStream meta leader with every running server current")
	if c.running() == len(c.nodes) {
		c.probePlacement()
	}
}

func (c *Cluster) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.servers {
		if s != nil {
			n++
		}
	}
	return n
}

// probePlacement waits until a stream replicated on every server can be made: the meta leader places streams
// by what it last heard of each server's resources, a few seconds after the server came back.
func (c *Cluster) probePlacement() {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		c.t.Fatalf("clustertest: connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
	var last error
	c.waitFor(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, last = js.CreateStream(ctx, jetstream.StreamConfig{Name: "clustertest-probe", Subjects: []string{"clustertest.probe"},
			Replicas: len(c.nodes), Storage: jetstream.MemoryStorage})
		if last != nil {
			return false
		}
		last = js.DeleteStream(ctx, "clustertest-probe")
		return last == nil
	}, "stream placed on every server")
}

// WaitLeader waits until a running server is the JetStream meta leader.
func (c *Cluster) WaitLeader() {
	c.t.Helper()
	c.waitFor(func() bool { return c.Leader() >= 0 }, "a JetStream meta leader")
}

// Leader is the index of the server that is the JetStream meta leader, or -1 while there is none.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// StreamLeader is the index of the running server that leads stream (in the global account), or -1.
func (c *Cluster) StreamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.servers {
		if s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// LocalStream is stream's state (in the global account) as server i holds it in its own store, whether it leads
// the stream or not; ok is false when server i is stopped or holds no replica of it.
func (c *Cluster) LocalStream(i int, stream string) (state server.StreamState, ok bool) {
	s := c.Server(i)
	if s == nil {
		return state, false
	}
	info, err := s.Jsz(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		return state, false
	}
	for _, a := range info.AccountDetails {
		for _, sd := range a.Streams {
			if sd.Name == stream {
				return sd.State, true
			}
		}
	}
	return state, false
}

// WaitLocal waits until server i holds a replica of stream whose state satisfies cond (a replica that catches
// up, say), and fails the test after a while.
func (c *Cluster) WaitLocal(i int, stream string, cond func(server.StreamState) bool) {
	c.t.Helper()
	c.waitFor(func() bool {
		st, ok := c.LocalStream(i, stream)
		return ok && cond(st)
	}, fmt.Sprintf("replica of %s on server %s in the state waited for", stream, c.nodes[i].name))
}

func (c *Cluster) waitFor(cond func() bool, what string) {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: no %s within %v", what, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Shutdown stops every server; Start registered it with t.Cleanup.
func (c *Cluster) Shutdown() {
	for i := range c.nodes {
		c.Stop(i)
	}
}

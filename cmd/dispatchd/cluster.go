package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/ckptstore"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/node"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/httpapi"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/metrics"
)

// checkCluster checks the cluster flags: all or nothing of --node-id, --regions and --advertise with --cluster.
func (m *Main) checkCluster() error {
	if m.Cluster == "" {
		if m.NodeID != "" || m.Regions != "" || m.Advertise != "" {
			return errors.New("dispatchd: --node-id, --regions and --advertise go with --cluster")
		}
		return nil
	}
	for _, u := range strings.Split(m.Cluster, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err != nil || p.Host == "" {
			return fmt.Errorf("dispatchd: --cluster: %q is not a NATS URL (nats://host:port)", u)
		}
	}
	if err := jsjournal.CheckRegion(m.NodeID); err != nil {
		return fmt.Errorf("dispatchd: --node-id: %w", err)
	}
	regions, err := m.regionList()
	if err != nil {
		return err
	}
	if len(regions) == 0 {
		return errors.New("dispatchd: --regions: the cluster's regions are required (a,b,c; the same on every node)")
	}
	if u, err := url.Parse(m.Advertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("dispatchd: --advertise: %q is not an http:// address other nodes can reach", m.Advertise)
	}
	if m.LeaseTTL < time.Second {
		return errors.New("dispatchd: --lease-ttl must be at least 1s")
	}
	if m.ClusterReplicas < 1 || m.ClusterReplicas > 5 {
		return errors.New("dispatchd: --cluster-replicas must be within [1, 5]")
	}
	if m.JournalSalvage {
		return errors.New("dispatchd: --journal-salvage is for a local journal, not with --cluster")
	}
	return nil
}

func (m *Main) regionList() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(m.Regions, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if err := jsjournal.CheckRegion(r); err != nil {
			return nil, fmt.Errorf("dispatchd: --regions: %w", err)
		}
		if seen[r] {
			return nil, fmt.Errorf("dispatchd: --regions: %s is named twice", r)
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

// replica is a region's daemon as the node drives it, with its HTTP API.
type replica struct {
	*daemon.Daemon
	h http.Handler
}

func (r *replica) Handler() http.Handler { return r.h }

// View is the daemon's latest view (its method, named here for node.Replica).
func (r *replica) View() service.View { return r.Daemon.View() }

var _ node.Replica = (*replica)(nil)

// clusterRun is the cluster mode's part of Run: the NATS connection, one daemon per region (owner or warm
// standby, driven by the node), and the router in front of them. It returns the handler to serve, the metrics'
// fleet (summed over the regions this node owns), and start and stop functions: start runs the node; stop, called
// after the HTTP servers stopped, stops it (releasing its leases) and closes the connection.
type clusterRun struct {
	nc     *nats.Conn
	node   *node.Node
	router http.Handler

	mu   sync.Mutex
	reps map[string]*replica // region → the replica open now

	cancel context.CancelFunc
	done   chan error
}

// openCluster connects to NATS and sets the node up; cfg is the daemon configuration every region's daemon
// starts from, apiCfg the API's.
func (m *Main) openCluster(ctx context.Context, log zerolog.Logger, cfg daemon.Config, apiCfg httpapi.Config, met *metrics.Metrics) (*clusterRun, error) {
	regions, err := m.regionList()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(m.Cluster, nats.Name("dispatchd "+m.NodeID), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn().AnErr("reason", err).Msg("cluster: NATS disconnected") }),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("server", c.ConnectedUrlRedacted()).Msg("cluster: NATS reconnected")
		}))
	if err != nil {
		return nil, fmt.Errorf("dispatchd: --cluster: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	// Nodes and servers often start together: JetStream may not take a bucket's creation before its servers elected
	// a leader. Each step is tried again for a minute.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var ckpts *ckptstore.Store
	if err := retry(cctx, log, "checkpoints", func(ctx context.Context) (err error) {
		ckpts, err = ckptstore.Open(ctx, nc, ckptstore.Config{Replicas: m.ClusterReplicas})
		return err
	}); err != nil {
		return nil, fmt.Errorf("dispatchd: --cluster: checkpoints: %w", err)
	}
	c := &clusterRun{nc: nc, reps: map[string]*replica{}}
	// The metrics read the node at scrape time: scrapes begin once Run serves, after the node is set.
	cm := metrics.NewCluster(met, regions, func() metrics.ClusterState {
		return metrics.ClusterState{Owned: c.node.Owned(), Lag: c.node.Lag()}
	})
	controlView := func() service.View {
		c.mu.Lock()
		r := c.reps[regions[0]]
		c.mu.Unlock()
		if r == nil {
			return nil
		}
		return r.Daemon.View()
	}
	open := func(_ context.Context, region string) (node.Replica, error) {
		rc := cfg
		rc.DataDir = filepath.Join(m.DataDir, "regions", region)
		rc.Region = region
		rc.Standby = true
		rc.Checkpoints = ckpts.Region(region)
		rc.Logger = log.With().Str("region", region).Logger()
		// Every region's owner delivers its own events to the control region's webhooks, journaling its delivery
		// cursors every lease: a failover delivers again about a lease's worth at most.
		rc.Webhooks.JournalCursorsEvery = m.LeaseTTL
		if region != regions[0] {
			rc.ControlWebhooks = func() ([]*daemon.Webhook, bool) {
				c.mu.Lock()
				r := c.reps[regions[0]]
				c.mu.Unlock()
				if r == nil || c.node == nil || !c.node.CaughtUp(regions[0]) {
					return nil, false
				}
				return r.Daemon.Webhooks(), true
			}
		}
		d, err := daemon.Open(rc)
		if err != nil {
			return nil, err
		}
		ac := apiCfg
		ac.Logger = rc.Logger
		ac.Cluster = c.status
		svc := node.WithControlKeys(d, controlView)
		if region == regions[0] {
			// The control region's webhooks say where every region's deliveries stand, from this node's replicas.
			svc = node.WithRegionWebhooks(svc, regions, func(region string) node.WebhookViewer {
				c.mu.Lock()
				r := c.reps[region]
				c.mu.Unlock()
				if r == nil {
					return nil
				}
				return r.Daemon
			})
		}
		r := &replica{Daemon: d, h: httpapi.New(svc, ac).Handler()}
		c.mu.Lock()
		c.reps[region] = r
		c.mu.Unlock()
		return r, nil
	}
	var n *node.Node
	if err := retry(cctx, log, "node", func(ctx context.Context) (err error) {
		n, err = node.New(ctx, node.Config{ID: m.NodeID, URL: m.Advertise, Conn: nc, Regions: regions, LeaseTTL: m.LeaseTTL,
			Open: open, Replicas: m.ClusterReplicas, Logger: log,
			Journal:  jsjournal.Config{Replicas: m.ClusterReplicas, OnSync: met.JournalSync},
			Observer: cm})
		return err
	}); err != nil {
		return nil, fmt.Errorf("dispatchd: --cluster: %w", err)
	}
	c.node = n
	c.router = node.NewRouter(n, node.RouterConfig{Self: m.NodeID, Observer: cm, Logger: log, AdminToken: apiCfg.AdminToken,
		RetryAfter: time.Duration(math.Ceil(m.LeaseTTL.Seconds())) * time.Second})
	ok = true
	return c, nil
}

// retry calls fn until it succeeds or ctx ends, each try within 10 s, a second apart, logging each failure.
func retry(ctx context.Context, log zerolog.Logger, what string, fn func(context.Context) error) error {
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(tctx)
		cancel()
		if err == nil {
			return nil
		}
		log.Warn().Err(err).Str("step", what).Msg("cluster: not ready yet; trying again")
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

func (c *clusterRun) status(ctx context.Context) (*service.ClusterStatus, error) {
	return c.node.Status(ctx)
}

// start runs the node.
func (c *clusterRun) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() { c.done <- c.node.Run(ctx) }()
}

// stop stops the node (each replica stops, the leases are released for other nodes to take at once) and closes
// the connection.
func (c *clusterRun) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.nc.Close()
}

// stopStreams ends the courier streams of every replica (at the HTTP servers' shutdown).
func (c *clusterRun) stopStreams() {
	c.mu.Lock()
	reps := maps.Clone(c.reps)
	c.mu.Unlock()
	for _, r := range reps {
		r.StopStreams()
	}
}

// fleet sums the fleets of the regions this node owns, for the metrics (a standby's are another node's).
func (c *clusterRun) fleet() metrics.Fleet {
	sum := metrics.Fleet{OrdersByStatus: map[string]int{}, CouriersByStatus: map[string]int{}, WebhookBacklog: map[string]int{},
		WebhookOldestPending: map[string]time.Time{}, Ready: true}
	owned := 0
	for _, region := range c.node.Regions() {
		rep, own := c.node.Local(region)
		r, ok := rep.(*replica)
		if !own || !ok {
			continue
		}
		owned++
		f := fleetOf(r.Daemon)
		for k, v := range f.OrdersByStatus {
			sum.OrdersByStatus[k] += v
		}
		for k, v := range f.CouriersByStatus {
			sum.CouriersByStatus[k] += v
		}
		sum.Stores += f.Stores
		sum.LastRoundCandidates += f.LastRoundCandidates
		sum.LastRoundAssigned += f.LastRoundAssigned
		sum.QueueDepth += f.QueueDepth
		sum.QueueCapacity += f.QueueCapacity
		sum.LoopBusyRatio = max(sum.LoopBusyRatio, f.LoopBusyRatio)
		sum.JournalPending += f.JournalPending
		// A webhook is delivered by every region's owner: its backlog is the sum, its oldest event the oldest.
		for k, v := range f.WebhookBacklog {
			sum.WebhookBacklog[k] += v
		}
		for k, at := range f.WebhookOldestPending {
			if old, ok := sum.WebhookOldestPending[k]; !ok || at.Before(old) {
				sum.WebhookOldestPending[k] = at
			}
		}
		sum.Ready = sum.Ready && f.Ready
		sum.ReadOnly = sum.ReadOnly || f.ReadOnly
	}
	if owned == 0 {
		sum.Ready = false
	}
	return sum
}

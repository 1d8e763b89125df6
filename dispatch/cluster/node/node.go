// Package node is a dispatchd cluster node: it shares a cluster's regions with the other nodes by lease, owns some
// (serving their writes) and keeps warm standbys of the rest, takes over a region whose owner died, and answers
// for any region over HTTP (Router), serving those it owns and forwarding the rest to their owners.
//
// # A region's loop
//
// For every region of the cluster a node runs one loop, in its own goroutine:
//
//  1. Open the region's Replica (Config.Open) as a standby: it recovers from the latest checkpoint.
//  2. Follow the region's stream (jsjournal.Follower) into the standby, while waiting for the region's lease to
//     be free and the share-out rule (below) to say this node should take it.
//  3. Acquire the lease, stop following, open the journal in the lease's epoch (jsjournal.Open: the stream
//     fences off the previous writer), and Promote the standby: it replays what it did not follow, then serves.
//  4. Serve until the lease is lost (Abandon at once: no write after the lease), or the node gives the region
//     away (Drain, the share-out, or the node stopping: a graceful stop of the replica, then Release, so that
//     another node takes the region without waiting for the lease to run out).
//  5. Go back to 1: a fresh standby.
//
// # Who holds which region
//
// Leases say who owns a region (dispatch/cluster/lease); the node registry says where a node answers: a key-value
// bucket (default "dispatchd-nodes") of one entry per node (its advertised URL, start time, and its replicas'
// positions, for GET /v1/cluster), refreshed every quarter lease TTL and gone two TTLs after its node stopped
// refreshing it; an entry that has not changed for three quarters of a TTL is silent (its node dead or cut off),
// and a node catching up (just started) says so. Each node reads both every tenth of a TTL (at most a second),
// and decides alone, by a rule every node applies to the same picture (share), which free regions to try to take
// and whether to give one away: each aims at between floor(R/N) and ceil(R/N) of the R regions, N being the nodes
// listed, not silent, not catching up and not draining. So a node that joins gets regions from the others, one at
// a time, once it can serve them; a drained node's regions move to the rest; a dead node's are taken at once by
// the nodes under their new share when its leases run out.
//
// Every goroutine belongs to Run and ends before it returns.
package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/lease"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Replica is one region's daemon on this node, as the node drives it (an adapter over *daemon.Daemon opened with
// Standby is one). It starts as a standby; Promote makes it the owner.
type Replica interface {
	// Run runs the replica until ctx ends (a graceful stop) or Abandon; it returns then.
	Run(ctx context.Context) error
	// Follow applies, on a standby, a record the owner wrote at seq (records at or below Position are skipped).
	Follow(ctx context.Context, seq uint64, rec []byte) error
	// Position is the last journal sequence number the replica's state includes.
	Position() uint64
	// Promote turns the standby into the owner, writing to j: it replays j after Position, then takes commands.
	Promote(ctx context.Context, j journal.Log) error
	// Abandon stops the replica at once, its lease gone: no further write. Run returns after it.
	Abandon()
	// Handler is the region's HTTP API (the router serves a region this node owns with it).
	Handler() http.Handler
	// View is the replica's latest state, owner or standby (the router finds a store's, courier's or order's
	// region in it). Nil before the replica recovered.
	View() service.View
}

// Observer is told what happens to leases and forwarded requests, for metrics (metrics.Cluster is one). Its
// methods must not block.
type Observer interface {
	// LeaseAcquired: this node took region's lease.
	LeaseAcquired(region string)
	// LeaseLost: this node lost or gave up region's lease; reason is "expired", "taken" or "released".
	LeaseLost(region, reason string)
	// LeaseRenewal: a renewal of region's lease succeeded or failed.
	LeaseRenewal(region string, ok bool)
	// Forwarded: the router handled a request for a region owned elsewhere; outcome is "ok" (the owner
	// answered), "error" (the owner could not be reached), "no_owner" (failover: 503) or "hop_limit" (a forwarded
	// request reached a node that does not own the region: 503).
	Forwarded(outcome string)
}

type nopObserver struct{}

func (nopObserver) LeaseAcquired(string)      {}
func (nopObserver) LeaseLost(string, string)  {}
func (nopObserver) LeaseRenewal(string, bool) {}
func (nopObserver) Forwarded(string)          {}

// Config sets a node up.
type Config struct {
	// ID names the node (in leases and the registry); URL is where other nodes reach its HTTP API
	// (http://host:port). Both required.
	ID  string
	URL string
	// Conn is the NATS connection (leases, registry, journals, followers); it stays the caller's.
	Conn *nats.Conn
	// Regions are the cluster's regions (jsjournal.CheckRegion names), the same on every node; the first is the
	// control region (API keys and webhooks live there).
	Regions []string
	// LeaseTTL is the length of a lease (default 5 s); every node of a cluster must use the same.
	LeaseTTL time.Duration
	// Open opens region's replica as a standby, recovered from the latest checkpoint. Required.
	Open func(ctx context.Context, region string) (Replica, error)
	// Journal is the template of the journals this node opens as an owner (Region, Owner and Epoch are set by
	// the node; the rest as given, zero for jsjournal's defaults).
	Journal jsjournal.Config
	// LeaseBucket and NodeBucket name the key-value buckets (defaults "dispatchd-leases", "dispatchd-nodes");
	// Replicas is their copies (default 3).
	LeaseBucket string
	NodeBucket  string
	Replicas    int
	// Logger receives the node's log lines.
	Logger zerolog.Logger
	// Observer, when set, is told of leases and forwarding (metrics).
	Observer Observer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Node is a cluster node. Make it with New, run it with Run.
type Node struct {
	cfg      Config
	leases   *lease.Leases
	reg      *registry
	share    share
	started  time.Time
	interval time.Duration
	log      zerolog.Logger

	regions map[string]*region

	mu       sync.Mutex
	snap     *snapshot
	changed  chan struct{} // closed and replaced at each new snapshot
	beat     chan struct{} // asks for a heartbeat now (a replica changed role); buffered, 1
	draining bool
	giving   string             // the region last given away for the share-out, until another node took it
	givenAt  time.Time          // when
	seen     map[string]revSeen // node → its registry entry's revision and when this node first saw it
}

type revSeen struct {
	rev uint64
	at  time.Time
}

// region is a node's state of one region.
type region struct {
	name    string
	release chan struct{} // a request to give the region away (buffered, 1)

	mu        sync.Mutex
	rep       Replica
	role      string // "opening", "standby", "promoting", "owner" or "stopping"
	lease     *lease.Lease
	journal   *jsjournal.Journal
	follower  *jsjournal.Follower
	caughtUp  bool      // the replica has read the stream up to where it ended when following began (or owns it)
	freeSince time.Time // when the region was first seen free (zero: held)
	wonFree   time.Time // freeSince when this node last acquired the lease
	// lastHolder and lastExpiry are the lease as last seen held by another node: who, and when its holder's last
	// renewal said it runs out (for the takeover's step log).
	lastHolder string
	lastExpiry time.Time
}

// takeover is the step log of one takeover, written as one line (at warn) when it ends, served or failed: where
// the seconds between an owner's death and the region's first order on the new owner go. The chaos run
// (dispatchd-load --mode chaos) reads these lines.
type takeover struct {
	holder                  string    // the previous holder, as last seen
	expiry                  time.Time // its lease's expiry, by its last renewal (its clock)
	free, won, followed     time.Time // lease first seen free here; acquired; following stopped
	opened, promoted, serve time.Time // journal opened in the new epoch (fenced); replica promoted (caught up); serving
	from, to                uint64    // the replica's position before and after the promotion's catch-up
}

// log writes t's steps: absolute times (ms) and each step's share.
func (t *takeover) log(ev *zerolog.Event) *zerolog.Event {
	ms := func(a, b time.Time) float64 {
		if a.IsZero() || b.IsZero() {
			return -1
		}
		return float64(b.Sub(a).Microseconds()) / 1000
	}
	at := func(k string, v time.Time) {
		if !v.IsZero() {
			ev.Str(k, v.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
	}
	ev.Str("previous", t.holder)
	at("expiry_at", t.expiry)
	at("free_at", t.free)
	at("won_at", t.won)
	at("followed_at", t.followed)
	at("opened_at", t.opened)
	at("promoted_at", t.promoted)
	at("serving_at", t.serve)
	return ev.Float64("expiry_to_free_ms", ms(t.expiry, t.free)).Float64("free_to_won_ms", ms(t.free, t.won)).
		Float64("stop_follow_ms", ms(t.won, t.followed)).Float64("open_journal_ms", ms(t.followed, t.opened)).
		Float64("promote_ms", ms(t.opened, t.promoted)).Float64("won_to_serving_ms", ms(t.won, t.serve)).
		Uint64("from", t.from).Uint64("to", t.to)
}

// Roles of a region on a node (Status).
const (
	RoleOpening   = "opening"
	RoleStandby   = "standby"
	RolePromoting = "promoting"
	RoleOwner     = "owner"
	RoleStopping  = "stopping"
)

// New checks cfg and binds the lease and node buckets (creating them when missing).
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("node: ID: empty")
	}
	if err := jsjournal.CheckRegion(cfg.ID); err != nil {
		// It is a key in both buckets: the same rule as a region's name.
		return nil, fmt.Errorf("node: ID: %w", err)
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("node: URL: %q is not an http:// or https:// address", cfg.URL)
	}
	if cfg.Conn == nil {
		return nil, errors.New("node: Conn: nil")
	}
	if cfg.Open == nil {
		return nil, errors.New("node: Open: nil")
	}
	if len(cfg.Regions) == 0 {
		return nil, errors.New("node: Regions: none")
	}
	seen := map[string]bool{}
	for _, r := range cfg.Regions {
		if err := jsjournal.CheckRegion(r); err != nil {
			return nil, fmt.Errorf("node: Regions: %w", err)
		}
		if seen[r] {
			return nil, fmt.Errorf("node: Regions: %s is named twice", r)
		}
		seen[r] = true
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.NodeBucket == "" {
		cfg.NodeBucket = "dispatchd-nodes"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 3
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Regions = slices.Clone(cfg.Regions)
	leases, err := lease.Open(ctx, cfg.Conn, lease.Config{Node: cfg.ID, Bucket: cfg.LeaseBucket, Replicas: cfg.Replicas,
		TTL: cfg.LeaseTTL, Now: cfg.Now, OnRenew: func(r string, err error) { cfg.Observer.LeaseRenewal(r, err == nil) }})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	reg, err := openRegistry(ctx, cfg.Conn, cfg.NodeBucket, cfg.Replicas, 2*cfg.LeaseTTL)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, leases: leases, reg: reg, share: share{regions: cfg.Regions, self: cfg.ID},
		started: cfg.Now().UTC(), interval: min(max(cfg.LeaseTTL/10, 100*time.Millisecond), time.Second),
		log: cfg.Logger.With().Str("node", cfg.ID).Logger(), regions: map[string]*region{},
		snap: &snapshot{owners: map[string]string{}}, changed: make(chan struct{}), beat: make(chan struct{}, 1)}
	for _, r := range cfg.Regions {
		n.regions[r] = &region{name: r, release: make(chan struct{}, 1), role: RoleOpening}
	}
	return n, nil
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Regions are the cluster's regions, the control region first.
func (n *Node) Regions() []string { return slices.Clone(n.cfg.Regions) }

// Run runs the node until ctx ends: the registry heartbeat, the view of the cluster, and every region's loop. When
// ctx ends it stops every replica (gracefully), releases the leases it holds so that other nodes take its regions
// at once, leaves the registry, and returns once all of it stopped.
func (n *Node) Run(ctx context.Context) error {
	if err := n.heartbeat(ctx); err != nil {
		n.log.Warn().Err(err).Msg("node: registry")
	}
	var wg sync.WaitGroup
	wg.Go(func() { n.watch(ctx) })
	for _, r := range n.cfg.Regions {
		wg.Go(func() { n.runRegion(ctx, n.regions[r]) })
	}
	wg.Wait()
	rctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaseTTL)
	defer cancel()
	if err := n.reg.remove(rctx, n.cfg.ID); err != nil {
		n.log.Warn().Err(err).Msg("node: leaving the registry")
	}
	return ctx.Err()
}

// Drain gives every region this node owns away and takes none again: for a planned stop, or to move its regions
// to other nodes. It returns once no lease is held by this node (or ctx ends). Its replicas stay standbys, and
// its router still answers (forwarding everything).
func (n *Node) Drain(ctx context.Context) error {
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	if err := n.heartbeat(ctx); err != nil {
		n.log.Warn().Err(err).Msg("node: registry")
	}
	for {
		owned := false
		for _, r := range n.regions {
			r.mu.Lock()
			held := r.lease != nil
			r.mu.Unlock()
			if held {
				owned = true
				select {
				case r.release <- struct{}{}:
				default:
				}
			}
		}
		if !owned {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(n.interval):
		}
	}
}

// Undrain lets a drained node take regions again.
func (n *Node) Undrain(ctx context.Context) error {
	n.mu.Lock()
	n.draining = false
	n.mu.Unlock()
	return n.heartbeat(ctx)
}

func (n *Node) isDraining() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.draining
}

// heartbeat writes this node's registry entry: address, start, whether it drains, and its replicas' positions.
func (n *Node) heartbeat(ctx context.Context) error {
	_, ready := n.Ready()
	m := Member{ID: n.cfg.ID, URL: n.cfg.URL, Started: n.started, Draining: n.isDraining(), CatchingUp: !ready,
		Replicas: map[string]ReplicaState{}}
	for _, r := range n.regions {
		m.Replicas[r.name] = r.state()
	}
	hctx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL/2)
	defer cancel()
	return n.reg.put(hctx, m)
}

// watch reads the leases and the registry every interval (and heartbeats every quarter TTL, and at once when the
// node becomes ready or stops being so) into the snapshot the
// region loops act on, and gives a region away when the share-out says so.
func (n *Node) watch(ctx context.Context) {
	lastBeat := n.cfg.Now()
	_, wasReady := n.Ready()
	for {
		now := false
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.nextLook()):
		case <-n.beat:
			now = true
		}
		if _, ready := n.Ready(); ready != wasReady {
			now, wasReady = true, ready // the others give this node its share once it is ready
		}
		if now || n.cfg.Now().Sub(lastBeat) >= heartbeatEvery(n.cfg.LeaseTTL) {
			if err := n.heartbeat(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn().Err(err).Msg("node: registry heartbeat")
			}
			lastBeat = n.cfg.Now()
		}
		snap, err := n.observe(ctx)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn().Err(err).Msg("node: reading the cluster")
			}
			continue
		}
		n.mu.Lock()
		n.snap = snap
		close(n.changed)
		n.changed = make(chan struct{})
		if n.giving != "" {
			if o := snap.owners[n.giving]; (o != "" && o != n.cfg.ID) || snap.at.Sub(n.givenAt) > 3*n.cfg.LeaseTTL {
				n.giving = ""
			}
		}
		give := ""
		if n.giving == "" && !n.draining {
			if r, ok := n.share.giveAway(snap); ok {
				give, n.giving, n.givenAt = r, r, snap.at
			}
		}
		n.mu.Unlock()
		if give != "" {
			n.log.Info().Str("region", give).Msg("node: giving a region away to even the share out")
			select {
			case n.regions[give].release <- struct{}{}:
			default:
			}
		}
	}
}

// nextLook is how long the watch loop waits before it reads the cluster again: the interval, or less when a lease
// another node holds runs out sooner by the expiry its holder wrote (a dead owner's region is seen free at once).
func (n *Node) nextLook() time.Duration {
	snap, _ := n.current()
	wait := n.interval
	now := n.cfg.Now()
	for region, exp := range snap.expires {
		if snap.owners[region] != n.cfg.ID {
			if d := exp.Sub(now) + time.Millisecond; d > 0 && d < wait {
				wait = d
			}
		}
	}
	return wait
}

// heartbeatEvery is how often a node writes its registry entry; an entry that has not changed for silentAfter
// is silent (Member.Silent): its node is dead or cut off, about when its leases run out.
func heartbeatEvery(ttl time.Duration) time.Duration { return ttl / 4 }
func silentAfter(ttl time.Duration) time.Duration    { return 3 * ttl / 4 }

// heartbeatSoon asks the watch loop for a heartbeat at once, so that the registry shows a new owner's journal
// without waiting for the next beat.
func (n *Node) heartbeatSoon() {
	select {
	case n.beat <- struct{}{}:
	default:
	}
}

// observe reads the leases and the registry.
func (n *Node) observe(ctx context.Context) (*snapshot, error) {
	octx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL)
	defer cancel()
	leases, err := n.leases.List(octx)
	if err != nil {
		return nil, err
	}
	members, err := n.reg.list(octx)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{at: n.cfg.Now(), owners: map[string]string{}, epochs: map[string]uint64{},
		expires: map[string]time.Time{}, members: members}
	n.mu.Lock()
	seen := map[string]revSeen{}
	for i, m := range members {
		last, ok := n.seen[m.ID]
		if !ok || last.rev != m.Revision {
			last = revSeen{rev: m.Revision, at: snap.at}
		}
		seen[m.ID] = last
		members[i].Silent = m.ID != n.cfg.ID && snap.at.Sub(last.at) > silentAfter(n.cfg.LeaseTTL)
	}
	n.seen = seen
	n.mu.Unlock()
	for _, l := range leases {
		if l.Owner != n.cfg.ID && !l.Expires.IsZero() && !snap.at.Before(l.Expires) {
			// Its holder's expiry passed by this node's clock: free, though the servers still have the key
			// (lease.Acquire takes it).
			continue
		}
		snap.owners[l.Region] = l.Owner
		snap.epochs[l.Region] = l.Epoch
		snap.expires[l.Region] = l.Expires
	}
	return snap, nil
}

// current is the latest snapshot and the channel closed when the next one comes.
func (n *Node) current() (*snapshot, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.snap, n.changed
}

// runRegion runs region r's loop until ctx ends.
func (n *Node) runRegion(ctx context.Context, r *region) {
	wait := n.interval
	for ctx.Err() == nil {
		err := n.cycle(ctx, r)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			wait = n.interval
			continue
		}
		n.log.Warn().Err(err).Str("region", r.name).Msg("node: region")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, n.cfg.LeaseTTL)
	}
}

// cycle is one turn of a region's loop: a fresh standby, following until it takes the lease, serving until it
// loses or gives it away. It returns once the replica stopped.
func (n *Node) cycle(ctx context.Context, r *region) error {
	r.setRole(RoleOpening, nil)
	rep, stop, runDone, err := n.startReplica(ctx, r)
	if err != nil {
		return err
	}
	defer func() { stop(false) }() // the replica running last (a takeover may open another)
	r.setRole(RoleStandby, rep)

	fctx, stopFollow := context.WithCancel(ctx)
	followDone := make(chan struct{})
	var followErr error
	go func() {
		followErr = n.follow(fctx, r, rep)
		close(followDone)
	}()
	defer func() { stopFollow(); <-followDone }()
	// endFollow stops following and says why it stopped. With patience it waits that long at most: a follower
	// was seen to take 79 s to return with a NATS server down (the client's reading stuck in the library), while
	// this node held the lease it had just won and nobody served the region. Records it may still hand the
	// replica come in order, before the promotion (which replays after them) or refused after it.
	endFollow := func(patience time.Duration) error {
		stopFollow()
		var err error
		if patience <= 0 {
			<-followDone
			err = followErr
		} else {
			select {
			case <-followDone:
				err = followErr
			case <-time.After(patience):
				n.log.Warn().Str("region", r.name).Dur("waited", patience).Msg("node: the follower did not stop in time; taking over without it")
			}
		}
		r.mu.Lock()
		r.follower = nil
		r.mu.Unlock()
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}

	l, err := n.await(ctx, r, runDone, followDone)
	if l == nil {
		if e := endFollow(0); e != nil {
			err = fmt.Errorf("following: %w", e) // why following stopped, or failed on the way out
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	n.cfg.Observer.LeaseAcquired(r.name)
	r.mu.Lock()
	steps := takeover{holder: r.lastHolder, expiry: r.lastExpiry, free: r.wonFree, won: n.cfg.Now()}
	r.mu.Unlock()
	select {
	case <-r.release: // asked while this node did not own the region: stale (a drain asks again)
	default:
	}
	if err := endFollow(n.interval); err != nil {
		n.giveUp(r, l, "released")
		steps.log(n.log.Warn()).Str("region", r.name).Uint64("epoch", l.Epoch()).Err(err).Msg("node: takeover failed")
		return fmt.Errorf("following before the takeover: %w", err)
	}
	steps.followed, steps.from = n.cfg.Now(), rep.Position()
	r.setRole(RolePromoting, rep)
	jc := n.cfg.Journal
	jc.Region, jc.Owner, jc.Epoch = r.name, n.cfg.ID, l.Epoch()
	// A journal that fails (a record not acknowledged within its RetryFor, or fenced off) takes nothing more:
	// the region is given up, so that an owner with a journal that works takes it (this node or another).
	journalFailed, onFail, failOnce := make(chan struct{}), jc.OnFail, sync.Once{}
	jc.OnFail = func(err error) {
		if onFail != nil {
			onFail(err)
		}
		failOnce.Do(func() { close(journalFailed) })
	}
	pctx, cancelPromote := context.WithCancel(ctx)
	go func() {
		select {
		case <-l.Lost():
			cancelPromote()
		case <-pctx.Done():
		}
	}()
	j, err := jsjournal.Open(pctx, n.cfg.Conn, jc)
	if err == nil {
		steps.opened = n.cfg.Now()
		r.mu.Lock()
		r.journal = j
		r.mu.Unlock()
		err = rep.Promote(pctx, j)
	}
	if err != nil && errors.Is(err, journal.ErrBehindFloor) {
		// The standby is behind the stream's floor: the owner before checkpointed and truncated the stream past
		// what this node had followed. A replica opened from that newer checkpoint takes over instead, under the
		// same lease and in the journal already opened in its epoch, rather than giving the region back.
		n.log.Info().Str("region", r.name).Err(err).Msg("node: taking over from the newer checkpoint")
		stop(true)
		r.setRole(RoleOpening, nil)
		var oerr error
		if rep, stop, runDone, oerr = n.startReplica(ctx, r); oerr != nil {
			err = fmt.Errorf("%w; and from the newer checkpoint: %w", err, oerr)
			stop = func(bool) error { return nil }
		} else {
			r.setRole(RolePromoting, rep)
			err = rep.Promote(pctx, j)
		}
	}
	cancelPromote()
	if err != nil {
		runErr := stop(true)
		if j != nil {
			_ = j.Close()
		}
		n.giveUp(r, l, "released")
		steps.log(n.log.Warn()).Str("region", r.name).Uint64("epoch", l.Epoch()).Err(err).Msg("node: takeover failed")
		return fmt.Errorf("taking over (epoch %d): %w (the replica: %v)", l.Epoch(), err, runErr)
	}
	steps.promoted, steps.to = n.cfg.Now(), rep.Position()
	r.setRole(RoleOwner, rep)
	steps.serve = n.cfg.Now()
	n.heartbeatSoon()
	// At warn, the level production and the chaos run log at: a region changing hands is for the operator to see.
	steps.log(n.log.Warn()).Str("region", r.name).Uint64("epoch", l.Epoch()).Msg("node: took the region over")

	reason := "released"
	select {
	case <-l.Lost():
		// No write after the lease: the replica stops at once.
		r.setRole(RoleStopping, rep)
		stop(true)
		reason = lostReason(l.Err())
	case <-runDone:
		// The replica stopped on its own: it writes no more.
		r.setRole(RoleStopping, rep)
	case <-journalFailed:
		// Read-only from now on: it stops at once, and the lease goes to whoever opens the stream afresh.
		r.setRole(RoleStopping, rep)
		stop(true)
		n.log.Warn().Str("region", r.name).Uint64("epoch", l.Epoch()).AnErr("journal", j.Err()).
			Msg("node: the region's journal failed; giving the region up")
	case <-r.release:
		n.stopGracefully(r, rep, l, stop)
	case <-ctx.Done():
		n.stopGracefully(r, rep, l, stop)
	}
	runErr := stop(false) // stopped above; what its Run returned
	_ = j.Close()
	n.giveUp(r, l, reason)
	n.log.Info().Str("region", r.name).Uint64("epoch", l.Epoch()).Str("reason", reason).AnErr("replica", runErr).Msg("node: no longer serving the region")
	return nil
}

// startReplica opens region r's replica as a standby and runs it. stop ends it (abandon: at once, writing
// nothing more) and returns what its Run returned; runDone is closed when Run has returned.
func (n *Node) startReplica(ctx context.Context, r *region) (rep Replica, stop func(abandon bool) error, runDone chan struct{}, err error) {
	rep, err = n.cfg.Open(ctx, r.name)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the replica: %w", err)
	}
	// The replica's Run has a context of its own: the node stops it on purpose (gracefully, or Abandon), never by
	// the caller's context ending under it.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runDone = make(chan struct{})
	var runErr error
	go func() {
		runErr = rep.Run(runCtx)
		close(runDone)
	}()
	stop = func(abandon bool) error {
		if abandon {
			rep.Abandon()
		}
		stopRun()
		<-runDone
		return runErr
	}
	return rep, stop, runDone, nil
}

// stopGracefully stops an owner's replica to give the region away: the replica finishes what it took, unless the
// lease is lost meanwhile, which stops it at once.
func (n *Node) stopGracefully(r *region, rep Replica, l *lease.Lease, stop func(bool) error) {
	r.setRole(RoleStopping, rep)
	done := make(chan struct{})
	go func() {
		stop(false)
		close(done)
	}()
	select {
	case <-done:
	case <-l.Lost():
		rep.Abandon()
		<-done
	}
}

// giveUp ends this node's hold of r's lease after its replica stopped writing: Release (another node may take
// the region at once) unless the lease is already lost.
func (n *Node) giveUp(r *region, l *lease.Lease, reason string) {
	rctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaseTTL)
	defer cancel()
	if err := l.Release(rctx); err != nil {
		n.log.Warn().Err(err).Str("region", r.name).Msg("node: releasing the lease (it runs out by itself)")
	}
	r.mu.Lock()
	r.lease, r.journal = nil, nil
	r.mu.Unlock()
	n.cfg.Observer.LeaseLost(r.name, reason)
}

func lostReason(err error) string {
	switch {
	case errors.Is(err, lease.ErrExpired):
		return "expired"
	case errors.Is(err, lease.ErrTaken):
		return "taken"
	default:
		return "released"
	}
}

// await waits, as a standby, until it acquires r's lease (returned), ctx ends, the follower or the replica stops
// (nil and why).
func (n *Node) await(ctx context.Context, r *region, runDone, followDone <-chan struct{}) (*lease.Lease, error) {
	for {
		snap, changed := n.current()
		if n.wantsLease(r, snap) {
			l, err := n.leases.Acquire(ctx, r.name)
			switch {
			case err == nil:
				r.mu.Lock()
				r.lease, r.wonFree, r.freeSince = l, r.freeSince, time.Time{}
				r.mu.Unlock()
				return l, nil
			case errors.Is(err, lease.ErrHeld):
			case ctx.Err() != nil:
				return nil, ctx.Err()
			default:
				n.log.Warn().Err(err).Str("region", r.name).Msg("node: acquiring the lease")
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-runDone:
			return nil, errors.New("the standby stopped")
		case <-followDone:
			return nil, errors.New("following stopped")
		case <-changed:
		}
	}
}

// wantsLease says whether this node should try to take r's lease now, as the snapshot shows the cluster.
func (n *Node) wantsLease(r *region, snap *snapshot) bool {
	if snap.at.IsZero() {
		return false // nothing read yet
	}
	if holder, held := snap.owners[r.name]; held {
		r.mu.Lock()
		r.freeSince, r.lastHolder, r.lastExpiry = time.Time{}, holder, snap.expires[r.name]
		r.mu.Unlock()
		return false
	}
	r.mu.Lock()
	if r.freeSince.IsZero() {
		r.freeSince = snap.at
	}
	freeFor := snap.at.Sub(r.freeSince)
	r.mu.Unlock()
	n.mu.Lock()
	draining, giving := n.draining, n.giving
	n.mu.Unlock()
	if giving == r.name && freeFor < 2*n.cfg.LeaseTTL {
		return false // given away: another node's to take
	}
	if control := n.cfg.Regions[0]; r.name != control && !n.CaughtUp(control) && freeFor < 2*n.cfg.LeaseTTL {
		// Every region's API authenticates the control region's keys: an owner whose replica of it has not read
		// its stream yet would refuse keys made a moment ago. Another node takes the region, unless nobody
		// does (availability first).
		return false
	}
	return n.share.mayTake(snap, draining, freeFor, n.cfg.LeaseTTL/3, 2*n.cfg.LeaseTTL)
}

// follow feeds rep, a standby, with the region's stream from its position, until ctx ends or following fails (a
// gap: the replica must be opened again from a newer checkpoint). A stream that does not exist yet (a region never
// written) is waited for.
func (n *Node) follow(ctx context.Context, r *region, rep Replica) error {
	for {
		f, err := jsjournal.NewFollower(ctx, n.cfg.Conn, r.name, rep.Position())
		if err == nil {
			r.mu.Lock()
			r.follower = f
			r.caughtUp = r.caughtUp || f.CaughtUp()
			r.mu.Unlock()
			return f.Run(ctx, func(seq uint64, rec []byte) error { return rep.Follow(ctx, seq, rec) })
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) && rep.Position() == 0 {
			r.mu.Lock()
			r.caughtUp = true // never written: there is nothing to read
			r.mu.Unlock()
		} else if errors.Is(err, jetstream.ErrStreamNotFound) {
			// A replica that read records has a stream: "not found" is a server that does not know it yet (one
			// restarting), not an empty region. Not caught up: its API keys may be behind.
			n.log.Warn().Err(err).Str("region", r.name).Uint64("position", rep.Position()).Msg("node: following the region's stream")
		} else {
			n.log.Warn().Err(err).Str("region", r.name).Msg("node: following the region's stream")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(n.interval):
		}
	}
}

func (r *region) setRole(role string, rep Replica) {
	r.mu.Lock()
	r.role = role
	if rep != nil || role == RoleOpening {
		r.rep = rep
	}
	switch role {
	case RoleOpening:
		r.caughtUp = false // a fresh replica, from a checkpoint
	case RoleOwner:
		r.caughtUp = true // promoted: it replayed the stream to its end
	}
	r.mu.Unlock()
}

// CaughtUp says whether this node's replica of region has read the region's stream up to where it ended when the
// replica began following it (or owns the region): until then it may not know what was written before, and must
// not answer for it (an API key made a moment before a node restarted, a store registered after the checkpoint
// its replica opened from). Once caught up it stays so while the replica runs, following a little behind.
func (n *Node) CaughtUp(regionName string) bool {
	r, ok := n.regions[regionName]
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.caughtUp && r.rep != nil && r.follower != nil && r.follower.CaughtUp() {
		r.caughtUp = true
	}
	return r.caughtUp && r.rep != nil
}

// Ready says whether every region's replica on this node is open and caught up (CaughtUp); if not, lagging names
// the first that is not. A node answers GET /readyz with 200 only then.
func (n *Node) Ready() (lagging string, ready bool) {
	for _, region := range n.cfg.Regions {
		if !n.CaughtUp(region) {
			return region, false
		}
	}
	return "", true
}

// ReplicaState is a node's replica of a region, as its registry entry shows it.
type ReplicaState struct {
	// Role is opening, standby, promoting, owner or stopping.
	Role string `json:"role"`
	// Position is the last journal record the replica's state includes.
	Position uint64 `json:"position"`
	// Last and Durable are the owner's journal: the last record appended, the last a quorum stored.
	Last    uint64 `json:"last,omitempty"`
	Durable uint64 `json:"durable,omitempty"`
	// Epoch and Expires are the owner's lease: its epoch, and until when it is safe (by the owner's clock).
	Epoch   uint64     `json:"epoch,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
}

func (r *region) state() ReplicaState {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReplicaState{Role: r.role}
	if r.rep != nil {
		s.Position = r.rep.Position()
	}
	if r.follower != nil {
		// The follower passed takeover markers too, which the replica never sees: a standby that is level with
		// the owner is at the owner's last sequence number.
		s.Position = max(s.Position, r.follower.Position())
	}
	if r.journal != nil && r.role == RoleOwner {
		s.Last, s.Durable = r.journal.LastSeq(), r.journal.Durable()
	}
	if r.lease != nil {
		s.Epoch = r.lease.Epoch()
		until := r.lease.ValidUntil().UTC()
		s.Expires = &until
	}
	return s
}

// Local is region's replica on this node and whether this node owns (serves) it; nil before the replica opened.
func (n *Node) Local(regionName string) (rep Replica, owner bool) {
	r, ok := n.regions[regionName]
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Owned while the lease is safe: by its expiry as well as by Lost, which its renewer closes a moment after.
	owner = r.role == RoleOwner && r.lease != nil && n.cfg.Now().Before(r.lease.ValidUntil())
	if owner {
		select {
		case <-r.lease.Lost():
			owner = false
		default:
		}
	}
	return r.rep, owner
}

// Owner is the node that holds region's lease and the URL it answers at; ok is false when nobody holds it, or its
// holder is not in the registry. It answers from the last reading of the cluster, and when that names no owner
// that answers (a failover seen a moment ago, which may be over) it reads the lease and the registry afresh.
func (n *Node) Owner(regionName string) (id, url string, ok bool) {
	if _, owner := n.Local(regionName); owner {
		return n.cfg.ID, n.cfg.URL, true
	}
	snap, _ := n.current()
	if id, held := snap.owners[regionName]; held && id != n.cfg.ID {
		for _, m := range snap.members {
			if m.ID == id {
				return id, m.URL, true
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.interval)
	defer cancel()
	info, err := n.leases.Get(ctx, regionName)
	if err != nil || info.Owner == n.cfg.ID {
		// Nobody holds it, or this node does and no longer serves it: the lease is going.
		return "", "", false
	}
	m, listed, err := n.reg.get(ctx, info.Owner)
	if err != nil || !listed {
		return info.Owner, "", false
	}
	return info.Owner, m.URL, true
}

// LeaseTTL is the length of a lease.
func (n *Node) LeaseTTL() time.Duration { return n.cfg.LeaseTTL }

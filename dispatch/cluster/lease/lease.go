// Package lease decides which node owns a region: one key per region in a JetStream key-value bucket, taken by
// creating it, kept by updating it on its revision (compare-and-set), gone when its holder stops renewing it for
// the bucket's time to live.
//
// # Time
//
// The bucket's TTL (its stream's MaxAge) is the lease's length: every renewal writes a new revision, whose age the
// servers count from when they stored it, so a key not renewed for TTL disappears and another node's Acquire
// creates it. A per-key TTL (server 2.11 and later) is not used: the client sets one only on Create, not on the
// compare-and-set Update a renewal is, and every region's lease is the same length anyway.
//
// A holder cannot see the servers' clocks, so it counts from its own: a renewal sent at t (by the holder's clock,
// before sending) was stored no earlier than t, so no other node can hold the key before t+TTL. The holder treats
// the lease as safe until t+TTL-Margin (ValidUntil), and closes Lost then unless a later renewal succeeded:
// the owner stops writing before anyone else can take over. Each renewal writes t+TTL into the key (Expires);
// another node takes a key still there once its own clock passed that, by a compare-and-set on the revision it
// read, rather than wait for the servers to remove it (Acquire). Margin covers the drift between the holder's clock
// and the servers' over one TTL, and the time a write of the owner may still be in flight; the region's journal
// fences off any write that arrives later still (dispatch/cluster/jsjournal).
//
// # Epochs
//
// A lease's epoch is the revision of the Create (or of the compare-and-set) that took it: revisions of a bucket only grow, so each takeover
// of a region has a higher epoch than the last, whoever held it. The takeover marker a new owner writes to the
// region's journal carries it.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrHeld is what a *HeldError is (errors.Is): another node holds the region's lease.
var ErrHeld = errors.New("lease: held by another node")

// ErrNotHeld is Get's answer for a region whose lease nobody holds.
var ErrNotHeld = errors.New("lease: not held")

// Why a lease was lost (Lease.Err).
var (
	// ErrExpired: no renewal succeeded before ValidUntil (the servers unreachable, or too slow).
	ErrExpired = errors.New("lease: expired before a renewal succeeded")
	// ErrTaken: a renewal found the key changed by someone else (an operator deleted it, or the lease had
	// already run out on the servers and another node took it).
	ErrTaken = errors.New("lease: the key was changed by someone else")
	// ErrReleased: the holder released or stopped it.
	ErrReleased = errors.New("lease: released")
)

// HeldError is Acquire's refusal: Holder is who holds the lease.
type HeldError struct {
	Holder Info
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease: region %s is held by %s (epoch %d, until about %s)", e.Holder.Region, e.Holder.Owner,
		e.Holder.Epoch, e.Holder.Expires.Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Config sets up a node's view of the leases.
type Config struct {
	// Node names this node: the owner written in the leases it takes. Required.
	Node string
	// Bucket is the key-value bucket (default "dispatchd-leases"); Replicas its copies (default 3).
	Bucket   string
	Replicas int
	// TTL is the lease's length, the bucket's time to live (default 5 s). Every node must use the same: Open
	// refuses a bucket made with another.
	TTL time.Duration
	// Margin is how long before its expiry on the servers a holder takes its lease for lost (default TTL/5).
	Margin time.Duration
	// Renew is the time between renewals (default TTL/4). A failed renewal is tried again after RetryWait
	// (default Renew/5) until the lease is lost.
	Renew     time.Duration
	RetryWait time.Duration
	// Now and After are the clock (default time.Now and time.After): a lease's validity is counted with them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// OnRenew, when set, is called after each renewal with its region and outcome (nil: renewed), for metrics.
	// It must not block.
	OnRenew func(region string, err error)
}

func (c *Config) fill() error {
	if c.Node == "" {
		return errors.New("lease: Node: empty")
	}
	if c.Bucket == "" {
		c.Bucket = "dispatchd-leases"
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("lease: Replicas: %d is not between 1 and 5", c.Replicas)
	}
	if c.TTL == 0 {
		c.TTL = 5 * time.Second
	}
	if c.TTL < time.Second {
		// The servers count a message's age with a resolution of about a second.
		return fmt.Errorf("lease: TTL: %v is under a second", c.TTL)
	}
	if c.Margin == 0 {
		c.Margin = c.TTL / 5
	}
	if c.Margin <= 0 || c.Margin >= c.TTL/2 {
		return fmt.Errorf("lease: Margin: %v is not between 0 and half the TTL %v", c.Margin, c.TTL)
	}
	if c.Renew == 0 {
		c.Renew = c.TTL / 4
	}
	if c.Renew <= 0 || c.Renew >= c.TTL-c.Margin {
		return fmt.Errorf("lease: Renew: %v is not between 0 and TTL-Margin %v", c.Renew, c.TTL-c.Margin)
	}
	if c.RetryWait <= 0 {
		c.RetryWait = c.Renew / 5
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return nil
}

// Info is a lease as the bucket holds it.
type Info struct {
	Region string
	// Owner is the node holding it, Epoch the revision of the Create that took it, Revision the last renewal's.
	Owner    string
	Epoch    uint64
	Revision uint64
	// Expires is when the holder's last renewal said it runs out (by the holder's clock: for display).
	Expires time.Time
}

// value is what a lease's key holds (JSON).
type value struct {
	Owner string `json:"owner"`
	// Epoch is 0 in the Create that takes the lease: its epoch is that entry's revision.
	Epoch   uint64    `json:"epoch,omitempty"`
	Expires time.Time `json:"expires"`
}

func decode(region string, e jetstream.KeyValueEntry) (Info, error) {
	var v value
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return Info{}, fmt.Errorf("lease: region %s: revision %d: %w", region, e.Revision(), err)
	}
	if v.Epoch == 0 {
		v.Epoch = e.Revision()
	}
	return Info{Region: region, Owner: v.Owner, Epoch: v.Epoch, Revision: e.Revision(), Expires: v.Expires}, nil
}

// Leases is a node's handle on the bucket. Safe for concurrent use; it owns no goroutine (each Lease owns its
// renewer).
type Leases struct {
	cfg Config
	kv  jetstream.KeyValue
}

// Open binds the bucket, creating it when missing. The connection stays the caller's.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Leases, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.Bucket,
			Description: "dispatchd: who owns each region",
			History:     1,
			TTL:         cfg.TTL,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", cfg.Bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", cfg.Bucket, err)
	}
	if st.TTL() != cfg.TTL {
		return nil, fmt.Errorf("lease: TTL: %v, but bucket %s was made with %v", cfg.TTL, cfg.Bucket, st.TTL())
	}
	return &Leases{cfg: cfg, kv: kv}, nil
}

// Get is region's lease as the bucket holds it, or ErrNotHeld.
func (l *Leases) Get(ctx context.Context, region string) (Info, error) {
	e, err := l.kv.Get(ctx, region)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Info{}, ErrNotHeld
	}
	if err != nil {
		return Info{}, fmt.Errorf("lease: region %s: %w", region, err)
	}
	return decode(region, e)
}

// List is every lease held, by region.
func (l *Leases) List(ctx context.Context) ([]Info, error) {
	keys, err := l.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease: list: %w", err)
	}
	defer keys.Stop()
	var out []Info
	for k := range keys.Keys() {
		info, err := l.Get(ctx, k)
		if errors.Is(err, ErrNotHeld) {
			continue // expired or released meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// Acquire takes region's lease if nobody holds it, or if its holder let it run out (a *HeldError says who holds
// it), and starts renewing it. The lease is safe to act on until Lost is closed.
//
// A lease runs out when the bucket's TTL removes its key, or, sooner, once this node's clock passes the expiry its
// holder's last renewal wrote (Info.Expires): the key is then taken by a compare-and-set on the revision read, so
// a renewal that lands first keeps it with its holder. The holder stopped acting on it Margin before that expiry
// (ValidUntil), given clocks that drift less than Margin apart, the assumption the bucket's TTL rests on too; not
// waiting for the servers to expire the key saves the time they take to notice (up to a second seen under load).
func (l *Leases) Acquire(ctx context.Context, region string) (*Lease, error) {
	if region == "" {
		return nil, errors.New("lease: region: empty")
	}
	sent := l.cfg.Now()
	b, err := json.Marshal(value{Owner: l.cfg.Node, Expires: sent.Add(l.cfg.TTL).UTC()})
	if err != nil {
		return nil, err
	}
	rev, err := l.kv.Create(ctx, region, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = l.takeExpired(ctx, region, sent, b)
	}
	if err != nil {
		return nil, err
	}
	h := &Lease{l: l, region: region, epoch: rev, rev: rev, validUntil: sent.Add(l.cfg.TTL - l.cfg.Margin),
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go h.renew()
	return h, nil
}

// takeExpired takes region's lease, whose key exists, if its holder's expiry passed by the time the attempt was
// sent: a compare-and-set on the revision read. Otherwise, or if the holder renewed meanwhile, a *HeldError.
func (l *Leases) takeExpired(ctx context.Context, region string, sent time.Time, b []byte) (uint64, error) {
	e, err := l.kv.Get(ctx, region)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		// Expired or released between the two calls: the next attempt creates it.
		return 0, &HeldError{Holder: Info{Region: region, Owner: "?"}}
	}
	if err != nil {
		return 0, fmt.Errorf("lease: acquire %s: %w", region, err)
	}
	holder, err := decode(region, e)
	if err != nil {
		return 0, err
	}
	if holder.Expires.IsZero() || sent.Before(holder.Expires) {
		return 0, &HeldError{Holder: holder}
	}
	rev, err := l.kv.Update(ctx, region, b, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) ||
		errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, &HeldError{Holder: holder} // renewed, released or taken meanwhile
	}
	if err != nil {
		return 0, fmt.Errorf("lease: acquire %s (expired at %s): %w", region, holder.Expires.Format(time.RFC3339Nano), err)
	}
	return rev, nil
}

// Lease is a lease this node holds: a goroutine renews it until it is lost, released or stopped.
type Lease struct {
	l      *Leases
	region string
	epoch  uint64

	mu         sync.Mutex
	rev        uint64
	validUntil time.Time
	err        error

	lost     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// Region is the region the lease is for.
func (h *Lease) Region() string { return h.region }

// Epoch is the lease's epoch (see the package comment).
func (h *Lease) Epoch() uint64 { return h.epoch }

// ValidUntil is the end of the time the holder may act on the lease, by its clock, as of the last renewal.
func (h *Lease) ValidUntil() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.validUntil
}

// Revision is the key's revision as of the last renewal.
func (h *Lease) Revision() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

// Lost is closed when the lease may no longer be acted on: ValidUntil passed without a renewal, the key was
// taken, or the lease was released. The owner must stop writing the region then.
func (h *Lease) Lost() <-chan struct{} { return h.lost }

// Err says why the lease was lost (ErrExpired, ErrTaken or ErrReleased, wrapped), nil while it is held.
func (h *Lease) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *Lease) lose(err error) {
	h.mu.Lock()
	if h.err == nil {
		h.err = err
		close(h.lost)
	}
	h.mu.Unlock()
}

// renew updates the key on its revision every Renew, and retries every RetryWait after a failure, until the
// lease is lost or stopped.
func (h *Lease) renew() {
	defer close(h.done)
	cfg := h.l.cfg
	next := cfg.Renew
	for {
		until := h.ValidUntil().Sub(cfg.Now())
		if until <= 0 {
			h.lose(fmt.Errorf("lease: region %s: %w", h.region, ErrExpired))
			return
		}
		select {
		case <-h.stop:
			h.lose(fmt.Errorf("lease: region %s: %w", h.region, ErrReleased))
			return
		case <-cfg.After(min(next, until)):
		}
		if !cfg.Now().Before(h.ValidUntil()) {
			h.lose(fmt.Errorf("lease: region %s: %w", h.region, ErrExpired))
			return
		}
		sent := cfg.Now()
		b, err := json.Marshal(value{Owner: cfg.Node, Epoch: h.epoch, Expires: sent.Add(cfg.TTL).UTC()})
		if err != nil {
			h.lose(err)
			return
		}
		// The renewal may take no longer than the lease has left: its answer after that changes nothing.
		ctx, cancel := context.WithTimeout(context.Background(), h.ValidUntil().Sub(sent))
		rev, err := h.l.kv.Update(ctx, h.region, b, h.Revision())
		cancel()
		if cfg.OnRenew != nil {
			cfg.OnRenew(h.region, err)
		}
		switch {
		case err == nil:
			h.mu.Lock()
			h.rev = rev
			h.validUntil = sent.Add(cfg.TTL - cfg.Margin)
			h.mu.Unlock()
			next = cfg.Renew
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) ||
			errors.Is(err, jetstream.ErrKeyDeleted):
			h.lose(fmt.Errorf("lease: region %s: %w (%v)", h.region, ErrTaken, err))
			return
		default:
			next = cfg.RetryWait
		}
	}
}

// Stop stops renewing: the lease is lost at once for this holder (Lost is closed) and runs out on the servers
// after the TTL. Stop waits for the renewer to end.
func (h *Lease) Stop() {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}

// Release stops renewing and deletes the key if it is still this lease's revision, so that another node can take
// the region at once.
func (h *Lease) Release(ctx context.Context) error {
	h.Stop()
	if errors.Is(h.Err(), ErrTaken) {
		return nil
	}
	err := h.l.kv.Delete(ctx, h.region, jetstream.LastRevision(h.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("lease: release %s: %w", h.region, err)
	}
	return nil
}

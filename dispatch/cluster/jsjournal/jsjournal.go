// Package jsjournal keeps a region's record journal in a NATS JetStream stream: one stream per region, file
// storage, replicated (3 times in a 3-server cluster), with the contract of journal.Log, so that the daemon writes
// a region's records to it as it does to its local journal.
//
// # Appends
//
// Append numbers a record (the stream's sequence numbers are the journal's) and returns at once; a goroutine the
// journal owns publishes records in order without waiting for each acknowledgement (pipelined), and another takes
// the acknowledgements in order: a record is durable (Wait returns) once the stream's leader acknowledged it, which
// for a replicated stream means stored by a quorum of its servers. Run the servers with `sync_interval: always`
// (docs/cluster.md), or an acknowledged record is only in their page caches.
//
// # Fencing
//
// One writer per region is the rule (a lease says who: dispatch/cluster/lease), and the stream enforces it. Each
// writer publishes on a subject of its own, named after its lease's epoch, and the stream takes only the current
// writer's subject: a writer starts (Open) by updating the stream to its subject, then appends a takeover marker
// after whatever the stream holds. From then on whatever an earlier writer still sends, in flight or late, finds
// no stream to take it; its journal sees the stream's subject changed and fails for good with a *FencedError
// (errors.Is ErrFenced): the writer has lost the region. Every record also carries the sequence number of the
// record before it (Nats-Expected-Last-Sequence), which the stream's leader checks against what it stored and has
// in flight, so a writer's records are stored in order and without a gap, and the marker lands after every record
// the earlier writer got in.
//
// The stream's own check of the previous message's id (Nats-Expected-Last-Msg-Id) would fence at each record, but
// nats-server 2.15 applies it on every replica after the leader proposed the message, and a replicated stream
// that refuses a message there loses its leader and takes no more writes (docs/cluster.md); a per-subject check
// refuses a second message on a subject while one is in flight, which rules out pipelining. Hence the subject.
//
// A record whose acknowledgement is lost (a server dies, the connection drops) is sent again, with the same
// message id, until Config.RetryFor has passed: the stream's duplicate window makes the resend of a record it
// already stored answer with the record's sequence number instead of storing it twice, and a record sent after
// one that was lost is refused by the check of the record before it and sent again in its turn. A record still
// not acknowledged after RetryFor fails the journal (Err), as a failed commit fails the local journal.
//
// # Reading
//
// Replay reads the records in order (skipping takeover markers); a Follower does the same for a standby, from a
// position, as records arrive. Truncate purges what a checkpoint covers.
package jsjournal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// ErrFenced is what a *FencedError is (errors.Is): the stream refused a record because another writer appended
// since, so this writer no longer owns the region.
var ErrFenced = errors.New("jsjournal: fenced off by another writer")

// FencedError is the journal's failure (Err, and every Wait after it) once the stream refused one of its records
// because its last message was not the record before it: another writer took the region over.
type FencedError struct {
	Region string
	// Seq is the record refused.
	Seq uint64
	// Reason is the stream's answer.
	Reason string
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("jsjournal: region %s: record %d refused, another writer appended first (%s)", e.Region, e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// Headers a takeover marker carries; records carry none of them.
const (
	// KindHeader is "takeover" on a marker.
	KindHeader   = "Dispatchd-Kind"
	kindTakeover = "takeover"
)

// Marker is the content of a takeover marker (JSON).
type Marker struct {
	Owner string    `json:"owner"`
	Epoch uint64    `json:"epoch"`
	At    time.Time `json:"at"`
}

var regionRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckRegion says whether name can be a region: 1 to 64 letters, digits, '-' or '_' (it names a stream and a
// subject).
func CheckRegion(name string) error {
	if !regionRE.MatchString(name) {
		return fmt.Errorf("region %q: want 1 to 64 letters, digits, '-' or '_'", name)
	}
	return nil
}

// StreamName is the name of region's stream.
func StreamName(region string) string { return "dispatchd-journal-" + region }

// Subject is the subject the writer of region's journal in epoch publishes on; the stream takes only the current
// writer's.
func Subject(region string, epoch uint64) string {
	return "dispatchd.journal." + region + "." + strconv.FormatUint(epoch, 10)
}

// Config says which region's journal to open and how.
type Config struct {
	// Region names the region (CheckRegion).
	Region string
	// Replicas is how many servers keep the stream (default 3; 1 to 5). The stream is created with it, or
	// updated to it.
	Replicas int
	// Owner and Epoch name the writer: the node and the epoch of its lease, which must be above every earlier
	// writer's (lease epochs are). Epoch names the subject the writer publishes on.
	Owner string
	Epoch uint64
	// AckTimeout bounds the wait for one acknowledgement before the record is sent again (default 5 s).
	AckTimeout time.Duration
	// RetryFor is how long a record may go unacknowledged, across resends, before the journal fails (default
	// 10 s). Close waits at most about this long for what is in flight.
	RetryFor time.Duration
	// Duplicates is the stream's window for recognising a record sent again (default 2 min; at least RetryFor).
	Duplicates time.Duration
	// MaxInFlight bounds the records published and not yet acknowledged (default 4096).
	MaxInFlight int
	// Now is the clock for the takeover marker and OnSync's durations (default time.Now).
	Now func() time.Time
	// OnSync, when set, is called with each record's time from publish to acknowledgement (records is 1), for
	// metrics. It must not block.
	OnSync func(d time.Duration, records int)
	// OnDurable, when set, is called after each acknowledgement with the highest durable sequence number. It must
	// not block for long: the next acknowledgement waits for it.
	OnDurable func(seq uint64)
	// OnFail, when set, is called once when the journal fails (a *FencedError, or a record never acknowledged),
	// before any waiter hears of it.
	OnFail func(err error)
}

func (c *Config) fill() error {
	if err := CheckRegion(c.Region); err != nil {
		return fmt.Errorf("jsjournal: Region: %w", err)
	}
	if c.Epoch == 0 {
		return errors.New("jsjournal: Epoch: 0 (use the lease's epoch)")
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("jsjournal: Replicas: %d is not between 1 and 5", c.Replicas)
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 10 * time.Second
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.Duplicates < c.RetryFor {
		return fmt.Errorf("jsjournal: Duplicates: %v is shorter than RetryFor %v", c.Duplicates, c.RetryFor)
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4096
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// StreamConfig is the configuration of a region's stream as the writer of epoch wants it: its subject only, file
// storage, Replicas copies, nothing expires, no single message may be deleted (sequence numbers run on without a
// gap; Truncate purges from the front).
func StreamConfig(region string, epoch uint64, replicas int, duplicates time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName(region),
		Description: "dispatchd: the record journal of region " + region,
		Subjects:    []string{Subject(region, epoch)},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Duplicates:  duplicates,
		DenyDelete:  true,
		AllowDirect: true,
	}
}

type pending struct {
	seq  uint64
	msg  *nats.Msg
	fut  jetstream.PubAckFuture
	err  error // the publish itself failed: send again
	sent time.Time
}

// Journal is a region's journal on its stream, open for writing. Its methods are safe for concurrent use; Replay
// is meant for recovery, before the first Append.
type Journal struct {
	cfg     Config
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string
	// session prefixes the message ids of this writer's records: "<session>.<seq>", the marker "<session>.open".
	session string

	mu sync.Mutex
	// lastSeq is the last record appended.
	lastSeq uint64
	queue   []*pending
	closed  bool
	failed  error
	notify  chan struct{}
	// stopped says the sender and acker are gone (after Close).
	stopped bool

	durable atomic.Uint64
	wake    chan struct{}
	sent    chan *pending
	// abort ends resends at once (Close after RetryFor).
	abort      chan struct{}
	abortOnce  sync.Once
	senderDone chan struct{}
	ackerDone  chan struct{}
}

// Open makes sure region's stream exists with cfg's settings and takes this writer's subject only (which fences
// off earlier writers), appends a takeover marker after whatever it holds, and returns the journal positioned
// after the marker (LastSeq and Durable are the marker's sequence number). The connection stays the caller's;
// close the journal before it.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Journal, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("jsjournal: %w", err)
	}
	stream, err := ensureStream(ctx, js, StreamConfig(cfg.Region, cfg.Epoch, cfg.Replicas, cfg.Duplicates), cfg.Epoch, cfg.AckTimeout)
	if err != nil {
		return nil, fmt.Errorf("jsjournal: region %s: stream: %w", cfg.Region, err)
	}
	j := &Journal{cfg: cfg, js: js, stream: stream, subject: Subject(cfg.Region, cfg.Epoch), session: nuid.Next(),
		notify: make(chan struct{}), wake: make(chan struct{}, 1), sent: make(chan *pending, cfg.MaxInFlight),
		abort: make(chan struct{}), senderDone: make(chan struct{}), ackerDone: make(chan struct{})}
	seq, err := j.takeOver(ctx)
	if err != nil {
		return nil, err
	}
	j.lastSeq = seq
	j.durable.Store(seq)
	go j.sendLoop()
	go j.ackLoop()
	return j, nil
}

// takeOver appends the marker after the stream's last message, reading it again when another append got in
// between, and returns the marker's sequence number.
func (j *Journal) takeOver(ctx context.Context) (uint64, error) {
	body, err := json.Marshal(Marker{Owner: j.cfg.Owner, Epoch: j.cfg.Epoch, At: j.cfg.Now().UTC()})
	if err != nil {
		return 0, err
	}
	for {
		info, err := retry(ctx, j.cfg.AckTimeout, func(ctx context.Context) (*jetstream.StreamInfo, error) {
			return j.stream.Info(ctx)
		})
		if err != nil {
			return 0, fmt.Errorf("jsjournal: region %s: takeover: %w", j.cfg.Region, err)
		}
		last := info.State.LastSeq
		msg := nats.NewMsg(j.subject)
		msg.Data = body
		msg.Header.Set(KindHeader, kindTakeover)
		msg.Header.Set(jetstream.MsgIDHeader, j.session+".open")
		msg.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(last, 10))
		actx, cancel := context.WithTimeout(ctx, j.cfg.AckTimeout)
		ack, err := j.js.PublishMsg(actx, msg)
		cancel()
		switch {
		case err == nil:
			return ack.Sequence, nil
		case isWrongLast(err):
			// A write landed since Info (the writer being fenced off, still sending): read the end again.
		case ctx.Err() != nil:
			return 0, fmt.Errorf("jsjournal: region %s: takeover: %w", j.cfg.Region, ctx.Err())
		case isTransient(err):
			// Resent with the same message id: a marker that was stored answers as a duplicate.
		default:
			return 0, fmt.Errorf("jsjournal: region %s: takeover: %w", j.cfg.Region, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("jsjournal: region %s: takeover: %w", j.cfg.Region, ctx.Err())
		case <-time.After(retryWait):
		}
	}
}

// ensureStream returns the stream cfg names, created when it does not exist and updated when its subjects,
// replicas or duplicate window differ; it refuses (*StaleEpochError) to take the stream from a writer of a later
// epoch than epoch. A request that gets no answer (a meta leader election) is made again until ctx ends.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, epoch uint64, each time.Duration) (jetstream.Stream, error) {
	return retry(ctx, each, func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.Stream(ctx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return js.CreateStream(ctx, cfg)
		}
		if err != nil {
			return nil, err
		}
		have := st.CachedInfo().Config
		for _, subj := range have.Subjects {
			if e, ok := subjectEpoch(subj); ok && e > epoch {
				return nil, &StaleEpochError{Stream: cfg.Name, Epoch: epoch, Current: e}
			}
		}
		if !slices.Equal(have.Subjects, cfg.Subjects) || have.Replicas != cfg.Replicas || have.Duplicates != cfg.Duplicates {
			return js.UpdateStream(ctx, cfg)
		}
		return st, nil
	})
}

// StaleEpochError is Open's refusal when the stream already belongs to a writer of a later epoch: this writer's
// lease is older than the one that took the region since, so it must not fence that writer off.
type StaleEpochError struct {
	Stream         string
	Epoch, Current uint64
}

func (e *StaleEpochError) Error() string {
	return fmt.Sprintf("jsjournal: Epoch: %d is behind the writer of epoch %d that %s belongs to", e.Epoch, e.Current, e.Stream)
}

// subjectEpoch is the epoch a subject made by Subject names.
func subjectEpoch(subject string) (uint64, bool) {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 || !strings.HasPrefix(subject, "dispatchd.journal.") {
		return 0, false
	}
	e, err := strconv.ParseUint(subject[i+1:], 10, 64)
	return e, err == nil
}

// retry calls fn with a context that ends after each (or with ctx) until it succeeds, fails with an error that
// is not transient, or ctx ends.
func retry[T any](ctx context.Context, each time.Duration, fn func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, each)
		v, err := fn(actx)
		cancel()
		if err == nil || !isTransient(err) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(retryWait):
		}
	}
}

// replayMaxIdle is how long Replay waits for the next message before it gives up.
const replayMaxIdle = time.Minute

// retryWait is the pause before a record is sent again.
const retryWait = 50 * time.Millisecond

func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		return true
	}
	return false
}

// Codes of the server's answers that the client has no constants for: JSClusterNoPeersErrF ("no suitable peers for
// placement"), JSInsufficientResourcesErr, and JSStreamDuplicateMessageConflict ("duplicate message id is in
// process").
const (
	jsErrCodeClusterNoPeers        jetstream.ErrorCode = 10005
	jsErrCodeInsufficientResources jetstream.ErrorCode = 10023
	jsErrCodeDuplicateInProcess    jetstream.ErrorCode = 10158
)

// isTransient says whether a publish that failed with err may succeed when sent again: no answer in time, no
// server to answer, the connection between servers.
func isTransient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// The stream has no leader for the moment (an election), the server timed out on its peers, or the
		// meta leader has not yet heard from enough servers to place a stream (a cluster starting).
		// A resend whose first send the leader still has in flight is refused until that one is stored; sent again
		// then, it is answered as a duplicate with its sequence number.
		return apiErr.Code == 503 || apiErr.Code == 408 || apiErr.ErrorCode == jsErrCodeInsufficientResources ||
			apiErr.ErrorCode == jsErrCodeClusterNoPeers || apiErr.ErrorCode == jsErrCodeDuplicateInProcess
	}
	for _, t := range transientErrs {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

var transientErrs = []error{context.DeadlineExceeded, jetstream.ErrAsyncPublishTimeout, jetstream.ErrNoStreamResponse,
	nats.ErrNoResponders, nats.ErrTimeout, nats.ErrDisconnected, nats.ErrConnectionReconnecting,
	jetstream.ErrTooManyStalledMsgs}

func (j *Journal) msgID(seq uint64) string { return j.session + "." + strconv.FormatUint(seq, 10) }

// Append gives rec the next sequence number and queues it for publishing; Wait(seq) says when it is durable. The
// journal keeps rec; the caller must not change it afterwards.
func (j *Journal) Append(rec []byte) (uint64, error) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, journal.ErrClosed
	}
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return 0, err
	}
	j.lastSeq++
	seq := j.lastSeq
	msg := nats.NewMsg(j.subject)
	msg.Data = rec
	id := j.msgID(seq)
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(seq-1, 10))
	j.queue = append(j.queue, &pending{seq: seq, msg: msg})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return seq, nil
}

// sendLoop publishes queued records in order without waiting for their acknowledgements, and hands each to the
// acker, until the journal is closed (or failed) and the queue is empty.
func (j *Journal) sendLoop() {
	defer close(j.senderDone)
	defer close(j.sent)
	for {
		j.mu.Lock()
		for len(j.queue) == 0 && !j.closed && j.failed == nil {
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		batch := j.queue
		j.queue = nil
		stop := j.failed != nil || j.closed && len(batch) == 0
		j.mu.Unlock()
		if stop {
			return
		}
		for _, p := range batch {
			p.sent = j.cfg.Now()
			if j.Err() == nil {
				p.fut, p.err = j.js.PublishMsgAsync(p.msg)
			} else {
				p.err = j.Err()
			}
			j.sent <- p
		}
	}
}

// ackLoop takes the acknowledgements in the order of the records, sending a record again when its answer was lost
// or when it was refused because a record before it had not yet landed.
func (j *Journal) ackLoop() {
	defer close(j.ackerDone)
	for p := range j.sent {
		if j.Err() != nil {
			continue // drain: the journal failed, nothing after the failure is durable
		}
		err := j.settle(p)
		if err != nil {
			j.fail(err)
			continue
		}
		j.durable.Store(p.seq)
		if j.cfg.OnSync != nil {
			j.cfg.OnSync(j.cfg.Now().Sub(p.sent), 1)
		}
		if j.cfg.OnDurable != nil {
			j.cfg.OnDurable(p.seq)
		}
		j.mu.Lock()
		close(j.notify)
		j.notify = make(chan struct{})
		j.mu.Unlock()
	}
}

// settle returns nil once record p is stored at its sequence number, or why it cannot be. Every record before p is
// stored when it is called.
func (j *Journal) settle(p *pending) error {
	err := p.err
	if p.fut != nil {
		select {
		case ack := <-p.fut.Ok():
			return j.check(p, ack)
		case err = <-p.fut.Err():
		}
	}
	deadline := p.sent.Add(j.cfg.RetryFor)
	for {
		if err != nil && !isWrongLast(err) && !isTransient(err) {
			return fmt.Errorf("jsjournal: region %s: record %d: %w", j.cfg.Region, p.seq, err)
		}
		// Send it again, now that every record before it is stored: a record refused only because its
		// predecessor had not landed yet goes in now; one refused again was fenced off.
		ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
		ack, rerr := j.js.PublishMsg(ctx, p.msg)
		cancel()
		if rerr == nil {
			return j.check(p, ack)
		}
		if isWrongLast(rerr) {
			if j.stored(p) {
				return nil
			}
			return &FencedError{Region: j.cfg.Region, Seq: p.seq, Reason: rerr.Error()}
		}
		if isNoStream(rerr) {
			if subjects, ok := j.subjects(); ok && !slices.Contains(subjects, j.subject) {
				return &FencedError{Region: j.cfg.Region, Seq: p.seq,
					Reason: fmt.Sprintf("the stream takes %v, not %s", subjects, j.subject)}
			}
		}
		err = rerr
		if !isTransient(err) || !j.cfg.Now().Before(deadline) {
			return fmt.Errorf("jsjournal: region %s: record %d not acknowledged: %w", j.cfg.Region, p.seq, err)
		}
		select {
		case <-j.abort:
			return fmt.Errorf("jsjournal: region %s: record %d not acknowledged when the journal closed: %w", j.cfg.Region, p.seq, err)
		case <-time.After(retryWait):
		}
	}
}

// isNoStream says whether err is a publish that no stream took: the stream no longer takes the subject (another
// writer took over), or it has no leader for the moment.
func isNoStream(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// subjects is the stream's subjects as its leader says, ok false when it cannot be asked.
func (j *Journal) subjects() ([]string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
	defer cancel()
	info, err := j.stream.Info(ctx)
	if err != nil {
		return nil, false
	}
	return info.Config.Subjects, true
}

// check accepts an acknowledgement only at the record's own sequence number.
func (j *Journal) check(p *pending, ack *jetstream.PubAck) error {
	if ack.Sequence != p.seq {
		return fmt.Errorf("jsjournal: region %s: record %d stored as %d", j.cfg.Region, p.seq, ack.Sequence)
	}
	return nil
}

// stored says whether the stream holds p itself at p's sequence number (a resend refused because the first send
// landed after all, beyond the duplicate window).
func (j *Journal) stored(p *pending) bool {
	ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
	defer cancel()
	m, err := j.stream.GetMsg(ctx, p.seq)
	return err == nil && m.Header.Get(jetstream.MsgIDHeader) == p.msg.Header.Get(jetstream.MsgIDHeader)
}

func (j *Journal) fail(err error) {
	j.mu.Lock()
	first := j.failed == nil
	if first {
		j.failed = err
		j.queue = nil
	}
	j.mu.Unlock()
	if first && j.cfg.OnFail != nil {
		j.cfg.OnFail(err)
	}
	j.mu.Lock()
	close(j.notify)
	j.notify = make(chan struct{})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// LastSeq is the sequence number of the last record appended (durable or not), or of the takeover marker.
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastSeq
}

// Durable is the highest sequence number the stream acknowledged.
func (j *Journal) Durable() uint64 { return j.durable.Load() }

// Pending is how many appended records are not yet acknowledged.
func (j *Journal) Pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return int(j.lastSeq - j.durable.Load())
}

// Err is the journal's failure (a *FencedError, or a record never acknowledged), nil until then.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// Wait blocks until record seq is acknowledged (stored by a quorum of the stream's servers), the journal fails
// (its Err), it is closed with seq not acknowledged (journal.ErrClosed), or ctx ends.
func (j *Journal) Wait(ctx context.Context, seq uint64) error {
	for {
		if j.durable.Load() >= seq {
			return nil
		}
		j.mu.Lock()
		ch, failed, stopped := j.notify, j.failed, j.stopped
		j.mu.Unlock()
		if j.durable.Load() >= seq {
			return nil
		}
		if failed != nil {
			return failed
		}
		if stopped {
			return journal.ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Replay calls fn for every record above after, up to LastSeq, in order; takeover markers are not records and are
// skipped. It stops at fn's first error, and fails when the stream sends nothing for replayMaxIdle.
func (j *Journal) Replay(after uint64, fn func(seq uint64, rec []byte) error) error {
	last := j.LastSeq()
	if after >= last {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return read(ctx, j.stream, after, func(seq uint64, m jetstream.Msg) (bool, error) {
		if seq > last {
			return false, nil
		}
		if m.Headers().Get(KindHeader) == "" {
			if err := fn(seq, m.Data()); err != nil {
				return false, err
			}
		}
		return seq < last, nil
	}, readRestart, replayMaxIdle)
}

// Truncate purges the records up to seq, which a durable checkpoint covers. seq must be acknowledged (Wait for
// it first): a purge past the stream's end would move its numbering on under the records in flight.
func (j *Journal) Truncate(seq uint64) error {
	if d := j.durable.Load(); seq > d {
		return fmt.Errorf("jsjournal: region %s: truncate to %d: only %d is acknowledged", j.cfg.Region, seq, d)
	}
	if seq == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
	defer cancel()
	if err := j.stream.Purge(ctx, jetstream.WithPurgeSequence(seq+1)); err != nil {
		return fmt.Errorf("jsjournal: region %s: truncate to %d: %w", j.cfg.Region, seq, err)
	}
	return nil
}

// Floor is the highest sequence number purged from the stream (0 if none).
func (j *Journal) Floor() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
	defer cancel()
	info, err := j.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("jsjournal: region %s: floor: %w", j.cfg.Region, err)
	}
	return floorOf(info.State), nil
}

func floorOf(st jetstream.StreamState) uint64 {
	if st.FirstSeq == 0 {
		return 0
	}
	return st.FirstSeq - 1
}

// Skip moves the numbering on: the stream is purged up to seq (everything in it, then), so that the next record
// it stores is seq+1, which is also what the next Append returns. Nothing may be pending, and seq may not be below
// LastSeq.
func (j *Journal) Skip(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.queue) > 0 || seq < j.lastSeq || j.durable.Load() < j.lastSeq {
		return fmt.Errorf("jsjournal: region %s: skip to %d: records are pending or %d is behind the last record %d", j.cfg.Region, seq, seq, j.lastSeq)
	}
	if j.failed != nil {
		return j.failed
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.cfg.AckTimeout)
	defer cancel()
	if err := j.stream.Purge(ctx, jetstream.WithPurgeSequence(seq+1)); err != nil {
		return fmt.Errorf("jsjournal: region %s: skip to %d: %w", j.cfg.Region, seq, err)
	}
	j.lastSeq = seq
	j.durable.Store(seq)
	return nil
}

// Close publishes what is queued and waits for the acknowledgements (each record at most RetryFor), then stops
// the journal's goroutines. Appends after Close fail with journal.ErrClosed. It returns the journal's failure, if
// any.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		<-j.ackerDone
		return j.Err()
	}
	j.closed = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	timer := time.AfterFunc(j.cfg.RetryFor+j.cfg.AckTimeout, func() { j.abortOnce.Do(func() { close(j.abort) }) })
	<-j.senderDone
	<-j.ackerDone
	timer.Stop()
	j.mu.Lock()
	j.stopped = true
	close(j.notify)
	j.notify = make(chan struct{})
	failed := j.failed
	j.mu.Unlock()
	return failed
}

var _ journal.Log = (*Journal)(nil)

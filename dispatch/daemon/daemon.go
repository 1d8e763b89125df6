package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/eventlog"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/webhook"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Observer hears what the daemon does, for metrics. The daemon calls it from its loop and its journal's
// committer; implementations must be quick and safe for concurrent use. metrics.Metrics implements it.
type Observer interface {
	OrderPlaced()
	OrderDelivered(clickToDoor time.Duration, late bool)
	OrderFinished(status string)
	DispatchRound(d time.Duration, candidates, assigned int)
	JournalSync(d time.Duration, records int)
	Rejected(reason string)
	// WebhookDelivery counts an attempt to deliver an event: "ok", "failed" (to be retried) or "given_up".
	WebhookDelivery(result string)
}

type nopObserver struct{}

func (nopObserver) OrderPlaced()                          {}
func (nopObserver) OrderDelivered(time.Duration, bool)    {}
func (nopObserver) OrderFinished(string)                  {}
func (nopObserver) DispatchRound(time.Duration, int, int) {}
func (nopObserver) JournalSync(time.Duration, int)        {}
func (nopObserver) Rejected(string)                       {}
func (nopObserver) WebhookDelivery(string)                {}

// Config configures a daemon. DefaultConfig documents the defaults.
type Config struct {
	// DataDir holds the journal (journal/) and the checkpoint (checkpoint.json). It is created if missing.
	DataDir string
	// Region, when set, is the one region the daemon serves (a cluster runs one daemon per region): stores and
	// couriers of another region are refused (422 naming region), and so are orders that name another region;
	// stores and couriers registered without a region are put in it. Empty: any region (one engine holds them
	// all), and DefaultRegion for those registered without one.
	Region string
	// Engine is the dispatch policy.
	Engine dispatch.Config
	// Travel estimates travel times (default: straight line with the default detour and speeds).
	Travel geo.TravelModel
	// Fulfil tunes store choice and ready-time estimates (zero value: fulfil.DefaultConfig over Travel, with the
	// engine's bundle vehicle and half its pick-up and drop-off service as the handling time).
	Fulfil fulfil.Config
	// DispatchInterval is the time between dispatch rounds. Default 10 s.
	DispatchInterval time.Duration
	// QueueSize bounds the requests waiting for the loop; beyond it the API answers 503. Default 4096.
	QueueSize int
	// DefaultPromise is the promise of an order that gives neither promise_seconds nor deliver_by. Default 30 min.
	DefaultPromise time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered (the contract says at least 24 h). Default 24 h.
	IdempotencyTTL time.Duration
	// OrderRetention is how long a finished order stays readable. Default 24 h.
	OrderRetention time.Duration
	// CheckpointInterval and CheckpointRecords: a checkpoint of the whole state is written when either has passed
	// since the last one, so that the journal to replay after a crash stays short. Defaults 5 min and 50 000.
	CheckpointInterval time.Duration
	CheckpointRecords  int
	// FreshLocation: going on shift without a location uses the last reported position if it is at most this
	// old; otherwise the courier waits for its first report. Default 10 min.
	FreshLocation time.Duration
	// ETAChangeThreshold: order.eta_changed is sent when an order's planned drop-off moves by more than this from
	// what order services last heard (0: never). Default 2 min.
	ETAChangeThreshold time.Duration
	// EventRetention is how long order events stay in the event log (GET /v1/events resumes within it).
	// Default 72 h.
	EventRetention time.Duration
	// EventSegmentBytes is the size of the event log's files, the grain of its compaction (0: 64 MiB).
	EventSegmentBytes int64
	// Webhooks tunes webhook deliveries (zero values: the defaults of WebhookConfig).
	Webhooks WebhookConfig
	// ControlWebhooks, when set, is the cluster's control region's webhooks as this node's replica of it has them
	// (Daemon.Webhooks), and whether that replica has caught up; for every other region. The owner of this region
	// keeps its own webhooks the same (journaled, with where each starts in this region's events and how far it
	// was delivered), so that every region's events reach the webhooks registered in the control region.
	ControlWebhooks func() ([]*Webhook, bool)
	// Schedule tunes the scheduled book: orders placed hours ahead (zero values: the defaults of ScheduleConfig).
	Schedule ScheduleConfig
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the daemon's logs (default: none). A field that holds a time span says its unit: took_ms
	// (milliseconds, see Millis), or a duration written as a string ("10s").
	Logger zerolog.Logger
	// Observer hears events for metrics (default: none).
	Observer Observer
	// Salvage lets Open start on a damaged journal or event log that it would refuse: a bad frame with intact
	// records after it (which would be acknowledged records lost), or a floor file or event log that no longer
	// covers what the checkpoint says. It keeps what comes before the damage, moves the damaged segments aside
	// (journal/damaged-<time>/, not deleted) and logs, as errors, what was dropped. An operator's decision, for one
	// start (dispatchd --journal-salvage).
	Salvage bool
	// FailCommit is a test seam: see journal.Options.FailCommit.
	FailCommit func() error
	// WrapJournalFile is a test seam: see journal.Options.WrapFile (the record journal's segments).
	WrapJournalFile func(journal.File) journal.File
	// JournalSegmentBytes is a test seam: see journal.Options.SegmentBytes (zero: the journal's default). Every
	// open reads a segment's preallocated zeros, which the race detector makes slow at the default size.
	JournalSegmentBytes int64

	// Journal, when set, is the record journal (a region's replicated stream, dispatch/cluster/jsjournal) instead
	// of DataDir/journal; DataDir still holds the event log, the webhook cursors and the lock. Its sequence numbers
	// may have gaps (a stream's takeover markers take numbers that Replay skips). The daemon closes it when it
	// stops (or when Open fails). Salvage, FailCommit and WrapJournalFile concern the local journal only.
	Journal journal.Log
	// Checkpoints, when set, keeps the checkpoints instead of DataDir/checkpoint.json: Open loads Latest, and after
	// a Put the journal is truncated up to its seq.
	Checkpoints CheckpointStore
	// Standby opens the daemon as a warm standby of a region another node owns: it recovers from Checkpoints'
	// latest (Checkpoints is required, Journal must be nil), then applies the records the owner wrote as Follow
	// hands them. It takes no command (each fails with a *dispatch.Error of code dispatch.EUnavailable, "region <r>
	// is owned by another node"), delivers no webhook and writes no checkpoint; its views, event log and courier
	// streams work as an owner's. Promote makes it the owner.
	Standby bool
}

// CheckpointStore keeps a region's checkpoints (ckptstore.Store bound to a region is one). A store that also has a
// method Region() string names the region in the daemon's errors.
type CheckpointStore interface {
	// Put stores the checkpoint covering the journal up to seq, read from r to its end; it is Latest once Put
	// returned nil.
	Put(ctx context.Context, seq uint64, r io.Reader) error
	// Latest opens the newest checkpoint; ok is false (and r nil) when there is none.
	Latest(ctx context.Context) (seq uint64, r io.ReadCloser, ok bool, err error)
}

// DefaultConfig returns the documented defaults (with the engine's defaults).
func DefaultConfig() Config {
	return Config{
		Engine:             dispatch.DefaultConfig(),
		DispatchInterval:   10 * time.Second,
		QueueSize:          4096,
		DefaultPromise:     30 * time.Minute,
		IdempotencyTTL:     24 * time.Hour,
		OrderRetention:     24 * time.Hour,
		CheckpointInterval: 5 * time.Minute,
		CheckpointRecords:  50_000,
		FreshLocation:      10 * time.Minute,
		ETAChangeThreshold: 2 * time.Minute,
		EventRetention:     72 * time.Hour,
		Logger:             zerolog.Nop(),
	}
}

func (c *Config) validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("daemon: DataDir is required")
	case c.DispatchInterval <= 0:
		return errors.New("daemon: DispatchInterval must be positive")
	case c.QueueSize <= 0:
		return errors.New("daemon: QueueSize must be positive")
	case c.DefaultPromise <= 0:
		return errors.New("daemon: DefaultPromise must be positive")
	case c.IdempotencyTTL < 24*time.Hour:
		return errors.New("daemon: IdempotencyTTL must be at least 24h (the API promises it)")
	case c.OrderRetention <= 0 || c.CheckpointInterval <= 0 || c.CheckpointRecords <= 0:
		return errors.New("daemon: OrderRetention, CheckpointInterval and CheckpointRecords must be positive")
	case c.Region != "" && !dispatch.ValidRegion(c.Region):
		return fmt.Errorf("daemon: Region %q: want 1 to 64 letters, digits, '-' or '_'", c.Region)
	case c.Standby && c.Journal != nil:
		return errors.New("daemon: Journal: a standby has none (it follows; Promote hands it the journal)")
	case c.Standby && c.Checkpoints == nil:
		return errors.New("daemon: Checkpoints: a standby recovers from the region's checkpoints and needs them")
	}
	return c.Engine.Validate()
}

// ErrOverloaded is returned when the loop's queue is full: the client should retry shortly.
var ErrOverloaded = &dispatch.Error{Code: dispatch.EUnavailable, Message: "the dispatcher is overloaded; retry shortly"}

// ErrShutdown is returned once the daemon is stopping.
var ErrShutdown = &dispatch.Error{Code: dispatch.EUnavailable, Message: "the dispatcher is shutting down"}

// request is a command queued for the loop (see run).
type request struct {
	fn    func(now time.Time) (uint64, error)
	reply chan reply
}

// roundResult is what a round planned off the loop hands back.
type roundResult struct {
	decision *dispatch.Decision
	err      error
	took     time.Duration
}

type reply struct {
	seq uint64
	err error
}

// Daemon is dispatchd's core: one goroutine (Run) owns the engine and all state; the API reaches it through Do-style
// methods that queue a request and wait for the answer, and reads published snapshots (View) without entering it.
type Daemon struct {
	cfg   Config
	log   zerolog.Logger
	obs   Observer
	clock func() time.Time
	// jr is the record journal (jnl): the local one, a replicated one from Config.Journal, a standby's
	// followLog until Promote swaps in the owner's. Read from any goroutine, swapped only by the loop.
	jr      atomic.Pointer[logRef]
	queue   chan request
	streams *broker
	// legs draws routes on the road map when the travel model is one (nil otherwise).
	legs     *legs
	stopped  chan struct{}
	running  atomic.Bool
	busyBits atomic.Uint64 // float64 bits of the loop's busy ratio
	// longestStep is the longest single step of the loop (nanoseconds) in its last window: every request queued
	// behind a step waits for all of it.
	longestStep atomic.Int64

	view      atomic.Pointer[View]
	pubMu     sync.Mutex
	pending   []*View
	pubNotify chan struct{}
	// held are the replies to requests whose record is not yet in a published snapshot, in record order: they
	// are sent when it is (publishDurable), so that the caller wakes once, with its answer durable and readable,
	// rather than once for the loop's answer and again for the disk. Under pubMu.
	held []heldReply

	// Everything below belongs to the loop (and to Open, before the loop starts).
	eng *dispatch.Engine
	// net is the stores' stock, hours and picking queues (rounds never touch it).
	net       *fulfil.Network
	zones     map[string]*time.Location
	st        *state
	lastNow   time.Time
	replaying bool
	// following is set with replaying while a standby applies a record the owner wrote: courier streams are woken
	// as an owner's are.
	following bool
	sinceCkpt int
	// replayed is how many journal records Open applied after the checkpoint (set by recovery, then read only).
	replayed int
	lastCkpt time.Time
	// ckptPrev is, with Config.Checkpoints, the seq of the checkpoint loaded or written last: after the next one
	// is stored the journal is truncated up to it, not up to the new one (checkpoint.go).
	ckptPrev    uint64
	ckptWG      sync.WaitGroup
	ckptBusy    atomic.Bool
	stepChanged []string
	// kill stops the loop at once, with no checkpoint: tests use it to play a crash.
	kill chan struct{}
	// unlock releases the data directory.
	unlock func()

	// A dispatch round plans on its own goroutine, on a copy of the engine (dispatch.Planner), so that nothing
	// waits for it (a round over thousands of couriers takes a good part of a second); its decision comes back on
	// roundDone and is applied by the loop like any other change. planning says one is out (one at a time),
	// until the last piece of its decision is applied.
	planning  bool
	roundDone chan roundResult
	lastStats dispatch.Stats
	// pieces are what is left of the round's decision, applied one a step between the loop's other work
	// (dispatch.Decision.Split, pieceSize route parts each), so that no request waits behind the whole of a big
	// decision; roundTook is how long the round planned, for the observer once the last piece is in.
	pieces    []*dispatch.Decision
	pieceSize int
	roundTook time.Duration
	// Order events: noted while a record is applied, numbered when it is complete (see events.go), attached to the
	// next View and written to the event log when that View is published.
	pendingEvents []pendingEvent
	// actor is who made the record being applied (record.By; "" for the daemon's own), for timelines and events.
	actor      string
	etaTouched map[string]bool
	stepEvents []service.OrderEvent
	events     *eventlog.Log[service.OrderEvent]
	hooks      *webhook.Manager
	stopHooks  func()

	// beforeRound, when set, runs on the round's goroutine before it plans (tests hold a round open with it);
	// beforeExport likewise before a checkpoint's export of its copy of the engine.
	beforeRound, beforeExport func()
	// pings carries position reports that need no answer (QueueLocation): the loop takes them in batches, with no
	// reply channel and no goroutine waiting for each.
	pings chan locationRecord
	// positionsDue fires when positions taken without a snapshot since (positionsUnpublished) are to be
	// published (publishPositions), positionsDelay after the first of them (positionsPublishAfter; 0: at once);
	// the loop's.
	positionsDue         *time.Timer
	positionsUnpublished bool
	positionsDelay       time.Duration
	// pingBatches carries the batches of QueueLocations (a gateway relaying many couriers' positions at once).
	pingBatches chan []locationRecord
	// sched plans the scheduled book off the loop and tracks its releases (schedule.go).
	sched scheduler

	// The region's side (standby.go). standby says commands are refused (a warm standby); the loop clears it
	// when Promote is done.
	standby atomic.Bool
	// follows and promotes carry Follow's records and Promote's journal to the loop.
	follows  chan followRequest
	promotes chan promoteRequest
	// appendMu orders appends against Abandon: once abandoned is set under it, no append starts.
	appendMu  sync.Mutex
	abandoned atomic.Bool
	abandonCh chan struct{}
	abandon1  sync.Once
	// bg ends with the daemon (Abandon or shutdown): checkpoint uploads run under it.
	bg       context.Context
	bgCancel context.CancelFunc
	// watch publishes snapshots as a journal the daemon did not open (which has no callbacks into it) makes
	// records durable; nil for the local journal. Owned by the loop.
	watch *durWatch
}

// logRef holds the journal for an atomic pointer.
type logRef struct{ journal.Log }

// jnl is the record journal in use.
func (d *Daemon) jnl() journal.Log { return d.jr.Load().Log }

// Open opens the data directory, recovers the state (the last checkpoint, then the journal after it) and returns a
// daemon ready to Run.
func Open(cfg Config) (*Daemon, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Travel == nil {
		cfg.Travel = geo.NewStraightLine(geo.Geographic)
	}
	if cfg.Fulfil.Travel == nil {
		fc := fulfil.DefaultConfig(cfg.Travel)
		fc.Profile = cfg.Engine.BundleProfile
		fc.Handling = cfg.Engine.PickupService/2 + cfg.Engine.DropoffService/2
		cfg.Fulfil = fc
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	// A journal handed in is closed when Open fails, as when the daemon stops.
	closeGiven := func() {
		if cfg.Journal != nil {
			cfg.Journal.Close()
		}
	}
	if err := cfg.validate(); err != nil {
		closeGiven()
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		closeGiven()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		closeGiven()
		return nil, err
	}
	d := &Daemon{
		cfg:            cfg,
		log:            cfg.Logger,
		obs:            cfg.Observer,
		clock:          cfg.Now,
		queue:          make(chan request, cfg.QueueSize),
		streams:        newBroker(),
		legs:           newLegs(cfg.Travel),
		stopped:        make(chan struct{}),
		pubNotify:      make(chan struct{}),
		kill:           make(chan struct{}),
		unlock:         unlock,
		roundDone:      make(chan roundResult, 1),
		pieceSize:      decisionPiece,
		positionsDelay: positionsPublishAfter,
		pings:          make(chan locationRecord, max(cfg.QueueSize, 1024)),
		pingBatches:    make(chan []locationRecord, 256),
		sched:          newScheduler(),
		follows:        make(chan followRequest),
		promotes:       make(chan promoteRequest),
		abandonCh:      make(chan struct{}),
		stopHooks:      func() {},
	}
	d.bg, d.bgCancel = context.WithCancel(context.Background())
	var j journal.Log
	switch {
	case cfg.Standby:
		j = &followLog{}
		d.standby.Store(true)
	case cfg.Journal != nil:
		j = cfg.Journal
		if r, ok := j.(interface{ Recovery() journal.Recovery }); ok {
			logRecovery(d.log, "journal", r.Recovery(), "a crash during a commit tears it; none of its records was acknowledged")
		}
	default:
		lj, err := journal.Open(filepath.Join(cfg.DataDir, "journal"), journal.Options{
			Now:          cfg.Now,
			OnSync:       cfg.Observer.JournalSync,
			OnDurable:    d.onDurable,
			OnFail:       d.onJournalFailed,
			FailCommit:   cfg.FailCommit,
			WrapFile:     cfg.WrapJournalFile,
			Salvage:      cfg.Salvage,
			SegmentBytes: cfg.JournalSegmentBytes,
		})
		if err != nil {
			unlock()
			return nil, fmt.Errorf("daemon: record journal: %w", salvageable(err))
		}
		logRecovery(d.log, "journal", lj.Recovery(), "a crash during a commit tears it; none of its records was acknowledged")
		j = lj
	}
	d.jr.Store(&logRef{j})
	ev, err := openEventLog(filepath.Join(cfg.DataDir, "events"), cfg.EventSegmentBytes, d.log, cfg.Salvage)
	if err != nil {
		j.Close()
		unlock()
		return nil, err
	}
	d.events = ev
	if err := d.recover(); err != nil {
		j.Close()
		ev.Close()
		unlock()
		return nil, err
	}
	// The event log's ring and retention index are read from its files now that recovery, which wants every core,
	// is done (reads go to the disk until then).
	ev.BuildIndex()
	if d.lastCkpt.IsZero() {
		d.lastCkpt = d.clock()
	}
	d.hooks = webhook.New(hookConfig(d, cfg.Webhooks))
	v := d.buildView()
	d.view.Store(v)
	return d, nil
}

// Run is the event loop. It returns when ctx ends, after answering what was queued, writing a checkpoint and
// closing the journal (so a graceful stop leaves nothing to replay).
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("daemon: Run called twice")
	}
	defer close(d.stopped)
	defer d.bgCancel()
	// Webhook deliveries run beside the loop, reading the event log; they stop before it closes. A standby starts
	// them when it is promoted.
	defer func() { d.stopHooks() }()
	d.startWatch()
	defer d.stopWatch()
	if !d.standby.Load() {
		d.startServing()
	}
	tick := time.NewTicker(d.cfg.DispatchInterval)
	defer tick.Stop()
	ckpt := time.NewTicker(min(d.cfg.CheckpointInterval, time.Minute))
	defer ckpt.Stop()
	// Positions are published a little later, with whatever comes next (see positionsPublishAfter).
	d.positionsDue = time.NewTimer(time.Hour)
	d.positionsDue.Stop()
	defer d.positionsDue.Stop()
	var window struct {
		start   time.Time
		busy    time.Duration
		longest time.Duration
	}
	window.start = d.clock()
	// step starts one step of the loop: a trace region named for what it does (runtime/trace, free when no trace
	// is being taken), and, when it ends, its time in the busy ratio and the longest step of the window.
	step := func(kind string) func() {
		began := d.clock()
		region := trace.StartRegion(context.Background(), kind)
		return func() {
			region.End()
			end := d.clock()
			took := end.Sub(began)
			window.busy += took
			window.longest = max(window.longest, took)
			if span := end.Sub(window.start); span >= loopWindow {
				d.busyBits.Store(math.Float64bits(math.Min(1, window.busy.Seconds()/span.Seconds())))
				d.longestStep.Store(int64(window.longest))
				window.start, window.busy, window.longest = end, 0, 0
			}
		}
	}
	// requests is a step of requests: the first, and more as they come within the step's budget.
	requests := func(req request) {
		done := step("loop: requests")
		began := d.clock()
		d.handle(req)
	drain:
		for range 255 {
			if d.clock().Sub(began) >= stepBudget {
				break
			}
			select {
			case req := <-d.queue:
				d.handle(req)
			default:
				break drain
			}
		}
		d.publish()
		done()
	}
	// Requests have callers waiting for them; positions and a round's decision have not. So when requests wait,
	// a step of them comes first, every other step at least: the steps between take their turn through the select.
	requestsFirst := true
	for {
		if requestsFirst {
			select {
			case req := <-d.queue:
				requests(req)
				requestsFirst = false
				continue
			default:
			}
		}
		requestsFirst = true
		// A round's decision with pieces left is work ready at once, taken in turn with the rest (select
		// chooses at random among the ready cases).
		var piece <-chan struct{}
		if len(d.pieces) > 0 {
			piece = readyNow
		}
		select {
		case <-ctx.Done():
			return d.shutdown()
		case <-piece:
			done := step("loop: a piece of a round's decision")
			d.applyPiece()
			d.publish()
			done()
		case b := <-d.pingBatches:
			done := step("loop: position batch")
			now := d.now()
			for _, p := range b {
				d.takePing(now, p)
			}
			d.publishPositions()
			done()
		case p := <-d.pings:
			done := step("loop: positions")
			began, now := d.clock(), d.now()
			d.takePing(now, p)
		more:
			for range 1023 {
				if d.clock().Sub(began) >= stepBudget {
					break
				}
				select {
				case p := <-d.pings:
					d.takePing(now, p)
				default:
					break more
				}
			}
			d.publishPositions()
			done()
		case <-d.positionsDue.C:
			if d.positionsUnpublished {
				done := step("loop: positions published")
				d.publish()
				done()
			}
		case <-d.kill:
			if d.planning && len(d.pieces) == 0 {
				<-d.roundDone
			}
			d.sched.stop()
			return nil
		case <-d.abandonCh:
			return d.abandonLoop()
		case f := <-d.follows:
			done := step("loop: a followed record")
			f.reply <- d.follow(f)
			done()
		case p := <-d.promotes:
			done := step("loop: promotion")
			p.reply <- d.promote(p)
			done()
		case res := <-d.sched.done:
			done := step("loop: scheduled book")
			d.scheduleReturned(res)
			d.publish()
			done()
		case res := <-d.roundDone:
			done := step("loop: round's decision")
			d.roundReturned(res)
			d.publish()
			done()
		case req := <-d.queue:
			requests(req)
		case <-tick.C:
			done := step("loop: tick")
			d.tick()
			d.publish()
			done()
		case <-ckpt.C:
			done := step("loop: checkpoint timer")
			if d.journalCursors() {
				d.publish()
			}
			if err := d.events.Prune(d.clock().Add(-d.cfg.EventRetention)); err != nil {
				d.log.Error().Err(err).Msg("event log compaction")
			}
			if !d.standby.Load() && d.sinceCkpt > 0 && d.clock().Sub(d.lastCkpt) >= d.cfg.CheckpointInterval {
				d.checkpoint(false)
			}
			done()
		}
	}
}

func (d *Daemon) shutdown() error {
	// A round still planning is waited for and its decision applied, so that the last checkpoint holds it.
	if d.planning && len(d.pieces) == 0 {
		d.roundReturned(<-d.roundDone)
	}
	for len(d.pieces) > 0 {
		d.applyPiece()
	}
	d.sched.stop() // a plan of the book still running is dropped: the next start plans again
	for len(d.pings) > 0 {
		d.takePing(d.now(), <-d.pings)
	}
	for len(d.pingBatches) > 0 {
		for _, p := range <-d.pingBatches {
			d.takePing(d.now(), p)
		}
	}
	for {
		select {
		case req := <-d.queue:
			d.handle(req)
			continue
		default:
		}
		break
	}
	d.publish()
	var errs []error
	if d.jnl().Err() == nil && !d.standby.Load() {
		if err := d.checkpoint(true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.jnl().Close(); err != nil {
		errs = append(errs, err)
	}
	d.releaseAllHeld()
	d.stopWatch()
	d.stopHooks()
	if err := d.events.Close(); err != nil {
		errs = append(errs, err)
	}
	d.unlock()
	d.streams.closeAll()
	return errors.Join(errs...)
}

// Close releases a daemon that was opened but never run (Run closes everything itself when it returns).
func (d *Daemon) Close() error {
	if d.running.Load() {
		return errors.New("daemon: Close on a running daemon; cancel Run's context instead")
	}
	err := errors.Join(d.jnl().Close(), d.events.Close())
	d.bgCancel()
	d.unlock()
	return err
}

// Done is closed when Run has returned.
func (d *Daemon) Done() <-chan struct{} { return d.stopped }

// Ready reports whether the daemon serves: recovered, its loop running and its journal healthy.
func (d *Daemon) Ready() bool {
	select {
	case <-d.stopped:
		return false
	default:
	}
	return d.running.Load() && d.jnl().Err() == nil
}

// ReadOnly reports whether a failed journal commit has left the daemon read-only, until a restart.
func (d *Daemon) ReadOnly() bool { return d.jnl().Err() != nil }

// View returns the latest published snapshot: everything in it is durable.
func (d *Daemon) View() service.View { return d.view.Load() }

// loopWindow is the span over which the loop's busy ratio and longest step are measured.
const loopWindow = 5 * time.Second

// BusyRatio is the share of wall time the loop spent working over its last 5-second window.
func (d *Daemon) BusyRatio() float64 { return math.Float64frombits(d.busyBits.Load()) }

// LongestStep is the longest single step of the loop over its last 5-second window: one batch of requests, of
// positions, a round's decision, a tick. A request that arrives during a step waits for the rest of it.
func (d *Daemon) LongestStep() time.Duration { return time.Duration(d.longestStep.Load()) }

// QueueDepth and QueueCapacity describe the loop's request queue.
func (d *Daemon) QueueDepth() int    { return len(d.queue) }
func (d *Daemon) QueueCapacity() int { return cap(d.queue) }

// JournalPending is how many records wait for their sync.
func (d *Daemon) JournalPending() int { return d.jnl().Pending() }

func (d *Daemon) submit(ctx context.Context, req request) error {
	if d.standby.Load() {
		select {
		case <-d.stopped:
			return ErrShutdown
		default:
			return d.errStandby()
		}
	}
	return d.enqueue(ctx, req)
}

// enqueue is submit for any daemon, a standby too (tests reach the loop with it).
func (d *Daemon) enqueue(ctx context.Context, req request) error {
	select {
	case <-d.stopped:
		return ErrShutdown
	default:
	}
	select {
	case d.queue <- req:
	default:
		d.obs.Rejected("queue_full")
		return ErrOverloaded
	}
	r, err := d.awaitReply(ctx, req)
	if err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if r.seq > 0 {
		defer trace.StartRegion(ctx, "submit: durable and published").End()
		return d.waitVisible(ctx, r.seq)
	}
	return nil
}

// awaitReply waits for the loop's answer to a queued request (a trace region, to tell a wait for the loop from
// the wait for the disk that may follow).
func (d *Daemon) awaitReply(ctx context.Context, req request) (reply, error) {
	defer trace.StartRegion(ctx, "submit: queued until the loop answered").End()
	select {
	case r := <-req.reply:
		return r, nil
	case <-d.stopped:
		// The loop answers everything queued before it stops; a reply may still be there.
		select {
		case r := <-req.reply:
			return r, nil
		default:
			return reply{}, ErrShutdown
		}
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// handle runs a request on the loop and answers it.
func (d *Daemon) handle(req request) {
	if d.abandoned.Load() {
		req.reply <- reply{err: errAbandoned}
		return
	}
	var r reply
	func() {
		defer func() {
			if p := recover(); p != nil {
				d.log.Error().Interface("panic", p).Msg("request panicked in the loop")
				r = reply{err: &dispatch.Error{Code: dispatch.EInternal, Message: "internal error"}}
			}
		}()
		r.seq, r.err = req.fn(d.now())
	}()
	if r.err == nil && r.seq > 0 {
		d.replyWhenVisible(req.reply, r)
		return
	}
	req.reply <- r
}

// heldReply is a reply waiting for its record's snapshot (Daemon.held).
type heldReply struct {
	ch chan reply
	r  reply
}

// replyWhenVisible sends r once a snapshot holding record r.seq is published, or at once if one is, or if the
// journal failed (the caller's waitVisible then says what became of the record). On the loop.
func (d *Daemon) replyWhenVisible(ch chan reply, r reply) {
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	if d.view.Load().seq >= r.seq || d.jnl().Err() != nil {
		ch <- r
		return
	}
	d.held = append(d.held, heldReply{ch: ch, r: r})
}

// releaseHeld sends the held replies of records up to seq (all of them: ^uint64(0)). Callers hold pubMu.
func (d *Daemon) releaseHeld(seq uint64) {
	n := 0
	for n < len(d.held) && d.held[n].r.seq <= seq {
		d.held[n].ch <- d.held[n].r
		d.held[n] = heldReply{}
		n++
	}
	if n > 0 {
		d.held = append(d.held[:0], d.held[n:]...)
	}
}

// releaseAllHeld sends every held reply; their callers' waitVisible decides what each record became. When the
// loop ends: what is still held then will not be published by this loop.
func (d *Daemon) releaseAllHeld() {
	d.pubMu.Lock()
	d.releaseHeld(^uint64(0))
	d.pubMu.Unlock()
}

// now is the loop's clock: wall time, never going back (the engine refuses time that goes back, and a journal
// replayed after a clock step must still be in order).
func (d *Daemon) now() time.Time {
	t := d.clock().UTC()
	if t.Before(d.lastNow) {
		t = d.lastNow
	}
	d.lastNow = t
	return t
}

// waitVisible waits until the record seq is durable and a snapshot containing it is published.
func (d *Daemon) waitVisible(ctx context.Context, seq uint64) error {
	if err := d.jnl().Wait(ctx, seq); err != nil {
		if errors.Is(err, journal.ErrClosed) {
			return ErrShutdown
		}
		if ctx.Err() != nil {
			return err
		}
		d.log.Error().Err(err).Msg("journal failed")
		return &dispatch.Error{Code: dispatch.EUnavailable, Message: "the journal cannot write; not accepted"}
	}
	if d.view.Load().seq < seq {
		// Publish what is durable now rather than wait for whoever publishes it (the local journal's committer
		// does at once; for a journal handed in, the watcher would be one more goroutine to wake first).
		d.onDurable(d.jnl().Durable())
	}
	for {
		if d.view.Load().seq >= seq {
			return nil
		}
		d.pubMu.Lock()
		ch := d.pubNotify
		d.pubMu.Unlock()
		if d.view.Load().seq >= seq {
			return nil
		}
		if d.jnl().Err() != nil && seq <= d.jnl().Durable() {
			// The record is on disk, but the snapshot that holds it also holds later changes whose commit failed,
			// and no snapshot is published after a failed commit. The change stands (a restart shows it): say so
			// rather than keep the caller waiting for a snapshot that will never come.
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-d.stopped:
			if d.view.Load().seq >= seq {
				return nil
			}
			return ErrShutdown
		}
	}
}

// positionsPublishAfter is how long positions taken by the loop may wait for their snapshot. Nobody waits for a
// position to be published (QueueLocation answers at once), and a snapshot costs the loop a View and a copy of
// each shard, table and root it wrote since the last: with thousands of positions a second, one snapshot per
// batch of a few positions was most of what the loop allocated for them. Any other step publishes them with its
// own changes; with none, they are published after this.
const positionsPublishAfter = 10 * time.Millisecond

// publishPositions publishes what a step of positions changed within positionsPublishAfter.
func (d *Daemon) publishPositions() {
	if d.positionsDue == nil || d.positionsDelay <= 0 { // not in Run (recovery, tests), or asked for: at once
		d.publish()
		return
	}
	if !d.positionsUnpublished {
		d.positionsUnpublished = true
		d.positionsDue.Reset(d.positionsDelay)
	}
}

// publish makes a snapshot of the loop's state and publishes it as soon as every record it contains is durable.
func (d *Daemon) publish() {
	d.positionsUnpublished = false
	region := trace.StartRegion(context.Background(), "publish: build view")
	v := d.buildView()
	region.End()
	d.pubMu.Lock()
	d.pending = append(d.pending, v)
	d.publishDurable(d.jnl().Durable())
	d.pubMu.Unlock()
	if d.watch != nil {
		d.watch.want(v.seq)
	}
}

// onJournalFailed runs on the journal's committer when a commit fails: callers waiting for a snapshot are woken to
// see that none will come (waitVisible).
func (d *Daemon) onJournalFailed(error) {
	d.pubMu.Lock()
	d.releaseHeld(^uint64(0))
	close(d.pubNotify)
	d.pubNotify = make(chan struct{})
	d.pubMu.Unlock()
}

// onDurable runs on the journal's committer after each commit.
func (d *Daemon) onDurable(seq uint64) {
	d.pubMu.Lock()
	d.publishDurable(seq)
	d.pubMu.Unlock()
}

// publishDurable publishes the newest pending snapshot whose records are all durable. Callers hold pubMu.
func (d *Daemon) publishDurable(durable uint64) {
	k := -1
	for i, v := range d.pending {
		if v.seq <= durable {
			k = i
		}
	}
	if k < 0 {
		return
	}
	var changed []string
	for _, v := range d.pending[:k+1] {
		changed = append(changed, v.changed...)
		d.events.Add(v.events)
	}
	d.view.Store(d.pending[k])
	seq := d.pending[k].seq
	d.pending = append(d.pending[:0], d.pending[k+1:]...)
	close(d.pubNotify)
	d.pubNotify = make(chan struct{})
	d.streams.notify(changed)
	// Replies last: a caller answered finds the snapshot published and the streams of its couriers woken.
	d.releaseHeld(seq)
}

// record applies a new record and appends it to the journal, returning the result and its sequence number. Any
// positions not yet journaled go first, so that the journal replays in the order things happened.
func (d *Daemon) record(rec *record) (any, uint64, error) {
	if d.abandoned.Load() {
		return nil, 0, errAbandoned
	}
	if err := d.jnl().Err(); err != nil {
		return nil, 0, &dispatch.Error{Code: dispatch.EUnavailable, Message: "the journal cannot write; not accepted"}
	}
	res, err := d.apply(rec)
	if err != nil {
		return nil, 0, err
	}
	seq, err := d.appendRecord(rec)
	if err != nil {
		return nil, 0, err
	}
	return res, seq, nil
}

func (d *Daemon) appendRecord(rec *record) (uint64, error) {
	if rec.Type != recLocations {
		if _, err := d.flushLocations(); err != nil {
			return 0, err
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("daemon: encode %s record: %w", rec.Type, err)
	}
	seq, err := d.append(b)
	if err != nil {
		return 0, &dispatch.Error{Code: dispatch.EUnavailable, Message: "the journal cannot write; not accepted"}
	}
	d.sinceCkpt++
	return seq, nil
}

// flushLocations journals the positions taken since the last record (the latest per courier). The record is
// stamped with the time the last of them reached the engine, so that a replay leaves the engine's clock where the
// live daemon left it; positions carry their own times.
func (d *Daemon) flushLocations() (uint64, error) {
	if len(d.st.pendingLocs) == 0 {
		return 0, nil
	}
	rec := &record{Type: recLocations, At: d.st.pendingLocsAt, Locations: d.st.takeLocations()}
	return d.appendRecord(rec)
}

// tick starts a dispatch round when there is anything to dispatch, and forgets what is past retention. The round
// plans on its own goroutine, on a copy of the engine taken here; its decision is applied when it comes back
// (roundReturned). One round at a time: a tick while one plans is skipped.
func (d *Daemon) tick() {
	if d.standby.Load() {
		return // the owner plans; a standby applies its decisions as they come
	}
	d.scheduleTick()
	if d.planning {
		return
	}
	now := d.now()
	d.st.prune(now, d.cfg.IdempotencyTTL, d.cfg.OrderRetention)
	if d.st.openOrders() == 0 || d.jnl().Err() != nil {
		return
	}
	d.planning = true
	region := trace.StartRegion(context.Background(), "tick: the round's copy of the engine")
	p, began, hook := d.eng.Planner(), d.clock(), d.beforeRound
	region.End()
	// The round gives way to the requests (which wait for the loop) between pieces of its work: it is planned off
	// the loop precisely so that they do not wait for it, and would otherwise hold a processor for the scheduler's
	// time slice (10 ms) at a stretch.
	p.Yield(runtime.Gosched)
	go func() {
		if hook != nil {
			hook()
		}
		dec, err := p.Plan(now)
		d.roundDone <- roundResult{decision: dec, err: err, took: d.clock().Sub(began)}
	}()
}

// stepBudget bounds a batch of requests or of positions: the loop takes what is queued until the batch has taken
// this long (or holds 256 requests, 1 024 positions), then publishes. Every request of a batch waits for the
// batch's publication, and whatever comes meanwhile for the batch to end, so a burst (after the loop or the
// process lost the CPU for a while) is taken in steps of about this length rather than in one long one.
const stepBudget = 2 * time.Millisecond

// decisionPiece is how many route parts of a round's decision the loop applies in one step (about a millisecond
// of work); the loop serves what is queued between pieces.
const decisionPiece = 32

// readyNow is a closed channel: a select case on it is always ready.
var readyNow = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// roundReturned takes the decision of a round that planned off the loop and applies its first piece; the loop
// applies the others between its other work (applyPiece). What still holds of each piece is applied and
// journaled as a decision record of its own, so a replay applies the same pieces.
func (d *Daemon) roundReturned(res roundResult) {
	if res.err != nil {
		d.planning = false
		d.log.Error().Err(res.err).Msg("dispatch round failed")
		return
	}
	d.pieces, d.roundTook = res.decision.Split(d.pieceSize), res.took
	d.applyPiece()
}

// applyPiece applies the next piece of the round's decision, checked against the state now like a whole
// decision: what changed since the round planned (a request served between two pieces included) is dropped and
// waits for the next round. The round is over with its last piece.
func (d *Daemon) applyPiece() {
	p := d.pieces[0]
	d.pieces[0], d.pieces = nil, d.pieces[1:]
	region := trace.StartRegion(context.Background(), "decision: apply and journal a piece")
	if trace.IsEnabled() {
		trace.Logf(context.Background(), "decision piece", "%d route parts, %d moves, %d re-timed routes, %d unplaced notices, %d pieces left",
			len(p.Routes), len(p.Moves), len(p.Retimed), len(p.Unplaced), len(d.pieces))
	}
	_, _, err := d.record(&record{Type: recDecision, At: d.now(), Decision: newDecisionRecord(p)})
	region.End()
	if err != nil {
		// The journal failed (the daemon is read-only now): the rest of the decision is not applied either.
		d.log.Error().Err(err).Msg("dispatch round not applied")
		d.pieces, d.planning = nil, false
		return
	}
	if len(d.pieces) > 0 {
		return
	}
	d.planning = false
	d.obs.DispatchRound(d.roundTook, d.lastStats.Candidates, d.lastStats.Assigned)
	if d.sinceCkpt >= d.cfg.CheckpointRecords {
		d.checkpoint(false)
	}
}

// DispatchNow runs a dispatch round at once, planned on the loop (tests and operators; rounds otherwise run on the
// interval, planned off it).
func (d *Daemon) DispatchNow(ctx context.Context) error {
	_, err := run(ctx, d, dispatchNow{})
	return err
}

// dispatchNow plans a round on the loop and applies its decision.
type dispatchNow struct{}

func (dispatchNow) run(d *Daemon, now time.Time) (struct{}, uint64, error) {
	dec, err := d.eng.Planner().Plan(now)
	if err != nil {
		return struct{}{}, 0, err
	}
	_, seq, err := d.record(&record{Type: recDecision, At: now, Decision: newDecisionRecord(dec)})
	return struct{}{}, seq, err
}

// Millis is d in milliseconds with microsecond precision: the value of a log field named *_ms.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

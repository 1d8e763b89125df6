package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
)

const (
	// modeDrive runs a day in miniature against the daemon: order services placing orders at a constant rate,
	// couriers reporting positions at a constant total rate and working their routes.
	modeDrive = "drive"
	// modeCrash is the drive against a spawned daemon that is SIGKILLed at random moments and restarted on the
	// same data, followed by a check that nothing acknowledged was lost, duplicated or taken back.
	modeCrash = "crash"
)

// driveOptions are the flags of the drive and crash modes.
type driveOptions struct {
	locationRate   int
	locationBatch  int
	timeScale      float64
	prepSeconds    int
	promiseSeconds int
	cancelShare    float64
	drain          time.Duration
	kills          int
	graceful       int
	seed           uint64
}

// ebikeMPS is the speed of the load's couriers (all on e-bikes), the daemon's default for the profile.
const ebikeMPS = 5.0

// crashDispatchInterval is the spawned daemon's dispatch interval in the crash mode, unless --daemon-arg sets
// one: with a kill every few seconds, rounds must run between kills for orders to reach routes.
const crashDispatchInterval = "--dispatch-interval=1s"

// frozenDispatchInterval is the interval of the daemon restarted for the final check of the crash mode: no round
// runs while the orders and routes are read, so they must match exactly.
const frozenDispatchInterval = "--dispatch-interval=1h"

// drive is one run of the drive or crash mode.
type drive struct {
	cfg      *Config
	log      io.Writer
	d        *daemonProc // nil against --target
	api      *apiClient
	client   *simClient
	token    string
	fx       *fixture
	led      *ledger
	viol     *violations
	orders   *orderService
	fleet    *fleet
	couriers []*simCourier
	// positions records the location reports (per courier or batched).
	positions *recorder
	started   time.Time
	crash     *crashReport
}

// positionReport is the body of POST /v1/courier/location as the drive sends it.
type positionReport struct {
	Location location `json:"location"`
	At       string   `json:"at"`
}

// postPosition sends the seq-th position report: the next courier's own, or the next batch of them through the
// gateway endpoint.
func (dr *drive) postPosition(ctx context.Context, seq uint64) {
	now := time.Now()
	at := now.UTC().Format(time.RFC3339Nano)
	n := uint64(len(dr.couriers))
	if dr.cfg.drive.locationBatch == 0 {
		c := dr.couriers[seq%n]
		body, _ := json.Marshal(positionReport{Location: c.position(now), At: at})
		dr.client.send(ctx, dr.positions, http.MethodPost, "/v1/courier/location", c.token, nil, body)
		return
	}
	size := uint64(dr.cfg.drive.locationBatch)
	req := batchRequest{Locations: make([]batchEntry, size)}
	for k := range size {
		c := dr.couriers[(seq*size+k)%n]
		req.Locations[k] = batchEntry{CourierID: c.id, Location: c.position(now), At: at}
	}
	body, _ := json.Marshal(req)
	dr.client.send(ctx, dr.positions, http.MethodPost, "/v1/courier-locations", dr.token, nil, body)
}

// runDrive is the drive and crash modes, from starting the daemon to the report.
func runDrive(ctx context.Context, cfg *Config, stdout, stderr io.Writer) (err error) {
	o := cfg.drive
	rep := &driveReport{
		Mode: cfg.mode, Stores: cfg.stores, Couriers: cfg.couriers, OrderRate: cfg.rates[0], LocationRate: o.locationRate,
		LocationBatch: o.locationBatch, MaxConns: cfg.attack.maxConns, TimeScale: o.timeScale, PrepSeconds: o.prepSeconds, PromiseSeconds: o.promiseSeconds,
		CancelShare: o.cancelShare, LoadS: cfg.duration.Seconds(), DrainS: o.drain.Seconds(), P99LimitMS: ms(cfg.p99Limit),
		StartedAt: time.Now().UTC().Truncate(time.Second),
		Host:      hostInfo{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH},
	}
	dr := &drive{cfg: cfg, log: stderr, viol: &violations{}, led: newLedger(), token: cfg.adminToken}
	target := cfg.target
	if cfg.spawn != "" {
		args := cfg.daemonArgs
		if cfg.mode == modeCrash {
			args = append([]string{crashDispatchInterval}, args...)
		}
		fmt.Fprintf(stderr, "dispatchd-load: starting %s\n", cfg.spawn)
		dr.d, err = startDaemon(ctx, daemonOptions{bin: cfg.spawn, extra: args, keep: cfg.keepData,
			readyTimeout: cfg.readyTimeout, stderr: stderr})
		if err != nil {
			return err
		}
		defer func() {
			if serr := dr.d.stop(); serr != nil && rep.DaemonExit == "" {
				err = errors.Join(err, serr)
			}
		}()
		target, dr.token = dr.d.url, dr.d.token
		rep.Spawned, rep.DaemonArgs = true, args
		fmt.Fprintf(stderr, "dispatchd-load: daemon ready at %s (data dir %s)\n", dr.d.url, dr.d.dir)
	}
	rep.Target = target

	transport := newTransport()
	transport.MaxIdleConnsPerHost = cfg.attack.connections
	transport.MaxConnsPerHost = cfg.attack.maxConns
	// The couriers' streams stay open for the whole run, each on a connection of its own, as a phone's: they are
	// not counted in --max-conns.
	streams := newTransport()
	// Closed before the daemon is stopped: see newTransport.
	defer transport.CloseIdleConnections()
	defer streams.CloseIdleConnections()
	dr.api = &apiClient{base: target, http: &http.Client{Timeout: 30 * time.Second, Transport: transport}}
	dr.client = &simClient{base: target, http: &http.Client{Timeout: cfg.attack.timeout, Transport: transport}}
	if cfg.spawn == "" {
		if err := dr.api.ready(ctx); err != nil {
			return err
		}
	}
	setupStart := time.Now()
	if dr.fx, err = setup(ctx, dr.api, dr.token, cfg); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(stderr, "dispatchd-load: registered %d stores, %d couriers (online) and an order key in %s (run %s)\n",
		len(dr.fx.stores), len(dr.fx.couriers), time.Since(setupStart).Round(time.Millisecond), dr.fx.runID)
	if err := warmUp(ctx, transport, target, int(cfg.attack.workers)); err != nil {
		return fmt.Errorf("open connections: %w", err)
	}

	tgt := newOrderTargeter(target, dr.fx)
	tgt.prepSeconds, tgt.promiseSeconds = o.prepSeconds, o.promiseSeconds
	dr.orders = &orderService{client: dr.client, led: dr.led, orders: tgt, token: dr.fx.orderKey, cancelShare: o.cancelShare,
		viol: dr.viol, place: newRecorder("orders", nil), retry: newRecorder("order retries", nil),
		cancel: newRecorder("cancellations", func(c int) bool { return c == http.StatusConflict }),
		replay: newRecorder("order replays", nil)}
	dr.fleet = &fleet{client: dr.client, streams: &http.Client{Transport: streams}, led: dr.led, viol: dr.viol,
		actions: newRecorder("courier actions", courierStale), routes: newRecorder("route reads", nil),
		connects: newRecorder("stream connects", nil)}
	for _, c := range dr.fx.couriers {
		dr.couriers = append(dr.couriers, newSimCourier(c, ebikeMPS*o.timeScale))
	}
	dr.positions = newRecorder("positions", nil)
	if o.locationBatch > 0 {
		dr.positions.name = fmt.Sprintf("position batches (%d)", o.locationBatch)
	}

	runErr := dr.run(ctx, rep)
	if ctx.Err() != nil {
		rep.Interrupted, rep.Held, rep.NotHeld = true, false, nil
	}
	transport.CloseIdleConnections()
	streams.CloseIdleConnections()
	if dr.d != nil {
		if serr := dr.d.stop(); serr != nil {
			rep.DaemonExit = serr.Error()
			runErr = errors.Join(runErr, serr)
		} else {
			rep.DaemonExit = "stopped cleanly on SIGTERM"
		}
	}
	printDriveReport(stdout, rep)
	if cfg.jsonPath != "" {
		if jerr := writeJSON(cfg.jsonPath, rep); jerr != nil {
			runErr = errors.Join(runErr, jerr)
		}
	}
	if ctx.Err() != nil {
		return errors.Join(runErr, errors.New("interrupted; the figures above are partial"))
	}
	if runErr == nil && rep.Violations.total() > 0 {
		runErr = fmt.Errorf("%d violations: see the verdict above", rep.Violations.total())
	}
	if runErr == nil && rep.Ledger.InFlight+rep.Ledger.Retrying > 0 {
		runErr = fmt.Errorf("%d placements never got a final answer: the check is incomplete", rep.Ledger.InFlight+rep.Ledger.Retrying)
	}
	return runErr
}

// run drives the load, the drain and (crash mode) the kills, then checks and fills rep.
func (dr *drive) run(ctx context.Context, rep *driveReport) error {
	cfg, o := dr.cfg, dr.cfg.drive
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	courierCtx, stopCouriers := context.WithCancel(runCtx)
	defer stopCouriers()
	serviceCtx, stopService := context.WithCancel(runCtx)
	defer stopService()
	loadCtx, stopLoad := context.WithCancel(runCtx)
	defer stopLoad()

	dr.started = time.Now()
	dr.fleet.started = dr.started
	daemonPID := 0
	if dr.d != nil && cfg.mode == modeDrive {
		daemonPID = dr.d.proc().cmd.Process.Pid
	}
	var couriers sync.WaitGroup
	dr.fleet.connected.Add(len(dr.couriers))
	for _, c := range dr.couriers {
		couriers.Go(func() { dr.fleet.run(courierCtx, c) })
	}
	// The fleet comes online first, as it does before a day's orders flow: a thousand streams opening in the
	// same second as the first orders would measure a start-up, not the load. The measured load starts once
	// every courier's stream is open (or after a minute, whatever is online then).
	connected := make(chan struct{})
	go func() { dr.fleet.connected.Wait(); close(connected) }()
	select {
	case <-connected:
	case <-time.After(time.Minute):
		fmt.Fprintln(dr.log, "dispatchd-load: not every courier's stream opened within a minute; starting the load anyway")
	case <-ctx.Done():
	}
	rep.ConnectS = time.Since(dr.started).Seconds()
	fmt.Fprintf(dr.log, "dispatchd-load: %d couriers online (streams open) in %s\n", len(dr.couriers),
		time.Since(dr.started).Round(time.Millisecond))
	// Times in the report (kills, routes seen) stay counted from the start of the run; the load's own length and
	// the CPU figures from here.
	loadStart := time.Now()
	cpuStart := takeCPU(daemonPID)
	// The daemon's own view of the load (not in the crash mode: a restarted daemon counts from zero again).
	var watch *watchDaemon
	if cfg.mode == modeDrive {
		watch = startWatch(loadCtx, &wg, dr.api.http, metricsTarget(dr.api.base, rep.DaemonArgs), dr.token)
	}
	var service sync.WaitGroup
	service.Go(func() { dr.orders.runRetries(serviceCtx, 16) })
	service.Go(func() { dr.orders.runCancels(serviceCtx) })

	var orderPace, posPace paceStats
	var pacers sync.WaitGroup
	maxInFlight := int(cfg.attack.maxWorkers)
	pacers.Go(func() {
		orderPace = pace(loadCtx, float64(cfg.rates[0]), maxInFlight, func(seq uint64) { dr.orders.placeNew(runCtx, seq+1) })
	})
	if o.locationRate > 0 {
		rate := float64(o.locationRate) / float64(max(o.locationBatch, 1))
		pacers.Go(func() { posPace = pace(loadCtx, rate, maxInFlight, func(seq uint64) { dr.postPosition(runCtx, seq) }) })
	}
	wg.Go(func() { dr.progress(loadCtx) })
	fmt.Fprintf(dr.log, "dispatchd-load: %s: %d orders/s and %d positions/s (%s) for %s, couriers at %g× e-bike speed\n",
		cfg.mode, cfg.rates[0], o.locationRate, positionsHow(o.locationBatch), cfg.duration, o.timeScale)

	// The load runs for --duration and, in the crash mode, until the last kill and restart are done.
	var crashErr error
	killsDone := make(chan struct{})
	if cfg.mode == modeCrash {
		dr.crash = &crashReport{Seed: o.seed, KillsAsked: o.kills, GracefulAsked: o.graceful}
		fmt.Fprintf(dr.log, "dispatchd-load: crash: %d kills and %d graceful restarts, seed %d (--seed %d repeats the schedule)\n",
			o.kills, o.graceful, o.seed, o.seed)
		wg.Go(func() {
			defer close(killsDone)
			if crashErr = dr.runKills(loadCtx, cfg.duration); crashErr != nil {
				stopLoad()
			}
		})
	} else {
		close(killsDone)
	}
	sleep(loadCtx, cfg.duration)
	select {
	case <-killsDone:
	case <-ctx.Done():
	}
	loadTime := time.Since(loadStart)
	rep.CPU = cpuBetween(cpuStart, takeCPU(daemonPID))
	if watch != nil {
		rep.Daemon = watch.end(ctx)
	}
	stopLoad()
	pacers.Wait()
	fmt.Fprintf(dr.log, "dispatchd-load: load ended after %s; draining for %s (couriers finish, retries settle)\n",
		loadTime.Round(time.Millisecond), o.drain)
	sleep(ctx, o.drain)
	stopCouriers()
	couriers.Wait()
	dr.settle(ctx, 30*time.Second)
	stopService()
	service.Wait()
	// The figures are filled in whatever happens next, so that a failed or interrupted run reports what it
	// measured.
	defer dr.fill(rep, orderPace, posPace, loadTime)
	if crashErr != nil {
		return crashErr
	}
	if ctx.Err() != nil {
		return nil
	}

	if cfg.mode == modeCrash {
		// A graceful stop and a restart with no dispatch round due: the final state, read from what the daemon
		// recovered, must hold still while it is checked.
		fmt.Fprintln(dr.log, "dispatchd-load: final graceful stop and restart")
		if err := dr.d.terminate(); err != nil {
			dr.viol.add("graceful stop", "%v", err)
		}
		start := time.Now()
		if err := dr.d.restart(ctx, cfg.readyTimeout, frozenDispatchInterval); err != nil {
			return fmt.Errorf("restart for the final check: %w", err)
		}
		dr.crash.FinalRestartS = time.Since(start).Seconds()
	}
	return dr.finalCheck(ctx, rep)
}

// fill puts the figures of the run into rep: every class of request, the placements, the hand-overs, the
// replays, the violations and (drive mode) whether the load held.
func (dr *drive) fill(rep *driveReport, orderPace, posPace paceStats, loadTime time.Duration) {
	o := dr.cfg.drive
	placeStats := dr.orders.place.stats(orderPace.Elapsed)
	placeStats.Skipped = orderPace.Skipped
	posStats := dr.positions.stats(posPace.Elapsed)
	posStats.Skipped = posPace.Skipped
	rep.Classes = []classStats{placeStats, posStats, dr.fleet.actions.stats(loadTime), dr.fleet.routes.stats(loadTime),
		dr.fleet.connects.stats(loadTime), dr.orders.cancel.stats(loadTime), dr.orders.retry.stats(loadTime), dr.orders.replay.stats(loadTime)}
	rep.LoadS = loadTime.Seconds()
	if orderPace.Elapsed > 0 {
		rep.OrdersSentPerS = float64(orderPace.Fired) / orderPace.Elapsed.Seconds()
	}
	if posPace.Elapsed > 0 {
		rep.PositionsSentPerS = float64(posPace.Fired) * float64(max(o.locationBatch, 1)) / posPace.Elapsed.Seconds()
	}
	rep.Ledger = dr.led.counts()
	rep.PickedUp, rep.Delivered = dr.fleet.pickedUp.Load(), dr.fleet.delivered.Load()
	rep.DeliveredUnanswered = dr.fleet.deliveredUnanswered.Load()
	rep.Replays, rep.ReplaysSame = dr.orders.replayCounts()
	rep.Crash = dr.crash
	rep.Violations = dr.viol.report()
	if dr.cfg.mode == modeDrive {
		rep.Held, rep.NotHeld = held(rep, dr.cfg)
	}
}

// cpuUse is how busy the machine was during the load, in cores (CPU seconds a second), from /proc (Linux).
type cpuUse struct {
	LoadGenerator float64 `json:"load_generator_cores"`
	// Daemon is measured when the load spawned it (and did not kill it); otherwise it is part of Others.
	Daemon         float64 `json:"daemon_cores"`
	DaemonMeasured bool    `json:"daemon_measured"`
	// Others is every other process on the machine; Busy all of them together, out of Cores.
	Others float64 `json:"other_cores"`
	Busy   float64 `json:"busy_cores"`
	Cores  float64 `json:"cores"`
}

// cpuSample is the CPU time used so far by this process, the daemon (pid; 0: none) and the whole machine.
type cpuSample struct {
	at                        time.Time
	self, daemon, busy, total time.Duration
	selfOK, daemonOK, machOK  bool
}

func takeCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	s.self, s.selfOK = processCPU(os.Getpid())
	if pid > 0 {
		s.daemon, s.daemonOK = processCPU(pid)
	}
	s.busy, s.total, s.machOK = machineCPU()
	return s
}

// cpuBetween is the CPU use from a to b, or nil when /proc could not be read.
func cpuBetween(a, b cpuSample) *cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if !(a.selfOK && b.selfOK && a.machOK && b.machOK) || wall <= 0 {
		return nil
	}
	u := &cpuUse{LoadGenerator: (b.self - a.self).Seconds() / wall, Busy: (b.busy - a.busy).Seconds() / wall,
		Cores: (b.total - a.total).Seconds() / wall}
	if a.daemonOK && b.daemonOK {
		u.Daemon, u.DaemonMeasured = (b.daemon-a.daemon).Seconds()/wall, true
	}
	u.Others = max(u.Busy-u.LoadGenerator-u.Daemon, 0)
	return u
}

// settle waits, up to limit, until every placement has its final answer (the retry workers are still running).
func (dr *drive) settle(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c := dr.led.counts()
		if c.InFlight+c.Retrying == 0 {
			return
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return
		}
	}
}

// finalCheck reads every order of the run and every route, checks them against the ledger, replays a sample of
// the orders and works out the outcome.
func (dr *drive) finalCheck(ctx context.Context, rep *driveReport) error {
	frozen := dr.cfg.mode == modeCrash
	prefix := orderExternalPrefix(dr.fx.runID)
	acked := dr.led.snapshot()
	listed, err := listOrders(ctx, dr.api, dr.token, dr.started.Add(-time.Minute), prefix)
	if err != nil {
		return fmt.Errorf("final check: list the orders: %w", err)
	}
	routes, err := readRoutes(ctx, dr.api, dr.couriers)
	if err != nil {
		return fmt.Errorf("final check: read the routes: %w", err)
	}
	requested := map[string]bool{}
	dr.led.mu.Lock()
	for _, r := range dr.led.recs {
		requested[r.ext] = true
	}
	dr.led.mu.Unlock()
	rep.Check = checkOrders(checkInput{Acked: acked, Listed: listed, Requested: requested, Routes: routes, Frozen: frozen}, dr.viol)
	rep.CheckFrozen = frozen

	// Every placement that lost an answer (retried across a kill), and a sample of the others, placed once more
	// with its key and body: each must come back as the same order.
	sample := dr.led.replayCandidates(100, rand.New(rand.NewPCG(dr.cfg.drive.seed, 7)))
	dr.led.mu.Lock()
	for _, r := range dr.led.recs {
		if r.lostAnswers > 0 && r.state == reqAcked {
			sample = append(sample, r)
		}
	}
	dr.led.mu.Unlock()
	parallel(ctx, len(sample), func(ctx context.Context, i int) error {
		dr.orders.replayOne(ctx, sample[i])
		return nil
	})
	rep.Outcome = outcomeOf(listed, time.Now())
	return nil
}

// driveOutcome is how the dispatch went, from the daemon's own answers (GET /v1/orders at the end).
type driveOutcome struct {
	Listed int `json:"listed"`
	// Assigned and PickedUp count the orders that were ever assigned, picked up (their timelines).
	Assigned  int `json:"assigned"`
	PickedUp  int `json:"picked_up"`
	Delivered int `json:"delivered"`
	// Late counts the deliveries after deliver_by.
	Late      int `json:"late"`
	Cancelled int `json:"cancelled"`
	Failed    int `json:"failed"`
	// The orders still open, by status, and those of them the daemon flags late (planned or already past their
	// deliver_by).
	OpenPending  int `json:"open_pending"`
	OpenAssigned int `json:"open_assigned"`
	OpenPickedUp int `json:"open_picked_up"`
	OpenLate     int `json:"open_late"`
	// DeliveryP50S and DeliveryP90S are the times from creation to delivery, in seconds (real time).
	DeliveryP50S float64 `json:"delivery_p50_s"`
	DeliveryP90S float64 `json:"delivery_p90_s"`
}

func outcomeOf(listed []listedOrder, now time.Time) driveOutcome {
	out := driveOutcome{Listed: len(listed)}
	var took []time.Duration
	for _, o := range listed {
		for _, e := range o.Timeline {
			if e.Status == "assigned" {
				out.Assigned++
				break
			}
		}
		if o.Status == "picked_up" || o.Status == "delivered" || o.Status == "failed" {
			out.PickedUp++
		}
		switch o.Status {
		case "delivered":
			out.Delivered++
			if o.DeliveredAt != nil {
				took = append(took, o.DeliveredAt.Sub(o.CreatedAt))
				if o.DeliveredAt.After(o.DeliverBy) {
					out.Late++
				}
			}
		case "cancelled":
			out.Cancelled++
		case "failed":
			out.Failed++
		default:
			switch o.Status {
			case "pending":
				out.OpenPending++
			case "assigned":
				out.OpenAssigned++
			case "picked_up":
				out.OpenPickedUp++
			}
			if o.Late || now.After(o.DeliverBy) {
				out.OpenLate++
			}
		}
	}
	slices.Sort(took)
	out.DeliveryP50S, out.DeliveryP90S = quantile(took, 0.5).Seconds(), quantile(took, 0.9).Seconds()
	return out
}

// held says whether the daemon held the drive's load: every request of every class answered without error, the
// order intake's p99 under --p99-limit, and both rates sent in full (98 %); if not, why not.
func held(rep *driveReport, cfg *Config) (bool, []string) {
	var why []string
	for _, c := range rep.Classes {
		if c.Errors > 0 {
			why = append(why, fmt.Sprintf("%d errors in %s", c.Errors, c.Name))
		}
		if c.Skipped > 0 {
			why = append(why, fmt.Sprintf("%d %s not sent (all --max-workers in flight)", c.Skipped, c.Name))
		}
	}
	if p := rep.Classes[0].P99MS; !(p < ms(cfg.p99Limit)) {
		why = append(why, fmt.Sprintf("order intake p99 %s is not under %s", fmtMS(p), fmtMS(ms(cfg.p99Limit))))
	}
	if rep.OrdersSentPerS < sustainedShare*float64(rep.OrderRate) {
		why = append(why, fmt.Sprintf("orders sent at %.1f/s of %d/s", rep.OrdersSentPerS, rep.OrderRate))
	}
	if rep.PositionsSentPerS < sustainedShare*float64(rep.LocationRate) {
		why = append(why, fmt.Sprintf("positions sent at %.1f/s of %d/s", rep.PositionsSentPerS, rep.LocationRate))
	}
	return len(why) == 0, why
}

// progress logs a line every 10 s of load.
func (dr *drive) progress(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c := dr.led.counts()
			fmt.Fprintf(dr.log, "dispatchd-load:   +%s: %d orders asked, %d answered 201, %d retrying; %d picked up, %d delivered; %d violations\n",
				time.Since(dr.started).Round(time.Second), c.Requested, c.Acked, c.Retrying+c.InFlight,
				dr.fleet.pickedUp.Load(), dr.fleet.delivered.Load(), dr.viol.total())
		}
	}
}

func positionsHow(batch int) string {
	if batch == 0 {
		return "each courier its own POST /v1/courier/location"
	}
	return fmt.Sprintf("POST /v1/courier-locations, %d positions a request", batch)
}

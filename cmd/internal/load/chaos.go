package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// modeChaos runs a cluster (three nats-servers, three dispatchd nodes, several regions) under order load while it
// SIGKILLs region owners, kills a NATS server and cuts a node off from NATS, then checks what was acknowledged.
const modeChaos = "chaos"

// chaosOptions are the flags of the chaos mode.
type chaosOptions struct {
	natsServer string
	regions    []string
	leaseTTL   time.Duration
}

// chaosRun is one run of the chaos mode.
type chaosRun struct {
	cfg      *Config
	log      io.Writer
	c        *cluster
	led      *ledger
	viol     *violations
	fx       *fixture
	byRegion map[string]*orderTargeter
	services []*orderService // one per node: the load goes to every node
	couriers []*simCourier
	started  time.Time
	probeSeq uint64
	refusals refusalLog
}

// chaosEvent is a fault the run made or undid (a kill, a restart, a NATS server down or back, a cut), for placing
// the refusals beside them.
type chaosEvent struct {
	at   time.Time
	what string
}

// refusal is one answer above 399 an order service or a probe got through a node.
type refusal struct {
	At     time.Time `json:"at"`
	Node   string    `json:"node"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Code   int       `json:"code"`
	Body   string    `json:"body"`
	// Near is the run's last event at or before the refusal and how long before it came.
	Near string `json:"near"`
}

// refusalLog keeps every refusal and every event of a run. Refusals other than 503 (which a client retries) and
// 409 (a cancellation too late, part of the game) are printed as they come.
type refusalLog struct {
	mu       sync.Mutex
	log      io.Writer
	started  time.Time
	events   []chaosEvent
	refusals []refusal
}

// event notes a fault made or undone now.
func (l *refusalLog) event(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, chaosEvent{time.Now(), what})
}

// near says where at falls among the events (the caller holds mu).
func (l *refusalLog) near(at time.Time) string {
	for i := len(l.events) - 1; i >= 0; i-- {
		if e := l.events[i]; !e.at.After(at) {
			return fmt.Sprintf("%.2f s after %s", at.Sub(e.at).Seconds(), e.what)
		}
	}
	return "before any fault"
}

func (l *refusalLog) add(r refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Near = l.near(r.At)
	l.refusals = append(l.refusals, r)
	if r.Code != http.StatusServiceUnavailable && r.Code != http.StatusConflict && l.log != nil {
		fmt.Fprintf(l.log, "dispatchd-load:   refused at +%.3fs: %d %s %s through %s, %s: %s\n",
			r.At.Sub(l.started).Seconds(), r.Code, r.Method, r.Path, r.Node, r.Near, r.Body)
	}
}

// list is every refusal so far, in the order they came.
func (l *refusalLog) list() []refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.refusals)
}

// refusalTransport notes every answer above 399 that came through one node (with its body, which it passes on).
type refusalTransport struct {
	base http.RoundTripper
	node string
	log  *refusalLog
}

// maxRefusalBody is the most of a refusal's body kept.
const maxRefusalBody = 1 << 10

func (t *refusalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	body := strings.TrimSpace(string(b[:min(len(b), maxRefusalBody)]))
	if rerr != nil {
		body += fmt.Sprintf(" (body cut: %v)", rerr)
	}
	t.log.add(refusal{At: time.Now(), Node: t.node, Method: req.Method, Path: req.URL.Path, Code: resp.StatusCode, Body: body})
	return resp, nil
}

// failoverRecord is one SIGKILL of a region's owner.
type failoverRecord struct {
	Region   string
	Victim   string
	Failover time.Duration // from the kill to the region's first 201 again
	Restart  time.Duration // from the kill to the victim ready again
	// Steps are the nodes' step logs of the region's takeovers after the kill (the failed ones first).
	Steps []takeoverSteps
}

// runChaos is the chaos mode.
func runChaos(ctx context.Context, cfg *Config, stdout, stderr io.Writer) (err error) {
	o := cfg.drive
	fmt.Fprintf(stderr, "dispatchd-load: chaos seed %d\n", o.seed)
	cr := &chaosRun{cfg: cfg, log: stderr, led: newLedger(), viol: &violations{}}
	cr.refusals.log = stderr
	if cr.c, err = startCluster(ctx, cfg, stderr); err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	defer func() {
		keep := cfg.keepData || err != nil
		if serr := cr.c.stop(keep); serr != nil {
			err = errors.Join(err, serr)
		}
		if keep {
			fmt.Fprintf(stderr, "dispatchd-load: cluster data and logs kept in %s and the nodes' directories\n", cr.c.dir)
		}
	}()
	fmt.Fprintf(stderr, "dispatchd-load: cluster up: nodes %s, regions %s (dir %s)\n", nodeURLs(cr.c), strings.Join(cfg.chaos.regions, ","), cr.c.dir)
	if err := cr.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return cr.run(ctx, stdout)
}

func nodeURLs(c *cluster) string {
	var s []string
	for i, d := range c.nodes {
		s = append(s, c.ids[i]+"="+d.url)
	}
	return strings.Join(s, " ")
}

// setup registers, through node 1, the stores and couriers of every region (put online) and an order key; it
// makes one order service per node.
func (cr *chaosRun) setup(ctx context.Context) error {
	cfg := cr.cfg
	transport := newTransport()
	api := &apiClient{base: cr.c.nodes[0].url, http: &http.Client{Timeout: 30 * time.Second, Transport: transport}}
	cr.fx = &fixture{runID: randomHex(4), dropMinM: cfg.dropMinM, dropMaxM: cfg.dropMaxM}
	cr.byRegion = map[string]*orderTargeter{}
	type regionStore struct {
		storeRequest
		Region string `json:"region"`
	}
	type regionCourier struct {
		courierRequest
		Region string `json:"region"`
	}
	perStores := max(1, cfg.stores/len(cr.c.regions))
	perCouriers := max(1, cfg.couriers/len(cr.c.regions))
	for ri, region := range cr.c.regions {
		// Regions lie side by side, 30 km apart, so that a drop-off always falls in its store's region.
		center := offset(cfg.center, 0, float64(ri)*30000)
		stores := storeGrid(center, cfg.areaM, perStores)
		for i := range stores {
			stores[i].id = fmt.Sprintf("chaos-%s-store-%d", region, i)
		}
		err := parallel(ctx, len(stores), func(ctx context.Context, i int) error {
			s := stores[i]
			body := regionStore{storeRequest{Name: "Chaos " + s.id, Location: s.loc, PrepSeconds: 600}, region}
			return retryCall(ctx, func() error {
				return api.call(ctx, http.MethodPut, "/v1/stores/"+s.id, cr.c.token, body, nil, http.StatusOK, http.StatusCreated)
			})
		})
		if err != nil {
			return err
		}
		cr.fx.stores = append(cr.fx.stores, stores...)
		couriers := make([]courierSite, perCouriers)
		err = parallel(ctx, perCouriers, func(ctx context.Context, i int) error {
			c := &couriers[i]
			c.id = fmt.Sprintf("chaos-%s-courier-%d", region, i)
			c.loc = randomInSquare(center, cfg.areaM)
			var reg struct {
				Token string `json:"token"`
			}
			if err := retryCall(ctx, func() error {
				return api.call(ctx, http.MethodPut, "/v1/couriers/"+c.id+"?rotate_token=true", cr.c.token,
					regionCourier{courierRequest{Name: "Chaos " + c.id, Vehicle: "ebike", Capacity: 4}, region}, &reg, http.StatusOK, http.StatusCreated)
			}); err != nil {
				return err
			}
			c.token = reg.Token
			return retryCall(ctx, func() error {
				return api.call(ctx, http.MethodPost, "/v1/courier/shift", c.token, shiftRequest{Status: "online", Location: &c.loc}, nil, http.StatusOK)
			})
		})
		if err != nil {
			return err
		}
		cr.fx.couriers = append(cr.fx.couriers, couriers...)
		for _, c := range couriers {
			cr.couriers = append(cr.couriers, newSimCourier(c, ebikeMPS))
		}
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := retryCall(ctx, func() error {
		return api.call(ctx, http.MethodPost, "/v1/api-keys", cr.c.token, map[string]string{"name": "dispatchd-load chaos " + cr.fx.runID},
			&key, http.StatusCreated)
	}); err != nil {
		return err
	}
	cr.fx.orderKey = key.Key
	for _, region := range cr.c.regions {
		sub := *cr.fx
		sub.stores = nil
		for _, s := range cr.fx.stores {
			if strings.HasPrefix(s.id, "chaos-"+region+"-") {
				sub.stores = append(sub.stores, s)
			}
		}
		cr.byRegion[region] = newOrderTargeter("", &sub)
	}
	all := newOrderTargeter("", cr.fx)
	for i, d := range cr.c.nodes {
		client := &simClient{base: d.url, http: &http.Client{Timeout: cfg.attack.timeout,
			Transport: &refusalTransport{base: transport, node: cr.c.ids[i], log: &cr.refusals}}}
		cr.services = append(cr.services, &orderService{client: client, led: cr.led, orders: all, token: cr.fx.orderKey,
			cancelShare: cfg.drive.cancelShare, viol: cr.viol, place: newRecorder("orders", nil), retry: newRecorder("order retries", nil),
			cancel: newRecorder("cancellations", func(c int) bool { return c == http.StatusConflict }),
			replay: newRecorder("order replays", nil)})
	}
	fmt.Fprintf(cr.log, "dispatchd-load: registered %d stores and %d couriers over %d regions (run %s)\n",
		len(cr.fx.stores), len(cr.fx.couriers), len(cr.c.regions), cr.fx.runID)
	return nil
}

// retryCall retries a setup call for up to 30 s: a node may forward to a region whose owner is settling.
func retryCall(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// probe places one order in region through node via, with one Idempotency-Key, every 100 ms until it is
// answered 201 (or until timeout); it returns when the 201 came. The order is in the ledger, checked like any.
func (cr *chaosRun) probe(ctx context.Context, region string, via int, timeout time.Duration) (time.Time, bool) {
	cr.probeSeq++
	key, ext, body, err := cr.byRegion[region].order(1_000_000_000 + cr.probeSeq)
	if err != nil {
		cr.viol.add("generator", "encode a probe: %v", err)
		return time.Time{}, false
	}
	r := &orderRecord{key: key, ext: ext, body: body}
	cr.led.add(r)
	s := cr.services[via]
	deadline := time.Now().Add(timeout)
	for {
		cr.led.mu.Lock()
		r.state, r.attempts = reqSending, r.attempts+1
		cr.led.mu.Unlock()
		a := s.client.send(ctx, s.retry, http.MethodPost, "/v1/orders", s.token, http.Header{"Idempotency-Key": {key}}, body)
		now := time.Now()
		res, err := cr.led.settle(r, a, now)
		if err != nil {
			cr.viol.add("bad answer", "%v", err)
		}
		if res == outcomeAcked {
			return now, true
		}
		if res == outcomeRejected {
			// A valid order refused (a node not yet caught up with a region answers 401 or 422): a wrong
			// answer, counted, and the probe goes on with the same key until the region takes it.
			cr.viol.add("refused", "probe %s in %s through %s: %s", ext, region, cr.c.ids[via], a.problem)
		}
		if now.After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			// Left to the retry queue of its node, so that it gets a final answer before the check.
			s.retries.push(r)
			return now, false
		}
	}
}

// run puts the load on, makes the faults, stops the load and checks.
func (cr *chaosRun) run(ctx context.Context, stdout io.Writer) error {
	cfg, o := cr.cfg, cr.cfg.drive
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	loadCtx, stopLoad := context.WithCancel(runCtx)
	defer stopLoad()
	var wg sync.WaitGroup
	defer wg.Wait()
	cr.started = time.Now()
	cr.refusals.mu.Lock()
	cr.refusals.started = cr.started
	cr.refusals.mu.Unlock()
	for _, s := range cr.services {
		wg.Go(func() { s.runRetries(runCtx, 16) })
		wg.Go(func() { s.runCancels(runCtx) })
	}
	var pacer sync.WaitGroup
	pacer.Go(func() {
		pace(loadCtx, float64(cfg.rates[0]), int(cfg.attack.maxWorkers), func(seq uint64) {
			cr.services[seq%uint64(len(cr.services))].placeNew(runCtx, seq+1)
		})
	})
	sleep(ctx, 2*time.Second)

	rng := rand.New(rand.NewPCG(o.seed, 0x63686173))
	spread, faultErr := cr.loadSpread(ctx, rng)
	var fails []failoverRecord
	for k := range o.kills {
		if faultErr != nil {
			break
		}
		rec, err := cr.killOwner(ctx, rng, k)
		if err != nil {
			faultErr = err
			break
		}
		fails = append(fails, rec)
	}
	var natsFail []time.Duration
	var cutNote string
	if faultErr == nil && ctx.Err() == nil {
		natsFail, faultErr = cr.killNATS(ctx, rng)
	}
	if faultErr == nil && ctx.Err() == nil {
		cutNote, faultErr = cr.cutOff(ctx, rng)
	}
	sleep(ctx, 2*time.Second)
	stopLoad()
	pacer.Wait()

	// Every placement gets a final answer before the check (the retry queues run on).
	pending := func() int { lc := cr.led.counts(); return lc.InFlight + lc.Retrying }
	deadline := time.Now().Add(60 * time.Second)
	for ctx.Err() == nil && pending() > 0 && time.Now().Before(deadline) {
		sleep(ctx, 200*time.Millisecond)
	}
	unanswered := pending()
	if unanswered > 0 {
		cr.viol.add("unanswered", "%d placements had no final answer 60 s after the load", unanswered)
	}
	cancelRun()
	wg.Wait()

	res, err := cr.check(ctx)
	res.err = err
	faultErr = errors.Join(faultErr, err)
	cr.report(stdout, spread, fails, natsFail, cutNote, res)
	if faultErr != nil {
		return faultErr
	}
	if n := cr.viol.total(); n > 0 {
		return fmt.Errorf("%d violations: see above", n)
	}
	return nil
}

// spreadWindow is how long each window of the load-spread phase measures.
const spreadWindow = 10 * time.Second

// loadSpread measures, over spreadWindow, the orders each node's regions acknowledged and each node's CPU; then
// SIGKILLs a node drawn from rng, waits until its regions moved, measures again, and restarts it. It returns the
// report's lines.
func (cr *chaosRun) loadSpread(ctx context.Context, rng *rand.Rand) ([]string, error) {
	c := cr.c
	var lines []string
	measure := func(label string, skip int) error {
		own, err := c.waitSettledWithout(ctx, skip, time.Minute)
		if err != nil {
			return err
		}
		before := make([]cpuSample, len(c.nodes))
		for i, d := range c.nodes {
			if i != skip {
				before[i] = takeCPU(d.proc().cmd.Process.Pid)
			}
		}
		from := time.Now()
		if !sleep(ctx, spreadWindow) {
			return ctx.Err()
		}
		to := time.Now()
		perRegion := cr.ackedByRegion(from, to)
		line := fmt.Sprintf("load per node, %s (%s window):", label, spreadWindow)
		for i, d := range c.nodes {
			if i == skip {
				line += fmt.Sprintf(" %s dead;", c.ids[i])
				continue
			}
			var regions []string
			orders := 0
			for _, r := range c.regions {
				if own[r] == c.ids[i] {
					regions = append(regions, r)
					orders += perRegion[r]
				}
			}
			cpu := cpuBetween(before[i], takeCPU(d.proc().cmd.Process.Pid))
			core := "?"
			if cpu != nil && cpu.DaemonMeasured {
				core = fmt.Sprintf("%.2f", cpu.Daemon)
			}
			line += fmt.Sprintf(" %s owns %s: %.1f orders/s, %s cores;", c.ids[i], strings.Join(regions, "+"),
				float64(orders)/to.Sub(from).Seconds(), core)
		}
		lines = append(lines, strings.TrimSuffix(line, ";"))
		fmt.Fprintf(cr.log, "dispatchd-load:   %s\n", lines[len(lines)-1])
		return nil
	}
	if err := measure("all three up", -1); err != nil {
		return lines, err
	}
	victim := rng.IntN(len(c.nodes))
	cr.refusals.event("the load-spread kill of " + c.ids[victim])
	if err := c.nodes[victim].kill(); err != nil {
		return lines, err
	}
	if err := measure(c.ids[victim]+" killed", victim); err != nil {
		return lines, err
	}
	err := c.nodes[victim].restart(ctx, cr.cfg.readyTimeout)
	cr.refusals.event(c.ids[victim] + " ready again after the load-spread kill")
	return lines, err
}

// ackedByRegion counts the orders answered 201 between from and to, by region.
func (cr *chaosRun) ackedByRegion(from, to time.Time) map[string]int {
	out := map[string]int{}
	cr.led.mu.Lock()
	defer cr.led.mu.Unlock()
	for _, r := range cr.led.recs {
		if r.state == reqAcked && !r.ackedAt.Before(from) && r.ackedAt.Before(to) {
			out[regionOfBody(r.body)]++
		}
	}
	return out
}

// regionOfBody is the region of an order the chaos mode made, from its store's id (chaos-REGION-store-N).
func regionOfBody(body []byte) string {
	var o orderRequest
	if json.Unmarshal(body, &o) != nil {
		return ""
	}
	s, ok := strings.CutPrefix(o.StoreID, "chaos-")
	if i := strings.LastIndex(s, "-store-"); ok && i > 0 {
		return s[:i]
	}
	return ""
}

// killOwner SIGKILLs the owner of a region drawn from rng, measures until that region takes an order again
// through another node, restarts the victim and waits until every region is served again.
func (cr *chaosRun) killOwner(ctx context.Context, rng *rand.Rand, k int) (failoverRecord, error) {
	c := cr.c
	own, err := c.waitSettled(ctx, time.Minute)
	if err != nil {
		return failoverRecord{}, fmt.Errorf("before kill %d: %w", k+1, err)
	}
	region := c.regions[rng.IntN(len(c.regions))]
	victim := c.nodeIndex(own[region])
	if victim < 0 {
		return failoverRecord{}, fmt.Errorf("kill %d: region %s is owned by unknown node %q", k+1, region, own[region])
	}
	via := (victim + 1 + rng.IntN(len(c.nodes)-1)) % len(c.nodes)
	killAt := time.Now()
	cr.refusals.event(fmt.Sprintf("kill %d (%s, owner of %s)", k+1, c.ids[victim], region))
	if err := c.nodes[victim].kill(); err != nil {
		return failoverRecord{}, fmt.Errorf("kill %d: %w", k+1, err)
	}
	rec := failoverRecord{Region: region, Victim: c.ids[victim]}
	acceptedAt, ok := cr.probe(ctx, region, via, time.Minute)
	if !ok {
		if ctx.Err() != nil {
			return rec, ctx.Err()
		}
		cr.viol.add("failover", "kill %d: region %s took no order within a minute after %s died", k+1, region, rec.Victim)
	}
	rec.Failover = acceptedAt.Sub(killAt)
	rec.Steps = c.takeovers(region, killAt)
	cr.refusals.event(fmt.Sprintf("the restart of %s after kill %d", rec.Victim, k+1))
	if err := c.nodes[victim].restart(ctx, cr.cfg.readyTimeout); err != nil {
		return rec, fmt.Errorf("restart %s after kill %d: %w", rec.Victim, k+1, err)
	}
	cr.refusals.event(fmt.Sprintf("%s ready again after kill %d", rec.Victim, k+1))
	rec.Restart = time.Since(killAt)
	fmt.Fprintf(cr.log, "dispatchd-load:   kill %d/%d: %s (owner of %s) at +%.1fs: %s accepts orders again after %s (through %s); %s ready again after %s\n",
		k+1, cr.cfg.drive.kills, rec.Victim, region, killAt.Sub(cr.started).Seconds(), region,
		rec.Failover.Round(time.Millisecond), c.ids[via], rec.Victim, rec.Restart.Round(time.Millisecond))
	for _, s := range rec.Steps {
		fmt.Fprintf(cr.log, "dispatchd-load:     takeover of %s by %s; first 201 %+.2f\n", region, s.describe(killAt), rec.Failover.Seconds())
	}
	return rec, nil
}

// killNATS SIGKILLs one nats-server drawn from rng under load, checks that every region takes an order while
// it is down, and starts it again on its store.
func (cr *chaosRun) killNATS(ctx context.Context, rng *rand.Rand) ([]time.Duration, error) {
	c := cr.c
	victim := c.nats[rng.IntN(len(c.nats))]
	killAt := time.Now()
	cr.refusals.event(victim.name + " killed")
	victim.kill()
	fmt.Fprintf(cr.log, "dispatchd-load:   %s killed at +%.1fs\n", victim.name, killAt.Sub(cr.started).Seconds())
	var took []time.Duration
	for i, region := range c.regions {
		at, ok := cr.probe(ctx, region, i%len(c.nodes), time.Minute)
		if !ok {
			cr.viol.add("nats kill", "region %s took no order within a minute with %s down", region, victim.name)
			continue
		}
		took = append(took, at.Sub(killAt))
	}
	sleep(ctx, 2*cr.cfg.chaos.leaseTTL)
	cr.refusals.event(victim.name + " started again")
	if err := victim.start(); err != nil {
		return took, err
	}
	if err := victim.waitHealthy(ctx, time.Minute); err != nil {
		return took, err
	}
	fmt.Fprintf(cr.log, "dispatchd-load:   %s back after %s; every region took an order while it was down after at most %s\n",
		victim.name, time.Since(killAt).Round(time.Millisecond), slices.Max(append(took, 0)).Round(time.Millisecond))
	_, err := c.waitOwned(ctx, -1, time.Minute)
	return took, err
}

// cutOff cuts a node that owns a region off from NATS while it serves HTTP: orders for its regions sent to it
// must get no 201 while it is cut off, and its regions must move to the other nodes; then it is let back.
func (cr *chaosRun) cutOff(ctx context.Context, rng *rand.Rand) (string, error) {
	c := cr.c
	own, err := c.waitSettled(ctx, time.Minute)
	if err != nil {
		return "", err
	}
	var owners []int
	for i, id := range c.ids {
		for _, o := range own {
			if o == id {
				owners = append(owners, i)
				break
			}
		}
	}
	victim := owners[rng.IntN(len(owners))]
	var mine []string
	for _, r := range c.regions {
		if own[r] == c.ids[victim] {
			mine = append(mine, r)
		}
	}
	cutAt := time.Now()
	cr.refusals.event(c.ids[victim] + " cut off from NATS")
	for _, p := range c.proxies[victim] {
		p.setCut(true)
	}
	s := cr.services[victim]
	var refused, accepted int
	var moved time.Duration
	for time.Since(cutAt) < 4*cr.cfg.chaos.leaseTTL+5*time.Second && ctx.Err() == nil {
		for _, region := range mine {
			key, ext, body, err := cr.byRegion[region].order(2_000_000_000 + uint64(refused+accepted))
			if err != nil {
				return "", err
			}
			r := &orderRecord{key: key, ext: ext, body: body, attempts: 1}
			cr.led.add(r)
			a := s.client.send(ctx, s.retry, http.MethodPost, "/v1/orders", s.token, http.Header{"Idempotency-Key": {key}}, body)
			if res, _ := cr.led.settle(r, a, time.Now()); res == outcomeAcked {
				accepted++
				cr.viol.add("cut off", "%s, cut off from NATS, answered 201 for order %s in its region %s %s after the cut",
					c.ids[victim], ext, region, time.Since(cutAt).Round(time.Millisecond))
			} else {
				refused++
				if res == outcomeRetry {
					// Through another node, once the region moved; the retry queue of that node finishes it.
					cr.services[(victim+1)%len(cr.services)].retries.push(r)
				}
			}
		}
		if moved == 0 {
			if o, err := c.owners(ctx, (victim+1)%len(c.nodes)); err == nil {
				gone := true
				for _, r := range mine {
					gone = gone && o[r] != "" && o[r] != c.ids[victim]
				}
				if gone {
					moved = time.Since(cutAt)
				}
			}
		}
		sleep(ctx, 100*time.Millisecond)
	}
	if moved == 0 {
		cr.viol.add("cut off", "the regions %v of %s, cut off from NATS, did not move to another node", mine, c.ids[victim])
	}
	cr.refusals.event(c.ids[victim] + " let back to NATS")
	for _, p := range c.proxies[victim] {
		p.setCut(false)
	}
	note := fmt.Sprintf("%s (owner of %s) cut off from NATS for %s: %d orders sent to it for its regions refused, %d answered 201; its regions moved after %s",
		c.ids[victim], strings.Join(mine, ","), time.Since(cutAt).Round(time.Second), refused, accepted, moved.Round(time.Millisecond))
	fmt.Fprintf(cr.log, "dispatchd-load:   %s\n", note)
	_, err = c.waitOwned(ctx, -1, time.Minute)
	return note, err
}

// chaosCheck is what the final check looked at.
type chaosCheck struct {
	orders  checkResult
	events  map[string]int // region → events read
	fenced  map[string]int // region → records read from its stream
	err     error          // why the check did not finish, if it did not
	replays int
}

// check reads everything back through the API (and each region's stream from NATS) and checks it.
func (cr *chaosRun) check(ctx context.Context) (chaosCheck, error) {
	var out chaosCheck
	c := cr.c
	api := &apiClient{base: c.nodes[0].url, http: &http.Client{Timeout: 30 * time.Second}}
	acked := cr.led.snapshot()
	var listed []listedOrder
	for _, region := range c.regions {
		l, err := listOrdersIn(ctx, api, c.token, cr.started.Add(-time.Minute), orderExternalPrefix(cr.fx.runID), region)
		if err != nil {
			return out, fmt.Errorf("list the orders of %s: %w", region, err)
		}
		listed = append(listed, l...)
	}
	requested := map[string]bool{}
	cr.led.mu.Lock()
	for _, r := range cr.led.recs {
		requested[r.ext] = true
	}
	cr.led.mu.Unlock()
	routes, err := readRoutes(ctx, api, cr.couriers)
	if err != nil {
		return out, fmt.Errorf("read the routes: %w", err)
	}
	out.orders = checkOrders(checkInput{Acked: acked, Listed: listed, Requested: requested, Routes: routes}, cr.viol)
	// Every placement retried after a lost answer, and a sample of the others, placed again with its key.
	rng := rand.New(rand.NewPCG(cr.cfg.drive.seed, 0x7265706c))
	for i, r := range cr.led.replayCandidates(50, rng) {
		cr.services[i%len(cr.services)].replayOne(ctx, r)
		out.replays++
	}
	regionOf := map[string]string{}
	cr.led.mu.Lock()
	for _, r := range cr.led.recs {
		if r.state == reqAcked {
			regionOf[r.id] = regionOfBody(r.body)
		}
	}
	cr.led.mu.Unlock()
	out.events = map[string]int{}
	for i, region := range c.regions {
		n, err := cr.checkEvents(ctx, c.nodes[i%len(c.nodes)].url, region, acked, regionOf)
		if err != nil {
			cr.viol.add("events", "%s: %v", region, err)
		}
		out.events[region] = n
	}
	out.fenced, err = cr.checkStreams(ctx)
	return out, err
}

// checkEvents reads region's order events from the first through node url until it saw the creation of every
// order acknowledged in the region (or 30 s passed), and checks that the ids run on without a gap and that no
// order was created twice.
func (cr *chaosRun) checkEvents(ctx context.Context, url, region string, acked []ackedOrder, regionOf map[string]string) (int, error) {
	want := map[string]bool{}
	for _, a := range acked {
		if regionOf[a.ID] == region {
			want[a.ID] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/events?region="+region, nil)
	req.Header.Set("Authorization", "Bearer "+cr.c.token)
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, fmt.Errorf("GET /v1/events: %s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	created := map[string]int{}
	var last uint64
	n := 0
	for len(created) < len(want) && sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var ev service.OrderEvent
		if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &ev); err != nil || ev.ID == 0 {
			continue
		}
		n++
		if last != 0 && ev.ID != last+1 {
			cr.viol.add("events", "%s: event id %d after %d", region, ev.ID, last)
		}
		last = ev.ID
		if ev.Type == service.EventCreated && strings.HasPrefix(ev.Order.ExternalID, orderExternalPrefix(cr.fx.runID)) {
			created[ev.Order.ID]++
			if created[ev.Order.ID] > 1 {
				cr.viol.add("events", "%s: order %s created twice", region, ev.Order.ID)
			}
		}
	}
	for id := range want {
		if created[id] == 0 {
			cr.viol.add("events", "%s: no order.created for order %s (answered 201) among %d events", region, id, n)
			break
		}
	}
	return n, nil
}

// checkStreams reads each region's journal stream from NATS and checks the fence: the writers' epochs (the last
// token of each record's subject) never go back, so nothing an old owner sent landed after a takeover.
func (cr *chaosRun) checkStreams(ctx context.Context) (map[string]int, error) {
	var urls []string
	for _, s := range cr.c.nats {
		urls = append(urls, "nats://"+s.client)
	}
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS for the stream check: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, region := range cr.c.regions {
		// A read may meet the stream between leaders (a nats-server was killed and restarted during the run):
		// "no responders" or a timeout. The region is read again from its start, up to five times.
		var n int
		var fence []string
		for attempt := 1; ; attempt++ {
			n, fence, err = readFence(ctx, js, region)
			if err == nil || attempt == 5 || ctx.Err() != nil {
				break
			}
			sleep(ctx, time.Second)
		}
		if err != nil {
			return out, err
		}
		out[region] = n
		for _, f := range fence {
			cr.viol.add("fence", "%s", f)
		}
	}
	return out, nil
}

// readFence reads region's journal stream whole and returns how many records it read and every record whose
// writer's epoch (the last token of its subject) is below an earlier record's.
func readFence(ctx context.Context, js jetstream.JetStream, region string) (int, []string, error) {
	st, err := js.Stream(ctx, jsjournal.StreamName(region))
	if err != nil {
		return 0, nil, fmt.Errorf("stream of %s: %w", region, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("stream of %s: %w", region, err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, nil, fmt.Errorf("stream of %s: %w", region, err)
	}
	var fence []string
	var epoch uint64
	read := 0
	last := info.State.LastSeq
	for n := info.State.FirstSeq; n <= last && last > 0; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return read, nil, fmt.Errorf("stream of %s at %d: %w", region, n, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return read, nil, err
			}
			n = md.Sequence.Stream + 1
			read++
			e, _ := strconv.ParseUint(m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:], 10, 64)
			if e < epoch {
				fence = append(fence, fmt.Sprintf("%s: record %d on %s (epoch %d) after a record of epoch %d", region, md.Sequence.Stream, m.Subject(), e, epoch))
			}
			epoch = max(epoch, e)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return read, nil, fmt.Errorf("stream of %s at %d: %w", region, n, err)
		}
		if got == 0 {
			return read, nil, fmt.Errorf("stream of %s: no record read at %d of %d", region, n, last)
		}
	}
	return read, fence, nil
}

// quoted matches the names quoted in an error, which the report's tally of refusals leaves out.
var quoted = regexp.MustCompile(`"[^"]*"`)

// report prints the run's summary.
func (cr *chaosRun) report(w io.Writer, spread []string, fails []failoverRecord, natsFail []time.Duration, cut string, res chaosCheck) {
	fmt.Fprintf(w, "dispatchd-load chaos: seed %d, %d regions on %d nodes, lease %s, order rate %d/s, run %s\n",
		cr.cfg.drive.seed, len(cr.c.regions), len(cr.c.nodes), cr.cfg.chaos.leaseTTL, cr.cfg.rates[0], cr.fx.runID)
	for _, l := range spread {
		fmt.Fprintln(w, l)
	}
	var d []time.Duration
	for _, f := range fails {
		d = append(d, f.Failover)
	}
	slices.Sort(d)
	if len(d) > 0 {
		fmt.Fprintf(w, "failover over %d owner kills (kill → the region's first 201 through another node): p50 %s, max %s\n",
			len(d), d[len(d)/2].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
		var all []string
		for _, x := range d {
			all = append(all, x.Round(10*time.Millisecond).String())
		}
		fmt.Fprintf(w, "  all: %s\n", strings.Join(all, " "))
	}
	if len(natsFail) > 0 {
		fmt.Fprintf(w, "a nats-server killed: every region took an order within %s\n", slices.Max(natsFail).Round(time.Millisecond))
	}
	if cut != "" {
		fmt.Fprintf(w, "cut off: %s\n", cut)
	}
	lc := cr.led.counts()
	o := res.orders
	fmt.Fprintf(w, "orders: %d acknowledged (ledger %+v), %d listed, %d lost, %d duplicated, %d regressed, %d bad timelines, %d unknown, %d unanswered but stored\n",
		o.Acked, lc, o.Listed, o.Lost, o.Duplicated, o.Regressed, o.BadTimelines, o.Unknown, o.Unanswered)
	rej := map[string]int{}
	cr.led.mu.Lock()
	for _, r := range cr.led.recs {
		if r.state == reqRejected {
			rej[quoted.ReplaceAllString(truncate(r.rejection, 120), `"…"`)]++
		}
	}
	cr.led.mu.Unlock()
	for why, n := range rej {
		fmt.Fprintf(w, "  refused %d×: %s\n", n, why)
		// Every order of the run is valid: a refusal is a wrong answer.
		cr.viol.add("refused", "%d valid orders refused: %s", n, why)
	}
	cr.reportRefusals(w)
	fmt.Fprintf(w, "routes: %d read, %d stops, %d violations; replays with the same key: %d\n", o.Routes, o.RouteStops, o.RouteViolations, res.replays)
	fmt.Fprintf(w, "events read per region: %v; stream records checked for the fence: %v\n", res.events, res.fenced)
	vr := cr.viol.report()
	if res.err != nil {
		fmt.Fprintf(w, "check incomplete: %v\n", res.err)
	}
	if vr.total() == 0 {
		if res.err != nil {
			fmt.Fprintln(w, "verdict: no violation found, but the check did not finish")
			return
		}
		fmt.Fprintln(w, "verdict: no violation")
		return
	}
	fmt.Fprintf(w, "verdict: %d violations\n", vr.total())
	for _, c := range vr.Counts {
		fmt.Fprintf(w, "  %s: %d\n", c.Error, c.Count)
	}
	for _, s := range vr.Samples {
		fmt.Fprintf(w, "  - %s\n", s)
	}
}

// reportRefusals counts the run's refusals by status and node, and lists every one but the 503s (retried) and
// the 409s (cancellations too late) with when, through which node, near which fault, and the body.
func (cr *chaosRun) reportRefusals(w io.Writer) {
	all := cr.refusals.list()
	byCode := map[string]int{}
	for _, r := range all {
		byCode[fmt.Sprintf("%d via %s", r.Code, r.Node)]++
	}
	keys := slices.Sorted(maps.Keys(byCode))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, byCode[k]))
	}
	fmt.Fprintf(w, "refusals through the nodes (status via node): %d; %s\n", len(all), strings.Join(parts, ", "))
	for _, r := range all {
		if r.Code != http.StatusServiceUnavailable && r.Code != http.StatusConflict {
			fmt.Fprintf(w, "  +%.3fs %d %s %s through %s, %s: %s\n", r.At.Sub(cr.started).Seconds(), r.Code, r.Method, r.Path, r.Node, r.Near, r.Body)
		}
	}
}

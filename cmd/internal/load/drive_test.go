package load

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Every call gets its own sequence number, none twice and none skipped, even when calls run concurrently.
func TestPaceNumbersEveryCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seqs []uint64
	st := pace(ctx, 20000, 1000, func(seq uint64) {
		mu.Lock()
		seqs = append(seqs, seq)
		if len(seqs) == 300 {
			cancel()
		}
		mu.Unlock()
	})
	slices.Sort(seqs)
	if uint64(len(seqs)) != st.Fired || st.Skipped != 0 {
		t.Fatalf("%d calls, stats %+v", len(seqs), st)
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("sequence numbers %v…: want 0, 1, 2, … each once", seqs[:min(len(seqs), i+5)])
		}
	}
}

// With every slot busy, ticks are skipped and counted, never queued: no more than maxInFlight calls run at once.
func TestPaceBoundsCallsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var running, most, calls atomic.Int64
	done := make(chan paceStats)
	go func() {
		done <- pace(ctx, 5000, 3, func(uint64) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			calls.Add(1)
			<-release
			running.Add(-1)
		})
	}()
	// Wait until the three slots are taken and further ticks have come and gone.
	for calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	close(release)
	st := <-done
	// (Once released, the slots may take a few more calls before the pacer sees the end.)
	if most.Load() != 3 || st.Fired < 3 || st.Skipped == 0 || st.Fired+st.Skipped < 20 {
		t.Errorf("at most %d in flight, stats %+v: want 3 at a time and the ticks meanwhile skipped", most.Load(), st)
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.9: 90 * time.Millisecond,
		0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := quantile(d, q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

func TestRecorder(t *testing.T) {
	r := newRecorder("courier actions", courierStale)
	start := time.Now()
	for i := 1; i <= 10; i++ {
		r.add(start, time.Duration(i)*time.Millisecond, 200, "")
	}
	r.add(start, 20*time.Millisecond, 409, "409 Conflict: conflict: order is picked_up")
	r.add(start, 30*time.Millisecond, 0, "connection refused")
	r.add(start, 40*time.Millisecond, 503, "503 Service Unavailable")
	s := r.stats(10 * time.Second)
	if s.Requests != 13 || s.OK != 10 || s.Stale != 1 || s.Errors != 2 || s.PerS != 1.3 {
		t.Errorf("stats %+v", s)
	}
	if s.MaxMS != 40 || s.P50MS != 7 || s.P99MS != 40 {
		t.Errorf("latencies %+v", s)
	}
	if s.StatusCodes["200"] != 10 || s.StatusCodes["409"] != 1 || s.StatusCodes["0"] != 1 || s.StatusCodes["503"] != 1 {
		t.Errorf("codes %v", s.StatusCodes)
	}
	if len(s.ErrorSamples) != 2 || s.ErrorSamples[0].Error != "connection refused" {
		t.Errorf("errors %+v: the expected 409 is not an error", s.ErrorSamples)
	}
}

func TestLedgerSettle(t *testing.T) {
	l := newLedger()
	now := t0
	rec := func(ext string) *orderRecord {
		r := &orderRecord{key: "k-" + ext, ext: ext, attempts: 1}
		l.add(r)
		return r
	}
	created := func(id, ext string, at time.Time) answer {
		return answer{code: 201, sent: true, body: []byte(`{"id":"` + id + `","external_id":"` + ext +
			`","status":"pending","created_at":"` + at.Format(time.RFC3339Nano) + `","ready_at":"` + at.Add(time.Minute).Format(time.RFC3339Nano) + `"}`)}
	}

	a := rec("e1")
	if res, err := l.settle(a, created("o1", "e1", now), now); res != outcomeAcked || err != nil {
		t.Fatalf("201: %v %v", res, err)
	}
	if ready, ok := l.readyAt("o1"); !ok || !ready.Equal(now.Add(time.Minute)) {
		t.Errorf("readyAt %v %v", ready, ok)
	}
	l.observe([]byte(`{"id":"o1","status":"picked_up","timeline":[{"status":"pending"},{"status":"assigned"},{"status":"picked_up"}]}`), now)
	// A late answer never takes the status back, nor shortens the timeline.
	l.observe([]byte(`{"id":"o1","status":"assigned","timeline":[{"status":"pending"},{"status":"assigned"}]}`), now)
	l.observe([]byte(`{"id":"o-unknown","status":"delivered"}`), now)
	if s, _, _ := l.acknowledgedAt("o1"); s != "picked_up" {
		t.Errorf("status %q, want picked_up", s)
	}

	// Cut off by a kill, then journaled before it: the retry is answered with the order made then.
	b := rec("e2")
	if res, _ := l.settle(b, answer{sent: true, problem: "EOF"}, now.Add(time.Second)); res != outcomeRetry || b.state != reqRetrying {
		t.Fatalf("no answer: %v, state %v", res, b.state)
	}
	b.attempts++
	l.settle(b, created("o2", "e2", now.Add(time.Second-time.Millisecond)), now.Add(2*time.Second))
	// Refused (never sent): retried, but no answer was lost.
	c := rec("e3")
	l.settle(c, answer{sent: false, problem: "connection refused"}, now)
	c.attempts++
	l.settle(c, answer{code: 503, sent: true, problem: "503"}, now)
	// Lost, then created by the retry.
	d := rec("e4")
	l.settle(d, answer{sent: true, problem: "reset"}, now.Add(3*time.Second))
	d.attempts++
	l.settle(d, created("o4", "e4", now.Add(4*time.Second)), now.Add(4*time.Second))
	// Refused for good.
	e := rec("e5")
	if res, _ := l.settle(e, answer{code: 400, sent: true, problem: "400 Bad Request"}, now); res != outcomeRejected {
		t.Errorf("400: %v", res)
	}
	// A 201 naming another external id is a bad answer.
	f := rec("e6")
	if res, err := l.settle(f, created("o6", "e-other", now), now); res != outcomeRejected || err == nil {
		t.Errorf("201 for the wrong order: %v %v", res, err)
	}

	got := l.counts()
	want := ledgerCounts{Requested: 6, Acked: 3, Rejected: 2, Retrying: 1, LostAnswers: 2, LostThenAcked: 2, Journaled: 1,
		CreatedByRetry: 1, Retries: 3}
	if got != want {
		t.Errorf("counts %+v\nwant   %+v", got, want)
	}
	snap := l.snapshot()
	if len(snap) != 3 || snap[0].ID != "o1" || snap[0].ExternalID != "e1" || snap[0].Key != "k-e1" || snap[0].Status != "picked_up" ||
		len(snap[0].Timeline) != 3 || snap[0].Timeline[2].Status != "picked_up" {
		t.Errorf("snapshot %+v", snap)
	}
}

func TestAnswerRetryable(t *testing.T) {
	for code, want := range map[int]bool{0: true, 201: false, 400: false, 409: false, 422: false, 429: true, 500: true, 503: true} {
		if got := (answer{code: code}).retryable(); got != want {
			t.Errorf("%d: retryable %v", code, got)
		}
	}
	if !isRefused(&wrapped{syscall.ECONNREFUSED}) || isRefused(errors.New("connection reset by peer")) {
		t.Error("isRefused")
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "dial: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestKillUptimes(t *testing.T) {
	a, ga := killUptimes(42, 20, 5, 21*time.Second)
	b, gb := killUptimes(42, 20, 5, 21*time.Second)
	if !slices.Equal(a, b) || !slices.Equal(ga, gb) {
		t.Fatal("the same seed gave two schedules")
	}
	if c, _ := killUptimes(43, 20, 5, 21*time.Second); slices.Equal(a, c) {
		t.Error("another seed gave the same schedule")
	}
	if n := len(slices.DeleteFunc(slices.Clone(ga), func(g bool) bool { return !g })); n != 5 || len(ga) != 20 {
		t.Errorf("%d graceful stops of %d, want 5 of 20", n, len(ga))
	}
	for _, u := range a {
		if u < 500*time.Millisecond || u > 1500*time.Millisecond {
			t.Errorf("uptime %v outside [0.5, 1.5] × the mean of 1 s", u)
		}
	}
}

func TestCourierMoves(t *testing.T) {
	home := location{Lat: 31.23, Lon: 121.47}
	c := newSimCourier(courierSite{id: "c", token: "t", loc: home}, 50)
	if c.position(t0) != home {
		t.Fatal("not at home")
	}
	dest := offset(home, 1000, 0)
	d := c.head(dest, t0)
	if d < 19*time.Second || d > 21*time.Second {
		t.Fatalf("1 km at 50 m/s takes %v", d)
	}
	half := c.position(t0.Add(d / 2))
	if m := distanceM(home, half); m < 490 || m > 510 {
		t.Errorf("half way is %.0f m out", m)
	}
	if c.position(t0.Add(2*d)) != dest {
		t.Error("does not stop at the end of the leg")
	}
	c.halt(t0.Add(d / 4))
	if m := distanceM(home, c.position(t0.Add(time.Hour))); m < 240 || m > 260 {
		t.Errorf("halted at %.0f m, want 250", m)
	}
	c.noteVersion(routeView{Version: 5, Stops: []routeStop{{Kind: "pickup", OrderID: "o1"}, {Kind: "dropoff", OrderID: "o1"}}}, "stream")
	c.noteVersion(routeView{Version: 3}, "GET")
	if c.seen.Load() != 5 || c.seenDescription() != "stream, stops [pickup:o1 dropoff:o1]" {
		t.Errorf("seen %d: %q", c.seen.Load(), c.seenDescription())
	}
	c.offer(routeView{Version: 6})
	c.offer(routeView{Version: 7})
	if r := <-c.routes; r.Version != 7 {
		t.Errorf("the newest route is %d", r.Version)
	}
}

func TestCancelQueueOrder(t *testing.T) {
	var q cancelQueue
	now := time.Now()
	q.push("late", now.Add(30*time.Millisecond))
	q.push("early", now.Add(-time.Second))
	q.push("mid", now.Add(10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	for range 3 {
		id, ok := q.pop(ctx)
		if !ok {
			t.Fatal("pop failed")
		}
		got = append(got, id)
	}
	if !slices.Equal(got, []string{"early", "mid", "late"}) {
		t.Errorf("order %v", got)
	}
	cancel()
	if _, ok := q.pop(ctx); ok {
		t.Error("pop after the end")
	}
}

func TestDriveFlags(t *testing.T) {
	c, err := ParseFlags([]string{"--spawn", "d", "--mode", "crash"}, io.Discard, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.couriers != 1000 || c.drive.kills != 20 || c.drive.locationRate != 5000 || c.drive.timeScale != 10 {
		t.Errorf("crash defaults %+v", c.drive)
	}
	c, err = ParseFlags([]string{"--spawn", "d", "--mode", "crash", "--seed", "7"}, io.Discard, noEnv)
	if err != nil || c.drive.seed != 7 {
		t.Errorf("seed: %v %v", c, err)
	}
	if _, err := ParseFlags([]string{"--target", "http://10.1.2.3:8080", "--admin-token", "x", "--allow-remote"}, io.Discard, noEnv); err != nil {
		t.Errorf("--allow-remote: %v", err)
	}
	for _, target := range []string{"http://localhost:8080", "http://[::1]:8080", "http://127.0.0.2:1"} {
		if _, err := ParseFlags([]string{"--target", target, "--admin-token", "x", "--mode", "drive"}, io.Discard, noEnv); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
	for name, args := range map[string][]string{
		"RemoteTarget":         {"--target", "http://10.1.2.3:8080", "--admin-token", "x"},
		"RemoteTargetByName":   {"--target", "http://dispatch.example:8080", "--admin-token", "x", "--mode", "drive"},
		"CrashWithoutSpawn":    {"--target", "http://127.0.0.1:1", "--admin-token", "x", "--mode", "crash"},
		"KillsInDrive":         {"--spawn", "d", "--mode", "drive", "--kills", "3"},
		"DriveFlagInOrders":    {"--spawn", "d", "--location-rate", "10"},
		"DriveSweep":           {"--spawn", "d", "--mode", "drive", "--sweep", "10,20"},
		"NoKills":              {"--spawn", "d", "--mode", "crash", "--kills", "0"},
		"SlowTime":             {"--spawn", "d", "--mode", "drive", "--time-scale", "0.5"},
		"PromiseBelowPrep":     {"--spawn", "d", "--mode", "drive", "--prep-seconds", "900", "--promise-seconds", "600"},
		"BatchTooLarge":        {"--spawn", "d", "--mode", "drive", "--location-batch", "1001"},
		"CancelShareAboveOne":  {"--spawn", "d", "--mode", "drive", "--cancel-share", "1.5"},
		"DriveWithoutCouriers": {"--spawn", "d", "--mode", "drive", "--couriers", "0"},
		"NegativeMaxConns":     {"--spawn", "d", "--mode", "drive", "--max-conns", "-1"},
		"MaxConnsInOrders":     {"--spawn", "d", "--max-conns", "64"},
	} {
		t.Run("Rejects"+name, func(t *testing.T) {
			if c, err := ParseFlags(args, io.Discard, noEnv); err == nil || !errors.Is(err, ErrUsage) {
				t.Errorf("parseFlags(%q) = %+v, %v: want a usage error", args, c, err)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	deliverBy := t0.Add(30 * time.Minute)
	listed := []listedOrder{
		{Status: "pending", DeliverBy: deliverBy, Timeline: tl("pending", 0)},
		{Status: "pending", DeliverBy: deliverBy, Timeline: tl("pending", 0, "assigned", 1, "pending", 2)},
		{Status: "assigned", DeliverBy: deliverBy, Late: true, Timeline: tl("pending", 0, "assigned", 1)},
		{Status: "picked_up", DeliverBy: deliverBy, Timeline: tl("pending", 0, "assigned", 1, "picked_up", 2)},
		{Status: "delivered", CreatedAt: t0, DeliverBy: deliverBy, DeliveredAt: at(600), Timeline: tl("pending", 0, "assigned", 1, "picked_up", 2, "delivered", 600)},
		{Status: "delivered", CreatedAt: t0, DeliverBy: deliverBy, DeliveredAt: at(2400), Timeline: tl("pending", 0, "assigned", 1, "picked_up", 2, "delivered", 2400)},
		{Status: "cancelled", DeliverBy: deliverBy, Timeline: tl("pending", 0, "cancelled", 1)},
	}
	got := outcomeOf(listed, t0.Add(time.Minute))
	want := driveOutcome{Listed: 7, Assigned: 5, PickedUp: 3, Delivered: 2, Late: 1, Cancelled: 1, OpenPending: 2,
		OpenAssigned: 1, OpenPickedUp: 1, OpenLate: 1, DeliveryP50S: 600, DeliveryP90S: 2400}
	if got != want {
		t.Errorf("outcome %+v\nwant    %+v", got, want)
	}
}

func TestHeld(t *testing.T) {
	cfg := &Config{p99Limit: 10 * time.Millisecond}
	rep := &driveReport{OrderRate: 1000, LocationRate: 5000, OrdersSentPerS: 999.9, PositionsSentPerS: 4999,
		Classes: []classStats{{Name: "orders", P99MS: 9.5}, {Name: "positions", P99MS: 40}}}
	if ok, why := held(rep, cfg); !ok {
		t.Errorf("not held: %v", why)
	}
	rep.Classes[0].P99MS, rep.Classes[1].Errors, rep.PositionsSentPerS = 10, 3, 4000
	ok, why := held(rep, cfg)
	if ok || len(why) != 3 || !strings.Contains(strings.Join(why, ";"), "3 errors in positions") {
		t.Errorf("held %v: %q", ok, why)
	}
}

// The client never lets the transport resend a POST on its own: the drive must see every request a kill cut off.
func TestSendDoesNotReplayPosts(t *testing.T) {
	var seen *http.Request
	c := &simClient{base: "http://127.0.0.1:1", http: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		return nil, errors.New("connection reset by peer")
	})}}
	rec := newRecorder("orders", nil)
	a := c.send(context.Background(), rec, http.MethodPost, "/v1/orders", "tok", http.Header{"Idempotency-Key": {"k"}}, []byte(`{}`))
	if seen == nil || seen.GetBody != nil || seen.Header.Get("Idempotency-Key") != "k" || seen.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("request %+v", seen)
	}
	if a.code != 0 || !a.sent || !a.retryable() || rec.stats(0).Errors != 1 {
		t.Errorf("answer %+v", a)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCPUBetween(t *testing.T) {
	a := cpuSample{at: t0, self: time.Second, daemon: 2 * time.Second, busy: 10 * time.Second, total: 40 * time.Second,
		selfOK: true, daemonOK: true, machOK: true}
	b := cpuSample{at: t0.Add(10 * time.Second), self: 6 * time.Second, daemon: 10 * time.Second, busy: 25 * time.Second,
		total: 60 * time.Second, selfOK: true, daemonOK: true, machOK: true}
	got := cpuBetween(a, b)
	want := &cpuUse{LoadGenerator: 0.5, Daemon: 0.8, DaemonMeasured: true, Others: 0.2, Busy: 1.5, Cores: 2}
	if got != nil {
		got.Others = math.Round(got.Others*1000) / 1000
	}
	if got == nil || *got != *want {
		t.Errorf("cpuBetween = %+v, want %+v", got, want)
	}
	b.daemonOK = false
	if got := cpuBetween(a, b); got == nil || got.DaemonMeasured || got.Others != 1 {
		t.Errorf("without the daemon: %+v, want it counted among the others", got)
	}
	b.machOK = false
	if cpuBetween(a, b) != nil {
		t.Error("a figure without /proc/stat")
	}
}

func TestReadProcCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	before, ok := processCPU(os.Getpid())
	busy, total, mok := machineCPU()
	if !ok || !mok || total <= 0 || busy <= 0 || busy > total {
		t.Fatalf("self %v %v, machine %v of %v %v", before, ok, busy, total, mok)
	}
	// Burn some CPU: the figure may only grow.
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	after, _ := processCPU(os.Getpid())
	if after < before || x == 1 {
		t.Errorf("CPU went from %v to %v", before, after)
	}
	if _, ok := processCPU(-1); ok {
		t.Error("CPU of no process")
	}
}

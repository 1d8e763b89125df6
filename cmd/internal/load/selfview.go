package load

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The daemon's own view of a step: what its /metrics said before and after. The generator's latencies include
// its own scheduling on the cores it shares with the daemon; the daemon's request-duration histogram does not,
// and its CPU counter says what the requests cost it.
const (
	durationMetric = "dispatchd_http_request_duration_seconds"
	cpuMetric      = "process_cpu_seconds_total"
	busyMetric     = "dispatchd_loop_busy_ratio"
	longestMetric  = "dispatchd_loop_longest_step_seconds"
	// The Go runtime's: collections so far (the count of its pause summary), bytes allocated so far, goroutines.
	gcMetric        = "go_gc_duration_seconds"
	allocMetric     = "go_memstats_alloc_bytes_total"
	goroutineMetric = "go_goroutines"
)

// daemonSample is one scrape: a route's cumulative histogram, the requests of every route, the process's CPU
// seconds and the loop's gauges (over its last window of a few seconds).
type daemonSample struct {
	buckets []bucket // cumulative, by upper bound; the last is +Inf
	count   float64
	// all counts the requests of every route so far.
	all    float64
	cpu    float64
	hasCPU bool
	// busy is the loop's busy ratio and longest its longest step in seconds, each when the daemon exports it.
	busy, longest       float64
	hasBusy, hasLongest bool
	// gcCycles and allocBytes are the runtime's collections and bytes allocated so far, goroutines its goroutines
	// now; hasGC when the exposition has all three.
	gcCycles, allocBytes, goroutines float64
	hasGC                            bool
}

type bucket struct {
	le    float64
	count float64
}

// daemonStep is what the daemon says of one step: its latency quantiles for the route, from its histogram's
// change over the step (interpolated within a bucket, as Prometheus' histogram_quantile does: the bucket bounds
// are the resolution), and its CPU per thousand requests.
type daemonStep struct {
	Route    string  `json:"route"`
	Requests float64 `json:"requests"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	// CPUSeconds is the daemon's process CPU over the step (user+system), CPUMSPer1000 per thousand of the step's
	// requests of every route.
	CPUSeconds   float64 `json:"cpu_seconds"`
	CPUMSPer1000 float64 `json:"cpu_ms_per_1000_requests"`
	// BucketsMS are the histogram's upper bounds around the quantiles, for reading them.
	BucketsMS []float64 `json:"buckets_ms,omitempty"`
}

// scrapeDaemon reads the daemon's /metrics (with token when not empty) and returns route's histogram and the CPU.
func scrapeDaemon(ctx context.Context, client *http.Client, target, token, route string) (daemonSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/metrics", nil)
	if err != nil {
		return daemonSample{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return daemonSample{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return daemonSample{}, fmt.Errorf("scrape /metrics: %s", resp.Status)
	}
	return parseDaemonSample(resp.Body, route)
}

// parseDaemonSample reads the text exposition format.
func parseDaemonSample(r io.Reader, route string) (daemonSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return daemonSample{}, fmt.Errorf("parse /metrics: %w", err)
	}
	var s daemonSample
	if f := fams[cpuMetric]; f != nil && len(f.Metric) > 0 && f.Metric[0].Counter != nil {
		s.cpu, s.hasCPU = f.Metric[0].Counter.GetValue(), true
	}
	s.busy, s.hasBusy = gaugeValue(fams, busyMetric)
	s.longest, s.hasLongest = gaugeValue(fams, longestMetric)
	var hasAlloc, hasG bool
	if f := fams[gcMetric]; f != nil && len(f.Metric) > 0 && f.Metric[0].Summary != nil {
		s.gcCycles, s.hasGC = float64(f.Metric[0].Summary.GetSampleCount()), true
	}
	if f := fams[allocMetric]; f != nil && len(f.Metric) > 0 {
		switch m := f.Metric[0]; {
		case m.Counter != nil:
			s.allocBytes, hasAlloc = m.Counter.GetValue(), true
		case m.Gauge != nil:
			s.allocBytes, hasAlloc = m.Gauge.GetValue(), true
		}
	}
	s.goroutines, hasG = gaugeValue(fams, goroutineMetric)
	s.hasGC = s.hasGC && hasAlloc && hasG
	f := fams[durationMetric]
	if f == nil {
		return daemonSample{}, fmt.Errorf("parse /metrics: no %s", durationMetric)
	}
	for _, m := range f.Metric {
		if m.Histogram != nil {
			s.all += float64(m.Histogram.GetSampleCount())
		}
	}
	for _, m := range f.Metric {
		if labelValue(m, "route") != route || m.Histogram == nil {
			continue
		}
		for _, b := range m.Histogram.Bucket {
			s.buckets = append(s.buckets, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
		}
		s.count = float64(m.Histogram.GetSampleCount())
		if len(s.buckets) == 0 || !math.IsInf(s.buckets[len(s.buckets)-1].le, 1) {
			s.buckets = append(s.buckets, bucket{le: math.Inf(1), count: s.count})
		}
		sort.Slice(s.buckets, func(i, j int) bool { return s.buckets[i].le < s.buckets[j].le })
		return s, nil
	}
	return daemonSample{}, fmt.Errorf("parse /metrics: no %s for route %q", durationMetric, route)
}

// gaugeValue is the value of a gauge without labels, and whether the exposition has it.
func gaugeValue(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f := fams[name]
	if f == nil || len(f.Metric) == 0 || f.Metric[0].Gauge == nil {
		return 0, false
	}
	return f.Metric[0].Gauge.GetValue(), true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// stepOf is the change from before to after; requests counts every request of the step (for the CPU per
// thousand), whatever its route.
func stepOf(route string, before, after daemonSample, requests uint64) (*daemonStep, error) {
	if len(before.buckets) != len(after.buckets) {
		return nil, fmt.Errorf("the daemon's histogram changed its buckets during the step")
	}
	delta := make([]bucket, len(after.buckets))
	for i := range after.buckets {
		if after.buckets[i].le != before.buckets[i].le {
			return nil, fmt.Errorf("the daemon's histogram changed its buckets during the step")
		}
		delta[i] = bucket{le: after.buckets[i].le, count: after.buckets[i].count - before.buckets[i].count}
	}
	st := &daemonStep{Route: route, Requests: after.count - before.count}
	st.P50MS = 1000 * histogramQuantile(0.50, delta)
	st.P99MS = 1000 * histogramQuantile(0.99, delta)
	if before.hasCPU && after.hasCPU {
		st.CPUSeconds = after.cpu - before.cpu
		if requests > 0 {
			st.CPUMSPer1000 = 1000 * st.CPUSeconds / float64(requests) * 1000
		}
	}
	for _, b := range delta {
		if !math.IsInf(b.le, 1) {
			st.BucketsMS = append(st.BucketsMS, 1000*b.le)
		}
	}
	return st, nil
}

// histogramQuantile is Prometheus' histogram_quantile over cumulative buckets: linear within the bucket the rank falls in,
// the lowest bucket's lower bound taken as 0, and the highest finite bound when the rank is in +Inf. NaN without
// observations.
func histogramQuantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(bs), func(i int) bool { return bs[i].count >= rank })
	if i == len(bs)-1 && math.IsInf(bs[i].le, 1) {
		if len(bs) < 2 {
			return math.NaN()
		}
		return bs[len(bs)-2].le
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = bs[i-1].le, bs[i-1].count
	}
	in := bs[i].count - below
	if in <= 0 {
		return bs[i].le
	}
	return lower + (bs[i].le-lower)*(rank-below)/in
}

// routeOf is the daemon's route (its histogram's label) that a mode's requests go to.
func routeOf(mode string) string {
	switch mode {
	case modeOrders:
		return "POST /v1/orders"
	case modeBatch:
		return "POST /v1/courier-locations"
	default:
		return "POST /v1/courier/location"
	}
}

// selfView is a step's first scrape, kept until the step ends.
type selfView struct {
	client        *http.Client
	target, token string
	route         string
	before        daemonSample
	err           error
	cpu           time.Duration
	hasCPU        bool
}

// beginSelfView scrapes the daemon and notes the generator's CPU before a step.
func beginSelfView(ctx context.Context, client *http.Client, target, token, route string) *selfView {
	v := &selfView{client: client, target: target, token: token, route: route}
	v.before, v.err = scrapeDaemon(ctx, client, target, token, route)
	v.cpu, v.hasCPU = processCPU(os.Getpid())
	return v
}

// end scrapes again and writes the daemon's view of the step, and the generator's CPU, into st.
func (v *selfView) end(ctx context.Context, st *stepResult) {
	if cpu, ok := processCPU(os.Getpid()); ok && v.hasCPU && st.Requests > 0 {
		st.LoadCPUMSPer1000 = float64(cpu-v.cpu) / float64(time.Millisecond) / float64(st.Requests) * 1000
	}
	if v.err != nil {
		st.DaemonError = v.err.Error()
		return
	}
	after, err := scrapeDaemon(ctx, v.client, v.target, v.token, v.route)
	if err == nil {
		st.Daemon, err = stepOf(v.route, v.before, after, st.Requests)
	}
	if err != nil {
		st.DaemonError = err.Error()
	}
}

// printSelfView is the daemon's own view of each step beside the generator's: its p50 and p99 for the route (from
// its histogram, so no finer than its buckets), and the CPU each side spent per thousand requests.
func printSelfView(w io.Writer, steps []stepResult) {
	shown := false
	for _, s := range steps {
		shown = shown || s.Daemon != nil || s.DaemonError != ""
	}
	if !shown {
		return
	}
	fmt.Fprintln(w, "\nthe daemon's own view (its /metrics before and after each step):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate/s\troute\trequests\tdaemon p50\tdaemon p99\tgenerator p99\tdaemon CPU/1000 req\tgenerator CPU/1000 req\t")
	for _, s := range steps {
		if s.Daemon == nil {
			fmt.Fprintf(tw, "%d\t%s\t\t\t\t\t\t\t\n", s.Rate, s.DaemonError)
			continue
		}
		d := s.Daemon
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t%.0f ms\t%.0f ms\t\n", s.Rate, d.Route, d.Requests, fmtMS(d.P50MS),
			fmtMS(d.P99MS), fmtMS(s.P99MS), d.CPUMSPer1000, s.LoadCPUMSPer1000)
	}
	tw.Flush()
}

// driveSelfView is the daemon's own view of a drive's load: its latency of placing an order and its CPU per
// thousand requests of every kind, from /metrics at the start and the end of the load, and its loop's busy ratio
// and longest step, sampled once a window while the load runs.
type driveSelfView struct {
	Orders *daemonStep `json:"orders,omitempty"`
	// Samples is how many scrapes during the load gave the loop's gauges.
	Samples int `json:"samples"`
	// BusyMean and BusyMax are the loop's busy ratio over the samples (each a window of the daemon's).
	BusyMean float64 `json:"loop_busy_mean"`
	BusyMax  float64 `json:"loop_busy_max"`
	// LongestStepMS is the longest step of the loop in any sampled window; LongestSteps each window's, in order.
	LongestStepMS float64   `json:"loop_longest_step_ms"`
	LongestSteps  []float64 `json:"loop_longest_steps_ms,omitempty"`
	// GC is what the Go runtime said of the load, when the daemon exports it.
	GC    *driveGC `json:"gc,omitempty"`
	Error string   `json:"error,omitempty"`
}

// driveGC is the daemon's garbage collection over a drive's load: a collection's mark phase takes a share of the
// daemon's CPU and makes allocating goroutines help, so how often one runs and what drives it (the bytes allocated
// per request) bear on the tail.
type driveGC struct {
	Cycles float64 `json:"cycles"`
	// EveryS is the load's length over the collections.
	EveryS float64 `json:"every_s,omitempty"`
	// KBPer1000 is the bytes allocated per thousand requests of every route, in KB.
	KBPer1000 float64 `json:"kb_allocated_per_1000_requests"`
	// GoroutinesMax is the most goroutines any scrape saw (two or so per open connection).
	GoroutinesMax float64 `json:"goroutines_max"`
}

// loopSampleEvery is how often the drive reads the loop's gauges: the daemon's window (5 s), so that every
// window is seen once or so.
const loopSampleEvery = 5 * time.Second

// watchDaemon is the drive's self view in progress: the first scrape, and the loop's gauges sampled since.
type watchDaemon struct {
	client        *http.Client
	target, token string
	before        daemonSample
	started       time.Time
	err           error
	mu            sync.Mutex
	loop          []daemonSample
}

// startWatch scrapes the daemon at the start of the load and then every loopSampleEvery until ctx ends.
func startWatch(ctx context.Context, wg *sync.WaitGroup, client *http.Client, target, token string) *watchDaemon {
	w := &watchDaemon{client: client, target: target, token: token}
	w.before, w.err = scrapeDaemon(ctx, client, target, token, routeOf(modeOrders))
	w.started = time.Now()
	if w.err != nil {
		return w
	}
	wg.Go(func() {
		t := time.NewTicker(loopSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := scrapeDaemon(ctx, client, target, token, routeOf(modeOrders))
			if err != nil {
				continue // a scrape cut by the end of the load, or one the daemon was too busy for
			}
			w.mu.Lock()
			w.loop = append(w.loop, s)
			w.mu.Unlock()
		}
	})
	return w
}

// end scrapes again and makes the view of the load.
func (w *watchDaemon) end(ctx context.Context) *driveSelfView {
	if w.err != nil {
		return &driveSelfView{Error: w.err.Error()}
	}
	after, err := scrapeDaemon(ctx, w.client, w.target, w.token, routeOf(modeOrders))
	if err != nil {
		return &driveSelfView{Error: err.Error()}
	}
	w.mu.Lock()
	loop := append(slices.Clone(w.loop), after)
	w.mu.Unlock()
	return driveView(w.before, after, loop, time.Since(w.started))
}

// driveView is the view from the scrapes at the start and the end of the load and the loop's samples between
// (the last of which may be the end's).
func driveView(before, after daemonSample, loop []daemonSample, load time.Duration) *driveSelfView {
	v := &driveSelfView{}
	requests := after.all - before.all
	if before.hasGC && after.hasGC && requests > 0 {
		g := &driveGC{Cycles: after.gcCycles - before.gcCycles, KBPer1000: (after.allocBytes - before.allocBytes) / 1e3 / requests * 1000,
			GoroutinesMax: max(before.goroutines, after.goroutines)}
		if g.Cycles > 0 {
			g.EveryS = load.Seconds() / g.Cycles
		}
		for _, s := range loop {
			if s.hasGC {
				g.GoroutinesMax = max(g.GoroutinesMax, s.goroutines)
			}
		}
		v.GC = g
	}
	st, err := stepOf(routeOf(modeOrders), before, after, uint64(max(requests, 0)))
	if err != nil {
		v.Error = err.Error()
	}
	v.Orders = st
	var busy float64
	for _, s := range loop {
		if !s.hasBusy || !s.hasLongest {
			continue
		}
		v.Samples++
		busy += s.busy
		v.BusyMax = max(v.BusyMax, s.busy)
		ms := 1000 * s.longest
		v.LongestSteps = append(v.LongestSteps, ms)
		v.LongestStepMS = max(v.LongestStepMS, ms)
	}
	if v.Samples > 0 {
		v.BusyMean = busy / float64(v.Samples)
	}
	return v
}

// printDriveSelfView writes the daemon's own view of a drive beside the generator's p99 of placing an order.
func printDriveSelfView(w io.Writer, v *driveSelfView, generatorP99MS float64) {
	if v == nil {
		return
	}
	fmt.Fprintln(w, "\nthe daemon's own view of the load (its /metrics at the start and the end, the loop's gauges every 5 s):")
	defer fmt.Fprintln(w)
	if v.Orders == nil {
		fmt.Fprintf(w, "  not available: %s\n", v.Error)
		return
	}
	o := v.Orders
	fmt.Fprintf(w, "  POST /v1/orders: %.0f requests, daemon p50 %s, p99 %s (generator p99 %s); daemon CPU %.1f s, %.0f ms per 1 000 requests of every kind\n",
		o.Requests, fmtMS(o.P50MS), fmtMS(o.P99MS), fmtMS(generatorP99MS), o.CPUSeconds, o.CPUMSPer1000)
	if g := v.GC; g != nil {
		fmt.Fprintf(w, "  GC: %.0f collections (one every %.1f s), %.0f KB allocated per 1 000 requests of every kind, up to %.0f goroutines\n",
			g.Cycles, g.EveryS, g.KBPer1000, g.GoroutinesMax)
	}
	if v.Samples == 0 {
		fmt.Fprintln(w, "  loop: no sample of its gauges (a daemon without dispatchd_loop_longest_step_seconds?)")
		return
	}
	steps := make([]string, len(v.LongestSteps))
	for i, ms := range v.LongestSteps {
		steps[i] = fmtMS(ms)
	}
	fmt.Fprintf(w, "  loop: busy %.2f on average, %.2f at most; longest step %s (per window: %s)\n",
		v.BusyMean, v.BusyMax, fmtMS(v.LongestStepMS), strings.Join(steps, ", "))
}

// metricsTarget is where the daemon serves /metrics: its API address, unless the flags it was started with
// (--daemon-arg) give it a separate --metrics-addr, which then serves /metrics alone. A wildcard host is reached on
// loopback. The flag's forms are the flag package's: -metrics-addr or --metrics-addr, with "=value" or the value
// as the next argument; the last one given counts.
func metricsTarget(apiTarget string, daemonArgs []string) string {
	addr := ""
	for i := 0; i < len(daemonArgs); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(daemonArgs[i], "-"), "=")
		if !strings.HasPrefix(daemonArgs[i], "-") || name != "metrics-addr" {
			continue
		}
		if !hasValue {
			if i+1 == len(daemonArgs) {
				break
			}
			i++
			value = daemonArgs[i]
		}
		addr = value
	}
	if addr == "" {
		return apiTarget
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return apiTarget // the daemon refuses to start with it anyway
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

type attackOptions struct {
	workers     uint64
	maxWorkers  uint64
	connections int
	// maxConns bounds the connections the drive's requests use (0: no bound); see the --max-conns flag.
	maxConns int
	timeout  time.Duration
	// transport is shared by the steps of a run; see newTransport.
	transport *http.Transport
}

// newTransport is the attack's HTTP transport. It is ours, not vegeta's default, so that its connections can be
// closed at the end (vegeta's would stay open, as it sets no idle timeout, and a connection left open delays the
// daemon's graceful stop), and so that no proxy is used even when HTTP_PROXY is set: a proxy would be part of the
// measurement.
//
// Its idle connections are closed after idleConnTimeout, below the daemon's --read-header-timeout (10 s): the
// daemon closes a new connection whose first request has not come within that time, as it would a slow client's.
// Under a burst the transport dials connections that a freed one makes unneeded; kept idle past the daemon's limit,
// one of them was now and then picked for a request just as the daemon closed it, and the request failed with EOF
// or a reset (never retried: the connection had not been used).
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:     (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		IdleConnTimeout: idleConnTimeout,
	}
}

// idleConnTimeout is how long the load's connections may stay idle (see newTransport).
const idleConnTimeout = 5 * time.Second

// warmUp opens n connections to the daemon with as many concurrent GET /readyz, so that the first step does
// not measure TCP connection set-up, which a long-running client with a connection pool does not pay either.
func warmUp(ctx context.Context, transport *http.Transport, base string, n int) error {
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stepResult is the figures of one step at one rate. Latencies are in milliseconds; vegeta measures each from
// the moment its worker starts the request to the end of the answer's body.
type stepResult struct {
	Rate      int     `json:"rate"`
	DurationS float64 `json:"duration_s"`
	Requests  uint64  `json:"requests"`
	OK        uint64  `json:"ok"`
	Errors    uint64  `json:"errors"`
	// SentPerS is the rate at which requests went out; below Rate, the load generator could not keep up (all
	// --max-workers busy, or no CPU left).
	SentPerS float64 `json:"sent_per_s"`
	// ThroughputPerS is the rate of 2xx answers over the whole step, waiting for the last answer included.
	ThroughputPerS float64 `json:"throughput_per_s"`
	SuccessRatio   float64 `json:"success_ratio"`
	P50MS          float64 `json:"p50_ms"`
	P90MS          float64 `json:"p90_ms"`
	P99MS          float64 `json:"p99_ms"`
	MaxMS          float64 `json:"max_ms"`
	MeanMS         float64 `json:"mean_ms"`
	// StatusCodes counts answers by status; "0" counts requests that got none (refused, reset, timed out).
	StatusCodes map[string]int `json:"status_codes"`
	// MaxAtS is when the slowest request was sent, in seconds from the start of the step: a stall that recurs
	// with the daemon's --dispatch-interval points at its dispatch rounds.
	MaxAtS float64 `json:"max_at_s"`
	// PerSecond splits the step by the second in which requests were sent.
	PerSecond []secondStats `json:"per_second"`
	// ErrorSamples are the first distinct errors, with their counts.
	ErrorSamples []errorCount `json:"error_samples,omitempty"`
	Interrupted  bool         `json:"interrupted,omitempty"`
	Sustained    bool         `json:"sustained"`
	// Daemon is what the daemon's own /metrics said of the step (its latency without the generator's share of
	// the cores, and its CPU); DaemonError why it is missing.
	Daemon      *daemonStep `json:"daemon,omitempty"`
	DaemonError string      `json:"daemon_error,omitempty"`
	// LoadCPUMSPer1000 is the generator's own CPU per thousand requests (Linux only), beside the daemon's.
	LoadCPUMSPer1000 float64 `json:"load_cpu_ms_per_1000_requests,omitempty"`
}

type secondStats struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	MaxMS    float64 `json:"max_ms"`
}

type errorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// maxDistinctErrors bounds the error tally: an error text that differs on every request (a message quoting an
// id) must not grow it without end.
const maxDistinctErrors = 20

// otherErrors collects the errors beyond maxDistinctErrors distinct ones.
const otherErrors = "(other errors)"

// errorTally counts errors by text, keeping the order in which they first appeared.
type errorTally struct {
	counts map[string]int
	order  []string
}

func (t *errorTally) add(msg string) {
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	if _, ok := t.counts[msg]; !ok {
		if len(t.order) >= maxDistinctErrors {
			msg = otherErrors
		}
		if _, ok := t.counts[msg]; !ok {
			t.order = append(t.order, msg)
		}
	}
	t.counts[msg]++
}

func (t *errorTally) list() []errorCount {
	out := make([]errorCount, 0, len(t.order))
	for _, m := range t.order {
		out = append(out, errorCount{m, t.counts[m]})
	}
	return out
}

// resultError says what went wrong with one request, or "" when it succeeded. Unlike vegeta's own Success, which
// counts 2xx and 3xx, only a 2xx succeeds: the API never redirects.
func resultError(r *vegeta.Result) string {
	return answerError(int(r.Code), r.Body, r.Error)
}

// answerError says what went wrong with one answer (status code 0: none came, errText says why), or "" for a 2xx
// without error. The API's error code and message are added to the status, since "503 Service Unavailable" alone
// does not say which limit was hit.
func answerError(code int, body []byte, errText string) string {
	if code == 0 {
		if errText == "" {
			return "no answer"
		}
		return errText
	}
	if code >= 200 && code < 300 && errText == "" {
		return ""
	}
	msg := strconv.Itoa(code) + " " + http.StatusText(code)
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error.Code != "" {
		msg += ": " + b.Error.Code + ": " + truncate(b.Error.Message, 160)
	} else if errText != "" && errText != msg {
		// Reading the body failed after the status arrived.
		msg += ": " + errText
	}
	return msg
}

// runStep attacks at rate requests per second for du and returns the figures. When ctx ends, the attack stops
// early, waits for the requests in flight and the step is marked interrupted.
func runStep(ctx context.Context, tr vegeta.Targeter, rate int, du time.Duration, o attackOptions, name string) stepResult {
	// A fresh attacker per step (vegeta's cannot be reused after an attack ends) over the run's transport, whose
	// connections stay open from one step to the next, as in an order service's connection pool.
	atk := vegeta.NewAttacker(
		// The run's transport keeps as many idle connections as there may be requests in flight (set once by
		// its maker: vegeta's Connections and KeepAlive options would write it at every step while the previous
		// step's connections still read it), so that connections are reused and not closed and reopened, which
		// would measure TCP set-up and run the loopback out of ports.
		vegeta.Client(&http.Client{Transport: o.transport}),
		vegeta.Workers(o.workers),
		vegeta.MaxWorkers(o.maxWorkers),
		vegeta.Timeout(o.timeout),
		// Enough of a body for the API's error message; the rest is read and discarded.
		vegeta.MaxBody(4<<10),
		vegeta.Redirects(vegeta.NoFollow),
	)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stopped:
		}
	}()

	var (
		m       vegeta.Metrics
		errs    errorTally
		ok      uint64
		seconds []secondStats
		maxTS   time.Time
	)
	began := time.Now()
	for r := range atk.Attack(tr, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, du, name) {
		m.Add(r)
		sec := max(0, int(r.Timestamp.Sub(began)/time.Second))
		for len(seconds) <= sec {
			seconds = append(seconds, secondStats{})
		}
		seconds[sec].Requests++
		seconds[sec].MaxMS = max(seconds[sec].MaxMS, ms(r.Latency))
		if r.Latency >= m.Latencies.Max {
			maxTS = r.Timestamp
		}
		if e := resultError(r); e != "" {
			errs.add(e)
			seconds[sec].Errors++
		} else {
			ok++
		}
	}
	m.Close()
	// When the slowest request was sent, counted like DurationS from the first request sent (which a busy machine
	// may send a little after the attack began).
	var maxAt time.Duration
	if !maxTS.IsZero() {
		maxAt = maxTS.Sub(m.Earliest)
	}

	st := stepResult{
		Rate: rate, Requests: m.Requests, OK: ok, Errors: m.Requests - ok, SentPerS: m.Rate,
		P50MS: ms(m.Latencies.P50), P90MS: ms(m.Latencies.P90), P99MS: ms(m.Latencies.P99), MaxMS: ms(m.Latencies.Max),
		MeanMS: ms(m.Latencies.Mean), MaxAtS: maxAt.Round(time.Millisecond).Seconds(), PerSecond: seconds,
		StatusCodes: m.StatusCodes, ErrorSamples: errs.list(), Interrupted: ctx.Err() != nil,
	}
	if m.Requests > 0 {
		st.SuccessRatio = float64(ok) / float64(m.Requests)
	}
	// The same span as vegeta's throughput: first request sent to last answer received.
	if span := m.Duration + m.Wait; span > 0 {
		st.DurationS = span.Seconds()
		st.ThroughputPerS = float64(ok) / span.Seconds()
	}
	return st
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// brief is a one-line summary of a step for the progress log.
func (s stepResult) brief() string {
	line := fmt.Sprintf("%d requests, %.1f%% ok, %.1f/s achieved, p50 %s p99 %s max %s (sent at +%.1fs)", s.Requests,
		100*s.SuccessRatio, s.ThroughputPerS, fmtMS(s.P50MS), fmtMS(s.P99MS), fmtMS(s.MaxMS), s.MaxAtS)
	if len(s.ErrorSamples) > 0 {
		line += "; first error: " + s.ErrorSamples[0].Error
	}
	return line
}

package load

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// paceStats is what a pacer did.
type paceStats struct {
	// Fired counts the calls started; Skipped the ticks at which maxInFlight calls were still running, so that
	// nothing was sent (each one is a request the load generator could not make, and counts against the rate).
	Fired   uint64
	Skipped uint64
	Elapsed time.Duration
}

// pace calls fire at rate calls a second, from now until ctx ends, each call on a goroutine of its own: a slow
// answer delays nothing that follows it, the rate is held by the clock (an open-loop load). At most maxInFlight
// calls run at once; a tick that finds them all busy is skipped and counted. The calls get their sequence number
// (from 0); pace returns once every call it started has returned.
func pace(ctx context.Context, rate float64, maxInFlight int, fire func(seq uint64)) paceStats {
	var (
		st  paceStats
		wg  sync.WaitGroup
		sem = make(chan struct{}, maxInFlight)
	)
	period := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for seq := uint64(0); ; {
		// Every call due by now goes out; then sleep to the next one. Timers cost more than a request below about a
		// millisecond, so at higher rates the calls leave in small bursts, each on its due millisecond.
		due := uint64(float64(time.Since(start))/float64(period)) + 1
		// After a stall (this process short of CPU) the calls missed are caught up on, as a constant rate demands,
		// unless the end has come meanwhile.
		for ; seq < due && ctx.Err() == nil; seq++ {
			select {
			case sem <- struct{}{}:
				st.Fired++
				n := seq // seq is the outer loop's variable, which goes on changing
				wg.Go(func() {
					defer func() { <-sem }()
					fire(n)
				})
			default:
				st.Skipped++
			}
		}
		next := start.Add(time.Duration(float64(seq) * float64(period)))
		wait := max(time.Until(next), time.Millisecond)
		if period >= time.Millisecond {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			st.Elapsed = time.Since(start)
			wg.Wait()
			return st
		case <-timer.C:
		}
	}
}

// maxSamples bounds the latencies a recorder keeps (16 MB); beyond it, it keeps a uniform sample of them all
// (reservoir sampling), so the percentiles stay estimates of the whole run.
const maxSamples = 2_000_000

// recorder gathers the answers of one class of request: latencies, status codes and errors. It is safe for
// concurrent use.
type recorder struct {
	name string
	// stale says which answers other than 2xx are an expected part of the exchange rather than an error (a courier
	// acting on an order the dispatcher has just moved elsewhere gets 404 or 409); nil: none is.
	stale func(code int) bool

	mu       sync.Mutex
	lat      []time.Duration
	seen     uint64
	ok       uint64
	staleN   uint64
	errs     errorTally
	errN     uint64
	codes    map[string]int
	maxLat   time.Duration
	sumLat   time.Duration
	rng      *rand.Rand
	firstAt  time.Time
	lastDone time.Time
}

func newRecorder(name string, stale func(int) bool) *recorder {
	return &recorder{name: name, stale: stale, codes: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
}

// add records one request sent at start, answered (or failed) lat later with code (0: no answer) and problem (""
// for a 2xx, else what went wrong, as answerError writes it).
func (r *recorder) add(start time.Time, lat time.Duration, code int, problem string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstAt.IsZero() || start.Before(r.firstAt) {
		r.firstAt = start
	}
	if done := start.Add(lat); done.After(r.lastDone) {
		r.lastDone = done
	}
	r.seen++
	r.codes[strconv.Itoa(code)]++
	switch {
	case problem == "":
		r.ok++
	case r.stale != nil && r.stale(code):
		r.staleN++
	default:
		r.errN++
		r.errs.add(problem)
	}
	r.sumLat += lat
	r.maxLat = max(r.maxLat, lat)
	if len(r.lat) < maxSamples {
		r.lat = append(r.lat, lat)
	} else if i := r.rng.Uint64N(r.seen); i < maxSamples {
		r.lat[i] = lat
	}
}

// classStats is one class of request in the drive report. Latencies are in milliseconds, from the moment the
// request was started to the end of the answer's body.
type classStats struct {
	Name     string `json:"name"`
	Requests uint64 `json:"requests"`
	OK       uint64 `json:"ok"`
	// Stale counts the expected refusals (see recorder.stale); they are neither ok nor errors.
	Stale  uint64 `json:"stale,omitempty"`
	Errors uint64 `json:"errors"`
	// PerS is the requests a second over the load's duration (for the paced classes: what was sent).
	PerS         float64        `json:"per_s"`
	P50MS        float64        `json:"p50_ms"`
	P90MS        float64        `json:"p90_ms"`
	P99MS        float64        `json:"p99_ms"`
	MaxMS        float64        `json:"max_ms"`
	MeanMS       float64        `json:"mean_ms"`
	StatusCodes  map[string]int `json:"status_codes"`
	ErrorSamples []errorCount   `json:"error_samples,omitempty"`
	// Skipped counts the requests a pacer could not send (all of its requests in flight).
	Skipped uint64 `json:"skipped,omitempty"`
}

// stats summarises what was recorded; over is the span the rate is reckoned over (0: from the first request to
// the last answer).
func (r *recorder) stats(over time.Duration) classStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := classStats{Name: r.name, Requests: r.seen, OK: r.ok, Stale: r.staleN, Errors: r.errN,
		StatusCodes: copyCounts(r.codes), ErrorSamples: r.errs.list(), MaxMS: ms(r.maxLat)}
	if r.seen == 0 {
		return s
	}
	if over <= 0 {
		over = r.lastDone.Sub(r.firstAt)
	}
	if over > 0 {
		s.PerS = float64(r.seen) / over.Seconds()
	}
	sorted := slices.Clone(r.lat)
	slices.Sort(sorted)
	s.P50MS, s.P90MS, s.P99MS = ms(quantile(sorted, 0.50)), ms(quantile(sorted, 0.90)), ms(quantile(sorted, 0.99))
	s.MeanMS = ms(r.sumLat / time.Duration(r.seen))
	return s
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// quantile is the nearest-rank q-quantile of sorted values (the smallest value with at least q of them at or
// below it); 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// isRefused reports whether a request failed because nothing listened on the port: it was never sent.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// answer is what one request got.
type answer struct {
	code int // 0: no answer
	body []byte
	// problem is "" for a 2xx, else what went wrong (see answerError).
	problem string
	// sent reports whether the request may have reached the daemon: false only when the connection was refused,
	// so that nothing was written.
	sent bool
}

// retryable says whether the request may be sent again as it is: no answer, an overloaded or not-ready daemon,
// or a rate limit.
func (a answer) retryable() bool {
	return a.code == 0 || a.code == http.StatusTooManyRequests || a.code >= 500
}

// simClient sends the drive's requests and records each in its class.
type simClient struct {
	base string
	http *http.Client
}

// maxAnswer bounds the body read from an answer; a page of orders is the largest the drive asks for.
const maxAnswer = 4 << 20

// send makes one request with body (nil: none) and the bearer token, records it in rec and returns the answer.
func (c *simClient) send(ctx context.Context, rec *recorder, method, path, token string, header http.Header, body []byte) answer {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{problem: err.Error()}
	}
	// No body can be sent twice by the transport itself: it would resend a POST carrying an Idempotency-Key on
	// its own after a connection failed, which would hide from the drive the very requests a kill cut off (and
	// make one refused by the dead daemon look as if it had never been sent). The drive retries them itself.
	req.GetBody = nil
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	a := answer{sent: true}
	resp, err := c.http.Do(req)
	if err != nil {
		a.problem = err.Error()
		a.sent = !isRefused(err)
	} else {
		a.code = resp.StatusCode
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		a.problem = answerError(a.code, a.body, errText)
		if errText != "" && a.code >= 200 && a.code < 300 {
			// The status came but the body did not: as good as no answer for a caller that needs the body.
			a.code = 0
		}
	}
	if rec != nil && ctx.Err() == nil {
		rec.add(start, time.Since(start), a.code, a.problem)
	}
	return a
}

package load

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// statusRank orders the statuses an order may only move up through: pending and assigned share a rank, since
// the dispatcher may take an assigned order back; the three final ones share the top. -1: not a status.
func statusRank(s string) int {
	switch s {
	case "pending", "assigned":
		return 0
	case "picked_up":
		return 1
	case "delivered", "cancelled", "failed":
		return 2
	}
	return -1
}

// reqState is where an order's placement stands.
type reqState uint8

const (
	reqSending  reqState = iota // an attempt is in flight
	reqRetrying                 // in the retry queue, after an attempt that got no usable answer
	reqAcked                    // answered 201
	reqRejected                 // answered with a 4xx: not retried
)

// orderRecord is one order the order service placed, from its first attempt on.
type orderRecord struct {
	key  string
	ext  string
	body []byte

	state    reqState
	attempts int
	// lostAnswers counts the attempts that ended without an answer after the request may have reached the daemon
	// (a kill while it was in flight); firstLostAt is when the first one ended.
	lostAnswers int
	firstLostAt time.Time
	rejection   string
	// nextTry is when the retry queue sends it again.
	nextTry time.Time

	// From the 201.
	id        string
	createdAt time.Time
	readyAt   time.Time
	ackedAt   time.Time
	// status is the furthest status the daemon has acknowledged to this program (in the answer to the placement,
	// a courier's action or a cancellation), and statusAt when that answer arrived.
	status   string
	statusAt time.Time
	// timeline is the longest timeline those answers showed: history, which may grow but never change.
	timeline []timelineEntry
}

// ledger is every order of the run, by sequence number and by id.
type ledger struct {
	mu   sync.Mutex
	recs []*orderRecord
	byID map[string]*orderRecord
}

func newLedger() *ledger { return &ledger{byID: map[string]*orderRecord{}} }

func (l *ledger) add(r *orderRecord) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

// placedOrder is the part of an order in an answer (the 201, a courier's action, a cancellation) that the ledger
// keeps.
type placedOrder struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id"`
	Status     string          `json:"status"`
	CreatedAt  time.Time       `json:"created_at"`
	ReadyAt    time.Time       `json:"ready_at"`
	Timeline   []timelineEntry `json:"timeline"`
}

// ackOutcome is what the ledger made of an answer to a placement.
type ackOutcome int

const (
	outcomeAcked ackOutcome = iota
	outcomeRetry
	outcomeRejected
)

// settle records the answer to an attempt of r. An answer that a retry may fix (see answer.retryable) puts it
// back to be retried; a 201 acknowledges it; anything else rejects it.
func (l *ledger) settle(r *orderRecord, a answer, now time.Time) (ackOutcome, error) {
	var p placedOrder
	var perr error
	if a.code == http.StatusCreated {
		if perr = json.Unmarshal(a.body, &p); perr == nil && (p.ID == "" || p.ExternalID != r.ext) {
			perr = fmt.Errorf("201 for %s names order %q with external_id %q", r.ext, p.ID, p.ExternalID)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case a.code == http.StatusCreated && perr == nil:
		r.state, r.id, r.createdAt, r.readyAt, r.ackedAt = reqAcked, p.ID, p.CreatedAt, p.ReadyAt, now
		r.status, r.statusAt, r.timeline = p.Status, now, p.Timeline
		l.byID[p.ID] = r
		return outcomeAcked, nil
	case a.code == http.StatusCreated:
		r.state, r.rejection = reqRejected, perr.Error()
		return outcomeRejected, perr
	case a.retryable():
		if a.code == 0 && a.sent {
			if r.lostAnswers == 0 {
				r.firstLostAt = now
			}
			r.lostAnswers++
		}
		r.state = reqRetrying
		r.nextTry = now.Add(min(100*time.Millisecond<<min(r.attempts-1, 5), 2*time.Second))
		return outcomeRetry, nil
	default:
		r.state, r.rejection = reqRejected, a.problem
		return outcomeRejected, nil
	}
}

// observe notes an order the daemon answered with (decoded from body): its status, when further than the one
// known, and its timeline, when longer.
func (l *ledger) observe(body []byte, now time.Time) {
	var p placedOrder
	if json.Unmarshal(body, &p) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byID[p.ID]
	if r == nil {
		return
	}
	if statusRank(p.Status) >= statusRank(r.status) {
		r.status, r.statusAt = p.Status, now
	}
	if len(p.Timeline) > len(r.timeline) {
		r.timeline = p.Timeline
	}
}

// readyAt is when order id is ready at its store, as the 201 said.
func (l *ledger) readyAt(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byID[id]
	if r == nil {
		return time.Time{}, false
	}
	return r.readyAt, true
}

// acknowledgedAt returns the status acknowledged for order id and when the answer came.
func (l *ledger) acknowledgedAt(id string) (string, time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byID[id]
	if r == nil {
		return "", time.Time{}, false
	}
	return r.status, r.statusAt, true
}

// ackedOrder is an acknowledged order as the checker sees it.
type ackedOrder struct {
	ID         string
	ExternalID string
	Key        string
	// Status is the furthest status the daemon acknowledged, and Timeline the longest timeline it showed.
	Status   string
	Timeline []timelineEntry
}

// snapshot is every acknowledged order, with the furthest status acknowledged so far.
func (l *ledger) snapshot() []ackedOrder {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ackedOrder, 0, len(l.byID))
	for _, r := range l.recs {
		if r.state == reqAcked {
			out = append(out, ackedOrder{ID: r.id, ExternalID: r.ext, Key: r.key, Status: r.status, Timeline: r.timeline})
		}
	}
	return out
}

// ledgerCounts is where the placements stand.
type ledgerCounts struct {
	Requested int `json:"requested"`
	Acked     int `json:"acked"`
	Rejected  int `json:"rejected"`
	// InFlight and Retrying are the placements without a final answer yet; at the end of a run, unresolved.
	InFlight int `json:"in_flight"`
	Retrying int `json:"retrying"`
	// LostAnswers counts the placements of which an attempt got no answer after it may have reached the daemon,
	// and that were retried with the same Idempotency-Key and body; LostThenAcked those that then got their 201,
	// Journaled those whose order had been created before that first attempt failed (the retry was answered with
	// it, as idempotency demands) and CreatedByRetry those that the retry created.
	LostAnswers    int `json:"lost_answers"`
	LostThenAcked  int `json:"lost_then_acked"`
	Journaled      int `json:"journaled_before_the_loss"`
	CreatedByRetry int `json:"created_by_the_retry"`
	Retries        int `json:"retries"`
}

func (l *ledger) counts() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c ledgerCounts
	c.Requested = len(l.recs)
	for _, r := range l.recs {
		switch r.state {
		case reqSending:
			c.InFlight++
		case reqRetrying:
			c.Retrying++
		case reqAcked:
			c.Acked++
		case reqRejected:
			c.Rejected++
		}
		c.Retries += r.attempts - 1
		if r.lostAnswers > 0 {
			c.LostAnswers++
			if r.state == reqAcked {
				c.LostThenAcked++
				if r.createdAt.Before(r.firstLostAt) {
					c.Journaled++
				} else {
					c.CreatedByRetry++
				}
			}
		}
	}
	return c
}

// inFlight counts the placements with an attempt under way.
func (l *ledger) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.state == reqSending {
			n++
		}
	}
	return n
}

// replayCandidates picks up to n acknowledged orders for a replay: the latest acknowledged (the most at risk in a
// crash) first, then some at random.
func (l *ledger) replayCandidates(n int, rng *rand.Rand) []*orderRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*orderRecord
	for i := len(l.recs) - 1; i >= 0 && len(out) < n/2; i-- {
		if l.recs[i].state == reqAcked {
			out = append(out, l.recs[i])
		}
	}
	for tries := 0; len(out) < n && tries < 4*n && len(l.recs) > 0; tries++ {
		if r := l.recs[rng.IntN(len(l.recs))]; r.state == reqAcked {
			out = append(out, r)
		}
	}
	return out
}

// orderService places orders, retries them with the same Idempotency-Key and body until they are answered,
// cancels a share of them and replays some to check idempotency.
type orderService struct {
	client      *simClient
	led         *ledger
	orders      *orderTargeter
	token       string
	cancelShare float64
	viol        *violations

	place, retry, cancel, replay *recorder

	retries retryQueue
	cancels cancelQueue

	// Replays and ReplaysSame count the replays of acknowledged orders and those answered with the same order.
	mu          sync.Mutex
	replays     int
	replaysSame int
}

// placeNew makes the n-th order and places it (a pacer's call).
func (o *orderService) placeNew(ctx context.Context, n uint64) {
	key, ext, body, err := o.orders.order(n)
	if err != nil {
		o.viol.add("generator", "encode an order: %v", err)
		return
	}
	r := &orderRecord{key: key, ext: ext, body: body, attempts: 1}
	o.led.add(r)
	o.attempt(ctx, r, o.place)
}

// attempt sends one attempt of r and acts on its answer.
func (o *orderService) attempt(ctx context.Context, r *orderRecord, rec *recorder) {
	a := o.client.send(ctx, rec, http.MethodPost, "/v1/orders", o.token, http.Header{"Idempotency-Key": {r.key}}, r.body)
	if ctx.Err() != nil {
		o.led.mu.Lock()
		r.state = reqRetrying
		o.led.mu.Unlock()
		return
	}
	res, err := o.led.settle(r, a, time.Now())
	switch {
	case err != nil:
		o.viol.add("bad answer", "%v", err)
	case res == outcomeRetry:
		o.retries.push(r)
	case res == outcomeAcked:
		if o.cancelShare > 0 && rand.Float64() < o.cancelShare {
			// A customer changes their mind 1 to 10 seconds after ordering.
			o.cancels.push(r.id, time.Now().Add(time.Second+rand.N(9*time.Second)))
		}
	}
}

// runRetries sends the placements in the retry queue again, on workers goroutines, until ctx ends.
func (o *orderService) runRetries(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				r, ok := o.retries.pop(ctx)
				if !ok {
					return
				}
				o.led.mu.Lock()
				wait := time.Until(r.nextTry)
				o.led.mu.Unlock()
				if wait > 0 && !sleep(ctx, wait) {
					return
				}
				o.led.mu.Lock()
				r.state, r.attempts = reqSending, r.attempts+1
				o.led.mu.Unlock()
				o.attempt(ctx, r, o.retry)
			}
		})
	}
	wg.Wait()
}

// replayOne places an acknowledged order again with its Idempotency-Key and body: the daemon must answer with
// the same order. Answers a retry may fix are retried for up to 10 s.
func (o *orderService) replayOne(ctx context.Context, r *orderRecord) {
	o.led.mu.Lock()
	key, body, id := r.key, r.body, r.id
	o.led.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := o.client.send(ctx, o.replay, http.MethodPost, "/v1/orders", o.token, http.Header{"Idempotency-Key": {key}}, body)
		if ctx.Err() != nil {
			return
		}
		if a.retryable() && time.Now().Before(deadline) {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		o.mu.Lock()
		o.replays++
		o.mu.Unlock()
		var p placedOrder
		switch {
		case a.code != http.StatusCreated:
			o.viol.add("idempotency", "replay of %s (key %s): %s, want 201 with order %s", r.ext, key, a.problem, id)
		case json.Unmarshal(a.body, &p) != nil || p.ID != id:
			o.viol.add("idempotency", "replay of %s (key %s) answered order %q, want %s", r.ext, key, p.ID, id)
		default:
			o.mu.Lock()
			o.replaysSame++
			o.mu.Unlock()
		}
		return
	}
}

// replayCounts returns the replays made and those answered with the same order.
func (o *orderService) replayCounts() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.replays, o.replaysSame
}

// runCancels cancels the orders in the cancel queue when they are due, until ctx ends. A cancellation refused
// with 409 (the courier has picked the order up) is part of the game; one without an answer is not retried.
func (o *orderService) runCancels(ctx context.Context) {
	for {
		id, ok := o.cancels.pop(ctx)
		if !ok {
			return
		}
		a := o.client.send(ctx, o.cancel, http.MethodPost, "/v1/orders/"+id+"/cancel", o.token, nil, []byte(`{"reason":"customer"}`))
		if a.code == http.StatusOK {
			o.led.observe(a.body, time.Now())
		}
	}
}

// retryQueue holds the placements waiting to be sent again.
type retryQueue struct {
	mu    sync.Mutex
	items []*orderRecord
	wake  chan struct{}
	once  sync.Once
}

func (q *retryQueue) init() { q.once.Do(func() { q.wake = make(chan struct{}, 1) }) }

func (q *retryQueue) push(r *orderRecord) {
	q.init()
	q.mu.Lock()
	q.items = append(q.items, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest item, waiting for one until ctx ends (ok false).
func (q *retryQueue) pop(ctx context.Context) (*orderRecord, bool) {
	q.init()
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			r := q.items[0]
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				// Pass the wake-up on, so that the other workers take the rest.
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return r, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-q.wake:
		}
	}
}

// cancelQueue holds cancellations by the time they are due.
type cancelQueue struct {
	mu   sync.Mutex
	h    cancelHeap
	wake chan struct{}
	once sync.Once
}

type dueCancel struct {
	at time.Time
	id string
}

type cancelHeap []dueCancel

func (h cancelHeap) Len() int           { return len(h) }
func (h cancelHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h cancelHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cancelHeap) Push(x any)        { *h = append(*h, x.(dueCancel)) }
func (h *cancelHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (q *cancelQueue) init() { q.once.Do(func() { q.wake = make(chan struct{}, 1) }) }

func (q *cancelQueue) push(id string, at time.Time) {
	q.init()
	q.mu.Lock()
	heap.Push(&q.h, dueCancel{at, id})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits until the earliest cancellation is due and returns it; ok false when ctx ended first.
func (q *cancelQueue) pop(ctx context.Context) (string, bool) {
	q.init()
	for {
		q.mu.Lock()
		var wait time.Duration = -1
		if len(q.h) > 0 {
			if wait = time.Until(q.h[0].at); wait <= 0 {
				c := heap.Pop(&q.h).(dueCancel)
				q.mu.Unlock()
				return c.id, true
			}
		}
		q.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timeout = t.C
		}
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return "", false
		}
	}
}

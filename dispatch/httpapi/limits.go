package httpapi

import (
	"math"
	"strconv"
	"sync"

	"golang.org/x/time/rate"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Limits protect the daemon from one caller: a token bucket per order-service key and per courier (the admin is
// not limited), and a cap on the streams one caller may hold open.
type Limits struct {
	// OrdersRate and OrdersBurst: requests a second, and the burst, of one order-service key (0: unlimited).
	OrdersRate  float64
	OrdersBurst int
	// CourierRate and CourierBurst: the same for one courier.
	CourierRate  float64
	CourierBurst int
	// StreamsPerCaller bounds the streams (courier route, order events) one key or courier holds open at once
	// (0: unlimited).
	StreamsPerCaller int
}

// DefaultLimits are generous for a real caller and still stop a runaway one: 5 000 requests a second per order
// service (burst 10 000), 50 per courier (burst 100), 8 streams each.
func DefaultLimits() Limits {
	return Limits{OrdersRate: 5000, OrdersBurst: 10000, CourierRate: 50, CourierBurst: 100, StreamsPerCaller: 8}
}

type limiter struct {
	cfg Limits

	mu      sync.Mutex
	buckets map[service.Principal]*rate.Limiter
	streams map[service.Principal]int
}

func newLimiter(cfg Limits) *limiter {
	return &limiter{cfg: cfg, buckets: map[service.Principal]*rate.Limiter{}, streams: map[service.Principal]int{}}
}

// allow takes a token for the caller, or returns the 429 to answer. The buckets live as long as the daemon:
// there is one per key or courier, and those are few.
func (l *limiter) allow(p service.Principal) error {
	var r float64
	var burst int
	switch p.Role {
	case orders:
		r, burst = l.cfg.OrdersRate, l.cfg.OrdersBurst
	case courier:
		r, burst = l.cfg.CourierRate, l.cfg.CourierBurst
	}
	if r <= 0 {
		return nil
	}
	l.mu.Lock()
	b, ok := l.buckets[p]
	if !ok {
		b = rate.NewLimiter(rate.Limit(r), max(burst, 1))
		l.buckets[p] = b
	}
	l.mu.Unlock()
	if b.Allow() {
		return nil
	}
	return &rateLimited{retryAfter: int(math.Ceil(1 / r))}
}

// openStream counts a stream the caller opens; done must be called when it ends.
func (l *limiter) openStream(p service.Principal) (done func(), err error) {
	if l.cfg.StreamsPerCaller <= 0 || p.Role == admin {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams[p] >= l.cfg.StreamsPerCaller {
		return nil, &rateLimited{retryAfter: 5, msg: "too many open streams for this caller; close one first"}
	}
	l.streams[p]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.streams[p]--; l.streams[p] <= 0 {
				delete(l.streams, p)
			}
		})
	}, nil
}

// rateLimited is a 429 with its Retry-After.
type rateLimited struct {
	retryAfter int
	msg        string
}

func (e *rateLimited) Error() string { return e.appError().Error() }

func (e *rateLimited) appError() *dispatch.Error {
	msg := e.msg
	if msg == "" {
		msg = "too many requests from this caller; retry after " + strconv.Itoa(max(e.retryAfter, 1)) + " s"
	}
	return &dispatch.Error{Code: dispatch.ERateLimited, Message: msg}
}

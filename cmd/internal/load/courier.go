package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// routeStop and routeView are a courier's route as GET /v1/courier/route and the stream show it.
type routeStop struct {
	Kind     string   `json:"kind"`
	OrderID  string   `json:"order_id"`
	Location location `json:"location"`
}

type routeView struct {
	CourierID string      `json:"courier_id"`
	Version   uint64      `json:"version"`
	Stops     []routeStop `json:"stops"`
}

// simCourier is one simulated courier: where it is (moving in straight lines at its vehicle's speed times the
// time scale) and the latest route its stream brought.
type simCourier struct {
	id       string
	token    string
	speedMPS float64
	// routes holds the latest route from the stream, newest wins; only the stream reader sends to it.
	routes chan routeView
	// seen is the highest route version this courier has been shown, by the stream or a GET; seenHow says how,
	// when and what (guarded by mu), for the report of a version that goes back.
	seen    atomic.Uint64
	seenHow string

	// online is done once the courier's stream is open and its first route read: the measured load starts when
	// the whole fleet is (see drive.run).
	online sync.Once

	mu       sync.Mutex
	from, to location
	legStart time.Time
	legDur   time.Duration
}

func newSimCourier(site courierSite, speedMPS float64) *simCourier {
	return &simCourier{id: site.id, token: site.token, speedMPS: speedMPS, routes: make(chan routeView, 1),
		from: site.loc, to: site.loc}
}

// position is where the courier is at now: on its current leg, or at its end.
func (c *simCourier) position(now time.Time) location {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.positionLocked(now)
}

func (c *simCourier) positionLocked(now time.Time) location {
	if c.legDur <= 0 {
		return c.to
	}
	f := min(max(now.Sub(c.legStart).Seconds()/c.legDur.Seconds(), 0), 1)
	return location{Lat: c.from.Lat + (c.to.Lat-c.from.Lat)*f, Lon: c.from.Lon + (c.to.Lon-c.from.Lon)*f}
}

// head sets off from where the courier is towards to and returns how long the way takes.
func (c *simCourier) head(to location, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	here := c.positionLocked(now)
	c.from, c.to, c.legStart = here, to, now
	c.legDur = time.Duration(distanceM(here, to) / c.speedMPS * float64(time.Second))
	return c.legDur
}

// halt stops the courier where it is.
func (c *simCourier) halt(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	here := c.positionLocked(now)
	c.from, c.to, c.legDur = here, here, 0
}

// noteVersion raises the highest route version seen to r's; how says where it came from.
func (c *simCourier) noteVersion(r routeView, how string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Version > c.seen.Load() {
		c.seen.Store(r.Version)
		c.seenHow = how + ", " + describeStops(r.Stops)
	}
}

// seenDescription says how the highest version seen was seen.
func (c *simCourier) seenDescription() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seenHow
}

// describeStops writes a route's stops as kind:order, in order.
func describeStops(stops []routeStop) string {
	var b strings.Builder
	b.WriteString("stops [")
	for i, s := range stops {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Kind + ":" + s.OrderID)
	}
	b.WriteByte(']')
	return b.String()
}

// offer hands a route from the stream to the courier's loop, replacing one it has not taken yet.
func (c *simCourier) offer(r routeView) {
	select {
	case <-c.routes:
	default:
	}
	c.routes <- r
}

// fleet is what the simulated couriers share: the client, the ledger (a courier waits at the store until the
// order's ready_at that its 201 gave, and a route is checked against what the daemon acknowledged), and the
// records of their requests.
type fleet struct {
	client *simClient
	// streams is the client for the route streams, which have no overall timeout.
	streams *http.Client
	led     *ledger
	viol    *violations

	actions, routes, connects *recorder

	// epoch counts the kills so far (crash mode), and started is the start of the load: both only describe, in a
	// violation, when a route was seen.
	epoch   atomic.Int64
	started time.Time

	// connected counts down as couriers come online (stream open and first route read).
	connected sync.WaitGroup

	// pickedUp and delivered count the couriers' acknowledged hand-overs; deliveredUnanswered the deliveries
	// sent whose answer never came (cut by a timeout, or by the end of the run while in flight), which the daemon
	// may have taken.
	pickedUp            atomic.Int64
	delivered           atomic.Int64
	deliveredUnanswered atomic.Int64
}

// courierStale: a courier acting on an order the dispatcher has just moved to another route, or that was
// cancelled, gets 404 or 409; the next route it reads says what to do instead.
func courierStale(code int) bool { return code == http.StatusNotFound || code == http.StatusConflict }

// run is a courier's working loop until ctx ends: read the route, accept what is new on it, ride to the first
// stop, arrive, wait until the order is ready and pick it up, or hand it over, and read the route again.
func (f *fleet) run(ctx context.Context, c *simCourier) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { f.follow(ctx, c) })

	accepted := map[string]bool{}
	route, ok := f.fetchRoute(ctx, c)
	failures := 0
	for ok && ctx.Err() == nil {
		select {
		case r := <-c.routes:
			if r.Version > route.Version {
				route = r
			}
		default:
		}
		accepted = f.acceptNew(ctx, c, route, accepted)
		if len(route.Stops) == 0 {
			c.halt(time.Now())
			if route, ok = f.waitRoute(ctx, c, route, -1); !ok {
				return
			}
			continue
		}
		stop := route.Stops[0]
		if d := c.head(stop.Location, time.Now()); d > 0 {
			r, changed := f.waitRoute(ctx, c, route, d)
			if ctx.Err() != nil {
				return
			}
			if changed {
				c.halt(time.Now())
				route = r
				continue
			}
		}
		done := f.serve(ctx, c, stop, &route)
		if ctx.Err() != nil {
			return
		}
		if done {
			failures = 0
		} else {
			// Back off after a refusal or a failure: the daemon may be restarting, and a route that keeps offering
			// an impossible stop must not spin.
			failures++
			if !sleep(ctx, min(50*time.Millisecond<<min(failures, 6), 2*time.Second)) {
				return
			}
		}
		route, ok = f.fetchRoute(ctx, c)
	}
}

// serve does what the courier does on arriving at stop. It returns false when the daemon refused or failed an
// action; route is replaced when a new one came while waiting for the order to be ready.
func (f *fleet) serve(ctx context.Context, c *simCourier, stop routeStop, route *routeView) bool {
	if f.act(ctx, c, "arrived", stop.OrderID) != actOK {
		return false
	}
	if stop.Kind != "pickup" {
		return f.act(ctx, c, "delivered", stop.OrderID) == actOK
	}
	if ready, ok := f.led.readyAt(stop.OrderID); ok {
		for wait := time.Until(ready); wait > 0; wait = time.Until(ready) {
			r, changed := f.waitRoute(ctx, c, *route, wait)
			if ctx.Err() != nil {
				return false
			}
			if changed {
				*route = r
				if len(r.Stops) == 0 || r.Stops[0] != stop {
					return true // the plan changed while waiting at the store; follow the new one
				}
			}
		}
	}
	return f.act(ctx, c, "picked_up", stop.OrderID) == actOK
}

// waitRoute waits for a route newer than route for up to d (d < 0: without limit). It returns the new route and
// true, or route and false when the time ran out or ctx ended.
func (f *fleet) waitRoute(ctx context.Context, c *simCourier, route routeView, d time.Duration) (routeView, bool) {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return route, false
		case <-timeout:
			return route, false
		case r := <-c.routes:
			if r.Version > route.Version {
				return r, true
			}
		}
	}
}

// acceptNew accepts every order on the route not accepted yet, and returns the orders accepted that are still on
// it.
func (f *fleet) acceptNew(ctx context.Context, c *simCourier, route routeView, accepted map[string]bool) map[string]bool {
	now := make(map[string]bool, len(route.Stops))
	for _, s := range route.Stops {
		if now[s.OrderID] {
			continue
		}
		if accepted[s.OrderID] || f.act(ctx, c, "accept", s.OrderID) == actOK {
			now[s.OrderID] = true
		}
	}
	return now
}

type actResult int

const (
	actOK actResult = iota
	actStale
	actFailed
)

// act posts one courier action and notes the order's status from the answer.
func (f *fleet) act(ctx context.Context, c *simCourier, action, orderID string) actResult {
	a := f.client.send(ctx, f.actions, http.MethodPost, "/v1/courier/orders/"+orderID+"/"+action, c.token, nil, nil)
	switch {
	case a.problem == "":
		f.led.observe(a.body, time.Now())
		switch action {
		case "picked_up":
			f.pickedUp.Add(1)
		case "delivered":
			f.delivered.Add(1)
		}
		return actOK
	case courierStale(a.code):
		return actStale
	default:
		if action == "delivered" && a.code == 0 {
			f.deliveredUnanswered.Add(1)
		}
		return actFailed
	}
}

// fetchRoute reads the courier's route with GET /v1/courier/route, trying again until it gets it or ctx ends,
// and checks it against what the daemon acknowledged before the request: the version may not go back, and no
// stop may be for an order acknowledged delivered, cancelled or failed, nor a pick-up for one acknowledged picked
// up.
func (f *fleet) fetchRoute(ctx context.Context, c *simCourier) (routeView, bool) {
	for failures := 0; ; failures++ {
		seenBefore, sentAt := c.seen.Load(), time.Now()
		a := f.client.send(ctx, f.routes, http.MethodGet, "/v1/courier/route", c.token, nil, nil)
		var r routeView
		if a.problem == "" && json.Unmarshal(a.body, &r) == nil {
			how := f.when("GET", sentAt)
			if r.Version < seenBefore {
				f.viol.add("route version", "courier %s: route version %d (%s, %s) after version %d had been shown (%s)", c.id,
					r.Version, how, describeStops(r.Stops), seenBefore, c.seenDescription())
			}
			c.noteVersion(r, how)
			f.checkRoute(c.id, r, sentAt)
			return r, true
		}
		if !sleep(ctx, min(100*time.Millisecond<<min(failures, 5), 2*time.Second)) {
			return routeView{}, false
		}
	}
}

// when describes a route read: how, when since the start of the load, and after how many kills.
func (f *fleet) when(how string, at time.Time) string {
	return fmt.Sprintf("%s at +%.3fs after %d kills", how, at.Sub(f.started).Seconds(), f.epoch.Load())
}

// checkRoute flags the stops of a route read at sentAt that contradict what the daemon had acknowledged before.
func (f *fleet) checkRoute(courierID string, r routeView, sentAt time.Time) {
	for _, s := range r.Stops {
		status, at, ok := f.led.acknowledgedAt(s.OrderID)
		if !ok || !at.Before(sentAt) {
			continue
		}
		switch {
		case statusRank(status) == 2:
			f.viol.add("route", "courier %s: route version %d holds a %s stop for order %s, acknowledged %s", courierID,
				r.Version, s.Kind, s.OrderID, status)
		case status == "picked_up" && s.Kind == "pickup":
			f.viol.add("route", "courier %s: route version %d holds a pickup stop for order %s, acknowledged picked up",
				courierID, r.Version, s.OrderID)
		}
	}
}

// follow keeps the courier's route stream open until ctx ends, reconnecting with Last-Event-ID after a failure
// (the daemon restarting, say), and hands every route it brings to the courier's loop.
func (f *fleet) follow(ctx context.Context, c *simCourier) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if f.readStream(ctx, c) {
			backoff = 100 * time.Millisecond
		} else {
			backoff = min(2*backoff, 2*time.Second)
		}
		// Jitter, so that a thousand couriers do not reconnect in the same millisecond after a restart.
		if !sleep(ctx, backoff/2+rand.N(backoff/2+1)) {
			return
		}
	}
}

// readStream reads one connection of the route stream until it ends; it reports whether it connected.
func (f *fleet) readStream(ctx context.Context, c *simCourier) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.client.base+"/v1/courier/stream", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if v := c.seen.Load(); v > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(v, 10))
	}
	start := time.Now()
	resp, err := f.streams.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			f.connects.add(start, time.Since(start), 0, err.Error())
		}
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		f.connects.add(start, time.Since(start), resp.StatusCode, answerError(resp.StatusCode, b, ""))
		return false
	}
	f.connects.add(start, time.Since(start), resp.StatusCode, "")
	c.online.Do(f.connected.Done)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if event == "route" && len(data) > 0 {
				var r routeView
				if json.Unmarshal(data, &r) == nil {
					c.noteVersion(r, f.when("stream", time.Now()))
					c.offer(r)
				}
			}
			event, data = "", data[:0]
		case bytes.HasPrefix(line, []byte("event:")):
			event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimSpace(line[len("data:"):])...)
		}
	}
	return true
}

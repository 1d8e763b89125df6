package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// fakeClock is a clock that tests move by hand; it starts at a fixed moment so that runs are comparable.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

type harness struct {
	t     *testing.T
	d     *Daemon
	dir   string
	clock *fakeClock
	stop  context.CancelFunc
	done  chan error
}

// start opens a daemon on dir and runs its loop. Rounds run only when the test asks (the interval is an hour).
// testSegmentBytes is the size of the journal segments of the daemons the tests start: room for a test's records
// in one segment with zeros after them, as at the default size, without reading 128 MiB of zeros (the segment and
// the spare) at every start, which the race detector makes take seconds.
const testSegmentBytes = 1 << 20

func start(t *testing.T, dir string, clock *fakeClock, mutate func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.DispatchInterval = time.Hour
	cfg.Now = clock.Now
	cfg.Engine.PostponeSlack = 0 // assign at once: the tests want routes
	cfg.JournalSegmentBytes = testSegmentBytes
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, d: d, dir: dir, clock: clock, stop: cancel, done: make(chan error, 1)}
	go func() { h.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		select {
		case <-d.Done():
		default:
			cancel()
			<-h.done // a test that broke the disk gets its error here; it has checked what it needed
		}
	})
	return h
}

// close stops gracefully.
func (h *harness) close() {
	h.t.Helper()
	h.stop()
	if err := <-h.done; err != nil {
		h.t.Fatal(err)
	}
}

// crash stops the loop with no checkpoint and closes the journal, as a killed process would leave it (what was
// not yet synced may or may not be there; nothing acknowledged may be missing).
func (h *harness) crash() {
	h.t.Helper()
	close(h.d.kill)
	<-h.done
	h.d.jnl().Close()
	h.d.events.Close()
	h.d.unlock()
}

var ctx = context.Background()

// city registers two stores, two couriers on shift and an order-service key.
func (h *harness) city() (keyID string) {
	t := h.t
	t.Helper()
	for i, loc := range []service.Location{{Lat: 31.2304, Lon: 121.4737}, {Lat: 31.2404, Lon: 121.4837}} {
		if _, _, err := h.d.PutStore(ctx, service.StoreInput{ID: fmt.Sprintf("s%d", i), Location: loc, PrepSeconds: 300}); err != nil {
			t.Fatal(err)
		}
	}
	for i, loc := range []service.Location{{Lat: 31.2310, Lon: 121.4740}, {Lat: 31.2400, Lon: 121.4830}} {
		id := fmt.Sprintf("c%d", i)
		if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: id, Vehicle: "ebike", Capacity: 3}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.d.SetShift(ctx, id, true, &loc, nil); err != nil {
			t.Fatal(err)
		}
	}
	k, _, err := h.d.CreateAPIKey(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

func orderIn(store string, lat, lon float64) service.OrderInput {
	return service.OrderInput{StoreID: store, Dropoff: service.Location{Lat: lat, Lon: lon}, Customer: json.RawMessage(`{"name":"Wang"}`)}
}

func TestIdempotentPlacement(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	in := orderIn("s0", 31.25, 121.49)
	body, err := orderJSON(h.d.PlaceOrder(ctx, shop, "k1", []byte("hash-a"), in))
	if err != nil {
		t.Fatalf("first placement: %v", err)
	}
	h.clock.Advance(time.Minute)
	body2, err := orderJSON(h.d.PlaceOrder(ctx, shop, "k1", []byte("hash-a"), in))
	if err != nil || string(body2) != string(body) {
		t.Fatalf("retry with the same key and body: %s %v; want the first answer %s", body2, err, body)
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 1 {
		t.Fatalf("%d pending orders after a retry, want 1", n)
	}
	_, err = h.d.PlaceOrder(ctx, shop, "k1", []byte("hash-b"), orderIn("s1", 31.25, 121.49))
	if dispatch.ErrorCodeOf(err) != dispatch.EIdempotencyMismatch {
		t.Fatalf("same key, other body: %v, want %s", err, dispatch.EIdempotencyMismatch)
	}
	// Keys belong to their caller: another service's "k1" is its own.
	if _, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: "other"}, "k1", []byte("hash-a"), in); err != nil {
		t.Fatal(err)
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 2 {
		t.Fatalf("%d pending orders, want 2", n)
	}
}

func TestExternalIDIsUnique(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	in := orderIn("s0", 31.25, 121.49)
	in.ExternalID = "shop-1"
	if _, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "a", []byte("x"), in); err != nil {
		t.Fatal(err)
	}
	_, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "b", []byte("x"), in)
	var e *dispatch.Error
	if !errors.As(err, &e) || e.Code != dispatch.EConflict || e.Field != "external_id" {
		t.Fatalf("duplicate external_id: %v, want conflict on external_id", err)
	}
}

func TestPlacementErrors(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	ten := 10
	past := h.clock.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name  string
		in    service.OrderInput
		code  dispatch.ErrorCode
		field string
	}{
		{"UnknownStore", orderIn("nowhere", 31.25, 121.49), dispatch.EUnservable, "store_id"},
		{"LatOutOfRange", orderIn("s0", 91, 121.49), dispatch.EInvalid, "dropoff.lat"},
		{"PromiseTooShort", func() service.OrderInput { in := orderIn("s0", 31.25, 121.49); in.PromiseSeconds = &ten; return in }(), dispatch.EInvalid, "promise_seconds"},
		{"DeliverByInThePast", func() service.OrderInput { in := orderIn("s0", 31.25, 121.49); in.DeliverBy = &past; return in }(), dispatch.EInvalid, "deliver_by"},
		{"CustomerNotAnObject", func() service.OrderInput {
			in := orderIn("s0", 31.25, 121.49)
			in.Customer = json.RawMessage(`"x"`)
			return in
		}(), dispatch.EInvalid, "customer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.d.PlaceOrder(ctx, shop, "", nil, tc.in)
			var e *dispatch.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("got %v, want %s on %s", err, tc.code, tc.field)
			}
		})
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 0 {
		t.Fatalf("%d orders after refused placements, want 0", n)
	}
}

// fullLifecycle drives a small day: orders placed, dispatched, accepted, picked up, delivered, failed, cancelled,
// a decline, positions, a key revoked. It returns the ids of the orders.
func (h *harness) fullLifecycle(key string) []string {
	t := h.t
	t.Helper()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	var ids []string
	for i := range 6 {
		in := orderIn(fmt.Sprintf("s%d", i%2), 31.235+0.002*float64(i), 121.478+0.002*float64(i))
		in.ExternalID = fmt.Sprintf("ext-%d", i)
		body, err := orderJSON(h.d.PlaceOrder(ctx, shop, fmt.Sprintf("idem-%d", i), []byte{byte(i)}, in))
		if err != nil {
			t.Fatal(err)
		}
		var o service.Order
		json.Unmarshal(body, &o)
		ids = append(ids, o.ID)
		h.clock.Advance(10 * time.Second)
		if err := h.d.ReportLocation(ctx, "c0", service.Location{Lat: 31.2312 + 0.0001*float64(i), Lon: 121.4741}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// A courier takes one bundle per round: a few rounds place the first orders.
	for range 3 {
		if err := h.d.DispatchNow(ctx); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Second)
	}
	act := func(orderID, action, reason string) {
		t.Helper()
		o, _ := h.d.View().Order(orderID)
		if _, err := h.d.CourierAction(ctx, o.CourierID, orderID, action, reason); err != nil {
			t.Fatalf("%s %s by %s: %v", action, orderID, o.CourierID, err)
		}
		h.clock.Advance(30 * time.Second)
	}
	for _, id := range ids[:3] {
		if o, _ := h.d.View().Order(id); o.Status != "assigned" {
			t.Fatalf("order %s is %s after a round with idle couriers near, want assigned", id, o.Status)
		}
	}
	act(ids[0], "accept", "")
	act(ids[0], "arrived", "")
	act(ids[0], "picked_up", "")
	act(ids[0], "arrived", "")
	act(ids[0], "delivered", "")
	act(ids[1], "arrived", "")
	act(ids[1], "picked_up", "")
	act(ids[1], "arrived", "")
	act(ids[1], "failed", "nobody home")
	act(ids[2], "decline", "flat tyre")
	if _, err := h.d.CancelOrder(ctx, ids[3], "customer"); err != nil {
		t.Fatal(err)
	}
	if err := h.d.ReportLocation(ctx, "c1", service.Location{Lat: 31.2401, Lon: 121.4831}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	k2, _, err := h.d.CreateAPIKey(ctx, "old-shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.RevokeAPIKey(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	return ids
}

// stateOf is everything a reader can see, plus the engine's whole state, as JSON.
// orderJSON is the order a placement answered, as the API writes it.
func orderJSON(o *service.Order, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(o)
}

func stateOf(t *testing.T, d *Daemon) string {
	t.Helper()
	v := d.view.Load()
	var orders, couriers, routes []any
	for _, k := range v.orders.SortedKeys() {
		o, _ := v.Order(k)
		orders = append(orders, o)
	}
	for _, c := range v.Couriers("") {
		couriers = append(couriers, c)
		r, _ := v.Route(c.ID)
		routes = append(routes, r)
	}
	var principals []string
	for _, k := range v.principals.SortedKeys() {
		p, _ := v.principals.Get(k)
		principals = append(principals, fmt.Sprintf("%x=%s/%s", k, p.Role, p.ID))
	}
	events := allEvents(t, d)
	res := make(chan string, 1)
	d.do(ctx, func(time.Time) (any, uint64, error) {
		b, _ := json.Marshal(d.eng.Export())
		res <- string(b)
		return nil, 0, nil
	})
	stock := make(chan map[string]*service.Store, 1)
	d.do(ctx, func(now time.Time) (any, uint64, error) {
		m := map[string]*service.Store{}
		for _, k := range d.st.stores.SortedKeys() {
			sv, _ := d.st.stores.Get(k)
			m[k] = d.withStock(sv, now)
		}
		stock <- m
		return nil, 0, nil
	})
	b, err := json.MarshalIndent(map[string]any{
		"stock":  <-stock,
		"orders": orders, "couriers": couriers, "routes": routes, "stores": v.Stores(), "keys": v.APIKeys(),
		"principals": principals, "by_status": v.OrdersByStatus(), "couriers_by_status": v.CouriersByStatus(),
		"engine": json.RawMessage(<-res), "events": events,
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecoveryAfterACrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		ckpt int
	}{{"JournalOnly", 1_000_000}, {"CheckpointsOnTheWay", 7}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, clock := t.TempDir(), newFakeClock()
			h := start(t, dir, clock, func(c *Config) { c.CheckpointRecords = tc.ckpt })
			key := h.city()
			ids := h.fullLifecycle(key)
			// Checkpoints are taken after rounds when enough records piled up.
			h.d.ckptWG.Wait()
			want := stateOf(t, h.d)
			h.crash()

			h2 := start(t, dir, clock, func(c *Config) { c.CheckpointRecords = tc.ckpt })
			if got := stateOf(t, h2.d); got != want {
				t.Fatalf("state after recovery differs:\n%s", firstDiff(want, got))
			}
			// Idempotency keys survive: the retry of an order placed before the crash gets the same answer.
			h2.retryLifecycleOrder(key, ids)
			// And it keeps dispatching.
			clock.Advance(time.Minute)
			if err := h2.d.DispatchNow(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// retryLifecycleOrder places again fullLifecycle's fifth order with its idempotency key and requires the answer to
// be the order first placed.
func (h *harness) retryLifecycleOrder(key string, ids []string) {
	h.t.Helper()
	body, err := orderJSON(h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "idem-4", []byte{4}, service.OrderInput{StoreID: "s0", Dropoff: service.Location{Lat: 31.243, Lon: 121.486}}))
	if err != nil {
		h.t.Fatal(err)
	}
	var o service.Order
	json.Unmarshal(body, &o)
	if o.ID != ids[4] {
		h.t.Fatalf("retry after restart placed %s, want the original %s", o.ID, ids[4])
	}
}

func TestGracefulStopLeavesNothingToReplay(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	h.fullLifecycle(h.city())
	want := stateOf(t, h.d)
	h.close()
	h2 := start(t, dir, clock, nil)
	if h2.d.replayed != 0 {
		t.Fatalf("%d records replayed after a graceful stop, want 0 (the final checkpoint covers them)", h2.d.replayed)
	}
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after a graceful restart differs:\n%s", firstDiff(want, got))
	}
}

func firstDiff(a, b string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(i-300, 0)
			return fmt.Sprintf("want …%s…\ngot  …%s…", a[lo:min(i+200, len(a))], b[lo:min(i+200, len(b))])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

func TestQueueFullAnswersOverloaded(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), func(c *Config) { c.QueueSize = 2 })
	block, entered := make(chan struct{}), make(chan struct{})
	go h.d.do(ctx, func(time.Time) (any, uint64, error) {
		close(entered)
		<-block
		return nil, 0, nil
	})
	<-entered
	// The loop is busy: two requests fill the queue, the third is refused at once.
	for range 2 {
		go h.d.do(ctx, func(time.Time) (any, uint64, error) { return nil, 0, nil })
	}
	for len(h.d.queue) < 2 {
		time.Sleep(time.Millisecond)
	}
	_, _, err := h.d.CreateAPIKey(ctx, "x")
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("request on a full queue: %v, want ErrOverloaded", err)
	}
	close(block)
	for len(h.d.queue) > 0 {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := h.d.CreateAPIKey(ctx, "y"); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
}

func TestFailedDiskRefusesAndShowsNothingUndurable(t *testing.T) {
	var broken atomic.Bool
	h := start(t, t.TempDir(), newFakeClock(), func(c *Config) {
		c.FailCommit = func() error {
			if broken.Load() {
				return errors.New("no space left on device")
			}
			return nil
		}
	})
	key := h.city()
	broken.Store(true)
	_, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.25, 121.49))
	if dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("placement on a failed disk: %v, want unavailable", err)
	}
	if n := h.d.View().OrdersByStatus()["pending"]; n != 0 {
		t.Fatalf("a reader sees %d orders that never reached the disk", n)
	}
	if h.d.Ready() {
		t.Fatal("ready with a failed journal")
	}
	if _, _, err := h.d.CreateAPIKey(ctx, "later"); dispatch.ErrorCodeOf(err) != dispatch.EUnavailable {
		t.Fatalf("a write after the disk failed: %v, want unavailable", err)
	}
}

// A write's caller is answered once, when its record is durable and a snapshot holding it is published: the loop
// holds the reply meanwhile rather than waking the caller to wait again for the disk.
func TestWriteAnsweredWhenDurableAndVisible(t *testing.T) {
	var holding atomic.Bool
	release := make(chan struct{})
	h := start(t, t.TempDir(), newFakeClock(), func(c *Config) {
		c.FailCommit = func() error {
			if holding.Load() {
				<-release
			}
			return nil
		}
	})
	key := h.city()
	holding.Store(true)
	type placed struct {
		v   *service.Order
		err error
	}
	answered := make(chan placed, 1)
	go func() {
		v, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.25, 121.49))
		answered <- placed{v, err}
	}()
	held := func() int {
		h.d.pubMu.Lock()
		defer h.d.pubMu.Unlock()
		return len(h.d.held)
	}
	for held() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case p := <-answered:
		t.Fatalf("answered before its record was durable: %+v", p)
	case <-time.After(20 * time.Millisecond):
	}
	holding.Store(false)
	close(release)
	p := <-answered
	if p.err != nil {
		t.Fatal(p.err)
	}
	if _, ok := h.d.View().Order(p.v.ID); !ok {
		t.Fatalf("order %s answered but not in the published snapshot", p.v.ID)
	}
	if n := held(); n != 0 {
		t.Fatalf("%d replies still held after the commit", n)
	}
}

func TestCourierWaitsForItsFirstPosition(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	h.city()
	if _, _, _, err := h.d.PutCourier(ctx, service.CourierInput{ID: "new", Capacity: 2}, false); err != nil {
		t.Fatal(err)
	}
	v, err := h.d.SetShift(ctx, "new", true, nil, nil)
	if err != nil || v.Status != service.CourierAwaitingLocation {
		t.Fatalf("online without a position: %+v %v, want %s", v, err, service.CourierAwaitingLocation)
	}
	if err := h.d.ReportLocation(ctx, "new", service.Location{Lat: 31.23, Lon: 121.47}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.d.View().Courier("new"); c.Status != service.CourierIdle || c.Location == nil {
		t.Fatalf("after its first position: %+v, want idle with a location", c)
	}
	if err := h.d.ReportLocation(ctx, "ghost", service.Location{Lat: 31.23, Lon: 121.47}, time.Time{}); dispatch.ErrorCodeOf(err) != dispatch.ENotFound {
		t.Fatalf("position of an unknown courier: %v, want not_found", err)
	}
}

func TestCourierActsOnlyOnItsOwnOrders(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	body, err := orderJSON(h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.235, 121.478)))
	if err != nil {
		t.Fatal(err)
	}
	var o service.Order
	json.Unmarshal(body, &o)
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.d.View().Order(o.ID)
	other := "c0"
	if got.CourierID == "c0" {
		other = "c1"
	}
	if _, err := h.d.CourierAction(ctx, other, o.ID, "picked_up", ""); dispatch.ErrorCodeOf(err) != dispatch.ENotFound {
		t.Fatalf("another courier's order: %v, want not_found", err)
	}
	if _, err := h.d.CourierAction(ctx, got.CourierID, o.ID, "delivered", ""); dispatch.ErrorCodeOf(err) != dispatch.EConflict {
		t.Fatalf("delivered before picked up: %v, want conflict", err)
	}
	if _, err := h.d.CourierAction(ctx, got.CourierID, o.ID, "picked_up", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.CancelOrder(ctx, o.ID, "customer"); dispatch.ErrorCodeOf(err) != dispatch.EConflict {
		t.Fatalf("cancel after pick-up: %v, want conflict", err)
	}
}

func TestStreamIsWokenByRouteChanges(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	key := h.city()
	subs := []*Subscription{h.d.streams.subscribe("c0"), h.d.streams.subscribe("c1")}
	defer subs[0].Close()
	defer subs[1].Close()
	if _, err := h.d.PlaceOrder(ctx, service.Principal{Role: service.RoleOrders, ID: key}, "", nil, orderIn("s0", 31.235, 121.478)); err != nil {
		t.Fatal(err)
	}
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	woken := 0
	for _, s := range subs {
		select {
		case <-s.Wake():
			woken++
			r, _ := h.d.View().Route(s.courier)
			if len(r.Stops) != 2 || r.Version == 0 {
				t.Fatalf("woken courier %s has route %+v, want the new order's two stops", s.courier, r)
			}
		default:
		}
	}
	if woken != 1 {
		t.Fatalf("%d streams woken, want exactly the courier that got the order", woken)
	}
}

// TestIntakeDuringARound holds a dispatch round open: placements are answered while it runs, a courier's action
// waits for it, and everything lands in the engine in journal order, so a replay rebuilds the same state.
// firstAssigned sets up the city and places one order, assigned by a round; it returns the order service, the
// order and its courier.
func (h *harness) firstAssigned() (service.Principal, service.Order, string) {
	h.t.Helper()
	shop := service.Principal{Role: service.RoleOrders, ID: h.city()}
	body, err := orderJSON(h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.235, 121.478)))
	if err != nil {
		h.t.Fatal(err)
	}
	var first service.Order
	json.Unmarshal(body, &first)
	if err := h.d.DispatchNow(ctx); err != nil {
		h.t.Fatal(err)
	}
	o, _ := h.d.View().Order(first.ID)
	if o.CourierID == "" {
		h.t.Fatal("the first order was not assigned")
	}
	return shop, first, o.CourierID
}

// holdRound starts a round on its own goroutine, as the ticker does, and holds it open until release is closed.
func (h *harness) holdRound() (release chan struct{}) {
	h.t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	h.d.do(ctx, func(time.Time) (any, uint64, error) {
		h.d.beforeRound = func() { close(entered); <-release }
		h.d.tick()
		h.d.beforeRound = nil
		return nil, 0, nil
	})
	<-entered
	return release
}

// holdExport starts a checkpoint and holds its export of the engine open until release is closed.
func (h *harness) holdExport() (release chan struct{}) {
	h.t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	h.d.do(ctx, func(time.Time) (any, uint64, error) {
		h.d.beforeExport = func() { close(entered); <-release }
		err := h.d.checkpoint(false)
		h.d.beforeExport = nil
		return nil, 0, err
	})
	<-entered
	return release
}

// acceptServed sends a courier's accept while a round plans or a checkpoint exports (said by while), held open
// until release is closed, and requires it to be served meanwhile; then it closes release.
func (h *harness) acceptServed(courier, orderID, while string, release chan struct{}) {
	h.t.Helper()
	if _, err := h.d.CourierAction(ctx, courier, orderID, "accept", ""); err != nil {
		h.t.Fatalf("an accept while %s: %v", while, err)
	}
	close(release)
}

// waitRound waits until no round is planning and the last one's decision is applied, durable and published.
func (h *harness) waitRound() {
	h.t.Helper()
	for {
		planning := make(chan bool, 1)
		h.d.do(ctx, func(time.Time) (any, uint64, error) {
			planning <- h.d.planning
			return nil, h.d.jnl().LastSeq(), nil
		})
		if !<-planning {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIntakeDuringARound(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	shop, first, courier := h.firstAssigned()

	// Start a round on its own goroutine, as the ticker does, and hold it open.
	clock.Advance(time.Second)
	release := h.holdRound()

	for i := range 3 {
		body, err := orderJSON(h.d.PlaceOrder(ctx, shop, fmt.Sprintf("during-%d", i), []byte{byte(i)}, orderIn("s1", 31.245, 121.488)))
		if err != nil {
			t.Fatal(err)
		}
		var o service.Order
		json.Unmarshal(body, &o)
		if v, ok := h.d.View().Order(o.ID); !ok || v.Status != "pending" {
			t.Fatalf("order placed during a round: %+v, want it readable and pending", v)
		}
	}
	// Positions keep coming in while the round runs: far more than the position queue holds, none refused.
	before, _ := h.d.View().Courier("c0")
	sendStart := time.Now()
	for i := range 3 * cap(h.d.pings) {
		c := fmt.Sprintf("c%d", i%2)
		for {
			err := h.d.QueueLocation(c, service.Location{Lat: 31.2311 + 1e-7*float64(i), Lon: 121.474}, time.Time{})
			if err == nil {
				break
			}
			if !errors.Is(err, ErrOverloaded) {
				t.Fatal(err)
			}
			// The loop drains the queue into its held positions; only a burst faster than that is refused, and
			// never for long.
			if time.Since(sendStart) > 10*time.Second {
				t.Fatal("positions refused for 10 s while a round ran: the loop does not take them")
			}
			time.Sleep(time.Millisecond)
		}
	}
	h.acceptServed(courier, first.ID, "the round planned", release)
	// The positions were taken as they came: once the queue is drained, the last of each courier is applied.
	for len(h.d.pings) > 0 {
		time.Sleep(time.Millisecond)
	}
	h.waitRound()
	last := 3*cap(h.d.pings) - 2
	if c, _ := h.d.View().Courier("c0"); c.Location == nil || c.Location.Lat != 31.2311+1e-7*float64(last) || *c.Location == *before.Location {
		t.Fatalf("c0 after the round: %+v, want its last position, taken while the round planned", c.Location)
	}
	// The placements reached the engine at once, after the round's copy was taken: the next round places them.
	clock.Advance(time.Second)
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.d.View().OrdersByStatus()["assigned"]; n < 2 {
		t.Fatalf("%d assigned orders after the next round, want the held orders placed too", n)
	}
	want := stateOf(t, h.d)
	h.crash()
	h2 := start(t, dir, clock, nil)
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after replaying a round that ran beside intake differs:\n%s", firstDiff(want, got))
	}
}

func TestRefusesHalfAState(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	h.city()
	h.close() // a graceful stop writes a checkpoint and truncates the journal under it
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now = dir, clock.Now

	os.WriteFile(filepath.Join(dir, checkpointFile), []byte(`{"version": 1, "engine": {"version": 1`), 0o600)
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), checkpointFile) {
		t.Fatalf("open with a torn checkpoint: %v, want an error naming it", err)
	}
	os.Remove(filepath.Join(dir, checkpointFile))
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open with the checkpoint gone and the journal truncated: %v, want a refusal", err)
	}
}

func TestQueuedLocations(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	h.city()
	if err := h.d.QueueLocation("c0", service.Location{Lat: 91, Lon: 0}, time.Time{}); dispatch.ErrorCodeOf(err) != dispatch.EInvalid {
		t.Fatalf("latitude 91: %v, want invalid_argument", err)
	}
	for i := range 100 {
		if err := h.d.QueueLocation("c0", service.Location{Lat: 31.2 + 0.0001*float64(i), Lon: 121.47}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// The loop takes them in order, and publishes them soon with nothing else to do: the last one is shown.
	last := 31.2 + 0.0001*float64(99)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c, _ := h.d.View().Courier("c0")
		if c.Location != nil && c.Location.Lat == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("courier 10 s after 100 queued positions: %+v, want the last one published", c.Location)
		}
	}

	// With the loop gone, the channel fills and the daemon says so instead of blocking.
	stopped, _ := Open(func() Config { c := DefaultConfig(); c.DataDir = t.TempDir(); c.QueueSize = 1; return c }())
	var err error
	for range 2000 {
		if err = stopped.QueueLocation("c0", service.Location{Lat: 31, Lon: 121}, time.Time{}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("a full position queue: %v, want ErrOverloaded", err)
	}
	stopped.Close()
}

func TestOrderEvents(t *testing.T) {
	h := start(t, t.TempDir(), newFakeClock(), nil)
	ids := h.fullLifecycle(h.city())
	var all []service.OrderEvent
	for after := uint64(0); ; {
		page, _, err := h.d.Events(after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	byOrder := map[string][]string{}
	for i, ev := range all {
		if ev.ID != uint64(i+1) {
			t.Fatalf("event %d has id %d: ids must follow one another", i, ev.ID)
		}
		if ev.Type == service.EventETAChanged {
			continue // whether the plan moved past the threshold depends on the script's timing; see below
		}
		byOrder[ev.Order.ID] = append(byOrder[ev.Order.ID], ev.Type)
	}
	want := map[string]string{
		ids[0]: "order.created order.assigned order.picked_up order.delivered",
		ids[1]: "order.created order.assigned order.picked_up order.failed",
		ids[3]: "order.created order.assigned order.cancelled",
	}
	for id, w := range want {
		if got := strings.Join(byOrder[id], " "); got != w {
			t.Errorf("events of %s: %s, want %s", id, got, w)
		}
	}
	// The decline: back to pending, with the courier it left and the reason.
	var sawDecline bool
	for _, ev := range all {
		if ev.Order.ID == ids[2] && ev.Type == service.EventUnassigned {
			sawDecline = ev.Reason == "declined" && ev.PreviousCourierID != "" && ev.Order.Status == "pending"
		}
	}
	if !sawDecline {
		t.Errorf("no order.unassigned with reason and previous courier for the declined order: %v", byOrder[ids[2]])
	}
	// An eta_changed says the drop-off moved by more than the threshold from the last one announced.
	announced := map[string]time.Time{}
	for _, ev := range all {
		if ev.Order.ETA == nil || ev.Order.ETA.DropoffAt == nil {
			continue
		}
		eta := *ev.Order.ETA.DropoffAt
		switch last, ok := announced[ev.Order.ID]; {
		case ev.Type == service.EventETAChanged && ok && eta.Sub(last).Abs() <= 2*time.Minute:
			t.Errorf("order.eta_changed for a move of %s", eta.Sub(last))
		case ev.Type == service.EventAssigned || ev.Type == service.EventETAChanged:
			announced[ev.Order.ID] = eta
		}
	}
	// An event carries the order as it stood once its change was complete: the assignment with its plan.
	for _, ev := range all {
		if ev.Type == service.EventAssigned && (ev.Order.ETA == nil || ev.Order.ETA.DropoffAt == nil || ev.Order.Status != "assigned") {
			t.Fatalf("order.assigned without the plan: %+v", ev.Order)
		}
	}
}

func TestEventRetention(t *testing.T) {
	clock := newFakeClock()
	dir, mutate := t.TempDir(), func(c *Config) { c.EventSegmentBytes = 4000; c.EventRetention = 3 * time.Hour }
	h := start(t, dir, clock, mutate)
	key := h.city()
	shop := service.Principal{Role: service.RoleOrders, ID: key}
	// Ten hours of orders, one every ten minutes: 60 order.created events.
	for range 60 {
		if _, err := h.d.PlaceOrder(ctx, shop, "", nil, orderIn("s0", 31.25, 121.49)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Minute)
	}
	cutoff := clock.Now().Add(-h.d.cfg.EventRetention)
	<-h.d.events.Indexed() // retention cuts by the index of times, built in the background at the start
	if err := h.d.events.Prune(cutoff); err != nil {
		t.Fatal(err)
	}
	// Compaction goes a segment at a time: what is left starts at most a segment before the cutoff, and
	// everything after the cutoff is there, after a restart too.
	h.close()
	h = start(t, dir, clock, mutate)
	evs, _, err := h.d.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].ID == 1 {
		t.Fatalf("nothing compacted: first event %v of %d", evs[0].ID, len(evs))
	}
	for i, ev := range evs {
		if i > 0 && ev.ID != evs[i-1].ID+1 {
			t.Fatalf("gap after compaction: %d then %d", evs[i-1].ID, ev.ID)
		}
	}
	if last := evs[len(evs)-1]; last.ID != h.d.LastEventID() {
		t.Fatalf("last event %d, want %d", last.ID, h.d.LastEventID())
	}
	for _, ev := range evs {
		if !ev.At.Before(cutoff) {
			return // events from the cutoff on are all there (the loop above found no gap up to the last)
		}
	}
	t.Fatal("no event after the cutoff survived")
}

func TestOneDaemonPerDataDir(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, newFakeClock(), nil)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second daemon on the same data directory: %v, want a refusal", err)
	}
	h.close()
	d, err := Open(cfg)
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	d.Close()
}

// allEvents waits until the event log has every event made so far and returns them all.
func allEvents(t *testing.T, d *Daemon) []service.OrderEvent {
	t.Helper()
	// Events reach the log through its writer once the records behind them are durable: wait for all of them.
	var made uint64
	d.do(ctx, func(time.Time) (any, uint64, error) { made = d.st.eventSeq; return nil, 0, nil })
	for deadline := time.Now().Add(5 * time.Second); d.LastEventID() < made; {
		if time.Now().After(deadline) {
			t.Fatalf("the event log has %d of %d events", d.LastEventID(), made)
		}
		time.Sleep(time.Millisecond)
	}
	var events []service.OrderEvent
	for after := uint64(0); ; {
		page, _, err := d.Events(after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		events = append(events, page...)
		after = page[len(page)-1].ID
	}
	return events
}

// TestIntakeDuringACheckpoint: the engine's export for a checkpoint runs off the loop, on a copy; orders are placed,
// positions taken and courier actions served meanwhile, and a crash afterwards recovers exactly the state that was
// live (the checkpoint covers what came before the export, the journal what came during it).
func TestIntakeDuringACheckpoint(t *testing.T) {
	dir, clock := t.TempDir(), newFakeClock()
	h := start(t, dir, clock, nil)
	shop, first, courier := h.firstAssigned()

	clock.Advance(time.Second)
	release := h.holdExport()
	var during []string
	for i := range 3 {
		clock.Advance(time.Second)
		body, err := orderJSON(h.d.PlaceOrder(ctx, shop, fmt.Sprintf("during-%d", i), []byte{byte(i)}, orderIn("s1", 31.245, 121.488)))
		if err != nil {
			t.Fatal(err)
		}
		var o service.Order
		json.Unmarshal(body, &o)
		during = append(during, o.ID)
	}
	if err := h.d.QueueLocation("c1", service.Location{Lat: 31.2401, Lon: 121.4832}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.acceptServed(courier, first.ID, "the engine was being exported", release)
	h.d.ckptWG.Wait()
	if err := h.d.DispatchNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range during {
		if o, _ := h.d.View().Order(id); o.Status != "assigned" {
			t.Fatalf("order %s placed during the export is %s after the next round, want assigned", id, o.Status)
		}
	}
	h.d.do(ctx, func(time.Time) (any, uint64, error) { seq, err := h.d.flushLocations(); return nil, seq, err })
	want := stateOf(t, h.d)
	h.crash()
	h2 := start(t, dir, clock, nil)
	if h2.d.replayed == 0 {
		t.Fatal("nothing replayed after the checkpoint: the records accepted during the export are missing from the journal")
	}
	if got := stateOf(t, h2.d); got != want {
		t.Fatalf("state after a crash that followed a checkpoint taken beside intake differs:\n%s", jsonDiff(want, got))
	}
}

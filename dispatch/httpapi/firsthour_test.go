package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// TestWrongMethodIs405WithAllow: a known path with a method it does not take is 405 with the methods it takes in
// Allow (also without a token: the routes are public knowledge in the OpenAPI document); an unknown path stays 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"DELETE", "/v1/orders", "GET, HEAD, POST"},
		{"PATCH", "/v1/orders/" + f.order, "GET, HEAD"},
		{"GET", "/v1/orders/" + f.order + "/cancel", "POST"},
		{"POST", "/v1/stores/s1", "GET, HEAD, PUT, DELETE"},
		{"GET", "/v1/courier/orders/x/accept", "POST"},
		{"PUT", "/healthz", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+f.key)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e errorBody
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow || e.Error.Code != "method_not_allowed" {
			t.Errorf("%s %s: %d Allow %q code %q, want 405 Allow %q method_not_allowed", tc.method, tc.path,
				resp.StatusCode, resp.Header.Get("Allow"), e.Error.Code, tc.allow)
		}
	}
	if status, _ := f.call("DELETE", "/v2/whatever", "", ""); status != 404 {
		t.Errorf("DELETE on an unknown path: %d, want 404", status)
	}
}

// TestPickupOrderHasNoDropoff: an in-store pick-up placed without a drop-off shows none (not 0,0), in the answer
// and on a read; a delivery order still shows its drop-off.
func TestPickupOrderHasNoDropoff(t *testing.T) {
	f := newFulfilFixture(t)
	var placed map[string]json.RawMessage
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"market","fulfilment":"pickup","items":[{"sku":"rice","qty":1}]}`), &placed)
	if _, ok := placed["dropoff"]; ok {
		t.Fatalf("a pick-up order's answer shows a drop-off: %s", placed["dropoff"])
	}
	var id string
	json.Unmarshal(placed["id"], &id)
	var read map[string]json.RawMessage
	json.Unmarshal(f.expect(200, "GET", "/v1/orders/"+id, f.key, ""), &read)
	if _, ok := read["dropoff"]; ok || len(read) == 0 {
		t.Fatalf("a pick-up order read shows a drop-off: %s", read["dropoff"])
	}
	json.Unmarshal(f.expect(200, "GET", "/v1/orders/"+f.order, f.key, ""), &read)
	if string(read["dropoff"]) != `{"lat":31.24,"lon":121.48}` {
		t.Fatalf("a delivery order's drop-off is %s", read["dropoff"])
	}
}

// TestCustomerSizeLimit: a customer object over daemon.MaxCustomerBytes is 400 naming customer; one at the limit
// is taken.
func TestCustomerSizeLimit(t *testing.T) {
	f := newFixture(t)
	customer := func(n int) string { // a customer object of exactly n bytes
		return `{"note":"` + strings.Repeat("x", n-len(`{"note":""}`)) + `"}`
	}
	order := func(c string) string {
		return `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48},"customer":` + c + `}`
	}
	f.expect(201, "POST", "/v1/orders", f.key, order(customer(service.MaxCustomerBytes)))
	for _, path := range []string{"/v1/orders", "/v1/quotes"} {
		status, body := f.call("POST", path, f.key, order(customer(service.MaxCustomerBytes+1)))
		var e errorBody
		json.Unmarshal(body, &e)
		if status != 400 || e.Error.Field != "customer" {
			t.Fatalf("%s with a customer over the limit: %d %s, want 400 on customer", path, status, body)
		}
	}
}

// TestReadyRefusedWhileStoreClosed: a store cannot mark an in-store pick-up ready while it is closed (409 naming
// the opening); the same step is taken once it is open.
func TestReadyRefusedWhileStoreClosed(t *testing.T) {
	var clock atomic.Int64            // the daemon reads it on its own goroutine
	clock.Store(fulfilNow.UnixNano()) // Monday 19:00 in Shanghai: "daytime" (08:00-18:00) is closed
	f := newFixtureWith(t, func(c *daemon.Config) { c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() } })
	f.expect(201, "PUT", "/v1/stores/daytime", adminToken, `{"location":{"lat":31.2310,"lon":121.4740},"prep_seconds":600,
		"timezone":"Asia/Shanghai","hours":{"mon":["08:00-18:00"],"tue":["08:00-18:00"]},"inventory":{"tea":5}}`)
	var o struct{ ID, Status string }
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"daytime","fulfilment":"pickup","items":[{"sku":"tea","qty":1}],"promise_seconds":86400}`), &o)
	status, body := f.call("POST", "/v1/stores/daytime/orders/"+o.ID+"/ready", f.key, "")
	var e errorBody
	json.Unmarshal(body, &e)
	if status != 409 || e.Error.Code != "conflict" || !strings.Contains(e.Error.Message, "2026-11-24T00:00:00Z") {
		t.Fatalf("ready while closed: %d %s, want 409 naming the opening (Tuesday 08:00 in Shanghai)", status, body)
	}
	clock.Store(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC).UnixNano()) // Tuesday 08:30 in Shanghai
	json.Unmarshal(f.expect(200, "POST", "/v1/stores/daytime/orders/"+o.ID+"/ready", f.key, ""), &o)
	if o.Status != "ready_for_pickup" {
		t.Fatalf("ready once open: %+v", o)
	}
}

type reachReply struct {
	Feasible bool
	Reasons  []string
	Reach    *service.Reach
	Error    struct {
		Code, Field string
		Reasons     []string
		Reach       *service.Reach
	}
}

// TestOrderOutOfReachIs422: a delivery order no vehicle could bring by its promise plus the hard lateness is refused
// with the reason and the figures, and the quote says the same; accept_late takes it, and a round then plans it
// late; a ride longer than any courier may carry an order is refused even so.
func TestOrderOutOfReachIs422(t *testing.T) {
	f := newFixture(t) // store s1 in Shanghai, courier a online beside it
	f.expect(200, "PATCH", "/v1/stores/s1/inventory", adminToken, `{"set":{"x":5}}`)
	const newYork = `{"lat":40.7128,"lon":-74.0060}`
	// 11.4 km north of s1: 31 minutes by car (8 m/s, detour 1.3), 35 with the hand-overs: more than the 30
	// minutes of hard lateness an order ready at its promise leaves.
	const north = `{"lat":31.3334,"lon":121.4737}`
	order := func(drop, extra string) string {
		return `{"store_id":"s1","dropoff":` + drop + `,"prep_seconds":600,"promise_seconds":600` + extra + `}`
	}
	check := func(what string, r *service.Reach, reasons []string, want string) {
		t.Helper()
		if len(reasons) != 1 || reasons[0] != want || r == nil || r.HardLatenessSeconds != 1800 ||
			r.EarliestDropoff.Sub(r.ReadyAt.Add(time.Duration(r.RideSeconds)*time.Second)).Abs() > time.Second ||
			!r.LatestDropoff.Equal(r.DeliverBy.Add(30*time.Minute)) || r.Vehicle != "car" {
			t.Fatalf("%s: reasons %v reach %+v, want %s with consistent figures by car", what, reasons, r, want)
		}
	}
	for _, tc := range []struct{ name, body, reason string }{
		{"NewYork", order(newYork, ""), "ride_too_long"},
		{"NewYorkAcceptLate", order(newYork, `,"accept_late":true`), "ride_too_long"},
		{"North", order(north, ""), "unreachable_in_time"},
		{"NorthByItems", `{"store_id":"s1","items":[{"sku":"x","qty":1}],"dropoff":` + north + `,"prep_seconds":600,"promise_seconds":600}`, "unreachable_in_time"},
	} {
		var q reachReply
		json.Unmarshal(f.expect(200, "POST", "/v1/quotes", f.key, tc.body), &q)
		if q.Feasible {
			t.Fatalf("%s: the quote is feasible", tc.name)
		}
		check(tc.name+" quote", q.Reach, q.Reasons, tc.reason)
		var e reachReply
		json.Unmarshal(f.expect(422, "POST", "/v1/orders", f.key, tc.body), &e)
		if e.Error.Code != "unservable" || e.Error.Field != "dropoff" {
			t.Fatalf("%s: %+v, want unservable on dropoff", tc.name, e.Error)
		}
		check(tc.name+" order", e.Error.Reach, e.Error.Reasons, tc.reason)
	}
	// A courier by car beside the store (a bike takes 62 minutes, more than a courier may carry an order).
	var c struct{ Token string }
	json.Unmarshal(f.expect(201, "PUT", "/v1/couriers/car", adminToken, `{"vehicle":"car","capacity":2}`), &c)
	f.expect(200, "POST", "/v1/courier/shift", c.Token, `{"status":"online","location":{"lat":31.2305,"lon":121.4738}}`)
	var q reachReply
	json.Unmarshal(f.expect(200, "POST", "/v1/quotes", f.key, order(north, `,"accept_late":true`)), &q)
	if q.Reach != nil || len(q.Reasons) != 0 || !q.Feasible {
		t.Fatalf("accept_late quote: %+v, want feasible with a courier beside the store", q)
	}
	var o struct{ ID string }
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, order(north, `,"accept_late":true`)), &o)
	if err := f.d.DispatchNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got struct{ Status string }
	json.Unmarshal(f.expect(200, "GET", "/v1/orders/"+o.ID, f.key, ""), &got)
	if got.Status != "assigned" {
		t.Fatalf("an accept_late order out of reach is %+v after a round, want assigned", got)
	}
}

// lockedBuffer collects log lines written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRequestLogSaysItsUnit: the request log line gives its duration as took_ms, a number of milliseconds.
func TestRequestLogSaysItsUnit(t *testing.T) {
	f := newFixture(t)
	var logs lockedBuffer
	srv := httptest.NewServer(New(f.d, Config{AdminToken: adminToken, Logger: zerolog.New(&logs)}).Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var line map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s := logs.String(); strings.Contains(s, "\n") {
			if err := json.Unmarshal([]byte(strings.SplitN(s, "\n", 2)[0]), &line); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if _, ok := line["took_ms"].(float64); !ok || line["took"] != nil || line["route"] != "GET /healthz" {
		t.Fatalf("request log line %v, want a numeric took_ms and no unitless took", line)
	}
}

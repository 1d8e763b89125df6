package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

const adminToken = "admin-token-for-tests-0123"

type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	d      *daemon.Daemon
	key    string // an order-service key
	riders map[string]string
	order  string // an order assigned to rider a
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with a daemon configuration changed by mutate (a fixed clock, say).
func newFixtureWith(t *testing.T, mutate func(*daemon.Config)) *fixture {
	t.Helper()
	cfg := daemon.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.DispatchInterval = time.Hour
	cfg.Engine.PostponeSlack = 0
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := daemon.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	srv := httptest.NewServer(New(d, Config{AdminToken: adminToken, Metrics: http.NotFoundHandler()}).Handler())
	t.Cleanup(func() {
		d.StopStreams()
		srv.Close()
		cancel()
		<-done
	})
	f := &fixture{t: t, srv: srv, d: d, riders: map[string]string{}}
	f.expect(201, "PUT", "/v1/stores/s1", adminToken, `{"location":{"lat":31.2304,"lon":121.4737}}`)
	for _, id := range []string{"a", "b"} {
		var c struct{ Token string }
		json.Unmarshal(f.expect(201, "PUT", "/v1/couriers/"+id, adminToken, `{"capacity":2}`), &c)
		f.riders[id] = c.Token
	}
	f.expect(200, "POST", "/v1/courier/shift", f.riders["a"], `{"status":"online","location":{"lat":31.231,"lon":121.474}}`)
	var k struct{ Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"shop"}`), &k)
	f.key = k.Key
	var o struct{ ID string }
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`), &o)
	f.order = o.ID
	if err := d.DispatchNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) call(method, path, token, body string, hdr ...string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// request sends one request to srv with a bearer token and an optional body, and returns the response with its body
// read (for servers the tests start beside the fixture's).
func request(t *testing.T, srv *httptest.Server, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// streamStatus opens a stream, returns its status and closes it.
func (f *fixture) streamStatus(path, token string) int {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fixture) expect(want int, method, path, token, body string, hdr ...string) []byte {
	f.t.Helper()
	status, b := f.call(method, path, token, body, hdr...)
	if status != want {
		f.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return b
}

// TestRoles calls every endpoint as every role: no token is 401, a role the endpoint is not for is 403, and a role
// it is for gets past authorisation (anything but 401 and 403).
func TestRoles(t *testing.T) {
	f := newFixture(t)
	tokens := map[string]string{"none": "", "bad": "not-a-token", "admin": adminToken, "orders": f.key, "courier": f.riders["a"]}
	order := f.order
	for _, ep := range []struct {
		method, path, body string
		allowed            []string
	}{
		{"POST", "/v1/orders", `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`, []string{"admin", "orders"}},
		{"GET", "/v1/orders/" + order, "", []string{"admin", "orders"}},
		{"GET", "/v1/orders?status=pending", "", []string{"admin", "orders"}},
		{"GET", "/v1/events", "", []string{"admin", "orders"}},
		{"GET", "/v1/courier/stream", "", []string{"courier"}},
		{"POST", "/v1/orders/nope/cancel", `{}`, []string{"admin", "orders"}},
		{"POST", "/v1/quotes", `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`, []string{"admin", "orders"}},
		{"PUT", "/v1/stores/s2", `{"location":{"lat":31.2,"lon":121.4}}`, []string{"admin"}},
		{"GET", "/v1/stores/s1", "", []string{"admin", "orders"}},
		{"GET", "/v1/stores?near=31.23,121.47&radius_m=3000", "", []string{"admin", "orders"}},
		{"DELETE", "/v1/stores/nope", "", []string{"admin"}},
		{"PUT", "/v1/couriers/c9", `{"capacity":1}`, []string{"admin"}},
		{"GET", "/v1/couriers/a", "", []string{"admin"}},
		{"GET", "/v1/couriers?status=online", "", []string{"admin"}},
		{"POST", "/v1/api-keys", `{"name":"x"}`, []string{"admin"}},
		{"GET", "/v1/api-keys", "", []string{"admin"}},
		{"DELETE", "/v1/api-keys/nope", "", []string{"admin"}},
		{"POST", "/v1/courier/shift", `{"status":"online"}`, []string{"courier"}},
		{"POST", "/v1/courier/location", `{"location":{"lat":31.231,"lon":121.474}}`, []string{"courier"}},
		{"GET", "/v1/courier/route", "", []string{"courier"}},
		{"POST", "/v1/courier-locations", `{"locations":[{"courier_id":"b","location":{"lat":31.2,"lon":121.4}}]}`, []string{"admin"}},
		{"POST", "/v1/courier/orders/" + order + "/accept", "", []string{"courier"}},
	} {
		for role, token := range tokens {
			var status int
			var body []byte
			if strings.HasSuffix(ep.path, "/events") || strings.HasSuffix(ep.path, "/stream") {
				status = f.streamStatus(ep.path, token)
			} else {
				status, body = f.call(ep.method, ep.path, token, ep.body)
			}
			want := "allowed"
			switch {
			case role == "none" || role == "bad":
				want = "401"
			case !contains(ep.allowed, role):
				want = "403"
			}
			got := "allowed"
			if status == 401 || status == 403 {
				got = strconv.Itoa(status)
			}
			if got != want {
				t.Errorf("%s %s as %s: %d %s, want %s", ep.method, ep.path, role, status, body, want)
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := f.call("GET", path, "", ""); status == 401 || status == 403 {
			t.Errorf("GET %s needs a token", path)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCourierSeesOnlyItsOwn(t *testing.T) {
	f := newFixture(t)
	// Rider b cannot see or touch rider a's order, and cannot tell it exists.
	for _, action := range []string{"accept", "decline", "arrived", "picked_up", "delivered", "failed"} {
		status, body := f.call("POST", "/v1/courier/orders/"+f.order+"/"+action, f.riders["b"], "")
		if status != 404 {
			t.Errorf("%s of another courier's order: %d %s, want 404", action, status, body)
		}
	}
	if status, _ := f.call("GET", "/v1/orders/"+f.order, f.riders["b"], ""); status != 403 {
		t.Errorf("a courier reading orders: %d, want 403 (the role, whatever the id)", status)
	}
	var r service.Route
	json.Unmarshal(f.expect(200, "GET", "/v1/courier/route", f.riders["b"], ""), &r)
	if len(r.Stops) != 0 || r.CourierID != "b" {
		t.Errorf("rider b's route: %+v, want its own empty route", r)
	}
	// Rider a's actions follow the order's state.
	f.expect(409, "POST", "/v1/courier/orders/"+f.order+"/delivered", f.riders["a"], "")
	f.expect(200, "POST", "/v1/courier/orders/"+f.order+"/picked_up", f.riders["a"], "")
	f.expect(409, "POST", "/v1/orders/"+f.order+"/cancel", f.key, `{"reason":"customer"}`)
	f.expect(404, "POST", "/v1/courier/orders/"+f.order+"/teleport", f.riders["a"], "")
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code, field                     string
	}{
		{"UnknownField", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lat":1,"lon":2},"colour":"red"}`, 400, "invalid_argument", "colour"},
		{"MissingLat", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lon":2}}`, 400, "invalid_argument", "dropoff.lat"},
		{"LatOutOfRange", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lat":91,"lon":2}}`, 400, "invalid_argument", "dropoff.lat"},
		{"WrongType", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lat":1,"lon":2},"size":"big"}`, 400, "invalid_argument", "size"},
		{"BadTime", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lat":1,"lon":2},"deliver_by":"tomorrow"}`, 400, "invalid_argument", "deliver_by"},
		{"ItemQty", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":0}],"dropoff":{"lat":1,"lon":2}}`, 400, "invalid_argument", "items[0].qty"},
		{"Fulfilment", "POST", "/v1/orders", "orders", `{"store_id":"s1","fulfilment":"drone","dropoff":{"lat":1,"lon":2}}`, 400, "invalid_argument", "fulfilment"},
		{"UnknownStore", "POST", "/v1/orders", "orders", `{"store_id":"nope","dropoff":{"lat":31.24,"lon":121.48}}`, 422, "unservable", "store_id"},
		{"Malformed", "POST", "/v1/orders", "orders", `{"store_id":`, 400, "invalid_argument", ""},
		{"TrailingData", "POST", "/v1/api-keys", "admin", `{"name":"x"} {"name":"y"}`, 400, "invalid_argument", ""},
		{"BadStoreID", "PUT", "/v1/stores/has%20space", "admin", `{"location":{"lat":1,"lon":2}}`, 400, "invalid_argument", "store_id"},
		{"BadVehicle", "PUT", "/v1/couriers/c5", "admin", `{"vehicle":"rocket","capacity":1}`, 400, "invalid_argument", "vehicle"},
		{"BadShift", "POST", "/v1/courier/shift", "courier", `{"status":"asleep"}`, 400, "invalid_argument", "status"},
		{"BadNear", "GET", "/v1/stores?near=north", "orders", ``, 400, "invalid_argument", "near"},
		{"LongIdempotencyKey", "POST", "/v1/orders", "orders", `{"store_id":"s1","dropoff":{"lat":1,"lon":2}}`, 400, "invalid_argument", "Idempotency-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := map[string]string{"orders": f.key, "admin": adminToken, "courier": f.riders["a"]}[tc.token]
			var hdr []string
			if tc.name == "LongIdempotencyKey" {
				hdr = []string{"Idempotency-Key", strings.Repeat("k", 256)}
			}
			status, body := f.call(tc.method, tc.path, token, tc.body, hdr...)
			var e errorBody
			json.Unmarshal(body, &e)
			if status != tc.status || string(e.Error.Code) != tc.code || e.Error.Field != tc.field {
				t.Fatalf("%d %s, want %d %s on %q", status, body, tc.status, tc.code, tc.field)
			}
		})
	}
	t.Run("TooLarge", func(t *testing.T) {
		big := `{"store_id":"s1","dropoff":{"lat":1,"lon":2},"customer":{"note":"` + strings.Repeat("x", 70<<10) + `"}}`
		status, body := f.call("POST", "/v1/orders", f.key, big)
		if status != 413 || !bytes.Contains(body, []byte("payload_too_large")) {
			t.Fatalf("%d %s, want 413 payload_too_large", status, body)
		}
	})
	t.Run("UnknownEndpoint", func(t *testing.T) {
		status, body := f.call("GET", "/v2/whatever", "", "")
		if status != 404 || !bytes.Contains(body, []byte("not_found")) {
			t.Fatalf("%d %s, want a JSON 404", status, body)
		}
	})
}

func TestIdempotencyOverHTTP(t *testing.T) {
	f := newFixture(t)
	body := `{"external_id":"x-1","store_id":"s1","dropoff":{"lat":31.24,"lon":121.48},"customer":{"name":"Wang","phone":"1"}}`
	first := f.expect(201, "POST", "/v1/orders", f.key, body, "Idempotency-Key", "abc")
	// The same request with other spacing and field order (also inside customer) is the same request; the scheme
	// of the Authorization header is case-insensitive.
	same := `{ "dropoff": {"lon":121.48, "lat":31.24}, "store_id":"s1", "customer": {"phone":"1", "name": "Wang"}, "external_id":"x-1" }`
	if again := f.expect(201, "POST", "/v1/orders", "", same, "Idempotency-Key", "abc", "Authorization", "bearer "+f.key); !bytes.Equal(first, again) {
		t.Fatalf("retry answered %s, want %s", again, first)
	}
	status, b := f.call("POST", "/v1/orders", f.key, `{"external_id":"x-2","store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`, "Idempotency-Key", "abc")
	if status != 422 || !bytes.Contains(b, []byte("idempotency_mismatch")) {
		t.Fatalf("same key, other body: %d %s, want 422 idempotency_mismatch", status, b)
	}
	if status, _ := f.call("POST", "/v1/orders", f.key, body, "Idempotency-Key", "other"); status != 409 {
		t.Fatalf("the same external_id under another key: %d, want 409", status)
	}
	v := f.d.View()
	if n := v.OrdersByStatus()["pending"] + v.OrdersByStatus()["assigned"]; n != 2 {
		t.Fatalf("%d open orders, want 2 (the fixture's and one placed here)", n)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	f := newFixture(t)
	var k struct{ ID, Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"temp"}`), &k)
	f.expect(200, "GET", "/v1/stores/s1", k.Key, "")
	f.expect(204, "DELETE", "/v1/api-keys/"+k.ID, adminToken, "")
	f.expect(401, "GET", "/v1/stores/s1", k.Key, "")
	// Rotating a courier's token retires the old one.
	var c struct{ Token string }
	json.Unmarshal(f.expect(200, "PUT", "/v1/couriers/b?rotate_token=true", adminToken, `{"capacity":2}`), &c)
	if c.Token == "" || c.Token == f.riders["b"] {
		t.Fatalf("rotation returned %q", c.Token)
	}
	f.expect(401, "GET", "/v1/courier/route", f.riders["b"], "")
	f.expect(200, "GET", "/v1/courier/route", c.Token, "")
	// A replacement without rotation shows no token.
	if b := f.expect(200, "PUT", "/v1/couriers/b", adminToken, `{"capacity":3}`); bytes.Contains(b, []byte(`"token"`)) {
		t.Fatalf("a plain update showed a token: %s", b)
	}
}

func TestOverloadedAnswers503WithRetryAfter(t *testing.T) {
	cfg := daemon.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.QueueSize = 1
	d, err := daemon.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The loop is not running: the first request waits in the queue, the second finds it full.
	srv := httptest.NewServer(New(d, Config{AdminToken: adminToken}).Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/api-keys", strings.NewReader(`{"name":"a"}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		close(first)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-first
	for d.QueueDepth() == 0 {
		time.Sleep(time.Millisecond)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/api-keys", strings.NewReader(`{"name":"b"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full queue: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	cancel()
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(context.Background())
	go func() { done <- d.Run(runCtx) }()
	stop()
	<-done
}

func TestLocationBatch(t *testing.T) {
	f := newFixture(t)
	status, body := f.call("POST", "/v1/courier-locations", adminToken,
		`{"locations":[{"courier_id":"a","location":{"lat":31.232,"lon":121.475}},{"courier_id":"ghost","location":{"lat":31.2,"lon":121.4}}]}`)
	var e errorBody
	json.Unmarshal(body, &e)
	if status != 400 || e.Error.Field != "locations[1].courier_id" {
		t.Fatalf("a batch with an unknown courier: %d %s, want 400 on locations[1].courier_id", status, body)
	}
	status, body = f.call("POST", "/v1/courier-locations", adminToken, `{"locations":[{"courier_id":"a","location":{"lat":95,"lon":121.4}}]}`)
	json.Unmarshal(body, &e)
	if status != 400 || e.Error.Field != "locations[0].location.lat" {
		t.Fatalf("a batch with a bad latitude: %d %s, want 400 on locations[0].location.lat", status, body)
	}
	f.expect(202, "POST", "/v1/courier-locations", adminToken,
		`{"locations":[{"courier_id":"a","location":{"lat":31.232,"lon":121.475}},{"courier_id":"b","location":{"lat":31.24,"lon":121.48}}]}`)
	// Queued: the positions show once the loop has taken them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _ := f.d.View().Courier("b")
		if c.Location != nil && c.Location.Lat == 31.24 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("courier b's position never arrived: %+v", c.Location)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListOrders(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.d.PutStore(context.Background(), service.StoreInput{ID: "s2", Location: service.Location{Lat: 31.25, Lon: 121.49}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{f.order: true}
	for i := range 7 {
		store := "s1"
		if i%2 == 1 {
			store = "s2"
		}
		var o struct{ ID string }
		json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"`+store+`","dropoff":{"lat":31.24,"lon":121.48}}`), &o)
		want[o.ID] = true
	}
	type page struct {
		Orders []struct {
			ID, StoreID, Status string
			CreatedAt           time.Time `json:"created_at"`
		} `json:"orders"`
		NextCursor string `json:"next_cursor"`
	}
	// Every order exactly once over pages of three, oldest first.
	seen, cursor, pages := map[string]bool{}, "", 0
	var last time.Time
	for {
		path := "/v1/orders?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var p page
		json.Unmarshal(f.expect(200, "GET", path, f.key, ""), &p)
		pages++
		for _, o := range p.Orders {
			if seen[o.ID] || o.CreatedAt.Before(last) {
				t.Fatalf("order %s twice or out of order", o.ID)
			}
			seen[o.ID], last = true, o.CreatedAt
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != len(want) || pages != 3 {
		t.Fatalf("%d orders over %d pages, want %d over 3", len(seen), pages, len(want))
	}
	var p page
	json.Unmarshal(f.expect(200, "GET", "/v1/orders?store_id=s2&status=pending", f.key, ""), &p)
	if len(p.Orders) != 3 {
		t.Fatalf("%d pending orders of s2, want 3", len(p.Orders))
	}
	json.Unmarshal(f.expect(200, "GET", "/v1/orders?status=assigned&courier_id=a", f.key, ""), &p)
	if len(p.Orders) != 1 || p.Orders[0].ID != f.order {
		t.Fatalf("rider a's assigned orders: %+v, want the fixture's order", p.Orders)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	json.Unmarshal(f.expect(200, "GET", "/v1/orders?created_since="+future, f.key, ""), &p)
	if len(p.Orders) != 0 {
		t.Fatalf("orders created in the future: %d", len(p.Orders))
	}
	for _, bad := range []struct{ query, field string }{{"status=lost", "status"}, {"limit=0", "limit"}, {"cursor=bm9wZQ", "cursor"}, {"colour=red", "colour"}, {"created_until=noon", "created_until"}} {
		status, body := f.call("GET", "/v1/orders?"+bad.query, f.key, "")
		var e errorBody
		json.Unmarshal(body, &e)
		if status != 400 || e.Error.Field != bad.field {
			t.Errorf("?%s: %d %s, want 400 on %s", bad.query, status, body, bad.field)
		}
	}
}

// readSSE reads events from a stream until it has n of the given type or the deadline passes.
func readSSE(t *testing.T, body io.Reader, n int) []service.OrderEvent {
	t.Helper()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []service.OrderEvent
	var id string
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			var ev service.OrderEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
				t.Fatal(err)
			}
			if id != strconv.FormatUint(ev.ID, 10) {
				t.Fatalf("event id line %q, data id %d", id, ev.ID)
			}
			out = append(out, ev)
		}
	}
	return out
}

func TestOrderEventStream(t *testing.T) {
	f := newFixture(t)
	open := func(last string) (io.ReadCloser, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+f.key)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp.Body, cancel
	}
	// From the start: the fixture's order was created and assigned.
	body, cancel := open("0")
	first := readSSE(t, body, 2)
	cancel()
	body.Close()
	if len(first) != 2 || first[0].Type != service.EventCreated || first[1].Type != service.EventAssigned || first[0].ID != 1 || first[1].ID != 2 {
		t.Fatalf("first events: %+v", first)
	}
	// Live: a stream without Last-Event-ID starts with what comes next.
	body, cancel = open("")
	defer cancel()
	defer body.Close()
	f.expect(200, "POST", "/v1/courier/orders/"+f.order+"/picked_up", f.riders["a"], "")
	live := readSSE(t, body, 1)
	if len(live) != 1 || live[0].Type != service.EventPickedUp || live[0].ID != 3 || live[0].Order.Status != "picked_up" {
		t.Fatalf("live event: %+v", live)
	}
	// Resume: exactly the events after the one given.
	body2, cancel2 := open("1")
	defer cancel2()
	defer body2.Close()
	resumed := readSSE(t, body2, 2)
	if len(resumed) != 2 || resumed[0].ID != 2 || resumed[1].ID != 3 {
		t.Fatalf("resumed after 1: %+v", resumed)
	}
	if status, _ := f.call("GET", "/v1/events", f.key, "", "Last-Event-ID", "x"); status != 400 {
		t.Fatalf("Last-Event-ID x: %d, want 400", status)
	}
}

func TestRateLimitsAndStreamCaps(t *testing.T) {
	f := newFixture(t)
	// A server with tight limits over the same daemon.
	srv := httptest.NewServer(New(f.d, Config{AdminToken: adminToken,
		Limits: Limits{OrdersRate: 1, OrdersBurst: 3, CourierRate: 1, CourierBurst: 10, StreamsPerCaller: 1}}).Handler())
	defer srv.Close()
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if resp := get("/v1/stores/s1", f.key); resp.StatusCode != 200 {
			t.Fatalf("request %d within the burst: %d", i, resp.StatusCode)
		}
	}
	resp := get("/v1/stores/s1", f.key)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Buckets are per caller: another key and the admin are not held up.
	var k struct{ Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"other"}`), &k)
	if resp := get("/v1/stores/s1", k.Key); resp.StatusCode != 200 {
		t.Fatalf("another key: %d", resp.StatusCode)
	}
	for range 10 {
		if resp := get("/v1/stores/s1", adminToken); resp.StatusCode != 200 {
			t.Fatalf("the admin was limited: %d", resp.StatusCode)
		}
	}
	// One stream per caller here: a second one is refused while the first is open.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/courier/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.riders["a"])
	first, err := srv.Client().Do(req)
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("first stream: %v %v", err, first)
	}
	req2, _ := http.NewRequest("GET", srv.URL+"/v1/courier/stream", nil)
	req2.Header.Set("Authorization", "Bearer "+f.riders["a"])
	second, err := srv.Client().Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != 429 || !bytes.Contains(body, []byte("streams")) {
		t.Fatalf("second stream of the same courier: %d %s, want 429 for too many streams", second.StatusCode, body)
	}
	cancel()
	first.Body.Close()
}

func TestRequireAdmin(t *testing.T) {
	h := RequireAdmin(adminToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Basic " + adminToken, 401}, {"Bearer " + adminToken, 200}, {"bearer " + adminToken, 200}} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, w.Code, tc.want)
		}
	}
}

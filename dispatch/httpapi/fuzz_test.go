package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// The fuzz targets of this file and of fuzz_query_test.go drive the real handlers (routing, authentication,
// decoding, the daemon behind them) with what the fuzzer makes of request bodies, query strings and headers. Every
// answer must keep the contract: a 2xx, or a 4xx with the application error body whose code maps to that status;
// never a 5xx, a panic or another status. On top of that each target checks what its request promises: a refusal
// changes nothing (no journal record, the resource reads the same), and what is accepted reads back as it was sent.
//
// Seed corpora are in testdata/fuzz/<target>; `make fuzz-smoke` runs every target briefly, `make fuzz` longer.

// fuzzStart is where the daemon's clock starts in the fuzz targets. The clock moves only when a fixture moves it,
// never while inputs run, so that what a request does depends only on the request and the state before it.
var fuzzStart = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

// fuzzAPI is a running daemon and its API, made once per fuzzing process and shared by its inputs: three stores,
// courier "a" online near them, courier "b" registered but offline, and an order-service key.
type fuzzAPI struct {
	h      http.Handler
	d      *daemon.Daemon
	clock  atomic.Int64 // Unix nanoseconds
	key    string
	tokens map[string]string // courier tokens by courier id
	// orders holds, by status, an order of courier a that the reason target acts on (made when needed).
	orders map[string]string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	cfg := daemon.DefaultConfig()
	cfg.DataDir = f.TempDir()
	cfg.DispatchInterval = time.Hour
	cfg.CheckpointInterval = 24 * time.Hour
	cfg.Engine.PostponeSlack = 0
	a := &fuzzAPI{tokens: map[string]string{}, orders: map[string]string{}}
	a.clock.Store(fuzzStart.UnixNano())
	cfg.Now = a.now
	d, err := daemon.Open(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	f.Cleanup(func() {
		d.StopStreams()
		cancel()
		<-done
	})
	a.h, a.d = New(d, Config{AdminToken: adminToken, Now: cfg.Now}).Handler(), d
	for i, loc := range []string{`{"lat":31.2304,"lon":121.4737}`, `{"lat":31.2404,"lon":121.4837}`, `{"lat":31.2204,"lon":121.4637}`} {
		a.setup(f, 201, "PUT", fmt.Sprintf("/v1/stores/s%d", i+1), adminToken, `{"prep_seconds":300,"location":`+loc+`}`)
	}
	for _, id := range []string{"a", "b"} {
		var c struct{ Token string }
		json.Unmarshal(a.setup(f, 201, "PUT", "/v1/couriers/"+id, adminToken, `{"capacity":4}`), &c)
		a.tokens[id] = c.Token
	}
	a.setup(f, 200, "POST", "/v1/courier/shift", a.tokens["a"], `{"status":"online","location":{"lat":31.231,"lon":121.474}}`)
	var k struct{ Key string }
	json.Unmarshal(a.setup(f, 201, "POST", "/v1/api-keys", adminToken, `{"name":"shop"}`), &k)
	a.key = k.Key
	return a
}

// now is the daemon's clock.
func (a *fuzzAPI) now() time.Time { return time.Unix(0, a.clock.Load()).UTC() }

// advance moves the clock (fixtures only).
func (a *fuzzAPI) advance(d time.Duration) { a.clock.Add(int64(d)) }

// setup makes a request the fixture needs and fails unless it gets the status wanted.
func (a *fuzzAPI) setup(tb testing.TB, want int, method, target, token, body string) []byte {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	w := a.serve(context.Background(), method, u, token, body, nil)
	if w.Code != want {
		tb.Fatalf("%s %s: %d %s, want %d", method, target, w.Code, w.Body, want)
	}
	return w.Body.Bytes()
}

// serve runs one request through the API's handler.
func (a *fuzzAPI) serve(ctx context.Context, method string, u *url.URL, token, body string, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, method, "/", strings.NewReader(body))
	r.URL, r.RequestURI = u, u.RequestURI()
	for k, v := range hdr {
		r.Header[k] = v
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// call makes a request and checks the contract every answer keeps (see answer).
func (a *fuzzAPI) call(t *testing.T, method string, u *url.URL, token, body string, hdr http.Header) (int, []byte, *errorDetail) {
	t.Helper()
	w := a.serve(context.Background(), method, u, token, body, hdr)
	return w.Code, w.Body.Bytes(), answer(t, method+" "+u.String(), w.Code, w.Body.Bytes())
}

// answer checks that an answer is a 2xx, or a 4xx with the application error body whose code maps to that status,
// and returns the error of a 4xx (nil for a 2xx).
func answer(t *testing.T, what string, status int, body []byte) *errorDetail {
	t.Helper()
	if status >= 200 && status <= 299 {
		return nil
	}
	if status < 400 || status > 499 {
		t.Fatalf("%s: %d %s, want a 2xx or a 4xx", what, status, body)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: %d with body %q, want the application error body", what, status, body)
	}
	if want, ok := statusOf[e.Error.Code]; !ok || want != status {
		t.Fatalf("%s: %d with code %q, which is status %d", what, status, e.Error.Code, want)
	}
	return &e.Error
}

// pathWith is prefix + id + suffix as a URL whose path segment id arrives unchanged in the handler, and false
// when the router would not hand it to one: an empty id, or one that is not a clean path (".", "..", slashes
// around them), which the router redirects to the cleaned path before any handler runs.
func pathWith(prefix, id, suffix string) (*url.URL, bool) {
	p := prefix + id + suffix
	if id == "" || path.Clean(p) != p {
		return nil, false
	}
	return &url.URL{Path: p, RawPath: prefix + url.PathEscape(id) + suffix}, true
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// unchanged fails when a refused request left a mark: a journal record, or a different reading of what it named.
func (a *fuzzAPI) unchanged(t *testing.T, what string, seq uint64, before []byte, read func() []byte) {
	t.Helper()
	if now := a.d.View().Seq(); now != seq {
		t.Fatalf("%s was refused, yet the journal went from record %d to %d", what, seq, now)
	}
	if read != nil {
		if after := read(); !bytes.Equal(before, after) {
			t.Fatalf("%s was refused, yet what it names changed:\nbefore %s\nafter  %s", what, before, after)
		}
	}
}

// get reads a resource as the admin: its status and body.
func (a *fuzzAPI) get(u *url.URL) (int, []byte) {
	w := a.serve(context.Background(), "GET", u, adminToken, "", nil)
	return w.Code, w.Body.Bytes()
}

// eventually waits up to 5 s for cond (positions are taken by the daemon's loop after the 204).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen after 5 s", what)
		}
	}
}

// sameJSON reports whether two JSON texts hold the same value (object keys in any order, spacing aside).
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(bx, by)
}

// sameList compares string lists, nil and empty alike (the API leaves empty lists out).
func sameList(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }

// put PUTs body at u as the admin and checks what every PUT promises: a refusal leaves no mark (see unchanged)
// and ends there (ok false); an acceptance is 201 exactly when the resource (read at view) was not there before.
func (a *fuzzAPI) put(t *testing.T, u, view *url.URL, body string) (created bool, resp []byte, ok bool) {
	t.Helper()
	seq := a.d.View().Seq()
	statusBefore, before := a.get(view)
	status, resp, e := a.call(t, "PUT", u, adminToken, body, nil)
	if e != nil {
		a.unchanged(t, "PUT "+u.String(), seq, before, func() []byte { _, b := a.get(view); return b })
		return false, nil, false
	}
	if (status == 201) != (statusBefore == 404) {
		t.Fatalf("PUT %s of what was %d answered %d", u, statusBefore, status)
	}
	return status == 201, resp, true
}

// FuzzStoreBody: PUT /v1/stores/{id}. A refusal changes nothing; an accepted store reads back (GET) as the answer
// showed it, with every field as sent, and 201 exactly when it was new.
func FuzzStoreBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, id, body string) {
		u, ok := pathWith("/v1/stores/", id, "")
		if !ok {
			return
		}
		wantRegion := service.DefaultRegion // left out: a new store's; an existing one keeps its own
		if old, ok := a.d.View().Store(id); ok {
			wantRegion = old.Region
		}
		_, resp, ok := a.put(t, u, u, body)
		if !ok {
			return
		}
		if _, after := a.get(u); !bytes.Equal(after, resp) {
			t.Fatalf("the store reads\n%s\nbut the PUT answered\n%s", after, resp)
		}
		var sent storeBody
		var got service.Store
		if err := json.Unmarshal([]byte(body), &sent); err != nil || sent.Location == nil {
			t.Fatalf("accepted %q, which does not decode as a store with a location (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil {
			t.Fatal(err)
		}
		if sent.Region != "" {
			wantRegion = sent.Region
		}
		switch {
		case got.ID != id, got.Name != sent.Name, got.Region != wantRegion, got.Location.Lat != *sent.Location.Lat, got.Location.Lon != *sent.Location.Lon,
			got.PrepSeconds != sent.PrepSeconds, got.MaxActiveOrders != sent.MaxActiveOrders, got.Timezone != sent.Timezone,
			sent.Inventory != nil && len(got.Inventory) != nonZero(sent.Inventory), hasHours(sent.Hours) != hasHours(got.Hours):
			// Hours come back in canonical form (spans sorted); zero counts are no stock; a PUT without inventory
			// keeps the stock the store had.
			t.Fatalf("sent %s, the store is %s", body, resp)
		}
		for sku, n := range sent.Inventory {
			if m, ok := got.Inventory[sku]; n > 0 && (!ok || m != n) {
				t.Fatalf("sent %s, the store is %s", body, resp)
			}
		}
	})
}

// FuzzCourierBody: PUT /v1/couriers/{id}?rotate_token=. A refusal changes nothing. An accepted courier reads back
// as sent (vehicle by its canonical name, capacity 1 when left out); a token comes with it exactly when the courier
// is new or the token rotated, that token acts as the courier, and a rotated-out token no longer does.
func FuzzCourierBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, id, rotate, body string) {
		u, ok := pathWith("/v1/couriers/", id, "")
		if !ok {
			return
		}
		if rotate != "" {
			u.RawQuery = url.Values{"rotate_token": {rotate}}.Encode()
		}
		view := &url.URL{Path: u.Path, RawPath: u.RawPath}
		wantRegion := service.DefaultRegion // left out: a new courier's; a registered one keeps its own
		if old, ok := a.d.View().Courier(id); ok {
			wantRegion = old.Region
		}
		created, resp, ok := a.put(t, u, view, body)
		if !ok {
			return
		}
		var sent courierBody
		var got courierWithToken
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a courier (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil || got.Courier == nil {
			t.Fatalf("answer %s: %v", resp, err)
		}
		wantCap, wantVehicle := 1, "bike"
		if sent.Capacity != nil {
			wantCap = *sent.Capacity
		}
		if sent.Vehicle != "" {
			p, err := geo.ParseProfile(sent.Vehicle)
			if err != nil {
				t.Fatalf("accepted vehicle %q: %v", sent.Vehicle, err)
			}
			wantVehicle = p.String()
		}
		if sent.Region != "" {
			wantRegion = sent.Region
		}
		if got.ID != id || got.Name != sent.Name || got.Region != wantRegion || got.Vehicle != wantVehicle || got.Capacity != wantCap || !sameList(got.Skills, sent.Skills) {
			t.Fatalf("sent %s, the courier is %s", body, resp)
		}
		if _, after := a.get(view); !sameJSON(after, mustJSON(t, got.Courier)) {
			t.Fatalf("the courier reads\n%s\nbut the PUT answered\n%s", after, resp)
		}
		rotated, _ := strconv.ParseBool(rotate)
		if (got.Token != "") != (created || rotated) {
			t.Fatalf("created %v, rotate_token %q: token %q", created, rotate, got.Token)
		}
		if got.Token == "" {
			return
		}
		routeStatus, route, _ := a.call(t, "GET", mustURL("/v1/courier/route"), got.Token, "", nil)
		var r service.Route
		if json.Unmarshal(route, &r); routeStatus != 200 || r.CourierID != id {
			t.Fatalf("the new token of %q reads route %d %s", id, routeStatus, route)
		}
		if old, ok := a.tokens[id]; ok && old != got.Token {
			if status, _, _ := a.call(t, "GET", mustURL("/v1/courier/route"), old, "", nil); status != 401 {
				t.Fatalf("the rotated-out token of %q still gets %d", id, status)
			}
		}
		a.tokens[id] = got.Token
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// courierAt reads courier a's position from the published view.
func (a *fuzzAPI) courierAt(id string) (service.Location, time.Time) {
	c, ok := a.d.View().Courier(id)
	if !ok || c.Location == nil || c.LocationAt == nil {
		return service.Location{}, time.Time{}
	}
	return *c.Location, *c.LocationAt
}

// expectPosition says where a position report leaves a courier whose last position dates from last: a report is
// taken at its time, or now when it has none or one in the future, unless it is older than what the daemon has.
func expectPosition(now, last time.Time, at *string) (time.Time, bool) {
	when := now
	if at != nil {
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			return time.Time{}, false
		}
		if t.Before(now) {
			when = t.UTC()
		}
	}
	return when, !when.Before(last)
}

// FuzzLocationBody: POST /v1/courier/location as courier a. A refusal writes nothing; a 204 is followed by the
// courier at the reported place (unless the report is older than the position the daemon has).
func FuzzLocationBody(f *testing.F) {
	a := newFuzzAPI(f)
	u := mustURL("/v1/courier/location")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		_, last := a.courierAt("a")
		_, _, e := a.call(t, "POST", u, a.tokens["a"], body, nil)
		if e != nil {
			a.unchanged(t, "POST "+u.Path, seq, nil, nil)
			return
		}
		var sent locationReport
		if err := json.Unmarshal([]byte(body), &sent); err != nil || sent.Location == nil || sent.Location.Lat == nil || sent.Location.Lon == nil {
			t.Fatalf("accepted %q, which does not decode as a position (%v)", body, err)
		}
		if _, taken := expectPosition(a.now(), last, sent.At); !taken {
			return
		}
		want := service.Location{Lat: *sent.Location.Lat, Lon: *sent.Location.Lon}
		eventually(t, fmt.Sprintf("courier a at %v after %s", want, body), func() bool {
			loc, _ := a.courierAt("a")
			return loc == want
		})
		// The position moves the courier: it is journaled lazily, never as a record of its own.
		if now := a.d.View().Seq(); now != seq {
			t.Fatalf("a position wrote journal records %d to %d", seq, now)
		}
	})
}

// FuzzLocationBatchBody: POST /v1/courier-locations as the admin. A refusal writes nothing; a 202 counts every
// entry, and each courier named ends at the last of its positions that is not older than what the daemon had.
func FuzzLocationBatchBody(f *testing.F) {
	a := newFuzzAPI(f)
	u := mustURL("/v1/courier-locations")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		type pos struct {
			loc service.Location
			at  time.Time
		}
		before := map[string]pos{}
		for _, id := range []string{"a", "b"} {
			loc, at := a.courierAt(id)
			before[id] = pos{loc, at}
		}
		status, resp, e := a.call(t, "POST", u, adminToken, body, nil)
		if e != nil {
			a.unchanged(t, "POST "+u.Path, seq, nil, nil)
			return
		}
		var sent locationBatch
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a batch (%v)", body, err)
		}
		var counted map[string]int
		if json.Unmarshal(resp, &counted); status != 202 || counted["accepted"] != len(sent.Locations) {
			t.Fatalf("batch of %d: %d %s", len(sent.Locations), status, resp)
		}
		want := maps.Clone(before)
		for _, l := range sent.Locations {
			p, known := want[l.CourierID]
			if !known {
				t.Fatalf("accepted a position of unknown courier %q", l.CourierID)
			}
			if when, taken := expectPosition(a.now(), p.at, l.At); taken {
				want[l.CourierID] = pos{service.Location{Lat: *l.Location.Lat, Lon: *l.Location.Lon}, when}
			}
		}
		for id, p := range want {
			eventually(t, fmt.Sprintf("courier %s at %v after %s", id, p.loc, body), func() bool {
				loc, at := a.courierAt(id)
				return loc == p.loc && at.Equal(p.at)
			})
		}
	})
}

// FuzzShiftBody: POST /v1/courier/shift as courier b. A refusal changes nothing; an accepted change shows in the
// courier's status, position and shift end.
func FuzzShiftBody(f *testing.F) {
	a := newFuzzAPI(f)
	u, view := mustURL("/v1/courier/shift"), mustURL("/v1/couriers/b")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		_, before := a.get(view)
		status, resp, e := a.call(t, "POST", u, a.tokens["b"], body, nil)
		if e != nil {
			a.unchanged(t, "POST "+u.Path, seq, before, func() []byte { _, b := a.get(view); return b })
			return
		}
		var sent shiftBody
		var got service.Courier
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a shift (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil || status != 200 {
			t.Fatalf("%d %s: %v", status, resp, err)
		}
		if _, after := a.get(view); !bytes.Equal(after, resp) {
			t.Fatalf("the courier reads\n%s\nbut the shift answered\n%s", after, resp)
		}
		switch sent.Status {
		case "offline":
			if got.Status != service.CourierOffline {
				t.Fatalf("went offline, status %q", got.Status)
			}
		case "online":
			if got.Status == service.CourierOffline {
				t.Fatalf("went online, status %q", got.Status)
			}
			if sent.Location != nil && (got.Location == nil || got.Location.Lat != *sent.Location.Lat || got.Location.Lon != *sent.Location.Lon) {
				t.Fatalf("went online at %s, the courier is %s", body, resp)
			}
			if end, _ := parseTime("shift_end", sent.ShiftEnd); (end == nil) != (got.ShiftEnd == nil) || end != nil && !end.Equal(*got.ShiftEnd) {
				t.Fatalf("shift_end %v sent, %v shown", sent.ShiftEnd, got.ShiftEnd)
			}
		default:
			t.Fatalf("accepted status %q", sent.Status)
		}
	})
}

// orderOf returns an order of courier a in the status wanted ("assigned" or "picked_up"): the one a previous input
// left so when there is one, else a new one, placed and given to courier a (the only one online) by a round.
func (a *fuzzAPI) orderOf(t *testing.T, status string) string {
	t.Helper()
	if o, ok := a.d.View().Order(a.orders[status]); ok && o.Status == status && o.CourierID == "a" {
		return o.ID
	}
	w := a.serve(context.Background(), "POST", mustURL("/v1/orders"), a.key, `{"store_id":"s1","dropoff":{"lat":31.235,"lon":121.478}}`, nil)
	var o service.Order
	if json.Unmarshal(w.Body.Bytes(), &o); w.Code != 201 {
		t.Fatalf("placing an order: %d %s", w.Code, w.Body)
	}
	if err := a.d.DispatchNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.d.View().Order(o.ID); v.Status != "assigned" || v.CourierID != "a" {
		t.Fatalf("order %s is %s with %q after a round, want assigned to a", o.ID, v.Status, v.CourierID)
	}
	if status == "picked_up" {
		for _, action := range []string{"arrived", "picked_up"} {
			w := a.serve(context.Background(), "POST", mustURL("/v1/courier/orders/"+o.ID+"/"+action), a.tokens["a"], "", nil)
			if w.Code != 200 {
				t.Fatalf("%s: %d %s", action, w.Code, w.Body)
			}
		}
	}
	a.orders[status] = o.ID
	return o.ID
}

// FuzzReasonBody: the bodies that carry only a reason: POST /v1/orders/{id}/cancel (which 0), and courier a's
// /decline (1) and /failed (2). A refusal changes nothing; an accepted one ends in the status it names, with the
// reason in the order's timeline ("declined" for a decline).
func FuzzReasonBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		var u *url.URL
		var id string
		token, want := a.tokens["a"], ""
		switch which % 3 {
		case 0:
			id = a.orderOf(t, "assigned")
			u, token, want = mustURL("/v1/orders/"+id+"/cancel"), a.key, "cancelled"
		case 1:
			id = a.orderOf(t, "assigned")
			u, want = mustURL("/v1/courier/orders/"+id+"/decline"), "pending"
		case 2:
			id = a.orderOf(t, "picked_up")
			u, want = mustURL("/v1/courier/orders/"+id+"/failed"), "failed"
		}
		view := mustURL("/v1/orders/" + id)
		seq := a.d.View().Seq()
		_, before := a.get(view)
		_, resp, e := a.call(t, "POST", u, token, body, nil)
		if e != nil {
			a.unchanged(t, "POST "+u.Path, seq, before, func() []byte { _, b := a.get(view); return b })
			return
		}
		if want == "pending" {
			// Declined: nobody else is online to take it; it goes so that it does not pile up.
			a.serve(context.Background(), "POST", mustURL("/v1/orders/"+id+"/cancel"), adminToken, "", nil)
		}
		var sent reasonBody
		if strings.TrimSpace(body) != "" {
			if err := json.Unmarshal([]byte(body), &sent); err != nil {
				t.Fatalf("accepted %q, which does not decode as a reason (%v)", body, err)
			}
		}
		var got service.Order
		if err := json.Unmarshal(resp, &got); err != nil {
			t.Fatal(err)
		}
		// The reason shows in the timeline, except a decline's, whose entry says "declined" (as documented).
		wantReason := sent.Reason
		if want == "pending" {
			wantReason = "declined"
		}
		last := got.Timeline[len(got.Timeline)-1]
		if got.Status != want || last.Status != want || wantReason != "" && last.Reason != wantReason {
			t.Fatalf("sent %s to %s: status %s, last timeline entry %+v", body, u.Path, got.Status, last)
		}
	})
}

// FuzzAPIKeyBody: POST /v1/api-keys. A refusal changes nothing; a made key has the role asked (orders when none
// is), is listed under its name and reads stores at once.
func FuzzAPIKeyBody(f *testing.F) {
	a := newFuzzAPI(f)
	u, list := mustURL("/v1/api-keys"), mustURL("/v1/api-keys")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		_, before := a.get(list)
		status, resp, e := a.call(t, "POST", u, adminToken, body, nil)
		if e != nil {
			a.unchanged(t, "POST "+u.Path, seq, before, func() []byte { _, b := a.get(list); return b })
			return
		}
		var sent keyBody
		var got keyWithSecret
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a key (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil || status != 201 || got.APIKey == nil {
			t.Fatalf("%d %s: %v", status, resp, err)
		}
		if got.Name != sent.Name || got.Role != cmp.Or(sent.Role, "orders") || got.Key == "" {
			t.Fatalf("sent %s, made %s", body, resp)
		}
		var keys struct {
			APIKeys []service.APIKey `json:"api_keys"`
		}
		_, listed := a.get(list)
		json.Unmarshal(listed, &keys)
		if !slices.ContainsFunc(keys.APIKeys, func(k service.APIKey) bool { return k.ID == got.ID && k.Name == sent.Name }) {
			t.Fatalf("key %s is not listed: %s", got.ID, listed)
		}
		if status, _, _ := a.call(t, "GET", mustURL("/v1/stores"), got.Key, "", nil); status != 200 {
			t.Fatalf("the new key reads stores: %d", status)
		}
	})
}

// FuzzWebhookBody: PUT /v1/webhooks/{id}. A refusal changes nothing; an accepted webhook reads back with the URL
// and events sent, and its secret is never shown. (No order events happen here, so nothing is ever delivered to
// the URLs the fuzzer makes up.)
func FuzzWebhookBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, id, body string) {
		u, ok := pathWith("/v1/webhooks/", id, "")
		if !ok {
			return
		}
		_, resp, ok := a.put(t, u, u, body)
		if !ok {
			return
		}
		var sent webhookBody
		var got service.Webhook
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a webhook (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != id || got.URL != sent.URL || !sameList(got.Events, sent.Events) {
			t.Fatalf("sent %s, the webhook is %s", body, resp)
		}
		_, after := a.get(u)
		for _, b := range [][]byte{resp, after} {
			var fields map[string]any
			json.Unmarshal(b, &fields)
			for k, v := range fields {
				if k == "secret" || v == sent.Secret && k != "url" && k != "id" {
					t.Fatalf("the webhook's secret is shown: %s", b)
				}
			}
		}
	})
}

// FuzzQuoteBody: POST /v1/quotes. A quote changes nothing, whatever the answer; a 200 carries the store asked
// about, a promise and its reasons.
func FuzzQuoteBody(f *testing.F) {
	a := newFuzzAPI(f)
	u, courier := mustURL("/v1/quotes"), mustURL("/v1/couriers/a")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		_, before := a.get(courier)
		status, resp, e := a.call(t, "POST", u, a.key, body, nil)
		a.unchanged(t, "a quote", seq, before, func() []byte { _, b := a.get(courier); return b })
		if e != nil {
			return
		}
		var sent orderBody
		var got service.Quote
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as an order (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil || status != 200 {
			t.Fatalf("%d %s: %v", status, resp, err)
		}
		if st, ok := a.d.View().Store(got.StoreID); got.Region != "" && (!ok || got.Region != st.Region) {
			t.Fatalf("quote of %s: region %q, not that of store %q", body, got.Region, got.StoreID)
		}
		if got.StoreID != sent.StoreID || got.DeliverBy.IsZero() || got.Reasons == nil ||
			got.Feasible && (len(got.Reasons) > 0 || got.PickupETA == nil || got.DropoffETA == nil) {
			t.Fatalf("quote of %s: %s", body, resp)
		}
	})
}

// FuzzOrderBody: POST /v1/orders. A refusal changes nothing. An accepted order reads back (GET) as the 201 showed
// it, pending, with what was sent: store, drop-off, size (1 when left out), skills, external id, customer, and the
// promise and readiness worked out from the fields given (or the defaults: 30 minutes, the store's 300 s).
func FuzzOrderBody(f *testing.F) {
	a := newFuzzAPI(f)
	u := mustURL("/v1/orders")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		status, resp, e := a.call(t, "POST", u, a.key, body, nil)
		if e != nil {
			a.unchanged(t, "POST /v1/orders", seq, nil, nil)
			return
		}
		var sent orderBody
		var got service.Order
		if err := json.Unmarshal([]byte(body), &sent); err != nil || sent.Dropoff == nil || sent.Dropoff.Lat == nil || sent.Dropoff.Lon == nil {
			t.Fatalf("accepted %q, which does not decode as an order with a drop-off (%v)", body, err)
		}
		if err := json.Unmarshal(resp, &got); err != nil || status != 201 {
			t.Fatalf("%d %s: %v", status, resp, err)
		}
		if _, after := a.get(mustURL("/v1/orders/" + got.ID)); !bytes.Equal(bytes.TrimSpace(after), bytes.TrimSpace(resp)) {
			t.Fatalf("the order reads\n%s\nbut the POST answered\n%s", after, resp)
		}
		size := 1
		if sent.Size != nil {
			size = *sent.Size
		}
		now := a.now()
		ready, deliverBy := now.Add(300*time.Second), now.Add(30*time.Minute)
		switch {
		case sent.ReadyAt != nil:
			r, _ := time.Parse(time.RFC3339Nano, *sent.ReadyAt)
			ready = maxTime(r, now)
		case sent.PrepSeconds != nil:
			ready = now.Add(time.Duration(*sent.PrepSeconds) * time.Second)
		}
		switch {
		case sent.DeliverBy != nil:
			deliverBy, _ = time.Parse(time.RFC3339Nano, *sent.DeliverBy)
		case sent.PromiseSeconds != nil:
			deliverBy = now.Add(time.Duration(*sent.PromiseSeconds) * time.Second)
		}
		// A delivery window: without an end it is the default promise long; starting more than the schedule's
		// horizon (90 minutes) ahead, it schedules the order, whose preparation starts the horizon before it.
		wantStatus, anchor := "pending", deliverBy
		if sent.DeliverAfter != nil {
			after, _ := time.Parse(time.RFC3339Nano, *sent.DeliverAfter)
			if sent.DeliverBy == nil && sent.PromiseSeconds == nil {
				deliverBy = after.Add(30 * time.Minute)
			}
			if anchor = after; after.Sub(now) > 90*time.Minute && sent.ReadyAt == nil {
				ready = ready.Add(after.Add(-90 * time.Minute).Sub(now))
			}
		}
		if anchor.Sub(now) > 90*time.Minute && sent.Fulfilment != "pickup" {
			wantStatus = "scheduled"
		}
		switch {
		case got.Status != wantStatus, got.StoreID != sent.StoreID, got.ExternalID != sent.ExternalID,
			got.Dropoff.Lat != *sent.Dropoff.Lat, got.Dropoff.Lon != *sent.Dropoff.Lon, got.Size != size,
			!sameList(got.Skills, sent.Skills), !sameJSON(got.Customer, sent.Customer),
			!got.CreatedAt.Equal(now), !got.ReadyAt.Equal(ready), !got.DeliverBy.Equal(deliverBy):
			t.Fatalf("sent %s, placed %s (ready %s, deliver by %s expected)", body, resp, ready, deliverBy)
		}
		if got.ReadyAt.After(got.DeliverBy) || !got.DeliverBy.After(now) {
			t.Fatalf("accepted an order that cannot be on time: %s", resp)
		}
		if st, ok := a.d.View().Store(got.StoreID); !ok || got.Region != st.Region || sent.Region != "" && got.Region != sent.Region {
			t.Fatalf("sent %s, placed an order of region %q at store %s", body, got.Region, got.StoreID)
		}
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func nonZero(stock map[string]int) int {
	n := 0
	for _, q := range stock {
		if q != 0 {
			n++
		}
	}
	return n
}

func hasHours(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// FuzzInventoryBody sends any PATCH /v1/stores/{id}/inventory body: it is refused with an application error and
// the stock is unchanged, or accepted, and then every SKU it set or moved has the count the body says.
func FuzzInventoryBody(f *testing.F) {
	a := newFuzzAPI(f)
	u, view := mustURL("/v1/stores/s1/inventory"), mustURL("/v1/stores/s1")
	f.Fuzz(func(t *testing.T, body string) {
		seq := a.d.View().Seq()
		_, before := a.get(view)
		_, resp, e := a.call(t, "PATCH", u, adminToken, body, nil)
		if e != nil {
			a.unchanged(t, "PATCH "+u.Path, seq, before, func() []byte { _, b := a.get(view); return b })
			return
		}
		var sent inventoryBody
		var old, got service.Store
		if err := json.Unmarshal([]byte(body), &sent); err != nil {
			t.Fatalf("accepted %q, which does not decode as a change (%v)", body, err)
		}
		json.Unmarshal(before, &old)
		json.Unmarshal(resp, &got)
		for sku, n := range sent.Set {
			if _, moved := sent.Adjust[sku]; !moved && got.Inventory[sku] != n {
				t.Fatalf("%s: set %s to %d, the store has %d", body, sku, n, got.Inventory[sku])
			}
		}
		for sku, d := range sent.Adjust {
			base, isSet := sent.Set[sku]
			if !isSet {
				base = old.Inventory[sku]
			}
			if got.Inventory[sku] != base+d {
				t.Fatalf("%s: %s from %d by %d, the store has %d", body, sku, base, d, got.Inventory[sku])
			}
		}
	})
}

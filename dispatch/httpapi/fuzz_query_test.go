package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// This file fuzzes what the API reads from query strings and headers (see fuzz_test.go for the harness). Each
// target has an oracle written from the contract: it says, from the input alone, whether the request is valid,
// and for a valid one what the answer must hold.

// placeOrders places orders at stores s1 and s2, a minute apart, runs a round (courier a takes some), and moves
// some of them on: one cancelled, one picked up. It returns their ids.
func (a *fuzzAPI) placeOrders(f *testing.F, n int) []string {
	f.Helper()
	var ids []string
	for i := range n {
		body := fmt.Sprintf(`{"store_id":"s%d","dropoff":{"lat":31.23%d,"lon":121.47%d},"external_id":"ext-%d"}`, i%2+1, i, i, i)
		var o service.Order
		json.Unmarshal(a.setup(f, 201, "POST", "/v1/orders", a.key, body), &o)
		ids = append(ids, o.ID)
		a.advance(time.Minute)
	}
	if err := a.d.DispatchNow(context.Background()); err != nil {
		f.Fatal(err)
	}
	a.setup(f, 200, "POST", "/v1/orders/"+ids[len(ids)-1]+"/cancel", a.key, `{"reason":"test"}`)
	for _, id := range ids {
		if o, _ := a.d.View().Order(id); o.Status == "assigned" && o.CourierID == "a" {
			a.setup(f, 200, "POST", "/v1/courier/orders/"+id+"/picked_up", a.tokens["a"], "")
			break
		}
	}
	return ids
}

// orderQuery is what the oracle makes of a GET /v1/orders query: the filters, or the fields that are wrong.
type orderQuery struct {
	filter service.OrderFilter
	bad    map[string]bool // the fields a 400 may name ("" for a query string that is not well formed)
}

func parseOrderQuery(raw string) orderQuery {
	q := orderQuery{filter: service.OrderFilter{Limit: 100}, bad: map[string]bool{}}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		q.bad[""] = true
		return q
	}
	for k := range vals {
		switch k {
		case "status", "store_id", "courier_id", "region", "created_since", "created_until", "limit", "cursor":
		default:
			q.bad[asJSON(k)] = true
		}
	}
	f := &q.filter
	f.Status, f.StoreID, f.CourierID, f.Region = vals.Get("status"), vals.Get("store_id"), vals.Get("courier_id"), vals.Get("region")
	if _, given := vals["region"]; given && service.CheckRegion(f.Region) != nil {
		q.bad["region"] = true
	}
	switch f.Status {
	case "", "pending", "assigned", "picked_up", "delivered", "cancelled", "failed":
	default:
		q.bad["status"] = true
	}
	for name, dst := range map[string]*time.Time{"created_since": &f.CreatedSince, "created_until": &f.CreatedUntil} {
		if v := vals.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				q.bad[name] = true
			}
			*dst = t
		}
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			q.bad["limit"] = true
		}
		f.Limit = n
	}
	if v := vals.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			q.bad["cursor"] = true
		}
		f.After = c
	}
	return q
}

// asJSON is a string as it comes back from JSON: each byte that is not UTF-8 turned into U+FFFD (how an error
// naming an unknown parameter shows it).
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	json.Unmarshal(b, &s)
	return s
}

// matches says whether an order passes the filter's conditions (the cursor and the limit aside).
func (q *orderQuery) matches(o *service.Order) bool {
	f := &q.filter
	return (f.Status == "" || o.Status == f.Status) && (f.StoreID == "" || o.StoreID == f.StoreID) &&
		(f.CourierID == "" || o.CourierID == f.CourierID) && (f.Region == "" || o.Region == f.Region) &&
		(f.CreatedSince.IsZero() || !o.CreatedAt.Before(f.CreatedSince)) &&
		(f.CreatedUntil.IsZero() || o.CreatedAt.Before(f.CreatedUntil))
}

func byCreation(a, b *service.Order) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
}

// FuzzListOrdersQuery: GET /v1/orders?<query>. An invalid query (malformed, an unknown parameter, a bad status,
// time, limit or cursor) is a 400 naming a field that is wrong; a valid one gets exactly the matching orders after
// the cursor, oldest first, at most limit of them, and a next_cursor exactly when more follow, which resumes after
// the last one shown. A cursor this API accepts re-encodes to the same place.
func FuzzListOrdersQuery(f *testing.F) {
	a := newFuzzAPI(f)
	ids := a.placeOrders(f, 6)
	f.Fuzz(func(t *testing.T, raw string) {
		q := parseOrderQuery(raw)
		status, body, e := a.call(t, "GET", &url.URL{Path: "/v1/orders", RawQuery: raw}, a.key, "", nil)
		if len(q.bad) > 0 || e != nil {
			if e == nil || status != 400 || !q.bad[e.Field] {
				t.Fatalf("?%s: %d %s; the oracle finds %v wrong", raw, status, body, q.bad)
			}
			return
		}
		if c := q.filter.After; c.ID != "" {
			if back, err := decodeCursor(encodeCursor(c)); err != nil || !back.CreatedAt.Equal(c.CreatedAt) || back.ID != c.ID {
				t.Fatalf("cursor %+v re-encodes to %+v (%v)", c, back, err)
			}
		}
		var want []*service.Order
		for _, id := range ids {
			if o, ok := a.d.View().Order(id); ok && q.matches(o) && (q.filter.After.ID == "" || byCreation(&service.Order{CreatedAt: q.filter.After.CreatedAt, ID: q.filter.After.ID}, o) < 0) {
				want = append(want, o)
			}
		}
		slices.SortFunc(want, byCreation)
		more := len(want) > q.filter.Limit
		want = want[:min(len(want), q.filter.Limit)]
		var got orderList
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		gotIDs, wantIDs := make([]string, len(got.Orders)), make([]string, len(want))
		for i := range got.Orders {
			gotIDs[i] = got.Orders[i].ID
		}
		for i := range want {
			wantIDs[i] = want[i].ID
		}
		if !slices.Equal(gotIDs, wantIDs) || (got.NextCursor != "") != more {
			t.Fatalf("?%s: orders %v, next cursor %q; want %v, more %v", raw, gotIDs, got.NextCursor, wantIDs, more)
		}
		if more {
			c, err := decodeCursor(got.NextCursor)
			last := want[len(want)-1]
			if err != nil || c.ID != last.ID || !c.CreatedAt.Equal(last.CreatedAt) {
				t.Fatalf("next cursor %q is %+v (%v), want after %s", got.NextCursor, c, err, last.ID)
			}
		}
	})
}

// FuzzListStoresQuery: GET /v1/stores?near=&radius_m=&region=. A malformed region, a near that is not "lat,lon"
// within range, a radius that is not a number in (0, 100000] or a radius without near is a 400 naming that field;
// otherwise the answer is every store of the region (of any, without one) within the radius (all of them without
// near), nearest first.
func FuzzListStoresQuery(f *testing.F) {
	a := newFuzzAPI(f)
	// Two more stores, far apart, so that radii matter.
	a.setup(f, 201, "PUT", "/v1/stores/far", adminToken, `{"location":{"lat":39.9042,"lon":116.4074}}`)
	a.setup(f, 201, "PUT", "/v1/stores/edge", adminToken, `{"location":{"lat":-33.8688,"lon":180}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		status, body, e := a.call(t, "GET", &url.URL{Path: "/v1/stores", RawQuery: raw}, a.key, "", nil)
		vals, err := url.ParseQuery(raw)
		bad := ""
		var near service.Location
		radius := 3000.0
		unknown := unknownParams(vals, "near", "radius_m", "region")
		region := vals.Get("region")
		_, regionGiven := vals["region"]
		switch {
		case err != nil:
			bad = "query" // not well formed: no one field to name
		case len(unknown) > 0:
			bad = "unknown" // a misspelt parameter: the error names one of them
		case regionGiven && service.CheckRegion(region) != nil:
			bad = "region"
		case vals.Get("near") == "" && vals.Get("radius_m") != "":
			bad = "near"
		case vals.Get("near") != "":
			lat, lon, ok := strings.Cut(vals.Get("near"), ",")
			la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
			lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
			near = service.Location{Lat: la, Lon: lo}
			if !ok || err1 != nil || err2 != nil || !(la >= -90 && la <= 90) || !(lo >= -180 && lo <= 180) {
				bad = "near"
				break
			}
			if v := vals.Get("radius_m"); v != "" {
				r, err := strconv.ParseFloat(v, 64)
				if err != nil || !(r > 0 && r <= 100_000) {
					bad = "radius_m"
				}
				radius = r
			}
		}
		if bad != "" || e != nil {
			if e == nil || status != 400 || (bad == "unknown" && !slices.Contains(unknown, e.Field)) ||
				(bad != "query" && bad != "unknown" && e.Field != bad) {
				t.Fatalf("?%s: %d %s; the oracle finds %q wrong", raw, status, body, bad)
			}
			return
		}
		var got storeList
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		var all []*service.Store
		for _, s := range a.d.View().Stores() {
			if region == "" || s.Region == region {
				all = append(all, s)
			}
		}
		if vals.Get("near") == "" {
			if len(got.Stores) != len(all) {
				t.Fatalf("?%s: %d stores of %d", raw, len(got.Stores), len(all))
			}
			return
		}
		distance := func(s *service.Store) float64 { return geo.Geographic.Distance(near.Point(), s.Location.Point()) }
		var want []string
		for _, s := range all {
			if distance(s) <= radius {
				want = append(want, s.ID)
			}
		}
		var gotIDs []string
		for i, s := range got.Stores {
			gotIDs = append(gotIDs, s.ID)
			if i > 0 && distance(got.Stores[i-1]) > distance(s) {
				t.Fatalf("?%s: %s listed after %s, which is farther", raw, s.ID, got.Stores[i-1].ID)
			}
		}
		slices.Sort(gotIDs)
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("?%s: stores %v, want %v within %g m", raw, gotIDs, want, radius)
		}
	})
}

// FuzzListCouriersQuery: GET /v1/couriers?status=&region=. A status other than online, offline,
// awaiting_location, idle or busy is a 400 naming status, a malformed region one naming region; otherwise exactly
// the couriers of the region (of any, without one) in that status (online: any but offline).
func FuzzListCouriersQuery(f *testing.F) {
	a := newFuzzAPI(f)
	// A third courier on shift with no position: awaiting_location.
	var c struct{ Token string }
	json.Unmarshal(a.setup(f, 201, "PUT", "/v1/couriers/c", adminToken, `{}`), &c)
	a.setup(f, 200, "POST", "/v1/courier/shift", c.Token, `{"status":"online"}`)
	f.Fuzz(func(t *testing.T, raw string) {
		status, body, e := a.call(t, "GET", &url.URL{Path: "/v1/couriers", RawQuery: raw}, adminToken, "", nil)
		vals, err := url.ParseQuery(raw)
		st, region := vals.Get("status"), vals.Get("region")
		unknown := unknownParams(vals, "status", "region")
		badStatus := !slices.Contains([]string{"", "online", "offline", "awaiting_location", "idle", "busy"}, st)
		_, regionGiven := vals["region"]
		badRegion := regionGiven && service.CheckRegion(region) != nil
		valid := err == nil && len(unknown) == 0 && !badStatus && !badRegion
		if !valid || e != nil {
			if valid || e == nil || status != 400 || err == nil && !(e.Field == "status" && badStatus) &&
				!(e.Field == "region" && badRegion) && !slices.Contains(unknown, e.Field) {
				t.Fatalf("?%s: %d %s; valid %v", raw, status, body, valid)
			}
			return
		}
		var got struct{ Couriers []service.Courier }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		var want, gotIDs []string
		for _, id := range []string{"a", "b", "c"} {
			v, _ := a.d.View().Courier(id)
			if region != "" && v.Region != region {
				continue
			}
			if st == "" || v.Status == st || st == "online" && v.Status != service.CourierOffline {
				want = append(want, id)
			}
		}
		for _, c := range got.Couriers {
			gotIDs = append(gotIDs, c.ID)
		}
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("?%s: couriers %v, want %v", raw, gotIDs, want)
		}
	})
}

// tokenPlaceholders stand for the tokens in FuzzAuthorization's inputs: the fuzzer cannot guess a random token,
// but it can build headers around one.
var tokenPlaceholders = []string{"{admin}", "{key}", "{courier}"}

// FuzzAuthorization: the Authorization header on GET /v1/stores (for the admin and order services). The answer
// is 200, 401 or 403, and only a header that is "Bearer" (any case), a space, and the exact token, with
// surrounding blanks at most, gets past authentication: a known admin or order-service token is 200, a courier's
// token 403. A header of exactly that form is never refused as unauthenticated.
func FuzzAuthorization(f *testing.F) {
	a := newFuzzAPI(f)
	tokens := []string{adminToken, a.key, a.tokens["a"]}
	u := mustURL("/v1/stores")
	f.Fuzz(func(t *testing.T, header string) {
		for i, p := range tokenPlaceholders {
			header = strings.ReplaceAll(header, p, tokens[i])
		}
		status, body, _ := a.call(t, "GET", u, "", "", http.Header{"Authorization": {header}})
		fields := strings.Fields(header)
		who := -1
		if len(fields) == 2 && strings.EqualFold(fields[0], "bearer") {
			who = slices.Index(tokens, fields[1])
		}
		switch status {
		case 200, 403:
			if who < 0 || (status == 403) != (who == 2) {
				t.Fatalf("Authorization %q: %d %s", header, status, body)
			}
		case 401:
			if scheme, token, _ := strings.Cut(header, " "); strings.EqualFold(scheme, "bearer") && slices.Contains(tokens, token) {
				t.Fatalf("Authorization %q: 401 for a known token in the plain form", header)
			}
		default:
			t.Fatalf("Authorization %q: %d %s, want 200, 401 or 403", header, status, body)
		}
	})
}

// sseIDs reads the ids of the events in a server-sent event stream.
func sseIDs(t *testing.T, body []byte) []uint64 {
	t.Helper()
	var ids []uint64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("event id %q", v)
			}
			ids = append(ids, n)
		}
	}
	return ids
}

// lastEventIDOK is the oracle for Last-Event-ID: a decimal number (ASCII digits only) below 2^63.
func lastEventIDOK(h string) (uint64, bool) {
	if h == "" || strings.Trim(h, "0123456789") != "" {
		return 0, false
	}
	digits := strings.TrimLeft(h, "0")
	if digits == "" {
		return 0, true
	}
	if len(digits) > 19 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n <= math.MaxInt64
}

// FuzzLastEventID: the Last-Event-ID header of GET /v1/events (stream 0) and GET /v1/courier/stream (stream 1).
// A value that is not a decimal number below 2^63 is a 400 naming the header; otherwise the stream sends exactly
// what came after it: every order event with a higher id, in order, or the courier's route when its version is
// higher.
func FuzzLastEventID(f *testing.F) {
	a := newFuzzAPI(f)
	a.placeOrders(f, 4)
	f.Fuzz(func(t *testing.T, h string, courier bool) {
		u, token := mustURL("/v1/events"), adminToken
		if courier {
			u, token = mustURL("/v1/courier/stream"), a.tokens["a"]
		}
		// The stream ends at once: it sends what is due, then sees its request is over.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		last := a.d.LastEventID()
		w := a.serve(ctx, "GET", u, token, "", http.Header{"Last-Event-Id": {h}})
		if a.d.LastEventID() != last {
			return // the fixture's last events were still being written: the oracle cannot say what was due
		}
		e := answer(t, u.Path, w.Code, w.Body.Bytes())
		n, valid := lastEventIDOK(h)
		if h == "" {
			valid = true
		}
		if !valid || e != nil {
			if valid || e == nil || w.Code != 400 || e.Field != "Last-Event-ID" {
				t.Fatalf("Last-Event-ID %q: %d %s", h, w.Code, w.Body)
			}
			return
		}
		got := sseIDs(t, w.Body.Bytes())
		var want []uint64
		if courier {
			if r, _ := a.d.View().Route("a"); h == "" || r.Version > n {
				want = []uint64{r.Version}
			}
		} else if h != "" {
			for id := n + 1; id <= last && id > n; id++ {
				want = append(want, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Last-Event-ID %q on %s: events %v, want %v", h, u.Path, got, want)
		}
	})
}

// FuzzIdempotencyKey: the Idempotency-Key header of POST /v1/orders. A key over 255 characters, or not valid
// UTF-8 (it would not survive the journal's JSON unchanged), is a 400 naming it. Otherwise the same key with the same body gets the very same answer again (however often, across inputs),
// and with another body 422; without a key, every POST is a new order.
func FuzzIdempotencyKey(f *testing.F) {
	a := newFuzzAPI(f)
	u := mustURL("/v1/orders")
	const body, other = `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`, `{"store_id":"s2","dropoff":{"lat":31.24,"lon":121.48}}`
	f.Fuzz(func(t *testing.T, key string) {
		hdr := http.Header{"Idempotency-Key": {key}}
		s1, b1, e1 := a.call(t, "POST", u, a.key, body, hdr)
		if utf8.RuneCountInString(key) > 255 || !utf8.ValidString(key) {
			if e1 == nil || s1 != 400 || e1.Field != "Idempotency-Key" {
				t.Fatalf("a key of %d characters: %d %s", utf8.RuneCountInString(key), s1, b1)
			}
			return
		}
		if e1 != nil {
			t.Fatalf("key %q: %d %s", key, s1, b1)
		}
		s2, b2, _ := a.call(t, "POST", u, a.key, body, hdr)
		var o1, o2 service.Order
		json.Unmarshal(b1, &o1)
		json.Unmarshal(b2, &o2)
		if key == "" {
			if s2 != 201 || o1.ID == o2.ID {
				t.Fatalf("two POSTs without a key: %s then %d %s", o1.ID, s2, o2.ID)
			}
			return
		}
		if s2 != s1 || !bytes.Equal(b1, b2) {
			t.Fatalf("key %q again: %d %s, first %d %s", key, s2, b2, s1, b1)
		}
		if s3, b3, e3 := a.call(t, "POST", u, a.key, other, hdr); e3 == nil || s3 != 422 || e3.Code != "idempotency_mismatch" {
			t.Fatalf("key %q with another body: %d %s", key, s3, b3)
		}
	})
}

// unknownParams lists the query parameters that are not among known (the API refuses them, naming one), as the
// error body spells them (JSON replaces invalid UTF-8 with U+FFFD).
func unknownParams(vals url.Values, known ...string) []string {
	var out []string
	for k := range vals {
		if !slices.Contains(known, k) {
			b, _ := json.Marshal(k)
			var spelt string
			json.Unmarshal(b, &spelt)
			out = append(out, spelt)
		}
	}
	return out
}

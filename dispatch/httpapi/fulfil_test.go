package httpapi

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
)

// The fulfilment tests run at a fixed moment: Monday 2026-11-23 11:00 UTC, 19:00 in Shanghai.
var fulfilNow = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

func newFulfilFixture(t *testing.T) *fixture {
	f := newFixtureWith(t, func(c *daemon.Config) { c.Now = func() time.Time { return fulfilNow } })
	for _, s := range []struct{ id, body string }{
		{"corner", `{"location":{"lat":31.2304,"lon":121.4737},"prep_seconds":300,"inventory":{"milk":3,"eggs":1}}`},
		{"market", `{"location":{"lat":31.2404,"lon":121.4837},"prep_seconds":300,"max_active_orders":1,"inventory":{"milk":20,"eggs":20,"rice":4}}`},
		{"daytime", `{"location":{"lat":31.2310,"lon":121.4740},"prep_seconds":600,"timezone":"Asia/Shanghai",
			"hours":{"mon":["08:00-18:00"],"tue":["08:00-18:00"]},"inventory":{"tea":5}}`},
	} {
		f.expect(201, "PUT", "/v1/stores/"+s.id, adminToken, s.body)
	}
	return f
}

type errorReply struct {
	Error struct {
		Code       string
		Field      string
		Reasons    []string
		Candidates []struct {
			StoreID string `json:"store_id"`
			Reason  string
		}
	}
}

func (f *fixture) unservable(path, body, wantReason string) errorReply {
	f.t.Helper()
	var e errorReply
	json.Unmarshal(f.expect(422, "POST", path, f.key, body), &e)
	if e.Error.Code != "unservable" || !slices.Contains(e.Error.Reasons, wantReason) || len(e.Error.Candidates) == 0 {
		f.t.Fatalf("%s: %+v, want unservable with reason %s and candidates", body, e.Error, wantReason)
	}
	return e
}

type storeReply struct {
	Inventory, Reserved map[string]int
	Preparing           *int
}

func (f *fixture) storeStock(id string) storeReply {
	f.t.Helper()
	var s storeReply
	json.Unmarshal(f.expect(200, "GET", "/v1/stores/"+id, f.key, ""), &s)
	return s
}

func TestFulfilmentRulesOverHTTP(t *testing.T) {
	f := newFulfilFixture(t)
	var o struct {
		ID         string
		StoreID    string `json:"store_id"`
		Status     string
		ReadyAt    time.Time `json:"ready_at"`
		PickupBy   time.Time `json:"pickup_by"`
		Fulfilment string
	}
	// Items choose the store: the corner shop is nearest and has them.
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"items":[{"sku":"milk","qty":2},{"sku":"eggs","qty":1}],"dropoff":{"lat":31.2300,"lon":121.4730}}`), &o)
	if o.StoreID != "corner" || o.Fulfilment != "delivery" {
		t.Fatalf("order %+v, want the corner shop", o)
	}
	if s := f.storeStock("corner"); !maps.Equal(s.Reserved, map[string]int{"milk": 2, "eggs": 1}) || s.Inventory["milk"] != 3 {
		t.Fatalf("corner after the order: %+v", s)
	}
	// Each rejection reason, with its candidates.
	f.unservable("/v1/orders", `{"items":[{"sku":"eggs","qty":30}],"dropoff":{"lat":31.2300,"lon":121.4730}}`, "out_of_stock")
	f.unservable("/v1/orders", `{"store_id":"daytime","dropoff":{"lat":31.2300,"lon":121.4730}}`, "closed")
	f.unservable("/v1/orders", `{"store_id":"nowhere","dropoff":{"lat":31.2300,"lon":121.4730}}`, "store_not_found")
	f.unservable("/v1/orders", `{"items":[{"sku":"milk","qty":1}],"dropoff":{"lat":32.5,"lon":121.4730}}`, "no_store_in_reach")
	f.unservable("/v1/orders", `{"items":[{"sku":"rice","qty":1}],"promise_seconds":600,"dropoff":{"lat":31.2300,"lon":121.4730}}`, "too_far")
	// The market prepares one order at a time: 5 minutes each.
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"market","promise_seconds":900,"dropoff":{"lat":31.2400,"lon":121.4830}}`), &o)
	if !o.ReadyAt.Equal(fulfilNow.Add(5 * time.Minute)) {
		t.Fatalf("first market order ready %s", o.ReadyAt)
	}
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"market","promise_seconds":900,"dropoff":{"lat":31.2400,"lon":121.4830}}`), &o)
	if !o.ReadyAt.Equal(fulfilNow.Add(10 * time.Minute)) {
		t.Fatalf("second market order ready %s, want +10m behind the first", o.ReadyAt)
	}
	if s := f.storeStock("market"); s.Preparing == nil || *s.Preparing != 2 {
		t.Fatalf("market preparing %v, want 2", s.Preparing)
	}
	f.unservable("/v1/orders", `{"store_id":"market","promise_seconds":600,"dropoff":{"lat":31.2400,"lon":121.4830}}`, "store_busy")
	// A night order for the closed store, promised for after it opens (08:00 Shanghai = 00:00 UTC).
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"daytime","deliver_by":"2026-11-24T01:00:00Z","dropoff":{"lat":31.2300,"lon":121.4730}}`), &o)
	if !o.ReadyAt.Equal(time.Date(2026, 11, 24, 0, 10, 0, 0, time.UTC)) || !o.PickupBy.Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("night order ready %s, pick-up by %s", o.ReadyAt, o.PickupBy)
	}
	// A quote answers the same and reserves nothing.
	var q struct {
		Feasible bool
		StoreID  string     `json:"store_id"`
		ReadyAt  *time.Time `json:"ready_at"`
	}
	json.Unmarshal(f.expect(200, "POST", "/v1/quotes", f.key, `{"items":[{"sku":"rice","qty":2}],"dropoff":{"lat":31.2400,"lon":121.4830}}`), &q)
	if q.StoreID != "market" || q.ReadyAt == nil || !q.ReadyAt.Equal(fulfilNow.Add(15*time.Minute)) {
		t.Fatalf("quote %+v: want market, ready behind its two orders", q)
	}
	if s := f.storeStock("market"); len(s.Reserved) != 0 {
		t.Fatalf("a quote reserved %v", s.Reserved)
	}
	// Hours and time zones are checked.
	for _, c := range []struct{ body, field string }{
		{`{"location":{"lat":31.23,"lon":121.47},"hours":{"mon":["8-18"]}}`, "hours.mon[0]"},
		{`{"location":{"lat":31.23,"lon":121.47},"hours":{"someday":["08:00-18:00"]}}`, "hours.someday"},
		{`{"location":{"lat":31.23,"lon":121.47},"hours":["08:00-18:00"]}`, "hours"},
		{`{"location":{"lat":31.23,"lon":121.47},"timezone":"Nowhere/City"}`, "timezone"},
		{`{"location":{"lat":31.23,"lon":121.47},"inventory":{"milk":-1}}`, "inventory.milk"},
	} {
		var e errorReply
		json.Unmarshal(f.expect(400, "PUT", "/v1/stores/bad", adminToken, c.body), &e)
		if e.Error.Field != c.field {
			t.Errorf("%s: field %q, want %q", c.body, e.Error.Field, c.field)
		}
	}
}

func TestInventoryOverHTTP(t *testing.T) {
	f := newFulfilFixture(t)
	f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"market","items":[{"sku":"rice","qty":3}],"dropoff":{"lat":31.2400,"lon":121.4830}}`)
	var e errorReply
	json.Unmarshal(f.expect(409, "PATCH", "/v1/stores/market/inventory", adminToken, `{"adjust":{"rice":-2}}`), &e)
	if e.Error.Field != "adjust.rice" {
		t.Fatalf("409 on %q, want adjust.rice", e.Error.Field)
	}
	f.expect(400, "PATCH", "/v1/stores/market/inventory", adminToken, `{"set":{"rice":-2}}`)
	f.expect(400, "PATCH", "/v1/stores/market/inventory", adminToken, `{}`)
	f.expect(404, "PATCH", "/v1/stores/none/inventory", adminToken, `{"set":{"rice":2}}`)
	f.expect(403, "PATCH", "/v1/stores/market/inventory", f.key, `{"set":{"rice":2}}`)
	var s storeReply
	json.Unmarshal(f.expect(200, "PATCH", "/v1/stores/market/inventory", adminToken, `{"set":{"salt":9},"adjust":{"rice":6,"milk":-20}}`), &s)
	if want := map[string]int{"eggs": 20, "rice": 10, "salt": 9}; !maps.Equal(s.Inventory, want) || s.Reserved["rice"] != 3 {
		t.Fatalf("after PATCH: %+v, want %v with 3 rice reserved", s, want)
	}
	// Listings leave the stock out; one store's read has it.
	var list struct{ Stores []storeReply }
	json.Unmarshal(f.expect(200, "GET", "/v1/stores", f.key, ""), &list)
	for _, st := range list.Stores {
		if st.Inventory != nil {
			t.Fatal("a listing shows stock")
		}
	}
}

func TestInStorePickupOverHTTP(t *testing.T) {
	f := newFulfilFixture(t)
	var o struct {
		ID, Status string
		Late       bool
	}
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"market","fulfilment":"pickup","items":[{"sku":"rice","qty":1}]}`), &o)
	f.expect(400, "POST", "/v1/orders", f.key, `{"items":[{"sku":"rice","qty":1}],"fulfilment":"pickup"}`)
	f.expect(400, "POST", "/v1/orders", f.key, `{"store_id":"market"}`) // delivery needs a drop-off
	// Not a courier's; not another store's; collected only once ready.
	f.expect(404, "POST", "/v1/courier/orders/"+o.ID+"/accept", f.riders["a"], "")
	f.expect(404, "POST", "/v1/stores/corner/orders/"+o.ID+"/ready", f.key, "")
	f.expect(404, "POST", "/v1/stores/market/orders/"+o.ID+"/shipped", f.key, "")
	f.expect(409, "POST", "/v1/stores/market/orders/"+o.ID+"/collected", f.key, "")
	f.expect(409, "POST", "/v1/stores/s1/orders/"+f.order+"/ready", f.key, "") // a delivery order
	f.expect(403, "POST", "/v1/stores/market/orders/"+o.ID+"/ready", f.riders["a"], "")
	json.Unmarshal(f.expect(200, "POST", "/v1/stores/market/orders/"+o.ID+"/ready", f.key, ""), &o)
	if o.Status != "ready_for_pickup" || o.Late {
		t.Fatalf("after ready: %+v", o)
	}
	json.Unmarshal(f.expect(200, "POST", "/v1/stores/market/orders/"+o.ID+"/collected", adminToken, ""), &o)
	if o.Status != "collected" {
		t.Fatalf("after collected: %+v", o)
	}
	f.expect(409, "POST", "/v1/orders/"+o.ID+"/cancel", f.key, `{}`)
	if s := f.storeStock("market"); s.Inventory["rice"] != 3 || len(s.Reserved) != 0 {
		t.Fatalf("market after collection: %+v", s)
	}
}

package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
)

// Regions over HTTP: PUT takes a region and every view shows one, the listings filter on it, a malformed name is
// 400 naming region, and a daemon that serves one region refuses another with 422.
func TestRegionsOverHTTP(t *testing.T) {
	f := newFixture(t)
	f.expect(201, "PUT", "/v1/stores/s2", adminToken, `{"region":"north","location":{"lat":31.2304,"lon":121.4737}}`)
	f.expect(201, "PUT", "/v1/couriers/n1", adminToken, `{"region":"north","capacity":2}`)
	var store struct{ Region string }
	json.Unmarshal(f.expect(200, "GET", "/v1/stores/s1", adminToken, ""), &store)
	if store.Region != "default" {
		t.Fatalf("store s1 registered without a region shows %q", store.Region)
	}
	// A replacement without region keeps north.
	json.Unmarshal(f.expect(200, "PUT", "/v1/stores/s2", adminToken, `{"name":"N","location":{"lat":31.2304,"lon":121.4737}}`), &store)
	if store.Region != "north" {
		t.Fatalf("store s2 replaced without a region is in %q", store.Region)
	}
	var o struct{ ID, Region string }
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s2","region":"north","dropoff":{"lat":31.24,"lon":121.48}}`), &o)
	if o.Region != "north" {
		t.Fatalf("order of s2 is in %q", o.Region)
	}
	f.expect(422, "POST", "/v1/orders", f.key, `{"store_id":"s2","region":"south","dropoff":{"lat":31.24,"lon":121.48}}`)
	var q struct{ StoreID, Region string }
	json.Unmarshal(f.expect(200, "POST", "/v1/quotes", f.key, `{"store_id":"s2","dropoff":{"lat":31.24,"lon":121.48}}`), &q)
	if q.Region != "north" {
		t.Fatalf("quote of s2 says region %q", q.Region)
	}

	ids := func(path, list string) string {
		var body map[string][]struct{ ID, Region string }
		json.Unmarshal(f.expect(200, "GET", path, adminToken, ""), &body)
		var out []string
		for _, x := range body[list] {
			out = append(out, x.ID+"@"+x.Region)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct{ path, list, want string }{
		{"/v1/stores?region=north", "stores", "s2@north"},
		{"/v1/stores?region=default", "stores", "s1@default"},
		{"/v1/stores?region=north&near=31.2304,121.4737", "stores", "s2@north"},
		{"/v1/couriers?region=north", "couriers", "n1@north"},
		{"/v1/couriers?region=default&status=online", "couriers", "a@default"},
		{"/v1/couriers?region=east", "couriers", ""},
		{"/v1/orders?region=north", "orders", o.ID + "@north"},
		{"/v1/orders?region=default", "orders", f.order + "@default"},
	} {
		if got := ids(c.path, c.list); got != c.want {
			t.Fatalf("GET %s: %q, want %q", c.path, got, c.want)
		}
	}
	for _, path := range []string{"/v1/stores?region=a%20b", "/v1/couriers?region=", "/v1/orders?region=" + strings.Repeat("x", 65)} {
		status, body := f.call("GET", path, adminToken, "")
		if status != 400 || !strings.Contains(string(body), `"field":"region"`) {
			t.Fatalf("GET %s: %d %s, want 400 naming region", path, status, body)
		}
	}
	status, body := f.call("PUT", "/v1/stores/s3", adminToken, `{"region":"no good","location":{"lat":31.2304,"lon":121.4737}}`)
	if status != 400 || !strings.Contains(string(body), `"field":"region"`) {
		t.Fatalf("PUT a store with a malformed region: %d %s, want 400 naming region", status, body)
	}
	// An empty region is one left out (the default), not a malformed one.
	json.Unmarshal(f.expect(201, "PUT", "/v1/couriers/c3", adminToken, `{"region":"","capacity":1}`), &store)
	if store.Region != "default" {
		t.Fatalf("courier c3 registered with an empty region is in %q", store.Region)
	}
	// Courier a is on shift: its region cannot change.
	status, body = f.call("PUT", "/v1/couriers/a", adminToken, `{"region":"north","capacity":2}`)
	if status != 409 || !strings.Contains(string(body), `"field":"region"`) {
		t.Fatalf("moving a courier on shift: %d %s, want 409 naming region", status, body)
	}
}

func TestConfigRegionOverHTTP(t *testing.T) {
	f := newFixtureWith(t, func(c *daemon.Config) { c.Region = "west" })
	var store struct{ Region string }
	json.Unmarshal(f.expect(200, "GET", "/v1/stores/s1", adminToken, ""), &store)
	if store.Region != "west" {
		t.Fatalf("a store registered without a region on west's daemon is in %q", store.Region)
	}
	for _, c := range []struct{ path, body string }{
		{"/v1/stores/s9", `{"region":"east","location":{"lat":31.2304,"lon":121.4737}}`},
		{"/v1/couriers/c9", `{"region":"east"}`},
	} {
		status, body := f.call("PUT", c.path, adminToken, c.body)
		if status != 422 || !strings.Contains(string(body), `"field":"region"`) || !strings.Contains(string(body), daemon.ReasonRegionNotServed) {
			t.Fatalf("PUT %s of another region: %d %s, want 422 naming region", c.path, status, body)
		}
	}
}

package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// The callers of the authorisation matrix. The first five hold no valid credential; "other-key" is a second
// order-service key and "other-courier" courier b, neither of which placed or carries the fixture's order.
var matrixCallers = []string{"none", "malformed", "unknown", "revoked-key", "retired-courier", "admin", "orders", "other-key", "courier", "other-courier", "operator"}

// authzRow is one row of the matrix: a request to a route and the exact status each caller gets. Callers without
// a valid credential get 401 on every route that is not public; on a public route everyone gets the admin's status.
type authzRow struct {
	pattern     string // the route as registered
	method      string
	path        func(caller string) string // callers that succeed get objects of their own where a success changes them
	body        string
	public      bool
	metricsAuth bool // served by a server started with MetricsNeedAdmin
	// admin, orders, otherKey, courier, otherCourier are the statuses of the callers with valid credentials.
	admin, orders, otherKey, courier, otherCourier int
	// operator is the status of an operator key; zero means 403 (the role reads, and manages nothing).
	operator int
}

func fixed(p string) func(string) string { return func(string) string { return p } }

// TestAuthorizationMatrix calls every registered route as every caller and checks the exact status: 401 without a
// valid credential, 403 for a role the route is not for, and for the courier's routes 404 (never 403) on another
// courier's order. A route registered without a row fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })
	api := New(f.d, Config{AdminToken: adminToken, Metrics: metrics, Travel: geo.NewStraightLine(geo.Geographic)})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	guardedAPI := New(f.d, Config{AdminToken: adminToken, Metrics: metrics, MetricsNeedAdmin: true})
	guarded := httptest.NewServer(guardedAPI.Handler())
	defer guarded.Close()

	// Credentials: a second key, a revoked one, and a courier token retired by rotation.
	var otherKey, revoked struct{ ID, Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"other"}`), &otherKey)
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"revoked"}`), &revoked)
	f.expect(204, "DELETE", "/v1/api-keys/"+revoked.ID, adminToken, "")
	var operatorKey struct{ Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"console","role":"operator"}`), &operatorKey)
	var retired, rotated struct{ Token string }
	json.Unmarshal(f.expect(201, "PUT", "/v1/couriers/c-retired", adminToken, `{"capacity":1}`), &retired)
	json.Unmarshal(f.expect(200, "PUT", "/v1/couriers/c-retired?rotate_token=true", adminToken, `{"capacity":1}`), &rotated)
	auth := map[string]string{
		"malformed":       "Basic " + adminToken, // the right secret under the wrong scheme
		"unknown":         "Bearer dk_NOTAKEY",
		"revoked-key":     "Bearer " + revoked.Key,
		"retired-courier": "Bearer " + retired.Token,
		"admin":           "Bearer " + adminToken,
		"orders":          "Bearer " + f.key,
		"other-key":       "Bearer " + otherKey.Key,
		"courier":         "Bearer " + f.riders["a"],
		"other-courier":   "Bearer " + f.riders["b"],
		"operator":        "Bearer " + operatorKey.Key,
	}

	// Objects for the callers whose success changes or removes one: an order each to cancel, a store, a webhook
	// and a key for the admin to delete.
	toCancel := map[string]string{}
	for _, caller := range []string{"admin", "orders", "other-key", "operator"} {
		var o struct{ ID string }
		json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`), &o)
		toCancel[caller] = o.ID
	}
	f.expect(201, "PUT", "/v1/stores/gone-admin", adminToken, `{"location":{"lat":31.2,"lon":121.4}}`)
	f.expect(201, "PUT", "/v1/stores/other-store", adminToken, `{"location":{"lat":31.2,"lon":121.4}}`)
	// In-store pick-up orders at s1, one per caller that may mark one ready.
	pickups := map[string]string{}
	for _, caller := range []string{"admin", "orders", "other-key"} {
		var o struct{ ID string }
		json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s1","fulfilment":"pickup"}`), &o)
		pickups[caller] = o.ID
	}
	hook := `{"url":"http://127.0.0.1:9/hook","secret":"0123456789abcdef"}`
	f.expect(201, "PUT", "/v1/webhooks/wh1", adminToken, hook)
	f.expect(201, "PUT", "/v1/webhooks/gone-admin", adminToken, hook)
	var doomed struct{ ID string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"doomed"}`), &doomed)
	perCaller := func(prefix string) func(string) string {
		return func(caller string) string { return prefix + "gone-" + caller }
	}

	order := f.order // assigned to courier a
	place := `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`
	rows := []authzRow{
		{pattern: "POST /v1/orders", method: "POST", path: fixed("/v1/orders"), body: place, admin: 201, orders: 201, otherKey: 201, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/orders", method: "GET", path: fixed("/v1/orders"), admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "GET /v1/orders/{id}", method: "GET", path: fixed("/v1/orders/" + order), admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "GET /v1/orders/{id}", method: "GET", path: fixed("/v1/orders/ord_NOSUCHORDER"), admin: 404, orders: 404, otherKey: 404, courier: 403, otherCourier: 403, operator: 404},
		{pattern: "POST /v1/orders/{id}/cancel", method: "POST", path: func(c string) string { return "/v1/orders/" + cmp.Or(toCancel[c], order) + "/cancel" },
			admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/quotes", method: "POST", path: fixed("/v1/quotes"), body: place, admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403},
		// The fixture loads no road map: the roles that may ask are told so.
		{pattern: "POST /v1/travel-times", method: "POST", path: fixed("/v1/travel-times"), body: `{"profile":"bike","sources":[{"lat":31.23,"lon":121.47}],"destinations":[{"lat":31.24,"lon":121.48}]}`,
			admin: 503, orders: 503, otherKey: 503, courier: 403, otherCourier: 403},
		{pattern: "POST /v1/plans", method: "POST", path: fixed("/v1/plans"), body: `{"start":"2026-12-07T08:00:00Z","iterations":5,
			"vehicles":[{"id":"v","profile":"bike","start":{"lat":31.23,"lon":121.47}}],
			"shipments":[{"id":"s","pickup":{"location":{"lat":31.23,"lon":121.47}},"delivery":{"location":{"lat":31.24,"lon":121.48}}}]}`,
			admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/events", method: "GET", path: fixed("/v1/events"), admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},

		{pattern: "PUT /v1/stores/{store_id}", method: "PUT", path: perCaller("/v1/stores/new-"), body: `{"location":{"lat":31.2,"lon":121.4}}`,
			admin: 201, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/stores/{store_id}", method: "GET", path: fixed("/v1/stores/s1"), admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "DELETE /v1/stores/{store_id}", method: "DELETE", path: perCaller("/v1/stores/"), admin: 204, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/stores", method: "GET", path: fixed("/v1/stores"), admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "PATCH /v1/stores/{store_id}/inventory", method: "PATCH", path: fixed("/v1/stores/s1/inventory"), body: `{"adjust":{"milk":1}}`,
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		// The owner: a store's steps on its own pick-up orders; another store's order is not found.
		{pattern: "POST /v1/stores/{store_id}/orders/{order_id}/{action}", method: "POST",
			path: func(c string) string {
				return "/v1/stores/s1/orders/" + cmp.Or(pickups[c], pickups["admin"]) + "/ready"
			},
			admin: 200, orders: 200, otherKey: 200, courier: 403, otherCourier: 403},
		{pattern: "POST /v1/stores/{store_id}/orders/{order_id}/{action}", method: "POST",
			path:  fixed("/v1/stores/other-store/orders/" + order + "/ready"),
			admin: 404, orders: 404, otherKey: 404, courier: 403, otherCourier: 403},

		{pattern: "PUT /v1/couriers/{courier_id}", method: "PUT", path: perCaller("/v1/couriers/new-"), body: `{"capacity":1}`,
			admin: 201, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/couriers/{courier_id}", method: "GET", path: fixed("/v1/couriers/a"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "GET /v1/couriers", method: "GET", path: fixed("/v1/couriers"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},

		{pattern: "PUT /v1/webhooks/{webhook_id}", method: "PUT", path: perCaller("/v1/webhooks/new-"), body: hook, admin: 201, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/webhooks/{webhook_id}", method: "GET", path: fixed("/v1/webhooks/wh1"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "DELETE /v1/webhooks/{webhook_id}", method: "DELETE", path: perCaller("/v1/webhooks/"), admin: 204, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/webhooks", method: "GET", path: fixed("/v1/webhooks"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},

		{pattern: "POST /v1/api-keys", method: "POST", path: fixed("/v1/api-keys"), body: `{"name":"k"}`, admin: 201, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/api-keys", method: "GET", path: fixed("/v1/api-keys"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "DELETE /v1/api-keys/{id}", method: "DELETE", path: fixed("/v1/api-keys/" + doomed.ID), admin: 204, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},

		{pattern: "POST /v1/courier/shift", method: "POST", path: fixed("/v1/courier/shift"), body: `{"status":"online"}`, admin: 403, orders: 403, otherKey: 403, courier: 200, otherCourier: 200},
		{pattern: "POST /v1/courier/location", method: "POST", path: fixed("/v1/courier/location"), body: `{"location":{"lat":31.231,"lon":121.474}}`,
			admin: 403, orders: 403, otherKey: 403, courier: 204, otherCourier: 204},
		{pattern: "POST /v1/courier-locations", method: "POST", path: fixed("/v1/courier-locations"), body: `{"locations":[{"courier_id":"b","location":{"lat":31.2,"lon":121.4}}]}`,
			admin: 202, orders: 403, otherKey: 403, courier: 403, otherCourier: 403},
		{pattern: "GET /v1/courier/route", method: "GET", path: fixed("/v1/courier/route"), admin: 403, orders: 403, otherKey: 403, courier: 200, otherCourier: 200},
		{pattern: "GET /v1/courier/stream", method: "GET", path: fixed("/v1/courier/stream"), admin: 403, orders: 403, otherKey: 403, courier: 200, otherCourier: 200},
		// The owner: courier a's order is not found for courier b, whatever the action and whether it would be
		// allowed; for courier a the order's state decides.
		{pattern: "POST /v1/courier/orders/{order_id}/{action}", method: "POST", path: fixed("/v1/courier/orders/" + order + "/accept"),
			admin: 403, orders: 403, otherKey: 403, courier: 200, otherCourier: 404},
		{pattern: "POST /v1/courier/orders/{order_id}/{action}", method: "POST", path: fixed("/v1/courier/orders/" + order + "/delivered"),
			admin: 403, orders: 403, otherKey: 403, courier: 409, otherCourier: 404},
		{pattern: "POST /v1/courier/orders/{order_id}/{action}", method: "POST", path: fixed("/v1/courier/orders/ord_NOSUCHORDER/accept"),
			admin: 403, orders: 403, otherKey: 403, courier: 404, otherCourier: 404},

		// The console's reads: the admin and operators. The fixture loads no road map, so road tiles are 503.
		{pattern: "GET /v1/console/snapshot", method: "GET", path: fixed("/v1/console/snapshot"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "GET /v1/console/stream", method: "GET", path: fixed("/v1/console/stream"), admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "GET /v1/console/roads/{z}/{x}/{y}", method: "GET", path: fixed("/v1/console/roads/14/8529/5975"), admin: 503, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 503},
		// The dispatcher's overrides: the admin and operators. The fixture's order is on courier a: assigning it
		// there again sets its lock; an unknown order is 404 to both.
		{pattern: "POST /v1/orders/{id}/assign", method: "POST", path: fixed("/v1/orders/" + order + "/assign"), body: `{"courier_id":"a","lock":true}`,
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/orders/{id}/unlock", method: "POST", path: fixed("/v1/orders/" + order + "/unlock"),
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/orders/{id}/unassign", method: "POST", path: fixed("/v1/orders/ord_NOSUCHORDER/unassign"),
			admin: 404, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 404},
		{pattern: "POST /v1/dispatch/moves", method: "POST", path: fixed("/v1/dispatch/moves"), body: `{"courier_id":"a","order_ids":["` + order + `"]}`,
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/stores/{store_id}/pause", method: "POST", path: fixed("/v1/stores/other-store/pause"),
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/stores/{store_id}/resume", method: "POST", path: fixed("/v1/stores/other-store/resume"),
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "POST /v1/couriers/{courier_id}/off-shift", method: "POST", path: fixed("/v1/couriers/c-retired/off-shift"),
			admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		// The console's page is public: it holds no data.
		{pattern: "GET /console/", method: "GET", path: fixed("/console/"), public: true, admin: 200},

		// Without a cluster the route answers 404, to the roles that may read it.
		{pattern: "GET /v1/cluster", method: "GET", path: fixed("/v1/cluster"),
			admin: 404, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 404},

		{pattern: "GET /healthz", method: "GET", path: fixed("/healthz"), public: true, admin: 200},
		{pattern: "GET /readyz", method: "GET", path: fixed("/readyz"), public: true, admin: 200},
		{pattern: "GET /metrics", method: "GET", path: fixed("/metrics"), public: true, admin: 200},
		{pattern: "GET /metrics", method: "GET", path: fixed("/metrics"), metricsAuth: true, admin: 200, orders: 403, otherKey: 403, courier: 403, otherCourier: 403, operator: 200},
		{pattern: "/", method: "GET", path: fixed("/v1/nothing"), public: true, admin: 404},
		{pattern: "/", method: "PATCH", path: fixed("/v1/orders"), public: true, admin: 405}, // a known path, another method
	}

	// Every registered route has a row, and every row goes to the route it claims.
	covered := map[string]bool{}
	for _, row := range rows {
		req := httptest.NewRequest(row.method, row.path("admin"), nil)
		mux := api.mux
		if row.metricsAuth {
			mux = guardedAPI.mux
		}
		if _, pattern := mux.Handler(req); pattern != row.pattern {
			t.Errorf("%s %s goes to %q, not %q", row.method, row.path("admin"), pattern, row.pattern)
		}
		covered[row.pattern] = true
	}
	for _, p := range api.patterns {
		if !covered[p] {
			t.Errorf("route %q has no row in the authorisation matrix", p)
		}
	}

	for _, row := range rows {
		server := srv
		if row.metricsAuth {
			server = guarded
		}
		for _, caller := range matrixCallers {
			want := row.statusFor(caller)
			path := row.path(caller)
			got, body := matrixCall(t, server, row.method, path, auth[caller], row.body)
			if got != want {
				t.Errorf("%s %s as %s: %d %.200s, want %d", row.method, path, caller, got, body, want)
			}
		}
	}
}

func (r authzRow) statusFor(caller string) int {
	if r.public {
		return r.admin
	}
	switch caller {
	case "admin":
		return r.admin
	case "orders":
		return r.orders
	case "other-key":
		return r.otherKey
	case "courier":
		return r.courier
	case "other-courier":
		return r.otherCourier
	case "operator":
		return cmp.Or(r.operator, http.StatusForbidden)
	}
	return http.StatusUnauthorized
}

// matrixCall makes one request and returns its status and the start of its body. A stream that opened (200) is
// closed at once.
func matrixCall(t *testing.T, srv *httptest.Server, method, path, authorization, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "(a stream)"
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("%s %s: %d with Content-Type %q, want the JSON error body", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(b)
}

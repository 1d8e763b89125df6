package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/rs/zerolog"
)

// The tests in this file pin what only the HTTP layer decides, against a fake service: the status and body of each
// kind of error, how a placement and its idempotent retry are written, and which role may use which route. The
// end-to-end tests (api_test.go and others) run the same API over a real daemon.

// fakeService answers what a test set up; any other call panics (the embedded interface is nil), which fails the
// test that made it.
type fakeService struct {
	service.Service
	view *fakeView
	// place answers PlaceOrder; calls records each call's principal, key and fingerprint.
	place func(p service.Principal, key string, hash []byte, in service.OrderInput) (*service.Order, error)
	calls []placeCall
	// cancelErr is what CancelOrderAs answers.
	cancelErr error
}

type placeCall struct {
	p    service.Principal
	key  string
	hash string
}

func (f *fakeService) View() service.View { return f.view }
func (f *fakeService) Ready() bool        { return true }

func (f *fakeService) PlaceOrder(_ context.Context, p service.Principal, key string, hash []byte, in service.OrderInput) (*service.Order, error) {
	f.calls = append(f.calls, placeCall{p, key, string(hash)})
	return f.place(p, key, hash, in)
}

func (f *fakeService) CancelOrderAs(context.Context, string, string, string) (*service.Order, error) {
	return nil, f.cancelErr
}

// fakeView knows the principals of some tokens and holds no order, store or key.
type fakeView struct {
	service.View
	principals map[string]service.Principal // by token
}

func (v *fakeView) Authenticate(hash []byte) (service.Principal, bool) {
	for token, p := range v.principals {
		if bytes.Equal(service.HashToken(token), hash) {
			return p, true
		}
	}
	return service.Principal{}, false
}

func (v *fakeView) ListOrders(service.OrderFilter) ([]*service.Order, bool) { return nil, false }
func (v *fakeView) APIKeys() []*service.APIKey                              { return []*service.APIKey{} }

const (
	fakeOrdersToken   = "ord-token"
	fakeOperatorToken = "op-token"
	fakeCourierToken  = "courier-token"
)

func newFake() *fakeService {
	return &fakeService{view: &fakeView{principals: map[string]service.Principal{
		fakeOrdersToken:   {Role: service.RoleOrders, ID: "key_shop"},
		fakeOperatorToken: {Role: service.RoleOperator, ID: "key_ops"},
		fakeCourierToken:  {Role: service.RoleCourier, ID: "c1"},
	}}}
}

// serve sends one request to an API over f and returns the recorded answer.
func serve(t *testing.T, f *fakeService, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	api := New(f, Config{AdminToken: adminToken, Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	api.Handler().ServeHTTP(w, r)
	return w
}

// Each kind of domain error is answered with its status and the contract's error body, naming the field; errors
// that are not the domain's are internal and their text is not shown; busy answers say when to retry.
func TestServiceErrorsAsHTTP(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		body       string
		retryAfter string
	}{
		{&dispatch.Error{Code: dispatch.EInvalid, Field: "reason", Message: "reason is too long"}, 400,
			`{"error":{"code":"invalid_argument","message":"reason is too long","field":"reason"}}`, ""},
		{&dispatch.Error{Code: dispatch.ENotFound, Message: `order "o1" not found`}, 404,
			`{"error":{"code":"not_found","message":"order \"o1\" not found"}}`, ""},
		{&dispatch.Error{Code: dispatch.EConflict, Field: "status", Message: "the order is delivered", Reasons: []string{"order_final"}}, 409,
			`{"error":{"code":"conflict","message":"the order is delivered","field":"status","reasons":["order_final"]}}`, ""},
		{&dispatch.Error{Code: dispatch.EIdempotencyMismatch, Field: "Idempotency-Key", Message: "used with a different request"}, 422,
			`{"error":{"code":"idempotency_mismatch","message":"used with a different request","field":"Idempotency-Key"}}`, ""},
		{&dispatch.Error{Code: dispatch.EUnservable, Field: "dropoff", Message: "too far", Reasons: []string{"unreachable"},
			Reach: &dispatch.Reach{Vehicle: geo.Scooter, Ride: 90 * time.Second, Ready: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
				EarliestDropoff: time.Date(2026, 11, 23, 12, 1, 30, 0, time.UTC), DeliverBy: time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC),
				LatestDropoff: time.Date(2026, 11, 23, 12, 1, 10, 0, time.UTC)}}, 422,
			`{"error":{"code":"unservable","message":"too far","field":"dropoff","reasons":["unreachable"],"reach":{"vehicle":"scooter","ride_seconds":90,` +
				`"ready_at":"2026-11-23T12:00:00Z","earliest_dropoff":"2026-11-23T12:01:30Z","deliver_by":"2026-11-23T12:01:00Z",` +
				`"hard_lateness_seconds":10,"latest_dropoff":"2026-11-23T12:01:10Z"}}}`, ""},
		{&dispatch.Error{Code: dispatch.ETooLarge, Message: "too large"}, 413, `{"error":{"code":"payload_too_large","message":"too large"}}`, ""},
		{&dispatch.Error{Code: dispatch.EUnavailable, Message: "the dispatcher is overloaded; retry shortly"}, 503,
			`{"error":{"code":"unavailable","message":"the dispatcher is overloaded; retry shortly"}}`, "1"},
		{fmt.Errorf("journal: %w", errors.New("disk on fire")), 500, `{"error":{"code":"internal","message":"internal error"}}`, ""},
		{context.DeadlineExceeded, 503,
			`{"error":{"code":"unavailable","message":"the request was cancelled or timed out before it was answered"}}`, "1"},
	} {
		t.Run(fmt.Sprint(tc.status, " ", tc.err), func(t *testing.T) {
			f := newFake()
			f.cancelErr = tc.err
			w := serve(t, f, "POST", "/v1/orders/o1/cancel", adminToken, `{"reason":"customer"}`)
			if w.Code != tc.status || w.Body.String() != tc.body+"\n" {
				t.Fatalf("answered %d %s\nwant %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// A placement is answered 201 with the order the service returned; a retry with the same key and the same request
// (spacing and field order aside) is answered with the same bytes (the order as the service answered it: not made
// late again by the API's clock, which is past its deliver_by here); the same key with another request is the
// service's error, 422 naming the header. The fingerprint the service gets is the request's content, and the key is
// scoped to the caller (the admin as "admin").
func TestPlacementAndRetryAsHTTP(t *testing.T) {
	f := newFake()
	created := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	answered := map[string]*service.Order{} // by scope and key
	hashes := map[string]string{}
	f.place = func(p service.Principal, key string, hash []byte, in service.OrderInput) (*service.Order, error) {
		k := p.ID + "\x00" + key
		if o, ok := answered[k]; ok {
			if hashes[k] != string(hash) {
				return nil, &dispatch.Error{Code: dispatch.EIdempotencyMismatch, Field: "Idempotency-Key", Message: "this Idempotency-Key was used with a different request"}
			}
			return o, nil
		}
		o := &service.Order{ID: fmt.Sprintf("ord_%d", len(answered)+1), Status: "pending", StoreID: in.StoreID, Region: service.DefaultRegion, Dropoff: &in.Dropoff,
			CreatedAt: created, ReadyAt: created.Add(5 * time.Minute), DeliverBy: created.Add(45 * time.Minute), Size: 1,
			Customer: in.Customer, Fulfilment: service.FulfilDelivery, Late: false,
			Timeline: []service.TimelineEntry{{Status: "pending", At: created}}}
		answered[k], hashes[k] = o, string(hash)
		return o, nil
	}
	body := `{"store_id":"s0","dropoff":{"lat":31.25,"lon":121.49},"customer":{"name":"Wang","phone":"1"}}`
	same := `{ "customer" : {"phone":"1", "name":"Wang"}, "dropoff":{"lon":121.49,"lat":31.25}, "store_id":"s0" }`
	first := serve(t, f, "POST", "/v1/orders", fakeOrdersToken, body, "Idempotency-Key", "k1")
	want := `{"id":"ord_1","status":"pending","store_id":"s0","region":"default","dropoff":{"lat":31.25,"lon":121.49},"created_at":"2026-11-23T11:00:00Z",` +
		`"ready_at":"2026-11-23T11:05:00Z","deliver_by":"2026-11-23T11:45:00Z","size":1,"customer":{"name":"Wang","phone":"1"},` +
		`"fulfilment":"delivery","late":false,"timeline":[{"status":"pending","at":"2026-11-23T11:00:00Z"}]}` + "\n"
	if first.Code != http.StatusCreated || first.Body.String() != want {
		t.Fatalf("first answer %d %s\nwant 201 %s", first.Code, first.Body, want)
	}
	retry := serve(t, f, "POST", "/v1/orders", fakeOrdersToken, same, "Idempotency-Key", "k1")
	if retry.Code != first.Code || !bytes.Equal(retry.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("retry answered %d %s\nwant the first answer's bytes %d %s", retry.Code, retry.Body, first.Code, first.Body)
	}
	if f.calls[0].hash != f.calls[1].hash || f.calls[0].p != (service.Principal{Role: service.RoleOrders, ID: "key_shop"}) {
		t.Fatalf("calls %+v: the same request must give the same fingerprint, as the caller", f.calls)
	}
	other := serve(t, f, "POST", "/v1/orders", fakeOrdersToken, strings.Replace(body, "s0", "s1", 1), "Idempotency-Key", "k1")
	wantErr := `{"error":{"code":"idempotency_mismatch","message":"this Idempotency-Key was used with a different request","field":"Idempotency-Key"}}` + "\n"
	if other.Code != http.StatusUnprocessableEntity || other.Body.String() != wantErr {
		t.Fatalf("same key, other request: %d %s\nwant 422 %s", other.Code, other.Body, wantErr)
	}
	admin := serve(t, f, "POST", "/v1/orders", adminToken, body, "Idempotency-Key", "k1")
	if admin.Code != http.StatusCreated || !strings.Contains(admin.Body.String(), `"id":"ord_2"`) {
		t.Fatalf("the admin's k1 is its own: %d %s", admin.Code, admin.Body)
	}
	if p := f.calls[len(f.calls)-1].p; p != (service.Principal{Role: service.RoleAdmin, ID: "admin"}) {
		t.Fatalf("the admin places as %+v, want role admin, id admin", p)
	}
}

// Each route lets in the roles it names and no other: a missing or unknown token is 401, a known one of another
// role 403 naming the role, and the service is not called.
func TestRolesAsHTTP(t *testing.T) {
	for _, tc := range []struct {
		method, path, token string
		status              int
		body                string
	}{
		{"GET", "/v1/orders", "", 401, `{"error":{"code":"unauthenticated","message":"an Authorization: Bearer token is required"}}`},
		{"GET", "/v1/orders", "no-such-token", 401, `{"error":{"code":"unauthenticated","message":"the token is not valid"}}`},
		{"GET", "/v1/orders", fakeOrdersToken, 200, `{"orders":[]}`},
		{"GET", "/v1/orders", fakeOperatorToken, 200, `{"orders":[]}`},
		{"GET", "/v1/orders", adminToken, 200, `{"orders":[]}`},
		{"GET", "/v1/orders", fakeCourierToken, 403, `{"error":{"code":"permission_denied","message":"the courier role may not use this endpoint"}}`},
		{"GET", "/v1/api-keys", adminToken, 200, `{"api_keys":[]}`},
		{"GET", "/v1/api-keys", fakeOperatorToken, 403, `{"error":{"code":"permission_denied","message":"the operator role may not use this endpoint"}}`},
		{"GET", "/v1/api-keys", fakeOrdersToken, 403, `{"error":{"code":"permission_denied","message":"the orders role may not use this endpoint"}}`},
		{"POST", "/v1/orders", fakeOperatorToken, 403, `{"error":{"code":"permission_denied","message":"the operator role may not use this endpoint"}}`},
		{"POST", "/v1/courier/shift", fakeOrdersToken, 403, `{"error":{"code":"permission_denied","message":"the orders role may not use this endpoint"}}`},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.token, func(t *testing.T) {
			f := newFake() // f.place is nil: a placement that got through would panic
			w := serve(t, f, tc.method, tc.path, tc.token, "")
			if w.Code != tc.status || w.Body.String() != tc.body+"\n" {
				t.Fatalf("answered %d %s\nwant %d %s", w.Code, w.Body, tc.status, tc.body)
			}
		})
	}
}

// What a handler logs on the way carries the request's id, and so does the line written when the request ends,
// with its route, status and principal; a request that logs nothing else writes that one line.
func TestRequestLogLinesCarryTheRequestID(t *testing.T) {
	f := newFake()
	f.cancelErr = errors.New("disk on fire") // not a domain error: logged as internal
	var logs bytes.Buffer
	api := New(f, Config{AdminToken: adminToken, Logger: zerolog.New(&logs)})
	send := func(method, path, id, token string) {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("X-Request-Id", id)
		api.Handler().ServeHTTP(httptest.NewRecorder(), r)
	}
	send(http.MethodPost, "/v1/orders/o1/cancel", "req-1", fakeOperatorToken)
	send(http.MethodGet, "/v1/api-keys", "req-2", adminToken)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("log:\n%s\nwant three lines: the internal error and one line per request", logs.String())
	}
	if l := lines[0]; l["request_id"] != "req-1" || l["message"] != "internal error" || l["error"] != "disk on fire" {
		t.Errorf("handler's line %v: want the internal error tagged with req-1", l)
	}
	if l := lines[1]; l["request_id"] != "req-1" || l["message"] != "request" || l["status"] != 500.0 ||
		l["route"] != "POST /v1/orders/{id}/cancel" || l["role"] != service.RoleOperator || l["principal"] != "key_ops" {
		t.Errorf("first request's line %v", l)
	}
	if l := lines[2]; l["request_id"] != "req-2" || l["status"] != 200.0 || l["route"] != "GET /v1/api-keys" || l["role"] != "admin" {
		t.Errorf("second request's line %v", l)
	}
}

package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bodies as dispatch/httpapi decodes them (handlers.go): pointers where the handler tells a missing field
// from a zero, and unknown fields rejected, as the daemon does.
type apiLocation struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

type apiOrder struct {
	ExternalID     string          `json:"external_id,omitempty"`
	StoreID        string          `json:"store_id,omitempty"`
	Items          json.RawMessage `json:"items,omitempty"`
	Dropoff        *apiLocation    `json:"dropoff,omitempty"`
	PrepSeconds    *int            `json:"prep_seconds,omitempty"`
	ReadyAt        *string         `json:"ready_at,omitempty"`
	PromiseSeconds *int            `json:"promise_seconds,omitempty"`
	DeliverBy      *string         `json:"deliver_by,omitempty"`
	Size           *int            `json:"size,omitempty"`
	Skills         []string        `json:"skills,omitempty"`
	Customer       json.RawMessage `json:"customer,omitempty"`
}

type apiLocationReport struct {
	Location *apiLocation `json:"location"`
	At       *string      `json:"at,omitempty"`
	SpeedMPS *float64     `json:"speed_mps,omitempty"`
	Heading  *float64     `json:"heading,omitempty"`
	Accuracy *float64     `json:"accuracy_m,omitempty"`
}

type apiStore struct {
	Name            string          `json:"name"`
	Location        *apiLocation    `json:"location"`
	PrepSeconds     int             `json:"prep_seconds"`
	MaxActiveOrders int             `json:"max_active_orders"`
	Hours           json.RawMessage `json:"hours,omitempty"`
	Timezone        string          `json:"timezone"`
	Inventory       map[string]int  `json:"inventory"`
}

type apiCourier struct {
	Name     string   `json:"name"`
	Vehicle  string   `json:"vehicle"`
	Capacity *int     `json:"capacity"`
	Skills   []string `json:"skills"`
}

type apiShift struct {
	Status   string       `json:"status"`
	Location *apiLocation `json:"location,omitempty"`
	ShiftEnd *string      `json:"shift_end,omitempty"`
}

// decodeStrict decodes like the daemon: one JSON value, no unknown field.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// checkLocation reports what is wrong with a location as the daemon would see it, or "".
func (l *apiLocation) problem(field string) string {
	switch {
	case l == nil:
		return field + " is required"
	case l.Lat == nil || l.Lon == nil:
		return field + " needs lat and lon"
	case math.IsNaN(*l.Lat) || *l.Lat < -90 || *l.Lat > 90 || math.IsNaN(*l.Lon) || *l.Lon < -180 || *l.Lon > 180:
		return field + " is out of range"
	}
	return ""
}

// problem reports what the daemon would reject in an order body, or "".
func (o *apiOrder) problem() string {
	switch {
	case o.ExternalID == "" || len(o.ExternalID) > 255:
		return "external_id must be 1 to 255 bytes (the load sets one)"
	case o.StoreID == "":
		return "store_id is required"
	case len(o.Items) > 0:
		return "items are not supported"
	case o.PrepSeconds != nil && (*o.PrepSeconds < 0 || *o.PrepSeconds > 86400):
		return "prep_seconds out of range"
	case o.PromiseSeconds != nil && (*o.PromiseSeconds < 60 || *o.PromiseSeconds > 86400):
		return "promise_seconds out of range"
	case o.Size != nil && (*o.Size < 1 || *o.Size > 1000):
		return "size out of range"
	case len(o.Customer) > 0 && o.Customer[0] != '{':
		return "customer must be an object"
	}
	return o.Dropoff.problem("dropoff")
}

// problem reports what the daemon would reject in a location report, or "".
func (r *apiLocationReport) problem() string {
	if p := r.Location.problem("location"); p != "" {
		return p
	}
	if r.At != nil {
		if _, err := time.Parse(time.RFC3339Nano, *r.At); err != nil {
			return "at is not RFC 3339"
		}
	}
	if r.SpeedMPS != nil && (*r.SpeedMPS < 0 || *r.SpeedMPS > 100) {
		return "speed_mps out of range"
	}
	if r.Heading != nil && (*r.Heading < 0 || *r.Heading >= 360) {
		return "heading out of range"
	}
	return ""
}

// fakeAPI imitates the endpoints the load uses, checking every request as the daemon would and more strictly
// (unique idempotency keys and external ids, the right token for the role), and counts what it accepted.
type fakeAPI struct {
	adminToken string

	mu             sync.Mutex
	stores         map[string]bool
	orderKeys      map[string]bool // order-service keys issued
	courierTokens  map[string]string
	online         map[string]bool
	idemKeys       map[string]bool
	externalIDs    map[string]bool
	orders         int
	locations      int
	rejected       int
	firstRejection string
}

func newFakeAPI(adminToken string) *fakeAPI {
	return &fakeAPI{adminToken: adminToken, stores: map[string]bool{}, orderKeys: map[string]bool{},
		courierTokens: map[string]string{}, online: map[string]bool{}, idemKeys: map[string]bool{}, externalIDs: map[string]bool{}}
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { writeFake(w, 200, `{"status":"ready"}`) })
	mux.HandleFunc("PUT /v1/stores/{id}", f.admin(func(w http.ResponseWriter, r *http.Request, body []byte) {
		var b apiStore
		if err := decodeStrict(body, &b); err != nil {
			f.reject(w, 400, err.Error())
			return
		}
		if p := b.Location.problem("location"); p != "" {
			f.reject(w, 400, p)
			return
		}
		f.mu.Lock()
		f.stores[r.PathValue("id")] = true
		f.mu.Unlock()
		writeFake(w, 201, `{"id":"`+r.PathValue("id")+`"}`)
	}))
	mux.HandleFunc("POST /v1/api-keys", f.admin(func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var b struct {
			Name string `json:"name"`
		}
		if err := decodeStrict(body, &b); err != nil || b.Name == "" {
			f.reject(w, 400, "name is required")
			return
		}
		f.mu.Lock()
		key := fmt.Sprintf("dk_test_%d", len(f.orderKeys))
		f.orderKeys[key] = true
		f.mu.Unlock()
		writeFake(w, 201, `{"id":"key_1","name":"`+b.Name+`","role":"orders","key":"`+key+`"}`)
	}))
	mux.HandleFunc("PUT /v1/couriers/{id}", f.admin(func(w http.ResponseWriter, r *http.Request, body []byte) {
		var b apiCourier
		if err := decodeStrict(body, &b); err != nil {
			f.reject(w, 400, err.Error())
			return
		}
		if r.URL.Query().Get("rotate_token") != "true" {
			f.reject(w, 400, "the load should ask for rotate_token=true")
			return
		}
		token := "dc_" + r.PathValue("id")
		f.mu.Lock()
		f.courierTokens[token] = r.PathValue("id")
		f.mu.Unlock()
		writeFake(w, 201, `{"id":"`+r.PathValue("id")+`","token":"`+token+`"}`)
	}))
	mux.HandleFunc("POST /v1/courier/shift", f.courier(func(w http.ResponseWriter, id string, body []byte) {
		var b apiShift
		if err := decodeStrict(body, &b); err != nil || b.Status != "online" {
			f.reject(w, 400, "want status online")
			return
		}
		if p := b.Location.problem("location"); p != "" {
			f.reject(w, 400, p)
			return
		}
		f.mu.Lock()
		f.online[id] = true
		f.mu.Unlock()
		writeFake(w, 200, `{"id":"`+id+`","status":"idle"}`)
	}))
	mux.HandleFunc("POST /v1/courier/location", f.courier(func(w http.ResponseWriter, id string, body []byte) {
		var b apiLocationReport
		if err := decodeStrict(body, &b); err != nil {
			f.reject(w, 400, err.Error())
			return
		}
		if p := b.problem(); p != "" {
			f.reject(w, 400, p)
			return
		}
		f.mu.Lock()
		ok := f.online[id]
		if ok {
			f.locations++
		}
		f.mu.Unlock()
		if !ok {
			f.reject(w, 409, "courier not online")
			return
		}
		w.WriteHeader(204)
	}))
	mux.HandleFunc("POST /v1/orders", func(w http.ResponseWriter, r *http.Request) {
		body, ok := f.read(w, r)
		if !ok {
			return
		}
		f.mu.Lock()
		known := f.orderKeys[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !known {
			f.reject(w, 401, "not an order-service key")
			return
		}
		var b apiOrder
		if err := decodeStrict(body, &b); err != nil {
			f.reject(w, 400, err.Error())
			return
		}
		if p := b.problem(); p != "" {
			f.reject(w, 400, p)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" || len(key) > 255 {
			f.reject(w, 400, "want an Idempotency-Key of 1 to 255 characters")
			return
		}
		f.mu.Lock()
		dup := f.idemKeys[key] || f.externalIDs[b.ExternalID]
		store := f.stores[b.StoreID]
		if !dup && store {
			f.idemKeys[key], f.externalIDs[b.ExternalID] = true, true
			f.orders++
		}
		n := f.orders
		f.mu.Unlock()
		switch {
		case dup:
			f.reject(w, 409, "idempotency key or external_id used twice")
		case !store:
			f.reject(w, 422, "no such store")
		default:
			writeFake(w, 201, fmt.Sprintf(`{"id":"ord_%d","status":"pending","store_id":%q}`, n, b.StoreID))
		}
	})
	return mux
}

func (f *fakeAPI) read(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.reject(w, 400, "Content-Type is "+ct)
		return nil, false
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10)); err != nil {
		f.reject(w, 413, err.Error())
		return nil, false
	}
	return buf.Bytes(), true
}

func (f *fakeAPI) admin(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.adminToken {
			f.reject(w, 401, "not the admin token")
			return
		}
		if body, ok := f.read(w, r); ok {
			h(w, r, body)
		}
	}
}

func (f *fakeAPI) courier(h func(http.ResponseWriter, string, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		id, ok := f.courierTokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !ok {
			f.reject(w, 401, "not a courier token")
			return
		}
		if body, ok := f.read(w, r); ok {
			h(w, id, body)
		}
	}
}

func (f *fakeAPI) reject(w http.ResponseWriter, status int, msg string) {
	f.mu.Lock()
	f.rejected++
	if f.firstRejection == "" {
		f.firstRejection = fmt.Sprintf("%d %s", status, msg)
	}
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "fake", "message": msg}})
	writeFake(w, status, string(b))
}

func (f *fakeAPI) counts() (orders, locations, rejected int, first string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.orders, f.locations, f.rejected, f.firstRejection
}

func writeFake(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// checkFakeClean fails the test when the fake rejected anything.
func checkFakeClean(t *testing.T, f *fakeAPI) {
	t.Helper()
	if _, _, rejected, first := f.counts(); rejected > 0 {
		t.Errorf("the fake API rejected %d requests; the first: %s", rejected, first)
	}
}

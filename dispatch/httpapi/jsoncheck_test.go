package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

func TestDoubtful(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48},"skills":["cold","hot"]}`, false},
		{`{"a":{"name":"x"},"b":{"name":"y"},"name":"z"}`, false}, // the same key in different objects
		{`{"note":"\"name\": 1, \"name\": 2"}`, false},            // keys inside a string are not keys
		{`{"name":"x","name":"y"}`, true},
		{`{"name":"x","NAME":"y"}`, true},
		{`{"a":{"b":1,"b":2}}`, true},
		{`{"n\u0061me":"x"}`, true}, // an escape in a key: only the walk can compare it
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), false},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), true},
		{`{"a":"unterminated`, false},
		{`]]]`, false},
	} {
		if got := doubtful([]byte(tc.body)); got != tc.want {
			t.Errorf("doubtful(%.80q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

// FuzzCheckShape holds the fast path to the walk: valid JSON that the walk refuses is never let through by the byte
// scan, and neither panics.
func FuzzCheckShape(f *testing.F) {
	for _, seed := range []string{
		`{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`,
		`{"store_id":"s1","Store_ID":"s2"}`,
		`{"dropoff":{"lat":1,"lat":2}}`,
		`{"customer":{"a":[{"b":{}}],"a":1}}`,
		`{"dropoff":{"alt":1}}`,
		"{\"external_id\":\"\xff\"}",
		`{"st\u006fre_id":"s1","store_id":"s2"}`,
		strings.Repeat(`{"customer":`, 40),
	} {
		f.Add(seed)
	}
	typ := reflect.TypeFor[*orderBody]()
	f.Fuzz(func(t *testing.T, body string) {
		walked := walkCheck([]byte(body), typ)
		fast := checkShape([]byte(body), typ)
		// Unknown keys are the decoder's to find on the fast path (the walk only names them), and so is malformed
		// JSON, whatever the walk made of its start.
		if walked != nil && fast == nil && !strings.Contains(walked.Error(), "unknown field") && json.Valid([]byte(body)) {
			t.Fatalf("%q: the walk says %v, the fast path nothing", body, walked)
		}
	})
}

func TestPathOfTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		body, field string
	}{
		{`{"locations":[{"courier_id":"a"},{"courier_id":5}]}`, "locations[1].courier_id"},
		{`{"locations":[{"courier_id":"a","location":{"lat":1e999,"lon":1}}]}`, "locations[0].location.lat"},
		{`{"locations":[{"courier_id":"a"},"b"]}`, "locations[1]"},
		{`{"locations":{"courier_id":"a"}}`, "locations"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		var b locationBatch
		err := decode(httptest.NewRecorder(), r, &b, false)
		if got := fieldOf(err); got != tc.field {
			t.Errorf("%s: %v, want the field %s", tc.body, err, tc.field)
		}
	}
}

func fieldOf(err error) string {
	var e *dispatch.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Benchmarks of the decoding of the two most frequent bodies, checks included: what every order and every position
// costs before it reaches the daemon.
var (
	benchOrderBody    = []byte(`{"external_id":"shop-7781-20261122-0042","store_id":"store-12","dropoff":{"lat":31.2301,"lon":121.4801},"prep_seconds":600,"promise_seconds":1800,"size":1,"skills":["cold"],"customer":{"name":"Wang","phone":"123","note":"door"}}`)
	benchLocationBody = []byte(`{"location":{"lat":31.2301,"lon":121.4801},"at":"2026-11-22T11:30:00Z","speed_mps":4.2,"heading":90}`)
)

func BenchmarkDecodeOrder(b *testing.B) {
	benchDecode(b, benchOrderBody, func() any { return new(orderBody) })
}

func BenchmarkDecodeLocation(b *testing.B) {
	benchDecode(b, benchLocationBody, func() any { return new(locationReport) })
}

func benchDecode(b *testing.B, body []byte, v func() any) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decode(w, r, v(), false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckShape is what checkShape adds to decoding those bodies (its fast path).
func BenchmarkCheckShape(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
		t    reflect.Type
	}{{"Order", benchOrderBody, reflect.TypeFor[*orderBody]()}, {"Location", benchLocationBody, reflect.TypeFor[*locationReport]()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := checkShape(c.body, c.t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// FuzzOrderBody feeds arbitrary bodies to the order decoder: it must never panic, and every refusal must be an
// application error with a client status (4xx), never an internal one.
func FuzzOrderBody(f *testing.F) {
	for _, seed := range []string{
		`{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`,
		`{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48},"prep_seconds":600,"promise_seconds":1800,"size":2,"skills":["cold"],"customer":{"name":"Wang"}}`,
		`{"store_id":"s1","dropoff":{"lat":91,"lon":1e400}}`,
		`{"items":[{"sku":"milk","qty":2}]}`,
		`{"store_id":"s1","dropoff":{"lat":"north"}}`,
		`{"deliver_by":"2026-11-22T11:30:00Z","ready_at":"yesterday"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[`,
		"\xff\xfe",
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(body))
		w := httptest.NewRecorder()
		var b orderBody
		err := decode(w, r, &b, false)
		if err == nil {
			_, err = b.input()
		}
		if err == nil {
			return
		}
		var e *dispatch.Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: %v is not an application error", body, err)
		}
		if status := statusOf[e.Code]; status < 400 || status > 499 {
			t.Fatalf("%q: %s (%d), want a client error", body, e.Code, status)
		}
	})
}

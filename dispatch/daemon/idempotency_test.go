package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// v1Idem reads the idempotency entries of testdata/checkpoint-v1 as that version stored them.
func v1Idem(t testing.TB) map[string]idemJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "checkpoint-v1", checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := bytes.Cut(b, []byte("\n"))
	var c struct {
		Idem map[string]idemJSON `json:"idem"`
	}
	if err := json.Unmarshal(doc, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Idem) == 0 {
		t.Fatal("testdata/checkpoint-v1 holds no idempotency entry")
	}
	return c.Idem
}

// A data directory written by an older version (testdata/checkpoint-v1: status and body of each first answer) is
// read into the typed outcome; a retry then answers exactly the bytes that version answered, but for the order's
// region, which that version did not show and which is the default one (withDefaultRegion), before and after the
// daemon writes its own checkpoint (which keeps the same stored form); another request with a key is refused.
func TestIdempotencyFromAnOlderDataDir(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "checkpoint-v1"), dir)
	at, err := os.ReadFile(filepath.Join("testdata", "checkpoint-v1.clock"))
	if err != nil {
		t.Fatal(err)
	}
	when, err := time.Parse(time.RFC3339Nano, string(at))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	clock.Set(when)
	stored := v1Idem(t)
	for _, version := range []string{"1", "2"} {
		h := start(t, dir, clock, nil)
		for k, e := range stored {
			scope, key, _ := strings.Cut(k, "\x00")
			p := service.Principal{Role: service.RoleOrders, ID: scope}
			body, err := orderJSON(h.d.PlaceOrder(ctx, p, key, e.Hash, orderIn("s0", 31.25, 121.49)))
			if err != nil {
				t.Fatalf("checkpoint of version %s, retry of %q: %v", version, key, err)
			}
			if want := withDefaultRegion(t, e.Body); !bytes.Equal(body, want) {
				t.Fatalf("checkpoint of version %s, retry of %q answered\n%s\nwant what was first answered\n%s", version, key, body, want)
			}
			_, err = h.d.PlaceOrder(ctx, p, key, append([]byte("other"), e.Hash...), orderIn("s0", 31.25, 121.49))
			if dispatch.ErrorCodeOf(err) != dispatch.EIdempotencyMismatch {
				t.Fatalf("checkpoint of version %s, key %q with another request: %v, want %s", version, key, err, dispatch.EIdempotencyMismatch)
			}
		}
		h.close()
	}
}

// withDefaultRegion is an order's JSON written before regions as the daemon writes it now: "region":"default"
// right after its store_id, where the field comes.
func withDefaultRegion(t *testing.T, order []byte) []byte {
	t.Helper()
	loc := storeIDField.FindIndex(order)
	if loc == nil || bytes.Contains(order, []byte(`"region":`)) {
		t.Fatalf("not an order written before regions: %s", order)
	}
	return slices.Concat(order[:loc[1]], []byte(`,"region":"default"`), order[loc[1]:])
}

var storeIDField = regexp.MustCompile(`"store_id":"[^"]*"`)

// An entry's stored form is the status and body of the answer; a form that is not a placement's answer is refused,
// naming what is wrong.
func TestIdemFromStoredRefuses(t *testing.T) {
	at := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	good := []byte(`{"id":"ord_1","status":"pending","store_id":"s0","created_at":"2026-11-23T11:00:00Z","ready_at":"2026-11-23T11:05:00Z","deliver_by":"2026-11-23T11:30:00Z","size":1,"fulfilment":"delivery","late":false,"timeline":[{"status":"pending","at":"2026-11-23T11:00:00Z"}]}`)
	if e, err := idemFromStored([]byte{1}, at, "ord_1", 201, good); err != nil || e.Order.ID != "ord_1" {
		t.Fatalf("a good entry: %+v %v", e, err)
	}
	for _, tc := range []struct {
		name    string
		status  int
		body    []byte
		orderID string
		want    string
	}{
		{"NotCreated", 200, good, "ord_1", "status is 200"},
		{"NotAnOrder", 201, []byte(`[1,2]`), "ord_1", "body is not an order"},
		{"Empty", 201, nil, "ord_1", "body is not an order"},
		{"OtherOrder", 201, good, "ord_2", `body is order "ord_1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := idemFromStored(nil, at, tc.orderID, tc.status, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// FuzzIdemStored reads made-up stored entries: it refuses with an error or reads an order whose stored form reads
// back to the same stored form (so a retry after any number of restarts answers the same bytes).
func FuzzIdemStored(f *testing.F) {
	for _, e := range v1Idem(f) {
		f.Add(e.Status, e.Body)
	}
	f.Add(201, []byte(`{"id":"o","timeline":[],"customer":{ "a" : 1 },"created_at":"2026-11-23T11:00:00.000+01:00"}`))
	f.Add(201, []byte(`{"id":"o","dropoff":{"lat":1e-7,"lon":-0.0}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var probe struct {
			ID string `json:"id"`
		}
		json.Unmarshal(body, &probe)
		e, err := idemFromStored(nil, time.Time{}, probe.ID, status, body)
		if err != nil {
			return
		}
		s1, b1 := e.stored()
		e2, err := idemFromStored(nil, time.Time{}, probe.ID, s1, b1)
		if err != nil {
			t.Fatalf("the stored form of an entry read back is refused: %v\n%s", err, b1)
		}
		if s2, b2 := e2.stored(); s2 != s1 || !bytes.Equal(b2, b1) {
			t.Fatalf("stored form changed on a second read:\n%d %s\n%d %s", s1, b1, s2, b2)
		}
	})
}

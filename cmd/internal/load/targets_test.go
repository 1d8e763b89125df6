package load

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var shanghai = location{Lat: 31.2304, Lon: 121.4737}

func testFixture(stores, couriers int) *fixture {
	fx := &fixture{runID: "abcd1234", orderKey: "dk_test", stores: storeGrid(shanghai, 5000, stores)}
	for i := range couriers {
		fx.couriers = append(fx.couriers, courierSite{id: "c" + string(rune('a'+i)), token: "dc_" + string(rune('a'+i)),
			loc: randomInSquare(shanghai, 5000)})
	}
	return fx
}

func TestStoreGrid(t *testing.T) {
	stores := storeGrid(shanghai, 5000, 50)
	if len(stores) != 50 {
		t.Fatalf("%d stores, want 50", len(stores))
	}
	ids := map[string]bool{}
	for _, s := range stores {
		if ids[s.id] {
			t.Errorf("store id %s twice", s.id)
		}
		ids[s.id] = true
		// Within the 5 km square: at most half its diagonal from the centre.
		if d := distanceM(shanghai, s.loc); d > 2500*1.4143 {
			t.Errorf("store %s is %.0f m from the centre", s.id, d)
		}
	}
	// The grid spreads: the two first stores of a row are one cell (5000/8 m) apart.
	if d := distanceM(stores[0].loc, stores[1].loc); d < 600 || d > 650 {
		t.Errorf("neighbouring stores %.0f m apart, want 625", d)
	}
}

func TestOrderTargeter(t *testing.T) {
	fx := testFixture(10, 0)
	stores := map[string]location{}
	for _, s := range fx.stores {
		stores[s.id] = s.loc
	}
	tr := newOrderTargeter("http://127.0.0.1:9", fx)

	// vegeta's workers call the targeter at once: keys must stay unique under concurrency.
	const goroutines, each = 8, 500
	targets := make([][]vegeta.Target, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				var tgt vegeta.Target
				if err := tr.next(&tgt); err != nil {
					t.Error(err)
					return
				}
				targets[g] = append(targets[g], tgt)
			}
		})
	}
	wg.Wait()

	keys, externals := map[string]bool{}, map[string]bool{}
	for _, list := range targets {
		for _, tgt := range list {
			req, err := tgt.Request()
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:9/v1/orders" {
				t.Fatalf("request %s %s, want POST http://127.0.0.1:9/v1/orders", req.Method, req.URL)
			}
			if got := req.Header.Get("Authorization"); got != "Bearer dk_test" {
				t.Fatalf("Authorization %q, want the order key", got)
			}
			if got := req.Header.Get("Content-Type"); got != "application/json" {
				t.Fatalf("Content-Type %q", got)
			}
			key := req.Header.Get("Idempotency-Key")
			if key == "" || len(key) > 255 || keys[key] {
				t.Fatalf("Idempotency-Key %q: empty, too long or used before", key)
			}
			keys[key] = true

			var b apiOrder
			if err := decodeStrict(tgt.Body, &b); err != nil {
				t.Fatalf("body %s: %v", tgt.Body, err)
			}
			if p := b.problem(); p != "" {
				t.Fatalf("body %s: %s", tgt.Body, p)
			}
			if externals[b.ExternalID] {
				t.Fatalf("external_id %q used twice", b.ExternalID)
			}
			externals[b.ExternalID] = true
			if !strings.Contains(b.ExternalID, fx.runID) || !strings.Contains(key, fx.runID) {
				t.Fatalf("external_id %q and key %q should carry the run id", b.ExternalID, key)
			}
			storeLoc, ok := stores[b.StoreID]
			if !ok {
				t.Fatalf("store_id %q is not a registered store", b.StoreID)
			}
			d := distanceM(storeLoc, location{*b.Dropoff.Lat, *b.Dropoff.Lon})
			if d < minDropoffM*0.999 || d > maxDropoffM*1.001 {
				t.Fatalf("drop-off %.0f m from its store, want 500 to 4000", d)
			}
		}
	}
	if len(keys) != goroutines*each {
		t.Fatalf("%d distinct keys, want %d", len(keys), goroutines*each)
	}
}

func TestLocationTargeter(t *testing.T) {
	const couriers = 7
	fx := testFixture(5, couriers)
	tr := newLocationTargeter("http://127.0.0.1:9", fx, shanghai, 5000)
	now := time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC)
	tr.now = func() time.Time { return now }

	// Long enough for every courier to walk out of the area many times if nothing turned it back.
	for i := range 20_000 {
		var tgt vegeta.Target
		if err := tr.next(&tgt); err != nil {
			t.Fatal(err)
		}
		req, err := tgt.Request()
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "POST" || req.URL.Path != "/v1/courier/location" {
			t.Fatalf("request %s %s", req.Method, req.URL)
		}
		// The couriers are taken in turn, each with its own token.
		if got, want := req.Header.Get("Authorization"), "Bearer "+fx.couriers[i%couriers].token; got != want {
			t.Fatalf("request %d: Authorization %q, want %q", i, got, want)
		}
		var b apiLocationReport
		if err := decodeStrict(tgt.Body, &b); err != nil {
			t.Fatalf("body %s: %v", tgt.Body, err)
		}
		if p := b.problem(); p != "" {
			t.Fatalf("body %s: %s", tgt.Body, p)
		}
		if b.At == nil || *b.At != "2026-11-22T11:30:00Z" {
			t.Fatalf("at %v, want the targeter's clock", b.At)
		}
		loc := location{*b.Location.Lat, *b.Location.Lon}
		// Half the 5 km side, plus one step past it before turning back, plus the square's corners at the start.
		if d := distanceM(shanghai, loc); d > 2500*1.4143+40 {
			t.Fatalf("request %d: courier %.0f m from the centre", i, d)
		}
	}
}

func TestOffsetAndDistance(t *testing.T) {
	for _, tc := range []struct{ north, east float64 }{{1000, 0}, {0, 1000}, {-3000, 4000}, {0, 0}} {
		got := distanceM(shanghai, offset(shanghai, tc.north, tc.east))
		want := math.Hypot(tc.north, tc.east)
		// The flat-Earth offset is off by about a metre at 5 km, a thousandth.
		if math.Abs(got-want) > max(0.5, want/1000) {
			t.Errorf("offset(%v, %v): %.2f m away, want %.2f", tc.north, tc.east, got, want)
		}
	}
	if b := bearingDeg(shanghai, offset(shanghai, 0, 1000)); b < 89.9 || b > 90.1 {
		t.Errorf("bearing east %.2f, want 90", b)
	}
}

func TestBatchTargeter(t *testing.T) {
	const couriers = 7
	fx := testFixture(5, couriers)
	walk := newLocationTargeter("http://127.0.0.1:9", fx, shanghai, 5000)
	tr := newBatchTargeter("http://127.0.0.1:9", "admin-secret", 3, walk)
	seen := map[string]int{}
	for range 7 {
		var tgt vegeta.Target
		if err := tr.next(&tgt); err != nil {
			t.Fatal(err)
		}
		req, err := tgt.Request()
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "POST" || req.URL.Path != "/v1/courier-locations" || req.Header.Get("Authorization") != "Bearer admin-secret" {
			t.Fatalf("request %s %s with %q", req.Method, req.URL, req.Header.Get("Authorization"))
		}
		var b struct {
			Locations []struct {
				CourierID string   `json:"courier_id"`
				Location  location `json:"location"`
				At        string   `json:"at"`
			} `json:"locations"`
		}
		if err := decodeStrict(tgt.Body, &b); err != nil {
			t.Fatalf("body %s: %v", tgt.Body, err)
		}
		if len(b.Locations) != 3 {
			t.Fatalf("%d positions in a batch of 3", len(b.Locations))
		}
		for _, e := range b.Locations {
			if d := distanceM(shanghai, e.Location); d > 2500*1.4143+40 || e.At == "" {
				t.Fatalf("entry %+v", e)
			}
			seen[e.CourierID]++
		}
	}
	// 21 positions over 7 couriers taken in turn: three each.
	for _, c := range fx.couriers {
		if seen[c.id] != 3 {
			t.Fatalf("courier %s reported %d times, want 3 (%v)", c.id, seen[c.id], seen)
		}
	}
}

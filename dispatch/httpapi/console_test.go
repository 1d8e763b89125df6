package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo/roads"
	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

func TestConsolePage(t *testing.T) {
	f := newFixture(t)
	resp, body := request(t, f.srv, "GET", "/console/", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/console/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), "dispatchd console") {
		t.Errorf("/console/ is not the console's page: %.200s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q lets the page reach other hosts", csp)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if status, _ := f.call("GET", "/console/", "", "", "If-None-Match", etag); status != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %d, want 304", status)
	}
	if status, _ := f.call("GET", "/console/no-such-file.js", "", ""); status != 404 {
		t.Errorf("an unknown file: %d, want 404", status)
	}
	client := *f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := client.Get(f.srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/console/" {
		t.Errorf("/console: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func (f *fixture) snapshot(token string) *consoleSnapshot {
	f.t.Helper()
	var s consoleSnapshot
	if err := json.Unmarshal(f.expect(200, "GET", "/v1/console/snapshot", token, ""), &s); err != nil {
		f.t.Fatal(err)
	}
	return &s
}

func TestConsoleSnapshot(t *testing.T) {
	f := newFixture(t)
	s := f.snapshot(adminToken)
	if len(s.Stores) != 1 || s.Stores[0].ID != "s1" || !s.Stores[0].Open {
		t.Errorf("stores: %+v", s.Stores)
	}
	byID := map[string]consoleCourier{}
	for _, c := range s.Couriers {
		byID[c.ID] = c
	}
	// Courier a has the fixture's order and goes to the store for it, on the only route; b never went on shift.
	a, b := byID["a"], byID["b"]
	if a.Status != consoleToStore || a.Load != 0 || a.Location == nil || a.RouteVersion == 0 {
		t.Errorf("courier a: %+v", a)
	}
	if len(s.Routes) != 1 {
		t.Fatalf("routes: %+v", s.Routes)
	}
	if r := s.Routes[0]; r.CourierID != "a" || r.Route == nil || r.Route.Version != a.RouteVersion || len(r.Route.Stops) != 2 ||
		r.Route.Orders[0] != f.order || r.Route.Legs != nil {
		t.Errorf("route: %+v %+v", r, r.Route)
	}
	if b.Status != service.CourierOffline || b.RouteVersion != 0 {
		t.Errorf("courier b: %+v", b)
	}
	if len(s.Orders) != 1 || s.Orders[0].ID != f.order || s.Orders[0].CourierID != "a" || s.Orders[0].DropoffETA == nil {
		t.Errorf("orders: %+v", s.Orders)
	}
	fig := s.Figures
	if fig.OrdersLastHour != 1 || fig.OpenOrders != 1 || fig.CouriersOnline != 1 || fig.CouriersBusy != 1 || fig.LateNow != 0 ||
		fig.DeliveredLastHour != 0 || fig.OnTimeShare != nil {
		t.Errorf("figures: %+v", fig)
	}
	if s.Map.Roads || s.Map.Extent != nil || s.Map.Bounds == nil || s.Map.Bounds[0] > 31.2304 || s.Map.Bounds[2] < 31.24 {
		t.Errorf("map: %+v %v", s.Map, s.Map.Bounds)
	}
	// Delivered on time: the order leaves the open ones and counts in the share.
	f.expect(200, "POST", "/v1/courier/orders/"+f.order+"/picked_up", f.riders["a"], "")
	f.expect(200, "POST", "/v1/courier/orders/"+f.order+"/delivered", f.riders["a"], "")
	s = f.snapshot(adminToken)
	if len(s.Orders) != 0 || s.Figures.DeliveredLastHour != 1 || s.Figures.OnTimeShare == nil || *s.Figures.OnTimeShare != 1 {
		t.Errorf("after delivery: orders %+v, figures %+v", s.Orders, s.Figures)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ id, name, data string }

// readEvents reads server-sent events into a channel until the body ends.
func readEvents(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

func TestConsoleStream(t *testing.T) {
	f := newFixture(t)
	var op struct{ Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"console","role":"operator"}`), &op)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/v1/console/stream", nil)
	req.Header.Set("Authorization", "Bearer "+op.Key)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readEvents(resp.Body)
	next := func() sseEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no event before the test's deadline")
		}
		return sseEvent{}
	}
	first := next()
	var snap consoleSnapshot
	if first.name != "snapshot" || json.Unmarshal([]byte(first.data), &snap) != nil || len(snap.Orders) != 1 || len(snap.Couriers) != 2 {
		t.Fatalf("first event: %s %.300s", first.name, first.data)
	}
	// A new order comes as a change carrying that order alone (courier and store objects only if they changed).
	var placed struct{ ID string }
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s1","dropoff":{"lat":31.235,"lon":121.478}}`), &placed)
	var d consoleDelta
	for d.Orders == nil {
		ev := next()
		if ev.name != "delta" {
			t.Fatalf("event %q after the snapshot", ev.name)
		}
		d = consoleDelta{}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.Orders) != 1 || !strings.Contains(string(d.Orders[0]), placed.ID) || d.Figures.OpenOrders != 2 || len(d.Couriers) != 0 {
		t.Fatalf("delta after an order: %d orders %s, %d couriers, figures %+v", len(d.Orders), d.Orders, len(d.Couriers), d.Figures)
	}
	// A cancelled order is removed.
	f.expect(200, "POST", "/v1/orders/"+placed.ID+"/cancel", f.key, `{}`)
	for {
		ev := next()
		d = consoleDelta{}
		json.Unmarshal([]byte(ev.data), &d)
		if len(d.Removed.Orders) > 0 {
			break
		}
	}
	if len(d.Removed.Orders) != 1 || d.Removed.Orders[0] != placed.ID || d.Figures.OpenOrders != 1 {
		t.Fatalf("delta after a cancel: removed %v, figures %+v", d.Removed, d.Figures)
	}
	// A reconnect names the last event it had; it starts again from a snapshot of the city as it is now.
	req2, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/v1/console/stream", nil)
	req2.Header.Set("Authorization", "Bearer "+op.Key)
	req2.Header.Set("Last-Event-ID", first.id)
	resp2, err := f.srv.Client().Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	again, ok := <-readEvents(resp2.Body)
	snap = consoleSnapshot{}
	if !ok || again.name != "snapshot" || json.Unmarshal([]byte(again.data), &snap) != nil || len(snap.Orders) != 1 || snap.Orders[0].ID != f.order {
		t.Fatalf("after a reconnect: %s %.300s", again.name, again.data)
	}
}

func TestConsoleDeltaSendsOnlyChanges(t *testing.T) {
	st := newConsoleState()
	loc := &service.Location{Lat: 1, Lon: 2}
	snap := &consoleSnapshot{Couriers: []consoleCourier{{ID: "a", Status: "idle", Location: loc}, {ID: "b", Status: "idle"}},
		Orders: []consoleOrder{{ID: "o1", Status: "pending"}}}
	f1 := makeFrame(snap, nil)
	if d := st.delta(f1); len(d.Couriers) != 2 || len(d.Orders) != 1 {
		t.Fatalf("first delta: %+v", d)
	}
	if d := st.delta(f1); !d.empty() {
		t.Fatalf("a delta of nothing: %+v", d)
	}
	// Courier a moved (a new position), b went; the order is the same object and keeps its JSON.
	moved := &service.Location{Lat: 1.001, Lon: 2}
	snap = &consoleSnapshot{Couriers: []consoleCourier{{ID: "a", Status: "idle", Location: moved}}, Orders: []consoleOrder{{ID: "o1", Status: "pending"}}}
	f2 := makeFrame(snap, f1)
	if &f2.orders["o1"].json[0] != &f1.orders["o1"].json[0] {
		t.Error("an unchanged order was encoded again")
	}
	d := st.delta(f2)
	if len(d.Couriers) != 1 || !strings.Contains(string(d.Couriers[0]), `"lat":1.001`) || len(d.Orders) != 0 ||
		len(d.Removed.Couriers) != 1 || d.Removed.Couriers[0] != "b" {
		t.Fatalf("delta after a move and a removal: %+v", d)
	}
}

func TestConsoleRoadTiles(t *testing.T) {
	centre := orb.Point{7.42, 43.73}
	net, err := roads.Import(context.Background(), roadstest.Grid(t, centre, 6, 150), roads.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	api := New(f.d, Config{AdminToken: adminToken, Travel: net})
	srv := newTestServer(t, api.Handler())
	// The tile at zoom 15 that holds the grid's centre has roads; one far away has none.
	z := 15
	x, y := tileOf(centre, z)
	resp, body := request(t, srv, "GET", fmtTile(z, x, y), adminToken, "")
	var tile struct{ Lines []string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &tile) != nil || len(tile.Lines) == 0 {
		t.Fatalf("centre tile: %d %.200s", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "private, max-age=3600" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	_, body = request(t, srv, "GET", fmtTile(z, x+40, y), adminToken, "")
	if json.Unmarshal(body, &tile) != nil || len(tile.Lines) != 0 {
		t.Errorf("a tile far away: %.200s", body)
	}
	for _, bad := range []string{"/v1/console/roads/20/0/0", "/v1/console/roads/2/4/0", "/v1/console/roads/x/0/0", "/v1/console/roads/3/-1/0"} {
		if resp, body := request(t, srv, "GET", bad, adminToken, ""); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
		}
	}
	// The snapshot says a road map is loaded and gives its extent.
	_, body = request(t, srv, "GET", "/v1/console/snapshot", adminToken, "")
	var s consoleSnapshot
	json.Unmarshal(body, &s)
	if !s.Map.Roads || s.Map.Extent == nil || s.Map.Extent[0] > centre[1] || s.Map.Extent[2] < centre[1] {
		t.Errorf("map: %+v", s.Map)
	}
}

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// tileOf is the web-Mercator tile at zoom z that holds p.
func tileOf(p orb.Point, z int) (x, y int) {
	n := math.Exp2(float64(z))
	lat := p[1] * math.Pi / 180
	return int((p[0] + 180) / 360 * n), int((1 - math.Log(math.Tan(lat)+1/math.Cos(lat))/math.Pi) / 2 * n)
}

func fmtTile(z, x, y int) string { return fmt.Sprintf("/v1/console/roads/%d/%d/%d", z, x, y) }

// FuzzConsoleRoadTile: GET /v1/console/roads/{z}/{x}/{y}. Any path answers 200 with lines, or 400 naming z, x or
// y, or 404/405 for a path that is not a tile's, or the mux's redirect to its clean form (dot segments, doubled
// slashes); never a 5xx.
func FuzzConsoleRoadTile(f *testing.F) {
	net, err := roads.Import(context.Background(), roadstest.Grid(f, orb.Point{7.42, 43.73}, 4, 150), roads.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := New(nil, Config{AdminToken: adminToken, Travel: net}).Handler()
	for _, seed := range []string{"15/17059/11947", "0/0/0", "19/1/1", "20/0/0", "3/8/0", "-1/0/0", "x/y/z", "1/1", "14/99999999999999999999/1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tile string) {
		req, err := http.NewRequest("GET", "http://dispatchd/v1/console/roads/"+tile, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			var body struct{ Lines []string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Lines == nil {
				t.Fatalf("%s: 200 %.200s", tile, rec.Body.Bytes())
			}
		case 400:
			var body errorBody
			json.Unmarshal(rec.Body.Bytes(), &body)
			if f := body.Error.Field; f != "z" && f != "x" && f != "y" {
				t.Fatalf("%s: 400 naming %q: %s", tile, f, rec.Body.Bytes())
			}
		case 404, 405, 301, 307, 308:
		default:
			t.Fatalf("%s: %d %s", tile, rec.Code, rec.Body.Bytes())
		}
	})
}

// TestConsoleLastRound: with the daemon's observer wrapped in RoundTimes, the figures carry the last round's
// duration (none before a round). The observer hears the rounds of the interval (DispatchNow is a record).
func TestConsoleLastRound(t *testing.T) {
	rounds := daemon.NewRoundTimes(nil)
	f := newFixtureWith(t, func(c *daemon.Config) {
		c.Observer = rounds
		c.DispatchInterval = 20 * time.Millisecond
	})
	for {
		if _, ok := rounds.Last(); ok {
			break
		}
		time.Sleep(5 * time.Millisecond) // the test's own deadline bounds the wait
	}
	srv := newTestServer(t, New(f.d, Config{AdminToken: adminToken, Rounds: rounds}).Handler())
	_, body := request(t, srv, "GET", "/v1/console/snapshot", adminToken, "")
	var s consoleSnapshot
	json.Unmarshal(body, &s)
	if s.Figures.LastRoundMS == nil || *s.Figures.LastRoundMS <= 0 {
		t.Errorf("last round %v in the figures", s.Figures.LastRoundMS)
	}
	if f.snapshot(adminToken).Figures.LastRoundMS != nil {
		t.Error("a server without Rounds gives a last round")
	}
}

package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// fakeView is a region's state for the router: which orders, stores and couriers it has. Methods the router does
// not use are not implemented (the embedded nil interface).
type fakeView struct {
	service.View
	orders, stores, couriers map[string]bool
	tokens                   map[string]service.Principal // token → who
	revoked                  map[string]string            // token → id of a revoked key
	storeAt                  map[string]service.Location
}

func (v *fakeView) Order(id string) (*service.Order, bool) {
	return &service.Order{ID: id}, v.orders[id]
}
func (v *fakeView) Store(id string) (*service.Store, bool) {
	return &service.Store{ID: id}, v.stores[id]
}
func (v *fakeView) Courier(id string) (*service.Courier, bool) {
	return &service.Courier{ID: id}, v.couriers[id]
}
func (v *fakeView) Authenticate(h []byte) (service.Principal, bool) {
	for tok, p := range v.tokens {
		if string(service.HashToken(tok)) == string(h) {
			return p, true
		}
	}
	return service.Principal{}, false
}
func (v *fakeView) APIKeys() []*service.APIKey {
	var keys []*service.APIKey
	for tok, p := range v.tokens {
		if p.Role != service.RoleCourier {
			keys = append(keys, &service.APIKey{ID: p.ID, Role: p.Role, Hash: service.HashToken(tok)})
		}
	}
	for tok, id := range v.revoked {
		at := time.Unix(0, 0)
		keys = append(keys, &service.APIKey{ID: id, Role: service.RoleOrders, RevokedAt: &at, Hash: service.HashToken(tok)})
	}
	return keys
}
func (v *fakeView) StoresNear(p service.Location, radius float64) []*service.Store {
	var out []*service.Store
	for id, at := range v.storeAt {
		if (at.Lat-p.Lat)*(at.Lat-p.Lat)+(at.Lon-p.Lon)*(at.Lon-p.Lon) < 0.01 {
			out = append(out, &service.Store{ID: id, Location: at})
		}
	}
	return out
}

// servedReplica answers every request with who served it: node, region, the hop header and the body.
type servedReplica struct {
	fakeReplica
	node, region string
	view         *fakeView
	handler      http.Handler
}

func (s *servedReplica) Handler() http.Handler { return s.handler }
func (s *servedReplica) View() service.View    { return s.view }

type served struct {
	Node, Region, Hop, Body, Path string
}

func answer(node, region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(served{node, region, r.Header.Get(HopHeader), string(b), r.URL.Path})
	})
}

// fakeDir is a node's directory: its replicas, and who it believes owns each region.
type fakeDir struct {
	mu      sync.Mutex
	self    string
	regions []string
	reps    map[string]*servedReplica
	owner   map[string]string // region → node id
	urls    map[string]string // node id → URL
}

func (d *fakeDir) Regions() []string { return d.regions }
func (d *fakeDir) Local(region string) (Replica, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rep, ok := d.reps[region]
	if !ok {
		return nil, false
	}
	return rep, d.owner[region] == d.self
}
func (d *fakeDir) Owner(region string) (string, string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.owner[region]
	if !ok {
		return "", "", false
	}
	return id, d.urls[id], d.urls[id] != ""
}
func (d *fakeDir) setOwner(region, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id == "" {
		delete(d.owner, region)
	} else {
		d.owner[region] = id
	}
}

// twoNodes is nodes a and b, each with a replica of both regions, west owned by a and east by b.
func twoNodes(t *testing.T) (a, b *fakeDir, sa, sb *httptest.Server) {
	views := map[string]*fakeView{
		"west": {orders: map[string]bool{"o-w": true}, stores: map[string]bool{"s-w": true}, couriers: map[string]bool{"c-w": true},
			tokens:  map[string]service.Principal{"tok-w": {Role: service.RoleCourier, ID: "c-w"}},
			storeAt: map[string]service.Location{"s-w": {Lat: 1, Lon: 1}}},
		"east": {orders: map[string]bool{"o-e": true}, stores: map[string]bool{"s-e": true}, couriers: map[string]bool{"c-e": true},
			tokens:  map[string]service.Principal{"tok-e": {Role: service.RoleCourier, ID: "c-e"}},
			storeAt: map[string]service.Location{"s-e": {Lat: 5, Lon: 5}}},
	}
	mk := func(self string) *fakeDir {
		d := &fakeDir{self: self, regions: []string{"west", "east"}, reps: map[string]*servedReplica{},
			owner: map[string]string{"west": "a", "east": "b"}, urls: map[string]string{}}
		for _, region := range d.regions {
			d.reps[region] = &servedReplica{node: self, region: region, view: views[region], handler: answer(self, region)}
		}
		return d
	}
	a, b = mk("a"), mk("b")
	sa = httptest.NewServer(NewRouter(a, RouterConfig{Self: "a", RetryAfter: 2 * time.Second}))
	t.Cleanup(sa.Close)
	sb = httptest.NewServer(NewRouter(b, RouterConfig{Self: "b", RetryAfter: 2 * time.Second}))
	t.Cleanup(sb.Close)
	for _, d := range []*fakeDir{a, b} {
		d.urls["a"], d.urls["b"] = sa.URL, sb.URL
	}
	return a, b, sa, sb
}

func do(t *testing.T, method, url, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRouterServesOrForwardsByRegion(t *testing.T) {
	_, _, sa, _ := twoNodes(t)
	for _, tc := range []struct {
		method, path, token, body string
		node, region              string
	}{
		{"GET", "/v1/orders/o-w", "", "", "a", "west"},
		{"GET", "/v1/orders/o-e", "", "", "b", "east"},
		{"POST", "/v1/orders/o-e/cancel", "", "{}", "b", "east"},
		{"POST", "/v1/orders", "", `{"store_id":"s-e","dropoff":{"lat":1,"lon":1}}`, "b", "east"},
		{"POST", "/v1/orders", "", `{"items":[{"sku":"x","quantity":1}],"dropoff":{"lat":5.01,"lon":5}}`, "b", "east"},
		{"POST", "/v1/orders", "", `{"region":"east","items":[]}`, "b", "east"},
		{"POST", "/v1/quotes", "", `{"store_id":"s-w"}`, "a", "west"},
		{"PUT", "/v1/stores/new", "", `{"region":"east","name":"n"}`, "b", "east"},
		{"PUT", "/v1/stores/s-e", "", `{"name":"n"}`, "b", "east"},
		{"GET", "/v1/stores/s-e", "", "", "b", "east"},
		{"PATCH", "/v1/stores/s-e/inventory", "", "{}", "b", "east"},
		{"POST", "/v1/stores/s-e/orders/o-e/ready", "", "", "b", "east"},
		{"PUT", "/v1/couriers/c-e", "", `{"name":"n"}`, "b", "east"},
		{"POST", "/v1/couriers/c-e/off-shift", "", "", "b", "east"},
		{"GET", "/v1/orders?region=east", "", "", "b", "east"},
		{"GET", "/v1/events?region=west", "", "", "a", "west"},
		{"GET", "/v1/courier/route", "tok-e", "", "b", "east"},
		{"POST", "/v1/courier/orders/o-e/pickup", "tok-e", "", "b", "east"},
		{"POST", "/v1/dispatch/moves", "", `{"courier_id":"c-e","order_ids":["o-e"]}`, "b", "east"},
		{"POST", "/v1/courier-locations", "", `{"locations":[{"courier_id":"c-e"}]}`, "b", "east"},
		{"POST", "/v1/api-keys", "", `{}`, "a", "west"},
		{"GET", "/v1/webhooks/h", "", "", "a", "west"},
		{"GET", "/v1/orders/nowhere", "", "", "a", "west"}, // no region has it: the control replica answers 404
		{"GET", "/healthz", "", "", "a", "west"},
		{"GET", "/v1/cluster", "", "", "a", "west"},
	} {
		resp, b := do(t, tc.method, sa.URL+tc.path, tc.token, tc.body)
		var got served
		if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b)
			continue
		}
		if got.Node != tc.node || got.Region != tc.region {
			t.Errorf("%s %s: served by %s/%s, want %s/%s", tc.method, tc.path, got.Node, got.Region, tc.node, tc.region)
		}
		wantHop := ""
		if tc.node != "a" {
			wantHop = "a"
		}
		if got.Hop != wantHop {
			t.Errorf("%s %s: hop header %q, want %q", tc.method, tc.path, got.Hop, wantHop)
		}
		if got.Body != tc.body {
			t.Errorf("%s %s: the body arrived as %q, want %q", tc.method, tc.path, got.Body, tc.body)
		}
		if got.Path != strings.Split(tc.path, "?")[0] {
			t.Errorf("%s %s: arrived at %s", tc.method, tc.path, got.Path)
		}
	}
}

type errorAnswer struct {
	Error struct {
		Code, Message, Field string
	}
}

func TestRouterAsksForTheRegion(t *testing.T) {
	_, _, sa, _ := twoNodes(t)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/orders", ""},
		{"GET", "/v1/couriers?status=idle", ""},
		{"GET", "/v1/events?region=nowhere", ""},
		{"POST", "/v1/orders", `{"region":"nowhere"}`},
		{"POST", "/v1/orders", `{"items":[],"dropoff":{"lat":-40,"lon":100}}`},
		{"PUT", "/v1/stores/new", `{"name":"no region, and no default region"}`},
	} {
		resp, b := do(t, tc.method, sa.URL+tc.path, "", tc.body)
		var e errorAnswer
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &e) != nil || e.Error.Field != "region" {
			t.Errorf("%s %s %s: %d %s, want 400 naming region", tc.method, tc.path, tc.body, resp.StatusCode, b)
		}
	}

	// One region: nothing to ask.
	d := &fakeDir{self: "a", regions: []string{"only"}, reps: map[string]*servedReplica{
		"only": {node: "a", region: "only", view: &fakeView{}, handler: answer("a", "only")}},
		owner: map[string]string{"only": "a"}, urls: map[string]string{}}
	s := httptest.NewServer(NewRouter(d, RouterConfig{Self: "a"}))
	defer s.Close()
	if resp, b := do(t, "GET", s.URL+"/v1/orders", "", ""); resp.StatusCode != 200 {
		t.Errorf("one region, GET /v1/orders: %d %s", resp.StatusCode, b)
	}
}

func TestRouterDuringAFailover(t *testing.T) {
	a, b, sa, _ := twoNodes(t)

	// Nobody owns east: 503, Retry-After, the region named.
	a.setOwner("east", "")
	resp, body := do(t, "GET", sa.URL+"/v1/orders/o-e", "", "")
	var e errorAnswer
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || json.Unmarshal(body, &e) != nil ||
		e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "region east") {
		t.Errorf("no owner: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// a believes b owns east, but b lost it meanwhile (and believes a has it): one hop, then 503, no loop.
	a.setOwner("east", "b")
	b.setOwner("east", "a")
	resp, body = do(t, "GET", sa.URL+"/v1/orders/o-e", "", "")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "forwarded") {
		t.Errorf("hop limit: %d %s", resp.StatusCode, body)
	}

	// The owner cannot be reached: 503.
	a.mu.Lock()
	a.urls["b"] = "http://127.0.0.1:1"
	a.mu.Unlock()
	resp, body = do(t, "GET", sa.URL+"/v1/orders/o-e", "", "")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "could not be reached") {
		t.Errorf("owner unreachable: %d %s", resp.StatusCode, body)
	}

	// a takes east over: served here.
	a.setOwner("east", "a")
	resp, body = do(t, "GET", sa.URL+"/v1/orders/o-e", "", "")
	var got served
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Node != "a" || got.Region != "east" {
		t.Errorf("after the takeover: %d %s", resp.StatusCode, body)
	}
}

// A stream forwarded to the owner passes through as it is written, not when it ends.
func TestRouterStreamsUnbuffered(t *testing.T) {
	_, b, sa, _ := twoNodes(t)
	release := make(chan struct{})
	defer close(release)
	b.mu.Lock()
	b.reps["east"].handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: 7\ndata: {\"hop\":%q}\n\n", r.Header.Get(HopHeader))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	b.mu.Unlock()
	req, _ := http.NewRequest("GET", sa.URL+"/v1/courier/stream", nil)
	req.Header.Set("Authorization", "Bearer tok-e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for _, want := range []string{"id: 7", `data: {"hop":"a"}`} {
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("stream line %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the stream's first event did not come through while the stream was open")
		}
	}
}

func TestWithControlKeys(t *testing.T) {
	control := &fakeView{tokens: map[string]service.Principal{
		"key": {Role: service.RoleOrders, ID: "k1"}, "courier-of-control": {Role: service.RoleCourier, ID: "c"}}}
	region := &fakeView{tokens: map[string]service.Principal{"courier": {Role: service.RoleCourier, ID: "c2"}}}
	v := keyedView{View: region, control: func() service.View { return control }}
	for tok, want := range map[string]bool{"key": true, "courier": true, "courier-of-control": false, "nobody": false} {
		if _, ok := v.Authenticate(service.HashToken(tok)); ok != want {
			t.Errorf("%s: authenticated %v, want %v", tok, ok, want)
		}
	}
}

// A lookup by id that finds nothing here looks again for a while (a replica opening, or following a little
// behind, gets there); while a region's replica is not open on this node, "not found" is not an answer it can
// give: 503 naming the region.
func TestRouterLookupWaitsForAReplicaOpening(t *testing.T) {
	a, _, sa, _ := twoNodes(t)
	a.mu.Lock()
	east := a.reps["east"]
	delete(a.reps, "east")
	a.mu.Unlock()

	resp, b := do(t, "GET", sa.URL+"/v1/stores/nowhere", "", "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Dispatchd-Region") != "east" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an unknown store while east opens here: %d %s (region %q)", resp.StatusCode, b, resp.Header.Get("Dispatchd-Region"))
	}

	go func() {
		time.Sleep(200 * time.Millisecond)
		a.mu.Lock()
		a.reps["east"] = east
		a.mu.Unlock()
	}()
	resp, b = do(t, "GET", sa.URL+"/v1/stores/s-e", "", "")
	var got served
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.Node != "b" || got.Region != "east" {
		t.Errorf("a store of east, found once east's replica opened here: %d %s, want it served by b in east", resp.StatusCode, b)
	}
}

// laggingDir is a node's directory whose replicas may not have caught up with their streams yet.
type laggingDir struct {
	*fakeDir
	caught map[string]bool // region → caught up (guarded by fakeDir.mu)
}

func (d *laggingDir) CaughtUp(region string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caught[region]
}

func (d *laggingDir) catchUp(region string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.caught[region] = true
}

// A node whose replicas have not read their streams to the end is not ready, and does not answer for what it has
// not read: a lookup that finds nothing is 503 naming the lagging region (not 404), and a request with
// credentials served here waits for the control region's replica (API keys), then is 503 (not 401).
func TestRouterWhileReplicasCatchUp(t *testing.T) {
	a, _, _, sb := twoNodes(t)
	lag := &laggingDir{fakeDir: a, caught: map[string]bool{}}
	srv := httptest.NewServer(NewRouter(lag, RouterConfig{Self: "a", RetryAfter: time.Second, Patience: 50 * time.Millisecond}))
	t.Cleanup(srv.Close)
	a.mu.Lock()
	a.urls["b"] = sb.URL
	a.mu.Unlock()

	if resp, b := do(t, "GET", srv.URL+"/readyz", "", ""); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Dispatchd-Region") != "west" {
		t.Errorf("readyz with no replica caught up: %d %s, want 503 naming west", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("healthz while catching up: %d %s, want 200 (alive)", resp.StatusCode, b)
	}
	// west is owned here: an order service's key is checked against the control replica (west), not read yet.
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "key", ""); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Dispatchd-Region") != "west" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a request with a key while the control replica catches up: %d %s, want 503 naming west", resp.StatusCode, b)
	}
	// An order nobody has here yet: not "not found" while east lags.
	lag.catchUp("west")
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/made-a-moment-ago", "key", ""); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Dispatchd-Region") != "east" {
		t.Errorf("an unknown order while east catches up: %d %s, want 503 naming east", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/readyz", "", ""); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Dispatchd-Region") != "east" {
		t.Errorf("readyz with east not caught up: %d %s, want 503 naming east", resp.StatusCode, b)
	}
	// A region owned elsewhere is forwarded whatever this node's replica of it knows.
	var got served
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-e", "key", ""); resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.Node != "b" {
		t.Errorf("an order of east while east catches up here: %d %s, want it served by b", resp.StatusCode, b)
	}

	lag.catchUp("east")
	if resp, b := do(t, "GET", srv.URL+"/readyz", "", ""); resp.StatusCode != 200 {
		t.Errorf("readyz once caught up: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "key", ""); resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.Node != "a" || got.Region != "west" {
		t.Errorf("a request with a key once caught up: %d %s, want it served here in west", resp.StatusCode, b)
	}
}

// A batch of positions naming couriers of several regions is split: each region's owner gets its couriers'
// positions (west's served here, east's forwarded to b), and the answer sums what was accepted. A refusal by one
// region is the answer.
func TestRouterSplitsALocationBatchByRegion(t *testing.T) {
	a, b, sa, _ := twoNodes(t)
	var mu sync.Mutex
	got := map[string][]string{} // node/region → couriers
	status := http.StatusAccepted
	locations := func(node, region string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Locations []struct {
					CourierID string `json:"courier_id"`
				} `json:"locations"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("%s/%s: %v", node, region, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range body.Locations {
				got[node+"/"+region] = append(got[node+"/"+region], l.CourierID)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]int{"accepted": len(body.Locations)})
		})
	}
	a.reps["west"].handler = locations("a", "west")
	b.reps["east"].handler = locations("b", "east")

	batch := `{"locations":[{"courier_id":"c-e","location":{"lat":5,"lon":5}},{"courier_id":"c-w","location":{"lat":1,"lon":1}},` +
		`{"courier_id":"c-e","location":{"lat":5.1,"lon":5}}]}`
	resp, body := do(t, "POST", sa.URL+"/v1/courier-locations", "", batch)
	var ans struct {
		Accepted int `json:"accepted"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &ans) != nil || ans.Accepted != 3 {
		t.Fatalf("a batch over two regions: %d %s, want 202 with 3 accepted", resp.StatusCode, body)
	}
	mu.Lock()
	if fmt.Sprint(got) != "map[a/west:[c-w] b/east:[c-e c-e]]" {
		t.Errorf("positions reached %v, want c-w's on a in west and both of c-e's on b in east", got)
	}
	status = http.StatusBadRequest
	mu.Unlock()
	if resp, body := do(t, "POST", sa.URL+"/v1/courier-locations", "", batch); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a batch one region refuses: %d %s, want its 400", resp.StatusCode, body)
	}
}

// A 401 stands only when the control region's replica that authenticated the key is the one that was caught up
// when the request came, and still is: a replica reopened meanwhile (the node lost or gave up the control
// region's lease and opened a fresh standby from a checkpoint older than the key) refuses a valid key, and that
// is 503 with Retry-After. A key no caught-up replica knows is 401, logged with why and without the token.
func TestRouterRefusesAKeyOnlyWhenItKnows(t *testing.T) {
	a, _, _, _ := twoNodes(t)
	lag := &laggingDir{fakeDir: a, caught: map[string]bool{"west": true, "east": true}}
	var logs syncBuffer
	srv := httptest.NewServer(NewRouter(lag, RouterConfig{Self: "a", RetryAfter: time.Second, Patience: 50 * time.Millisecond,
		Logger: zerolog.New(&logs)}))
	t.Cleanup(srv.Close)

	// west (the control region, owned here) authenticates as the API does, by its replica's view at that moment.
	keys := &fakeView{tokens: map[string]service.Principal{"dk_valid": {Role: service.RoleOrders, ID: "key_1"}},
		revoked: map[string]string{"dk_revoked": "key_2"}}
	api := func(w http.ResponseWriter, r *http.Request) {
		rep, _ := a.Local("west")
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if _, ok := rep.View().Authenticate(service.HashToken(tok)); !ok {
			writeError(w, http.StatusUnauthorized, "unauthenticated", "", "the token is not valid")
			return
		}
		answer("a", "west").ServeHTTP(w, r)
	}
	a.mu.Lock()
	a.reps["west"] = &servedReplica{node: "a", region: "west", view: keys, handler: http.HandlerFunc(api)}
	a.mu.Unlock()

	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "dk_valid", ""); resp.StatusCode != 200 {
		t.Fatalf("a valid key, control replica caught up: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "dk_nobodys", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown key, control replica caught up: %d %s, want 401", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "dk_revoked", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked key, control replica caught up: %d %s, want 401", resp.StatusCode, b)
	}

	// The control region's replica is reopened from an old checkpoint (without the key) after the router let the
	// request through and before the API authenticated it.
	first := true
	a.mu.Lock()
	a.reps["west"].handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first {
			first = false
			a.mu.Lock()
			a.reps["west"] = &servedReplica{node: "a", region: "west", view: &fakeView{}, handler: http.HandlerFunc(api)}
			a.mu.Unlock()
		}
		api(w, r)
	})
	a.mu.Unlock()
	resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "dk_valid", "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Dispatchd-Region") != "west" {
		t.Errorf("a valid key while the control replica is reopened: %d %s, want 503 naming west with Retry-After", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), "retry") {
		t.Errorf("the 503's body: %s, want the router's error, not the API's 401", b)
	}

	out := logs.String()
	for _, want := range []string{authUnknown, authReopened, authRevoked, `"key_id":"key_2"`, `"token_kind":"dk"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"dk_valid", "dk_nobodys", "nobodys", "dk_revoked"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a token (%s):\n%s", secret, out)
		}
	}
}

// syncBuffer is a log written by the router's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// followingView is a standby's view of the control region that learns keys as it follows its stream.
type followingView struct {
	*fakeView
	mu   sync.Mutex
	keys map[string]service.Principal
}

func (v *followingView) Authenticate(h []byte) (service.Principal, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for tok, p := range v.keys {
		if string(service.HashToken(tok)) == string(h) {
			return p, true
		}
	}
	return service.Principal{}, false
}

func (v *followingView) learn(token string, p service.Principal) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys[token] = p
}

// followingReplica is a replica whose view is a followingView.
type followingReplica struct {
	*servedReplica
	view *followingView
}

func (f *followingReplica) View() service.View { return f.view }

// A key made a moment ago through another node (the control region's owner) and used at once through this one,
// whose standby of the control region has not read it yet, is waited for (Patience) and served: not 401. This
// is the 401 the chaos run saw, on the first orders after it made its key.
func TestRouterWaitsForAKeyMadeElsewhere(t *testing.T) {
	a, _, _, _ := twoNodes(t)
	// east is owned here; west (the control region) is a standby here, owned by b.
	a.setOwner("east", "a")
	a.setOwner("west", "b")
	control := &followingView{fakeView: &fakeView{}, keys: map[string]service.Principal{}}
	west := &followingReplica{servedReplica: &servedReplica{node: "a", region: "west"}, view: control}
	a.mu.Lock()
	east := a.reps["east"]
	// east's API authenticates as keyedView does: its own tokens, then the control replica's keys.
	east.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if _, ok := (keyedView{View: east.view, control: func() service.View { return control }}).Authenticate(service.HashToken(tok)); !ok && tok != "admin" {
			writeError(w, http.StatusUnauthorized, "unauthenticated", "", "the token is not valid")
			return
		}
		answer("a", "east").ServeHTTP(w, r)
	})
	a.mu.Unlock()
	dir := &followingDir{laggingDir: &laggingDir{fakeDir: a, caught: map[string]bool{"west": true, "east": true}}, west: west}
	srv := httptest.NewServer(NewRouter(dir, RouterConfig{Self: "a", Patience: 5 * time.Second, AdminToken: "admin"}))
	t.Cleanup(srv.Close)

	learnt := make(chan struct{})
	go func() {
		defer close(learnt)
		time.Sleep(150 * time.Millisecond) // the standby applies the key's record
		control.learn("dk_new", service.Principal{Role: service.RoleOrders, ID: "key_new"})
	}()
	resp, b := do(t, "GET", srv.URL+"/v1/orders/o-e", "dk_new", "")
	<-learnt
	var got served
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.Node != "a" || got.Region != "east" {
		t.Errorf("a key made a moment ago elsewhere, read here a moment later: %d %s, want it served here in east", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-e", "admin", ""); resp.StatusCode != 200 {
		t.Errorf("the admin token, which no replica lists: %d %s, want it served", resp.StatusCode, b)
	}

	// A key still unknown after Patience: 503 while the control replica here has not read its whole stream (the
	// key may be in what it has not read), 401 once it has.
	quick := httptest.NewServer(NewRouter(dir, RouterConfig{Self: "a", Patience: 50 * time.Millisecond}))
	t.Cleanup(quick.Close)
	if resp, b := do(t, "GET", quick.URL+"/v1/orders/o-e", "dk_unknown", ""); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Dispatchd-Region") != "west" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an unknown key, the control replica behind its stream: %d %s, want 503 naming west", resp.StatusCode, b)
	}
	dir.setLevel(true)
	if resp, b := do(t, "GET", quick.URL+"/v1/orders/o-e", "dk_unknown", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown key, the control replica level with its stream: %d %s, want 401", resp.StatusCode, b)
	}
}

// followingDir is a laggingDir whose replica of west is a followingReplica.
type followingDir struct {
	*laggingDir
	west  *followingReplica
	level bool // west's replica has read its whole stream (guarded by fakeDir.mu)
}

func (d *followingDir) Level(_ context.Context, region string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return region != "west" || d.level, nil
}

func (d *followingDir) setLevel(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.level = v
}

func (d *followingDir) Local(region string) (Replica, bool) {
	if region == "west" {
		return d.west, false
	}
	return d.laggingDir.Local(region)
}

// levelDir is a node's directory whose replicas are caught up, each level with its stream or not.
type levelDir struct {
	*fakeDir
	level map[string]bool // region → has read its whole stream (guarded by fakeDir.mu)
}

func (d *levelDir) Level(_ context.Context, region string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.level[region], nil
}

func (d *levelDir) setLevel(region string, v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.level[region] = v
}

// An id that no replica here has after Patience is "not found" only once every replica here has read its whole
// stream: while one is behind (a standby more than Patience behind its owner), the id may be in what it has not
// read, so the lookup is 503 naming that region, and the client retries.
func TestRouterNotFoundOnlyWhenLevel(t *testing.T) {
	a, _, _, _ := twoNodes(t)
	dir := &levelDir{fakeDir: a, level: map[string]bool{"west": true, "east": false}}
	srv := httptest.NewServer(NewRouter(dir, RouterConfig{Self: "a", Patience: 50 * time.Millisecond}))
	t.Cleanup(srv.Close)

	for _, path := range []string{"/v1/orders/o-nowhere", "/v1/stores/s-nowhere", "/v1/couriers/c-nowhere"} {
		resp, b := do(t, "GET", srv.URL+path, "", "")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Dispatchd-Region") != "east" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s, east behind its stream here: %d %s (region %q), want 503 naming east", path, resp.StatusCode, b, resp.Header.Get("Dispatchd-Region"))
		}
	}
	// A courier's token that no replica here lists yet is the same: it may be in what east has not read.
	if resp, b := do(t, "GET", srv.URL+"/v1/courier/route", "dc_unknown", ""); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Dispatchd-Region") != "east" {
		t.Errorf("an unknown courier's token, east behind its stream here: %d %s, want 503 naming east", resp.StatusCode, b)
	}
	// What is found is served whatever the level.
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-w", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("an order of west with east behind: %d %s, want it served", resp.StatusCode, b)
	}
	dir.setLevel("east", true)
	if resp, b := do(t, "GET", srv.URL+"/v1/orders/o-nowhere", "", ""); resp.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("an unknown order with every replica level: %d %s, want the control region's answer, not 503", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", srv.URL+"/v1/courier/route", "dc_unknown", ""); resp.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("an unknown courier's token with every replica level: %d %s, want the control region's answer, not 503", resp.StatusCode, b)
	}
}

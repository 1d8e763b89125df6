package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// planServer serves the fixture's daemon with straight-line travel for plans.
func planServer(t *testing.T, f *fixture, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.AdminToken = adminToken
	if cfg.Travel == nil {
		cfg.Travel = geo.NewStraightLine(geo.Geographic)
	}
	api := New(f.d, cfg)
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return api, srv
}

func postPlan(t *testing.T, srv *httptest.Server, token, body string) (*http.Response, []byte) {
	t.Helper()
	return request(t, srv, "POST", "/v1/plans", token, body)
}

var planStart = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

// planRequest is a plan of n shipments from stores near the fixture's to drop-offs around them, each delivered
// within an hour of its pickup window's opening, for two bikes of capacity 3; extra is added to the body's object.
func planRequest(n int, extra string) string {
	var ships []string
	for i := range n {
		open := planStart.Add(time.Duration(i%3) * 20 * time.Minute)
		ships = append(ships, fmt.Sprintf(`{"id":"sh%d","amount":[1],
			"pickup":{"location":{"lat":%.4f,"lon":121.4737},"service_s":60,"earliest":%q,"latest":%q},
			"delivery":{"location":{"lat":31.24,"lon":%.4f},"service_s":30,"latest":%q}}`,
			i, 31.2304+0.002*float64(i%2), open.Format(time.RFC3339), open.Add(15*time.Minute).Format(time.RFC3339),
			121.46+0.004*float64(i), open.Add(time.Hour).Format(time.RFC3339)))
	}
	return fmt.Sprintf(`{"start":%q,"seed":7,%s
		"vehicles":[{"id":"v1","profile":"bike","start":{"lat":31.23,"lon":121.47},"capacity":[3]},
			{"id":"v2","profile":"bike","start":{"lat":31.235,"lon":121.475},"end":{"lat":31.23,"lon":121.47},
			"shift_end":%q,"capacity":[3]}],
		"shipments":[%s]}`, planStart.Format(time.RFC3339), extra, planStart.Add(4*time.Hour).Format(time.RFC3339), strings.Join(ships, ","))
}

type testPlan struct {
	Start  time.Time
	Routes []struct {
		Vehicle   string
		DurationS float64 `json:"duration_s"`
		DistanceM float64 `json:"distance_m"`
		Stops     []struct {
			Kind, Shipment         string
			Location               service.Location
			Arrival, Start, Depart time.Time
			Load                   []int64
		}
	}
	Unassigned []struct{ Shipment, Reason string }
	Vehicles   int
	Cost       float64
	DistanceM  float64 `json:"distance_m"`
}

// TestPlanServesEveryShipment plans eight shipments with a count of iterations: every one is served once, picked
// up before it is delivered by the same vehicle, each stop's service starts within its window and no earlier than
// the vehicle can get there from the stop before, and the same request gives the same answer.
func TestPlanServesEveryShipment(t *testing.T) {
	f := newFixture(t)
	_, srv := planServer(t, f, Config{})
	body := planRequest(8, `"iterations":300,"time_limit_ms":10000,`)
	resp, b := postPlan(t, srv, f.key, body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var p testPlan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Unassigned) != 0 || p.Vehicles != len(p.Routes) || len(p.Routes) == 0 {
		t.Fatalf("unassigned %v, %d vehicles, %d routes", p.Unassigned, p.Vehicles, len(p.Routes))
	}
	var req planBody
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	tasks := map[string]*planTask{}
	for _, s := range req.Shipments {
		tasks[s.ID+"/pickup"], tasks[s.ID+"/delivery"] = s.Pickup, s.Delivery
	}
	model := geo.NewStraightLine(geo.Geographic)
	const slack = time.Millisecond // the answer's times are rounded to the millisecond
	seen := map[string]string{}
	var cost float64
	for _, rt := range p.Routes {
		for i, st := range rt.Stops {
			if i == 0 {
				continue
			}
			prev := rt.Stops[i-1]
			travel := model.TravelTime(prev.Location.Point(), st.Location.Point(), geo.Bike)
			cost += travel.Seconds()
			if d := st.Arrival.Sub(prev.Depart.Add(travel)); d < -slack || d > slack {
				t.Fatalf("%s stop %d arrives %s, %s after leaving the stop before (travel %s)", rt.Vehicle, i, st.Arrival, st.Arrival.Sub(prev.Depart), travel)
			}
			if st.Start.Before(st.Arrival.Add(-slack)) || st.Depart.Before(st.Start) {
				t.Fatalf("%s stop %d: arrival %s start %s depart %s", rt.Vehicle, i, st.Arrival, st.Start, st.Depart)
			}
			if st.Kind == "end" {
				continue
			}
			task := tasks[st.Shipment+"/"+st.Kind]
			if task == nil {
				t.Fatalf("%s stop %d is %s of unknown shipment %q", rt.Vehicle, i, st.Kind, st.Shipment)
			}
			if st.Location != (service.Location{Lat: *task.Location.Lat, Lon: *task.Location.Lon}) {
				t.Fatalf("%s stop %d at %v, the %s of %s is at %v,%v", rt.Vehicle, i, st.Location, st.Kind, st.Shipment, *task.Location.Lat, *task.Location.Lon)
			}
			earliest, latest := p.Start, mustTime(t, task.Latest)
			if task.Earliest != nil {
				earliest = mustTime(t, task.Earliest)
			}
			if st.Start.Before(earliest.Add(-slack)) || st.Start.After(latest.Add(slack)) {
				t.Fatalf("%s stop %d (%s of %s) starts %s, outside [%s, %s]", rt.Vehicle, i, st.Kind, st.Shipment, st.Start, earliest, latest)
			}
			switch key := st.Shipment; st.Kind {
			case "pickup":
				if seen[key] != "" {
					t.Fatalf("%s picked up twice", key)
				}
				seen[key] = rt.Vehicle
			case "delivery":
				if seen[key] != rt.Vehicle {
					t.Fatalf("%s delivered by %s, picked up by %q", key, rt.Vehicle, seen[key])
				}
				seen[key] = "done"
			}
		}
	}
	for _, s := range req.Shipments {
		if seen[s.ID] != "done" {
			t.Fatalf("%s is not served: %q", s.ID, seen[s.ID])
		}
	}
	if d := p.Cost - cost; d < -1 || d > 1 {
		t.Fatalf("cost %.1f s, the routes' travel sums to %.1f s", p.Cost, cost)
	}
	if p.DistanceM <= 0 {
		t.Fatalf("distance %v", p.DistanceM)
	}
	if _, again := postPlan(t, srv, f.key, body); !bytes.Equal(again, b) {
		t.Fatalf("the same request with iterations gave another plan:\n%s\n%s", b, again)
	}
}

func mustTime(t *testing.T, s *string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestPlanUnassignedReason: a shipment that needs a skill no vehicle has comes back unassigned with the reason.
func TestPlanUnassignedReason(t *testing.T) {
	f := newFixture(t)
	_, srv := planServer(t, f, Config{})
	body := strings.Replace(planRequest(3, `"iterations":50,`), `{"id":"sh1",`, `{"id":"sh1","skills":["frozen"],`, 1)
	resp, b := postPlan(t, srv, f.key, body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var p testPlan
	json.Unmarshal(b, &p)
	if len(p.Unassigned) != 1 || p.Unassigned[0].Shipment != "sh1" || p.Unassigned[0].Reason != "skills" {
		t.Fatalf("unassigned %+v, want sh1 for skills", p.Unassigned)
	}
}

// liveState is what the daemon holds that a plan must not change: every order with its status and courier.
func liveState(t *testing.T, f *fixture) []string {
	t.Helper()
	var page struct {
		Orders []struct{ ID, Status, CourierID string } `json:"orders"`
	}
	if err := json.Unmarshal(f.expect(200, "GET", "/v1/orders?limit=100", adminToken, ""), &page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range page.Orders {
		out = append(out, o.ID+" "+o.Status+" "+o.CourierID)
	}
	var rt struct {
		Version uint64
		Stops   []struct {
			Kind    string
			OrderID string `json:"order_id"`
		}
	}
	json.Unmarshal(f.expect(200, "GET", "/v1/courier/route", f.riders["a"], ""), &rt)
	out = append(out, fmt.Sprintf("route of a: version %d", rt.Version))
	for _, s := range rt.Stops {
		out = append(out, "a: "+s.Kind+" "+s.OrderID)
	}
	return out
}

// TestPlanLeavesLiveStateAlone: a plan whose vehicles are named like the daemon's couriers and that is made while
// the daemon runs changes no order and no courier's route, even after a dispatch round.
func TestPlanLeavesLiveStateAlone(t *testing.T) {
	f := newFixture(t)
	_, srv := planServer(t, f, Config{})
	before := liveState(t, f)
	body := strings.ReplaceAll(strings.ReplaceAll(planRequest(4, `"iterations":50,`), `"id":"v1"`, `"id":"a"`), `"id":"v2"`, `"id":"b"`)
	if resp, b := postPlan(t, srv, f.key, body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if err := f.d.DispatchNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := liveState(t, f); !slices.Equal(before, after) {
		t.Fatalf("live state changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestPlanRefusals: every bad request is a 400 naming the field.
func TestPlanRefusals(t *testing.T) {
	f := newFixture(t)
	_, srv := planServer(t, f, Config{})
	ok := planRequest(2, "")
	many := func(n int, field, item string) string {
		list := make([]string, n)
		for i := range list {
			list[i] = strings.ReplaceAll(item, "#", fmt.Sprint(i))
		}
		return fmt.Sprintf(`{"start":%q,%q:[%s]}`, planStart.Format(time.RFC3339), field, strings.Join(list, ","))
	}
	vehicle := `{"id":"v#","profile":"bike","start":{"lat":31.23,"lon":121.47}}`
	ship := `{"id":"s#","pickup":{"location":{"lat":31.23,"lon":121.47}},"delivery":{"location":{"lat":31.24,"lon":121.48}}}`
	for _, tc := range []struct{ name, body, field string }{
		{"StartMissing", `{"vehicles":[` + strings.ReplaceAll(vehicle, "#", "0") + `]}`, "start"},
		{"TimeLimitZero", planRequest(2, `"time_limit_ms":0,`), "time_limit_ms"},
		{"TimeLimitTooLong", planRequest(2, `"time_limit_ms":10001,`), "time_limit_ms"},
		{"NegativeIterations", planRequest(2, `"iterations":-1,`), "iterations"},
		{"NoVehicles", fmt.Sprintf(`{"start":%q,"vehicles":[]}`, planStart.Format(time.RFC3339)), "vehicles"},
		{"TooManyVehicles", many(maxPlanVehicles+1, "vehicles", vehicle), "vehicles"},
		{"TooManyShipments", strings.Replace(many(maxPlanShipments+1, "shipments", ship), `{"start"`,
			`{"vehicles":[`+strings.ReplaceAll(vehicle, "#", "0")+`],"start"`, 1), "shipments"},
		{"UnknownProfile", strings.Replace(ok, `"profile":"bike"`, `"profile":"boat"`, 1), "vehicles[0].profile"},
		{"TwoProfiles", strings.Replace(ok, `"id":"v2","profile":"bike"`, `"id":"v2","profile":"car"`, 1), "vehicles[1].profile"},
		{"DuplicateVehicle", strings.Replace(ok, `"id":"v2"`, `"id":"v1"`, 1), "vehicles[1].id"},
		{"MissingLat", strings.Replace(ok, `"delivery":{"location":{"lat":31.24,`, `"delivery":{"location":{`, 1), "shipments[0].delivery.location.lat"},
		{"LatOutOfRange", strings.Replace(ok, `"start":{"lat":31.23`, `"start":{"lat":91`, 1), "vehicles[0].start"},
		{"BeforeStart", strings.Replace(ok, `"earliest":"2026-12-07T08:00:00Z"`, `"earliest":"2026-12-07T07:00:00Z"`, 1), "shipments[0].pickup.earliest"},
		{"NotATime", strings.Replace(ok, `"earliest":"2026-12-07T08:00:00Z"`, `"earliest":"8 o'clock"`, 1), "shipments[0].pickup.earliest"},
		{"NegativeService", strings.Replace(ok, `"service_s":60`, `"service_s":-1`, 1), "shipments[0].pickup.service_s"},
		{"AmountDimensions", strings.Replace(ok, `"amount":[1]`, `"amount":[1,2]`, 1), "shipments[0].amount"},
		{"NegativePriority", strings.Replace(ok, `"amount":[1]`, `"amount":[1],"priority":-2`, 1), "shipments[0].priority"},
		{"NoPickup", strings.Replace(ok, `"pickup":`, `"pick_up":`, 1), "shipments[0].pick_up"},
		{"UnknownField", strings.Replace(ok, `"seed":7`, `"seed":7,"workers":4`, 1), "workers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := postPlan(t, srv, f.key, tc.body)
			var e errorBody
			json.Unmarshal(b, &e)
			if resp.StatusCode != 400 || e.Error.Field != tc.field {
				t.Fatalf("%d %s, want 400 naming %s", resp.StatusCode, b, tc.field)
			}
		})
	}
}

// TestPlanBusyAndUnavailable: past the plans allowed at once the call answers 503 with Retry-After; without a
// travel model, 503; a request whose client is gone gets no plan.
func TestPlanBusyAndUnavailable(t *testing.T) {
	f := newFixture(t)
	api, srv := planServer(t, f, Config{MaxPlans: 1})
	api.planSlots <- struct{}{} // a plan in progress
	resp, b := postPlan(t, srv, f.key, planRequest(2, `"iterations":10,`))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("busy: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	<-api.planSlots
	if resp, b := postPlan(t, srv, f.key, planRequest(2, `"iterations":10,`)); resp.StatusCode != 200 {
		t.Fatalf("after the plan ended: %d %s", resp.StatusCode, b)
	}

	bare := httptest.NewServer(New(f.d, Config{AdminToken: adminToken}).Handler())
	defer bare.Close()
	if resp, b := postPlan(t, bare, f.key, planRequest(2, "")); resp.StatusCode != 503 {
		t.Fatalf("no travel model: %d %s", resp.StatusCode, b)
	}

	// The client is gone before the search starts: the search stops at once (no iterations bound it, the time
	// limit is the largest) and the answer is not a plan.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/plans", strings.NewReader(planRequest(4, `"time_limit_ms":10000,`)))
	req.Header.Set("Authorization", "Bearer "+f.key)
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, req)
	if rec.Code == 200 {
		t.Fatalf("a cancelled request got a plan: %s", rec.Body)
	}
}

// TestPlanUsesTheTravelModel: the plan's times are the configured model's for the vehicles' profile.
func TestPlanUsesTheTravelModel(t *testing.T) {
	f := newFixture(t)
	model := &countingModel{}
	_, srv := planServer(t, f, Config{Travel: model})
	resp, b := postPlan(t, srv, f.key, strings.ReplaceAll(planRequest(2, `"iterations":20,`), `"bike"`, `"foot"`))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var p testPlan
	json.Unmarshal(b, &p)
	if asked := geo.Profile(model.asked.Load()); asked != geo.Foot {
		t.Fatalf("the model was asked for %s, want foot", asked)
	}
	if len(p.Routes) == 0 || len(p.Unassigned) != 0 {
		t.Fatalf("%s", b)
	}
	for _, rt := range p.Routes {
		for i := 1; i < len(rt.Stops); i++ {
			if leg := rt.Stops[i].Arrival.Sub(rt.Stops[i-1].Depart); leg != 10*time.Second {
				t.Fatalf("%s: leg %d takes %s, the model says 10s", rt.Vehicle, i, leg)
			}
		}
	}
}

// countingModel makes every trip 10 s and remembers the profile asked.
type countingModel struct{ asked atomic.Int32 }

func (m *countingModel) TravelTime(_, _ orb.Point, p geo.Profile) time.Duration {
	m.asked.Store(int32(p))
	return 10 * time.Second
}

// FuzzPlanBody: the body of POST /v1/plans through the decoder and the checks. A refusal is a 400 (or 413) error
// of the API; an accepted body plans (a short search) with every shipment either on exactly one route or
// unassigned, never a panic.
func FuzzPlanBody(f *testing.F) {
	f.Add(planRequest(2, `"iterations":5,`))
	f.Add(planRequest(0, ""))
	f.Add(strings.Replace(planRequest(1, ""), `"capacity":[3]`, `"capacity":[3],"break":{"earliest":"2026-12-07T09:00:00Z","latest":"2026-12-07T09:30:00Z","duration_s":600}`, 1))
	f.Add(`{"start":"2026-12-07T08:00:00Z","vehicles":[{"id":"v","profile":"car","start":{"lat":1,"lon":2}}],"shipments":[null]}`)
	s := New(nil, Config{AdminToken: adminToken, Travel: geo.NewStraightLine(geo.Geographic)})
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/plans", strings.NewReader(body))
		var b planBody
		err := decodeUpTo(httptest.NewRecorder(), r, &b, false, maxPlanBody)
		var in *planInput
		if err == nil {
			in, err = s.compilePlan(&b)
		}
		if err != nil {
			var e *dispatch.Error
			if !errors.As(err, &e) || (e.Code != dispatch.EInvalid && e.Code != dispatch.ETooLarge) {
				t.Fatalf("%q: refused with %v, not a 400 of the API", body, err)
			}
			return
		}
		in.req.Matrix = planner.ModelMatrix(s.cfg.Travel, in.places, in.profile)
		plan, err := planner.Solve(context.Background(), &in.req, planner.Options{Iterations: 10})
		if err != nil {
			t.Fatalf("%q passed the checks but the planner refused it: %v", body, err)
		}
		v := in.view(plan)
		seen := map[string]int{}
		for _, rt := range v.Routes {
			for _, st := range rt.Stops {
				if st.Kind == planner.StopPickup {
					seen[st.Shipment]++
				}
			}
		}
		for _, u := range v.Unassigned {
			seen[u.Shipment]++
		}
		for _, sh := range b.Shipments {
			if seen[sh.ID] != 1 {
				t.Fatalf("%q: shipment %s is placed %d times", body, sh.ID, seen[sh.ID])
			}
		}
	})
}

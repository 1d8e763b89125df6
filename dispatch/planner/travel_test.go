package planner_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// countingBatch is a batch model that counts how it is asked.
type countingBatch struct {
	*geo.StraightLine
	batches int
}

func (m *countingBatch) Batch(_, _ []orb.Point, _ []geo.Profile) geo.TravelModel {
	m.batches++
	return m.StraightLine
}

// TestModelMatrix plans on the engine's straight-line model of a city (lon/lat, seconds by bike) and checks the
// matrix is the model's, asked once as a batch when the model offers it.
func TestModelMatrix(t *testing.T) {
	pts := []orb.Point{{13.40, 52.52}, {13.41, 52.52}, {13.42, 52.53}, {13.39, 52.51}, {13.43, 52.50}}
	sl := geo.NewStraightLine(geo.Geographic)
	m := &countingBatch{StraightLine: sl}
	mx := planner.ModelMatrix(m, pts, geo.Bike)
	if m.batches != 1 {
		t.Fatalf("the batch model was asked %d times, want once", m.batches)
	}
	if got, want := mx.Durations[1*5+2], sl.TravelTime(pts[1], pts[2], geo.Bike).Seconds(); math.Abs(got-want) > 1e-9 || got <= 0 {
		t.Fatalf("duration 1→2 is %v, the model says %v", got, want)
	}
	r := &planner.Request{Matrix: mx,
		Vehicles: []planner.Vehicle{{ID: "bike", ShiftEnd: 7200, Capacity: []int64{2}}},
		Shipments: []planner.Shipment{
			{ID: "a", Pickup: planner.Task{Place: 1, Service: 60}, Delivery: planner.Task{Place: 2, Service: 60, Latest: 3600}, Amount: []int64{1}},
			{ID: "b", Pickup: planner.Task{Place: 3, Service: 60}, Delivery: planner.Task{Place: 4, Service: 60, Latest: 6000}, Amount: []int64{1}},
		}}
	p := solve(t, r, planner.Options{Iterations: 200})
	checkPlan(t, r, p)
	if len(p.Unassigned) != 0 || p.Vehicles != 1 {
		t.Fatalf("want both shipments on the bike, got %+v", p)
	}
}

// TestRequestJSON decodes a request as an HTTP layer would and plans it within a time limit on an injected clock.
func TestRequestJSON(t *testing.T) {
	const body = `{
	  "vehicles": [{"id": "van", "start": 0, "end": 0, "shift_end": 100, "capacity": [4, 2], "skills": ["cold"],
	                "break": {"earliest": 10, "latest": 60, "duration": 5}}],
	  "shipments": [{"id": "s1", "pickup": {"place": 1, "service": 1}, "delivery": {"place": 2, "latest": 50},
	                 "amount": [1, 1], "skills": ["cold"], "priority": 1}],
	  "matrix": {"n": 3, "durations": [0, 5, 9, 5, 0, 4, 9, 4, 0]}
	}`
	var r planner.Request
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	// A clock that moves a millisecond per reading: the limit ends the search without the test waiting.
	now := time.Unix(0, 0)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	p, err := planner.Solve(context.Background(), &r, planner.Options{TimeLimit: 50 * time.Millisecond, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, &r, p)
	if len(p.Routes) != 1 || p.Routes[0].Break == nil {
		t.Fatalf("want one route with its break placed, got %+v", p)
	}
	if _, err := json.Marshal(p); err != nil {
		t.Fatal(err)
	}
}

// TestCancel stops a search by its context: Solve still answers with a valid plan.
func TestCancel(t *testing.T) {
	r := randomRequest(3, genOpts{ships: 30, vehicles: 5, dims: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p2, err := planner.Solve(ctx, r, planner.Options{Iterations: 1 << 30, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, r, p2)
}

// FuzzSolveJSON plans made-up requests: Solve never panics, refuses bad input with a *FieldError, and every plan it
// returns passes checkPlan.
func FuzzSolveJSON(f *testing.F) {
	f.Add(`{"vehicles":[{"capacity":[3],"shift_end":50}],"shipments":[{"pickup":{"place":1},"delivery":{"place":2,"latest":20},"amount":[1]}],"matrix":{"n":3,"durations":[0,1,2,1,0,1,2,1,0]}}`)
	f.Add(`{"vehicles":[{"capacity":[]}],"shipments":[],"matrix":{"n":1,"durations":[0]}}`)
	f.Add(`{"vehicles":[{"capacity":[1],"break":{"earliest":1,"latest":2,"duration":3}}],"shipments":[{"pickup":{"place":0},"delivery":{"place":0},"amount":[1],"skills":["x"]}],"matrix":{"n":1,"durations":[0]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r planner.Request
		if json.Unmarshal([]byte(body), &r) != nil || len(r.Shipments) > 20 || len(r.Vehicles) > 10 || (r.Matrix != nil && r.Matrix.N > 30) {
			return
		}
		p, err := planner.Solve(context.Background(), &r, planner.Options{Iterations: 20})
		if err != nil {
			var fe *planner.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			return
		}
		checkPlan(t, &r, p)
	})
}

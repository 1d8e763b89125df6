package planner_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
)

// genOpts shapes a random request.
type genOpts struct {
	ships, vehicles int
	dims            int
	skills, breaks  bool
	tight           bool // narrow windows, so that some shipments cannot be served
}

// randomRequest builds a request on a 100 × 100 plane with Euclidean travel.
func randomRequest(seed uint64, g genOpts) *planner.Request {
	rng := rand.New(rand.NewPCG(seed, 99))
	n := 2 + 2*g.ships
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{rng.Float64() * 100, rng.Float64() * 100}
	}
	r := &planner.Request{Matrix: planner.EuclideanMatrix(pts)}
	horizon := 600.0
	skills := []string{"cold", "heavy"}
	for v := range g.vehicles {
		veh := planner.Vehicle{ID: fmt.Sprintf("v%d", v), Start: rng.IntN(2), End: rng.IntN(2),
			ShiftStart: float64(rng.IntN(50)), ShiftEnd: horizon - float64(rng.IntN(100))}
		for range g.dims {
			veh.Capacity = append(veh.Capacity, int64(5+rng.IntN(10)))
		}
		if g.skills && rng.IntN(2) == 0 {
			veh.Skills = []string{skills[rng.IntN(2)]}
		}
		if g.breaks && rng.IntN(2) == 0 {
			e := 150 + float64(rng.IntN(150))
			veh.Break = &planner.Break{Earliest: e, Latest: e + 60, Duration: 30}
		}
		r.Vehicles = append(r.Vehicles, veh)
	}
	for s := range g.ships {
		width := 150.0
		if g.tight {
			width = 20
		}
		e := float64(rng.IntN(350))
		sh := planner.Shipment{ID: fmt.Sprintf("s%d", s),
			Pickup:   planner.Task{Place: 2 + 2*s, Service: 5, Earliest: e, Latest: e + width},
			Delivery: planner.Task{Place: 3 + 2*s, Service: 5, Earliest: e + 20, Latest: e + 20 + 2*width},
			Priority: rng.IntN(3)}
		for range g.dims {
			sh.Amount = append(sh.Amount, int64(1+rng.IntN(6)))
		}
		if g.skills && rng.IntN(4) == 0 {
			sh.Skills = []string{skills[rng.IntN(2)]}
		}
		r.Shipments = append(r.Shipments, sh)
	}
	return r
}

// checkPlan re-simulates every route from the request alone and fails on any broken rule: every shipment once
// (on a route or left out), pickup before delivery on one route, skills, capacity in every dimension, windows,
// shift, break, and the times and cost the plan states.
func checkPlan(t *testing.T, r *planner.Request, p *planner.Plan) {
	t.Helper()
	dur := func(a, b int) float64 { return r.Matrix.Durations[a*r.Matrix.N+b] }
	cost := func(a, b int) float64 {
		if r.Matrix.Distances != nil {
			return r.Matrix.Distances[a*r.Matrix.N+b]
		}
		return dur(a, b)
	}
	const tol = 1e-6
	seen := make([]int, len(r.Shipments)) // 1 picked, 2 delivered, 3 unassigned
	total := 0.0
	for _, rt := range p.Routes {
		v := r.Vehicles[rt.VehicleIndex]
		stops := rt.Stops
		if len(stops) < 4 || stops[0].Kind != planner.StopStart || stops[len(stops)-1].Kind != planner.StopEnd {
			t.Fatalf("vehicle %s: a route has a start, stops and an end: %+v", v.ID, stops)
		}
		if stops[0].Place != v.Start || stops[len(stops)-1].Place != v.End {
			t.Fatalf("vehicle %s: route does not run from its start to its end", v.ID)
		}
		load := make([]int64, len(v.Capacity))
		time := v.ShiftStart
		brk := v.Break != nil
		routeCost := 0.0
		onRoute := map[int]bool{}
		for i, st := range stops[1:] {
			prev := stops[i]
			if brk && rt.Break != nil && rt.Break.After == i {
				bs := math.Max(time, v.Break.Earliest)
				if bs > v.Break.Latest+tol || math.Abs(bs-rt.Break.Start) > tol {
					t.Fatalf("vehicle %s: break at %.3f, window [%v, %v], plan says %.3f", v.ID, bs, v.Break.Earliest, v.Break.Latest, rt.Break.Start)
				}
				time = bs + v.Break.Duration
				brk = false
			}
			arrive := time + dur(prev.Place, st.Place)
			routeCost += cost(prev.Place, st.Place)
			start := arrive
			if st.Kind == planner.StopEnd {
				if v.ShiftEnd != 0 && arrive > v.ShiftEnd+tol {
					t.Fatalf("vehicle %s: back at %.3f after its shift ends at %v", v.ID, arrive, v.ShiftEnd)
				}
			} else {
				s := st.ShipmentIndex
				sh := r.Shipments[s]
				task := sh.Pickup
				if st.Kind == planner.StopDelivery {
					task = sh.Delivery
				}
				if st.Place != task.Place {
					t.Fatalf("shipment %s: stop at place %d, want %d", sh.ID, st.Place, task.Place)
				}
				start = math.Max(arrive, task.Earliest)
				if task.Latest != 0 && start > task.Latest+tol {
					t.Fatalf("shipment %s %s: service starts at %.3f after %v", sh.ID, st.Kind, start, task.Latest)
				}
				for _, need := range sh.Skills {
					found := false
					for _, has := range v.Skills {
						found = found || has == need
					}
					if !found {
						t.Fatalf("shipment %s needs skill %s that vehicle %s lacks", sh.ID, need, v.ID)
					}
				}
				switch st.Kind {
				case planner.StopPickup:
					if seen[s] != 0 {
						t.Fatalf("shipment %s picked up twice", sh.ID)
					}
					seen[s], onRoute[s] = 1, true
					for d := range load {
						load[d] += sh.Amount[d]
					}
				case planner.StopDelivery:
					if seen[s] != 1 || !onRoute[s] {
						t.Fatalf("shipment %s delivered without its pickup before on this route", sh.ID)
					}
					seen[s] = 2
					for d := range load {
						load[d] -= sh.Amount[d]
					}
				}
				time = start + task.Service
			}
			for d := range load {
				if load[d] > v.Capacity[d] {
					t.Fatalf("vehicle %s: load %v above capacity %v", v.ID, load, v.Capacity)
				}
			}
			if math.Abs(st.Arrival-arrive) > tol || math.Abs(st.Start-start) > tol {
				t.Fatalf("vehicle %s stop %d: plan says arrival %.4f start %.4f, re-simulated %.4f %.4f", v.ID, i+1, st.Arrival, st.Start, arrive, start)
			}
		}
		if brk {
			t.Fatalf("vehicle %s: has a break the plan does not place", v.ID)
		}
		if v.Break == nil && rt.Break != nil {
			t.Fatalf("vehicle %s: a break placed for a vehicle without one", v.ID)
		}
		if math.Abs(routeCost-rt.Cost) > 1e-6 {
			t.Fatalf("vehicle %s: route cost %.6f, re-computed %.6f", v.ID, rt.Cost, routeCost)
		}
		total += routeCost
	}
	for _, u := range p.Unassigned {
		if seen[u.ShipmentIndex] != 0 {
			t.Fatalf("shipment %s is both on a route and left out", u.Shipment)
		}
		seen[u.ShipmentIndex] = 3
	}
	for s, k := range seen {
		if k != 2 && k != 3 {
			t.Fatalf("shipment %d is neither delivered nor left out (state %d)", s, k)
		}
	}
	if p.Vehicles != len(p.Routes) || math.Abs(total-p.Cost) > 1e-6 {
		t.Fatalf("plan totals: %d vehicles, cost %.6f; routes give %d and %.6f", p.Vehicles, p.Cost, len(p.Routes), total)
	}
}

func solve(t *testing.T, r *planner.Request, o planner.Options) *planner.Plan {
	t.Helper()
	p, err := planner.Solve(context.Background(), r, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFeasibleProperty solves random requests of every kind and checks each plan from the request alone.
func TestFeasibleProperty(t *testing.T) {
	kinds := []genOpts{
		{ships: 12, vehicles: 4, dims: 1},
		{ships: 20, vehicles: 3, dims: 2, skills: true},
		{ships: 15, vehicles: 5, dims: 1, breaks: true},
		{ships: 25, vehicles: 2, dims: 3, skills: true, breaks: true, tight: true},
		{ships: 0, vehicles: 1, dims: 1},
	}
	for k, g := range kinds {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("kind%d/seed%d", k, seed), func(t *testing.T) {
				r := randomRequest(seed, g)
				p := solve(t, r, planner.Options{Seed: seed, Iterations: 300, Workers: 2})
				checkPlan(t, r, p)
				for _, u := range p.Unassigned {
					if u.Reason == "" {
						t.Fatalf("shipment %s left out without a reason", u.Shipment)
					}
				}
			})
		}
	}
}

func TestDeterministicPerSeed(t *testing.T) {
	r := randomRequest(7, genOpts{ships: 30, vehicles: 6, dims: 2, skills: true, breaks: true})
	o := planner.Options{Seed: 3, Iterations: 500, Workers: 2}
	a, b := solve(t, r, o), solve(t, r, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different plans:\n%+v\n%+v", a, b)
	}
}

// TestReasons builds shipments that no vehicle can serve, one per reason, and one for which the fleet is too small.
func TestReasons(t *testing.T) {
	pts := []orb.Point{{0, 0}, {10, 0}, {20, 0}, {1000, 0}}
	r := &planner.Request{Matrix: planner.EuclideanMatrix(pts),
		Vehicles: []planner.Vehicle{{ID: "v", ShiftEnd: 100, Capacity: []int64{5}}}}
	ship := func(id string, from, to int, amount int64, skills ...string) planner.Shipment {
		return planner.Shipment{ID: id, Pickup: planner.Task{Place: from}, Delivery: planner.Task{Place: to},
			Amount: []int64{amount}, Skills: skills}
	}
	r.Shipments = []planner.Shipment{
		ship("skills", 1, 2, 1, "fridge"),
		ship("capacity", 1, 2, 6),
		ship("far", 1, 3, 1),
		ship("big1", 1, 2, 5),
		ship("big2", 1, 2, 5),
	}
	r.Shipments[3].Delivery.Latest, r.Shipments[4].Delivery.Latest = 30, 30
	p := solve(t, r, planner.Options{Iterations: 200})
	checkPlan(t, r, p)
	got := map[string]planner.Reason{}
	for _, u := range p.Unassigned {
		got[u.Shipment] = u.Reason
	}
	want := map[string]planner.Reason{"skills": planner.ReasonSkills, "capacity": planner.ReasonCapacity,
		"far": planner.ReasonTime}
	for id, reason := range want {
		if got[id] != reason {
			t.Errorf("shipment %s: reason %q, want %q", id, got[id], reason)
		}
	}
	// big1 and big2 each fill the vehicle and must be delivered by 30: the second would arrive at 40, so one is
	// left out for lack of room.
	if len(p.Unassigned) != 4 || (got["big1"] != planner.ReasonFleet && got["big2"] != planner.ReasonFleet) {
		t.Errorf("want one of big1, big2 left out as fleet_full; got %v", got)
	}
}

// TestPriority leaves out the shipment of lower priority when only one of two fits.
func TestPriority(t *testing.T) {
	pts := []orb.Point{{0, 0}, {10, 0}, {20, 0}}
	r := &planner.Request{Matrix: planner.EuclideanMatrix(pts),
		Vehicles: []planner.Vehicle{{ID: "v", ShiftEnd: 100, Capacity: []int64{5}}}}
	for k, prio := range []int{0, 2} {
		r.Shipments = append(r.Shipments, planner.Shipment{ID: fmt.Sprint(k), Priority: prio, Amount: []int64{5},
			Pickup: planner.Task{Place: 1}, Delivery: planner.Task{Place: 2, Latest: 25}})
	}
	for seed := range uint64(4) {
		p := solve(t, r, planner.Options{Seed: seed, Iterations: 100})
		checkPlan(t, r, p)
		if len(p.Unassigned) != 1 || p.Unassigned[0].Shipment != "0" {
			t.Fatalf("seed %d: want shipment 0 (priority 0) left out, got %+v", seed, p.Unassigned)
		}
	}
}

func TestInputErrors(t *testing.T) {
	base := func() *planner.Request { return randomRequest(1, genOpts{ships: 2, vehicles: 1, dims: 1}) }
	cases := []struct {
		field string
		edit  func(r *planner.Request)
	}{
		{"matrix", func(r *planner.Request) { r.Matrix = nil }},
		{"matrix.durations", func(r *planner.Request) { r.Matrix.Durations = r.Matrix.Durations[1:] }},
		{"matrix.durations[5]", func(r *planner.Request) { r.Matrix.Durations[5] = math.NaN() }},
		{"vehicles", func(r *planner.Request) { r.Vehicles = nil }},
		{"vehicles[0].start", func(r *planner.Request) { r.Vehicles[0].Start = 99 }},
		{"vehicles[0].shift_end", func(r *planner.Request) { r.Vehicles[0].ShiftEnd = 1; r.Vehicles[0].ShiftStart = 5 }},
		{"vehicles[0].capacity", func(r *planner.Request) { r.Vehicles[0].Capacity = []int64{-1} }},
		{"vehicles[0].break", func(r *planner.Request) { r.Vehicles[0].Break = &planner.Break{Earliest: 5, Latest: 1} }},
		{"shipments[1].pickup.place", func(r *planner.Request) { r.Shipments[1].Pickup.Place = -1 }},
		{"shipments[0].delivery.latest", func(r *planner.Request) { r.Shipments[0].Delivery.Latest = 1 }},
		{"shipments[1].amount", func(r *planner.Request) { r.Shipments[1].Amount = []int64{1, 2} }},
		{"shipments[0].priority", func(r *planner.Request) { r.Shipments[0].Priority = -1 }},
		{"shipments[1].skills", func(r *planner.Request) {
			for k := range 70 {
				r.Shipments[1].Skills = append(r.Shipments[1].Skills, fmt.Sprint(k))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := base()
			c.edit(r)
			_, err := planner.Solve(context.Background(), r, planner.Options{Iterations: 10})
			var fe *planner.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("want a FieldError on %s, got %v", c.field, err)
			}
		})
	}
	optCases := map[string]planner.Options{
		"options.iterations": {},
		"options.now":        {TimeLimit: 1},
		"options.workers":    {Iterations: 1, Workers: -1},
	}
	for field, o := range optCases {
		_, err := planner.Solve(context.Background(), base(), o)
		var fe *planner.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("options: want a FieldError on %s, got %v", field, err)
		}
	}
}

// optimum enumerates every assignment of shipments to vehicles and every order of each route, and returns the
// fewest vehicles serving all shipments and the least cost with that many.
func optimum(r *planner.Request) (int, float64) {
	P, V := len(r.Shipments), len(r.Vehicles)
	dur := func(a, b int) float64 { return r.Matrix.Durations[a*r.Matrix.N+b] }
	// bestRoute is the cheapest feasible order of the shipments in set on vehicle v (inf if none).
	bestRoute := func(v int, set []int) float64 {
		veh := r.Vehicles[v]
		best := math.Inf(1)
		var rec func(place int, t float64, load int64, picked, done []bool, cost float64, left int)
		rec = func(place int, t float64, load int64, picked, done []bool, cost float64, left int) {
			if left == 0 {
				arr := t + dur(place, veh.End)
				if (veh.ShiftEnd == 0 || arr <= veh.ShiftEnd+1e-9) && cost+dur(place, veh.End) < best {
					best = cost + dur(place, veh.End)
				}
				return
			}
			for _, s := range set {
				sh := r.Shipments[s]
				var task planner.Task
				var dl int64
				switch {
				case !picked[s]:
					task, dl = sh.Pickup, sh.Amount[0]
				case !done[s]:
					task, dl = sh.Delivery, -sh.Amount[0]
				default:
					continue
				}
				st := math.Max(t+dur(place, task.Place), task.Earliest)
				if (task.Latest != 0 && st > task.Latest+1e-9) || load+dl > veh.Capacity[0] {
					continue
				}
				if !picked[s] {
					picked[s] = true
					rec(task.Place, st+task.Service, load+dl, picked, done, cost+dur(place, task.Place), left-1)
					picked[s] = false
				} else {
					done[s] = true
					rec(task.Place, st+task.Service, load+dl, picked, done, cost+dur(place, task.Place), left-1)
					done[s] = false
				}
			}
		}
		rec(veh.Start, veh.ShiftStart, 0, make([]bool, P), make([]bool, P), 0, 2*len(set))
		return best
	}
	bestV, bestC := math.MaxInt, math.Inf(1)
	assign := make([]int, P)
	var rec func(s int)
	rec = func(s int) {
		if s == P {
			sets := make([][]int, V)
			for k, v := range assign {
				sets[v] = append(sets[v], k)
			}
			used, cost := 0, 0.0
			for v, set := range sets {
				if len(set) == 0 {
					continue
				}
				used++
				cost += bestRoute(v, set)
			}
			if used < bestV || (used == bestV && cost < bestC) {
				bestV, bestC = used, cost
			}
			return
		}
		for v := range V {
			assign[s] = v
			rec(s + 1)
		}
	}
	rec(0)
	return bestV, bestC
}

// TestSmallOptimum solves small random requests to the optimum found by enumeration.
func TestSmallOptimum(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := randomRequest(100+seed, genOpts{ships: 4, vehicles: 3, dims: 1})
			for i := range r.Vehicles {
				r.Vehicles[i].Skills, r.Vehicles[i].Break = nil, nil
			}
			wantV, wantC := optimum(r)
			if math.IsInf(wantC, 1) {
				t.Skip("no plan serves every shipment")
			}
			p := solve(t, r, planner.Options{Seed: seed, Iterations: 2000, Workers: 2})
			checkPlan(t, r, p)
			if len(p.Unassigned) != 0 || p.Vehicles != wantV || math.Abs(p.Cost-wantC) > 1e-6 {
				t.Fatalf("got %d vehicles cost %.4f (%d left out), optimum %d vehicles cost %.4f", p.Vehicles, p.Cost, len(p.Unassigned), wantV, wantC)
			}
		})
	}
}

// BenchmarkSolve times one worker's whole search (construction, fleet phase, 2 000 distance iterations) on a random
// request of 50 shipments and 10 vehicles.
func BenchmarkSolve(b *testing.B) {
	r := randomRequest(11, genOpts{ships: 50, vehicles: 10, dims: 1})
	for b.Loop() {
		if _, err := planner.Solve(context.Background(), r, planner.Options{Seed: 1, Iterations: 2000}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMoreWorkersNeverWorse: worker 0 runs the same search whatever the number of workers, so a plan with more
// workers is at least as good as with one.
func TestMoreWorkersNeverWorse(t *testing.T) {
	for seed := range uint64(4) {
		r := randomRequest(200+seed, genOpts{ships: 25, vehicles: 5, dims: 1, tight: true})
		one := solve(t, r, planner.Options{Seed: seed, Iterations: 300, Workers: 1})
		three := solve(t, r, planner.Options{Seed: seed, Iterations: 300, Workers: 3})
		checkPlan(t, r, three)
		key := func(p *planner.Plan) (int, int, float64) {
			w := 0
			for _, u := range p.Unassigned {
				w += 1 + r.Shipments[u.ShipmentIndex].Priority
			}
			return w, p.Vehicles, p.Cost
		}
		w1, v1, c1 := key(one)
		w3, v3, c3 := key(three)
		if w3 > w1 || (w3 == w1 && (v3 > v1 || (v3 == v1 && c3 > c1+1e-9))) {
			t.Fatalf("seed %d: 3 workers (%d left out, %d vehicles, %.3f) worse than 1 (%d, %d, %.3f)", seed, w3, v3, c3, w1, v1, c1)
		}
	}
}

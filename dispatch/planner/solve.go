package planner

import (
	"context"
	"sync"
	"time"
)

// Plan is the planner's answer.
type Plan struct {
	// Routes lists the vehicles used, in the request's vehicle order.
	Routes     []Route      `json:"routes"`
	Unassigned []Unassigned `json:"unassigned"`
	// Vehicles is the number of routes; Cost the total of the matrix's distances (or durations) over them.
	Vehicles int     `json:"vehicles"`
	Cost     float64 `json:"cost"`
}

// Route is one vehicle's plan: its stops from start to end with their times.
type Route struct {
	Vehicle      string  `json:"vehicle"`
	VehicleIndex int     `json:"vehicle_index"`
	Stops        []Stop  `json:"stops"`
	Cost         float64 `json:"cost"`
	// Duration is from leaving the start to arriving at the end, waiting included.
	Duration float64 `json:"duration"`
	// Break is where the vehicle's break goes, nil without one.
	Break *BreakTime `json:"break,omitempty"`
}

// BreakTime places a vehicle's break: it starts at Start, after the stop of index After in the route's Stops.
type BreakTime struct {
	Start float64 `json:"start"`
	After int     `json:"after"`
}

// StopKind says what a stop is.
type StopKind string

// The kinds of stop.
const (
	StopStart    StopKind = "start"
	StopPickup   StopKind = "pickup"
	StopDelivery StopKind = "delivery"
	StopEnd      StopKind = "end"
)

// Stop is a visit: Arrival at the place, service from Start to Depart. Shipment is empty for start and end.
type Stop struct {
	Kind          StopKind `json:"kind"`
	Shipment      string   `json:"shipment,omitempty"`
	ShipmentIndex int      `json:"shipment_index"`
	Place         int      `json:"place"`
	Arrival       float64  `json:"arrival"`
	Start         float64  `json:"start"`
	Depart        float64  `json:"depart"`
	// Load is on board after the stop.
	Load []int64 `json:"load"`
}

// Reason says why a shipment is left out.
type Reason string

// The reasons a shipment is left out.
const (
	// ReasonSkills: no vehicle has every skill the shipment needs.
	ReasonSkills Reason = "skills"
	// ReasonCapacity: the amount is more than any vehicle with the skills carries.
	ReasonCapacity Reason = "capacity"
	// ReasonTime: no vehicle that could carry it reaches both ends within their windows and its shift, even with
	// nothing else to do.
	ReasonTime Reason = "time_windows"
	// ReasonFleet: it could be served alone, but the fleet has no room for it next to the others.
	ReasonFleet Reason = "fleet_full"
)

// Unassigned is a shipment left out and why.
type Unassigned struct {
	Shipment      string `json:"shipment"`
	ShipmentIndex int    `json:"shipment_index"`
	Reason        Reason `json:"reason"`
}

// Solve plans the request: a construction, a fleet-minimisation phase and a distance phase, in Workers independent
// searches (seeds derived from o.Seed) whose best plan wins. The objective is hierarchical: the weight of the
// shipments left out (1 + priority each), then the number of vehicles, then the cost. With Iterations and no time
// limit the plan depends only on the request, Seed and Workers; ctx cancels the search, and Solve then returns the
// best plan found so far. Travel times are assumed to satisfy the triangle inequality (removing a stop never makes
// a route later), as shortest paths and straight lines do.
func Solve(ctx context.Context, r *Request, o Options) (*Plan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	var start time.Time
	if o.TimeLimit > 0 {
		start = o.Now()
	}
	in := compile(r)
	workers := max(o.Workers, 1)
	best := make([]*solution, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() { best[k] = search(ctx, in, o, o.Seed*0x9e3779b97f4a7c15+uint64(k), k%2 == 1, start) })
	}
	wg.Wait()
	win := best[0]
	for _, s := range best[1:] {
		if better(s, win) {
			win = s
		}
	}
	return in.plan(r, win), nil
}

// The fleet phase gets at most this share of the time limit and of the iterations (counted in shipments taken
// from the pool, each worth several distance iterations).
const (
	fleetTimeShare = 0.3
	fleetIterShare = 0.1
	popsPerRemoval = 1000
)

// search is one worker's run. With a time limit, the fleet phase ends by start + fleetTimeShare of it and the
// distance phase by start + the limit, start being when Solve was called.
func search(ctx context.Context, in *instance, o Options, seed uint64, odd bool, start time.Time) *solution {
	w := newWorker(in, seed, odd)
	w.construct()
	var fleetEnd, end time.Time
	if o.TimeLimit > 0 {
		fleetEnd = start.Add(time.Duration(float64(o.TimeLimit) * fleetTimeShare))
		end = start.Add(o.TimeLimit)
	}
	w.fleetMin(newBudget(ctx, int(float64(o.Iterations)*fleetIterShare), o.Now, start, fleetEnd), popsPerRemoval)
	lnsStart := start
	if o.TimeLimit > 0 {
		lnsStart = o.Now()
	}
	w.lns(newBudget(ctx, o.Iterations, o.Now, lnsStart, end))
	return w.best
}

// plan turns a solution into the answer.
func (in *instance) plan(r *Request, sol *solution) *Plan {
	p := &Plan{Vehicles: sol.vehicles, Cost: 0, Routes: []Route{}, Unassigned: []Unassigned{}}
	for v := range sol.routes {
		rt := &sol.routes[v]
		if rt.empty() {
			continue
		}
		out := Route{Vehicle: r.Vehicles[v].ID, VehicleIndex: v, Cost: rt.cost}
		gap := -1
		var brkStart float64
		if b := in.brk[v]; b != nil {
			gap = in.breakGap(rt)
			brkStart = max(rt.st[gap]+in.svc[rt.nodes[gap]], b.Earliest)
		}
		var t float64 // when the vehicle is ready to leave the previous stop
		for i, x := range rt.nodes {
			st := Stop{ShipmentIndex: -1, Place: int(in.loc[x]), Load: append([]int64{}, rt.load[i*in.dims:(i+1)*in.dims]...)}
			switch {
			case i == 0:
				st.Kind = StopStart
				st.Arrival, st.Start = rt.st[0], rt.st[0]
			default:
				prev := rt.nodes[i-1]
				st.Arrival = t + in.t(prev, x)
				st.Start = max(st.Arrival, in.early[x])
				if i == len(rt.nodes)-1 {
					st.Kind = StopEnd
				} else {
					st.ShipmentIndex = int(x / 2)
					st.Shipment = r.Shipments[x/2].ID
					st.Kind = StopPickup
					if x%2 == 1 {
						st.Kind = StopDelivery
					}
				}
			}
			st.Depart = st.Start + in.svc[x]
			t = st.Depart
			if i == gap {
				out.Break = &BreakTime{Start: brkStart, After: i}
				t = brkStart + in.brk[v].Duration
			}
			out.Stops = append(out.Stops, st)
		}
		out.Duration = out.Stops[len(out.Stops)-1].Arrival - out.Stops[0].Depart
		p.Cost += rt.cost
		p.Routes = append(p.Routes, out)
	}
	for _, s := range sol.unassigned {
		p.Unassigned = append(p.Unassigned, Unassigned{Shipment: r.Shipments[s].ID, ShipmentIndex: int(s), Reason: in.reason(int(s))})
	}
	return p
}

// reason tells why shipment s could not be placed.
func (in *instance) reason(s int) Reason {
	skilled, sized := false, false
	for v := range in.nVeh {
		if in.sskill[s]&^in.vskill[v] != 0 {
			continue
		}
		skilled = true
		if !in.canServe(v, s) {
			continue
		}
		sized = true
		r := route{v: v, nodes: []int32{in.startNode(v), in.endNode(v)}}
		in.update(&r)
		if _, ok := in.bestInsert(&r, v, s, inf, nil, &route{}); ok {
			return ReasonFleet
		}
	}
	switch {
	case !skilled:
		return ReasonSkills
	case !sized:
		return ReasonCapacity
	}
	return ReasonTime
}

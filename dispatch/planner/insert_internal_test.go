package planner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// TestBestInsertMatchesEnumeration compares the O(1)-per-position search with building every placement and checking
// the whole route: same feasibility, same cheapest cost.
func TestBestInsertMatchesEnumeration(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		P := 14
		pts := make([]orb.Point, 1+2*P)
		for i := range pts {
			pts[i] = orb.Point{rng.Float64() * 100, rng.Float64() * 100}
		}
		r := &Request{Matrix: EuclideanMatrix(pts)}
		r.Vehicles = []Vehicle{{ShiftEnd: 900, Capacity: []int64{int64(8 + rng.IntN(8))}}}
		if seed%3 == 0 {
			r.Vehicles[0].Break = &Break{Earliest: 200, Latest: 300, Duration: 40}
		}
		for s := range P {
			e := float64(rng.IntN(600))
			w := float64(30 + rng.IntN(200))
			r.Shipments = append(r.Shipments, Shipment{Amount: []int64{int64(1 + rng.IntN(6))},
				Pickup:   Task{Place: 1 + 2*s, Service: 10, Earliest: e, Latest: e + w},
				Delivery: Task{Place: 2 + 2*s, Service: 10, Earliest: e, Latest: e + 2*w}})
		}
		in := compile(r)
		// A route built greedily from the first shipments, then every other shipment tried against it.
		rt := route{v: 0, nodes: []int32{in.startNode(0), in.endNode(0)}}
		in.update(&rt)
		tmp := route{}
		for s := range P / 2 {
			if p, ok := in.bestInsert(&rt, 0, s, inf, nil, &tmp); ok {
				in.apply(&rt, s, p.i, p.j)
				if !in.update(&rt) {
					t.Fatalf("seed %d: a placement found feasible is not", seed)
				}
			}
		}
		for s := P / 2; s < P; s++ {
			want, wantOK := math.Inf(1), false
			n := len(rt.nodes)
			for i := 0; i < n-1; i++ {
				for j := i; j < n-1; j++ {
					tmp.copyFrom(&rt)
					in.apply(&tmp, s, i, j)
					if in.update(&tmp) && tmp.cost-rt.cost < want {
						want, wantOK = tmp.cost-rt.cost, true
					}
				}
			}
			got, ok := in.bestInsert(&rt, 0, s, inf, nil, &tmp)
			if ok != wantOK || (ok && math.Abs(got.delta-want) > 1e-9) {
				t.Fatalf("seed %d shipment %d: bestInsert %v %.6f, enumeration %v %.6f", seed, s, ok, got.delta, wantOK, want)
			}
			if ok {
				tmp.copyFrom(&rt)
				in.apply(&tmp, s, got.i, got.j)
				if !in.update(&tmp) || math.Abs(tmp.cost-rt.cost-got.delta) > 1e-9 {
					t.Fatalf("seed %d shipment %d: the placement returned is not what was priced", seed, s)
				}
			}
		}
	}
}

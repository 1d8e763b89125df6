package planner

import (
	"math"
	"slices"
)

// eps absorbs rounding in time comparisons: a start of service counts as within its window up to eps past it.
const eps = 1e-7

// instance is a request compiled into flat arrays. Nodes 2s and 2s+1 are shipment s's pickup and delivery; node
// 2P+2v and 2P+2v+1 are vehicle v's start and end (P shipments).
type instance struct {
	nShip, nVeh, dims int
	loc               []int32
	early, late, svc  []float64
	// demand[node*dims+d] is the change of load at the node: +amount at a pickup, -amount at a delivery.
	demand []int64
	n      int // matrix size
	dur    []float64
	cost   []float64
	// nodes is the number of nodes; ndur and ncost, when not nil, are the matrices by node rather than by place.
	nodes       int
	ndur, ncost []float64
	capa        []int64 // [v*dims+d]
	vskill      []uint64
	sskill      []uint64
	brk         []*Break
	prio        []int
	// near[s] lists the maxNear other shipments nearest to s, by the distance between their pickups plus the distance
	// between their deliveries (for related removals).
	near [][]int32
}

func (in *instance) startNode(v int) int32 { return int32(2*in.nShip + 2*v) }
func (in *instance) endNode(v int) int32   { return int32(2*in.nShip + 2*v + 1) }

func (in *instance) t(a, b int32) float64 {
	if in.ndur != nil {
		return in.ndur[int(a)*in.nodes+int(b)]
	}
	return in.dur[int(in.loc[a])*in.n+int(in.loc[b])]
}

func (in *instance) c(a, b int32) float64 {
	if in.ncost != nil {
		return in.ncost[int(a)*in.nodes+int(b)]
	}
	return in.cost[int(in.loc[a])*in.n+int(in.loc[b])]
}

// maxNear is the length of each shipment's list of neighbours: a ruin visits a few routes, so a long list is
// memory without use.
const maxNear = 100

// maxNodeMatrix is the most nodes for which the matrices are copied node by node (saving a lookup of each node's
// place in the inner loop); 1500 nodes take 36 MB.
const maxNodeMatrix = 1500

// compile turns a validated request into an instance. Skills are numbered in order of first appearance; a request
// with more than 64 distinct skills is refused by Validate.
func compile(r *Request) *instance {
	P, V := len(r.Shipments), len(r.Vehicles)
	dims := 0
	if V > 0 {
		dims = len(r.Vehicles[0].Capacity)
	}
	nodes := 2*P + 2*V
	in := &instance{nShip: P, nVeh: V, dims: dims, n: r.Matrix.N, dur: r.Matrix.Durations, cost: r.Matrix.cost(),
		loc: make([]int32, nodes), early: make([]float64, nodes), late: make([]float64, nodes),
		svc: make([]float64, nodes), demand: make([]int64, nodes*dims), capa: make([]int64, V*dims),
		vskill: make([]uint64, V), sskill: make([]uint64, P), brk: make([]*Break, V), prio: make([]int, P)}
	skills := map[string]int{}
	mask := func(names []string) uint64 {
		var m uint64
		for _, s := range names {
			k, ok := skills[s]
			if !ok {
				k = len(skills)
				skills[s] = k
			}
			m |= 1 << uint(k%64)
		}
		return m
	}
	lateOf := func(l float64) float64 {
		if l == 0 {
			return math.Inf(1)
		}
		return l
	}
	for s, sh := range r.Shipments {
		for k, t := range []Task{sh.Pickup, sh.Delivery} {
			node := 2*s + k
			in.loc[node] = int32(t.Place)
			in.early[node], in.late[node], in.svc[node] = t.Earliest, lateOf(t.Latest), t.Service
			for d := range dims {
				a := sh.Amount[d]
				if k == 1 {
					a = -a
				}
				in.demand[node*dims+d] = a
			}
		}
		in.sskill[s] = mask(sh.Skills)
		in.prio[s] = sh.Priority
	}
	for v, veh := range r.Vehicles {
		a, b := in.startNode(v), in.endNode(v)
		in.loc[a], in.loc[b] = int32(veh.Start), int32(veh.End)
		in.early[a], in.late[a] = veh.ShiftStart, lateOf(veh.ShiftEnd)
		in.early[b], in.late[b] = veh.ShiftStart, lateOf(veh.ShiftEnd)
		copy(in.capa[v*dims:], veh.Capacity)
		in.vskill[v] = mask(veh.Skills)
		in.brk[v] = veh.Break
	}
	in.nodes = nodes
	if nodes <= maxNodeMatrix {
		in.ndur, in.ncost = make([]float64, nodes*nodes), make([]float64, nodes*nodes)
		for a := range nodes {
			for b := range nodes {
				k := int(in.loc[a])*in.n + int(in.loc[b])
				in.ndur[a*nodes+b], in.ncost[a*nodes+b] = in.dur[k], in.cost[k]
			}
		}
	}
	in.near = make([][]int32, P)
	for s := range P {
		l := make([]int32, 0, P-1)
		for o := range P {
			if o != s {
				l = append(l, int32(o))
			}
		}
		ds := func(o int32) float64 {
			return in.c(int32(2*s), 2*o) + in.c(int32(2*s+1), 2*o+1)
		}
		slices.SortStableFunc(l, func(a, b int32) int {
			da, db := ds(a), ds(b)
			switch {
			case da < db:
				return -1
			case da > db:
				return 1
			}
			return 0
		})
		in.near[s] = slices.Clip(l[:min(len(l), maxNear)])
	}
	return in
}

// canServe reports whether vehicle v has the skills and the capacity for shipment s on its own.
func (in *instance) canServe(v, s int) bool {
	if in.sskill[s]&^in.vskill[v] != 0 {
		return false
	}
	for d := range in.dims {
		if in.demand[2*s*in.dims+d] > in.capa[v*in.dims+d] {
			return false
		}
	}
	return true
}

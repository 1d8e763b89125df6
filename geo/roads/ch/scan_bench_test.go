package ch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// scanStats counts what one-to-one queries read: the nodes they settle (stalled ones included), the edges they
// scan to decide stalls and to relax, and the degrees (up plus down edges) of the settled nodes. It mirrors
// Query.search and side.settle with counters, so that the searches measured carry none.
type scanStats struct {
	queries, settled, stalled, stallScanned, relaxScanned int
	degrees                                               []int
}

func (st *scanStats) settle(s *side) (int32, cost) {
	t := &s.t
	slot, d := t.pop()
	v := t.slots[slot].node
	g := &s.h.g
	up, down, end := g.index[v].up, g.index[v].down, g.index[v+1].up
	st.settled++
	st.degrees = append(st.degrees, int(end-up))
	relax, stall, relaxEnd, stallEnd := up, down, down, end
	if !s.forward {
		relax, stall, relaxEnd, stallEnd = down, up, end, down
	}
	for _, e := range g.edges[stall:stallEnd] {
		st.stallScanned++
		if u := t.find(e.head); u >= 0 && add(t.slots[u].dist, e.cost()) < d {
			st.stalled++
			return v, d
		}
	}
	for i, e := range g.edges[relax:relaxEnd] {
		st.relaxScanned++
		nd := add(d, e.cost())
		w := t.get(e.head)
		if x := &t.slots[w]; nd < x.dist {
			x.dist, x.prev, x.arc = nd, v, relax+int32(i)
			t.push(w, nd)
		}
	}
	return v, d
}

func (st *scanStats) route(q *Query, from, to []Seed) {
	st.queries++
	f, b := &q.fwd, &q.bwd
	f.init(from)
	b.init(to)
	best := infinite
	for {
		fOpen := !f.empty() && f.minKey() < best
		bOpen := !b.empty() && b.minKey() < best
		if !fOpen && !bOpen {
			break
		}
		s, o := f, b
		if !fOpen || (bOpen && b.minKey() < f.minKey()) {
			s, o = b, f
		}
		v, d := st.settle(s)
		if od := o.dist(v); od != infinite {
			best = min(best, add(d, od))
		}
	}
}

// BenchmarkScan1M reports what a one-to-one query on the city reads (see scanStats), and the degrees of the
// hierarchy's nodes: mean, 99th percentile and largest.
func BenchmarkScan1M(b *testing.B) {
	n, edges, h := benchCity(b)
	rng := rand.New(rand.NewPCG(1, 1))
	pts := randomNodes(rng, n, 4000)
	q := h.NewQuery()
	var st scanStats
	i := 0
	for b.Loop() {
		st.route(q, pts[i%4000], pts[(i+1)%4000])
		i += 2
	}
	for i := 0; st.queries < 2000; i += 2 {
		st.route(q, pts[i%4000], pts[(i+1)%4000])
	}
	per := func(x int) float64 { return float64(x) / float64(st.queries) }
	b.ReportMetric(per(st.settled), "settled/query")
	b.ReportMetric(per(st.stalled), "stalled/query")
	b.ReportMetric(per(st.stallScanned), "stall-edges/query")
	b.ReportMetric(per(st.relaxScanned), "relax-edges/query")
	slices.Sort(st.degrees)
	b.ReportMetric(float64(st.degrees[len(st.degrees)/2]), "settled-deg-p50")
	b.ReportMetric(float64(st.degrees[len(st.degrees)*9/10]), "settled-deg-p90")
	b.ReportMetric(float64(st.degrees[len(st.degrees)-1]), "settled-deg-max")
	deg := make([]int, n)
	for v := range n {
		deg[v] = int(h.g.index[v+1].up - h.g.index[v].up)
	}
	slices.Sort(deg)
	b.ReportMetric(float64(len(h.g.edges))/float64(n), "deg-mean")
	b.ReportMetric(float64(deg[n*99/100]), "deg-p99")
	b.ReportMetric(float64(deg[n-1]), "deg-max")
	b.ReportMetric(float64(h.NumArcs()-len(edges))/float64(len(edges)), "shortcuts/edge")
}

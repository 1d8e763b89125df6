package roads

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// snapped is a point's place on the network: on edge at frac of its length from its from node.
type snapped struct {
	edge int32
	frac float64   // 0 at the edge's from node, 1 at its to node
	pos  orb.Point // the place on the road
	off  float64   // metres from the point to pos, walked
	ok   bool      // false when the graph has no road at all
}

// project returns where p projects onto the segment a→b (t in [0, 1] of the way from a) and the great-circle
// distance from p to there. The projection is taken in a plane tangent at p, which is exact enough for segments
// of a city street.
func project(p, a, b orb.Point) (t float64, q orb.Point, d float64) {
	kx := math.Cos(p[1] * math.Pi / 180)
	ax, ay := (a[0]-p[0])*kx, a[1]-p[1]
	bx, by := (b[0]-p[0])*kx, b[1]-p[1]
	dx, dy := bx-ax, by-ay
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = -(ax*dx + ay*dy) / l2
		t = math.Max(0, math.Min(1, t))
	}
	q = orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
	return t, q, geo.Geographic.Distance(p, q)
}

// usable reports whether graph g may travel edge e in some direction.
func (gr *graph) usable(e int32) bool { return gr.w[0][e] > 0 || gr.w[1][e] > 0 }

// snap finds the nearest place to p on a road of graph g: the projection onto the nearest segment, not the
// nearest node. Of segments at the same distance the lowest-numbered wins, so the answer does not depend on
// the tree's shape.
func (net *Network) snap(p orb.Point, g int) snapped {
	gr := net.graphs[g]
	if gr.nodes == 0 {
		return snapped{} // no road at all: spare a search of the whole tree
	}
	bestSeg, _ := net.index.nearest(p, net.shape, func(seg int32) bool { return gr.usable(net.segEdge[seg]) })
	if bestSeg < 0 {
		return snapped{}
	}
	e := net.segEdge[bestSeg]
	t, q, off := project(p, net.shape[bestSeg], net.shape[bestSeg+1])
	along := t * geo.Geographic.Distance(net.shape[bestSeg], net.shape[bestSeg+1])
	for i := net.geomOff[e]; i < uint32(bestSeg); i++ {
		along += geo.Geographic.Distance(net.shape[i], net.shape[i+1])
	}
	f := 0.0
	if m := net.metres[e]; m > 0 {
		f = math.Max(0, math.Min(1, along/m))
	}
	return snapped{edge: e, frac: f, pos: q, off: off, ok: true}
}

// seedSide says which end of the snapped edge a seed stands on.
type seedSide uint8

const (
	atTo   seedSide = iota // the seed is the edge's to node
	atFrom                 // the seed is the edge's from node
)

// seeds returns the hierarchy seeds of a snapped point on graph g: as a source, the nodes it can ride to along
// its edge with what that costs; as a target, the nodes it can be reached from with what is left. A point at an
// end of its edge (less than half a decimetre from it) is also a seed at that node for nothing, whichever way
// the edge runs: it stands on every road that meets there. sides[i] says which end seeds[i] is.
func (net *Network) seeds(s snapped, g int, source bool, buf []ch.Seed, sides []seedSide) ([]ch.Seed, []seedSide) {
	buf, sides = buf[:0], sides[:0]
	if !s.ok {
		return buf, sides
	}
	gr := net.graphs[g]
	e := s.edge
	l := float64(net.lenDM[e])
	fw, bw := float64(gr.w[0][e]), float64(gr.w[1][e])
	ahead, behind := 1-s.frac, s.frac
	add := func(node int32, side seedSide, part, w float64) {
		seed := ch.Seed{Node: node, Weight: roundU32(part * w), Length: roundU32(part * l)}
		for i := range buf {
			if buf[i].Node == node {
				if seed.Weight < buf[i].Weight {
					buf[i], sides[i] = seed, side
				}
				return
			}
		}
		buf, sides = append(buf, seed), append(sides, side)
	}
	if fw > 0 { // the edge runs from → to
		if source {
			add(net.to[e], atTo, ahead, fw)
		} else {
			add(net.from[e], atFrom, behind, fw)
		}
	}
	if bw > 0 { // the edge runs to → from
		if source {
			add(net.from[e], atFrom, behind, bw)
		} else {
			add(net.to[e], atTo, ahead, bw)
		}
	}
	if roundU32(behind*l) == 0 {
		add(net.from[e], atFrom, 0, 0)
	}
	if roundU32(ahead*l) == 0 {
		add(net.to[e], atTo, 0, 0)
	}
	return buf, sides
}

// direct is the trip between two points on the same edge without leaving it, which the hierarchy cannot see
// (it knows only nodes): ok when the edge may be travelled from a towards b.
func (net *Network) direct(a, b snapped, g int) (weight, length uint32, ok bool) {
	if !a.ok || !b.ok || a.edge != b.edge {
		return 0, 0, false
	}
	gr := net.graphs[g]
	e := a.edge
	l := float64(net.lenDM[e])
	best := uint32(math.MaxUint32)
	if fw := gr.w[0][e]; fw > 0 && b.frac >= a.frac {
		d := b.frac - a.frac
		best, length, ok = roundU32(d*float64(fw)), roundU32(d*l), true
	}
	if bw := gr.w[1][e]; bw > 0 && b.frac <= a.frac {
		d := a.frac - b.frac
		if w := roundU32(d * float64(bw)); w < best {
			best, length, ok = w, roundU32(d*l), true
		}
	}
	return best, length, ok
}

func roundU32(v float64) uint32 {
	v = math.Round(v)
	if v <= 0 {
		return 0
	}
	if v >= math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// Snap returns the place on profile p's roads nearest to pt (its projection onto the nearest road), and false
// when the network has no road for p.
func (net *Network) Snap(pt orb.Point, p geo.Profile) (orb.Point, bool) {
	if !p.Valid() || geo.Geographic.Validate(pt) != nil {
		return orb.Point{}, false
	}
	s := net.snap(pt, graphOf(p))
	return s.pos, s.ok
}

// CheckPoint refuses, with an error wrapping geo.ErrOffRoad, a point farther than the snap limit from every
// road of the most permissive graph (foot, unless Options.Profiles left it out), or one the geographic space
// rejects.
func (net *Network) CheckPoint(pt orb.Point) error {
	_, err := net.checkSnap(pt)
	return err
}

// checkSnap is CheckPoint that also returns the point's place on the graph it measures against (checkGraph).
func (net *Network) checkSnap(pt orb.Point) (snapped, error) {
	if err := geo.Geographic.Validate(pt); err != nil {
		return snapped{}, err
	}
	s := net.snap(pt, net.checkGraph())
	if !s.ok {
		return s, fmt.Errorf("%w: %w", geo.ErrOffRoad, errNoRoads)
	}
	if s.off > net.snapLimit {
		return s, fmt.Errorf("%w: %.0f m from the nearest road, over the limit of %.0f m", geo.ErrOffRoad, s.off, net.snapLimit)
	}
	return s, nil
}

package roads

import (
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/simplify"
)

// This file gives the network's geometry for drawing (the console's base map): the shapes of the roads in a box,
// simplified for the scale they are drawn at.

// Extent returns the box that holds every road of the network (the zero bound for an empty network).
func (net *Network) Extent() orb.Bound { return net.bound }

// Shapes calls fn with the shape of every road whose box meets b, each simplified (Douglas–Peucker) so that no
// point it drops lies further than tolerance metres from the simplified line (tolerance ≤ 0 keeps every point);
// a road whose box is smaller than tolerance both ways is left out, as it would be drawn as a dot. Roads come in
// the network's order; fn must not keep or change the line it is given. It walks every road: callers that draw
// tiles should keep what it returns.
func (net *Network) Shapes(b orb.Bound, tolerance float64, fn func(orb.LineString)) {
	deg := max(tolerance, 0) / metresPerDegree
	dp := simplify.DouglasPeucker(deg)
	var line orb.LineString
	for e := range len(net.from) {
		lo, hi := net.geomOff[e], net.geomOff[e+1]
		if hi-lo < 2 {
			continue
		}
		eb := orb.Bound{Min: net.shape[lo], Max: net.shape[lo]}
		for _, p := range net.shape[lo+1 : hi] {
			eb = eb.Extend(p)
		}
		if !eb.Intersects(b) {
			continue
		}
		if deg > 0 && eb.Max[0]-eb.Min[0] < deg && eb.Max[1]-eb.Min[1] < deg {
			continue
		}
		line = append(line[:0], net.shape[lo:hi]...)
		if deg > 0 && len(line) > 2 {
			line = dp.LineString(line)
		}
		fn(line)
	}
}

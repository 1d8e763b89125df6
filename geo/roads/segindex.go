package roads

import (
	"cmp"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// segIndex finds the road segment nearest to a point. It is a tidwall/rtree over buckets of segmentsPerBucket
// segments that lie next to one another along a Hilbert curve, rather than over single segments: inserting a
// big city's millions of segments one by one takes seconds (the tree has no bulk load), a tree of buckets a
// tenth of that, so a prepared map loads fast. The segments' Hilbert order is computed once and stored in
// the map file.
//
// A segment is identified by the index in the network's shape of its first point; its edge is segEdge.
type segIndex struct {
	order []int32             // every segment, in Hilbert order of its midpoint
	tree  rtree.RTreeG[int32] // item b covers order[b*segmentsPerBucket:][:segmentsPerBucket]
}

const segmentsPerBucket = 16

// hilbertOrder lists the network's segments along a Hilbert curve over the network's bound, by their midpoints.
func (net *Network) hilbertOrder() []int32 {
	var segs []int32
	var mids []orb.Point
	for e := range net.from {
		for i := net.geomOff[e]; i+1 < net.geomOff[e+1]; i++ {
			p, q := net.shape[i], net.shape[i+1]
			segs, mids = append(segs, int32(i)), append(mids, orb.Point{(p[0] + q[0]) / 2, (p[1] + q[1]) / 2})
		}
	}
	order := net.alongCurve(mids)
	for k, i := range order {
		order[k] = segs[i]
	}
	return order
}

// alongCurve returns the indices of pts in the order of their places along a Hilbert curve over the network's
// bound, ties in index order: points taken in that order lie near one another (the segments of one bucket of the
// index; a batch's sources, which then climb through the same part of a hierarchy while its memory is in the
// processor's caches).
func (net *Network) alongCurve(pts []orb.Point) []int32 {
	type keyed struct {
		key uint64
		i   int32
	}
	keys := make([]keyed, len(pts))
	b := net.bound
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	const side = 1 << 16
	for i, p := range pts {
		keys[i] = keyed{hilbert(side, gridCoord((p[0]-b.Min[0])/w, side), gridCoord((p[1]-b.Min[1])/h, side)), int32(i)}
	}
	slices.SortFunc(keys, func(a, b keyed) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.i, b.i)) })
	order := make([]int32, len(pts))
	for i, k := range keys {
		order[i] = k.i
	}
	return order
}

func gridCoord(f float64, side uint32) uint32 {
	if !(f > 0) { // also NaN, for a bound of zero width
		return 0
	}
	return uint32(math.Min(f*float64(side), float64(side-1)))
}

// hilbert is the distance along the Hilbert curve filling a side × side grid (side a power of two) of cell x, y.
func hilbert(side, x, y uint32) uint64 {
	var d uint64
	for s := side / 2; s > 0; s /= 2 {
		var rx, ry uint32
		if x&s != 0 {
			rx = 1
		}
		if y&s != 0 {
			ry = 1
		}
		d += uint64(s) * uint64(s) * uint64((3*rx)^ry)
		if ry == 0 {
			if rx == 1 {
				x, y = side-1-x, side-1-y
			}
			x, y = y, x
		}
	}
	return d
}

// build fills the tree with the buckets of order.
func (ix *segIndex) build(shape []orb.Point) {
	for b := 0; b*segmentsPerBucket < len(ix.order); b++ {
		min := orb.Point{math.Inf(1), math.Inf(1)}
		max := orb.Point{math.Inf(-1), math.Inf(-1)}
		for _, s := range ix.bucket(int32(b)) {
			for _, p := range [2]orb.Point{shape[s], shape[s+1]} {
				min = orb.Point{math.Min(min[0], p[0]), math.Min(min[1], p[1])}
				max = orb.Point{math.Max(max[0], p[0]), math.Max(max[1], p[1])}
			}
		}
		ix.tree.Insert(min, max, int32(b))
	}
}

func (ix *segIndex) bucket(b int32) []int32 {
	lo := int(b) * segmentsPerBucket
	return ix.order[lo:min(lo+segmentsPerBucket, len(ix.order))]
}

// nearest returns the segment nearest to p among those accept takes, and its distance in metres; the
// lowest-numbered of equally near segments, so the answer does not depend on the tree's shape; -1 when accept
// takes none. Distances are measured in the plane tangent to the sphere at p, which is within a millionth of
// the great-circle distance over a city's few kilometres and spares a haversine per segment looked at; boxes
// are measured in the same plane, so a box's distance is a true lower bound of its segments'.
//
// The tree is searched in a square around p that grows fourfold until it holds a segment, then once more in
// the square whose half side is that segment's distance: every segment at least as near lies, at its nearest
// point, in that square, so its bucket was looked at. A box search reads a few nodes of the tree; a search by distance would rank every entry of each
// node it opens.
func (ix *segIndex) nearest(p orb.Point, shape []orb.Point, accept func(seg int32) bool) (int32, float64) {
	best, bestD2 := int32(-1), math.Inf(1)
	kx := math.Cos(p[1] * math.Pi / 180)
	scan := func(min, max [2]float64, b int32) bool {
		if planeBoxDist2(p, kx, min, max) > bestD2 {
			return true
		}
		for _, seg := range ix.bucket(b) {
			// The distance first: most segments are farther than the best, and accept reads elsewhere.
			if dd := planeDist2(p, kx, shape[seg], shape[seg+1]); (dd < bestD2 || (dd == bestD2 && seg < best)) && accept(seg) {
				best, bestD2 = seg, dd
			}
		}
		return true
	}
	tmin, tmax := ix.tree.Bounds()
	for r := firstSnapRadius / metresPerDegree; ; {
		rx := r / kx // the half side in degrees of longitude
		min, max := [2]float64{p[0] - rx, p[1] - r}, [2]float64{p[0] + rx, p[1] + r}
		ix.tree.Search(min, max, scan)
		covered := min[0] <= tmin[0] && min[1] <= tmin[1] && max[0] >= tmax[0] && max[1] >= tmax[1]
		if bestD2 <= r*r || covered || math.IsInf(r, 0) {
			break
		}
		if best >= 0 {
			r = math.Nextafter(math.Sqrt(bestD2), math.Inf(1)) // the next square holds every nearer segment
		} else {
			r *= 4
		}
	}
	return best, math.Sqrt(bestD2) * metresPerDegree
}

// firstSnapRadius, in metres, is the half side of the first square nearest searches: most points to snap lie on
// or beside a street.
const firstSnapRadius = 32

// planeBoxDist2 is the squared distance, in degrees of latitude, from p to the box [min, max] in the plane
// tangent at p (see planeDist2); 0 inside the box.
func planeBoxDist2(p orb.Point, kx float64, min, max [2]float64) float64 {
	var dx, dy float64
	switch {
	case p[0] < min[0]:
		dx = (min[0] - p[0]) * kx
	case p[0] > max[0]:
		dx = (p[0] - max[0]) * kx
	}
	switch {
	case p[1] < min[1]:
		dy = min[1] - p[1]
	case p[1] > max[1]:
		dy = p[1] - max[1]
	}
	return dx*dx + dy*dy
}

// metresPerDegree is the length of a degree of a great circle on geo.Geographic's sphere.
const metresPerDegree = orb.EarthRadius * math.Pi / 180

// planeDist2 is the squared distance, in degrees of latitude, from p to the segment a→b in the plane tangent at
// p, where a degree of longitude is kx = cos(latitude of p) degrees of latitude.
func planeDist2(p orb.Point, kx float64, a, b orb.Point) float64 {
	ax, ay := (a[0]-p[0])*kx, a[1]-p[1]
	dx, dy := (b[0]-a[0])*kx, b[1]-a[1]
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	x, y := ax+t*dx, ay+t*dy
	return x*x + y*y
}

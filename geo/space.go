package geo

import (
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// Space says how points are interpreted and measured.
//
// Implementations must be stateless or read-only so that one value can be
// shared by every goroutine of the daemon.
type Space interface {
	// Distance returns the distance in metres between a and b.
	Distance(a, b orb.Point) float64
	// BoxDistance returns a lower bound, in metres, of the distance from p to any point of the
	// axis-aligned box [min, max] (in the same coordinates as the points); 0 if p is inside.
	BoxDistance(p orb.Point, min, max orb.Point) float64
	// Validate returns an error when p is not a usable point of this space (NaN, ±Inf, out of range).
	Validate(p orb.Point) error
}

// ErrInvalidPoint is wrapped by every error that [Space.Validate] returns, so
// callers can tell a bad coordinate from other failures with errors.Is.
var ErrInvalidPoint = errors.New("geo: invalid point")

// Geographic reads points as orb.Point{longitude, latitude} in WGS 84 degrees
// and measures great-circle (haversine) metres on a sphere of radius
// [orb.EarthRadius]. The spherical model is off by up to about 0.5% from the
// ellipsoid, which is far below the uncertainty of any travel estimate built
// on it. Valid points have a longitude in [-180, 180] and a latitude in
// [-90, 90].
var Geographic Space = geographic{}

// Planar reads points as orb.Point{x, y} in metres of a projected system (for
// example UTM, or the benchmark instances' own grid) and measures Euclidean
// distance. Any finite point is valid.
var Planar Space = planar2D{}

type geographic struct{}

// Distance is the haversine great-circle distance in metres.
func (geographic) Distance(a, b orb.Point) float64 {
	return orbgeo.DistanceHaversine(a, b)
}

// Safety margin taken off the geographic box bound. The bound is computed in
// floating point through different operations (atan2, a clamped latitude)
// than the item distance it must stay below, so without a margin it could
// exceed a point's computed distance by a few ulps and the index would emit
// that point out of order. One part in 10^9 plus a micrometre is many orders
// of magnitude above the rounding error and far below anything that matters
// for pruning.
const (
	boxShrinkRel = 1e-9
	boxShrinkAbs = 1e-6 // metres
)

// BoxDistance returns the great-circle distance from p to the nearest point of
// the longitude/latitude box, slightly shrunk (see boxShrinkRel).
//
// Clamping p into the box and measuring to the clamped point is not a lower
// bound: meridians converge, so when p's latitude lies inside the box but its
// longitude does not, the closest point of the nearer meridian edge lies
// poleward of p's latitude. Instead:
//
//   - For a fixed latitude the distance grows with the longitude difference
//     (taken the short way round), so the nearest point of the box lies on the
//     meridian edge nearest in longitude.
//   - Along that meridian, cos(distance) = A·sin(φ) + B·cos(φ) with
//     A = sin(φ0), B = cos(φ0)·cos(Δλ), which peaks at φ* = atan2(A, B). When
//     Δλ ≤ 90° (B ≥ 0) the function is unimodal over [-90°, 90°], so clamping
//     φ* to the box's latitude range gives the nearest point; otherwise the
//     maximum over the range is at one of its ends.
//
// The box must not cross the antimeridian (min[0] <= max[0]); longitudes of p
// and the box are compared the short way round, so the bound stays valid for
// points across the line.
func (geographic) BoxDistance(p orb.Point, min, max orb.Point) float64 {
	lon0, lat0 := p[0], p[1]
	latLo, latHi := min[1], max[1]

	if lon0 >= min[0] && lon0 <= max[0] {
		// Same meridian as part of the box: the latitude gap is exact, since the
		// central angle between two points is never below their latitude gap.
		var dLat float64
		switch {
		case lat0 < latLo:
			dLat = latLo - lat0
		case lat0 > latHi:
			dLat = lat0 - latHi
		}
		return shrinkBound(deg2rad(dLat) * orb.EarthRadius)
	}

	lonNear, dLon := min[0], lonGap(lon0, min[0])
	if d := lonGap(lon0, max[0]); d < dLon {
		lonNear, dLon = max[0], d
	}
	phi0 := deg2rad(lat0)
	a := math.Sin(phi0)
	b := math.Cos(phi0) * math.Cos(deg2rad(dLon))
	var d float64
	if b >= 0 {
		star := clampFloat(rad2deg(math.Atan2(a, b)), latLo, latHi)
		d = orbgeo.DistanceHaversine(p, orb.Point{lonNear, star})
	} else {
		d = math.Min(
			orbgeo.DistanceHaversine(p, orb.Point{lonNear, latLo}),
			orbgeo.DistanceHaversine(p, orb.Point{lonNear, latHi}),
		)
	}
	return shrinkBound(d)
}

// Validate accepts finite points with lon in [-180, 180] and lat in [-90, 90].
func (geographic) Validate(p orb.Point) error {
	if err := validateFinite(p); err != nil {
		return err
	}
	if p[0] < -180 || p[0] > 180 {
		return fmt.Errorf("%w: longitude %g is outside [-180, 180] (points are orb.Point{lon, lat})", ErrInvalidPoint, p[0])
	}
	if p[1] < -90 || p[1] > 90 {
		return fmt.Errorf("%w: latitude %g is outside [-90, 90] (points are orb.Point{lon, lat})", ErrInvalidPoint, p[1])
	}
	return nil
}

type planar2D struct{}

// Distance is the Euclidean distance.
func (planar2D) Distance(a, b orb.Point) float64 {
	return planar.Distance(a, b)
}

// BoxDistance is the Euclidean distance to the clamped point. It is computed
// with the same operations as planar.Distance on the per-axis gaps, and
// rounding is monotone, so it never exceeds the computed distance to a point
// inside the box: no safety margin is needed.
func (planar2D) BoxDistance(p orb.Point, min, max orb.Point) float64 {
	dx := axisGap(p[0], min[0], max[0])
	dy := axisGap(p[1], min[1], max[1])
	return math.Sqrt(dx*dx + dy*dy)
}

// Validate accepts any finite point.
func (planar2D) Validate(p orb.Point) error {
	return validateFinite(p)
}

func validateFinite(p orb.Point) error {
	for i, v := range p {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: coordinate %d of %v is not finite", ErrInvalidPoint, i, [2]float64(p))
		}
	}
	return nil
}

// axisGap is how far v lies outside [lo, hi], or 0 inside.
func axisGap(v, lo, hi float64) float64 {
	switch {
	case v < lo:
		return lo - v
	case v > hi:
		return v - hi
	}
	return 0
}

// lonGap is the longitude difference from a to b in degrees, the short way
// round, in [0, 180].
func lonGap(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > 180 {
		d = 360 - d
	}
	return d
}

func shrinkBound(d float64) float64 {
	d -= d*boxShrinkRel + boxShrinkAbs
	if d < 0 {
		return 0
	}
	return d
}

func clampFloat(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func deg2rad(d float64) float64 { return d * math.Pi / 180 }
func rad2deg(r float64) float64 { return r * 180 / math.Pi }

// ErrOffRoad is wrapped by the error a [PointChecker] returns for a point too far from every road.
var ErrOffRoad = errors.New("geo: point is off the road network")

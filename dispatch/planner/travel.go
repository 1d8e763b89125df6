package planner

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Matrix holds the travel between every pair of a request's locations, row-major: Durations[i*N+j] is the time
// from location i to location j, in the plan's time unit (seconds for the daemon), and Distances[i*N+j] the cost the
// planner minimises (metres, or for a benchmark the Euclidean distance). Distances may be nil, and then the
// durations are the cost. A Matrix is read-only once built and may be shared by concurrent plans.
type Matrix struct {
	N         int       `json:"n"`
	Durations []float64 `json:"durations"`
	Distances []float64 `json:"distances,omitempty"`
}

// Validate checks the sizes and that every entry is finite and not negative.
func (m *Matrix) Validate() error {
	if m.N <= 0 {
		return &FieldError{Field: "matrix.n", Msg: "must be positive"}
	}
	if len(m.Durations) != m.N*m.N {
		return &FieldError{Field: "matrix.durations", Msg: fmt.Sprintf("has %d entries, want n*n = %d", len(m.Durations), m.N*m.N)}
	}
	if m.Distances != nil && len(m.Distances) != m.N*m.N {
		return &FieldError{Field: "matrix.distances", Msg: fmt.Sprintf("has %d entries, want n*n = %d", len(m.Distances), m.N*m.N)}
	}
	for name, s := range map[string][]float64{"matrix.durations": m.Durations, "matrix.distances": m.Distances} {
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return &FieldError{Field: fmt.Sprintf("%s[%d]", name, i), Msg: "must be finite and not negative"}
			}
		}
	}
	return nil
}

func (m *Matrix) cost() []float64 {
	if m.Distances != nil {
		return m.Distances
	}
	return m.Durations
}

// EuclideanMatrix is the matrix of a plane: durations and distances both the straight-line distance between
// points in double precision (the Li & Lim benchmark's convention, travel time equal to distance).
func EuclideanMatrix(points []orb.Point) *Matrix {
	n := len(points)
	d := make([]float64, n*n)
	for i, a := range points {
		for j, b := range points {
			d[i*n+j] = math.Hypot(a[0]-b[0], a[1]-b[1])
		}
	}
	return &Matrix{N: n, Durations: d}
}

// ModelMatrix asks a travel model of the engine (straight lines, a road network) for the time between every pair
// of points for one profile, in seconds; the cost is that time. A [geo.BatchModel] is asked once for the whole
// batch.
func ModelMatrix(m geo.TravelModel, points []orb.Point, p geo.Profile) *Matrix {
	if b, ok := m.(geo.BatchModel); ok {
		m = b.Batch(points, points, []geo.Profile{p})
	}
	n := len(points)
	d := make([]float64, n*n)
	for i, a := range points {
		for j, b := range points {
			if i != j {
				d[i*n+j] = m.TravelTime(a, b, p).Seconds()
			}
		}
	}
	return &Matrix{N: n, Durations: d}
}

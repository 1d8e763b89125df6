package geo

import (
	"fmt"
	"time"

	"github.com/paulmach/orb"
)

// The interfaces below are what a travel model over a road network offers beyond [TravelModel]. The engine, the
// daemon and the simulator test for them with a type assertion, so the straight-line models need none of them.

// BatchModel is a [TravelModel] that answers many pairs faster together than one at a time: on a road network each
// point must be snapped to a road and searched from, and that work is shared by every pair the point is in. A
// dispatch round calls Batch once with every point it may ask about, then asks the result pair by pair.
type BatchModel interface {
	TravelModel
	// Batch prepares the pairs sources × targets for the given profiles and returns a model that answers them
	// exactly as the receiver's TravelTime would (any other pair is still answered, at the single-pair price).
	// Duplicate points are allowed. The result is read-only and safe for concurrent use; it is meant for one
	// batch of work (a round) and holds memory until it is dropped.
	Batch(sources, targets []orb.Point, profiles []Profile) TravelModel
}

// Path is a trip on the roads from one point to another.
type Path struct {
	// Points is the geometry, lon/lat, from the first point's place on the road to the second's; nil when the
	// two points snap to the same place.
	Points orb.LineString
	// Metres is the length of the trip, and Duration its time (what TravelTime returns for the same pair).
	Metres   float64
	Duration time.Duration
}

// PathModel is a [TravelModel] that can also say which way a trip goes, for a courier's phone to draw it.
type PathModel interface {
	TravelModel
	// Path returns the trip from one point to another for profile p. It fails only for a point that
	// [PointChecker.CheckPoint] refuses or a pair with no connection.
	Path(from, to orb.Point, p Profile) (Path, error)
}

// PointChecker is implemented by models that cannot reach every valid point of their space: a road network
// reaches only points near its roads. Places that orders and stores name are checked with it; a courier's reported
// position is not (the model travels from the nearest road).
type PointChecker interface {
	// CheckPoint returns an error saying how far p lies from the nearest road when it is too far to be served;
	// the error wraps [ErrOffRoad].
	CheckPoint(p orb.Point) error
}

// TableModel answers many-to-many tables of road travel times and distances, as the API's travel-times call and the
// simulator's table command offer them.
type TableModel interface {
	// Table returns, row-major (len(sources) × len(destinations)), the duration and metres of the trip from each
	// source to each destination for profile p. A pair with no connection has the largest duration
	// (math.MaxInt64). A point that cannot be used (off the roads) gives a *PointError naming it, its list
	// "sources" or "destinations".
	Table(sources, destinations []orb.Point, p Profile) (durations []time.Duration, metres []float64, err error)
}

// PointError says which point of a list could not be used, and why.
type PointError struct {
	// List names the list ("sources", "destinations") and Index the point's place in it, from 0.
	List  string
	Index int
	Err   error
}

func (e *PointError) Error() string { return fmt.Sprintf("%s[%d]: %v", e.List, e.Index, e.Err) }

// Unwrap returns the cause (for example an error wrapping [ErrOffRoad]).
func (e *PointError) Unwrap() error { return e.Err }

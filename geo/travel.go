package geo

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"
)

// TravelModel gives the travel time between two points for a vehicle profile. Implementations must be
// deterministic and safe for concurrent use by multiple goroutines (read-only after construction).
type TravelModel interface {
	TravelTime(from, to orb.Point, p Profile) time.Duration
}

// DefaultDetour is the default ratio of street distance to straight-line
// distance. Street networks in dense cities typically make trips 1.2 to 1.4
// times longer than the crow flies; 1.3 is the middle of that range.
const DefaultDetour = 1.3

// DefaultSpeedsMPS returns the default average speeds in metres per second,
// indexed by [Profile]. They are urban door-to-door averages that already
// include stops at junctions, not cruising speeds:
//
//   - foot 1.25 m/s (4.5 km/h)
//   - bike 4.0 m/s (14.4 km/h)
//   - ebike 5.0 m/s (18 km/h)
//   - scooter 6.5 m/s (23.4 km/h)
//   - car 8.0 m/s (28.8 km/h; congestion and parking keep cars barely faster
//     than two-wheelers in a city centre)
//
// It is a function rather than a variable so that no caller can change the
// defaults for everyone else.
func DefaultSpeedsMPS() [NumProfiles]float64 {
	var s [NumProfiles]float64
	s[Foot] = 1.25
	s[Bike] = 4.0
	s[EBike] = 5.0
	s[Scooter] = 6.5
	s[Car] = 8.0
	return s
}

// StraightLine estimates travel time as the straight-line distance times a
// detour factor, divided by the profile's average speed. It needs no road
// data, which makes it the default for a daemon that must start anywhere.
//
// Fields must not be changed once the model is shared between goroutines.
type StraightLine struct {
	// Space measures the straight-line distance.
	Space Space
	// Detour multiplies the straight-line distance to approximate the street
	// distance; >= 1, default [DefaultDetour].
	Detour float64
	// SpeedMPS is the average speed per profile in metres per second; every
	// entry > 0, defaults from [DefaultSpeedsMPS].
	SpeedMPS [NumProfiles]float64
}

// NewStraightLine returns a model over space with [DefaultDetour] and
// [DefaultSpeedsMPS].
func NewStraightLine(space Space) *StraightLine {
	return &StraightLine{Space: space, Detour: DefaultDetour, SpeedMPS: DefaultSpeedsMPS()}
}

// Validate reports every problem with the model's settings at once (space
// set, detour finite and >= 1, every speed finite and > 0), so an operator can
// fix a configuration file in one pass.
func (m *StraightLine) Validate() error {
	var errs []error
	if m.Space == nil {
		errs = append(errs, errors.New("geo: straight-line model has no space"))
	}
	if !(m.Detour >= 1) || math.IsInf(m.Detour, 0) {
		errs = append(errs, fmt.Errorf("geo: straight-line detour %g must be finite and >= 1", m.Detour))
	}
	for p := Profile(0); p < NumProfiles; p++ {
		if v := m.SpeedMPS[p]; !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("geo: straight-line speed for %s is %g m/s; it must be finite and > 0", p, v))
		}
	}
	return errors.Join(errs...)
}

// TravelTime returns distance × Detour / SpeedMPS[p], rounded to the
// nanosecond. The result is monotone in distance, and saturates at the
// largest [time.Duration] rather than overflowing (which also covers a model
// that failed [StraightLine.Validate]). It panics if p is not a defined
// profile, which is a programming error.
func (m *StraightLine) TravelTime(from, to orb.Point, p Profile) time.Duration {
	if !p.Valid() {
		panic(fmt.Sprintf("geo: StraightLine.TravelTime with undefined profile %d", uint8(p)))
	}
	return secondsToDuration(m.Space.Distance(from, to) * m.Detour / m.SpeedMPS[p])
}

// CeilMinutes is the Grubhub MDRP benchmark's rule: ceil(euclidean metres / MetresPerMinute) whole minutes, same for every profile.
//
// Distances come out of a square root, so an exact multiple of
// MetresPerMinute can arrive as, say, 1.0000000000000002 minutes and would
// wrongly round up to the next minute. A quotient that exceeds a whole number
// by at most one part in 10^12 is therefore treated as that whole number.
// With whole-metre coordinates and a whole number of metres per minute (as in
// the benchmark) a genuine excess is at least 1/(2·d²) relative for a
// distance of d metres, which stays above the tolerance for any distance
// under about 700 km, so no real case is rounded down.
type CeilMinutes struct {
	// Space measures the distance; normally [Planar].
	Space Space
	// MetresPerMinute is the single speed of every courier; > 0.
	MetresPerMinute float64
}

// ceilTolerance is the relative slack of [CeilMinutes]; rounding error of a
// square root and a division is a few parts in 10^16.
const ceilTolerance = 1e-12

// Validate reports whether the space is set and the speed finite and > 0.
func (m CeilMinutes) Validate() error {
	var errs []error
	if m.Space == nil {
		errs = append(errs, errors.New("geo: ceil-minutes model has no space"))
	}
	if v := m.MetresPerMinute; !(v > 0) || math.IsInf(v, 0) {
		errs = append(errs, fmt.Errorf("geo: ceil-minutes speed %g m/min must be finite and > 0", v))
	}
	return errors.Join(errs...)
}

// TravelTime returns the whole number of minutes, rounded up, that the
// distance takes at MetresPerMinute; the profile is ignored, as in the
// benchmark. The result saturates at the largest whole number of minutes a
// [time.Duration] holds.
func (m CeilMinutes) TravelTime(from, to orb.Point, _ Profile) time.Duration {
	minutes := m.Space.Distance(from, to) / m.MetresPerMinute
	const maxMinutes = float64(math.MaxInt64 / int64(time.Minute))
	if !(minutes < maxMinutes) { // also catches NaN and +Inf from a bad speed
		return time.Duration(math.MaxInt64/int64(time.Minute)) * time.Minute
	}
	whole := math.Ceil(minutes - ceilTolerance*math.Max(1, minutes))
	if whole <= 0 {
		return 0
	}
	return time.Duration(whole) * time.Minute
}

// secondsToDuration converts with rounding to the nanosecond, clamping
// negative values to 0 and huge or NaN values to the largest duration so that
// a bad input yields "unreachable" rather than a wrapped negative time.
func secondsToDuration(s float64) time.Duration {
	const maxSeconds = float64(math.MaxInt64) / float64(time.Second)
	switch {
	case s <= 0:
		return 0
	case !(s < maxSeconds):
		return math.MaxInt64
	}
	ns := math.Round(s * float64(time.Second))
	if ns >= float64(math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

package dispatch

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// countingModel answers from a formula of the exact bits of its arguments, so that two points equal only as floats
// get different answers, and counts the questions.
type countingModel struct{ asked int }

func (m *countingModel) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	m.asked++
	h := math.Float64bits(from[0]) ^ math.Float64bits(from[1])<<1 ^ math.Float64bits(to[0])<<2 ^
		math.Float64bits(to[1])<<3 ^ uint64(p)<<5
	return time.Duration(h % 1e12)
}

// TestLegMemoAnswersAsItsModel: over many more pairs than the memo has slots (so that slots are shared and
// overwritten), every answer is the model's, a pair asked again at once is not asked of the model again, a point
// that equals another only as a float (-0 and 0) and another profile are not taken for it, and over forgets.
func TestLegMemoAnswersAsItsModel(t *testing.T) {
	inner := &countingModel{}
	truth := &countingModel{}
	var m legMemo
	m.over(inner)
	rng := rand.New(rand.NewPCG(3, 4))
	pt := func() orb.Point { return orb.Point{float64(rng.IntN(300)) / 100, float64(rng.IntN(300)) / 100} }
	for range 4 * legMemoSlots {
		a, b, p := pt(), pt(), geo.Profile(rng.IntN(int(geo.NumProfiles)))
		if got, want := m.TravelTime(a, b, p), truth.TravelTime(a, b, p); got != want {
			t.Fatalf("%v→%v %s: memo %v, model %v", a, b, p, got, want)
		}
		before := inner.asked
		if got, want := m.TravelTime(a, b, p), truth.TravelTime(a, b, p); got != want || inner.asked != before {
			t.Fatalf("%v→%v %s asked again: memo %v (model asked %d more times), model %v", a, b, p, got,
				inner.asked-before, want)
		}
	}
	// Two questions in one slot whose starts are equal only as floats.
	zero, negZero := orb.Point{0, 1}, orb.Point{math.Copysign(0, -1), 1}
	to := orb.Point{1, 1}
	for y := 0; legSlotOf(zero, to, geo.Bike) != legSlotOf(negZero, to, geo.Bike); y++ {
		if y == 1e6 {
			t.Fatal("no two questions of one slot start at 0 and -0")
		}
		to = orb.Point{1, float64(y)}
	}
	m.TravelTime(zero, to, geo.Bike)
	if got, want := m.TravelTime(negZero, to, geo.Bike), truth.TravelTime(negZero, to, geo.Bike); got != want {
		t.Errorf("-0 answered as 0: %v, model %v", got, want)
	}
	// Two questions in one slot that differ only in their profile.
	var a orb.Point
	for x := 0; legSlotOf(a, to, geo.Car) != legSlotOf(a, to, geo.Bike); x++ {
		if x == 1e6 {
			t.Fatal("no two questions of one slot differ only in their profile: the slots do not mix the profile in")
		}
		a = orb.Point{float64(x), 2}
	}
	m.TravelTime(a, to, geo.Bike)
	if got, want := m.TravelTime(a, to, geo.Car), truth.TravelTime(a, to, geo.Car); got != want {
		t.Errorf("car answered as bike: %v, model %v", got, want)
	}
	other := &countingModel{}
	m.over(other)
	m.TravelTime(zero, to, geo.Car)
	if other.asked != 1 {
		t.Errorf("after over, the new model was asked %d times for a pair the memo held, want 1", other.asked)
	}
}

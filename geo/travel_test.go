package geo_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

func TestStraightLineDefaults(t *testing.T) {
	m := geo.NewStraightLine(geo.Geographic)
	if err := m.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	want := map[geo.Profile]float64{geo.Foot: 1.25, geo.Bike: 4, geo.EBike: 5, geo.Scooter: 6.5, geo.Car: 8}
	for p, v := range want {
		if m.SpeedMPS[p] != v {
			t.Errorf("default speed of %v = %v, want %v", p, m.SpeedMPS[p], v)
		}
	}
	if m.Detour != 1.3 {
		t.Errorf("default detour = %v, want 1.3", m.Detour)
	}
}

func TestStraightLineValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m *geo.StraightLine)
		wants []string
	}{
		{"no space", func(m *geo.StraightLine) { m.Space = nil }, []string{"no space"}},
		{"detour below 1", func(m *geo.StraightLine) { m.Detour = 0.9 }, []string{"detour 0.9"}},
		{"detour NaN", func(m *geo.StraightLine) { m.Detour = math.NaN() }, []string{"detour NaN"}},
		{"detour Inf", func(m *geo.StraightLine) { m.Detour = math.Inf(1) }, []string{"detour +Inf"}},
		{"zero speed", func(m *geo.StraightLine) { m.SpeedMPS[geo.Bike] = 0 }, []string{"speed for bike is 0"}},
		{"negative speed", func(m *geo.StraightLine) { m.SpeedMPS[geo.Car] = -3 }, []string{"speed for car is -3"}},
		{"infinite speed", func(m *geo.StraightLine) { m.SpeedMPS[geo.Foot] = math.Inf(1) }, []string{"speed for foot is +Inf"}},
		{"several at once", func(m *geo.StraightLine) { m.Detour = 0; m.SpeedMPS[geo.Scooter] = math.NaN() },
			[]string{"detour 0", "speed for scooter is NaN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := geo.NewStraightLine(geo.Planar)
			tc.edit(m)
			err := m.Validate()
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
	var zero geo.StraightLine
	if err := zero.Validate(); err == nil {
		t.Error("zero StraightLine validates")
	}
}

func TestStraightLineTravelTime(t *testing.T) {
	m := geo.NewStraightLine(geo.Planar)
	origin := orb.Point{0, 0}
	tests := []struct {
		to   orb.Point
		p    geo.Profile
		want time.Duration
	}{
		// 1000 m × 1.3 = 1300 m of street.
		{orb.Point{600, 800}, geo.Foot, 1040 * time.Second}, // 1300 / 1.25
		{orb.Point{600, 800}, geo.Bike, 325 * time.Second},  // 1300 / 4
		{orb.Point{600, 800}, geo.EBike, 260 * time.Second}, // 1300 / 5
		{orb.Point{600, 800}, geo.Scooter, 200 * time.Second},
		{orb.Point{600, 800}, geo.Car, 162500 * time.Millisecond}, // 1300 / 8
		{orb.Point{0, 0}, geo.Car, 0},
		{orb.Point{3, 4}, geo.Car, 812500 * time.Microsecond}, // 6.5 / 8
	}
	for _, tc := range tests {
		got := m.TravelTime(origin, tc.to, tc.p)
		if got != tc.want {
			t.Errorf("TravelTime(%v, %v, %v) = %v, want %v", origin, tc.to, tc.p, got, tc.want)
		}
	}

	// Geographic: one degree of latitude, hand-computed.
	g := geo.NewStraightLine(geo.Geographic)
	secs := earthRadius * math.Pi / 180 * 1.3 / 8
	want := time.Duration(math.Round(secs * 1e9))
	if got := g.TravelTime(orb.Point{121, 31}, orb.Point{121, 32}, geo.Car); got != want {
		t.Errorf("geographic TravelTime = %v, want %v", got, want)
	}
}

func TestStraightLineMonotone(t *testing.T) {
	m := geo.NewStraightLine(geo.Geographic)
	from := orb.Point{121.47, 31.23}
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		prev := time.Duration(-1)
		for i := range 200 {
			to := orb.Point{121.47 + float64(i)*0.0005, 31.23 + float64(i)*0.0003}
			got := m.TravelTime(from, to, p)
			if got < prev {
				t.Fatalf("%v: travel time fell from %v to %v at step %d", p, prev, got, i)
			}
			prev = got
			if p > 0 {
				if slower := m.TravelTime(from, to, p-1); slower < got {
					t.Fatalf("%v is slower than %v at step %d: %v > %v", p, p-1, i, got, slower)
				}
			}
		}
	}
}

func TestStraightLineSaturates(t *testing.T) {
	m := geo.NewStraightLine(geo.Planar)
	if got := m.TravelTime(orb.Point{0, 0}, orb.Point{1e300, 0}, geo.Foot); got != math.MaxInt64 {
		t.Errorf("huge distance gave %v, want the largest duration", got)
	}
	m.SpeedMPS[geo.Bike] = 0
	if got := m.TravelTime(orb.Point{0, 0}, orb.Point{10, 0}, geo.Bike); got != math.MaxInt64 {
		t.Errorf("zero speed gave %v, want the largest duration", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("undefined profile did not panic")
		}
	}()
	m.TravelTime(orb.Point{0, 0}, orb.Point{10, 0}, geo.Profile(9))
}

func TestCeilMinutes(t *testing.T) {
	m := geo.CeilMinutes{Space: geo.Planar, MetresPerMinute: 320}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		to   orb.Point
		want time.Duration
	}{
		{"zero", orb.Point{0, 0}, 0},
		{"one metre", orb.Point{1, 0}, time.Minute},
		{"exactly one minute", orb.Point{320, 0}, time.Minute},
		{"one metre more", orb.Point{321, 0}, 2 * time.Minute},
		{"exactly two minutes diagonally (3-4-5 × 128)", orb.Point{384, 512}, 2 * time.Minute},
		{"just under three minutes", orb.Point{959, 0}, 3 * time.Minute},
		{"exactly ten minutes diagonally (3-4-5 × 640)", orb.Point{1920, 2560}, 10 * time.Minute},
		{"a hair over a multiple still rounds up", orb.Point{3200, 1}, 11 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []geo.Profile{geo.Foot, geo.Car} {
				if got := m.TravelTime(orb.Point{0, 0}, tc.to, p); got != tc.want {
					t.Errorf("TravelTime(0,0 → %v, %v) = %v, want %v", tc.to, p, got, tc.want)
				}
			}
		})
	}

	// Exact multiples along many directions: sqrt and division must not
	// bump any of them to the next minute. Pythagorean triples scaled so the
	// hypotenuse is a multiple of 320 m.
	triples := [][3]float64{{3, 4, 5}, {5, 12, 13}, {8, 15, 17}, {7, 24, 25}, {20, 21, 29}, {9, 40, 41}}
	for _, tr := range triples {
		for minutes := 1; minutes <= 120; minutes++ {
			s := 320 * float64(minutes) / tr[2]
			from := orb.Point{1234.5, -987.25}
			to := orb.Point{from[0] + tr[0]*s, from[1] + tr[1]*s}
			if got, want := m.TravelTime(from, to, geo.Bike), time.Duration(minutes)*time.Minute; got != want {
				t.Fatalf("%v scaled to %d min: got %v (distance %.17g)", tr, minutes, got, geo.Planar.Distance(from, to))
			}
		}
	}

	bad := geo.CeilMinutes{Space: geo.Planar}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "speed 0") {
		t.Errorf("Validate of a zero speed = %v", err)
	}
	if got := bad.TravelTime(orb.Point{0, 0}, orb.Point{1, 0}, geo.Car); got <= 0 {
		t.Errorf("zero speed gave %v, want a saturated duration", got)
	}
	if err := (geo.CeilMinutes{MetresPerMinute: 1}).Validate(); err == nil {
		t.Error("CeilMinutes without a space validates")
	}
}

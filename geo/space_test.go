package geo_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

const earthRadius = 6378137.0 // orb.EarthRadius, restated so the tests check it

// chordDistance computes the great-circle distance through 3-D unit vectors
// and the chord between them: a formula independent of haversine, well
// conditioned for short and long distances alike.
func chordDistance(a, b orb.Point) float64 {
	vec := func(p orb.Point) [3]float64 {
		lon, lat := p[0]*math.Pi/180, p[1]*math.Pi/180
		return [3]float64{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
	}
	va, vb := vec(a), vec(b)
	dx, dy, dz := va[0]-vb[0], va[1]-vb[1], va[2]-vb[2]
	chord := math.Sqrt(dx*dx + dy*dy + dz*dz)
	return 2 * math.Asin(math.Min(1, chord/2)) * earthRadius
}

func TestGeographicDistance(t *testing.T) {
	peoplesSquare := orb.Point{121.4737, 31.2304}
	bund := orb.Point{121.4903, 31.2400}
	tests := []struct {
		name string
		a, b orb.Point
		want float64
		tol  float64
	}{
		{"same point", peoplesSquare, peoplesSquare, 0, 0},
		{"one degree of latitude", orb.Point{10, 45}, orb.Point{10, 46}, earthRadius * math.Pi / 180, 1e-6},
		{"quarter of the equator", orb.Point{0, 0}, orb.Point{90, 0}, earthRadius * math.Pi / 2, 1e-6},
		{"equator to pole", orb.Point{-30, 0}, orb.Point{77, 90}, earthRadius * math.Pi / 2, 1e-6},
		{"antipodes", orb.Point{0, 0}, orb.Point{180, 0}, earthRadius * math.Pi, 1e-6},
		{"across the antimeridian", orb.Point{179.5, 0}, orb.Point{-179.5, 0}, earthRadius * math.Pi / 180, 1e-6},
		{"People's Square to the Bund", peoplesSquare, bund, chordDistance(peoplesSquare, bund), 1e-6},
		{"Shanghai to Sydney", orb.Point{121.47, 31.23}, orb.Point{151.21, -33.87}, chordDistance(orb.Point{121.47, 31.23}, orb.Point{151.21, -33.87}), 1e-3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := geo.Geographic.Distance(tc.a, tc.b)
			if math.Abs(got-tc.want) > tc.tol {
				t.Errorf("Distance(%v, %v) = %.9f, want %.9f ± %g", tc.a, tc.b, got, tc.want, tc.tol)
			}
			if back := geo.Geographic.Distance(tc.b, tc.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %v vs %v", got, back)
			}
		})
	}
	// Sanity check of the city pair against a map reading: about 1.9 km.
	if d := geo.Geographic.Distance(peoplesSquare, bund); d < 1800 || d > 2000 {
		t.Errorf("People's Square to the Bund = %.0f m, want about 1900 m", d)
	}
}

func TestPlanarDistance(t *testing.T) {
	tests := []struct {
		a, b orb.Point
		want float64
	}{
		{orb.Point{0, 0}, orb.Point{3, 4}, 5},
		{orb.Point{1000, 2000}, orb.Point{4000, 6000}, 5000},
		{orb.Point{-3, -4}, orb.Point{0, 0}, 5},
		{orb.Point{7, 7}, orb.Point{7, 7}, 0},
	}
	for _, tc := range tests {
		if got := geo.Planar.Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Planar.Distance(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		space   geo.Space
		p       orb.Point
		wantErr string // substring; "" means valid
	}{
		{"geo ok", geo.Geographic, orb.Point{121.47, 31.23}, ""},
		{"geo corners", geo.Geographic, orb.Point{180, -90}, ""},
		{"geo other corners", geo.Geographic, orb.Point{-180, 90}, ""},
		{"geo NaN lon", geo.Geographic, orb.Point{nan, 31}, "not finite"},
		{"geo +Inf lat", geo.Geographic, orb.Point{121, inf}, "not finite"},
		{"geo -Inf lon", geo.Geographic, orb.Point{-inf, 0}, "not finite"},
		{"geo lon too big", geo.Geographic, orb.Point{180.0001, 0}, "longitude 180.0001 is outside [-180, 180]"},
		{"geo lon too small", geo.Geographic, orb.Point{-181, 0}, "longitude -181"},
		{"geo lat too big", geo.Geographic, orb.Point{0, 90.5}, "latitude 90.5 is outside [-90, 90]"},
		{"geo swapped lat/lon", geo.Geographic, orb.Point{31.23, 121.47}, "latitude 121.47"},
		{"planar ok", geo.Planar, orb.Point{5e5, -4e6}, ""},
		{"planar NaN", geo.Planar, orb.Point{0, nan}, "coordinate 1"},
		{"planar Inf", geo.Planar, orb.Point{-inf, 0}, "coordinate 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.space.Validate(tc.p)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", tc.p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%v) = nil, want error containing %q", tc.p, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate(%v) = %q, want it to contain %q", tc.p, err, tc.wantErr)
			}
			if !errors.Is(err, geo.ErrInvalidPoint) {
				t.Errorf("Validate(%v) error does not wrap ErrInvalidPoint", tc.p)
			}
		})
	}
}

// boxCase is a query point and a lon/lat (or x/y) box.
type boxCase struct {
	p, min, max orb.Point
}

func (c boxCase) inside() bool {
	return c.p[0] >= c.min[0] && c.p[0] <= c.max[0] && c.p[1] >= c.min[1] && c.p[1] <= c.max[1]
}

// samples returns points of the box: n per edge including corners, and an
// interior grid, plus the spacing (metres, upper bound) between neighbouring
// edge samples.
func (c boxCase) samples(n int, planar bool) ([]orb.Point, float64) {
	var pts []orb.Point
	// lerp stays inside [a, b]: a+(b-a)·1 can round past b, and a sample
	// outside the box would make a correct bound look wrong.
	lerp := func(a, b float64, i, n int) float64 { return math.Min(b, a+(b-a)*float64(i)/float64(n-1)) }
	for i := range n {
		x := lerp(c.min[0], c.max[0], i, n)
		y := lerp(c.min[1], c.max[1], i, n)
		pts = append(pts,
			orb.Point{x, c.min[1]}, orb.Point{x, c.max[1]},
			orb.Point{c.min[0], y}, orb.Point{c.max[0], y})
	}
	const grid = 8
	for i := range grid {
		for j := range grid {
			pts = append(pts, orb.Point{lerp(c.min[0], c.max[0], i, grid), lerp(c.min[1], c.max[1], j, grid)})
		}
	}
	span := math.Max(c.max[0]-c.min[0], c.max[1]-c.min[1]) / float64(n-1)
	if !planar {
		span *= earthRadius * math.Pi / 180 // a degree of a parallel is never longer than one of a meridian
	}
	return pts, span
}

func randomGeoBox(r *rand.Rand, sizeDeg, reachDeg float64) boxCase {
	w := r.Float64() * sizeDeg
	h := r.Float64() * sizeDeg * 0.75
	lon1 := -180 + r.Float64()*(360-w)
	lat1 := -90 + r.Float64()*(180-h)
	if r.IntN(10) == 0 { // degenerate boxes: a point or a segment, as leaves hold
		if r.IntN(2) == 0 {
			w = 0
		} else {
			h = 0
		}
	}
	c := boxCase{min: orb.Point{lon1, lat1}, max: orb.Point{lon1 + w, lat1 + h}}
	lon := lon1 + w/2 + (r.Float64()*2-1)*reachDeg
	lat := lat1 + h/2 + (r.Float64()*2-1)*reachDeg
	// Wrap the longitude rather than clamp it, so queries across the
	// antimeridian from boxes near it occur.
	lon = math.Mod(lon+540, 360) - 180
	c.p = orb.Point{lon, math.Max(-90, math.Min(90, lat))}
	return c
}

func TestGeographicBoxDistanceIsTightLowerBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scales := []struct {
		name            string
		size, reach     float64
		cases, perEdge  int
		wantNaiveFlawed bool
	}{
		{"city", 0.2, 0.5, 400, 100, true},
		{"continental", 40, 60, 400, 200, true},
		{"global", 120, 180, 200, 300, true},
	}
	for _, sc := range scales {
		t.Run(sc.name, func(t *testing.T) {
			naiveFlawed := 0
			for range sc.cases {
				c := randomGeoBox(r, sc.size, sc.reach)
				bound := geo.Geographic.BoxDistance(c.p, c.min, c.max)
				inside := c.inside()
				if inside && bound != 0 {
					t.Fatalf("%+v: point inside the box but BoxDistance = %v", c, bound)
				}
				pts, spacing := c.samples(sc.perEdge, false)
				sampledMin := math.Inf(1)
				for _, s := range pts {
					d := geo.Geographic.Distance(c.p, s)
					if bound > d {
						t.Fatalf("%+v: BoxDistance %.9f exceeds the distance %.9f to box point %v", c, bound, d, s)
					}
					sampledMin = math.Min(sampledMin, d)
				}
				// The nearest point of the box is on its boundary (or p is
				// inside), within half a spacing of an edge sample, and distance
				// is 1-Lipschitz: a bound further below than that is not tight.
				if !inside && bound < sampledMin-spacing-1e-3 {
					t.Fatalf("%+v: BoxDistance %.3f is loose: sampled minimum %.3f, spacing %.3f", c, bound, sampledMin, spacing)
				}
				if naiveClampBound(c) > sampledMin {
					naiveFlawed++
				}
			}
			// Show that the sampling can catch a wrong bound: clamping then
			// measuring is too large when meridians converge.
			if sc.wantNaiveFlawed && naiveFlawed == 0 {
				t.Errorf("the brute-force check never caught the naive clamp bound; the test has no power")
			}
			t.Logf("naive clamp bound exceeded the sampled minimum in %d of %d cases", naiveFlawed, sc.cases)
		})
	}
}

// naiveClampBound clamps p into the box and measures: not a lower bound.
func naiveClampBound(c boxCase) float64 {
	q := orb.Point{math.Max(c.min[0], math.Min(c.max[0], c.p[0])), math.Max(c.min[1], math.Min(c.max[1], c.p[1]))}
	return geo.Geographic.Distance(c.p, q)
}

func TestGeographicBoxDistanceAcrossAntimeridian(t *testing.T) {
	// A box just east of -180 and a point just west of +180: 0.2° of
	// longitude apart the short way round, not 359.8°.
	p := orb.Point{179.9, 10}
	got := geo.Geographic.BoxDistance(p, orb.Point{-180, 9}, orb.Point{-179.5, 11})
	want := geo.Geographic.Distance(p, orb.Point{-180, 10})
	if got > want || got < want-1 {
		t.Errorf("BoxDistance across the antimeridian = %.3f, want about %.3f", got, want)
	}
}

func TestPlanarBoxDistance(t *testing.T) {
	tests := []struct {
		c    boxCase
		want float64
	}{
		{boxCase{orb.Point{0, 0}, orb.Point{3, 4}, orb.Point{10, 10}}, 5},
		{boxCase{orb.Point{5, 5}, orb.Point{3, 4}, orb.Point{10, 10}}, 0},
		{boxCase{orb.Point{5, 20}, orb.Point{3, 4}, orb.Point{10, 10}}, 10},
		{boxCase{orb.Point{13, 14}, orb.Point{3, 4}, orb.Point{10, 10}}, 5},
		{boxCase{orb.Point{3, 4}, orb.Point{3, 4}, orb.Point{3, 4}}, 0},
	}
	for _, tc := range tests {
		if got := geo.Planar.BoxDistance(tc.c.p, tc.c.min, tc.c.max); got != tc.want {
			t.Errorf("Planar.BoxDistance(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}

	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		x, y := r.Float64()*3e4, r.Float64()*3e4
		c := boxCase{
			p:   orb.Point{r.Float64() * 3e4, r.Float64() * 3e4},
			min: orb.Point{x, y},
			max: orb.Point{x + r.Float64()*5e3, y + r.Float64()*5e3},
		}
		bound := geo.Planar.BoxDistance(c.p, c.min, c.max)
		pts, spacing := c.samples(100, true)
		sampledMin := math.Inf(1)
		for _, s := range pts {
			d := geo.Planar.Distance(c.p, s)
			if bound > d {
				t.Fatalf("%+v: BoxDistance %v exceeds the distance %v to box point %v", c, bound, d, s)
			}
			sampledMin = math.Min(sampledMin, d)
		}
		if c.inside() {
			if bound != 0 {
				t.Fatalf("%+v: point inside the box but BoxDistance = %v", c, bound)
			}
		} else if bound < sampledMin-spacing {
			t.Fatalf("%+v: BoxDistance %v is loose: sampled minimum %v", c, bound, sampledMin)
		}
	}
}

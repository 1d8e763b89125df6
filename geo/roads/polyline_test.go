package roads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// The format's published example: (38.5, -120.2), (40.7, -120.95), (43.252, -126.453).
func ExampleEncodePolyline() {
	line := orb.LineString{{-120.2, 38.5}, {-120.95, 40.7}, {-126.453, 43.252}}
	s := EncodePolyline(line)
	fmt.Println(s)
	back, _ := DecodePolyline(s)
	fmt.Println(back)
	// Output:
	// _p~iF~ps|U_ulLnnqC_mqNvxq`@
	// [[-120.2 38.5] [-120.95 40.7] [-126.453 43.252]]
}

func TestPolylineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		line := make(orb.LineString, rng.IntN(20))
		for i := range line {
			line[i] = orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		}
		back, err := DecodePolyline(EncodePolyline(line))
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(line) {
			t.Fatalf("%d points back from %d", len(back), len(line))
		}
		for i := range line {
			for k := 0; k < 2; k++ {
				if d := math.Abs(back[i][k] - line[i][k]); d > 0.5e-5+1e-12 {
					t.Fatalf("point %d coordinate %d: %v back as %v", i, k, line[i][k], back[i][k])
				}
			}
		}
		// Points already on the 1e-5 grid come back exactly.
		if s := EncodePolyline(back); s != EncodePolyline(line) {
			t.Fatalf("re-encoding changed %q to %q", EncodePolyline(line), s)
		}
	}
}

func TestDecodePolylineErrors(t *testing.T) {
	for _, s := range []string{
		"_p~iF",                                 // a latitude without its longitude
		"_p~iF~ps|",                             // a value cut short
		"_p~iF~ps|U ",                           // a byte below the range
		"~~~~~~~~~~~~~?",                        // a value too large
		EncodePolyline(orb.LineString{{0, 95}}), // a latitude out of range
		EncodePolyline(orb.LineString{{170, 0}, {190, 0}}), // a longitude out of range
	} {
		if _, err := DecodePolyline(s); err == nil {
			t.Errorf("DecodePolyline(%q) succeeded", s)
		}
	}
	if l, err := DecodePolyline(""); err != nil || len(l) != 0 {
		t.Errorf("empty: %v, %v", l, err)
	}
}

func FuzzDecodePolyline(f *testing.F) {
	f.Add("_p~iF~ps|U_ulLnnqC_mqNvxq`@")
	f.Add("??")
	f.Fuzz(func(t *testing.T, s string) {
		line, err := DecodePolyline(s)
		if err != nil {
			return
		}
		back, err := DecodePolyline(EncodePolyline(line))
		if err != nil || len(back) != len(line) {
			t.Fatalf("re-encoded %v: %v, %d points", line, err, len(back))
		}
		for i := range line {
			if back[i] != line[i] {
				t.Fatalf("point %d: %v back as %v", i, line[i], back[i])
			}
		}
	})
}

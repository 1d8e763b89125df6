package kpi

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	// 1..11: the 10th percentile has rank 1.0 (value 2), the median rank 5 (6), the 90th rank 9 (10).
	xs := []float64{11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	got := Summarize(xs)
	want := Stats{N: 11, Mean: 6, Std: math.Sqrt(10), Min: 1, P10: 2, P50: 6, P90: 10, Max: 11}
	if math.Abs(got.Std-want.Std) > 1e-12 {
		t.Fatalf("std %v, want %v", got.Std, want.Std)
	}
	got.Std = want.Std
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if xs[0] != 11 {
		t.Fatal("Summarize sorted its input in place")
	}
}

func TestPercentileInterpolates(t *testing.T) {
	s := []float64{10, 20}
	for _, c := range []struct{ p, want float64 }{{0, 10}, {0.25, 12.5}, {0.5, 15}, {1, 20}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("p=%v: %v, want %v", c.p, got, c.want)
		}
	}
	if got := Summarize(nil); got != (Stats{}) {
		t.Errorf("empty sample: %+v", got)
	}
	if got := Summarize([]float64{3}); got.P10 != 3 || got.P90 != 3 || got.Std != 0 {
		t.Errorf("one value: %+v", got)
	}
}

// Package kpi summarises a sample of measurements the way the MDRP evaluator reports them: mean, standard
// deviation, minimum, 10th, 50th and 90th percentile and maximum.
package kpi

import (
	"math"
	"slices"
)

// Stats summarises a sample. Percentiles interpolate linearly between the two nearest ranks (the common
// "linear" definition: rank p·(n−1) in the sorted sample). Std is the population standard deviation. All fields
// are zero for an empty sample (N says so).
type Stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	P10  float64 `json:"p10"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	Max  float64 `json:"max"`
}

// Summarize computes the Stats of xs. It does not modify xs. NaN values are not allowed (they would make every
// figure NaN); callers leave missing measurements out.
func Summarize(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var sq float64
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	return Stats{
		N:    len(s),
		Mean: mean,
		Std:  math.Sqrt(sq / float64(len(s))),
		Min:  s[0],
		P10:  Percentile(s, 0.10),
		P50:  Percentile(s, 0.50),
		P90:  Percentile(s, 0.90),
		Max:  s[len(s)-1],
	}
}

// Percentile returns the p-quantile (0 <= p <= 1) of a sorted, non-empty sample by linear interpolation.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	rank := p * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := rank - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

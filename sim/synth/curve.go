package synth

import (
	"math"
	"slices"
)

// curve is the relative arrival rate over the day, x in minutes since the day's start:
// (base + Σ weight·exp(−(x−centre)²/(2·width²))) · Π multipliers of the surges holding x.
type curve struct {
	base   float64
	peaks  []peak
	surges []surge
	length float64 // minutes
}

type peak struct{ centre, width, weight float64 }

// surge multiplies the rate on [from, to).
type surge struct{ from, to, mult float64 }

// shape is the rate without surges.
func (c *curve) shape(x float64) float64 {
	r := c.base
	for _, p := range c.peaks {
		z := (x - p.centre) / p.width
		r += p.weight * math.Exp(-z*z/2)
	}
	return r
}

func (c *curve) multiplier(x float64) float64 {
	m := 1.0
	for _, s := range c.surges {
		if x >= s.from && x < s.to {
			m *= s.mult
		}
	}
	return m
}

func (c *curve) rate(x float64) float64 { return c.shape(x) * c.multiplier(x) }

// shapeIntegral is the integral of shape over [a, b], exact (through erf).
func (c *curve) shapeIntegral(a, b float64) float64 {
	r := c.base * (b - a)
	for _, p := range c.peaks {
		s := p.width * math.Sqrt2
		r += p.weight * p.width * math.Sqrt(math.Pi/2) * (math.Erf((b-p.centre)/s) - math.Erf((a-p.centre)/s))
	}
	return r
}

// breakpoints returns 0, the length and the surge boundaries within the day, sorted and distinct: between two
// consecutive ones the multiplier is constant.
func (c *curve) breakpoints() []float64 {
	xs := []float64{0, c.length}
	for _, s := range c.surges {
		for _, x := range []float64{s.from, s.to} {
			if x > 0 && x < c.length {
				xs = append(xs, x)
			}
		}
	}
	slices.Sort(xs)
	return slices.Compact(xs)
}

// integral is the integral of the rate over [a, b] (within the day).
func (c *curve) integral(a, b float64) float64 {
	xs := c.breakpoints()
	var r float64
	for i := 1; i < len(xs); i++ {
		lo, hi := max(xs[i-1], a), min(xs[i], b)
		if hi > lo {
			r += c.shapeIntegral(lo, hi) * c.multiplier((xs[i-1]+xs[i])/2)
		}
	}
	return r
}

// total is the integral of the rate over the day.
func (c *curve) total() float64 { return c.integral(0, c.length) }

// envelopeStep is the width in minutes of the pieces of the thinning envelope.
const envelopeStep = 5

// piece is a stretch [from, to) of the day with an upper bound of the rate on it.
type piece struct{ from, to, bound float64 }

// envelope returns a piecewise-constant upper bound of the rate: pieces of envelopeStep minutes, cut also at the
// surge boundaries so that the multiplier is constant on each. On a piece, a Gaussian is largest at its centre if
// the piece holds it, else at the end nearer to it.
func (c *curve) envelope() []piece {
	cuts := c.breakpoints()
	for x := float64(envelopeStep); x < c.length; x += envelopeStep {
		cuts = append(cuts, x)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	pieces := make([]piece, 0, len(cuts)-1)
	for i := 1; i < len(cuts); i++ {
		a, b := cuts[i-1], cuts[i]
		top := c.base
		for _, p := range c.peaks {
			x := min(max(p.centre, a), b)
			z := (x - p.centre) / p.width
			top += p.weight * math.Exp(-z*z/2)
		}
		// A relative margin guards the bound against rounding in rate.
		pieces = append(pieces, piece{from: a, to: b, bound: top * c.multiplier((a+b)/2) * (1 + 1e-12)})
	}
	return pieces
}

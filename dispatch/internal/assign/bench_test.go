package assign

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testProblem is one generated instance.
type testProblem struct {
	rows, cols int
	unassigned []int64
	edges      []Edge
}

// geoProblem makes an instance shaped like a dispatch round: rows and columns are random points in a square
// whose side grows with the square root of the column count (so density, and with it the local structure,
// stays the same at every size), each row has edges to its k nearest columns, costing the distance in metres
// plus a little noise, and leaving a row unassigned is so expensive that nearly every row is assigned. The
// nearest columns are found naively; callers keep this out of any timing.
func geoProblem(rows, cols, k int, seed uint64) testProblem {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	side := 100 * math.Sqrt(float64(cols)) // about 100 m between neighbouring columns
	type point struct{ x, y float64 }
	cpts := make([]point, cols)
	for i := range cpts {
		cpts[i] = point{rng.Float64() * side, rng.Float64() * side}
	}
	p := testProblem{rows: rows, cols: cols, unassigned: make([]int64, rows)}
	// near holds the k nearest columns seen so far, sorted by distance.
	type cand struct {
		d   float64
		col int32
	}
	near := make([]cand, 0, k)
	for r := range rows {
		p.unassigned[r] = 1e9
		x, y := rng.Float64()*side, rng.Float64()*side
		near = near[:0]
		for c, q := range cpts {
			d := math.Hypot(q.x-x, q.y-y)
			if len(near) == k && d >= near[k-1].d {
				continue
			}
			if len(near) < k {
				near = append(near, cand{})
			}
			i := len(near) - 1
			for i > 0 && near[i-1].d > d {
				near[i] = near[i-1]
				i--
			}
			near[i] = cand{d, int32(c)}
		}
		for _, n := range near {
			p.edges = append(p.edges, Edge{Row: int32(r), Col: n.col, Cost: int64(n.d) + rng.Int64N(20)})
		}
	}
	return p
}

func BenchmarkSolve(b *testing.B) {
	for _, size := range [][2]int{{1000, 3000}, {1500, 5000}, {3000, 10000}, {6000, 20000}} {
		b.Run(fmt.Sprintf("rows=%d,cols=%d", size[0], size[1]), func(b *testing.B) {
			p := geoProblem(size[0], size[1], 16, 1)
			var s Solver
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Solve(p.rows, p.cols, p.unassigned, p.edges); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSolveBalanced covers rounds with about as many couriers as bundles, the hard regime for augmenting
// paths: the last free columns are far from the last free rows, so late searches cover much of the graph.
func BenchmarkSolveBalanced(b *testing.B) {
	for _, n := range []int{1000, 2000} {
		b.Run(fmt.Sprintf("rows=%d,cols=%d", n, n), func(b *testing.B) {
			p := geoProblem(n, n, 16, 1)
			var s Solver
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Solve(p.rows, p.cols, p.unassigned, p.edges); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

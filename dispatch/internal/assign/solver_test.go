package assign

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// pairCosts maps each (row, col) pair to its cheapest edge cost, the meaning Solve gives to duplicates.
func pairCosts(edges []Edge) map[[2]int32]int64 {
	m := make(map[[2]int32]int64, len(edges))
	for _, e := range edges {
		k := [2]int32{e.Row, e.Col}
		if c, ok := m[k]; !ok || e.Cost < c {
			m[k] = e.Cost
		}
	}
	return m
}

// checkMatching verifies that got is a valid solution of the problem, computes its cost from the input alone,
// and checks that Solver.Cost agrees with it.
func checkMatching(t *testing.T, s *Solver, rows, cols int, unassigned []int64, edges []Edge, got []int32) int64 {
	t.Helper()
	if len(got) != rows {
		t.Fatalf("len(result) = %d, want %d", len(got), rows)
	}
	costs := pairCosts(edges)
	used := make(map[int32]int32)
	var total int64
	for r, c := range got {
		if c == -1 {
			total += unassigned[r]
			continue
		}
		if c < 0 || int(c) >= cols {
			t.Fatalf("row %d assigned to out-of-range column %d", r, c)
		}
		cost, ok := costs[[2]int32{int32(r), c}]
		if !ok {
			t.Fatalf("row %d assigned to column %d without an edge", r, c)
		}
		if prev, ok := used[c]; ok {
			t.Fatalf("column %d assigned to rows %d and %d", c, prev, r)
		}
		used[c] = int32(r)
		total += cost
	}
	if s.Cost() != total {
		t.Fatalf("Cost() = %d, but the assignment costs %d", s.Cost(), total)
	}
	return total
}

// checkDual verifies the optimality certificate the solver leaves behind, against the input edges rather than
// the solver's normalised copy: u and v are a feasible solution of the dual linear program
//
//	max sum(u) + sum(v)  s.t.  u[r] + v[c] <= cost(r, c) for every edge,  u[r] <= unassigned[r],  v[c] <= 0
//
// whose value equals the cost of the assignment. By weak duality no assignment can be cheaper, so this proves
// optimality on instances far too large to brute-force.
func checkDual(t *testing.T, s *Solver, rows, cols int, unassigned []int64, edges []Edge, total int64) {
	t.Helper()
	if len(s.u) != rows || len(s.col) != cols {
		t.Fatalf("potentials sized %d/%d, want %d/%d", len(s.u), len(s.col), rows, cols)
	}
	var dual int64
	for r, u := range s.u {
		if u > unassigned[r] {
			t.Fatalf("u[%d] = %d > unassigned %d", r, u, unassigned[r])
		}
		dual += u
	}
	for c, col := range s.col {
		if col.v > 0 {
			t.Fatalf("v[%d] = %d > 0", c, col.v)
		}
		dual += col.v
	}
	for _, e := range edges {
		if uv := s.u[e.Row] + s.col[e.Col].v; uv > e.Cost {
			t.Fatalf("edge %+v violates the dual: u+v = %d", e, uv)
		}
	}
	if dual != total {
		t.Fatalf("dual value %d != assignment cost %d", dual, total)
	}
}

// bruteForce returns the optimal cost by trying every assignment.
func bruteForce(rows, cols int, unassigned []int64, edges []Edge) int64 {
	costs := pairCosts(edges)
	used := make([]bool, cols)
	var rec func(r int) int64
	rec = func(r int) int64 {
		if r == rows {
			return 0
		}
		best := unassigned[r] + rec(r+1)
		for c := range cols {
			cost, ok := costs[[2]int32{int32(r), int32(c)}]
			if !ok || used[c] {
				continue
			}
			used[c] = true
			best = min(best, cost+rec(r+1))
			used[c] = false
		}
		return best
	}
	return rec(0)
}

// greedyCost is the cost of first-come greedy: rows in order take their cheapest free column if it beats
// staying unassigned.
func greedyCost(rows, cols int, unassigned []int64, edges []Edge) int64 {
	costs := pairCosts(edges)
	byRow := make([][]Edge, rows)
	for k, c := range costs {
		byRow[k[0]] = append(byRow[k[0]], Edge{Row: k[0], Col: k[1], Cost: c})
	}
	used := make([]bool, cols)
	var total int64
	for r := range rows {
		best, bestCol := unassigned[r], int32(-1)
		for _, e := range byRow[r] {
			if !used[e.Col] && (e.Cost < best || (e.Cost == best && bestCol >= 0 && e.Col < bestCol)) {
				best, bestCol = e.Cost, e.Col
			}
		}
		if bestCol >= 0 {
			used[bestCol] = true
		}
		total += best
	}
	return total
}

func solve(t *testing.T, rows, cols int, unassigned []int64, edges []Edge) (*Solver, []int32) {
	t.Helper()
	var s Solver
	got, err := s.Solve(rows, cols, unassigned, edges)
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	return &s, got
}

func TestHandCases(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		unassigned []int64
		edges      []Edge
		want       []int32
		wantCost   int64
	}{
		{name: "empty", want: []int32{}},
		{name: "no columns", rows: 2, unassigned: []int64{3, 4}, want: []int32{-1, -1}, wantCost: 7},
		{
			name: "row without edges stays unassigned",
			rows: 2, cols: 2, unassigned: []int64{100, 100},
			edges: []Edge{{0, 1, 5}},
			want:  []int32{1, -1}, wantCost: 105,
		},
		{
			// Greedy in row order gives row 0 column 0 (cost 1) and row 1 column 1 (cost 100).
			name: "greedy is wrong",
			rows: 2, cols: 2, unassigned: []int64{1000, 1000},
			edges: []Edge{{0, 0, 1}, {0, 1, 2}, {1, 0, 1}, {1, 1, 100}},
			want:  []int32{1, 0}, wantCost: 3,
		},
		{
			name: "unassigned cheaper than every edge",
			rows: 2, cols: 2, unassigned: []int64{5, 0},
			edges: []Edge{{0, 0, 6}, {0, 1, 5}, {1, 0, 0}, {1, 1, 7}},
			want:  []int32{-1, -1}, wantCost: 5,
		},
		{
			// Both rows want column 0; row 1 loses less by falling back to column 1 than row 0 by staying out.
			name: "column wanted by two rows",
			rows: 2, cols: 2, unassigned: []int64{50, 50},
			edges: []Edge{{0, 0, 10}, {1, 0, 10}, {1, 1, 20}},
			want:  []int32{0, 1}, wantCost: 30,
		},
		{
			// Here the second row is better off unassigned than on its only alternative.
			name: "column wanted by two rows, loser unassigned",
			rows: 2, cols: 2, unassigned: []int64{50, 15},
			edges: []Edge{{0, 0, 10}, {1, 0, 10}, {1, 1, 20}},
			want:  []int32{0, -1}, wantCost: 25,
		},
		{
			// A chain of displacements: row 2 can only take column 0, which pushes row 0 to 1 and row 1 to 2.
			name: "long augmenting path",
			rows: 3, cols: 3, unassigned: []int64{100, 100, 100},
			edges: []Edge{{0, 0, 1}, {0, 1, 2}, {1, 1, 1}, {1, 2, 2}, {2, 0, 1}},
			want:  []int32{1, 2, 0}, wantCost: 5,
		},
		{
			name: "duplicates keep the cheapest",
			rows: 1, cols: 1, unassigned: []int64{10},
			edges: []Edge{{0, 0, 9}, {0, 0, 4}, {0, 0, 7}},
			want:  []int32{0}, wantCost: 4,
		},
		{
			name: "zero costs",
			rows: 2, cols: 1, unassigned: []int64{0, 1},
			edges: []Edge{{0, 0, 0}, {1, 0, 0}},
			want:  []int32{-1, 0}, wantCost: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := solve(t, tc.rows, tc.cols, tc.unassigned, tc.edges)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			total := checkMatching(t, s, tc.rows, tc.cols, tc.unassigned, tc.edges, got)
			if total != tc.wantCost {
				t.Fatalf("cost %d, want %d", total, tc.wantCost)
			}
			checkDual(t, s, tc.rows, tc.cols, tc.unassigned, tc.edges, total)
		})
	}
}

// randomSmall makes an instance small enough for brute force, with costs drawn from a narrow range so that ties
// and zero costs are common.
func randomSmall(rng *rand.Rand) (rows, cols int, unassigned []int64, edges []Edge) {
	rows, cols = rng.IntN(7), rng.IntN(7)
	maxCost := int64(1 + rng.IntN(12))
	unassigned = make([]int64, rows)
	for r := range unassigned {
		unassigned[r] = rng.Int64N(maxCost + 2)
	}
	density := rng.Float64()
	for r := range rows {
		for c := range cols {
			if rng.Float64() < density {
				edges = append(edges, Edge{Row: int32(r), Col: int32(c), Cost: rng.Int64N(maxCost + 1)})
			}
			// Occasional duplicates exercise the keep-the-cheapest rule.
			if rng.IntN(10) == 0 {
				edges = append(edges, Edge{Row: int32(r), Col: int32(c), Cost: rng.Int64N(maxCost + 1)})
			}
		}
	}
	return rows, cols, unassigned, edges
}

func TestRandomSmallAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s, shuffled Solver
	for iter := range 20000 {
		rows, cols, unassigned, edges := randomSmall(rng)
		got, err := s.Solve(rows, cols, unassigned, edges)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		total := checkMatching(t, &s, rows, cols, unassigned, edges, got)
		if want := bruteForce(rows, cols, unassigned, edges); total != want {
			t.Fatalf("iter %d: cost %d, brute force %d\nunassigned=%v edges=%v got=%v", iter, total, want, unassigned, edges, got)
		}
		checkDual(t, &s, rows, cols, unassigned, edges, total)

		// The same set of edges in another order must give the very same slice.
		first := slices.Clone(got)
		perm := slices.Clone(edges)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		again, err := shuffled.Solve(rows, cols, unassigned, perm)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		if !slices.Equal(first, again) {
			t.Fatalf("iter %d: shuffled edges gave %v, original order %v", iter, again, first)
		}
	}
}

func TestErrors(t *testing.T) {
	ok := []Edge{{0, 0, 1}}
	tests := []struct {
		name       string
		rows, cols int
		unassigned []int64
		edges      []Edge
	}{
		{"negative cost", 1, 1, []int64{5}, []Edge{{0, 0, -1}}},
		{"cost too large", 1, 1, []int64{5}, []Edge{{0, 0, 1 << 50}}},
		{"negative unassigned", 1, 1, []int64{-1}, ok},
		{"unassigned too large", 1, 1, []int64{1 << 50}, ok},
		{"row too large", 1, 1, []int64{5}, []Edge{{1, 0, 1}}},
		{"negative row", 1, 1, []int64{5}, []Edge{{-1, 0, 1}}},
		{"col too large", 1, 1, []int64{5}, []Edge{{0, 1, 1}}},
		{"negative col", 1, 1, []int64{5}, []Edge{{0, -1, 1}}},
		{"len(unassigned) too short", 2, 1, []int64{5}, ok},
		{"len(unassigned) too long", 1, 1, []int64{5, 5}, ok},
		{"negative rows", -1, 1, nil, nil},
		{"negative cols", 0, -1, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Solver
			got, err := s.Solve(tc.rows, tc.cols, tc.unassigned, tc.edges)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, %v; want an *InputError", got, err)
			}
			if got != nil {
				t.Fatalf("result %v alongside an error", got)
			}
		})
	}
	// The largest allowed cost is accepted, and the maximum-size sums do not overflow.
	var s Solver
	big := MaxCost - 1
	got, err := s.Solve(2, 1, []int64{big, big}, []Edge{{0, 0, big - 1}, {1, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{-1, 0}; !slices.Equal(got, want) || s.Cost() != big {
		t.Fatalf("got %v cost %d, want %v cost %d", got, s.Cost(), want, big)
	}
}

// randomSparse makes a rows x cols instance with about perRow distinct random columns per row.
func randomSparse(rng *rand.Rand, rows, cols, perRow int, maxCost int64) ([]int64, []Edge) {
	unassigned := make([]int64, rows)
	var edges []Edge
	for r := range rows {
		unassigned[r] = maxCost/2 + rng.Int64N(maxCost)
		for range perRow {
			edges = append(edges, Edge{Row: int32(r), Col: int32(rng.IntN(cols)), Cost: rng.Int64N(maxCost)})
		}
	}
	return unassigned, edges
}

func TestLargerRandomConsistency(t *testing.T) {
	const rows, cols, perRow = 300, 1000, 10
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 7))
		// Small cost ranges force many ties; large ones exercise big numbers.
		maxCost := []int64{10, 1000, 1 << 30, 100, MaxCost / 2}[seed]
		unassigned, edges := randomSparse(rng, rows, cols, perRow, maxCost)
		s, got := solve(t, rows, cols, unassigned, edges)
		total := checkMatching(t, s, rows, cols, unassigned, edges, got)
		checkDual(t, s, rows, cols, unassigned, edges, total)
		if g := greedyCost(rows, cols, unassigned, edges); total > g {
			t.Fatalf("seed %d: cost %d worse than greedy %d", seed, total, g)
		}
		first := slices.Clone(got)
		rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
		if again, _ := s.Solve(rows, cols, unassigned, edges); !slices.Equal(first, again) {
			t.Fatalf("seed %d: result depends on edge order", seed)
		}
	}
}

// TestCrowded has far more rows than columns, so most searches run long and end on a dummy.
func TestCrowded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const rows, cols = 400, 60
	unassigned, edges := randomSparse(rng, rows, cols, 12, 500)
	s, got := solve(t, rows, cols, unassigned, edges)
	total := checkMatching(t, s, rows, cols, unassigned, edges, got)
	checkDual(t, s, rows, cols, unassigned, edges, total)
}

// TestGeographic runs benchmark-shaped instances: the usual surplus of columns, a balanced one (long augmenting
// paths late in the solve) and a shortage of columns (many rows end unassigned).
func TestGeographic(t *testing.T) {
	for _, size := range [][2]int{{800, 2500}, {600, 600}, {600, 250}} {
		p := geoProblem(size[0], size[1], 16, 11)
		s, got := solve(t, p.rows, p.cols, p.unassigned, p.edges)
		total := checkMatching(t, s, p.rows, p.cols, p.unassigned, p.edges, got)
		checkDual(t, s, p.rows, p.cols, p.unassigned, p.edges, total)
		if g := greedyCost(p.rows, p.cols, p.unassigned, p.edges); total > g {
			t.Fatalf("%v: cost %d worse than greedy %d", size, total, g)
		}
	}
}

// TestReuse checks that a Solver carries nothing from one problem into the next.
func TestReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	type problem struct {
		rows, cols int
		unassigned []int64
		edges      []Edge
	}
	var problems []problem
	for _, size := range [][2]int{{200, 500}, {20, 30}, {0, 0}, {300, 100}, {5, 0}, {200, 500}} {
		u, e := randomSparse(rng, size[0], max(size[1], 1), 8, 100)
		if size[1] == 0 {
			e = nil
		}
		problems = append(problems, problem{size[0], size[1], u, e})
	}
	var reused Solver
	for i, p := range problems {
		got, err := reused.Solve(p.rows, p.cols, p.unassigned, p.edges)
		if err != nil {
			t.Fatal(err)
		}
		got = slices.Clone(got)
		fresh, want := solve(t, p.rows, p.cols, p.unassigned, p.edges)
		if !slices.Equal(got, want) || reused.Cost() != fresh.Cost() {
			t.Fatalf("problem %d: reused solver gave %v (cost %d), fresh %v (cost %d)", i, got, reused.Cost(), want, fresh.Cost())
		}
	}
	// An invalid call in between must not disturb the next one.
	if _, err := reused.Solve(1, 1, nil, nil); err == nil {
		t.Fatal("want an error")
	}
	p := problems[0]
	got, _ := reused.Solve(p.rows, p.cols, p.unassigned, p.edges)
	checkMatching(t, &reused, p.rows, p.cols, p.unassigned, p.edges, got)
}

func TestNoAllocationsOnReuse(t *testing.T) {
	p := geoProblem(300, 1000, 16, 5)
	var s Solver
	if _, err := s.Solve(p.rows, p.cols, p.unassigned, p.edges); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := s.Solve(p.rows, p.cols, p.unassigned, p.edges); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per reused Solve, want 0", allocs)
	}
}

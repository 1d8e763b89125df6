package assign

import (
	"math"
	"strconv"
)

// MaxCost is the exclusive upper bound on every cost given to [Solver.Solve]. It leaves int64 headroom for the
// potentials and path lengths the solver derives from the costs (see "Bounds" in the package documentation).
const MaxCost int64 = 1 << 50

// Edge is a permitted pairing of a row with a column at a cost.
type Edge struct {
	Row, Col int32
	Cost     int64
}

// InputError reports why [Solver.Solve] rejected its arguments.
type InputError struct {
	// Reason says what is wrong, naming the offending index where there is one.
	Reason string
}

// Error implements the error interface.
func (e *InputError) Error() string { return "assign: " + e.Reason }

// arc is one normalised edge in a row's adjacency list.
type arc struct {
	col  int32
	cost int64
}

// column is everything the solver keeps about one real column. The fields live together because a search
// touches columns in no particular order: one cache line per column visited, instead of one per array.
type column struct {
	v    int64 // dual potential: <= 0, and 0 while the column is free
	dist int64 // search label; meaningful only while seen == the search's epoch
	row  int32 // the row holding the column, -1 when free
	pred int32 // the row the label came from; meaningful only while seen == the search's epoch
	seen uint32
	done uint32 // == the search's epoch once the column is settled
}

// Solver solves sparse rectangular assignment problems with optional non-assignment. The zero value is ready to
// use; it keeps its buffers between calls to avoid allocation. Not safe for concurrent use.
type Solver struct {
	// The normalised problem in compressed sparse row form: row r's arcs are arcs[start[r]:start[r+1]], one per
	// column, each cheaper than leaving r unassigned.
	start      []int32
	arcs       []arc
	unassigned []int64 // the caller's slice, held only during Solve

	// The current matching and its row potentials; the column side is in col.
	u       []int64
	row2col []int32 // column of each row, -1 for unassigned (its dummy); the slice Solve returns
	col     []column

	// Search state. epoch identifies the current search, so that bumping it invalidates every column's label
	// and settled mark in O(1).
	epoch   uint32
	heap    []heapItem
	settled []int32 // columns settled by the current search, in order
	free    []int32 // rows the greedy start left for a search

	// The best free end point found by the current search, ordered by (bestDist, bestKey), where the key of a
	// real column is its index and the key of row r's dummy is cols+r, so dummies lose ties to real columns.
	bestDist int64
	bestKey  int
	bestPred int32

	cols int
	cost int64
}

// Solve returns, for each row, the column it is assigned to or -1 when it stays unassigned, minimising the sum
// of the chosen edges' costs plus unassigned[r] for every unassigned row r. Costs must be >= 0 and < 1<<50
// (error otherwise); rows == len(unassigned); edges with Row/Col out of range are an error; duplicate (row, col)
// edges keep the cheapest; an edge whose cost is >= the row's unassigned cost can never be worth taking and may be
// dropped. Ties between optimal solutions are broken deterministically: the result depends only on the (row,
// col, cost) set, never on the order of edges in the slice (sort/normalise internally). The returned slice is
// owned by the Solver and valid until the next call.
func (s *Solver) Solve(rows, cols int, unassigned []int64, edges []Edge) ([]int32, error) {
	if err := validate(rows, cols, unassigned, edges); err != nil {
		return nil, err
	}
	s.cols = cols
	s.unassigned = unassigned
	// Keep no reference to the caller's slice beyond the call.
	defer func() { s.unassigned = nil }()

	s.reset(rows, cols)
	if err := s.count(rows, edges); err != nil {
		return nil, err
	}
	s.build(rows, edges)
	for _, r := range s.free {
		s.augment(r)
	}
	s.cost = s.totalCost()
	return s.row2col, nil
}

// Cost returns the total cost of the solution returned by the last call to Solve: 0 before any call and after a
// call that returned an error.
func (s *Solver) Cost() int64 { return s.cost }

// validate checks everything but the edges, which count checks in the same pass that counts them.
func validate(rows, cols int, unassigned []int64, edges []Edge) error {
	switch {
	case rows < 0 || cols < 0:
		return &InputError{Reason: "negative problem size"}
	case rows != len(unassigned):
		return &InputError{Reason: "rows = " + strconv.Itoa(rows) + " but len(unassigned) = " + strconv.Itoa(len(unassigned))}
	case rows > math.MaxInt32-1 || cols > math.MaxInt32 || len(edges) > math.MaxInt32:
		// Indices and offsets are stored as int32, and the build pass stamps columns with row+1.
		return &InputError{Reason: "problem too large"}
	}
	for r, c := range unassigned {
		if c < 0 || c >= MaxCost {
			return &InputError{Reason: "unassigned[" + strconv.Itoa(r) + "] = " + strconv.FormatInt(c, 10) + " out of range [0, 2^50)"}
		}
	}
	return nil
}

// reset sizes every buffer for a new problem, reusing storage, and starts from an empty matching with all
// potentials 0. It is O(rows + cols) once per Solve, never per search.
func (s *Solver) reset(rows, cols int) {
	s.start = resize(s.start, rows+1)
	clear(s.start)
	s.u = resize(s.u, rows)
	s.row2col = resize(s.row2col, rows)
	s.col = resize(s.col, cols)
	for c := range s.col {
		s.col[c] = column{row: -1}
	}
	s.epoch = 0
	s.heap = s.heap[:0]
	s.settled = s.settled[:0]
	s.free = s.free[:0]
	s.cost = 0
}

// count validates the edges and counts, into start, the useful ones of each row: those cheaper than leaving the
// row unassigned. Validating here saves a pass over the edges; an error leaves nothing that the next Solve does
// not rebuild.
func (s *Solver) count(rows int, edges []Edge) error {
	for i, e := range edges {
		switch {
		case e.Row < 0 || int(e.Row) >= rows:
			return &InputError{Reason: "edges[" + strconv.Itoa(i) + "].Row = " + strconv.Itoa(int(e.Row)) + " out of range"}
		case e.Col < 0 || int(e.Col) >= s.cols:
			return &InputError{Reason: "edges[" + strconv.Itoa(i) + "].Col = " + strconv.Itoa(int(e.Col)) + " out of range"}
		case e.Cost < 0 || e.Cost >= MaxCost:
			return &InputError{Reason: "edges[" + strconv.Itoa(i) + "].Cost = " + strconv.FormatInt(e.Cost, 10) + " out of range [0, 2^50)"}
		}
		if e.Cost < s.unassigned[e.Row] {
			s.start[e.Row]++
		}
	}
	return nil
}

// build turns the counted edges into the CSR arrays and, in the same pass over each row, makes the greedy start.
//
// Normalisation drops edges no cheaper than leaving their row unassigned and keeps the cheapest of duplicate
// (row, col) edges. Arcs stay in input order within a row, which is harmless: with one arc per column, every
// decision the solver takes (greedy picks, Dijkstra labels, the heap's pop order, the path's predecessors) is a
// function of the set of arcs, never of their order, so the result depends only on the set of edges. Not
// sorting matters: sorting the rows cost more than all the rest of the solve.
//
// The greedy start matches each row, in index order, to its cheapest column (the lowest-index free one among
// equally cheap columns) while such a column is free, or to its dummy when no arc beats leaving it unassigned.
// With every v = 0 and u[r] the row's cheapest cost, all reduced costs are >= 0 and matched arcs are tight, so
// the dual invariants hold and nothing is lost; rows whose cheapest columns are all taken go to the free list
// for an augmenting search.
func (s *Solver) build(rows int, edges []Edge) {
	// Counting sort by row: turn the counts into end offsets, then place each edge at its row's end offset
	// minus one, which leaves start[r] at the beginning of row r.
	var total int32
	for r := range rows {
		total += s.start[r]
		s.start[r] = total
	}
	s.start[rows] = total
	s.arcs = resize(s.arcs, int(total))
	for _, e := range edges {
		if e.Cost < s.unassigned[e.Row] {
			s.start[e.Row]--
			s.arcs[s.start[e.Row]] = arc{col: e.Col, cost: e.Cost}
		}
	}

	// Deduplicate each row, compacting in place (the write position never passes the read position). A column
	// with seen == r+1 is already present in row r, at position pred.
	w := int32(0)
	for r := range rows {
		lo, hi := s.start[r], s.start[r+1]
		s.start[r] = w
		stamp := uint32(r) + 1
		best := s.unassigned[r]
		pick := int32(-1) // the lowest-index free column at cost best
		for _, a := range s.arcs[lo:hi] {
			c := &s.col[a.col]
			if c.seen == stamp {
				if p := c.pred; a.cost < s.arcs[p].cost {
					s.arcs[p].cost = a.cost
				}
			} else {
				c.seen = stamp
				c.pred = w
				s.arcs[w] = a
				w++
			}
			// The greedy choice looks at duplicates too: that changes nothing, as only the cheapest counts.
			if a.cost > best {
				continue
			}
			if a.cost < best {
				best, pick = a.cost, -1
			}
			if c.row < 0 && (pick < 0 || a.col < pick) {
				pick = a.col
			}
		}
		s.u[r] = best
		s.row2col[r] = -1
		switch {
		case lo == hi:
			// No arc beats leaving the row unassigned: it takes its dummy, which nobody else can want.
		case pick >= 0:
			s.row2col[r] = pick
			s.col[pick].row = int32(r)
		default:
			s.free = append(s.free, int32(r))
		}
	}
	s.start[rows] = w
	s.arcs = s.arcs[:w]
	// The stamps left in seen are at most rows; starting the search epochs above them makes them stale without
	// clearing. Searches add at most rows more, and rows < 2^31, so the epoch cannot wrap.
	s.epoch = uint32(rows)
}

// totalCost sums the cost of the current matching. A matched arc is tight, so its cost is u + v.
func (s *Solver) totalCost() int64 {
	var total int64
	for r, c := range s.row2col {
		if c < 0 {
			total += s.unassigned[r]
		} else {
			total += s.u[r] + s.col[c].v
		}
	}
	return total
}

// resize returns a slice of length n, reusing buf's storage when it is large enough. Contents are unspecified.
func resize[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n, n+n/4)
	}
	return buf[:n]
}

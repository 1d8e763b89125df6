// Package assign solves the per-round matching of dispatchd: bundles of orders ("rows") are matched to couriers
// ("columns") at minimum total cost, where every row may also stay unassigned at a price of its own.
//
// # Model
//
// A problem has rows 0..rows-1, columns 0..cols-1 and a sparse set of permitted (row, column, cost) edges. A
// solution gives each row at most one column and each column at most one row; its cost is the sum of the chosen
// edges plus unassigned[r] for every row r left without a column. [Solver.Solve] returns a solution of minimum
// cost. It is exact (integer arithmetic only) and deterministic: the answer depends only on the set of edges, not
// on the order in which they are given, so replaying a round reproduces its assignment.
//
// # Algorithm
//
// The solver is the successive-shortest-augmenting-path form of the Hungarian method, as popularised by Jonker
// and Volgenant, adapted to sparse graphs:
//
//   - Every row r gets a private "dummy" column that only r may use, at cost unassigned[r]. With it every row
//     ends matched to something, so the problem becomes a rectangular assignment in which all rows are covered.
//     The dummy columns are never stored: a dummy is always free when its row is reached in a search, and its
//     potential stays 0, so it is handled as a candidate end point of the search.
//   - The solver keeps a row potential u and a column potential v such that cost(r, c) - u[r] - v[c] >= 0 on
//     every edge, with equality on matched edges, v <= 0, and v = 0 on free columns. This is a feasible solution
//     of the linear programming dual whose value equals the cost of the current partial matching, which is what
//     makes the final matching provably optimal.
//   - The edges are first normalised into per-row adjacency lists (a counting sort by row, duplicates merged to
//     the cheapest, edges no cheaper than leaving the row unassigned dropped). Every later decision is a
//     function of this set, with ties broken by column index, so the input order of the edges cannot matter.
//   - In the same pass a greedy start matches each row to its cheapest column when that column is still free.
//     With v = 0 and u[r] the row's cheapest cost, the invariants hold, so the greedy start costs no exactness;
//     it matches most rows of a geographic instance in one linear pass.
//   - Each remaining row is then added by one Dijkstra search over reduced costs from that row, alternating
//     between columns and the rows that hold them, with a binary heap ordered by (distance, column). The search
//     stops as soon as the cheapest free column (a real free column or a reached row's dummy) is known to be
//     nearer than anything left in the heap, so a search touches only the neighbourhood that the augmenting path
//     can come from, not the whole graph. Only the columns settled before that point have their potentials
//     lowered (the classic "truncated Johnson" update), and per-search state is validated with epoch stamps
//     rather than cleared, so a search costs time in proportion to what it touched.
//
// The worst case is O(rows * edges * log edges). On instances with geographic locality and a surplus of columns
// (the usual dispatch round) the augmenting searches settle a handful of columns each and the running time grows
// close to linearly with the size of the problem. With about as many columns as rows the last free columns lie
// far from the last free rows, some searches cover much of the graph, and the time grows faster than linearly
// (see BenchmarkSolveBalanced); the answer is exact either way.
//
// # Bounds
//
// Costs must lie in [0, 2^50). Dummy potentials stay 0 and real column potentials only decrease from 0, and
// dual feasibility on the dummy edge keeps every row potential within [0, unassigned[r]], so every potential,
// reduced cost and tentative distance stays below 2^52 in magnitude: int64 arithmetic cannot overflow.
package assign

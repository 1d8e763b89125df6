package ch

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTableEqualsDijkstra: a table large enough to run on several goroutines (Hierarchy.Table), and the same
// table on one query (Query.Table), equal Dijkstra pair by pair, with duplicate and seedless places among them.
func TestTableEqualsDijkstra(t *testing.T) {
	type graphOf struct {
		name  string
		n     int
		edges []Edge
	}
	n, edges, _ := SyntheticCity(smallCity(3000, 5))
	rng := rand.New(rand.NewPCG(21, 22))
	graphs := []graphOf{{"city", n, edges}, {"random", 300, randomGraph(rng, 300, 900, 4)}}
	for _, gr := range graphs {
		t.Run(gr.name, func(t *testing.T) {
			h, err := Build(gr.n, gr.edges, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			var from, to [][]Seed
			for range 40 {
				from = append(from, randomSeeds(rng, gr.n))
			}
			for range 30 {
				to = append(to, randomSeeds(rng, gr.n))
			}
			from = append(from, from[3], nil)
			to = append(to, to[0], from[5])
			w, l := h.Table(from, to)
			sw, sl := h.NewQuery().Table(from, to)
			if !slices.Equal(w, sw) || !slices.Equal(l, sl) {
				t.Fatal("Hierarchy.Table and Query.Table differ")
			}
			for i := range from {
				for j := range to {
					ww, wl, _ := Dijkstra(gr.n, gr.edges, from[i], to[j])
					if k := i*len(to) + j; w[k] != ww || l[k] != wl {
						t.Fatalf("Table[%d][%d] = %d, %d; Dijkstra %d, %d", i, j, w[k], l[k], ww, wl)
					}
				}
			}
		})
	}
}

// TestTableOnManyQueries: a table answered by one to five queries (as many goroutines) equals Dijkstra.
func TestTableOnManyQueries(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	n := 500
	edges := randomGraph(rng, n, 1800, 30)
	h, err := Build(n, edges, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var from, to [][]Seed
	for range 23 {
		from = append(from, randomSeeds(rng, n))
	}
	for range 17 {
		to = append(to, randomSeeds(rng, n))
	}
	for nq := 1; nq <= 5; nq++ {
		qs := make([]*Query, nq)
		for k := range qs {
			qs[k] = h.NewQuery()
			qs[k].flat = newFlatSearch(h)
		}
		w, l := table(qs, from, to)
		for i := range from {
			for j := range to {
				ww, wl, _ := Dijkstra(n, edges, from[i], to[j])
				if k := i*len(to) + j; w[k] != ww || l[k] != wl {
					t.Fatalf("%d queries: [%d][%d] = %d, %d; Dijkstra %d, %d", nq, i, j, w[k], l[k], ww, wl)
				}
			}
		}
	}
}

// TestTableSearchOrder: places are searched by their least seed id, places with no seed in range last, and a place
// whose seeds equal an earlier one's is not searched but answered as that one.
func TestTableSearchOrder(t *testing.T) {
	h, err := Build(6, []Edge{{From: 0, To: 1, Weight: 1}, {From: 1, To: 2, Weight: 1}, {From: 2, To: 3, Weight: 1},
		{From: 3, To: 4, Weight: 1}, {From: 4, To: 5, Weight: 1}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := func(v int32) int32 { return h.idOf[v] }
	places := [][]Seed{
		{{Node: 4}, {Node: 5, Weight: 3}}, // 0
		{{Node: 2}},                       // 1
		{{Node: 99}},                      // 2: no seed in range
		{{Node: 4}, {Node: 5, Weight: 3}}, // 3: as 0
		{{Node: 2, Weight: 1}},            // 4: same node as 1, another weight
		{{Node: 2}},                       // 5: as 1
		nil,                               // 6: no seed
		{{Node: 0}},                       // 7
	}
	order, same := h.searchOrder(places)
	key := func(p int32) int32 {
		k := int32(1 << 30)
		for _, s := range places[p] {
			if s.Node >= 0 && int(s.Node) < h.NumNodes() {
				k = min(k, id(s.Node))
			}
		}
		return k
	}
	if len(order) != 6 || len(same) != 2 {
		t.Fatalf("order %v, same %v: want 6 places searched and 2 answered as others", order, same)
	}
	for i := 1; i < len(order); i++ {
		if key(order[i-1]) > key(order[i]) {
			t.Fatalf("order %v: place %d (least id %d) before place %d (%d)", order, order[i-1], key(order[i-1]), order[i], key(order[i]))
		}
	}
	got := map[int32]int32{}
	for _, s := range same {
		got[s.place] = s.as
	}
	if len(got) != 2 || got[3] != 0 || got[5] != 1 {
		t.Fatalf("same %v: want place 3 answered as 0 and 5 as 1", same)
	}
	for _, p := range order {
		if p == 3 || p == 5 {
			t.Fatalf("order %v searches place %d, which equals an earlier one", order, p)
		}
	}
}

// TestEachCallsEveryIndexOnce: each spreads [0, n) over its queries, whatever n and the number of queries, and
// calls do exactly once per index with one of the queries given.
func TestEachCallsEveryIndexOnce(t *testing.T) {
	h, err := Build(2, []Edge{{From: 0, To: 1, Weight: 1}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, nq := range []int{1, 2, 3, 5} {
		qs := make([]*Query, nq)
		mine := map[*Query]bool{}
		for i := range qs {
			qs[i] = h.NewQuery()
			mine[qs[i]] = true
		}
		for _, n := range []int{0, 1, 2, 3, 7, 100, 1001} {
			calls := make([]atomic.Int32, n)
			var foreign atomic.Int32
			each(qs, n, func(q *Query, i int) {
				calls[i].Add(1)
				if !mine[q] {
					foreign.Add(1)
				}
			})
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Fatalf("%d queries, n %d: index %d called %d times", nq, n, i, c)
				}
			}
			if foreign.Load() != 0 {
				t.Fatalf("%d queries, n %d: do called with a query not given", nq, n)
			}
		}
	}
}

// TestTableFlatState: the flat search states of tables are kept by the hierarchy and used again, and answers stay
// equal to Dijkstra when a state's generation wraps around (every node forgotten for real).
func TestTableFlatState(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	n := 400
	edges := randomGraph(rng, n, 1400, 50)
	h, err := Build(n, edges, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var from, to [][]Seed
	for range 20 {
		from = append(from, randomSeeds(rng, n))
		to = append(to, randomSeeds(rng, n))
	}
	check := func(name string, w, l []uint32) {
		t.Helper()
		for i := range from {
			for j := range to {
				ww, wl, _ := Dijkstra(n, edges, from[i], to[j])
				if k := i*len(to) + j; w[k] != ww || l[k] != wl {
					t.Fatalf("%s: [%d][%d] = %d, %d; Dijkstra %d, %d", name, i, j, w[k], l[k], ww, wl)
				}
			}
		}
	}
	w, l := h.Table(from, to)
	check("first table", w, l)
	kept := len(h.flats)
	if kept == 0 {
		t.Fatal("the hierarchy kept no flat search state after a table")
	}
	for _, f := range h.flats {
		f.gen = ^uint32(0) - 3 // the table's searches wrap it
	}
	w, l = h.Table(from, to)
	check("wrapped generation", w, l)
	if len(h.flats) != kept {
		t.Fatalf("the hierarchy keeps %d flat states after a second table, %d after the first", len(h.flats), kept)
	}
	q := h.NewQuery()
	w, l = q.Table(from, to)
	check("Query.Table", w, l)
	if q.flat == nil || len(h.flats) != kept {
		t.Fatal("Query.Table did not keep its own flat state, or took the hierarchy's")
	}
}

// TestTableFlatStatesBounded: however many tables run at once, the hierarchy keeps at most GOMAXPROCS flat search
// states afterwards.
func TestTableFlatStatesBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	n := 300
	h, err := Build(n, randomGraph(rng, n, 900, 20), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var from, to [][]Seed
	for range 20 {
		from = append(from, randomSeeds(rng, n))
		to = append(to, randomSeeds(rng, n))
	}
	want, _ := h.Table(from, to)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if w, _ := h.Table(from, to); !slices.Equal(w, want) {
				t.Error("a table run alongside others differs")
			}
		})
	}
	wg.Wait()
	if k, max := len(h.flats), runtime.GOMAXPROCS(0); k > max {
		t.Fatalf("the hierarchy keeps %d flat states, more than GOMAXPROCS (%d)", k, max)
	}
}

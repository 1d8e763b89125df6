package ch

import (
	"math/rand/v2"
	"slices"
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

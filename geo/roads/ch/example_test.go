package ch_test

import (
	"fmt"

	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// A point in the middle of a road edge enters a query as the edge's ends, each with what is left to spend.
func Example() {
	// 0 -> 1 -> 2 is a slow street, 0 -> 3 -> 2 a longer but faster road; 2 -> 0 closes the loop.
	edges := []ch.Edge{
		{From: 0, To: 1, Weight: 60_000, Length: 5_000},
		{From: 1, To: 2, Weight: 60_000, Length: 5_000},
		{From: 0, To: 3, Weight: 40_000, Length: 8_000},
		{From: 3, To: 2, Weight: 40_000, Length: 8_000},
		{From: 2, To: 0, Weight: 90_000, Length: 9_000},
	}
	h, err := ch.Build(4, edges, ch.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	q := h.NewQuery()
	// The start lies a quarter of the way along edge 0 (0 -> 1): it reaches 1 after three quarters of it.
	from := []ch.Seed{{Node: 1, Weight: 45_000, Length: 3_750}}
	to := []ch.Seed{{Node: 2}}
	w, l, ok := q.Route(from, to)
	fmt.Println(w, l, ok)
	path, _, _, _, _, _ := q.Path([]ch.Seed{{Node: 0}}, to)
	fmt.Println(path)
	// Output:
	// 105000 8750 true
	// [2 3]
}

package ch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestVisitsAgainstMap drives a search table through many generations, some of which reach more nodes than its
// slots can hold at half load (so that it grows while the heap refers to its slots), and checks every lookup and
// the order in which the heap gives nodes back against a map and a sort.
func TestVisitsAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tab := visits{gen: 1}
	tab.alloc(16)
	for round := range 40 {
		tab.reset()
		want := map[int32]cost{}
		reached := 1 + rng.IntN(20)
		if round%5 == 4 {
			reached = 100 + rng.IntN(400) // beyond half the slots: the table grows during the round
		}
		for range 3 * reached {
			v := int32(rng.IntN(reached * 3))
			c := cost(rng.Uint64N(1000))
			slot := tab.get(v)
			if tab.slots[slot].node != v {
				t.Fatalf("round %d: get(%d) gave the slot of %d", round, v, tab.slots[slot].node)
			}
			old, ok := want[v]
			if !ok {
				if tab.slots[slot].dist != infinite {
					t.Fatalf("round %d: new node %d already has dist %d", round, v, tab.slots[slot].dist)
				}
				old = infinite
			}
			if c < old {
				want[v] = c
				tab.slots[slot].dist = c
				tab.push(slot, c)
			} else if !ok {
				want[v] = infinite // reached, never pushed
			}
		}
		for v := range int32(reached * 3) {
			i := tab.find(v)
			c, ok := want[v]
			if ok != (i >= 0) || ok && tab.slots[i].dist != c {
				t.Fatalf("round %d: find(%d) = %d; want reached %v at %d", round, v, i, ok, c)
			}
		}
		var order []cost
		for _, c := range want {
			if c != infinite {
				order = append(order, c)
			}
		}
		slices.Sort(order)
		for k, c := range order {
			if len(tab.heap) == 0 {
				t.Fatalf("round %d: heap empty after %d of %d pops", round, k, len(order))
			}
			slot, key := tab.pop()
			if key != c || tab.slots[slot].dist != c || want[tab.slots[slot].node] != c {
				t.Fatalf("round %d: pop %d gave node %d at %d, want cost %d", round, k, tab.slots[slot].node, key, c)
			}
		}
		if len(tab.heap) != 0 {
			t.Fatalf("round %d: %d items left in the heap", round, len(tab.heap))
		}
	}
	if len(tab.slots) <= 16 {
		t.Fatalf("the table never grew (%d slots): the test does not reach the case it is for", len(tab.slots))
	}
}

// TestBucketIndexAgainstMap: the index of a table's buckets gives each node the bucket it was first added with,
// and -1 for nodes never added, across resets and while it grows.
func TestBucketIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var x bucketIndex
	for round, n := range []int{0, 1, 5, 3000, 40, 40, 100000, 7} {
		x.reset()
		want := map[int32]int32{}
		for range n {
			v := int32(rng.IntN(3*n + 1))
			b := int32(len(want))
			got := x.add(v, b)
			if w, ok := want[v]; ok {
				b = w
			} else {
				want[v] = b
			}
			if got != b {
				t.Fatalf("round %d: add(%d) = %d, want %d", round, v, got, b)
			}
		}
		for v := int32(-1); v <= int32(3*n+1); v++ {
			w, ok := want[v]
			if !ok {
				w = -1
			}
			if got := x.find(v); got != w {
				t.Fatalf("round %d (%d nodes): find(%d) = %d, want %d", round, n, v, got, w)
			}
		}
	}
}

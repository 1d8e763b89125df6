package ch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkNumbering checks what renumber promises: ids and ranks are permutations, every edge leads to a higher
// rank, and the ids are a depth-first numbering from the top: a node with a neighbour of higher rank comes
// after one of them (rank order, where every higher neighbour comes after, fails this).
func checkNumbering(t *testing.T, h *Hierarchy) {
	t.Helper()
	n := h.numNodes
	seenRank, seenNode := make([]bool, n), make([]bool, n)
	for id := range n {
		r, v := h.rank[id], h.nodeOf[id]
		if r < 0 || int(r) >= n || seenRank[r] || v < 0 || int(v) >= n || seenNode[v] || h.idOf[v] != int32(id) {
			t.Fatalf("id %d: rank %d, node %d: not a permutation", id, r, v)
		}
		seenRank[r], seenNode[v] = true, true
	}
	for id := range int32(n) {
		up, down := h.g.lists(id)
		after := len(up)+len(down) == 0
		for _, e := range append(up, down...) {
			if h.rank[e.head] <= h.rank[id] {
				t.Fatalf("id %d (rank %d): edge to id %d (rank %d), not higher", id, h.rank[id], e.head, h.rank[e.head])
			}
			after = after || e.head < id
		}
		if !after {
			t.Fatalf("id %d comes before every node above it", id)
		}
	}
	if n > 0 && int(h.rank[0]) != n-1 {
		t.Fatalf("id 0 has rank %d, not the top (%d)", h.rank[0], n-1)
	}
}

// TestNumbering checks the numbering of built hierarchies and of the same hierarchies read back, whose answers
// must still equal Dijkstra.
func TestNumbering(t *testing.T) {
	n, edges, _ := SyntheticCity(smallCity(3000, 2))
	cases := append(graphCases(), graphCase{name: "city", n: n, edges: edges})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := Build(c.n, c.edges, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			checkNumbering(t, h)
			h2, err := ReadFrom(bytes.NewReader(serialize(t, h)))
			if err != nil {
				t.Fatal(err)
			}
			checkNumbering(t, h2)
			if c.n > 0 {
				checkAgainstDijkstra(t, h2, c.n, c.edges, 100)
			}
		})
	}
}

// TestReadFromChecksRanks: a version 1 encoding is refused as such, and ranks that make an edge lead downwards
// or repeat are refused.
func TestReadFromChecksRanks(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	h, err := Build(40, randomGraph(rng, 40, 120, 100), Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := serialize(t, h)
	old := bytes.Clone(good)
	binary.LittleEndian.PutUint32(old[4:], 1)
	if _, err := ReadFrom(bytes.NewReader(old)); !errors.Is(err, ErrFormat) || !errors.Is(err, ErrVersion) {
		t.Errorf("version 1: %v", err)
	}
	ranks := 4 + 4 + 16 + 4*h.numNodes // magic, version, counts, nodeOf
	// Swap the ranks of the two ends of an edge: it now leads downwards.
	var from, to int32 = -1, -1
	for id := range int32(h.numNodes) {
		if up, _ := h.g.lists(id); len(up) > 0 {
			from, to = id, up[0].head
			break
		}
	}
	if from < 0 {
		t.Fatal("no edge in the hierarchy")
	}
	bad := bytes.Clone(good)
	a, b := bad[ranks+4*int(from):][:4], bad[ranks+4*int(to):][:4]
	ra, rb := binary.LittleEndian.Uint32(a), binary.LittleEndian.Uint32(b)
	binary.LittleEndian.PutUint32(a, rb)
	binary.LittleEndian.PutUint32(b, ra)
	if _, err := ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not higher") {
		t.Errorf("edge leading down: %v", err)
	}
	bad = bytes.Clone(good)
	copy(bad[ranks+4*int(from):][:4], bad[ranks+4*int(to):][:4])
	if _, err := ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a permutation") {
		t.Errorf("repeated rank: %v", err)
	}
}

package ch

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomGraph returns a directed graph with one-way edges, parallel edges, self-loops, zero weights, ties and a
// part (the last tenth of the nodes) that can leave but never be reached.
func randomGraph(rng *rand.Rand, n, m int, maxWeight uint32) []Edge {
	main := max(1, n*9/10)
	edges := make([]Edge, 0, m)
	for len(edges) < m {
		e := Edge{From: int32(rng.IntN(n)), To: int32(rng.IntN(main)), Weight: 1 + rng.Uint32N(maxWeight), Length: rng.Uint32N(5000)}
		switch r := rng.IntN(20); {
		case r == 0:
			e.To = e.From // self-loop
		case r == 1:
			e.Weight = 0
		case r == 2 && len(edges) > 0:
			p := edges[rng.IntN(len(edges))] // parallel edge
			e.From, e.To = p.From, p.To
		}
		edges = append(edges, e)
		if rng.IntN(3) == 0 && int(e.From) < main && e.From != e.To { // a two-way road
			edges = append(edges, Edge{From: e.To, To: e.From, Weight: e.Weight, Length: e.Length})
		}
	}
	return edges
}

func randomSeeds(rng *rand.Rand, n int) []Seed {
	s := make([]Seed, 1+rng.IntN(3))
	for i := range s {
		s[i] = Seed{Node: int32(rng.IntN(n)), Weight: rng.Uint32N(300), Length: rng.Uint32N(300)}
	}
	if rng.IntN(3) == 0 {
		s = s[:1]
		s[0].Weight, s[0].Length = 0, 0
	}
	return s
}

type graphCase struct {
	name  string
	n     int
	edges []Edge
}

func graphCases() []graphCase {
	var cases []graphCase
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 10 + rng.IntN(150)
		maxW := uint32(1000)
		if seed%2 == 1 {
			maxW = 4 // many ties
		}
		cases = append(cases, graphCase{name: fmt.Sprintf("random%d", seed), n: n, edges: randomGraph(rng, n, n*3, maxW)})
	}
	// Costs near the limits, so that sums of a few edges saturate (in weight, length or both) and searches compare
	// and stall on saturated costs.
	rng := rand.New(rand.NewPCG(8, 9))
	near := randomGraph(rng, 80, 260, 1000)
	for i := range near {
		near[i].Weight = MaxWeight/16 + near[i].Weight*(MaxWeight/4000)
		near[i].Length = MaxLength/8 + near[i].Length*(MaxLength/13000)
	}
	cases = append(cases, graphCase{name: "nearLimits", n: 80, edges: near})
	cases = append(cases, graphCase{name: "empty", n: 0}, graphCase{name: "single", n: 1},
		graphCase{name: "huge", n: 4, edges: []Edge{{0, 1, MaxWeight, MaxLength}, {1, 2, MaxWeight, MaxLength}, {2, 3, 5, 5}}},
		graphCase{name: "tiedGrid", n: 12 * 12, edges: tiedGrid(12)})
	// Two towns no road joins: half the pairs have no route, though both ends climb to top nodes.
	towns := tiedGrid(8)
	for _, e := range tiedGrid(8) {
		e.From, e.To = e.From+64, e.To+64
		towns = append(towns, e)
	}
	cases = append(cases, graphCase{name: "twoTowns", n: 128, edges: towns})
	return cases
}

// tiedGrid returns a k × k street grid whose edges all have the same weight and length, so that most pairs have
// many fastest paths of exactly the same cost: contraction must keep one of them whichever witnesses it trusts.
// Every third street is one-way.
func tiedGrid(k int) []Edge {
	var edges []Edge
	road := func(a, b int, oneWay bool) {
		edges = append(edges, Edge{From: int32(a), To: int32(b), Weight: 10, Length: 100})
		if !oneWay {
			edges = append(edges, Edge{From: int32(b), To: int32(a), Weight: 10, Length: 100})
		}
	}
	for j := range k {
		for i := range k - 1 {
			road(j*k+i, j*k+i+1, j%3 == 1)
			road(i*k+j, (i+1)*k+j, j%3 == 2)
		}
	}
	return edges
}

func checkPath(t *testing.T, edges []Edge, from, to []Seed, path []int32, fs, ts int, w, l uint32) {
	t.Helper()
	if fs < 0 || fs >= len(from) || ts < 0 || ts >= len(to) {
		t.Fatalf("seeds %d, %d out of range", fs, ts)
	}
	at := from[fs].Node
	sw, sl := uint64(from[fs].Weight), uint64(from[fs].Length)
	for _, id := range path {
		e := edges[id]
		if e.From != at {
			t.Fatalf("path %v: edge %d starts at %d, not at %d", path, id, e.From, at)
		}
		at = e.To
		sw += uint64(e.Weight)
		sl += uint64(e.Length)
	}
	if at != to[ts].Node {
		t.Fatalf("path %v ends at %d, seed %d is node %d", path, at, ts, to[ts].Node)
	}
	sw += uint64(to[ts].Weight)
	sl += uint64(to[ts].Length)
	if min(sw, uint64(MaxWeight)) != uint64(w) || min(sl, uint64(MaxLength)) != uint64(l) {
		t.Fatalf("path %v sums to %d, %d; reported %d, %d", path, sw, sl, w, l)
	}
}

func TestQueriesEqualDijkstra(t *testing.T) {
	for _, c := range graphCases() {
		t.Run(c.name, func(t *testing.T) {
			h, err := Build(c.n, c.edges, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if c.n == 0 {
				if w, _, ok := h.NewQuery().Route([]Seed{{Node: 0}}, []Seed{{Node: 0}}); ok || w != Unreachable {
					t.Fatalf("empty graph: got %d, %v", w, ok)
				}
				return
			}
			checkAgainstDijkstra(t, h, c.n, c.edges, 300)
		})
	}
}

func checkAgainstDijkstra(t *testing.T, h *Hierarchy, n int, edges []Edge, pairs int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 99))
	q := h.NewQuery()
	for range pairs {
		from, to := randomSeeds(rng, n), randomSeeds(rng, n)
		ww, wl, wok := Dijkstra(n, edges, from, to)
		w, l, ok := q.Route(from, to)
		if w != ww || l != wl || ok != wok {
			t.Fatalf("Route(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", from, to, w, l, ok, ww, wl, wok)
		}
		path, fs, ts, pw, pl, pok := q.Path(from, to)
		if pw != ww || pl != wl || pok != wok {
			t.Fatalf("Path(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", from, to, pw, pl, pok, ww, wl, wok)
		}
		if pok {
			checkPath(t, edges, from, to, path, fs, ts, pw, pl)
		}
		fsp, bsp := q.Forward(from), q.Backward(to)
		if mw, ml, mok := Meet(&fsp, &bsp); mw != ww || ml != wl || mok != wok {
			t.Fatalf("Meet(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", from, to, mw, ml, mok, ww, wl, wok)
		}
	}
	var from, to [][]Seed
	for range 7 {
		from = append(from, randomSeeds(rng, n))
	}
	for range 5 {
		to = append(to, randomSeeds(rng, n))
	}
	to = append(to, nil) // a target with no seed is unreachable
	weights, lengths := h.Table(from, to)
	for i := range from {
		for j := range to {
			ww, wl, _ := Dijkstra(n, edges, from[i], to[j])
			if k := i*len(to) + j; weights[k] != ww || lengths[k] != wl {
				t.Fatalf("Table[%d][%d] = %d, %d; Dijkstra %d, %d", i, j, weights[k], lengths[k], ww, wl)
			}
		}
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		name  string
		n     int
		edges []Edge
		field string
	}{
		{"NegativeNodes", -1, nil, "numNodes"},
		{"FromOutOfRange", 3, []Edge{{0, 1, 1, 1}, {3, 1, 1, 1}}, "edge 1: From 3"},
		{"ToNegative", 3, []Edge{{0, -2, 1, 1}}, "edge 0: To -2"},
		{"WeightUnreachable", 3, []Edge{{0, 1, Unreachable, 1}}, "edge 0: Weight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.n, c.edges, Options{})
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Build: %v, want ErrInput naming %q", err, c.field)
			}
		})
	}
}

func TestSeedsOutOfRangeAreIgnored(t *testing.T) {
	edges := []Edge{{0, 1, 10, 100}}
	h, err := Build(2, edges, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []Seed{{Node: 7}}
	if err := h.CheckSeeds(bad); err == nil || !strings.Contains(err.Error(), "Node 7") {
		t.Fatalf("CheckSeeds: %v", err)
	}
	w, l, ok := h.NewQuery().Route(append(bad, Seed{Node: 0}), []Seed{{Node: -1}, {Node: 1, Weight: 5}})
	if !ok || w != 15 || l != 100 {
		t.Fatalf("Route = %d, %d, %v; want 15, 100, true", w, l, ok)
	}
}

func serialize(t testing.TB, h *Hierarchy) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := h.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d, %v (wrote %d)", n, err, buf.Len())
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, c := range graphCases() {
		t.Run(c.name, func(t *testing.T) {
			h, err := Build(c.n, c.edges, Options{})
			if err != nil {
				t.Fatal(err)
			}
			b := serialize(t, h)
			h2, err := ReadFrom(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(serialize(t, h2), b) {
				t.Fatal("read hierarchy serializes differently")
			}
			if c.n > 0 {
				checkAgainstDijkstra(t, h2, c.n, c.edges, 50)
			}
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	edges := randomGraph(rng, 400, 1200, 50)
	var first []byte
	for _, workers := range []int{1, 2, 1, 3} {
		h, err := Build(400, edges, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		b := serialize(t, h)
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("Build with %d workers gives other bytes", workers)
		}
	}
}

func TestReadFromRejectsMalformed(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	edges := randomGraph(rng, 30, 90, 100)
	h, err := Build(30, edges, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := serialize(t, h)
	for cut := 0; cut < len(good); cut += 1 + len(good)/97 {
		if _, err := ReadFrom(bytes.NewReader(good[:cut])); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated at %d of %d: %v, want ErrFormat", cut, len(good), err)
		}
	}
	bad := append([]byte(nil), good...)
	bad[0] = 'X'
	if _, err := ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("bad magic: %v", err)
	}
	bad = append([]byte(nil), good...)
	bad[8] = 0xff // numNodes
	bad[11] = 0x7f
	if _, err := ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) {
		t.Fatalf("huge node count: %v", err)
	}
}

func FuzzReadFrom(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 5, 12} {
		h, err := Build(n, randomGraph(rng, max(n, 1), 3*n, 20)[:3*n], Options{})
		if err != nil {
			f.Fatal(err)
		}
		b := serialize(f, h)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadFrom(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		q := h.NewQuery()
		n := int32(min(h.NumNodes(), 4))
		var seeds [][]Seed
		for v := range n {
			seeds = append(seeds, []Seed{{Node: v}})
		}
		for _, a := range seeds {
			for _, b := range seeds {
				q.Route(a, b)
				q.Path(a, b)
				fs, bs := q.Forward(a), q.Backward(b)
				Meet(&fs, &bs)
			}
		}
		q.Table(seeds, seeds)
	})
}

// TestAddsPlainly: where addsPlainly holds, a cost plus any cost within most as plain integers is add's sum, and it
// holds up to the last cost of which that is true in each half.
func TestAddsPlainly(t *testing.T) {
	for _, most := range []cost{0, pack(7, 9), pack(MaxWeight, 0), pack(0, MaxLength), pack(MaxWeight/2, MaxLength/3)} {
		mw, ml := unpack(most)
		top := pack(MaxWeight-mw, MaxLength-ml) // the largest cost in both halves that adds plainly
		for _, c := range []cost{0, top, top - 1, pack(MaxWeight-mw, 0), pack(0, MaxLength-ml), top + 1, top + 1<<32} {
			w, l := unpack(c)
			want := w <= MaxWeight-mw && l <= MaxLength-ml
			if got := addsPlainly(c, most); got != want {
				t.Fatalf("addsPlainly(%d|%d, %d|%d) = %v, want %v", w, l, mw, ml, got, want)
			}
			if !want {
				continue
			}
			for _, e := range []cost{0, most, pack(mw, 0), pack(0, ml), pack(mw/2, ml/2)} {
				if c+e != add(c, e) {
					t.Fatalf("%d|%d plus %d: plain %d, add %d", w, l, e, c+e, add(c, e))
				}
			}
		}
	}
	if addsPlainly(infinite, 0) {
		t.Fatal("infinite adds plainly")
	}
}

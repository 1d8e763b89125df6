package ch

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestSpacesWithKeptTopsEqualDijkstra: whatever share of the top nodes keeps its space (none, one node, a quarter,
// every node), the spaces of random seeds meet at Dijkstra's answer, Route (which meets through the kept spaces
// without making spaces) and MeetForward (a target's space met without making the source's) give it too, and the
// kept spaces are used.
func TestSpacesWithKeptTopsEqualDijkstra(t *testing.T) {
	for _, c := range graphCases() {
		if c.n == 0 {
			continue
		}
		for _, keep := range []int{-1, 1, c.n / 4, c.n} {
			h, err := Build(c.n, c.edges, Options{})
			if err != nil {
				t.Fatal(err)
			}
			h.upperNodes = keep
			rng := rand.New(rand.NewPCG(uint64(c.n), uint64(keep+2)))
			q := h.NewQuery()
			for range 300 {
				from, to := randomSeeds(rng, c.n), randomSeeds(rng, c.n)
				ww, wl, wok := Dijkstra(c.n, c.edges, from, to)
				fsp, bsp := q.Forward(from), q.Backward(to)
				if w, l, ok := Meet(&fsp, &bsp); w != ww || l != wl || ok != wok {
					t.Fatalf("%s, %d kept: Meet(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", c.name, keep, from, to, w, l, ok, ww, wl, wok)
				}
				if w, l, ok := q.MeetForward(from, &bsp); w != ww || l != wl || ok != wok {
					t.Fatalf("%s, %d kept: MeetForward(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", c.name, keep, from, to, w, l, ok, ww, wl, wok)
				}
				if w, l, ok := q.Route(from, to); w != ww || l != wl || ok != wok {
					t.Fatalf("%s, %d kept: Route(%v, %v) = %d, %d, %v; Dijkstra %d, %d, %v", c.name, keep, from, to, w, l, ok, ww, wl, wok)
				}
			}
			if kept := h.keptSpaces(); keep > 0 && len(c.edges) > 0 && kept == 0 {
				t.Fatalf("%s, %d kept: no space kept after 600 spaces", c.name, keep)
			} else if keep < 0 && kept != 0 {
				t.Fatalf("%s: %d spaces kept with none asked", c.name, kept)
			}
		}
	}
}

// TestKeptSpacesConcurrent: goroutines that compute the same kept spaces at once all get exact answers (run with
// -race).
func TestKeptSpacesConcurrent(t *testing.T) {
	n, edges, _ := SyntheticCity(smallCity(2000, 3))
	h, err := Build(n, edges, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.upperNodes = n / 10
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(5, 6)) // the same pairs on every goroutine
			q := h.NewQuery()
			for range 60 + g {
				a, b := []Seed{{Node: int32(rng.IntN(n))}}, []Seed{{Node: int32(rng.IntN(n))}}
				fsp, bsp := q.Forward(a), q.Backward(b)
				w, l, _ := Meet(&fsp, &bsp)
				ww, wl, _ := Dijkstra(n, edges, a, b)
				if w != ww || l != wl {
					errs <- "a space met at another answer than Dijkstra's"
					return
				}
				if w, l, _ := q.Route(b, a); w == Unreachable || l == Unreachable {
					errs <- "a route through the kept spaces found no path in a connected city"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if h.keptSpaces() == 0 {
		t.Fatal("no space kept")
	}
}

// TestKeepTop: KeepTop makes every kept space both ways (and queries meet as before), and stops on a cancelled
// context.
func TestKeepTop(t *testing.T) {
	n, edges, _ := SyntheticCity(smallCity(2000, 4))
	h, err := Build(n, edges, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.KeepTop(ctx); err != context.Canceled {
		t.Fatalf("KeepTop on a cancelled context: %v, want context.Canceled", err)
	}
	if k := h.keptSpaces(); k != 0 {
		t.Fatalf("%d spaces made on a cancelled context", k)
	}
	if err := h.KeepTop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k, want := h.keptSpaces(), 2*(n/upperShare); k != want {
		t.Fatalf("%d spaces kept after KeepTop, want %d", k, want)
	}
	if h.KeptBytes() <= 0 {
		t.Fatal("KeptBytes is not positive after KeepTop")
	}
	checkAgainstDijkstra(t, h, n, edges, 100)
}

// TestKeepShare: a share set before the first query decides how many top nodes keep their spaces (none for 0),
// the answers stay Dijkstra's, and a share set after the first query changes nothing.
func TestKeepShare(t *testing.T) {
	n, edges, _ := SyntheticCity(smallCity(2000, 5))
	for _, c := range []struct {
		share float64
		kept  int
	}{{0.1, 2 * (n / 10)}, {0, 0}, {-1, 0}, {2, 2 * n}} {
		h, err := Build(n, edges, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !h.KeepShare(c.share) {
			t.Fatalf("share %v: not taken before the first query", c.share)
		}
		if err := h.KeepTop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if k := h.keptSpaces(); k != c.kept {
			t.Errorf("share %v: %d spaces kept, want %d", c.share, k, c.kept)
		}
		checkAgainstDijkstra(t, h, n, edges, 50)
		if h.KeepShare(0.5) {
			t.Errorf("share %v: a second share was taken after queries", c.share)
		}
		if k := h.keptSpaces(); k != c.kept {
			t.Errorf("share %v: %d spaces kept after a late share, want %d", c.share, k, c.kept)
		}
	}
}

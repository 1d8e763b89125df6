package daemon

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCowMapFrozenVersionsNeverChange writes, deletes and freezes at random and checks that the working copy always
// equals a plain map, and that every frozen version still holds exactly what it held when it was frozen, however
// much the loop wrote afterwards.
func TestCowMapFrozenVersionsNeverChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	m := newCowMap[int]()
	want := map[string]int{}
	type frozen struct {
		f    frozenMap[int]
		want map[string]int
	}
	var versions []frozen
	check := func(f *frozenMap[int], want map[string]int, what string) {
		t.Helper()
		if f.len() != len(want) {
			t.Fatalf("%s: len %d, want %d", what, f.len(), len(want))
		}
		got := map[string]int{}
		for k, v := range f.all() {
			got[k] = v
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: contents differ from what was frozen", what)
		}
		if keys := f.sortedKeys(); !slices.Equal(keys, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%s: sortedKeys %d keys, want %d", what, len(keys), len(want))
		}
		for k, v := range want {
			if g, ok := f.get(k); !ok || g != v {
				t.Fatalf("%s: get(%q) = %d, %v; want %d", what, k, g, ok, v)
			}
		}
	}
	for step := range 20000 {
		k := fmt.Sprintf("ord_%d", rng.IntN(3000))
		switch r := rng.IntN(100); {
		case r < 60:
			m.set(k, step)
			want[k] = step
		case r < 80:
			m.del(k)
			delete(want, k)
		case r < 82:
			versions = append(versions, frozen{m.freeze(), maps.Clone(want)})
		default:
			g, ok := m.get(k)
			if w, wok := want[k]; ok != wok || g != w {
				t.Fatalf("step %d: working get(%q) = %d, %v; want %d, %v", step, k, g, ok, w, wok)
			}
		}
		if m.n != len(want) {
			t.Fatalf("step %d: n = %d, want %d", step, m.n, len(want))
		}
	}
	if len(versions) < 100 {
		t.Fatalf("only %d frozen versions: the test exercises too little", len(versions))
	}
	for i, v := range versions {
		check(&v.f, v.want, fmt.Sprintf("version %d", i))
	}
	final := m.freeze()
	check(&final, want, "final")
	var empty frozenMap[int]
	if _, ok := empty.get("x"); ok || empty.len() != 0 || len(empty.sortedKeys()) != 0 {
		t.Fatal("the zero frozenMap is not empty")
	}
}

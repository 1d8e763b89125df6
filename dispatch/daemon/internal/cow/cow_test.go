package cow

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
	m := New[int]()
	want := map[string]int{}
	type frozen struct {
		f    Frozen[int]
		want map[string]int
	}
	var versions []frozen
	check := func(f *Frozen[int], want map[string]int, what string) {
		t.Helper()
		if f.Len() != len(want) {
			t.Fatalf("%s: len %d, want %d", what, f.Len(), len(want))
		}
		got := map[string]int{}
		for k, v := range f.All() {
			got[k] = v
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: contents differ from what was frozen", what)
		}
		if keys := f.SortedKeys(); !slices.Equal(keys, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%s: sortedKeys %d keys, want %d", what, len(keys), len(want))
		}
		for k, v := range want {
			if g, ok := f.Get(k); !ok || g != v {
				t.Fatalf("%s: get(%q) = %d, %v; want %d", what, k, g, ok, v)
			}
		}
	}
	for step := range 20000 {
		k := fmt.Sprintf("ord_%d", rng.IntN(3000))
		switch r := rng.IntN(100); {
		case r < 60:
			m.Set(k, step)
			want[k] = step
		case r < 80:
			m.Delete(k)
			delete(want, k)
		case r < 82:
			versions = append(versions, frozen{m.Freeze(), maps.Clone(want)})
		default:
			g, ok := m.Get(k)
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
	final := m.Freeze()
	check(&final, want, "final")
	var empty Frozen[int]
	if _, ok := empty.Get("x"); ok || empty.Len() != 0 || len(empty.SortedKeys()) != 0 {
		t.Fatal("the zero Frozen is not empty")
	}
}

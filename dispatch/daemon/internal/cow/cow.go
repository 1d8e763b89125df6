// Package cow is the daemon's copy-on-write maps: the loop writes a Map, and each publish freezes it into a Frozen
// version that readers on other goroutines use while the loop goes on writing. Keys are strings.
package cow

import (
	"hash/maphash"
	"iter"
	"slices"
)

// A copy-on-write map is split into cowShards small maps, reached through a two-level table (cowFan tables of
// cowFan shards). A publish freezes the table; the loop's next write to a shard copies that shard, the table above
// it and the root (each copied at most once per publish). So what a publish costs follows how much changed, not how
// big the state is: with 60 000 orders a shard holds about 15, and writing one order after a publish copies those
// and two tables of 64 pointers.
const (
	cowFan    = 64
	cowShards = cowFan * cowFan
)

var cowSeed = maphash.MakeSeed()

type cowTable[V any] [cowFan]map[string]V

type cowRoot[V any] [cowFan]*cowTable[V]

// Map is the loop's working copy of a map whose frozen versions are published to readers. The loop writes it;
// Freeze returns an immutable version that readers on other goroutines may use while the loop goes on writing.
type Map[V any] struct {
	root *cowRoot[V]
	// What the loop may write in place: the root, each table and each shard copied since the last freeze (or never
	// frozen). Everything else may be shared with a frozen version.
	rootOwned  bool
	tableOwned [cowFan]bool
	shardOwned [cowShards / 64]uint64
	n          int
}

// New returns an empty map. Its shards are nil maps until first written (own makes them), so that an empty
// state costs 64 small tables rather than 4 096 maps.
func New[V any]() *Map[V] {
	m := &Map[V]{root: &cowRoot[V]{}, rootOwned: true}
	for i := range m.root {
		m.root[i] = &cowTable[V]{}
		m.tableOwned[i] = true
	}
	return m
}

func shardOf(k string) int { return int(maphash.String(cowSeed, k) % cowShards) }

// own returns shard i ready to be written, copying it and the tables above it if a frozen version may share them.
func (m *Map[V]) own(i int) map[string]V {
	hi, lo := i/cowFan, i%cowFan
	if !m.rootOwned {
		cp := *m.root
		m.root = &cp
		m.rootOwned = true
	}
	if !m.tableOwned[hi] {
		cp := *m.root[hi]
		m.root[hi] = &cp
		m.tableOwned[hi] = true
	}
	if m.shardOwned[i/64]&(1<<(i%64)) == 0 {
		old := m.root[hi][lo]
		cp := make(map[string]V, len(old)+1)
		for k, v := range old {
			cp[k] = v
		}
		m.root[hi][lo] = cp
		m.shardOwned[i/64] |= 1 << (i % 64)
	}
	return m.root[hi][lo]
}

func (m *Map[V]) shard(i int) map[string]V { return m.root[i/cowFan][i%cowFan] }

// Get returns the value of k.
func (m *Map[V]) Get(k string) (V, bool) {
	v, ok := m.shard(shardOf(k))[k]
	return v, ok
}

// Set sets k to v.
func (m *Map[V]) Set(k string, v V) {
	s := m.own(shardOf(k))
	if _, ok := s[k]; !ok {
		m.n++
	}
	s[k] = v
}

// Delete removes k.
func (m *Map[V]) Delete(k string) {
	i := shardOf(k)
	if _, ok := m.shard(i)[k]; !ok {
		return
	}
	delete(m.own(i), k)
	m.n--
}

// Freeze returns the current contents as an immutable map; later writes copy before they change a shard.
func (m *Map[V]) Freeze() Frozen[V] {
	m.rootOwned = false
	m.tableOwned = [cowFan]bool{}
	m.shardOwned = [cowShards / 64]uint64{}
	return Frozen[V]{root: m.root, n: m.n}
}

// Frozen is a published, immutable version of a Map. The zero value is an empty map.
type Frozen[V any] struct {
	root *cowRoot[V]
	n    int
}

// Get returns the value of k.
func (f *Frozen[V]) Get(k string) (V, bool) {
	if f.root == nil {
		var zero V
		return zero, false
	}
	i := shardOf(k)
	v, ok := f.root[i/cowFan][i%cowFan][k]
	return v, ok
}

// Len is the number of entries.
func (f *Frozen[V]) Len() int { return f.n }

// All yields every entry, in no particular order.
func (f *Frozen[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		if f.root == nil {
			return
		}
		for _, t := range f.root {
			for _, s := range t {
				for k, v := range s {
					if !yield(k, v) {
						return
					}
				}
			}
		}
	}
}

// SortedKeys returns the keys in order (listings must not depend on map order).
func (f *Frozen[V]) SortedKeys() []string {
	keys := make([]string, 0, f.n)
	for k := range f.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SortedKeys returns the working copy's keys in order (for checkpoints, taken on the loop).
func (m *Map[V]) SortedKeys() []string {
	f := Frozen[V]{root: m.root, n: m.n}
	return f.SortedKeys()
}

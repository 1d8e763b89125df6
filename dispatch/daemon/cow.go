package daemon

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

// cowMap is the loop's working copy of a map whose frozen versions are published to readers. The loop writes it;
// freeze returns an immutable version that readers on other goroutines may use while the loop goes on writing.
type cowMap[V any] struct {
	root *cowRoot[V]
	// What the loop may write in place: the root, each table and each shard copied since the last freeze (or never
	// frozen). Everything else may be shared with a frozen version.
	rootOwned  bool
	tableOwned [cowFan]bool
	shardOwned [cowShards / 64]uint64
	n          int
}

// newCowMap returns an empty map. Its shards are nil maps until first written (own makes them), so that an empty
// state costs 64 small tables rather than 4 096 maps.
func newCowMap[V any]() *cowMap[V] {
	m := &cowMap[V]{root: &cowRoot[V]{}, rootOwned: true}
	for i := range m.root {
		m.root[i] = &cowTable[V]{}
		m.tableOwned[i] = true
	}
	return m
}

func shardOf(k string) int { return int(maphash.String(cowSeed, k) % cowShards) }

// own returns shard i ready to be written, copying it and the tables above it if a frozen version may share them.
func (m *cowMap[V]) own(i int) map[string]V {
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

func (m *cowMap[V]) shard(i int) map[string]V { return m.root[i/cowFan][i%cowFan] }

func (m *cowMap[V]) get(k string) (V, bool) {
	v, ok := m.shard(shardOf(k))[k]
	return v, ok
}

func (m *cowMap[V]) set(k string, v V) {
	s := m.own(shardOf(k))
	if _, ok := s[k]; !ok {
		m.n++
	}
	s[k] = v
}

func (m *cowMap[V]) del(k string) {
	i := shardOf(k)
	if _, ok := m.shard(i)[k]; !ok {
		return
	}
	delete(m.own(i), k)
	m.n--
}

// freeze returns the current contents as an immutable map; later writes copy before they change a shard.
func (m *cowMap[V]) freeze() frozenMap[V] {
	m.rootOwned = false
	m.tableOwned = [cowFan]bool{}
	m.shardOwned = [cowShards / 64]uint64{}
	return frozenMap[V]{root: m.root, n: m.n}
}

// frozenMap is a published, immutable version of a cowMap. The zero value is an empty map.
type frozenMap[V any] struct {
	root *cowRoot[V]
	n    int
}

func (f *frozenMap[V]) get(k string) (V, bool) {
	if f.root == nil {
		var zero V
		return zero, false
	}
	i := shardOf(k)
	v, ok := f.root[i/cowFan][i%cowFan][k]
	return v, ok
}

func (f *frozenMap[V]) len() int { return f.n }

// all yields every entry, in no particular order.
func (f *frozenMap[V]) all() iter.Seq2[string, V] {
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

// sortedKeys returns the keys in order (listings must not depend on map order).
func (f *frozenMap[V]) sortedKeys() []string {
	keys := make([]string, 0, f.n)
	for k := range f.all() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortedKeys of the working copy (for checkpoints, taken on the loop).
func (m *cowMap[V]) sortedKeys() []string {
	f := frozenMap[V]{root: m.root, n: m.n}
	return f.sortedKeys()
}

package daemon

import (
	"hash/maphash"
	"slices"
)

// cowShards is how many shards a copy-on-write map has. A publish copies only the shards written since the last
// one, so the cost of a snapshot follows how much changed, not how big the state is.
const cowShards = 256

var cowSeed = maphash.MakeSeed()

// cowMap is the loop's working copy of a map whose frozen versions are published to readers. The loop writes it;
// freeze returns an immutable version that readers on other goroutines may use while the loop goes on writing
// (a written shard is copied first unless it was already copied since the last freeze).
type cowMap[V any] struct {
	shards [cowShards]map[string]V
	owned  [cowShards]bool
	n      int
}

func newCowMap[V any]() *cowMap[V] {
	m := &cowMap[V]{}
	for i := range m.shards {
		m.shards[i] = map[string]V{}
		m.owned[i] = true
	}
	return m
}

func shardOf(k string) int { return int(maphash.String(cowSeed, k) % cowShards) }

func (m *cowMap[V]) own(i int) map[string]V {
	if !m.owned[i] {
		cp := make(map[string]V, len(m.shards[i])+1)
		for k, v := range m.shards[i] {
			cp[k] = v
		}
		m.shards[i] = cp
		m.owned[i] = true
	}
	return m.shards[i]
}

func (m *cowMap[V]) get(k string) (V, bool) {
	v, ok := m.shards[shardOf(k)][k]
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
	if _, ok := m.shards[i][k]; !ok {
		return
	}
	delete(m.own(i), k)
	m.n--
}

// freeze returns the current contents as an immutable map; later writes copy before they change a shard.
func (m *cowMap[V]) freeze() frozenMap[V] {
	m.owned = [cowShards]bool{}
	return frozenMap[V]{shards: m.shards, n: m.n}
}

// frozenMap is a published, immutable version of a cowMap. The zero value is an empty map.
type frozenMap[V any] struct {
	shards [cowShards]map[string]V
	n      int
}

func (f *frozenMap[V]) get(k string) (V, bool) {
	v, ok := f.shards[shardOf(k)][k]
	return v, ok
}

func (f *frozenMap[V]) len() int { return f.n }

// sortedKeys returns the keys in order (listings must not depend on map order).
func (f *frozenMap[V]) sortedKeys() []string {
	keys := make([]string, 0, f.n)
	for _, s := range f.shards {
		for k := range s {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// sortedKeys of the working copy (for checkpoints, taken on the loop).
func (m *cowMap[V]) sortedKeys() []string {
	f := frozenMap[V]{shards: m.shards, n: m.n}
	return f.sortedKeys()
}

package dispatch

import (
	"math"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// legMemo remembers the latest answers of a round's batch in a small table that stays in the processor's cache,
// for one goroutine. Pricing an insertion walks the rest of the route once for each place it tries, so it asks
// the same few legs again and again within microseconds; the batch answers each from its kept trips, a table
// too large for the cache. The memo's answers are the batch's own: a slot keeps the exact points and profile it
// answered for.
type legMemo struct {
	inner geo.TravelModel
	slots []legSlot
}

// legMemoSlots is the size of a memo's table, a power of two: 4096 slots of 48 bytes, 192 KiB.
const legMemoSlots = 1 << 12

type legSlot struct {
	from, to orb.Point
	d        time.Duration
	p        geo.Profile
	full     bool
}

// over readies the memo to answer for inner, forgetting what it answered before, and returns it.
func (m *legMemo) over(inner geo.TravelModel) *legMemo {
	if m.slots == nil {
		m.slots = make([]legSlot, legMemoSlots)
	} else {
		clear(m.slots)
	}
	m.inner = inner
	return m
}

// TravelTime returns inner's answer, from the table when it holds the pair.
func (m *legMemo) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	s := &m.slots[legSlotOf(from, to, p)]
	if s.full && s.p == p && sameBits(s.from, from) && sameBits(s.to, to) {
		return s.d
	}
	d := m.inner.TravelTime(from, to, p)
	*s = legSlot{from: from, to: to, d: d, p: p, full: true}
	return d
}

// legSlotOf is the slot of a question in a memo's table.
func legSlotOf(from, to orb.Point, p geo.Profile) int {
	h := uint64(p)
	for _, x := range [4]float64{from[0], from[1], to[0], to[1]} {
		h = mix64(h ^ math.Float64bits(x))
	}
	return int(h & (legMemoSlots - 1))
}

// mix64 is a bijection of 64 bits under which every bit of the input moves every bit of the output (MurmurHash3's
// finalizer).
func mix64(h uint64) uint64 {
	h = (h ^ h>>33) * 0xff51afd7ed558ccd
	h = (h ^ h>>33) * 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// sameBits reports whether two points have the same bits (a point equal to another only as a float, such as -0
// for 0, is asked of the model again).
func sameBits(a, b orb.Point) bool {
	return math.Float64bits(a[0]) == math.Float64bits(b[0]) && math.Float64bits(a[1]) == math.Float64bits(b[1])
}

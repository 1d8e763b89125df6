package dispatch

import (
	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// DefaultRegion is the region of a store or courier registered without one, and of everything in state written
// before regions existed.
const DefaultRegion = "default"

// MaxRegionLen is the longest region name.
const MaxRegionLen = 64

// ValidRegion reports whether name can name a region: 1 to 64 ASCII letters, digits, '-' or '_' (a region names a
// journal stream and a subject in a cluster, so the rule is theirs).
func ValidRegion(name string) bool {
	if name == "" || len(name) > MaxRegionLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// regionOf is a region as given, the empty name read as DefaultRegion; field names it in the error when it is not
// a valid name.
func regionOf(field, name string) (string, *Error) {
	if name == "" {
		return DefaultRegion, nil
	}
	if !ValidRegion(name) {
		return "", invalid(field, "region %.80q: want 1 to 64 letters, digits, '-' or '_'", name)
	}
	return name, nil
}

// savedRegion is a region as a State keeps it: empty for DefaultRegion, so that states written before regions
// existed and states of an engine that never used them read alike.
func savedRegion(r string) string {
	if r == DefaultRegion {
		return ""
	}
	return r
}

// carries reports whether courier c may carry orders of the region: a courier only ever carries orders of its own
// region. Every place that offers an order to a courier checks it beside the skills, though the searches for
// couriers already look only at the order's region (courierIndex): the check keeps that so whatever finds them.
func (c *courierState) carries(region string) bool { return c.spec.Region == region }

// courierIndex is the spatial index of the online couriers, one per region: a round, a quote or the improvement
// searches only the couriers of the order's region, so that a region's couriers are never crowded out of a
// search by another's. An online courier cannot change region, so it stays in the index of its region.
type courierIndex struct {
	space    geo.Space
	byRegion map[string]*geo.Index[int32]
	n        int
}

func newCourierIndex(space geo.Space) *courierIndex {
	return &courierIndex{space: space, byRegion: map[string]*geo.Index[int32]{}}
}

// Set puts c at its location in its region's index (or moves it there).
func (x *courierIndex) Set(c *courierState) {
	ix, ok := x.byRegion[c.spec.Region]
	if !ok {
		ix = geo.NewIndex[int32](x.space)
		x.byRegion[c.spec.Region] = ix
	}
	before := ix.Len()
	ix.Set(c.idx, c.loc)
	x.n += ix.Len() - before
}

// Remove takes c out of its region's index.
func (x *courierIndex) Remove(c *courierState) {
	if ix, ok := x.byRegion[c.spec.Region]; ok && ix.Remove(c.idx) {
		x.n--
	}
}

// Len is how many couriers are online, in every region.
func (x *courierIndex) Len() int { return x.n }

// Within calls fn with the online couriers of region within radius metres of p, nearest first, until fn returns
// false.
func (x *courierIndex) Within(region string, p orb.Point, radius float64, fn func(neighbor) bool) {
	if ix, ok := x.byRegion[region]; ok {
		ix.Within(p, radius, fn)
	}
}

// Nearest returns, in dst, up to k online couriers of region within radius metres of p that accept takes,
// nearest first.
func (x *courierIndex) Nearest(region string, p orb.Point, k int, radius float64, accept func(int32) bool, dst []neighbor) []neighbor {
	if ix, ok := x.byRegion[region]; ok {
		return ix.Nearest(p, k, radius, accept, dst)
	}
	return dst[:0]
}

// Clone returns a copy that shares nothing with x.
func (x *courierIndex) Clone() *courierIndex {
	n := &courierIndex{space: x.space, byRegion: make(map[string]*geo.Index[int32], len(x.byRegion)), n: x.n}
	for r, ix := range x.byRegion {
		n.byRegion[r] = ix.Clone()
	}
	return n
}

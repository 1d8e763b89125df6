package roads_test

import (
	"context"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads"
	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

func TestShapesInABox(t *testing.T) {
	centre := orb.Point{7.42, 43.73}
	net, err := roads.Import(context.Background(), roadstest.Grid(t, centre, 5, 200), roads.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ext := net.Extent()
	if !ext.Contains(centre) {
		t.Fatalf("extent %v does not hold the grid's centre", ext)
	}
	count := func(b orb.Bound, tol float64) (n int) {
		net.Shapes(b, tol, func(l orb.LineString) {
			if len(l) < 2 {
				t.Errorf("a shape of %d points", len(l))
			}
			for _, p := range l {
				if !ext.Contains(p) {
					t.Errorf("point %v outside the extent", p)
				}
			}
			n++
		})
		return n
	}
	all := count(ext, 0)
	if all == 0 {
		t.Fatal("no road in the network's own extent")
	}
	// A box around the south-west corner junction holds only the streets that reach it.
	corner := ext.Min
	small := orb.Bound{Min: orb.Point{corner[0] - 1e-5, corner[1] - 1e-5}, Max: orb.Point{corner[0] + 1e-5, corner[1] + 1e-5}}
	if n := count(small, 0); n == 0 || n >= all {
		t.Errorf("%d roads near a corner of %d in all", n, all)
	}
	far := orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}
	if n := count(far, 0); n != 0 {
		t.Errorf("%d roads in a box far from the city", n)
	}
	// At a tolerance far above a block's size every road is a dot and is left out.
	if n := count(ext, 5000); n != 0 {
		t.Errorf("%d roads drawn at a 5 km tolerance", n)
	}
}

package roads

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/paulmach/orb"
)

// scanNearest is the reference for segIndex.nearest: every segment of the network looked at, the nearest in the
// tangent plane at p among those accept takes, the lowest-numbered of equally near ones.
func scanNearest(net *Network, p orb.Point, accept func(seg int32) bool) int32 {
	best, bestD2 := int32(-1), 0.0
	kx := math.Cos(p[1] * math.Pi / 180)
	for e := range net.from {
		for i := net.geomOff[e]; i+1 < net.geomOff[e+1]; i++ {
			seg := int32(i)
			if !accept(seg) {
				continue
			}
			if d := planeDist2(p, kx, net.shape[i], net.shape[i+1]); best < 0 || d < bestD2 || (d == bestD2 && seg < best) {
				best, bestD2 = seg, d
			}
		}
	}
	return best
}

// TestNearestEqualsScan is the property that snapping through the tree finds the segment a scan of every
// segment finds, for random points in and around the network and for points on its nodes (where segments tie).
func TestNearestEqualsScan(t *testing.T) {
	nets := map[string]*Network{"town": openTown(t)}
	if os.Getenv("MONACO_PBF") != "" || fileExists("/work/shared/data/osm/monaco.osm.pbf") {
		nets["monaco"] = monaco(t)
	}
	for name, net := range nets {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			b := net.bound
			pad := orb.Point{(b.Max[0] - b.Min[0]) / 4, (b.Max[1] - b.Min[1]) / 4}
			wide := orb.Bound{Min: orb.Point{b.Min[0] - pad[0], b.Min[1] - pad[1]}, Max: orb.Point{b.Max[0] + pad[0], b.Max[1] + pad[1]}}
			pts := make([]orb.Point, 0, 600)
			for range 400 {
				pts = append(pts, orb.Point{
					wide.Min[0] + rng.Float64()*(wide.Max[0]-wide.Min[0]),
					wide.Min[1] + rng.Float64()*(wide.Max[1]-wide.Min[1]),
				})
			}
			for range 200 {
				pts = append(pts, net.nodes[rng.IntN(len(net.nodes))])
			}
			for g, gr := range net.graphs {
				if gr.nodes == 0 {
					continue
				}
				accept := func(seg int32) bool { return gr.usable(net.segEdge[seg]) }
				for _, p := range pts {
					got, _ := net.index.nearest(p, net.shape, accept)
					if want := scanNearest(net, p, accept); got != want {
						t.Fatalf("graph %d, point %v: tree gives segment %d, scan %d", g, p, got, want)
					}
				}
			}
		})
	}
}

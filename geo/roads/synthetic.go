package roads

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// fastRoadKMH is the car speed from which FromGraph treats an edge as a motorway: closed to walkers and
// bicycles.
const fastRoadKMH = 60

// FromGraph builds a network for every profile from a plain directed graph whose weights are car travel times
// in milliseconds and lengths decimetres, with each node's lon/lat in coords, such as ch.SyntheticCity's. Each
// edge becomes a straight road; an edge and its reverse of the same length become one two-way road. Cars drive at
// the edges' weights and scooters as fast but never over 45 km/h; bicycles and walkers use every edge slower
// than fastRoadKMH (bicycles in its direction, walkers both ways) at their own speeds.
func FromGraph(numNodes int, edges []ch.Edge, coords [][2]float64, opt Options) (*Network, error) {
	if numNodes < 0 || len(coords) != numNodes {
		return nil, fmt.Errorf("roads: FromGraph: %d coordinates for %d nodes", len(coords), numNodes)
	}
	b := &baseGraph{nodes: make([]orb.Point, numNodes)}
	for i, c := range coords {
		b.nodes[i] = orb.Point(c)
		if !geoValid(b.nodes[i]) {
			return nil, fmt.Errorf("roads: FromGraph: coords[%d] = %v is not a lon/lat point", i, c)
		}
	}
	type key struct {
		u, v   int32
		length uint32
	}
	// open edges waiting for their reverse: (from, to, length) → base edge
	open := make(map[key]int32, len(edges))
	b.geomOff = append(b.geomOff, 0)
	for i, e := range edges {
		if e.From < 0 || int(e.From) >= numNodes || e.To < 0 || int(e.To) >= numNodes {
			return nil, fmt.Errorf("roads: FromGraph: edges[%d] %d→%d has a node out of [0, %d)", i, e.From, e.To, numNodes)
		}
		metres := float64(e.Length) / 10
		carKMHEdge := math.Inf(1)
		if e.Weight > 0 {
			carKMHEdge = metres / (float64(e.Weight) / 1000) * 3.6
		}
		car := max(e.Weight, 1)
		scooter := max(car, weightMS(metres, scooterMaxKMH))
		var bike, foot uint32
		if carKMHEdge < fastRoadKMH {
			bike, foot = weightMS(metres, bikeRoadKMH), weightMS(metres, footKMH)
		}
		if be, ok := open[key{e.To, e.From, e.Length}]; ok {
			delete(open, key{e.To, e.From, e.Length})
			b.w[1][1][be], b.w[2][1][be], b.w[3][1][be] = bike, scooter, car
			continue
		}
		be := int32(len(b.from))
		open[key{e.From, e.To, e.Length}] = be
		b.from = append(b.from, e.From)
		b.to = append(b.to, e.To)
		b.metres = append(b.metres, metres)
		b.shape = append(b.shape, b.nodes[e.From], b.nodes[e.To])
		b.geomOff = append(b.geomOff, uint32(len(b.shape)))
		for g, w := range [numGraphs][2]uint32{{foot, foot}, {bike, 0}, {scooter, 0}, {car, 0}} {
			b.w[g][0] = append(b.w[g][0], w[0])
			b.w[g][1] = append(b.w[g][1], w[1])
		}
	}
	return newNetwork(b, opt)
}

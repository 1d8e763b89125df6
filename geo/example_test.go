package geo_test

import (
	"fmt"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

func ExampleIndex_Nearest() {
	couriers := geo.NewIndex[string](geo.Planar)
	couriers.Set("dana", orb.Point{0, 0})
	couriers.Set("bo", orb.Point{300, 400})
	couriers.Set("ada", orb.Point{-300, 400}) // as far as bo: the lower id wins the tie
	couriers.Set("eve", orb.Point{5000, 0})
	couriers.Set("cy", orb.Point{0, 600})

	store := orb.Point{0, 800}
	busy := map[string]bool{"cy": true}
	free := func(id string) bool { return !busy[id] }

	// The three nearest free couriers within 1 km of the store.
	for _, n := range couriers.Nearest(store, 3, 1000, free, nil) {
		fmt.Printf("%s %.0f m\n", n.ID, n.Metres)
	}
	// Output:
	// ada 500 m
	// bo 500 m
	// dana 800 m
}

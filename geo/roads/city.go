package roads

import "github.com/o2o-dispatch/dispatchd/geo/roads/ch"

// Synthetic builds the network of a synthetic city (ch.SyntheticCity) for every profile, as FromGraph does:
// the engine's and the simulator's benchmarks run on its roads without map data.
func Synthetic(spec ch.CitySpec, opt Options) (*Network, error) {
	n, edges, coords := ch.SyntheticCity(spec)
	return FromGraph(n, edges, coords, opt)
}

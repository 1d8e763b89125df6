// Package synth makes synthetic days for the simulator: a city, its stores, courier shifts and orders, drawn from a
// scenario file (a JSON Spec) and a seed.
//
// A scenario file describes a city as a disc around a centre; stores of several kinds (restaurants, convenience
// stores, pharmacies), clustered in commercial districts, each kind with its share of the demand, its
// preparation-time distribution and its order sizes; courier shift groups; the day's demand as an arrival-rate
// curve (a base rate, Gaussian peaks for the meal times and promotional surges that multiply the rate in a window);
// the distance from store to customer; the click-to-door promise; and the dispatch interval and service times. The
// Spec type and its fields document every field with its unit and default; sim/scenarios holds worked examples
// (city-day.json, small-town.json) and a README.
//
// Generate turns a Spec and a seed into a sim.Scenario:
//
//   - stores: ids by kind prefix (r1, r2, ..., c1, ...); each in a district (uniform in its disc) or, with
//     probability stores.spread_share, anywhere in the city (uniform in the disc);
//   - couriers: one per member of a shift group, ids k1, k2, ... in the order of the groups, starting at a uniform
//     point of the city or of a random district;
//   - orders: arrivals of a non-homogeneous Poisson process over the day's window, drawn by thinning, whose rate
//     follows the curve and integrates to demand.orders (the realised count is Poisson around it); ids o1, o2, ...
//     in order of creation, at whole seconds. Each order picks a kind by demand share, a store of the kind by its
//     popularity, a preparation time (lognormal from median and 90th percentile, truncated), a size, and a drop-off
//     at an exponentially distributed distance (truncated at max_km) in a uniform direction from the store.
//     Ready = Created + preparation, DeliverBy = Created + promise.
//
// Generation is deterministic: it uses math/rand/v2's PCG seeded with the seed (never the global generator) and
// never ranges over a map, so the same spec and seed give the same Scenario. Stores, couriers and orders are drawn
// from separate streams, so changing the shifts leaves the stores and orders as they were.
//
// Parsing is strict: unknown or duplicate fields and wrongly typed values are errors located by line and column;
// semantic errors name the field (for example "demand.peaks[1].width_min must be > 0, got 0"). All errors are
// *Error values.
package synth

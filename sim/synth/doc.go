// Package synth makes synthetic days for the simulator: a city, its stores, courier shifts and orders, drawn from a
// scenario file (a JSON Spec) and a seed.
//
// A scenario file describes a city as a disc around a centre; stores of several kinds (restaurants, convenience
// stores, pharmacies), clustered in commercial districts, each kind with its share of the demand, its
// preparation-time distribution and its order sizes; courier shift groups; the day's demand as an arrival-rate
// curve (a base rate, Gaussian peaks for the meal times and promotional surges that multiply the rate in a window);
// the distance from store to customer; the click-to-door promise; and the dispatch interval and service times. The
// Spec type and its fields document every field with its unit and default; sim/scenarios holds worked examples
// (city-day.json, small-town.json, morning-opening.json) and a README.
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
// A spec may also model the stores' side of online-to-offline fulfilment (see Spec): opening hours in a time zone,
// picking capacity and a catalogue with stock per kind of store, restocks, orders that name only their items,
// orders collected in store and delivery slots booked at closed stores. Generate then sets sim.Scenario.Fulfil:
//
//   - each store gets its kind's hours, pickers and a base preparation time (the median), and, for kinds with
//     stock, an opening stock: each product carried with probability stock.assortment, a lognormal number of
//     units that grows with the product's popularity (catalogue.popularity_skew is a Zipf exponent);
//   - each order of a kind with stock draws 1 + Poisson lines of 1 + Poisson units, by popularity, from its store's
//     shelf, or, with probability demand.by_items_share, from the whole catalogue with no store named (the
//     simulator chooses one); with probability demand.collect.share the customer collects it, a lognormal delay
//     after it is ready;
//   - a customer whose store is closed, or closes within the promise, books with probability promise.slots.share
//     one of the slots after the next opening: the order's promise is the slot's end, and the later slots are the
//     ones the customer accepts when the stores cannot keep it.
//
// These draws use streams of their own, so a spec without fulfilment generates exactly what it did before, and
// adding it changes no store, courier or order time.
//
// Generation is deterministic: it uses math/rand/v2's PCG seeded with the seed (never the global generator) and
// never ranges over a map, so the same spec and seed give the same Scenario. Stores, couriers and orders are drawn
// from separate streams, so changing the shifts leaves the stores and orders as they were.
//
// Parsing is strict: unknown or duplicate fields and wrongly typed values are errors located by line and column;
// semantic errors name the field (for example "demand.peaks[1].width_min must be > 0, got 0"). All errors are
// *Error values.
package synth

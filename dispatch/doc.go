// Package dispatch is dispatchd's domain: stores, couriers, orders and routes, and the deterministic engine that
// turns a stream of events into courier routes.
//
// # The engine
//
// An Engine changes only through Apply(now, event), which returns the effects the outside world must hear about
// (a courier's new route, an order assigned or unassigned, a status change, why an order could not be placed).
// Time is an argument: the engine never reads the wall clock, a random source or the disk, and iterates nothing in
// map order, so the same events at the same times give the same effects, bit for bit. The daemon drives it in real
// time from one goroutine; the simulator drives the very same engine in virtual time. An event that fails
// validation returns an *Error (with the offending field) and changes nothing.
//
// Stores and couriers carry a region (DefaultRegion unless given); an order belongs to its store's region, and a
// courier only ever carries orders of its own region. One engine may hold several regions: nothing it plans,
// quotes or accepts from an operator crosses them.
//
// # A dispatch round
//
// A DispatchTick runs a round:
//
//  1. Every route is re-timed from where its courier is now.
//  2. Candidates: pending orders whose ready time is within Config.Lookahead, and (unless Rules.NoDiversion)
//     assigned orders not yet picked up, not accepted and not where the courier is already heading.
//  3. Bundles: pending orders of one store, or of stores of its region within Config.BundleStoreRadius, with
//     close ready times, grouped greedily while each newcomer saves enough of a trip of its own and nobody's
//     promise suffers (see buildBundles). A round short of couriers (Config.ScarceRatio) bundles more, and more
//     loosely.
//  4. Reach: for each bundle, the Config.CandidateCouriers nearest couriers to its store that may take it (online,
//     of its region, skills, capacity, shift, not having declined it), from the spatial index of its region's
//     couriers within Config.ReachRadius (beyond it, at any distance, when none there can take it and
//     Config.ReachBeyond is set), plus couriers already going to that store. Never a scan of the whole fleet.
//  5. Cost: the cheapest feasible insertion of the bundle into each candidate's route: capacity along the route,
//     pick-up before drop-off, orders on board stay with their courier, the stop the courier is heading to stays
//     first, maximum ride time, no pick-up after the shift ends, and the promise as a soft deadline with a steep
//     price (Config.LateWeight, Config.LateFixed) and a hard limit (Config.HardLateness). Orders already on a
//     route may not be pushed past their hard limit (or later than they were, if already past it). Pricing runs
//     on Config.Workers goroutines; each result has its own slot, so the outcome does not depend on them.
//  6. Postponement: a bundle whose best plan keeps every promise with Config.PostponeSlack to spare and whose
//     orders are not ready within Config.PostponeReadyIn waits for a later round.
//  7. Assignment: one global min-cost matching of bundles to couriers (each courier takes at most one bundle per
//     round, each bundle may stay unassigned at Config.UnassignedCost per order plus the price of its orders
//     slipping by Config.DeferHorizon, so that urgent orders win scarce couriers; a re-assignment candidate stays
//     where it is unless moving it saves more than Config.ReassignThreshold). A courier whose route ends more than
//     Config.AppendHorizon from now is not offered new work (when that limit is set). Under Rules.NoDiversion a
//     bundle matched to a courier that would wait Config.CommitLead or more at the store for it to be ready is held:
//     the courier could set off later just as well, so both stay free until the next round (when that lead is set).
//  8. Sequencing: each touched route is re-sequenced, exactly by branch and bound up to
//     Config.ExactSequenceStops movable stops, by relocation moves beyond.
//  9. Effects: new routes with a higher version, assignments, and for each order left waiting the reason
//     (once per change of reason).
//
// # Policies
//
// Config.Policy selects the round: PolicyOptimize is the round above; PolicyNearestIdle is the naive baseline
// (oldest order first, each to the nearest idle courier that can take it, one order at a time), kept in the engine
// so that a comparison of the two measures the policy and nothing else.
//
// # Cost
//
// A plan's cost is DurationWeight × (courier time until it leaves its last stop) + Σ over its drop-offs of
// DeliveryWeight × (time until the drop-off) + the lateness price. Costs are in seconds-equivalent. Service times
// follow the Grubhub MDRP convention: half of a stop's service before the hand-over, half after it; consecutive
// stops at one place are one visit and share one service.
//
// # Concurrency
//
// An Engine belongs to one goroutine. Apply and the read methods (Order, Courier, Route, LastRound) must not be
// called concurrently with each other.
package dispatch

// Package planner plans routes for shipments known ahead: a vehicle routing problem with pickups and deliveries,
// time windows, several capacity dimensions, skills, shifts with start and end places, an optional break per
// vehicle and shipment priorities. Shipments that cannot be served come back unassigned with a reason.
//
// # Input
//
// A [Request] is plain data (an HTTP layer can take it as JSON): vehicles, shipments, and a [Matrix] of travel
// times and costs between the places they name. The matrix comes from any travel model the engine has:
// [EuclideanMatrix] for a plane (the Li & Lim benchmark), [ModelMatrix] for a [geo.TravelModel] (straight lines or a
// road network, batched when the model can), or a matrix the caller gives. Times are numbers in the matrix's unit
// from an origin the caller chooses; service starts within a window, arriving early means waiting, and a vehicle
// must be back at its end place by the end of its shift. Bad input is refused with a [*FieldError] naming the
// field.
//
// # Objective and method
//
// Plans are ranked by the weight of the shipments left out (1 + priority each), then by the number of vehicles,
// then by the total cost. [Solve] runs, in each of Options.Workers independent searches:
//
//  1. A construction: shipments by their pickup's latest start, each at its cheapest place, a new vehicle when no
//     used one has room.
//  2. Fleet minimisation: a route is removed and its shipments go to an ejection pool; each is put back at its
//     cheapest place, or, when none is left, in place of one or two shipments of a route that are ejected into the
//     pool. Every failure raises the shipment's penalty and ejections of least total penalty are chosen, so the
//     hard shipments go in first and stay; a few random relocations shake the solution after each ejection. A
//     removal whose pool does not empty within its budget is undone; two in a row end the phase, as does its share
//     of the time limit or of the iterations.
//  3. Distance: slack induction by string removals adapted to pickups and deliveries. A ruin removes strings of
//     consecutive stops from a few routes near a random shipment, near in space or, for a third of the ruins, in
//     the hours served (a stop's shipment leaves with both its stops), now and then a whole route; a recreate puts
//     the shipments back one at a time in one of several orders (by amount, distance, window, at random), each at
//     its cheapest place with a small chance of passing over a place, a third of the time counting the delay a
//     place causes to the next stop as a cost too, which keeps routes loose in time. Simulated annealing on the
//     cost accepts the result, never at the price of a shipment left out or of another vehicle. Routes also move
//     as they are between vehicles of different kinds.
//
// The workers differ in their seeds and, odd against even, in the share of ruins chosen by time (a portfolio: the
// two kinds fall into different bad basins). The best plan of the workers wins, ties going to the lowest worker.
//
// # Determinism
//
// With Options.Iterations and no time limit, the plan depends only on the request, Seed and Workers: each worker
// has its own seeded generator and the winner is chosen in worker order. With Options.TimeLimit the search stops by
// the injected clock, so the number of iterations, and the plan, depend on the machine's speed and load. The
// package reads no clock, random source or file of its own.
//
// # Why an inner loop of its own
//
// The engine's insertion code (dispatch/insert.go, dispatch/plan.go) prices a bundle on a live route by walking
// the route with a cursor: each stop's time depends on the courier's position now, on orders on board and on soft
// promises with a price for lateness, so every candidate position re-times the rest of the route. The planner's
// problem is static and its windows are hard, which allows the classic O(1) test per position: for each route it
// keeps the earliest start of service at each stop, the latest start that keeps the rest of the route within its
// windows, and the load after each stop, so placing a shipment's pickup after stop i and its delivery after stop j
// costs one pass over j for each i, without building the route. It takes the engine's conventions where they
// apply: service starts at the later of arrival and the window's start, and a shipment is picked up before it is
// delivered by the same vehicle. Travel times are assumed to satisfy the triangle inequality (removing a stop never
// makes a route later), as shortest paths and straight lines do.
package planner

// Package sim is dispatchd's discrete-event simulator: it replays a day in virtual time through the very same
// dispatch engine the daemon runs, so that analysts can compare dispatch policies and size a fleet, and so that
// every KPI it reports measures the production engine rather than a copy.
//
// # The simulated world
//
// Run drives a fresh dispatch.Engine only through Apply, from a priority queue of timestamped events: orders placed
// at their creation time, couriers coming on shift at their start location and going off at their shift end,
// dispatch rounds every Scenario.TickEvery, and each courier's next step. Couriers follow the routes the engine
// gives them at the scenario's travel-model speed: they ride to the first stop, spend half the service before the
// hand-over, wait at a store until every order of the visit is ready, hand over, spend the other half, and ride on.
// What they do is reported back to the engine as the events a courier's phone would send (arrived, picked up,
// delivered; and, when the rules allow diverting a courier, its position before each round). Nothing of the
// dispatch logic is repeated here.
//
// The queue orders events by time, then by kind (courier steps, shifts starting, restocks, orders, collections,
// stores closing, shifts ending, samples, dispatch rounds), then by insertion, so a run is a pure function of its inputs: the same scenario and options
// give the same Result, and the same output files byte for byte.
//
// # The stores' side
//
// A scenario with Fulfil also runs the stores of online-to-offline fulfilment beside the engine: a
// fulfil.Network with each store's stock, opening hours (in its time zone) and picking queue, driven in virtual
// time as the daemon drives one on its event loop. When an order is placed the network chooses where and when it
// is fulfilled (the named store, or for an order naming only its items the nearest store with everything in stock
// that keeps the promise; a customer with a booked slot accepts the later slots in turn) and reserves its items;
// the engine gets the plan's ready time and latest pick-up, so it never plans a pick-up at a closed store. An order
// no store can serve is rejected with its reasons (out_of_stock, closed, store_busy, too_far, ...) and never
// reaches the engine. A courier's pick-up hands the goods over; a failed or cancelled order gives them back; a
// store closing with an order no courier picked up cancels it. Orders the customer collects in store never enter
// the engine: they are ready at the plan's ready time and collected a drawn delay later (at the next opening if
// the store is closed then). Restocks bring the shelves back up. The result then tells, besides the courier
// KPIs, the rejections by reason, stock-outs, each store's picking queue, the backlog of accepted orders over the
// day, and for a scenario whose stores open after it starts (a morning after a night of orders) how that opening
// backlog clears and the share delivered by the promise of the overnight and the daytime orders.
//
// # Scenarios
//
// A Scenario comes from an MDRP instance (FromMDRP, with the benchmark's rules: same-restaurant bundles, no
// diversion, no pickup after the shift ends; package sim/mdrp reads the files, validates solutions and computes
// the evaluator's figures), or from a synthetic city generated from a scenario file and a seed (package
// sim/synth).
//
// # Results
//
// Summarize computes the KPIs (sim/kpi statistics); WriteOutputs writes summary.json, per-order and per-courier
// CSV, with fulfilment per-store CSV, the HTML report (sim/report) and, for MDRP runs, the three solution files,
// which RunMDRP has already checked with the independent validator. Options.Check lets a test look at the state
// after every event.
package sim

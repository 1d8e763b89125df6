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
// The queue orders events by time, then by kind (courier steps, shifts starting, orders, shifts ending, samples,
// dispatch rounds), then by insertion, so a run is a pure function of its inputs: the same scenario and options
// give the same Result, and the same output files byte for byte.
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
// CSV, the HTML report (sim/report) and, for MDRP runs, the three solution files, which RunMDRP has already checked
// with the independent validator.
package sim

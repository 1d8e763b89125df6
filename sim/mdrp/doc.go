// Package mdrp reads and checks the Grubhub Meal Delivery Routing Problem (MDRP) benchmark of Reyes, Erera,
// Savelsbergh, Sahasrabudhe and O'Neil (2018, "Meal Delivery Routing: The Grubhub Instances"): it loads an
// instance, writes and reads solutions in the exact files the upstream evaluator opens, checks a solution's
// feasibility on its own (without trusting the dispatcher that produced it) and computes the evaluator's KPIs.
//
// # Data
//
// The instances are not shipped with dispatchd: their licence does not allow us to redistribute them. Load
// takes the path of one instance directory of a local copy (benchmarks take it from MDRP_DIR and skip when it
// is absent); the unit tests write their own tiny instances.
//
// # Instance files
//
// Four tab-separated text files, each with one header line that is skipped:
//
//	orders.txt                order  x  y  placement_time  restaurant  ready_time
//	restaurants.txt           restaurant  x  y
//	couriers.txt              courier  x  y  on_time  off_time
//	instance_parameters.txt   meters_per_minute  pickup_service  dropoff_service  target_click_to_door
//	                          max_click_to_door  pay_per_order  pay_per_hour          (one data line)
//
// Coordinates are planar metres (UTM without the zone); times are whole minutes from the start of the day.
// The travel time between two points is ceil(euclidean metres / meters_per_minute) minutes, so the triangle
// inequality need not hold.
//
// # Rules (basic variant: no prepositioning, no assignment updates)
//
// Orders of one restaurant may be bundled without limit. The pickup time of a bundle is at least the latest
// ready time of its orders and at least the courier's arrival at the restaurant plus half the pickup service;
// the courier leaves half a service after the pickup. The drop-off time of an order is the courier's arrival
// at the diner plus half the drop-off service; it leaves half a service after the drop-off. A courier picks up
// nothing after its off-time but may still drop off. Couriers wait for instructions at their on-location or
// at their last drop-off and cannot be diverted while executing an assignment. A courier is paid
// max(pay_per_order × orders, pay_per_hour × shift hours).
//
// # Solution files
//
// Three space-separated files with one header line each (the names the evaluator opens):
//
//	solution_info_assignments.txt  assignment_time pickup_time courier order [order …]   (orders in delivery sequence)
//	solution_info_orders.txt       order placement_time ready_time pickup_time dropoff_time courier
//	solution_info_couriers.txt     courier departure_time origin destination            (grouped by courier)
//
// In the couriers file origin "0" is the courier's on-location; any other origin or destination is a
// restaurant id or an order id, an order id standing for that order's drop-off location.
//
// Validate checks the eight feasibility conditions of the specification's §2.1 (see its documentation for the
// exact inequalities); Evaluate computes the KPIs of §1.1.
package mdrp

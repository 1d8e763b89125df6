package synth

// Spec is a scenario file: a synthetic city and its day, from which Generate draws a sim.Scenario for a seed.
//
// The JSON form is strict: unknown or duplicate field names (names are case-sensitive) and values of the wrong
// JSON type are errors. Field names are snake_case; durations are in the unit their name says (_min minutes,
// _sec seconds, hours), distances in kilometres (_km), clock times are "HH:MM" strings on the day's date (00:00 to
// 24:00, UTC). A field left out takes its zero value, which for most fields means the documented default; the few
// fields whose zero is meaningful but not the default are pointers (nil: default).
//
// Shares (stores.kinds[].demand_share, stores.kinds[].sizes[].share) are fractions that must add up to 1 within
// ±0.01; they are then rescaled to add up to exactly 1. They are not silently normalised, so that a typo such as
// 0.7/0.2/0.2 is reported rather than turned into another demand mix.
//
// Spec values built in Go must pass Validate before Generate uses them (Generate calls it).
type Spec struct {
	// Name identifies the scenario in reports (sim.Scenario.Name). Default: the file name without its extension
	// (Parse, Load), or "synthetic".
	Name string `json:"name,omitempty"`
	// Description is free text for the reader of the file.
	Description string `json:"description,omitempty"`
	// Date is the calendar day, "YYYY-MM-DD"; all times are on it, in UTC. Default "2026-01-05" (a Monday).
	Date string `json:"date,omitempty"`

	City     City     `json:"city"`
	Day      Day      `json:"day"`
	Stores   Stores   `json:"stores"`
	Couriers Couriers `json:"couriers"`
	Demand   Demand   `json:"demand"`
	Promise  Promise  `json:"promise"`
	Dispatch Dispatch `json:"dispatch"`
	Pay      Pay      `json:"pay"`
}

// City is the disc the city covers.
type City struct {
	// Lat and Lon are the centre in WGS 84 degrees (latitude within ±85).
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	// RadiusKm is the city's radius in km, in (0, 100]. Uniformly spread stores and couriers lie within it.
	RadiusKm float64 `json:"radius_km"`
}

// Day is the window in which orders are placed. sim.Scenario.Start is Date at Start.
type Day struct {
	// Start is the clock time of the first possible order, "HH:MM". Required.
	Start string `json:"start"`
	// Hours is the length of the order window in hours, > 0; the window must end by 24:00.
	Hours float64 `json:"hours"`
}

// Stores places the stores. Each store lies in one of the districts (a district chosen uniformly, the point
// uniformly in the district's disc) or, with probability SpreadShare or when there are no districts, uniformly in
// the city's disc. District centres are uniform in the disc of radius RadiusKm - DistrictRadiusKm, so districts lie
// inside the city.
type Stores struct {
	// Districts is the number of commercial districts (0: every store is spread uniformly).
	Districts int `json:"districts"`
	// DistrictRadiusKm is a district's radius in km; > 0 and at most the city's radius when Districts > 0.
	DistrictRadiusKm float64 `json:"district_radius_km"`
	// SpreadShare is the probability, in [0, 1], that a store is placed anywhere in the city rather than in a
	// district. Default 0 (all in districts).
	SpreadShare float64 `json:"spread_share"`
	// Kinds lists the kinds of store (at least one, with at least one store in total).
	Kinds []StoreKind `json:"kinds"`
}

// StoreKind is one kind of store: restaurants, convenience stores, pharmacies.
type StoreKind struct {
	// Kind names the kind ("restaurant"); unique among the kinds. Store names are Kind plus the number.
	Kind string `json:"kind"`
	// Prefix starts the store ids of this kind ("r" gives r1, r2, ...): lowercase ASCII letters, unique among the
	// kinds. Default: the first letter of Kind.
	Prefix string `json:"prefix,omitempty"`
	// Count is the number of stores of this kind, >= 0.
	Count int `json:"count"`
	// DemandShare is the fraction of the orders placed at stores of this kind, in [0, 1]; the shares of all kinds
	// add up to 1 (see Spec). A kind with a positive share needs Count > 0.
	DemandShare float64 `json:"demand_share"`
	// PopularitySigma spreads the demand between the stores of the kind: each store's weight is lognormal with
	// mean 1 and this log-scale standard deviation, in [0, 3]. Default 0: every store of the kind is equally busy.
	PopularitySigma float64 `json:"popularity_sigma,omitempty"`
	// Prep is the time from the click to the order being ready for pick-up.
	Prep Prep `json:"prep"`
	// Sizes is the mix of order sizes in carrying units. Default: every order is 1 unit.
	Sizes []SizeShare `json:"sizes,omitempty"`
}

// Prep is a preparation-time distribution: lognormal with the given median and 90th percentile (log-scale
// mean ln(MedianMin), standard deviation ln(P90Min/MedianMin)/1.2816), truncated to [MinMin, MaxMin] (drawn by
// inverse transform within the bounds, so there is no spike at a bound). Times are rounded to the second.
type Prep struct {
	// MedianMin is the median in minutes, in (0, promise.target_min].
	MedianMin float64 `json:"median_min"`
	// P90Min is the 90th percentile in minutes, >= MedianMin (equal: every order takes MedianMin).
	P90Min float64 `json:"p90_min"`
	// MinMin is the lower bound in minutes, in [0, MedianMin]. Default 0.
	MinMin float64 `json:"min_min,omitempty"`
	// MaxMin is the upper bound in minutes, in [MedianMin, promise.target_min]: the engine refuses an order that is
	// ready after its promise. Default (0): the smaller of 3 × P90Min and promise.target_min.
	MaxMin float64 `json:"max_min,omitempty"`
}

// SizeShare is one entry of an order-size mix.
type SizeShare struct {
	// Units is the order's size in carrying units, >= 1 and at most the largest courier capacity.
	Units int `json:"units"`
	// Share is the fraction of the kind's orders of this size, in [0, 1]; the shares add up to 1.
	Share float64 `json:"share"`
}

// Couriers lists the shifts. Courier ids are k1, k2, ... in the order of the groups.
type Couriers struct {
	// StartAt says where a courier comes online: "city" (default: uniformly in the city's disc) or "district"
	// (uniformly in a random district; needs stores.districts > 0).
	StartAt string `json:"start_at,omitempty"`
	// Shifts are the shift groups; there must be at least one courier in total.
	Shifts []ShiftGroup `json:"shifts"`
}

// ShiftGroup is a number of identical couriers on the same shift.
type ShiftGroup struct {
	// Name is a label for the reader ("lunch"); couriers are named after it.
	Name string `json:"name,omitempty"`
	// Start is when the couriers come online, "HH:MM", not before the day's start and before its end.
	Start string `json:"start"`
	// End is when they stop taking pick-ups, "HH:MM" after Start, at most "24:00" (it may be after the order
	// window closes).
	End string `json:"end"`
	// Count is the number of couriers, >= 0.
	Count int `json:"count"`
	// Vehicle is the vehicle profile: foot, bike, ebike, scooter or car. Required.
	Vehicle string `json:"vehicle"`
	// Capacity is how many carrying units a courier takes at once, >= 1.
	Capacity int `json:"capacity"`
}

// Demand describes the orders. Arrivals are a non-homogeneous Poisson process over the day's window (drawn by
// thinning) whose rate is proportional to
//
//	(base + Σ peak.weight · exp(−(t − peak.centre)² / (2 · peak.width_min²))) · Π surge.multiplier (t in the surge)
//
// scaled so that the expected number of orders over the window is Orders. The realised count is Poisson around it.
// Each order picks a kind by demand share, a store of the kind by popularity, a preparation time, a size, and a
// drop-off at a distance from the store in a uniform direction.
type Demand struct {
	// Orders is the expected number of orders over the day, in [1, 1 000 000].
	Orders int `json:"orders"`
	// Base is the rate's constant level, in the same relative unit as the peak weights, >= 0. Default 1.
	Base *float64 `json:"base,omitempty"`
	// Peaks are Gaussian bumps of the rate (lunch, dinner).
	Peaks []Peak `json:"peaks,omitempty"`
	// Surges multiply the rate within a window (a promotion); overlapping surges multiply each other.
	Surges []Surge `json:"surges,omitempty"`
	// Dropoff is the distance from the store to the customer.
	Dropoff Dropoff `json:"dropoff"`
}

// Peak is a Gaussian bump of the arrival rate.
type Peak struct {
	// Name is a label for the reader ("lunch").
	Name string `json:"name,omitempty"`
	// Centre is the clock time of the top of the peak, "HH:MM" (it may lie outside the day's window).
	Centre string `json:"centre"`
	// WidthMin is the Gaussian's standard deviation in minutes, > 0 (about 68 % of the bump lies within ±WidthMin
	// of the centre).
	WidthMin float64 `json:"width_min"`
	// Weight is the height of the bump at its centre, relative to Base, >= 0.
	Weight float64 `json:"weight"`
}

// Surge multiplies the arrival rate within [Start, End).
type Surge struct {
	// Name is a label for the reader ("promo").
	Name string `json:"name,omitempty"`
	// Start and End are clock times "HH:MM" within the day's window, End after Start.
	Start string `json:"start"`
	End   string `json:"end"`
	// Multiplier is the factor, in (0, 100] (below 1: a dip).
	Multiplier float64 `json:"multiplier"`
}

// Dropoff is the distance from the store to the customer: exponential with mean MeanKm, truncated to
// [0, MaxKm] (drawn by inverse transform within the bound, so there is no spike at MaxKm), in a uniform direction.
type Dropoff struct {
	// MeanKm is the mean of the untruncated exponential in km, > 0.
	MeanKm float64 `json:"mean_km"`
	// MaxKm is the largest distance in km, in (0, 100].
	MaxKm float64 `json:"max_km"`
}

// Promise is the click-to-door promise.
type Promise struct {
	// TargetMin is the promise in minutes, > 0: DeliverBy = Created + TargetMin, and sim.Scenario.Target.
	TargetMin float64 `json:"target_min"`
	// MaxClickToDoorMin is the longest click-to-door in minutes that still counts as a delivery
	// (sim.Scenario.MaxClickToDoor), 0 (default) for no limit, else >= TargetMin.
	MaxClickToDoorMin float64 `json:"max_click_to_door_min,omitempty"`
}

// Dispatch holds the few engine settings a scenario fixes; everything else is dispatch.DefaultConfig().
type Dispatch struct {
	// TickSec is the interval between dispatch rounds in seconds, >= 0. Default (0): 30.
	TickSec float64 `json:"tick_sec,omitempty"`
	// PickupServiceMin and DropoffServiceMin are the time spent at the store and at the door in minutes, >= 0.
	// Default 4 and 4.
	PickupServiceMin  *float64 `json:"pickup_service_min,omitempty"`
	DropoffServiceMin *float64 `json:"dropoff_service_min,omitempty"`
}

// Pay is the courier compensation the MDRP cost KPIs use (sim.Scenario.PayPerOrder and PayPerHour); 0: not
// modelled.
type Pay struct {
	PerOrder float64 `json:"per_order,omitempty"`
	PerHour  float64 `json:"per_hour,omitempty"`
}

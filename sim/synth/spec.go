package synth

// Spec is a scenario file: a synthetic city and its day, from which Generate draws a sim.Scenario for a seed.
//
// The JSON form is strict: unknown or duplicate field names (names are case-sensitive) and values of the wrong
// JSON type are errors. Field names are snake_case; durations are in the unit their name says (_min minutes,
// _sec seconds, hours), distances in kilometres (_km), clock times are "HH:MM" strings on the day's date (00:00 to
// 24:00) in the spec's time zone (UTC by default). A day may run past midnight (day.start plus day.hours after
// 24:00): its clock times earlier than day.start are then on the next day, so a night from 22:00 to 12:00 has its
// 07:45 shift on the morning after. A field left out takes its zero value, which for most fields means the
// documented default; the few fields whose zero is meaningful but not the default are pointers (nil: default).
//
// # Fulfilment
//
// Stores may have opening hours, a picking capacity and stock, orders may name only their items or be collected
// in store, and customers of a closed store may book a delivery slot after its opening (Catalogue,
// StoreKind.Hours, StoreKind.Pickers, StoreKind.Stock, Demand.ByItemsShare, Demand.Collect, Promise.Slots). A spec
// with any of these gives a sim.Scenario with Fulfil set: the simulator then runs the stores' side (package
// dispatch/fulfil) beside the engine. A spec with none of them gives the scenario it always did.
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
	// Date is the calendar day, "YYYY-MM-DD"; all clock times are on it (or the next day, for a day past
	// midnight). Default "2026-01-05" (a Monday).
	Date string `json:"date,omitempty"`
	// Timezone is the IANA name of the time zone of the date and every clock time ("Asia/Shanghai"). Default
	// "UTC".
	Timezone string `json:"timezone,omitempty"`

	City     City     `json:"city"`
	Day      Day      `json:"day"`
	Stores   Stores   `json:"stores"`
	Couriers Couriers `json:"couriers"`
	Demand   Demand   `json:"demand"`
	Promise  Promise  `json:"promise"`
	Dispatch Dispatch `json:"dispatch"`
	Pay      Pay      `json:"pay"`
	// Catalogue, when set, is the products the stores stock and the orders name (see StoreKind.Stock). Without
	// it no stock is tracked.
	Catalogue *Catalogue `json:"catalogue,omitempty"`
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
	// Hours is the length of the order window in hours, in (0, 24]. A window ending after 24:00 runs into the
	// next day (see Spec).
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
	// SearchRadiusKm bounds the search for a store around the drop-off of an order that names only its items, in
	// km, >= 0. Default (0): 15.
	SearchRadiusKm float64 `json:"search_radius_km,omitempty"`
	// Candidates is how many stores with every item in stock are compared for such an order, >= 0. Default (0): 8.
	Candidates int `json:"candidates,omitempty"`
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

	// Hours is the stores' weekly opening schedule in the API's form: a day name ("mon" ... "sun") to a list of
	// "HH:MM-HH:MM" spans, a span ending at or before its opening running past midnight; the key "daily" gives the
	// spans of every day not listed. A day left out is closed. Default: always open.
	Hours map[string][]string `json:"hours,omitempty"`
	// Timezone is the IANA time zone of the hours. Default: the spec's.
	Timezone string `json:"timezone,omitempty"`
	// Pickers is how many orders a store prepares at once (the API's max_active_orders), >= 0; 0: no limit.
	Pickers int `json:"pickers,omitempty"`
	// Stock is what each store of the kind has on hand at the start of the day; it needs a catalogue. A kind
	// without stock takes orders without items.
	Stock *Stock `json:"stock,omitempty"`
	// Restock lists clock times at which every store of the kind gets a delivery that brings each product's
	// available stock back up to its level at the start of the day. Needs stock.
	Restock []string `json:"restock,omitempty"`
}

// Catalogue is the products. Their ids are "sku" and the popularity rank (sku001 is the most popular).
type Catalogue struct {
	// SKUs is the number of products, in [1, 100 000].
	SKUs int `json:"skus"`
	// PopularitySkew is the Zipf exponent of the products' popularity: the k-th is ordered with weight 1/k^skew, in
	// [0, 5]. Default 0: all alike.
	PopularitySkew float64 `json:"popularity_skew,omitempty"`
	// LinesMean is the mean number of products in an order (1 + Poisson), in [1, 50]. Default 1.
	LinesMean float64 `json:"lines_mean,omitempty"`
	// LinesMax caps the number of products in an order, in [1, 200]. Default 10.
	LinesMax int `json:"lines_max,omitempty"`
	// QtyMean is the mean quantity of a product in an order (1 + Poisson), in [1, 100]. Default 1.
	QtyMean float64 `json:"qty_mean,omitempty"`
	// QtyMax caps that quantity, in [1, 500]. Default 5.
	QtyMax int `json:"qty_max,omitempty"`
}

// Stock is a kind's opening stock. Each store carries each product independently with probability Assortment;
// a product carried has a lognormal number of units with median MedianUnits × (popularity / mean popularity) ^
// FollowPopularity and the same spread as P90Units to MedianUnits, rounded (a product rounded to 0 is not
// carried).
type Stock struct {
	// Assortment is the share of the catalogue a store carries, in (0, 1]. Default (0): 1.
	Assortment float64 `json:"assortment,omitempty"`
	// MedianUnits is the median stock of a product of average popularity, > 0.
	MedianUnits float64 `json:"median_units"`
	// P90Units is the 90th percentile of that stock, >= MedianUnits.
	P90Units float64 `json:"p90_units"`
	// FollowPopularity, in [0, 1], scales a product's stock with its popularity: 0 all alike, 1 in proportion.
	FollowPopularity float64 `json:"follow_popularity,omitempty"`
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
	// ByItemsShare is the share of orders, in [0, 1], that name only their items and let the network choose the
	// store (among those within stores.search_radius_km of the drop-off). It applies to kinds with stock. Default 0.
	ByItemsShare float64 `json:"by_items_share,omitempty"`
	// Collect, when set, makes a share of the orders ones the customer collects in store.
	Collect *Collect `json:"collect,omitempty"`
}

// Collect is the orders the customer collects in store: no courier; the promise is when the order is ready, and
// the customer comes a lognormal delay after that (median, 90th percentile, truncated to [0, MaxMin]).
type Collect struct {
	// Share of the orders, in [0, 1].
	Share float64 `json:"share"`
	// DelayMedianMin and DelayP90Min give the delay from ready to collected in minutes, > 0, p90 >= median.
	DelayMedianMin float64 `json:"delay_median_min"`
	DelayP90Min    float64 `json:"delay_p90_min"`
	// DelayMaxMin bounds the delay, >= the median. Default (0): 3 × DelayP90Min.
	DelayMaxMin float64 `json:"delay_max_min,omitempty"`
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
	// Slots, when set, lets the customers of a store that is closed (or closes within the promise) book a delivery
	// slot after its next opening instead. Needs store hours.
	Slots *Slots `json:"slots,omitempty"`
}

// Slots are the delivery slots booked at a closed store: Count slots of SlotMin minutes from its next opening.
// A customer who books picks one uniformly (its end is the order's promise) and takes a later one when the stores
// cannot keep it; a customer who does not book asks for the usual promise, which a closed store cannot keep.
type Slots struct {
	// SlotMin is a slot's length in minutes, > 0.
	SlotMin float64 `json:"slot_min"`
	// Count is the number of slots, in [1, 96].
	Count int `json:"count"`
	// Share is the share of those customers who book, in [0, 1]. Default: 1 (null or left out).
	Share *float64 `json:"share,omitempty"`
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

package dispatch

import (
	"math"
	"time"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Config holds every weight, interval and limit of the dispatch policy. DefaultConfig documents the defaults;
// the zero value is not usable (call DefaultConfig and change what you need).
//
// Costs are in "seconds-equivalent": one second of courier time with DurationWeight 1.
type Config struct {
	// Policy chooses how a round assigns work: the engine's optimising round (the default) or the naive baseline
	// that reports compare it with.
	Policy Policy

	// Rules are switches that benchmarks and special fleets need.
	Rules Rules

	// PickupService and DropoffService are the time spent at a store or a door. Like the MDRP benchmark, half of it
	// is spent before the hand-over and half after it. Several orders handled in one visit share one service.
	// Defaults: 4 min and 4 min.
	PickupService, DropoffService time.Duration

	// Lookahead: an open order becomes a candidate of a round once its ready time is within Lookahead of now (there
	// is no use sending a courier to a store whose order is ready in an hour). Default 30 min.
	Lookahead time.Duration

	// AppendHorizon: a courier whose current route ends more than this after now is not offered new work in a
	// round; its next job is chosen later, when more orders are known and can be bundled (0: no limit). It matters
	// most under Rules.NoDiversion, where work given to a busy courier is committed to the end of its route.
	// Default 0.
	AppendHorizon time.Duration

	// CommitLead: under Rules.NoDiversion, a bundle the matching gives to a courier is committed only when the
	// courier would wait less than CommitLead at its store for the bundle to be ready. A courier with that much
	// time to spare could set off a round later and pick the bundle up just as soon, and once committed it can
	// take nothing else: the bundle is held instead (the courier stays free, the orders pending) and matched again
	// in the next round, with the orders and couriers that have come up since. Set it to the interval between
	// rounds; 0 disables. Default 0.
	CommitLead time.Duration

	// CandidateCouriers is how many couriers near the store (k nearest, by true distance) are priced for each bundle.
	// Default 12.
	CandidateCouriers int
	// ReachRadius bounds the search for candidate couriers, in metres of straight-line distance from the store.
	// Default 8 000 m.
	ReachRadius float64
	// ReachBeyond: a bundle with no online courier of its region within ReachRadius of its store is priced for the
	// nearest couriers beyond it, at any distance, rather than left waiting for one to come near (where orders must
	// be delivered however late, and a store may lie far from every courier). Default false.
	ReachBeyond bool

	// MaxBundleOrders is the largest number of orders in one bundle (0 or 1: no bundling). Default 3.
	MaxBundleOrders int
	// BundleReadyGap: orders are bundled only when their ready times are at most this far apart. Default 8 min.
	BundleReadyGap time.Duration
	// BundleDetourRatio: an order joins a bundle only if the bundle's trip grows by at most this share of the order's
	// own direct trip from its store (0.7: bundling saves at least 30 % of a dedicated trip). Default 0.7.
	BundleDetourRatio float64
	// BundleStoreRadius: orders of stores at most this far apart (metres) may share a bundle, unless
	// Rules.SameStoreBundlesOnly. Default 300 m.
	BundleStoreRadius float64
	// ScarceRatio: a round is short of couriers when its pending orders number more than ScarceRatio times the
	// couriers free to take work (online, before the end of their shift, with a route ending within AppendHorizon
	// when that is set). Couriers, not the customers' detours, then limit what gets delivered, and each order left
	// out of a bundle waits for a courier of its own: the round's bundles may hold twice MaxBundleOrders orders (at
	// most 8), of ready times up to twice BundleReadyGap or DeferHorizon apart, whichever is longer (the slip the
	// round prices for an order left waiting), each adding up to twice BundleDetourRatio of its own trip. 0 disables.
	// Default 0.
	ScarceRatio float64
	// BundleProfile is the vehicle assumed when judging a bundle before a courier is chosen. Default bike.
	BundleProfile geo.Profile

	// Cost weights.
	// DurationWeight prices one second of courier time (from now to the end of the route). Default 1.
	DurationWeight float64
	// DeliveryWeight prices one second of a customer's wait for each order on a route (planned drop-off minus now).
	// Default 1.
	DeliveryWeight float64
	// LateWeight prices each second a drop-off is planned after its promise (the steep part of the soft deadline).
	// Default 10.
	LateWeight float64
	// LateFixed is added once for each order planned late at all. Default 600.
	LateFixed float64

	// HardLateness: a plan never takes on an order whose drop-off would be more than this after its promise. Orders
	// already on a route that drift past it stay there (they are priced by LateWeight). Default 30 min.
	HardLateness time.Duration
	// MaxRide bounds the time from pick-up to drop-off (food freshness). Default 45 min.
	MaxRide time.Duration
	// MaxRouteStops bounds a route's length (at most 64). Default 16.
	MaxRouteStops int

	// UnassignedCost is the price of leaving one order unassigned for a round. It is far above any insertion cost, so
	// that the matching first serves as many orders as it can and only then minimises cost. Default 1e6.
	UnassignedCost float64

	// DeferHorizon prices leaving an order unassigned in a round as if its drop-off slipped by this much (delivery
	// time, and lateness past the promise at LateWeight and LateFixed). When couriers are scarce, orders about to be
	// late (or already late) then win them over orders with time to spare. 0 disables. Default 10 min.
	DeferHorizon time.Duration

	// ExpiryHorizon: an order that can wait less than this for a courier now on shift is worth more served than
	// others when couriers are contended for. How long it can wait is the most, over the couriers on shift, of the
	// time between the earliest pick-up they could make at its store (from the end of their route, the food ready)
	// and the latest they may make (their shift end under Rules.NoPickupAfterShiftEnd, the order's own latest
	// pick-up); when it runs out no courier now on shift can take it, so leaving it for a later round may lose it
	// for good. Leaving it unassigned is priced up to half UnassignedCost more, in proportion to how little it can
	// wait: the matching serves it before orders a courier can still take later, and an order about to expire
	// counts at most as one and a half orders that are not. Couriers with no known shift end never let an order
	// expire. 0 disables. Default 0.
	ExpiryHorizon time.Duration

	// PostponeSlack and PostponeReadyIn: a bundle whose best plan keeps every promise with at least PostponeSlack to
	// spare, and whose orders are ready no sooner than PostponeReadyIn from now, waits a round for a better bundle or a
	// closer courier (0 disables). Defaults 15 min and 10 min.
	PostponeSlack, PostponeReadyIn time.Duration

	// Reassign lets a round move an assigned, not yet picked up order to another courier when that lowers the cost
	// by more than ReassignThreshold (the price of churn: a courier app that changes its mind). Ignored under
	// Rules.NoDiversion. Defaults true and 300.
	Reassign          bool
	ReassignThreshold float64

	// ImproveBudget bounds the improvement that ends a round: moves of orders not yet picked up between the routes the
	// round touched (an order to another route, or two orders exchanged), each priced by the round's own insertion,
	// made when it lowers the routes' total cost (plus ReassignThreshold for an order taken from the courier that
	// held it before the round). The budget counts evaluations (a route priced without an order, or an order's
	// insertion priced), so the result does not depend on the machine's speed. 0 disables. Default 2 000 (a few
	// milliseconds at 10 000 couriers and 3 000 open orders).
	ImproveBudget int

	// PlanBudget, under Rules.NoDiversion and Rules.SameStoreBundlesOnly (routes made of one store's bundle after
	// another), replaces the round's matching by a plan of every pending order into trips for every courier on shift,
	// as far ahead as their shifts allow: a ruin-and-recreate search of PlanBudget iterations that first serves as
	// many orders as it can, then minimises their total click-to-door. Only the trips that cannot wait for the next
	// round are committed (those a courier leaves for within CommitLead and would not wait CommitLead for at the
	// store); the rest is planned again next round. 0 (the default) keeps the matching.
	PlanBudget int

	// ExactSequenceStops: a touched route with at most this many movable stops is re-sequenced exactly (branch and
	// bound); a longer one by local search. Default 8.
	ExactSequenceStops int

	// FinishedRetention is how long a delivered, cancelled or failed order stays readable in the engine before it
	// is forgotten (the daemon keeps its own record). Default 2 h.
	FinishedRetention time.Duration

	// MaxRoundOrders bounds the pending orders one round considers: when more are waiting, the most urgent go in
	// (earliest promise first, then the oldest) and the others wait for a later round, told "backlog". A courier
	// takes at most one bundle a round, so orders far beyond what the fleet can take only make the round slower
	// (bundling and pricing grow with them) while it assigns the same; and a round that takes seconds delays
	// everything waiting for the engine. 0: 4 per online courier, at least 1 000. Default 0.
	MaxRoundOrders int

	// Workers is how many goroutines price bundles in a round (the result does not depend on it). Default 2.
	Workers int
}

// maxBundleLimit is the most orders a bundle may hold.
const maxBundleLimit = 8

// Policy is a dispatch policy.
type Policy uint8

// Policies.
const (
	// PolicyOptimize is the round described in the package documentation: bundles, insertion into current routes,
	// global matching, postponement, re-assignment and re-sequencing.
	PolicyOptimize Policy = iota
	// PolicyNearestIdle is the naive baseline many dispatch platforms start from: first come first served, each
	// pending order (oldest first, as soon as it is placed) goes to the nearest idle courier (online, nothing on its
	// route) that can take it within the rules and the hard promise limit; one order at a time, no bundles, no
	// re-planning. It exists so that every report can show what the optimising round gains.
	PolicyNearestIdle
)

var policyNames = [...]string{"optimize", "nearest-idle"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "unknown"
}

// ParsePolicy returns the policy with the given name ("optimize", "nearest-idle"). "baseline", the name the
// simulator once gave nearest-idle, is accepted for it, so that scripts written for either keep working.
func ParsePolicy(name string) (Policy, error) {
	if name == "baseline" {
		return PolicyNearestIdle, nil
	}
	for i, n := range policyNames {
		if n == name {
			return Policy(i), nil
		}
	}
	return 0, invalid("policy", "unknown policy %q (want optimize or nearest-idle)", name)
}

// Rules are policy switches.
type Rules struct {
	// SameStoreBundlesOnly: bundles only hold orders of one store (MDRP).
	SameStoreBundlesOnly bool
	// NoDiversion: a courier executing an assignment is never diverted; new work is appended to the end of its route
	// and nothing is re-sequenced or re-assigned (MDRP).
	NoDiversion bool
	// NoPickupAfterShiftEnd: no pick-up is planned after a courier's shift end; drop-offs still are. Default on.
	NoPickupAfterShiftEnd bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Rules:              Rules{NoPickupAfterShiftEnd: true},
		PickupService:      4 * time.Minute,
		DropoffService:     4 * time.Minute,
		Lookahead:          30 * time.Minute,
		CandidateCouriers:  12,
		ReachRadius:        8000,
		MaxBundleOrders:    3,
		BundleReadyGap:     8 * time.Minute,
		BundleDetourRatio:  0.7,
		BundleStoreRadius:  300,
		BundleProfile:      geo.Bike,
		DurationWeight:     1,
		DeliveryWeight:     1,
		LateWeight:         10,
		LateFixed:          600,
		HardLateness:       30 * time.Minute,
		MaxRide:            45 * time.Minute,
		MaxRouteStops:      16,
		UnassignedCost:     1e6,
		DeferHorizon:       10 * time.Minute,
		PostponeSlack:      15 * time.Minute,
		PostponeReadyIn:    10 * time.Minute,
		Reassign:           true,
		ReassignThreshold:  300,
		ExactSequenceStops: 8,
		ImproveBudget:      2000,
		FinishedRetention:  2 * time.Hour,
		Workers:            2,
	}
}

// Validate reports the first setting that is out of range, naming it.
func (c *Config) Validate() error {
	nonNeg := func(name string, d time.Duration) error {
		if d < 0 {
			return invalid(name, "%s must not be negative, got %s", name, d)
		}
		return nil
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"PickupService", c.PickupService}, {"DropoffService", c.DropoffService}, {"Lookahead", c.Lookahead},
		{"BundleReadyGap", c.BundleReadyGap}, {"AppendHorizon", c.AppendHorizon}, {"CommitLead", c.CommitLead},
		{"DeferHorizon", c.DeferHorizon}, {"ExpiryHorizon", c.ExpiryHorizon}, {"HardLateness", c.HardLateness}, {"PostponeSlack", c.PostponeSlack},
		{"PostponeReadyIn", c.PostponeReadyIn}, {"FinishedRetention", c.FinishedRetention},
	} {
		if err := nonNeg(d.name, d.d); err != nil {
			return err
		}
	}
	finiteNonNeg := func(name string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return invalid(name, "%s must be a finite number >= 0, got %v", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"ReachRadius", c.ReachRadius}, {"BundleDetourRatio", c.BundleDetourRatio},
		{"BundleStoreRadius", c.BundleStoreRadius}, {"ScarceRatio", c.ScarceRatio}, {"DurationWeight", c.DurationWeight},
		{"DeliveryWeight", c.DeliveryWeight}, {"LateWeight", c.LateWeight}, {"LateFixed", c.LateFixed},
		{"UnassignedCost", c.UnassignedCost}, {"ReassignThreshold", c.ReassignThreshold},
	} {
		if err := finiteNonNeg(f.name, f.v); err != nil {
			return err
		}
	}
	switch {
	case c.MaxRide <= 0:
		return invalid("MaxRide", "MaxRide must be positive, got %s", c.MaxRide)
	case c.CandidateCouriers < 1:
		return invalid("CandidateCouriers", "CandidateCouriers must be at least 1, got %d", c.CandidateCouriers)
	case c.MaxBundleOrders < 0 || c.MaxBundleOrders > maxBundleLimit:
		return invalid("MaxBundleOrders", "MaxBundleOrders must be within [0, %d], got %d", maxBundleLimit, c.MaxBundleOrders)
	case c.MaxRouteStops < 2 || c.MaxRouteStops > 64:
		return invalid("MaxRouteStops", "MaxRouteStops must be within [2, 64], got %d", c.MaxRouteStops)
	case c.ExactSequenceStops < 0 || c.ExactSequenceStops > 10:
		return invalid("ExactSequenceStops", "ExactSequenceStops must be within [0, 10], got %d", c.ExactSequenceStops)
	case c.ImproveBudget < 0:
		return invalid("ImproveBudget", "ImproveBudget must not be negative (0: off), got %d", c.ImproveBudget)
	case c.PlanBudget < 0:
		return invalid("PlanBudget", "PlanBudget must not be negative (0: off), got %d", c.PlanBudget)
	case c.MaxRoundOrders < 0:
		return invalid("MaxRoundOrders", "MaxRoundOrders must not be negative (0: automatic), got %d", c.MaxRoundOrders)
	case c.Workers < 1 || c.Workers > 256:
		return invalid("Workers", "Workers must be within [1, 256], got %d", c.Workers)
	case c.UnassignedCost*float64(max(c.MaxBundleOrders, 1)) > 1e12:
		return invalid("UnassignedCost", "UnassignedCost too large: %v", c.UnassignedCost)
	case int(c.Policy) >= len(policyNames):
		return invalid("Policy", "unknown policy %d", c.Policy)
	case c.BundleProfile >= geo.NumProfiles:
		return invalid("BundleProfile", "unknown profile %d", c.BundleProfile)
	}
	return nil
}

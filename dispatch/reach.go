package dispatch

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Why no vehicle could deliver an order (Reach.Reason).
const (
	// ReachTooLate: even the fastest vehicle, collecting the order the moment it is ready, would hand it over
	// after its promise plus Config.HardLateness, so no plan would ever take it on.
	ReachTooLate = "unreachable_in_time"
	// ReachRideTooLong: the ride from the store to the door takes longer than Config.MaxRide with every vehicle.
	ReachRideTooLong = "ride_too_long"
)

// Reach is the best any courier could do for an order, whatever its vehicle and wherever it is now: collect the
// order the moment it is ready and ride straight to the door with the fastest vehicle profile. It is a lower bound
// of every plan the engine makes, so an order out of reach is one no round will ever place.
type Reach struct {
	// Vehicle is the fastest profile from the store to the drop-off.
	Vehicle geo.Profile
	// Ride is from the pick-up's hand-over to the drop-off's: the half of the pick-up service spent after it,
	// the travel, and the half of the drop-off service spent before it (as the planner counts them).
	Ride time.Duration
	// Ready and DeliverBy are the order's ready time and promise, as given.
	Ready, DeliverBy time.Time
	// EarliestDropoff is Ready plus Ride.
	EarliestDropoff time.Time
	// LatestDropoff is DeliverBy plus Config.HardLateness: the latest drop-off a plan takes an order on for.
	LatestDropoff time.Time
	// Reason is empty when the order is in reach, else ReachTooLate or ReachRideTooLong. With acceptLate only
	// ReachRideTooLong applies.
	Reason string
}

// ReachOf works out Reach for an order ready at ready, promised by deliverBy, from a store at from to a drop-off at
// to, under cfg's services, HardLateness and MaxRide and the travel model's fastest profile. acceptLate says the
// customer takes a delivery however late (OrderSpec.AcceptLate): then only the ride's own limit can rule it out.
// It reads nothing but its arguments.
func ReachOf(cfg *Config, travel geo.TravelModel, from, to orb.Point, ready, deliverBy time.Time, acceptLate bool) Reach {
	r := Reach{Ride: -1, Ready: ready.UTC(), DeliverBy: deliverBy.UTC()}
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		if d := travel.TravelTime(from, to, p); r.Ride < 0 || d < r.Ride {
			r.Vehicle, r.Ride = p, d
		}
	}
	r.Ride += cfg.PickupService - cfg.PickupService/2 + cfg.DropoffService/2
	r.EarliestDropoff = ready.Add(r.Ride).UTC()
	r.LatestDropoff = deliverBy.Add(cfg.HardLateness).UTC()
	switch {
	case r.Ride > cfg.MaxRide:
		r.Reason = ReachRideTooLong
	case !acceptLate && r.EarliestDropoff.After(r.LatestDropoff):
		r.Reason = ReachTooLate
	}
	return r
}

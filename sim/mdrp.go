package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
)

// MDRPDay is minute zero of every MDRP instance in virtual time. The instances count minutes from the start of an
// unnamed day; any fixed date serves.
var MDRPDay = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// mdrpRoundEvery is the interval of the dispatch rounds of an MDRP run: the instances' unit of time.
const mdrpRoundEvery = time.Minute

// MDRPConfig is the engine configuration for an MDRP instance: its service times and promise, the benchmark's rule
// switches, and dispatch parameters chosen for its objective (click-to-door first, courier time second).
func MDRPConfig(p mdrp.Params) dispatch.Config {
	cfg := dispatch.DefaultConfig()
	cfg.Rules = dispatch.Rules{SameStoreBundlesOnly: true, NoDiversion: true, NoPickupAfterShiftEnd: true}
	cfg.PickupService = time.Duration(p.PickupService) * time.Minute
	cfg.DropoffService = time.Duration(p.DropoffService) * time.Minute
	// The benchmark counts an order as delivered whatever its click-to-door (the maximum is a yardstick, not a
	// condition), so the engine never gives up on one: past the target it is late and priced steeply, and the hard
	// limit is far out of reach.
	cfg.HardLateness = 5 * time.Hour
	// Neither ride time nor bag size is limited.
	cfg.MaxRide = 5 * time.Hour
	// Couriers come from anywhere that can still make the maximum click-to-door.
	cfg.ReachRadius = p.MetersPerMinute * float64(max(p.MaxClickToDoor, p.Target))
	// A restaurant with no courier even that near (a few lie hours from every on-location) still gets the nearest
	// ones: every order counts, however late.
	cfg.ReachBeyond = true
	// Work given to a busy courier is committed (no diversion), so only couriers about to finish get it; the rest
	// waits a round or two for a free courier or a bundle partner.
	cfg.AppendHorizon = 5 * time.Minute
	// A courier committed to a bundle can take nothing else until it is delivered, so a bundle is committed only
	// when its courier has no round to spare: one that would wait a round or more at the store for the food is
	// left free, and the bundle is matched again next round with what has come up meanwhile.
	cfg.CommitLead = mdrpRoundEvery
	// Couriers are scarce at peaks: an order left waiting is priced as slipping an hour, so late orders are served
	// first instead of starving.
	cfg.DeferHorizon = time.Hour
	// An order that the couriers on shift can still reach only for less than one more assignment's services is
	// served before orders that can wait: given any other job first, the courier that could take it no longer
	// can, and the order is lost for good (a restaurant far from everyone, near the end of the shifts).
	cfg.ExpiryHorizon = cfg.PickupService + cfg.DropoffService
	// When the orders waiting outnumber the couriers free to take them twice over, couriers are what limits the
	// deliveries (the late-evening shifts of the s1 and o50 instances): the round then bundles more, and more loosely.
	cfg.ScarceRatio = 2
	// No postponement: under no-diversion a courier is offered work only when about to be free (AppendHorizon), so
	// a bundle held back for a better courier or partner mostly waits for nothing, and click-to-door pays for it.
	cfg.PostponeSlack = 0
	// Each round plans every pending order into trips for every courier on shift, as far ahead as their shifts
	// allow, and commits only what cannot wait (dispatch.Config.PlanBudget): at the end of the day the last couriers
	// are then kept for the orders only they can still reach. On the 60 public instances 300 iterations lose only
	// the 9 orders no plan delivers (200 lose one more).
	cfg.PlanBudget = 300
	// Instances are small enough that a second pricing goroutine costs more than it saves.
	cfg.Workers = 1
	return cfg
}

// FromMDRP builds the scenario of an MDRP instance. Couriers carry any number of orders (the benchmark has no
// capacity), all at the instance's one speed.
func FromMDRP(in *mdrp.Instance) *Scenario {
	minute := func(m int) time.Time { return MDRPDay.Add(time.Duration(m) * time.Minute) }
	sc := &Scenario{
		Name:           in.Name,
		Start:          MDRPDay,
		Space:          geo.Planar,
		Travel:         geo.CeilMinutes{Space: geo.Planar, MetresPerMinute: in.Params.MetersPerMinute},
		Config:         MDRPConfig(in.Params),
		TickEvery:      mdrpRoundEvery,
		Target:         time.Duration(in.Params.Target) * time.Minute,
		MaxClickToDoor: time.Duration(in.Params.MaxClickToDoor) * time.Minute,
		PayPerOrder:    in.Params.PayPerOrder,
		PayPerHour:     in.Params.PayPerHour,
	}
	for _, r := range in.Restaurants {
		sc.Stores = append(sc.Stores, dispatch.Store{ID: r.ID, Location: orb.Point{r.X, r.Y}})
	}
	for _, c := range in.Couriers {
		sc.Couriers = append(sc.Couriers, Shift{
			Courier:  dispatch.CourierSpec{ID: c.ID, Vehicle: geo.Car, Capacity: 1000},
			Location: orb.Point{c.X, c.Y},
			On:       minute(c.On),
			Off:      minute(c.Off),
		})
	}
	for _, o := range in.Orders {
		sc.Orders = append(sc.Orders, dispatch.OrderSpec{
			ID:      o.ID,
			StoreID: o.Restaurant,
			Dropoff: orb.Point{o.X, o.Y},
			Created: minute(o.Placement),
			Ready:   minute(o.Ready),
			// About 4 % of the orders are ready only after the target; the engine (which refuses a promise
			// before the order is ready) is told the ready time instead. The KPIs still measure the target.
			DeliverBy: minute(max(o.Placement+in.Params.Target, o.Ready)),
		})
	}
	return sc
}

// MDRPSolution writes a run as the benchmark's three solution files: one assignment per store visit (the bundle
// collected there, decided when its last order was assigned), the delivered orders, and every courier's moves.
func MDRPSolution(r *Result) (*mdrp.Solution, error) {
	var bad error
	minute := func(t time.Time) int {
		d := t.Sub(r.Start)
		if d%time.Minute != 0 && bad == nil {
			bad = fmt.Errorf("sim: %s is not a whole minute of the day", t.Format(time.RFC3339Nano))
		}
		return int(d / time.Minute)
	}
	sol := &mdrp.Solution{}
	byID := make(map[string]*OrderRecord, len(r.Orders))
	for i := range r.Orders {
		byID[r.Orders[i].ID] = &r.Orders[i]
	}
	for _, p := range r.Pickups {
		orders := slices.Clone(p.Orders)
		// Delivery sequence: by drop-off time, stable for orders handed over together.
		slices.SortStableFunc(orders, func(a, b string) int { return byID[a].Delivered.Compare(byID[b].Delivered) })
		sol.Assignments = append(sol.Assignments, mdrp.Assignment{
			Time: minute(p.Decided), Pickup: minute(p.At), Courier: p.CourierID, Orders: orders,
		})
	}
	for _, o := range r.Orders {
		if o.Status != dispatch.StatusDelivered {
			continue
		}
		sol.Orders = append(sol.Orders, mdrp.OrderRecord{
			Order: o.ID, Placement: minute(o.Placed), Ready: minute(o.Ready), Pickup: minute(o.PickedUp),
			Dropoff: minute(o.Delivered), Courier: o.CourierID,
		})
	}
	for _, c := range r.Couriers {
		for _, m := range c.Moves {
			from, err := mdrpPlace(m.From)
			if err != nil {
				return nil, fmt.Errorf("sim: courier %s: %w", c.ID, err)
			}
			to, err := mdrpPlace(m.To)
			if err != nil {
				return nil, fmt.Errorf("sim: courier %s: %w", c.ID, err)
			}
			sol.Moves = append(sol.Moves, mdrp.Move{Courier: c.ID, Departure: minute(m.Depart), Origin: from, Destination: to})
		}
	}
	if bad != nil {
		return nil, bad
	}
	return sol, nil
}

func mdrpPlace(p Place) (string, error) {
	switch p.Kind {
	case PlaceStart:
		return mdrp.OnLocation, nil
	case PlaceStore, PlaceDropoff:
		return p.ID, nil
	}
	return "", fmt.Errorf("a move starts on the road (a diversion), which the MDRP rules do not allow")
}

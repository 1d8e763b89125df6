package mdrp

import (
	"cmp"
	"slices"
)

// Unreachable returns the ids of the orders no courier can pick up within the rules, in the order of the
// instance: for every courier, the earliest pickup it could make at the order's restaurant is after its
// off-time (condition 3). That earliest pickup is the later of the order's ready time (condition 4) and the
// courier's arrival there riding straight from its on-location at its on-time, plus half the pickup service,
// rounded up to a whole minute (condition 7). No route arrives sooner than the straight ride: every leg is rounded
// up on its own, so a detour's minutes add up to at least the direct ride's.
//
// Every solution leaves these orders undelivered: len(Unreachable(in)) bounds the orders any solution misses from
// below.
func Unreachable(in *Instance) []string {
	rest := make(map[string]*Restaurant, len(in.Restaurants))
	for i := range in.Restaurants {
		rest[in.Restaurants[i].ID] = &in.Restaurants[i]
	}
	var out []string
	for _, o := range in.Orders {
		r := rest[o.Restaurant]
		if r == nil || !in.reachable(r, o.Ready) {
			out = append(out, o.ID)
		}
	}
	return out
}

// reachable reports whether some courier can pick up at r, at or after ready, by its off-time.
func (in *Instance) reachable(r *Restaurant, ready int) bool {
	for _, c := range in.Couriers {
		// In half-minutes: arrival plus half the service, then up to the next whole minute.
		half := 2*(c.On+in.TravelMinutes(c.X, c.Y, r.X, r.Y)) + in.Params.PickupService
		if max(ready, (half+1)/2) <= c.Off {
			return true
		}
	}
	return false
}

// LostBound is a lower bound on the orders any solution of in leaves undelivered: the larger of
// len(Unreachable(in)), which looks at each order alone, and CapacityBound(in), which looks at the fleet as a whole.
func LostBound(in *Instance) int {
	lost, _ := CapacityBound(in)
	return max(len(Unreachable(in)), lost)
}

// CapacityBound returns a lower bound on the orders any solution leaves undelivered, from the pickups the couriers
// can still make after some minute t, and the t that gives it (lost 0: no t proves anything).
//
// The argument, for every t that is some order's ready time: the orders ready at t or later are picked up at t or
// later; each restaurant among theirs (n of them) whose orders are all delivered needs a pickup of its own at t or
// later, and n−m restaurants left without one lose an order each. A courier's pickups are whole assignments one
// after another (no diversion: an assignment's drop-offs come before the next pickup), so two consecutive
// pickups p < p' of a courier, the first at restaurant r, are at least w(r) apart: the pickup service, the drop-off
// service of its last order, the ride from r to that order's diner and on to the nearest restaurant; w(r) takes the
// least of that over every order of r. A courier makes its pickups from max(t, its earliest pickup anywhere: its
// on-time, the ride to the nearest restaurant, half the service) to its off-time, so the gaps of all but its last
// pickup add up to at most that span. Hence m restaurants can have their pickups only if the m−K smallest w add
// up to at most A, the spans' total, with K the couriers with a span at all. Travel times are those of
// TravelMinutes, whose rounding up never makes a route with a stop on the way shorter than the direct ride.
//
// It ignores everything that only makes matters worse: the orders ready before t, which also need couriers,
// where each courier is at t, and the ready times within the period.
func CapacityBound(in *Instance) (lost, from int) {
	if len(in.Restaurants) == 0 || len(in.Orders) == 0 {
		return 0, 0
	}
	ps, ds := in.Params.PickupService, in.Params.DropoffService
	restIdx := make(map[string]int, len(in.Restaurants))
	for i, r := range in.Restaurants {
		restIdx[r.ID] = i
	}
	// w(r), in minutes: the least gap after a pickup at r to the next pickup anywhere.
	gap := make([]int, len(in.Restaurants))
	for i := range gap {
		gap[i] = -1
	}
	for _, o := range in.Orders {
		ri, ok := restIdx[o.Restaurant]
		if !ok {
			continue
		}
		r := &in.Restaurants[ri]
		back := -1
		for _, q := range in.Restaurants {
			if d := in.TravelMinutes(o.X, o.Y, q.X, q.Y); back < 0 || d < back {
				back = d
			}
		}
		if w := ps + ds + in.TravelMinutes(r.X, r.Y, o.X, o.Y) + back; gap[ri] < 0 || w < gap[ri] {
			gap[ri] = w
		}
	}
	// Each courier's earliest pickup anywhere, in whole minutes (as Unreachable rounds it).
	first := make([]int, len(in.Couriers))
	for i, c := range in.Couriers {
		ride := -1
		for _, q := range in.Restaurants {
			if d := in.TravelMinutes(c.X, c.Y, q.X, q.Y); ride < 0 || d < ride {
				ride = d
			}
		}
		first[i] = (2*(c.On+ride) + ps + 1) / 2
	}
	// The candidate minutes t: every distinct ready time, latest first, so that the restaurants of the orders ready
	// at t or later grow as t falls.
	byReady := make([]int, len(in.Orders))
	for i := range byReady {
		byReady[i] = i
	}
	slices.SortFunc(byReady, func(a, b int) int { return cmp.Compare(in.Orders[b].Ready, in.Orders[a].Ready) })
	seen := make([]bool, len(in.Restaurants))
	var weights []int
	for k := 0; k < len(byReady); {
		t := in.Orders[byReady[k]].Ready
		for ; k < len(byReady) && in.Orders[byReady[k]].Ready == t; k++ {
			if ri, ok := restIdx[in.Orders[byReady[k]].Restaurant]; ok && !seen[ri] {
				seen[ri] = true
				weights = append(weights, gap[ri])
			}
		}
		span, couriers := 0, 0
		for i, c := range in.Couriers {
			if start := max(t, first[i]); start <= c.Off {
				span += c.Off - start
				couriers++
			}
		}
		sorted := slices.Sorted(slices.Values(weights))
		served, sum := 0, 0
		for _, w := range sorted {
			if sum+w > span {
				break
			}
			sum += w
			served++
		}
		if l := len(weights) - min(len(weights), served+couriers); l > lost {
			lost, from = l, t
		}
	}
	return lost, from
}

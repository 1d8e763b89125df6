package mdrp

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

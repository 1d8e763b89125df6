package mdrp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The feasibility conditions, numbered as in §2.1 of MDRPInstances.pdf.
const (
	CondAssignedOnce     = 1 // each order is assigned at most once
	CondAfterPlacement   = 2 // assignments are not made before orders are placed
	CondPickupBeforeOff  = 3 // a courier completes its pickups before the end of its duty period
	CondPickupAfterReady = 4 // a bundle is picked up at or after the latest ready time of its orders
	CondDropoffSequence  = 5 // orders are delivered in the sequence the assignment prescribes
	CondNoTeleport       = 6 // courier movements are feasible and their times consistent
	CondAtRestaurant     = 7 // at the pickup time the courier is at the restaurant
	CondAtDiner          = 8 // at the drop-off time the courier is at the diner
)

var conditionNames = [...]string{
	"",
	"each order assigned once",
	"assignment after placement",
	"pickup before off-time",
	"pickup after ready time",
	"drop-off sequence",
	"no teleporting",
	"at the restaurant at pickup",
	"at the diner at drop-off",
}

// ConditionName returns a short name of feasibility condition c (1..8), or "" for any other number.
func ConditionName(c int) string {
	if c < 1 || c >= len(conditionNames) {
		return ""
	}
	return conditionNames[c]
}

// Violation is one breach of a feasibility condition. Courier and Order name the courier and order involved,
// when there is one, as the upstream evaluator reports them.
type Violation struct {
	Condition int    `json:"condition"` // 1..8, see the Cond constants
	Courier   string `json:"courier,omitempty"`
	Order     string `json:"order,omitempty"`
	Message   string `json:"message"`
}

// Error formats the violation as "condition N (name): courier C: order O: message".
func (v Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "condition %d (%s)", v.Condition, ConditionName(v.Condition))
	if v.Courier != "" {
		fmt.Fprintf(&b, ": courier %s", v.Courier)
	}
	if v.Order != "" {
		fmt.Fprintf(&b, ": order %s", v.Order)
	}
	b.WriteString(": ")
	b.WriteString(v.Message)
	return b.String()
}

// String is Error, so that a Violation prints the same with %v and %s.
func (v Violation) String() string { return v.Error() }

// Validate checks that s is a feasible solution of in and returns the violations found, ordered by condition
// (stable within a condition); an empty result means feasible. It trusts nothing the dispatcher computed: it
// replays every courier's moves from its on-location, recomputing each arrival with TravelMinutes.
//
// Notation: for assignment A, A.time and A.pickup are its times; for a delivered order o, D(o) is the drop-off
// time of its record; ps and ds are the pickup and drop-off service minutes. Move k of a courier departs at
// dep_k from origin_k to dest_k and arrives at arr_k = dep_k + TravelMinutes(origin_k, dest_k). Visit 0 is the
// on-location (arr_0 = on_time); visit k ≥ 1 is dest_k, left by move k+1 (if any) at dep_{k+1}. Half services
// are exact: the comparisons are made in half-minutes, so an odd service time loses nothing.
//
//  1. Every assignment has at least one order; its courier and orders exist in the instance; no order appears
//     twice among the assignments; every delivery record names a known order and courier, at most once per
//     order; every delivered order is in an assignment, of the same courier; every assigned order has a
//     delivery record. Moves of a courier not in the instance are also reported here.
//  2. A.time ≥ placement of every order of A. A delivery record's placement time equals the instance's.
//     The move that brings the courier to the restaurant for A departs at or after A.time (a courier cannot
//     act on an instruction before it is given; this is stricter than the upstream evaluator).
//  3. A.pickup ≤ off_time of A's courier.
//  4. A.pickup ≥ ready of every order of A. A record's pickup time equals A.pickup and its ready time the
//     instance's.
//  5. For consecutive delivered orders p, q of A's sequence: D(q) ≥ D(p) + ds.
//  6. A courier's moves are contiguous in the file. The first move has origin "0"; every later origin equals
//     the previous destination (so "0" never reappears); every destination is a restaurant or an order id.
//     Each departure dep_{k+1} ≥ the earliest moment the courier may leave visit k, which is the largest of:
//     on_time (visit 0), arr_k, pickup + ps/2 for every pickup made at the visit, D(o) + ds/2 for every drop-off
//     made at the visit. Arrival times are consistent by construction (arr = dep + TravelMinutes).
//  7. All orders of A come from one restaurant r. The pickup visit of A is the latest visit k of A's courier to
//     r with arr_k + ps/2 ≤ A.pickup; one must exist, and A.pickup ≤ dep_{k+1} (the courier is still there).
//     (That the courier stays a further ps/2 is checked under 6.)
//  8. For each delivered order o of A, there is a visit k of the courier to o (destination = o's id) after
//     A's pickup visit with D(o) = arr_k + ds/2, rounded up to a whole minute when ds is odd (times are whole
//     minutes). Staying the further ds/2 is checked under 6. Orders that share a location are no exception:
//     each needs its own move to its own id, a zero-length move from the previous order when they are at the
//     same place, so that D(q) = D(p) + ds; this is also what the upstream evaluator requires, as it looks the
//     courier's position up by location id.
//
// Visits to a restaurant without a pickup or to a diner without a drop-off are not violations.
func Validate(in *Instance, s *Solution) []Violation {
	v := newValidator(in, s)
	v.checkAssignments()
	v.checkRecords()
	v.checkSequences()
	v.replayCouriers()
	slices.SortStableFunc(v.out, func(a, b Violation) int { return a.Condition - b.Condition })
	return v.out
}

type validator struct {
	in          *Instance
	s           *Solution
	out         []Violation
	orders      map[string]*Order
	restaurants map[string]*Restaurant
	couriers    map[string]*Courier
	assignOf    map[string]int // order → index of the first assignment holding it
	recordOf    map[string]int // order → index of its first delivery record
	bundle      [][]string     // per assignment: its known orders, each only where first assigned
}

func newValidator(in *Instance, s *Solution) *validator {
	v := &validator{in: in, s: s,
		orders:      make(map[string]*Order, len(in.Orders)),
		restaurants: make(map[string]*Restaurant, len(in.Restaurants)),
		couriers:    make(map[string]*Courier, len(in.Couriers)),
		assignOf:    make(map[string]int, len(s.Assignments)),
		recordOf:    make(map[string]int, len(s.Orders)),
		bundle:      make([][]string, len(s.Assignments)),
	}
	for i := range in.Orders {
		v.orders[in.Orders[i].ID] = &in.Orders[i]
	}
	for i := range in.Restaurants {
		v.restaurants[in.Restaurants[i].ID] = &in.Restaurants[i]
	}
	for i := range in.Couriers {
		v.couriers[in.Couriers[i].ID] = &in.Couriers[i]
	}
	return v
}

func (v *validator) add(cond int, courier, order, format string, args ...any) {
	v.out = append(v.out, Violation{Condition: cond, Courier: courier, Order: order, Message: fmt.Sprintf(format, args...)})
}

// checkAssignments checks conditions 1 to 4 on the assignments file and fills assignOf and bundle.
func (v *validator) checkAssignments() {
	for i, a := range v.s.Assignments {
		c := v.couriers[a.Courier]
		if c == nil {
			v.add(1, a.Courier, "", "assignment #%d: courier is not in the instance", i+1)
		}
		if len(a.Orders) == 0 {
			v.add(1, a.Courier, "", "assignment #%d has no orders", i+1)
		}
		if c != nil && a.Pickup > c.Off && len(a.Orders) > 0 {
			v.add(3, a.Courier, a.Orders[0], "assignment #%d (%s): picked up at %d, after off_time %d",
				i+1, strings.Join(a.Orders, " "), a.Pickup, c.Off)
		}
		for _, id := range a.Orders {
			o := v.orders[id]
			if o == nil {
				v.add(1, a.Courier, id, "assignment #%d: order is not in the instance", i+1)
				continue
			}
			if j, dup := v.assignOf[id]; dup {
				v.add(1, a.Courier, id, "order is in assignment #%d and again in assignment #%d", j+1, i+1)
				continue
			}
			v.assignOf[id] = i
			v.bundle[i] = append(v.bundle[i], id)
			if a.Time < o.Placement {
				v.add(2, a.Courier, id, "assigned at %d, before its placement at %d", a.Time, o.Placement)
			}
			if a.Pickup < o.Ready {
				v.add(4, a.Courier, id, "picked up at %d, before it is ready at %d", a.Pickup, o.Ready)
			}
		}
	}
}

// checkRecords checks the delivery records against the instance and the assignments (conditions 1, 2, 4).
func (v *validator) checkRecords() {
	for i, r := range v.s.Orders {
		o := v.orders[r.Order]
		if o == nil {
			v.add(1, r.Courier, r.Order, "delivery record #%d: order is not in the instance", i+1)
			continue
		}
		if j, dup := v.recordOf[r.Order]; dup {
			v.add(1, r.Courier, r.Order, "order has delivery records #%d and #%d", j+1, i+1)
			continue
		}
		v.recordOf[r.Order] = i
		if v.couriers[r.Courier] == nil {
			v.add(1, r.Courier, r.Order, "delivery record #%d: courier is not in the instance", i+1)
		}
		ai, assigned := v.assignOf[r.Order]
		if !assigned {
			v.add(1, r.Courier, r.Order, "order is delivered but in no assignment")
		} else if a := v.s.Assignments[ai]; a.Courier != r.Courier {
			v.add(1, r.Courier, r.Order, "delivered by %s but assigned to %s", r.Courier, a.Courier)
		}
		if r.Placement != o.Placement {
			v.add(2, r.Courier, r.Order, "delivery record gives placement %d, the instance %d", r.Placement, o.Placement)
		}
		if r.Ready != o.Ready {
			v.add(4, r.Courier, r.Order, "delivery record gives ready time %d, the instance %d", r.Ready, o.Ready)
		}
		if assigned && r.Pickup != v.s.Assignments[ai].Pickup {
			v.add(4, r.Courier, r.Order, "delivery record gives pickup %d, its assignment #%d %d",
				r.Pickup, ai+1, v.s.Assignments[ai].Pickup)
		}
	}
	for _, o := range v.in.Orders { // instance order keeps the report deterministic
		if ai, ok := v.assignOf[o.ID]; ok {
			if _, ok := v.recordOf[o.ID]; !ok {
				v.add(1, v.s.Assignments[ai].Courier, o.ID, "order is in assignment #%d but has no delivery record", ai+1)
			}
		}
	}
}

// checkSequences checks condition 5: D(q) ≥ D(p) + ds for consecutive delivered orders of a bundle.
func (v *validator) checkSequences() {
	ds := v.in.Params.DropoffService
	for i, ids := range v.bundle {
		prev := -1
		for _, id := range ids {
			ri, ok := v.recordOf[id]
			if !ok {
				continue // reported under condition 1; compare the delivered orders around it
			}
			if prev >= 0 {
				p, q := v.s.Orders[prev], v.s.Orders[ri]
				if q.Dropoff < p.Dropoff+ds {
					v.add(5, v.s.Assignments[i].Courier, id,
						"dropped off at %d, less than the drop-off service (%d) after %s, which precedes it in assignment #%d (dropped off at %d)",
						q.Dropoff, ds, p.Order, i+1, p.Dropoff)
				}
			}
			prev = ri
		}
	}
}

// visit is one stay of a courier at a location during the replay.
type visit struct {
	loc  string // location id; OnLocation for visit 0
	arr  int    // arrival minute (on_time for visit 0)
	need int    // earliest departure allowed, in half-minutes
	why  string // what sets need, for messages
}

// replayCouriers checks conditions 6, 7, 8 and the departure part of 2, courier by courier.
func (v *validator) replayCouriers() {
	movesOf := map[string][]int{}
	var unknown []string
	last := ""
	done := map[string]bool{} // couriers whose block of moves has ended
	for i, m := range v.s.Moves {
		if m.Courier != last {
			if last != "" {
				done[last] = true
			}
			if done[m.Courier] {
				v.add(6, m.Courier, "", "moves are not contiguous: move #%d resumes the courier's block after other couriers' moves", i+1)
				done[m.Courier] = false // report each resumption once
			}
			last = m.Courier
		}
		if _, seen := movesOf[m.Courier]; !seen && v.couriers[m.Courier] == nil {
			unknown = append(unknown, m.Courier)
		}
		movesOf[m.Courier] = append(movesOf[m.Courier], i)
	}
	for _, id := range unknown {
		v.add(1, id, "", "the couriers file has moves of a courier that is not in the instance")
	}
	assignmentsOf := map[string][]int{}
	for i, a := range v.s.Assignments {
		assignmentsOf[a.Courier] = append(assignmentsOf[a.Courier], i)
	}
	for i := range v.in.Couriers {
		c := &v.in.Couriers[i]
		v.replay(c, movesOf[c.ID], assignmentsOf[c.ID])
	}
}

// location returns the coordinates of a location id as seen by courier c.
func (v *validator) location(id string, c *Courier) (x, y float64, ok bool) {
	if id == OnLocation {
		return c.X, c.Y, true
	}
	if r := v.restaurants[id]; r != nil {
		return r.X, r.Y, true
	}
	if o := v.orders[id]; o != nil {
		return o.X, o.Y, true
	}
	return 0, 0, false
}

// replay follows courier c through its moves (indices into s.Moves) and checks its assignments against the
// visits.
func (v *validator) replay(c *Courier, moves []int, assignments []int) {
	ps, ds := v.in.Params.PickupService, v.in.Params.DropoffService
	visits := []visit{{loc: OnLocation, arr: c.On, need: 2 * c.On, why: fmt.Sprintf("its on_time %d", c.On)}}
	for k, mi := range moves {
		m := v.s.Moves[mi]
		here := visits[len(visits)-1].loc
		switch {
		case k == 0 && m.Origin != OnLocation:
			v.add(6, c.ID, "", "move #%d, the courier's first, starts at %q instead of its on-location %q", mi+1, m.Origin, OnLocation)
		case k > 0 && m.Origin != here:
			v.add(6, c.ID, "", "move #%d starts at %q but the courier is at %q", mi+1, m.Origin, here)
		}
		// Travel from the stated origin, as the evaluator does; a wrong origin has been reported above.
		ox, oy, ok := v.location(m.Origin, c)
		if !ok || (m.Origin == OnLocation && k > 0) {
			ox, oy, _ = v.location(here, c)
		}
		dx, dy, ok := v.location(m.Destination, c)
		if !ok || m.Destination == OnLocation {
			// Without a destination the rest of the route has no place or time: stop here rather than
			// report every later pickup and drop-off as well.
			v.add(6, c.ID, "", "move #%d goes to %q, which is neither a restaurant nor an order", mi+1, m.Destination)
			return
		}
		arr := m.Departure + v.in.TravelMinutes(ox, oy, dx, dy)
		visits = append(visits, visit{loc: m.Destination, arr: arr, need: 2 * arr,
			why: fmt.Sprintf("its arrival there at %d", arr)})
	}
	// departure from visit k, if the courier leaves it
	departs := func(k int) (int, bool) {
		if k < len(moves) {
			return v.s.Moves[moves[k]].Departure, true
		}
		return 0, false
	}

	pickVisit := map[int]int{}
	for _, ai := range assignments {
		a := v.s.Assignments[ai]
		ids := v.bundle[ai]
		if len(ids) == 0 {
			continue
		}
		r := v.orders[ids[0]].Restaurant
		for _, id := range ids[1:] {
			if o := v.orders[id]; o.Restaurant != r {
				v.add(7, c.ID, id, "assignment #%d bundles orders of restaurants %s and %s; the courier cannot be at both at pickup",
					ai+1, r, o.Restaurant)
			}
		}
		best := -1
		for k := 1; k < len(visits); k++ {
			if visits[k].loc == r && 2*visits[k].arr+ps <= 2*a.Pickup {
				best = k
			}
		}
		if best < 0 {
			v.add(7, c.ID, ids[0], "assignment #%d: picked up at %d, but the courier is not at restaurant %s by then (arrivals there: %s; pickup needs arrival + %s)",
				ai+1, a.Pickup, r, arrivals(visits, r), halves(ps))
			continue
		}
		if dep, ok := departs(best); ok && a.Pickup > dep {
			v.add(7, c.ID, ids[0], "assignment #%d: picked up at %d, but the courier left restaurant %s at %d",
				ai+1, a.Pickup, r, dep)
			continue
		}
		pickVisit[ai] = best
		if n := 2*a.Pickup + ps; n > visits[best].need {
			visits[best].need = n
			visits[best].why = fmt.Sprintf("the pickup at %d of assignment #%d plus half the pickup service", a.Pickup, ai+1)
		}
		if dep := v.s.Moves[moves[best-1]].Departure; dep < a.Time {
			v.add(2, c.ID, ids[0], "assignment #%d is made at %d, but the courier set out for restaurant %s at %d",
				ai+1, a.Time, r, dep)
		}
	}

	for _, ai := range assignments {
		from := 1
		if k, ok := pickVisit[ai]; ok {
			from = k + 1
		}
		for _, id := range v.bundle[ai] {
			ri, ok := v.recordOf[id]
			if !ok || v.s.Orders[ri].Courier != c.ID {
				continue // reported under condition 1
			}
			d := v.s.Orders[ri].Dropoff
			found := -1
			for k := from; k < len(visits); k++ {
				if visits[k].loc == id {
					if gap := 2*d - (2*visits[k].arr + ds); gap == 0 || gap == 1 {
						found = k
						break
					}
				}
			}
			if found < 0 {
				v.add(8, c.ID, id, "dropped off at %d, but no visit of the courier to the order's location after the pickup arrives %s minutes before it (arrivals there after the pickup: %s)",
					d, halves(ds), arrivals(visits[from:], id))
				continue
			}
			if n := 2*d + ds; n > visits[found].need {
				visits[found].need = n
				visits[found].why = fmt.Sprintf("the drop-off at %d plus half the drop-off service", d)
			}
		}
	}

	for k := range visits {
		dep, ok := departs(k)
		if !ok {
			break
		}
		if 2*dep < visits[k].need {
			order := ""
			if _, isOrder := v.orders[visits[k].loc]; isOrder {
				order = visits[k].loc
			}
			v.add(6, c.ID, order, "move #%d leaves %q at %d, before %s (%s)",
				moves[k]+1, visits[k].loc, dep, halves(visits[k].need), visits[k].why)
		}
	}
}

// arrivals lists the arrival minutes of the visits to loc, for messages.
func arrivals(visits []visit, loc string) string {
	var parts []string
	for _, x := range visits {
		if x.loc == loc {
			parts = append(parts, fmt.Sprint(x.arr))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// halves formats a count of half-minutes as minutes ("7" or "7.5").
func halves(h int) string {
	return strconv.FormatFloat(float64(h)/2, 'f', -1, 64)
}

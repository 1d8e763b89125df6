package mdrp

import (
	"cmp"
	"fmt"
	"slices"
)

// ReplanOptions bound and seed Replan.
type ReplanOptions struct {
	// From is the minute the re-plan starts: the assignments of s picked up before it are kept as they are, with
	// their couriers' moves up to their last drop-off; everything picked up at or after it is planned again.
	From int
	// Iterations of the large-neighbourhood search (ruin and recreate); zero means 20 000.
	Iterations int
	// Cold makes each step of ReplanOnline plan from nothing instead of from the previous step's plan.
	Cold bool
	// Seed makes the search reproducible: the same instance, solution and options give the same plan.
	Seed uint64
}

// Replan searches, with the whole day known in advance, for a plan that delivers more orders than s (then with a
// shorter total click-to-door), keeping what s does before opts.From. It is a hindsight tool: it settles whether
// orders a dispatcher lost could have been delivered, by constructing a solution that delivers them, which
// Validate can check. It returns a solution no worse than s (s's own tail is where the search starts) and
// never assigns an order before its placement (each courier leaves for a restaurant only once every order of the
// bundle is placed).
//
// The tail is planned under the MDRP rules: each courier, from where and when it is free after the assignments
// kept, makes trips one after another; a trip rides to one restaurant, picks up a bundle of its orders at or after
// their ready times and at or before the courier's off-time, and delivers them in sequence before the next trip.
func Replan(in *Instance, s *Solution, opts ReplanOptions) (*Solution, error) {
	p, err := newTailPlan(in, s, opts.From)
	if err != nil {
		return nil, err
	}
	iters := opts.Iterations
	if iters == 0 {
		iters = 20000
	}
	p.search(iters, opts.Seed)
	return p.solution(), nil
}

// tailTrip is one assignment of the tail: a restaurant and the bundle's orders in delivery sequence.
type tailTrip struct {
	rest   int
	orders []int
}

// tailCourier is a courier's state where the tail starts, and its trips.
type tailCourier struct {
	place string  // location id it leaves from ("0" for its on-location)
	start string  // its place before the first committed trip (ReplanOnline)
	x, y  float64 // where it is free
	free  int     // earliest departure
	off   int
	kept  int // moves of s kept before the tail
	trips []tailTrip
	cost  int // total click-to-door of its trips' orders
	// done are the trips ReplanOnline has committed, with their times; the state above is after them.
	done      []tailTrip
	doneTimes []tripTimes
}

type tailPlan struct {
	in       *Instance
	restIdx  map[string]int
	orderIdx map[string]int
	ordRest  []int // order → restaurant index
	s        *Solution
	from     int
	keptA    []bool // assignments of s kept
	cour     []tailCourier
	open     []int  // orders of the tail: not in a kept assignment and not unreachable
	isOpen   []bool // by order index
	assigned []bool // by order index, in the current plan
	now      int    // no trip not yet committed leaves before now (ReplanOnline)
}

func newTailPlan(in *Instance, s *Solution, from int) (*tailPlan, error) {
	p := &tailPlan{in: in, s: s, from: from, restIdx: map[string]int{}, orderIdx: map[string]int{}}
	if v := Validate(in, s); len(v) > 0 {
		return nil, fmt.Errorf("mdrp: replan: the solution is not feasible: %v", v[0])
	}
	for i, r := range in.Restaurants {
		p.restIdx[r.ID] = i
	}
	p.ordRest = make([]int, len(in.Orders))
	for i, o := range in.Orders {
		p.orderIdx[o.ID] = i
		p.ordRest[i] = p.restIdx[o.Restaurant]
	}
	ds := in.Params.DropoffService
	courIdx := map[string]int{}
	p.cour = make([]tailCourier, len(in.Couriers))
	for i, c := range in.Couriers {
		courIdx[c.ID] = i
		p.cour[i] = tailCourier{place: OnLocation, x: c.X, y: c.Y, free: c.On, off: c.Off}
	}
	// Kept: the assignments picked up before from. Each courier's kept assignments come first among its own (its
	// pickups are in time order), so it is free at the last drop-off of its last kept one.
	p.keptA = make([]bool, len(s.Assignments))
	inKept := make([]bool, len(in.Orders))
	dropoff := map[string]int{}
	for _, r := range s.Orders {
		dropoff[r.Order] = r.Dropoff
	}
	lastOrder := make([]string, len(in.Couriers))
	for i, a := range s.Assignments {
		if a.Pickup >= from {
			continue
		}
		p.keptA[i] = true
		for _, id := range a.Orders {
			inKept[p.orderIdx[id]] = true
		}
		ci := courIdx[a.Courier]
		last := a.Orders[len(a.Orders)-1]
		if d := dropoff[last]; lastOrder[ci] == "" || d > dropoff[lastOrder[ci]] {
			lastOrder[ci] = last
		}
	}
	movesOf := map[string][]int{}
	for i, m := range s.Moves {
		movesOf[m.Courier] = append(movesOf[m.Courier], i)
	}
	for ci, id := range lastOrder {
		if id == "" {
			continue
		}
		c := &p.cour[ci]
		o := in.Orders[p.orderIdx[id]]
		c.place, c.x, c.y = id, o.X, o.Y
		c.free = (2*dropoff[id] + ds + 1) / 2
		ms := movesOf[in.Couriers[ci].ID]
		c.kept = -1
		for k, mi := range ms {
			if s.Moves[mi].Destination == id {
				c.kept = k + 1
			}
		}
		if c.kept < 0 {
			return nil, fmt.Errorf("mdrp: replan: courier %s never goes to order %s", in.Couriers[ci].ID, id)
		}
	}
	unreach := map[string]bool{}
	for _, id := range Unreachable(in) {
		unreach[id] = true
	}
	for i, o := range in.Orders {
		if !inKept[i] && !unreach[o.ID] {
			p.open = append(p.open, i)
		}
	}
	// The search starts from s's own tail.
	p.assigned = make([]bool, len(in.Orders))
	p.isOpen = make([]bool, len(in.Orders))
	for _, oi := range p.open {
		p.isOpen[oi] = true
	}
	var tail []int
	for i := range s.Assignments {
		if !p.keptA[i] {
			tail = append(tail, i)
		}
	}
	slices.SortStableFunc(tail, func(a, b int) int { return cmp.Compare(s.Assignments[a].Pickup, s.Assignments[b].Pickup) })
	for _, i := range tail {
		a := s.Assignments[i]
		t := tailTrip{rest: p.restIdx[in.Orders[p.orderIdx[a.Orders[0]]].Restaurant]}
		for _, id := range a.Orders {
			oi := p.orderIdx[id]
			t.orders = append(t.orders, oi)
			p.assigned[oi] = true
		}
		c := &p.cour[courIdx[a.Courier]]
		c.trips = append(c.trips, t)
	}
	for ci := range p.cour {
		c := &p.cour[ci]
		cost, ok := p.eval(ci, c.trips, nil)
		if !ok {
			return nil, fmt.Errorf("mdrp: replan: the tail of courier %s is not feasible as re-timed", in.Couriers[ci].ID)
		}
		c.cost = cost
	}
	return p, nil
}

func ceilHalf(h int) int { return (h + 1) / 2 }

// tripTimes are the times of one trip as eval computes them.
type tripTimes struct {
	dep, pickup int
	dropoffs    []int
}

// eval times courier ci's trips as early as the rules allow and returns their orders' total click-to-door, and
// whether every pickup is at or before the off-time. With out non-nil it appends each trip's times to it.
func (p *tailPlan) eval(ci int, trips []tailTrip, out *[]tripTimes) (int, bool) {
	in := p.in
	c := &p.cour[ci]
	ps, ds := in.Params.PickupService, in.Params.DropoffService
	x, y, t := c.x, c.y, c.free
	total := 0
	for _, tr := range trips {
		r := &in.Restaurants[tr.rest]
		dep, ready := max(t, p.now), 0
		for _, oi := range tr.orders {
			o := &in.Orders[oi]
			dep = max(dep, o.Placement)
			ready = max(ready, o.Ready)
		}
		arr := dep + in.TravelMinutes(x, y, r.X, r.Y)
		pickup := max(ceilHalf(2*arr+ps), ready)
		if pickup > c.off {
			return 0, false
		}
		tt := tripTimes{dep: dep, pickup: pickup}
		t = ceilHalf(2*pickup + ps)
		x, y = r.X, r.Y
		for _, oi := range tr.orders {
			o := &in.Orders[oi]
			arr := t + in.TravelMinutes(x, y, o.X, o.Y)
			d := ceilHalf(2*arr + ds)
			total += d - o.Placement
			t = ceilHalf(2*d + ds)
			x, y = o.X, o.Y
			if out != nil {
				tt.dropoffs = append(tt.dropoffs, d)
			}
		}
		if out != nil {
			*out = append(*out, tt)
		}
	}
	return total, true
}

// lostWeight is what an open order left undelivered costs, against minutes of click-to-door: more than any
// order's click-to-door in a day, so that delivering more always wins.
const lostWeight = 100000

func (p *tailPlan) score() int {
	s := 0
	for _, oi := range p.open {
		if !p.assigned[oi] {
			s += lostWeight
		}
	}
	for i := range p.cour {
		s += p.cour[i].cost
	}
	return s
}

// Lost returns the open orders the current plan leaves undelivered.
func (p *tailPlan) lost() []int {
	var out []int
	for _, oi := range p.open {
		if !p.assigned[oi] {
			out = append(out, oi)
		}
	}
	return out
}

// insertion is the best place found for one order.
type insertion struct {
	ci, trip, pos int // pos < 0: a new trip at index trip; else into trip at delivery position pos
	delta         int
	ok            bool
}

func withOrder(trips []tailTrip, ins insertion, oi, rest int) []tailTrip {
	out := make([]tailTrip, 0, len(trips)+1)
	for k, t := range trips {
		if ins.pos < 0 && k == ins.trip {
			out = append(out, tailTrip{rest: rest, orders: []int{oi}})
		}
		if ins.pos >= 0 && k == ins.trip {
			os := make([]int, 0, len(t.orders)+1)
			os = append(os, t.orders[:ins.pos]...)
			os = append(os, oi)
			os = append(os, t.orders[ins.pos:]...)
			t = tailTrip{rest: t.rest, orders: os}
		}
		out = append(out, t)
	}
	if ins.pos < 0 && ins.trip == len(trips) {
		out = append(out, tailTrip{rest: rest, orders: []int{oi}})
	}
	return out
}

// bestInsertion finds the cheapest feasible place for order oi over every courier, trip and position; noise
// (from rng, 0 for none) perturbs the comparison.
func (p *tailPlan) bestInsertion(oi int, rng *splitmix, noise int) insertion {
	best := insertion{}
	bestKey := 0
	rest := p.ordRest[oi]
	for ci := range p.cour {
		c := &p.cour[ci]
		if c.free > c.off {
			continue
		}
		try := func(ins insertion) {
			cost, ok := p.eval(ci, withOrder(c.trips, ins, oi, rest), nil)
			if !ok {
				return
			}
			ins.delta, ins.ok = cost-c.cost, true
			key := ins.delta
			if noise > 0 {
				key += int(rng.next() % uint64(noise))
			}
			if !best.ok || key < bestKey {
				best, bestKey = ins, key
			}
		}
		for k := 0; k <= len(c.trips); k++ {
			try(insertion{ci: ci, trip: k, pos: -1})
			if k < len(c.trips) && c.trips[k].rest == rest {
				for pos := 0; pos <= len(c.trips[k].orders); pos++ {
					try(insertion{ci: ci, trip: k, pos: pos})
				}
			}
		}
	}
	return best
}

func (p *tailPlan) insert(oi int, ins insertion) {
	c := &p.cour[ins.ci]
	c.trips = withOrder(c.trips, ins, oi, p.ordRest[oi])
	c.cost += ins.delta
	p.assigned[oi] = true
}

// remove takes order oi out of its courier's trips (dropping a trip left empty) and re-times that courier, unless
// that makes a later pickup too late.
func (p *tailPlan) remove(oi int) {
	for ci := range p.cour {
		c := &p.cour[ci]
		for k, t := range c.trips {
			j := slices.Index(t.orders, oi)
			if j < 0 {
				continue
			}
			os := slices.Delete(slices.Clone(t.orders), j, j+1)
			trips := slices.Clone(c.trips)
			if len(os) == 0 {
				trips = slices.Delete(trips, k, k+1)
			} else {
				trips[k] = tailTrip{rest: t.rest, orders: os}
			}
			cost, ok := p.eval(ci, trips, nil)
			if !ok {
				// A courier may leave for a restaurant only once the bundle is placed, and waits where it is until
				// then: without an earlier trip it can wait further away, so a removal can make a later pickup miss
				// the off-time. The order then stays.
				return
			}
			c.trips, c.cost = trips, cost
			p.assigned[oi] = false
			return
		}
	}
}

type tailState struct {
	trips    [][]tailTrip
	costs    []int
	assigned []bool
}

func (p *tailPlan) save() tailState {
	st := tailState{trips: make([][]tailTrip, len(p.cour)), costs: make([]int, len(p.cour)), assigned: slices.Clone(p.assigned)}
	for i := range p.cour {
		st.trips[i] = p.cour[i].trips
		st.costs[i] = p.cour[i].cost
	}
	return st
}

func (p *tailPlan) restore(st tailState) {
	for i := range p.cour {
		p.cour[i].trips = st.trips[i]
		p.cour[i].cost = st.costs[i]
	}
	p.assigned = slices.Clone(st.assigned)
}

// splitmix is a small deterministic generator (SplitMix64).
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *splitmix) intn(n int) int { return int(r.next() % uint64(n)) }

// search runs ruin and recreate: remove a few orders (at random, or those nearest in time and place to one order,
// or every tail order of one or two couriers), insert them and every undelivered order again, cheapest first with
// noise, and keep the plan when it scores no worse; the best plan seen is kept.
func (p *tailPlan) search(iters int, seed uint64) {
	rng := &splitmix{s: seed}
	p.repair(rng, 0)
	best, bestScore := p.save(), p.score()
	cur := bestScore
	for it := 0; it < iters; it++ {
		prev := p.save()
		var assignedOpen []int
		for _, oi := range p.open {
			if p.assigned[oi] {
				assignedOpen = append(assignedOpen, oi)
			}
		}
		if len(assignedOpen) == 0 {
			break
		}
		q := 1 + rng.intn(min(12, len(assignedOpen)))
		switch rng.intn(3) {
		case 0:
			for range q {
				p.remove(assignedOpen[rng.intn(len(assignedOpen))])
			}
		case 1:
			// Related: the orders nearest in ready time and place to a seed order (a lost one when there is any).
			seedO := assignedOpen[rng.intn(len(assignedOpen))]
			if l := p.lost(); len(l) > 0 && rng.intn(2) == 0 {
				seedO = l[rng.intn(len(l))]
			}
			so := &p.in.Orders[seedO]
			rel := slices.Clone(assignedOpen)
			dist := func(oi int) int {
				o := &p.in.Orders[oi]
				dt := o.Ready - so.Ready
				return max(dt, -dt) + p.in.TravelMinutes(so.X, so.Y, o.X, o.Y)
			}
			slices.SortStableFunc(rel, func(a, b int) int { return cmp.Compare(dist(a), dist(b)) })
			for _, oi := range rel[:q] {
				p.remove(oi)
			}
		default:
			for range 1 + rng.intn(2) {
				c := &p.cour[rng.intn(len(p.cour))]
				var os []int
				for _, t := range c.trips {
					os = append(os, t.orders...)
				}
				for _, oi := range os {
					if p.isOpen[oi] {
						p.remove(oi)
					}
				}
			}
		}
		p.repair(rng, 1+rng.intn(30))
		sc := p.score()
		if sc <= cur {
			cur = sc
			if sc < bestScore {
				best, bestScore = p.save(), sc
			}
		} else {
			p.restore(prev)
		}
	}
	p.restore(best)
}

// repair inserts every undelivered open order where it costs least, the orders with the fewest feasible places
// first would be ideal; here they go in random order, each to its cheapest place (with noise).
func (p *tailPlan) repair(rng *splitmix, noise int) {
	todo := p.lost()
	for i := len(todo) - 1; i > 0; i-- {
		j := rng.intn(i + 1)
		todo[i], todo[j] = todo[j], todo[i]
	}
	for _, oi := range todo {
		if ins := p.bestInsertion(oi, rng, noise); ins.ok {
			p.insert(oi, ins)
		}
	}
}

// solution writes the plan as a solution: s's kept assignments, records and moves, then each courier's tail.
func (p *tailPlan) solution() *Solution {
	in, s := p.in, p.s
	ps, ds := in.Params.PickupService, in.Params.DropoffService
	out := &Solution{}
	keptOrder := map[string]bool{}
	for i, a := range s.Assignments {
		if p.keptA[i] {
			out.Assignments = append(out.Assignments, a)
			for _, id := range a.Orders {
				keptOrder[id] = true
			}
		}
	}
	for _, r := range s.Orders {
		if keptOrder[r.Order] {
			out.Orders = append(out.Orders, r)
		}
	}
	movesOf := map[string][]Move{}
	for _, m := range s.Moves {
		movesOf[m.Courier] = append(movesOf[m.Courier], m)
	}
	for ci, c := range p.cour {
		id := in.Couriers[ci].ID
		out.Moves = append(out.Moves, movesOf[id][:c.kept]...)
		times := slices.Clone(c.doneTimes)
		p.eval(ci, c.trips, &times)
		place := c.place
		if len(c.done) > 0 {
			place = c.start
		}
		for k, t := range append(slices.Clone(c.done), c.trips...) {
			tt := times[k]
			rid := in.Restaurants[t.rest].ID
			a := Assignment{Time: tt.dep, Pickup: tt.pickup, Courier: id}
			out.Moves = append(out.Moves, Move{Courier: id, Departure: tt.dep, Origin: place, Destination: rid})
			place = rid
			leave := ceilHalf(2*tt.pickup + ps)
			for j, oi := range t.orders {
				o := &in.Orders[oi]
				a.Orders = append(a.Orders, o.ID)
				out.Moves = append(out.Moves, Move{Courier: id, Departure: leave, Origin: place, Destination: o.ID})
				place = o.ID
				d := tt.dropoffs[j]
				out.Orders = append(out.Orders, OrderRecord{Order: o.ID, Placement: o.Placement, Ready: o.Ready,
					Pickup: tt.pickup, Dropoff: d, Courier: id})
				leave = ceilHalf(2*d + ds)
			}
			out.Assignments = append(out.Assignments, a)
		}
	}
	return out
}

// ReplanOnline is Replan without hindsight: from opts.From on, every step minutes, it plans the orders placed so far
// and not yet committed (each step's search has opts.Iterations iterations, starting from the previous step's
// plan) and commits the trips that cannot wait for the next step: those leaving before it whose courier would wait
// less than a step at the restaurant. It tells what a dispatcher re-planning the day's end as a whole, knowing
// nothing of the orders to come, could deliver.
func ReplanOnline(in *Instance, s *Solution, opts ReplanOptions, step int) (*Solution, error) {
	if step < 1 {
		return nil, fmt.Errorf("mdrp: replan online: step %d is not a positive number of minutes", step)
	}
	p, err := newTailPlan(in, s, opts.From)
	if err != nil {
		return nil, err
	}
	iters := opts.Iterations
	if iters == 0 {
		iters = 200
	}
	tail := p.open
	for ci := range p.cour {
		p.cour[ci].trips, p.cour[ci].cost = nil, 0
	}
	clear(p.assigned)
	committed := make([]bool, len(in.Orders))
	lastOff := 0
	for _, c := range in.Couriers {
		lastOff = max(lastOff, c.Off)
	}
	ps := in.Params.PickupService
	for t := opts.From; t <= lastOff; t += step {
		p.now = t
		p.open = p.open[:0:0]
		clear(p.isOpen)
		for _, oi := range tail {
			if !committed[oi] && in.Orders[oi].Placement <= t {
				p.open = append(p.open, oi)
				p.isOpen[oi] = true
			}
		}
		// Re-time the plan from now (a trip not committed cannot have left yet).
		for ci := range p.cour {
			c := &p.cour[ci]
			if opts.Cold {
				for _, t := range c.trips {
					for _, oi := range t.orders {
						p.assigned[oi] = false
					}
				}
				c.trips = nil
			}
			cost, ok := p.eval(ci, c.trips, nil)
			for !ok && len(c.trips) > 0 {
				// Waiting has made the last trip too late: its orders go back to be planned again.
				for _, oi := range c.trips[len(c.trips)-1].orders {
					p.assigned[oi] = false
				}
				c.trips = c.trips[:len(c.trips)-1]
				cost, ok = p.eval(ci, c.trips, nil)
			}
			c.cost = cost
		}
		p.search(iters, opts.Seed+uint64(t))
		for ci := range p.cour {
			c := &p.cour[ci]
			if len(c.trips) == 0 {
				continue
			}
			var times []tripTimes
			p.eval(ci, c.trips[:1], &times)
			tt := times[0]
			r := &in.Restaurants[c.trips[0].rest]
			arr := tt.dep + in.TravelMinutes(c.x, c.y, r.X, r.Y)
			if tt.dep >= t+step || tt.pickup-ceilHalf(2*arr+ps) >= step {
				continue
			}
			tr := c.trips[0]
			if len(c.done) == 0 {
				c.start = c.place
			}
			c.done = append(c.done, tr)
			c.doneTimes = append(c.doneTimes, tt)
			last := &in.Orders[tr.orders[len(tr.orders)-1]]
			c.place, c.x, c.y = last.ID, last.X, last.Y
			c.free = ceilHalf(2*tt.dropoffs[len(tt.dropoffs)-1] + in.Params.DropoffService)
			for _, oi := range tr.orders {
				committed[oi] = true
				p.assigned[oi] = false
			}
			c.trips = c.trips[1:]
		}
	}
	return p.solution(), nil
}

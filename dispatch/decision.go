package dispatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Decision is what a dispatch round decided, planned on a copy of the engine (Engine.Planner, then Plan) and applied
// to the engine with ApplyDecision, which checks each part against the state at that moment. A Decision names
// couriers and orders by id and shares no memory with any engine.
type Decision struct {
	// At is the engine time the round planned at.
	At time.Time
	// Routes holds, for every courier whose route the round changed, the route it wants, in courier order.
	Routes []RoutePlan
	// Retimed holds the routes the round did not change whose planned times moved (a round prices every route as
	// it stands at its time), each at its current Version, with the new times.
	Retimed []RoutePlan
	// Moves lists the orders the round placed or moved, in the order it did so.
	Moves []Move
	// Unplaced lists the pending orders the round told why they wait (only those whose reason changed).
	Unplaced []OrderUnplaced
	// Postponed lists the orders of the bundles the round chose to leave for a later round.
	Postponed []string
	// Stats describes the round.
	Stats Stats
}

// RoutePlan is one courier's part of a Decision: the whole route the round wants for it, planned from the route
// of version Version. Applied, the route becomes version Version+1.
type RoutePlan struct {
	CourierID string
	Version   uint64
	Stops     []PlannedStop
}

// PlannedStop is a stop of a planned route with the times it was planned for (see Stop).
type PlannedStop struct {
	Kind                     StopKind
	OrderID                  string
	Arrive, Handover, Depart time.Time
}

// Move is an order the round placed on a route or took off one. From is the courier whose route held it when the
// round planned ("" for a pending order); To is the courier whose route takes it ("" when a re-assignment found no
// place and the order goes back to the pool). Every courier named has a RoutePlan in the same Decision.
type Move struct {
	OrderID  string
	From, To string
}

// Dropped is a part of a Decision that ApplyDecision did not apply because it no longer held. A route part names
// its courier (and every part tied to it by a moved order is dropped with it); an unplaced notice names its order.
type Dropped struct {
	CourierID string
	OrderID   string
	Reason    string
}

// DecisionResult is what ApplyDecision did.
type DecisionResult struct {
	// Applied is the part of the decision that held, its routes with the times they were given (the decision to
	// journal: applied again to the state it was applied to, it gives the same result).
	Applied *Decision
	// Dropped lists what did not hold; its orders wait for the next round.
	Dropped []Dropped
	// Effects are the effects of what was applied (a new slice, the caller's to keep).
	Effects []Effect
}

// planRound runs a dispatch round at time now on e and returns its decision. The round changes e as if the
// decision were applied: it runs on a copy (Planner), and the decision is applied to the engine copied from.
func (e *Engine) planRound(now time.Time) (*Decision, error) {
	if err := e.advance(now); err != nil {
		return nil, err
	}
	e.fx = e.fx[:0]
	d := &Decision{At: toTime(e.now)}
	before := make([][]stopTimes, len(e.courierList))
	for i, c := range e.courierList {
		if len(c.stops) > 0 {
			before[i] = make([]stopTimes, len(c.stops))
			for k := range c.stops {
				before[i][k] = c.stops[k].stopTimes
			}
		}
	}
	e.rec = d
	e.runRound()
	e.rec = nil
	d.Stats = e.lastStats
	changed := make(map[string]bool, len(d.Routes))
	for _, rp := range d.Routes {
		changed[rp.CourierID] = true
	}
	for i, c := range e.courierList {
		if len(c.stops) == 0 || changed[c.spec.ID] || len(before[i]) != len(c.stops) {
			continue
		}
		for k := range c.stops {
			if c.stops[k].stopTimes != before[i][k] {
				d.Retimed = append(d.Retimed, RoutePlan{CourierID: c.spec.ID, Version: c.version, Stops: plannedStops(c)})
				break
			}
		}
	}
	e.fx = e.fx[:0]
	return d, nil
}

// ApplyDecision applies what still holds of a decision at time now, exactly as the round that made it changes the
// engine when nothing came between planning and applying: the same routes, versions, order events and effects.
//
// Each route part must find its courier online and on the route version it was planned from (any change to the
// route's stops bumps that version), its stops must be the route's stops with the moved orders added or taken
// away, every order moved onto it must still be pending and unassigned (or, for a re-assignment, still on the
// courier it was taken from and not accepted there), and the courier must still have the skills and the capacity
// for it. A part that fails is dropped together with every part tied to it by a moved order; a notice of why an
// order waits is dropped when the order is no longer pending. Dropped orders simply wait for the next round.
//
// The re-timed routes take their new times when they are still at the version they were timed at (others were
// changed since, and timed then). Like a round, it forgets finished orders past retention. Applying a decision a second
// time is a no-op for routes and orders: every route part is stale by then (its version moved on), and the
// notices repeat reasons already told. A decision naming a courier the engine does not know, or malformed
// (a move naming a courier without a route part), returns an *Error and changes nothing.
func (e *Engine) ApplyDecision(now time.Time, d *Decision) (DecisionResult, error) {
	if d == nil {
		return DecisionResult{}, invalid("decision", "decision is nil")
	}
	if err := e.checkDecision(d); err != nil {
		return DecisionResult{}, err
	}
	if err := e.advance(now); err != nil {
		return DecisionResult{}, err
	}
	e.fx = e.fx[:0]
	applied, dropped := e.applyDecision(d)
	res := DecisionResult{Applied: applied, Dropped: dropped}
	if len(e.fx) > 0 {
		res.Effects = slices.Clone(e.fx)
	}
	return res, nil
}

// advance moves the engine's clock to now, refusing a time that goes back.
func (e *Engine) advance(now time.Time) *Error {
	if now.IsZero() {
		return invalid("now", "now is required")
	}
	ns := now.UnixNano()
	if ns < e.now {
		return invalid("now", "time went back: %s is before %s", now.UTC().Format(time.RFC3339Nano), toTime(e.now).Format(time.RFC3339Nano))
	}
	e.now = ns
	e.plan.now = ns
	return nil
}

// checkDecision refuses a malformed decision before anything is changed.
func (e *Engine) checkDecision(d *Decision) *Error {
	parts := make(map[string]bool, len(d.Routes))
	for i, rp := range d.Retimed {
		field := fmt.Sprintf("retimed[%d]", i)
		if _, ok := e.couriers[rp.CourierID]; !ok {
			return notFound(field+".courier_id", "courier %q not found", rp.CourierID)
		}
	}
	for i, rp := range d.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if err := checkID(field+".courier_id", rp.CourierID); err != nil {
			return err
		}
		if _, ok := e.couriers[rp.CourierID]; !ok {
			return notFound(field+".courier_id", "courier %q not found", rp.CourierID)
		}
		if parts[rp.CourierID] {
			return invalid(field+".courier_id", "courier %q has two route parts", rp.CourierID)
		}
		parts[rp.CourierID] = true
		for k, s := range rp.Stops {
			if err := checkID(fmt.Sprintf("%s.stops[%d].order_id", field, k), s.OrderID); err != nil {
				return err
			}
			if s.Kind != Pickup && s.Kind != Dropoff {
				return invalid(fmt.Sprintf("%s.stops[%d].kind", field, k), "unknown stop kind %d", s.Kind)
			}
		}
	}
	for i, m := range d.Moves {
		field := fmt.Sprintf("moves[%d]", i)
		if err := checkID(field+".order_id", m.OrderID); err != nil {
			return err
		}
		if m.From == "" && m.To == "" {
			return invalid(field, "a move needs a courier to take the order from or to")
		}
		for _, c := range []string{m.From, m.To} {
			if c != "" && !parts[c] {
				return invalid(field, "courier %q has no route part", c)
			}
		}
	}
	for i, u := range d.Unplaced {
		if err := checkID(fmt.Sprintf("unplaced[%d].order_id", i), u.OrderID); err != nil {
			return err
		}
		switch u.Reason {
		case UnplacedNoCourier, UnplacedCouriersFull, UnplacedWouldBeLate, UnplacedCouriersTaken, UnplacedBacklog, UnplacedStorePaused:
		default:
			return invalid(fmt.Sprintf("unplaced[%d].reason", i), "unknown reason %q", u.Reason)
		}
	}
	return nil
}

// stopKey names a stop of a route.
type stopKey struct {
	o    *orderState
	kind StopKind
}

// applyDecision applies what holds of a checked decision at e.now, emitting into e.fx.
func (e *Engine) applyDecision(d *Decision) (*Decision, []Dropped) {
	e.pruneFinished()
	e.compactOpen()

	// Parts tied by a moved order stand or fall together.
	part, root := d.tiedParts()
	stale := make([]string, len(d.Routes)) // by group root: why the group is dropped
	fail := func(courier string, format string, args ...any) {
		if g := root(part[courier]); stale[g] == "" {
			stale[g] = fmt.Sprintf(format, args...)
		}
	}

	// The orders moved, as they stand now.
	in := make(map[string][]*orderState)  // courier -> orders moved onto its route
	out := make(map[string][]*orderState) // courier -> orders taken off its route
	moved := make([]*orderState, len(d.Moves))
	for i, m := range d.Moves {
		at := m.To
		if m.From != "" {
			at = m.From
		}
		o, ok := e.orders[m.OrderID]
		if !ok {
			fail(at, "order %q is gone", m.OrderID)
			continue
		}
		moved[i] = o
		if m.From == "" {
			if o.status != StatusPending || o.courier != nil {
				fail(at, "order %q is %s, no longer pending", m.OrderID, o.status)
			} else if o.waiting() {
				fail(at, "dispatch for the store of order %q is paused", m.OrderID)
			}
		} else if o.status != StatusAssigned || o.courier == nil || o.courier.spec.ID != m.From || !o.movable() {
			fail(at, "order %q is no longer an unaccepted order of courier %q", m.OrderID, m.From)
		}
		if m.To == m.From {
			continue
		}
		if m.From != "" {
			out[m.From] = append(out[m.From], o)
		}
		if m.To != "" {
			c := e.couriers[m.To]
			if !c.carries(o.region) || !c.hasSkills(o.skills) || o.declinedBy(c.idx) {
				fail(m.To, "courier %q can no longer take order %q", m.To, m.OrderID)
			}
			in[m.To] = append(in[m.To], o)
		}
	}

	// Each route part against its courier's route now.
	plans := make([][]seqStop, len(d.Routes))
	for i, rp := range d.Routes {
		c := e.couriers[rp.CourierID]
		switch {
		case !c.online:
			fail(rp.CourierID, "courier %q is offline", rp.CourierID)
			continue
		case c.version != rp.Version:
			fail(rp.CourierID, "route of courier %q is at version %d, planned from %d", rp.CourierID, c.version, rp.Version)
			continue
		}
		want := make(map[stopKey]int, len(c.stops)+2*len(in[rp.CourierID]))
		for _, s := range c.stops {
			if !slices.Contains(out[rp.CourierID], s.o) {
				want[stopKey{s.o, s.kind}]++
			}
		}
		for _, o := range in[rp.CourierID] {
			want[stopKey{o, Pickup}]++
			want[stopKey{o, Dropoff}]++
		}
		seq := make([]seqStop, 0, len(rp.Stops))
		load, ok := c.load, true
		for _, ps := range rp.Stops {
			o := e.orders[ps.OrderID]
			k := stopKey{o, ps.Kind}
			if o == nil || want[k] == 0 {
				ok = false
				break
			}
			want[k]--
			if ps.Kind == Pickup {
				if load += o.size; load > c.spec.Capacity {
					fail(rp.CourierID, "courier %q no longer has room for order %q", rp.CourierID, ps.OrderID)
					break
				}
			} else {
				if o.status != StatusPickedUp && want[stopKey{o, Pickup}] > 0 {
					ok = false // a drop-off before its pick-up
					break
				}
				load -= o.size
			}
			seq = append(seq, seqStop{o: o, kind: ps.Kind})
		}
		for _, n := range want {
			if n != 0 {
				ok = false
			}
		}
		if !ok {
			fail(rp.CourierID, "route of courier %q does not match the plan's stops", rp.CourierID)
		}
		plans[i] = seq
	}

	applied := &Decision{At: d.At, Postponed: slices.Clone(d.Postponed), Stats: d.Stats}
	var dropped []Dropped
	holds := func(courier string) bool { return stale[root(part[courier])] == "" }
	for _, rp := range d.Routes {
		if g := root(part[rp.CourierID]); stale[g] != "" {
			dropped = append(dropped, Dropped{CourierID: rp.CourierID, Reason: stale[g]})
		}
	}
	moveHolds := func(m Move) bool {
		if m.From != "" {
			return holds(m.From)
		}
		return holds(m.To)
	}
	unplaced := func(backlog bool) {
		for _, u := range d.Unplaced {
			if (u.Reason == UnplacedBacklog) != backlog {
				continue
			}
			o, ok := e.orders[u.OrderID]
			if !ok || o.status != StatusPending || o.courier != nil {
				dropped = append(dropped, Dropped{OrderID: u.OrderID, Reason: "no longer pending"})
				continue
			}
			e.tellUnplaced(o, u.Reason, int64(u.LateBy))
			applied.Unplaced = append(applied.Unplaced, u)
		}
	}

	// The routes re-timed as they stand.
	for _, rp := range d.Retimed {
		c := e.couriers[rp.CourierID]
		if c.version != rp.Version || len(c.stops) != len(rp.Stops) {
			continue
		}
		same := true
		for k, ps := range rp.Stops {
			if s := &c.stops[k]; s.kind != ps.Kind || s.o.spec.ID != ps.OrderID {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		for k, ps := range rp.Stops {
			c.stops[k].stopTimes = stopTimes{arrive: fromTime(ps.Arrive), hand: fromTime(ps.Handover), depart: fromTime(ps.Depart)}
		}
		applied.Retimed = append(applied.Retimed, rp)
	}
	// The order of a round: orders cut off by the backlog limit are told first; re-assigned orders leave their
	// routes; the orders placed join theirs; the routes are published; then what could not be placed is told.
	unplaced(true)
	for i, m := range d.Moves {
		if m.From != "" && moveHolds(m) {
			e.unassign(moved[i], UnassignReassigned)
		}
	}
	for i, m := range d.Moves {
		if !moveHolds(m) {
			continue
		}
		o := moved[i]
		applied.Moves = append(applied.Moves, m)
		if m.To == "" {
			e.setStatus(o, StatusPending, string(UnassignReassigned))
			continue
		}
		o.courier = e.couriers[m.To]
		o.unplaced = ""
		e.setStatus(o, StatusAssigned, "")
		e.emit(OrderAssigned{OrderID: o.spec.ID, CourierID: m.To, Previous: m.From})
	}
	if _, ok := e.travel.(geo.BatchModel); ok {
		retimed := make([]*courierState, len(d.Routes))
		for i, rp := range d.Routes {
			if holds(rp.CourierID) {
				retimed[i] = e.couriers[rp.CourierID]
			}
		}
		restore := e.beginRoutesTravel(retimed, plans)
		defer func() { e.plan.travel = restore }()
	}
	for i, rp := range d.Routes {
		if !holds(rp.CourierID) {
			continue
		}
		c := e.couriers[rp.CourierID]
		e.setStops(c, plans[i])
		e.routeChanged(c)
		applied.Routes = append(applied.Routes, RoutePlan{CourierID: rp.CourierID, Version: rp.Version, Stops: plannedStops(c)})
	}
	unplaced(false)
	e.lastStats = d.Stats
	return applied, dropped
}

// tiedParts returns the index of each courier's route part, and root: the group of a part (by index), which the
// parts tied by a moved order (taken from one courier to another) share.
func (d *Decision) tiedParts() (part map[string]int, root func(int) int) {
	part = make(map[string]int, len(d.Routes))
	for i, rp := range d.Routes {
		part[rp.CourierID] = i
	}
	group := make([]int, len(d.Routes))
	for i := range group {
		group[i] = i
	}
	root = func(i int) int {
		for group[i] != i {
			group[i] = group[group[i]]
			i = group[i]
		}
		return i
	}
	for _, m := range d.Moves {
		if m.From != "" && m.To != "" {
			a, b := root(part[m.From]), root(part[m.To])
			group[max(a, b)] = min(a, b)
		}
	}
	return part, root
}

// plannedStops returns a courier's route as a Decision carries it.
func plannedStops(c *courierState) []PlannedStop {
	out := make([]PlannedStop, len(c.stops))
	for i, s := range c.stops {
		out[i] = PlannedStop{Kind: s.kind, OrderID: s.o.spec.ID, Arrive: toTime(s.arrive), Handover: toTime(s.hand), Depart: toTime(s.depart)}
	}
	return out
}

// recordRoute notes a route the round changed (called by routeChanged while PlanRound runs, after the version
// was bumped and the route re-timed).
func (d *Decision) recordRoute(c *courierState) {
	d.Routes = append(d.Routes, RoutePlan{CourierID: c.spec.ID, Version: c.version - 1, Stops: plannedStops(c)})
}

// fromTime is toTime's inverse: the zero time is 0.
func fromTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Split cuts the decision into pieces of about size route parts each (and at most size re-timed routes), to be
// applied one after another with ApplyDecision, so that a driver can serve other work between them. Applied in
// order with nothing between them, the pieces change the engine exactly as the whole decision does: parts tied by
// a moved order stay in one piece (so a piece can hold more than size when a chain of re-assignments ties many),
// each move goes with its couriers' parts in its order, the notices of orders cut off by the backlog limit go
// first (in the first piece) and the other notices last (in the last), as a whole decision tells them. Every
// piece carries the round's At and Stats; Postponed goes with the first. With size < 1, or a decision no bigger
// than size, or a malformed one (a move naming a courier without a route part), Split returns the decision itself.
func (d *Decision) Split(size int) []*Decision {
	if size < 1 || (len(d.Routes) <= size && len(d.Retimed) <= size) {
		return []*Decision{d}
	}
	part, root := d.tiedParts()
	for _, m := range d.Moves {
		for _, c := range []string{m.From, m.To} {
			if _, ok := part[c]; c != "" && !ok {
				return []*Decision{d} // malformed: ApplyDecision says why
			}
		}
	}
	var pieces []*Decision
	next := func() *Decision {
		p := &Decision{At: d.At, Stats: d.Stats}
		pieces = append(pieces, p)
		return p
	}
	// Route parts, a group in the piece of its first part; a piece is closed once it holds size parts.
	pieceOfGroup := make(map[int]*Decision)
	var cur *Decision
	for _, rp := range d.Routes {
		g := root(part[rp.CourierID])
		p, ok := pieceOfGroup[g]
		if !ok {
			if cur == nil || len(cur.Routes) >= size {
				cur = next()
			}
			p = cur
			pieceOfGroup[g] = p
		}
		p.Routes = append(p.Routes, rp)
	}
	for _, m := range d.Moves {
		c := m.To
		if m.From != "" {
			c = m.From
		}
		p := pieceOfGroup[root(part[c])]
		p.Moves = append(p.Moves, m)
	}
	for i := 0; i < len(d.Retimed); i += size {
		k := i / size
		if k == len(pieces) {
			next()
		}
		pieces[k].Retimed = d.Retimed[i:min(i+size, len(d.Retimed))]
	}
	if len(pieces) == 0 {
		next()
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	first.Postponed = d.Postponed
	for _, u := range d.Unplaced {
		if u.Reason == UnplacedBacklog {
			first.Unplaced = append(first.Unplaced, u)
		} else {
			last.Unplaced = append(last.Unplaced, u)
		}
	}
	return pieces
}

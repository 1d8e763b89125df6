package dispatch

import (
	"fmt"
	"slices"
)

// Operator overrides: events a dispatcher sends to step into what the rounds decide. They are applied like every
// other event (Engine.Apply), journaled and replayed like them, and refused with an *Error naming the rule
// (Error.Reasons holds one machine-readable rule name, Error.Field the field to blame) when they would break one.

// OrderAssignedByOperator puts an order on a named courier's route, at the cheapest feasible place the engine's own
// insertion finds, taking it off the route of the courier that held it, if any. With Lock, later rounds (and their
// re-assignments) leave it on that courier until it is unassigned, unlocked or picked up.
//
// It is refused when the order is picked up or finished, when the courier is unknown, offline, lacks a skill the
// order needs, declined the order, or has no feasible place for it (capacity along the route, the promise's hard
// limit, the end of its shift, the route's stop limit). Assigning an order to the courier that holds it only sets
// its lock.
type OrderAssignedByOperator struct {
	OrderID, CourierID string
	Lock               bool
}

// OrderUnassignedByOperator takes an assigned order off its courier's route and returns it to the pool (its lock
// goes with it). An order already picked up, pending or finished is refused.
type OrderUnassignedByOperator struct{ OrderID string }

// OrderUnlocked lets the rounds move an order an operator locked onto its courier again. Unlocking an order that
// is not locked changes nothing.
type OrderUnlocked struct{ OrderID string }

// OrdersMovedByOperator assigns several orders to one courier, all or nothing: each as OrderAssignedByOperator would,
// one after the other in the given order; when one is refused nothing changes and the error names it
// (order_ids[i]).
type OrdersMovedByOperator struct {
	CourierID string
	OrderIDs  []string
	Lock      bool
}

// StorePaused pauses dispatch for a store: its pending orders wait (told UnplacedStorePaused) and no round assigns
// them until StoreResumed. Orders already on a route are left there. Pausing a paused store changes nothing.
type StorePaused struct{ StoreID string }

// StoreResumed resumes dispatch for a paused store; the next round considers its pending orders again.
type StoreResumed struct{ StoreID string }

// MaxMoveOrders is the most orders one OrdersMovedByOperator may name.
const MaxMoveOrders = 100

// Rules an override is refused for (Error.Reasons[0]).
const (
	RuleCourierOffline   = "courier_offline"
	RuleSkills           = "skills"
	RuleRegion           = "region"
	RuleCapacity         = "capacity"
	RuleDeclined         = "declined_by_courier"
	RulePickedUp         = "already_picked_up"
	RuleFinished         = "order_finished"
	RuleNotAssigned      = "not_assigned"
	RuleNoFeasiblePlace  = "no_feasible_place"
	RulePromiseHardLimit = "promise_hard_limit"
	RuleRouteFull        = "route_full"
)

// EventName implements Event.
func (OrderAssignedByOperator) EventName() string { return "order_assigned_by_operator" }

// EventName implements Event.
func (OrderUnassignedByOperator) EventName() string { return "order_unassigned_by_operator" }

// EventName implements Event.
func (OrderUnlocked) EventName() string { return "order_unlocked" }

// EventName implements Event.
func (OrdersMovedByOperator) EventName() string { return "orders_moved_by_operator" }

// EventName implements Event.
func (StorePaused) EventName() string { return "store_paused" }

// EventName implements Event.
func (StoreResumed) EventName() string { return "store_resumed" }

// refused is a refusal of an override: a conflict naming the rule and the field.
func refused(field, rule, format string, args ...any) *Error {
	return &Error{Code: EConflict, Field: field, Message: fmt.Sprintf(format, args...), Reasons: []string{rule}}
}

// applyOverride applies an operator's event; ok is false for an event that is not one.
func (e *Engine) applyOverride(ev Event) (err *Error, ok bool) {
	switch ev := ev.(type) {
	case OrderAssignedByOperator:
		return e.operatorAssign(ev.OrderID, ev.CourierID, ev.Lock, "order_id"), true
	case OrderUnassignedByOperator:
		return e.operatorUnassign(ev.OrderID), true
	case OrderUnlocked:
		o, err := e.order(ev.OrderID)
		if err != nil {
			return err, true
		}
		o.locked = false
		return nil, true
	case OrdersMovedByOperator:
		return e.operatorMove(ev), true
	case StorePaused:
		return e.pauseStore(ev.StoreID, true), true
	case StoreResumed:
		return e.pauseStore(ev.StoreID, false), true
	}
	return nil, false
}

// checkAssign refuses an assignment that breaks a rule before any place on the route is looked for.
func (e *Engine) checkAssign(o *orderState, c *courierState, field string) *Error {
	switch o.status {
	case StatusPending, StatusAssigned:
	case StatusPickedUp:
		return refused(field, RulePickedUp, "order %q is already picked up", o.spec.ID)
	default:
		return refused(field, RuleFinished, "order %q is %s", o.spec.ID, o.status)
	}
	switch {
	case !c.online:
		return refused("courier_id", RuleCourierOffline, "courier %q is offline", c.spec.ID)
	case !c.carries(o.region):
		return refused("courier_id", RuleRegion, "courier %q works in region %q; order %q is of region %q", c.spec.ID, c.spec.Region, o.spec.ID, o.region)
	case !c.hasSkills(o.skills):
		return refused("courier_id", RuleSkills, "courier %q lacks a skill order %q needs (%v)", c.spec.ID, o.spec.ID, o.spec.Skills)
	case o.size > c.spec.Capacity:
		return refused("courier_id", RuleCapacity, "order %q (size %d) exceeds the capacity %d of courier %q", o.spec.ID, o.size, c.spec.Capacity, c.spec.ID)
	case o.declinedBy(c.idx):
		return refused("courier_id", RuleDeclined, "courier %q declined order %q", c.spec.ID, o.spec.ID)
	}
	return nil
}

func (e *Engine) operatorAssign(orderID, courierID string, lock bool, field string) *Error {
	o, err := e.order(orderID)
	if err != nil {
		err.Field = field
		return err
	}
	c, err := e.courier(courierID)
	if err != nil {
		return err
	}
	if err := e.checkAssign(o, c, field); err != nil {
		return err
	}
	if o.courier == c {
		o.locked = lock
		return nil
	}
	if len(c.stops)+2 > e.cfg.MaxRouteStops {
		return refused("courier_id", RuleRouteFull, "the route of courier %q has %d stops, the most is %d", c.spec.ID, len(c.stops), e.cfg.MaxRouteStops)
	}
	var bp basePlan
	e.makeBasePlan(c, &bp, nil, nil)
	one := []*orderState{o}
	sc := newScratch(e.cfg.MaxRouteStops)
	fresh := e.plan.freshStops(&bp, one, one, c.shiftEnd, nil)
	ins := e.plan.insert(&bp, fresh, sc, true)
	if !ins.ok {
		if ins.failLate != never {
			return refused(field, RulePromiseHardLimit, "on courier %q, order %q would be delivered %s late, past the hard limit", c.spec.ID, o.spec.ID, durationOf(ins.failLate))
		}
		return refused("courier_id", RuleNoFeasiblePlace, "no feasible place for order %q on the route of courier %q (capacity along the route, shift end)", o.spec.ID, c.spec.ID)
	}
	seq := slices.Clone(sc.best)
	prevID := ""
	if prev := o.courier; prev != nil {
		prevID = prev.spec.ID
		e.unassign(o, UnassignReassigned)
		e.routeChanged(prev)
	}
	e.setStops(c, seq)
	o.courier = c
	o.unplaced = ""
	o.locked = lock
	e.setStatus(o, StatusAssigned, "")
	e.emit(OrderAssigned{OrderID: o.spec.ID, CourierID: c.spec.ID, Previous: prevID})
	e.routeChanged(c)
	return nil
}

func (e *Engine) operatorUnassign(orderID string) *Error {
	o, err := e.order(orderID)
	if err != nil {
		return err
	}
	switch o.status {
	case StatusAssigned:
	case StatusPickedUp:
		return refused("order_id", RulePickedUp, "order %q is already picked up", o.spec.ID)
	case StatusPending:
		return refused("order_id", RuleNotAssigned, "order %q is not assigned", o.spec.ID)
	default:
		return refused("order_id", RuleFinished, "order %q is %s", o.spec.ID, o.status)
	}
	c := o.courier
	e.unassign(o, UnassignOperator)
	e.routeChanged(c)
	return nil
}

func (e *Engine) operatorMove(ev OrdersMovedByOperator) *Error {
	if len(ev.OrderIDs) == 0 {
		return invalid("order_ids", "order_ids is required")
	}
	if len(ev.OrderIDs) > MaxMoveOrders {
		return invalid("order_ids", "at most %d orders move at once, got %d", MaxMoveOrders, len(ev.OrderIDs))
	}
	for i, id := range ev.OrderIDs {
		field := fmt.Sprintf("order_ids[%d]", i)
		if err := checkID(field, id); err != nil {
			return err
		}
		if slices.Index(ev.OrderIDs, id) != i {
			return invalid(field, "order %q is named twice", id)
		}
	}
	if _, err := e.courier(ev.CourierID); err != nil {
		return err
	}
	// All or nothing: the moves are tried on a copy first; the engine is deterministic, so what holds there holds
	// here.
	if len(ev.OrderIDs) > 1 {
		cp := e.Clone()
		for i, id := range ev.OrderIDs {
			if err := cp.operatorAssign(id, ev.CourierID, ev.Lock, fmt.Sprintf("order_ids[%d]", i)); err != nil {
				return err
			}
		}
	}
	for i, id := range ev.OrderIDs {
		if err := e.operatorAssign(id, ev.CourierID, ev.Lock, fmt.Sprintf("order_ids[%d]", i)); err != nil {
			if i == 0 {
				return err
			}
			return &Error{Code: EInternal, Message: fmt.Sprintf("move of %q held on a copy and not on the engine: %s", id, err.Message)}
		}
	}
	return nil
}

func (e *Engine) pauseStore(id string, pause bool) *Error {
	if err := checkID("store_id", id); err != nil {
		return err
	}
	st, ok := e.stores[id]
	if !ok {
		return notFound("store_id", "store %q not found", id)
	}
	st.paused = pause
	if pause {
		for _, o := range e.open {
			if o.store == st && o.status == StatusPending {
				e.tellUnplaced(o, UnplacedStorePaused, 0)
			}
		}
	}
	return nil
}

// waiting says whether a pending order is held back from rounds by an operator (its store is paused).
func (o *orderState) waiting() bool { return o.store.paused }

// movable says whether a round (or an improvement step) may take an assigned order off its courier's route: not
// accepted by the courier, not locked there by an operator, not picked up.
func (o *orderState) movable() bool { return o.status == StatusAssigned && !o.accepted && !o.locked }

// Locked says whether an operator locked the order onto its courier.
func (e *Engine) Locked(orderID string) bool {
	o, ok := e.orders[orderID]
	return ok && o.locked
}

// StorePaused says whether dispatch is paused for the store.
func (e *Engine) StorePaused(storeID string) bool {
	st, ok := e.stores[storeID]
	return ok && st.paused
}

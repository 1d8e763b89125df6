package daemon

import (
	"maps"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// pendingEvent is an event noted while a record is applied, made into an OrderEvent when the record is complete.
type pendingEvent struct {
	typ, orderID, prev, reason, by string
	at                             time.Time
}

// Events are a pure function of the records: they are made as records are applied, live and in a replay alike, so
// a replay after a crash makes the same events with the same ids. An event carries the order as it stands when
// its record is complete (not half-way through the effects).
func (d *Daemon) noteEvent(typ, orderID string, at time.Time, prev, reason string) {
	d.pendingEvents = append(d.pendingEvents, pendingEvent{typ: typ, orderID: orderID, prev: prev, reason: reason, by: d.actor, at: at})
}

// finishEvents turns the events noted for a record (applied at at) into OrderEvents, and adds order.eta_changed for
// the orders whose planned drop-off now differs from the one announced by more than the threshold (judged on the
// final plan: a record may re-plan a route more than once).
func (d *Daemon) finishEvents(at time.Time) {
	var assigned map[string]bool
	d.emitNoted(d.pendingEvents, &assigned)
	d.pendingEvents = d.pendingEvents[:0]
	d.emitETAChanges(at, d.takeETATouched(), assigned)
}

// emitNoted turns noted events into OrderEvents, in order, and adds the orders they assign to *assigned (made when
// first needed: most records assign nothing).
func (d *Daemon) emitNoted(noted []pendingEvent, assigned *map[string]bool) {
	s := d.st
	for _, p := range noted {
		o, ok := s.orders.Get(p.orderID)
		if !ok {
			continue
		}
		if p.typ == service.EventAssigned {
			if *assigned == nil {
				*assigned = map[string]bool{}
			}
			(*assigned)[p.orderID] = true
			if o.ETA != nil && o.ETA.DropoffAt != nil {
				s.announced[p.orderID] = *o.ETA.DropoffAt
			}
		}
		d.numberEvent(service.OrderEvent{Type: p.typ, At: p.at, Order: o.LateAt(p.at), PreviousCourierID: p.prev, Reason: p.reason, By: p.by})
	}
}

// takeETATouched returns, sorted, the orders whose planned drop-off changed since the last call (map order must not
// reach the event ids).
func (d *Daemon) takeETATouched() []string {
	if len(d.etaTouched) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(d.etaTouched))
	clear(d.etaTouched)
	return ids
}

// emitETAChanges adds order.eta_changed for the orders of ids (sorted) whose drop-off moved by more than the
// threshold since order services last heard of it; an order just assigned is announced by its assignment.
func (d *Daemon) emitETAChanges(at time.Time, ids []string, assigned map[string]bool) {
	s := d.st
	for _, id := range ids {
		o, ok := s.orders.Get(id)
		if !ok || assigned[id] || o.Final() || o.ETA == nil || o.ETA.DropoffAt == nil {
			continue
		}
		eta := *o.ETA.DropoffAt
		last, ok := s.announced[id]
		switch {
		case !ok:
			s.announced[id] = eta
		case d.cfg.ETAChangeThreshold > 0 && eta.Sub(last).Abs() > d.cfg.ETAChangeThreshold:
			s.announced[id] = eta
			d.numberEvent(service.OrderEvent{Type: service.EventETAChanged, At: at, Order: o.LateAt(at)})
		}
	}
}

func (d *Daemon) numberEvent(ev service.OrderEvent) {
	d.st.eventSeq++
	ev.ID = d.st.eventSeq
	d.stepEvents = append(d.stepEvents, ev)
}

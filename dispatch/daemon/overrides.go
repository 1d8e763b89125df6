package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Operator overrides: a dispatcher's steps into what the rounds decide. Each is a command that writes one
// "override" record naming who made it (record.By); applying the record applies the engine's override event, so a
// replay does exactly the same, and the order timelines and events it makes carry who.

// Override actions (overrideRecord.Action).
const (
	OverrideAssign   = "assign"
	OverrideUnassign = "unassign"
	OverrideUnlock   = "unlock"
	OverrideMove     = "move"
	OverridePause    = "pause"
	OverrideResume   = "resume"
	OverrideOffShift = "off_shift"
)

// recOverride is an operator's override (Override says which).
const recOverride = "override"

// overrideRecord is an override as the journal keeps it.
type overrideRecord struct {
	Action  string   `json:"action"`
	Orders  []string `json:"orders,omitempty"`
	Courier string   `json:"courier,omitempty"`
	Store   string   `json:"store,omitempty"`
	Lock    bool     `json:"lock,omitempty"`
}

// override is the command of every override: it writes its record.
type override struct {
	by  string
	rec overrideRecord
}

func (c override) run(d *Daemon, now time.Time) (any, uint64, error) {
	rec := c.rec
	return recordAs[any](d, &record{Type: recOverride, At: now, By: c.by, Override: &rec})
}

// AssignOrder puts an order on a courier's route (locked: rounds leave it there). who is the principal's name
// (Principal.Who). A refusal is a conflict naming the rule (dispatch.Error.Reasons) and the field.
func (d *Daemon) AssignOrder(ctx context.Context, who, orderID, courierID string, lock bool) (*service.Order, error) {
	return overrideOrder(ctx, d, who, overrideRecord{Action: OverrideAssign, Orders: []string{orderID}, Courier: courierID, Lock: lock})
}

// UnassignOrder takes an assigned order off its courier's route, back to the pool.
func (d *Daemon) UnassignOrder(ctx context.Context, who, orderID string) (*service.Order, error) {
	return overrideOrder(ctx, d, who, overrideRecord{Action: OverrideUnassign, Orders: []string{orderID}})
}

// UnlockOrder lets rounds move an order again.
func (d *Daemon) UnlockOrder(ctx context.Context, who, orderID string) (*service.Order, error) {
	return overrideOrder(ctx, d, who, overrideRecord{Action: OverrideUnlock, Orders: []string{orderID}})
}

func overrideOrder(ctx context.Context, d *Daemon, who string, rec overrideRecord) (*service.Order, error) {
	res, err := run(ctx, d, override{by: who, rec: rec})
	if err != nil {
		return nil, err
	}
	views, _ := res.([]*service.Order)
	if len(views) != 1 {
		return nil, errorf(dispatch.EInternal, "", "an override of one order answered %d", len(views))
	}
	return views[0], nil
}

// MoveOrders assigns several orders to one courier, all or nothing, and returns their views in the order given.
func (d *Daemon) MoveOrders(ctx context.Context, who, courierID string, orderIDs []string, lock bool) ([]*service.Order, error) {
	res, err := run(ctx, d, override{by: who, rec: overrideRecord{Action: OverrideMove, Orders: slices.Clone(orderIDs), Courier: courierID, Lock: lock}})
	if err != nil {
		return nil, err
	}
	views, _ := res.([]*service.Order)
	return views, nil
}

// PauseStore pauses (or resumes) dispatch for a store: its pending orders wait, reason store_paused.
func (d *Daemon) PauseStore(ctx context.Context, who, storeID string, pause bool) (*service.Store, error) {
	action := OverrideResume
	if pause {
		action = OverridePause
	}
	res, err := run(ctx, d, override{by: who, rec: overrideRecord{Action: action, Store: storeID}})
	if err != nil {
		return nil, err
	}
	v, _ := res.(*service.Store)
	return v, nil
}

// OffShift takes a courier off shift: its orders not picked up go back to the pool; those on board stay on its
// route until delivered, and the result names them.
func (d *Daemon) OffShift(ctx context.Context, who, courierID string) (*service.OffShiftResult, error) {
	res, err := run(ctx, d, override{by: who, rec: overrideRecord{Action: OverrideOffShift, Courier: courierID}})
	if err != nil {
		return nil, err
	}
	v, _ := res.(*service.OffShiftResult)
	return v, nil
}

// CancelOrderAs cancels an order as CancelOrder does, naming who did it in the timeline and the event.
func (d *Daemon) CancelOrderAs(ctx context.Context, who, id, reason string) (*service.Order, error) {
	if len(reason) > 500 {
		return nil, errorf(dispatch.EInvalid, "reason", "reason is longer than 500 bytes")
	}
	return run(ctx, d, cancelOrder{id, reason, who})
}

// applyOverride applies an override record: the engine's event, then the views it touches.
func (d *Daemon) applyOverride(rec *record) (any, error) {
	s, in := d.st, rec.Override
	orderViews := func() ([]*service.Order, error) {
		out := make([]*service.Order, 0, len(in.Orders))
		for _, id := range in.Orders {
			v, ok := s.orders.Get(id)
			if !ok {
				return nil, errorf(dispatch.EInternal, "", "order %q has no view", id)
			}
			out = append(out, v)
		}
		return out, nil
	}
	orderPath := func(err error) error {
		var de *dispatch.Error
		if errors.As(err, &de) && de.Field == "courier_id" {
			return err
		}
		if len(in.Orders) == 1 {
			return d.orderError(err, in.Orders[0])
		}
		return err
	}
	switch in.Action {
	case OverrideAssign, OverrideMove:
		if in.Action == OverrideAssign && len(in.Orders) != 1 {
			return nil, errorf(dispatch.EInvalid, "order_id", "an assignment names one order")
		}
		for i, id := range in.Orders {
			if o, ok := s.orders.Get(id); ok && o.Fulfilment == service.FulfilPickup {
				return nil, errorf(dispatch.EConflict, fmt.Sprintf("order_ids[%d]", i), "order %q is collected in store, never by a courier", id)
			}
		}
		before := make([]bool, len(in.Orders))
		for i, id := range in.Orders {
			o, ok := d.eng.Order(id)
			before[i] = ok && o.CourierID == in.Courier && o.Status == dispatch.StatusAssigned && o.Locked != in.Lock
		}
		var ev dispatch.Event = dispatch.OrdersMovedByOperator{CourierID: in.Courier, OrderIDs: in.Orders, Lock: in.Lock}
		if in.Action == OverrideAssign {
			ev = dispatch.OrderAssignedByOperator{OrderID: in.Orders[0], CourierID: in.Courier, Lock: in.Lock}
		}
		if err := d.applyEngine(rec.At, ev); err != nil {
			return nil, orderPath(err)
		}
		// An order already on that courier only had its lock set or lifted: the timeline says so.
		for i, id := range in.Orders {
			if before[i] {
				d.lockChanged(rec.At, id, in.Lock)
			}
		}
		return orderViews()
	case OverrideUnassign:
		if len(in.Orders) != 1 {
			return nil, errorf(dispatch.EInvalid, "order_id", "an unassignment names one order")
		}
		if err := d.applyEngine(rec.At, dispatch.OrderUnassignedByOperator{OrderID: in.Orders[0]}); err != nil {
			return nil, orderPath(err)
		}
		return orderViews()
	case OverrideUnlock:
		if len(in.Orders) != 1 {
			return nil, errorf(dispatch.EInvalid, "order_id", "an unlock names one order")
		}
		was := d.eng.Locked(in.Orders[0])
		if err := d.applyEngine(rec.At, dispatch.OrderUnlocked{OrderID: in.Orders[0]}); err != nil {
			return nil, orderPath(err)
		}
		if was {
			d.lockChanged(rec.At, in.Orders[0], false)
		}
		return orderViews()
	case OverridePause, OverrideResume:
		pause := in.Action == OverridePause
		v, ok := s.stores.Get(in.Store)
		if !ok {
			return nil, errorf(dispatch.ENotFound, "", "store %q not found", in.Store)
		}
		ev := dispatch.Event(dispatch.StoreResumed{StoreID: in.Store})
		if pause {
			ev = dispatch.StorePaused{StoreID: in.Store}
		}
		if err := d.applyEngine(rec.At, ev); err != nil {
			return nil, err
		}
		cp := *v
		cp.Paused, cp.UpdatedAt = pause, rec.At
		s.stores.Set(cp.ID, &cp)
		return d.withStock(&cp, rec.At), nil
	case OverrideOffShift:
		aux, ok := s.aux[in.Courier]
		if !ok {
			return nil, errorf(dispatch.ENotFound, "", "courier %q not found", in.Courier)
		}
		res := &service.OffShiftResult{Returned: []string{}, OnBoard: []string{}}
		if r, ok := d.eng.Route(in.Courier); ok && aux.InEngine {
			for _, st := range r.Stops {
				o, _ := d.eng.Order(st.OrderID)
				switch {
				case st.Kind == dispatch.Dropoff && o.Status == dispatch.StatusPickedUp:
					res.OnBoard = append(res.OnBoard, st.OrderID)
				case st.Kind == dispatch.Pickup:
					res.Returned = append(res.Returned, st.OrderID)
				}
			}
		}
		v, err := d.applyShift(&record{Type: recShift, At: rec.At, Shift: &shiftRecord{Courier: in.Courier}})
		if err != nil {
			return nil, err
		}
		res.Courier, _ = v.(*service.Courier)
		return res, nil
	}
	return nil, errorf(dispatch.EInternal, "", "unknown override %q", in.Action)
}

// lockChanged notes in an order's timeline that its lock was set or lifted (no status changed).
func (d *Daemon) lockChanged(at time.Time, id string, locked bool) {
	o, ok := d.st.orders.Get(id)
	if !ok {
		return
	}
	reason := "unlocked"
	if locked {
		reason = "locked"
	}
	d.orderChanged(at, id, &service.TimelineEntry{Status: o.Status, At: at, CourierID: o.CourierID, Reason: reason, By: d.actor}, "")
}

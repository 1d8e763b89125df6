package dispatch

import "slices"

// Order returns an order by id (orders are forgotten FinishedRetention after they finish).
func (e *Engine) Order(id string) (Order, bool) {
	o, ok := e.orders[id]
	if !ok {
		return Order{}, false
	}
	return o.public(), true
}

func (o *orderState) public() Order {
	out := Order{
		OrderSpec:  o.spec,
		Status:     o.status,
		PickedUpAt: toTime(o.pickedUpAt),
		Timeline:   slices.Clone(o.timeline),
		Locked:     o.locked,
	}
	if o.status == StatusDelivered {
		out.DeliveredAt = toTime(o.finishedAt)
	}
	out.Skills = slices.Clone(o.spec.Skills)
	if o.courier != nil {
		out.CourierID = o.courier.spec.ID
		if !o.status.Final() {
			for _, s := range o.courier.stops {
				if s.o != o {
					continue
				}
				if s.kind == Pickup {
					out.PickupETA = toTime(s.hand)
				} else {
					out.DropoffETA = toTime(s.hand)
				}
			}
		}
	}
	return out
}

// Courier returns a courier by id.
func (e *Engine) Courier(id string) (Courier, bool) {
	c, ok := e.couriers[id]
	if !ok {
		return Courier{}, false
	}
	spec := c.spec
	spec.Skills = slices.Clone(spec.Skills)
	return Courier{CourierSpec: spec, Online: c.online, Location: c.loc, LocationAt: toTime(c.locAt),
		ShiftEnd: toTime(c.shiftEnd), Load: c.load}, true
}

// Route returns a courier's current route.
func (e *Engine) Route(courierID string) (Route, bool) {
	c, ok := e.couriers[courierID]
	if !ok {
		return Route{}, false
	}
	return c.route(), true
}

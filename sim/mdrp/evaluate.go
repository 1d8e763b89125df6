package mdrp

import (
	"math"

	"github.com/o2o-dispatch/dispatchd/sim/kpi"
)

// Metrics are the performance measures of §1.1 of the specification, computed as the upstream evaluator
// does. Order distributions cover the delivered orders; courier distributions cover every courier of the
// instance, idle ones included; OrdersPerBundle covers the assignments.
type Metrics struct {
	Instance string `json:"instance"`

	Orders          int     `json:"orders"`           // orders in the instance
	OrdersDelivered int     `json:"orders_delivered"` // orders with a delivery record
	DeliveredShare  float64 `json:"delivered_share"`  // OrdersDelivered / Orders (0 without orders)
	Couriers        int     `json:"couriers"`         // couriers in the instance
	Bundles         int     `json:"bundles"`          // assignments

	ClickToDoor        kpi.Stats `json:"click_to_door"`         // dropoff − placement, minutes
	ClickToDoorOverage kpi.Stats `json:"click_to_door_overage"` // max(0, click-to-door − target), minutes
	ReadyToDoor        kpi.Stats `json:"ready_to_door"`         // dropoff − ready, minutes
	ReadyToPickup      kpi.Stats `json:"ready_to_pickup"`       // pickup − ready, minutes

	OrdersPerHour      kpi.Stats `json:"orders_per_hour"`      // per courier: 60 × orders / shift minutes
	BundlesPerHour     kpi.Stats `json:"bundles_per_hour"`     // per courier: 60 × assignments / shift minutes
	Utilization        kpi.Stats `json:"utilization"`          // per courier: busy minutes / shift minutes
	GuaranteedEarnings kpi.Stats `json:"guaranteed_earnings"`  // per courier: pay_per_hour × shift hours
	DeliveryEarnings   kpi.Stats `json:"delivery_earnings"`    // per courier: pay_per_order × orders
	Compensation       kpi.Stats `json:"compensation"`         // per courier: max(delivery, guaranteed)
	OrdersPerBundle    kpi.Stats `json:"orders_per_bundle"`    // per assignment
	TotalCompensation  float64   `json:"total_compensation"`   // sum of Compensation
	GuaranteedShare    float64   `json:"guaranteed_min_share"` // share of couriers paid the guaranteed minimum
}

// Evaluate computes the Metrics of solution s for instance in. The figures are meaningful only for a feasible
// solution (see Validate); Evaluate does not check feasibility, and it skips records that name orders or
// couriers missing from the instance rather than fail.
//
// As in the upstream evaluator: order times come from the instance (placement, ready) and from the delivery
// records (pickup, dropoff), and an order counts as delivered when it has a record; a courier's orders are the
// records naming it and its bundles the assignments naming it; its busy time is its driving minutes (the sum
// of TravelMinutes over its moves) plus the pickup service once per assignment plus the drop-off service once
// per order; a courier is on the guaranteed minimum when its delivery earnings are strictly below its
// guaranteed earnings.
func Evaluate(in *Instance, s *Solution) Metrics {
	p := in.Params
	m := Metrics{Instance: in.Name, Orders: len(in.Orders), Couriers: len(in.Couriers), Bundles: len(s.Assignments)}

	orders := make(map[string]*Order, len(in.Orders))
	for i := range in.Orders {
		orders[in.Orders[i].ID] = &in.Orders[i]
	}
	courierIdx := make(map[string]int, len(in.Couriers))
	for i, c := range in.Couriers {
		courierIdx[c.ID] = i
	}
	restaurants := make(map[string]*Restaurant, len(in.Restaurants))
	for i := range in.Restaurants {
		restaurants[in.Restaurants[i].ID] = &in.Restaurants[i]
	}

	delivered := make([]int, len(in.Couriers))
	bundles := make([]int, len(in.Couriers))
	driving := make([]int, len(in.Couriers))

	var ctd, over, rtd, rtp []float64
	seen := make(map[string]bool, len(s.Orders))
	for _, r := range s.Orders {
		o := orders[r.Order]
		if o == nil || seen[r.Order] {
			continue
		}
		seen[r.Order] = true
		c := float64(r.Dropoff - o.Placement)
		ctd = append(ctd, c)
		over = append(over, math.Max(0, c-float64(p.Target)))
		rtd = append(rtd, float64(r.Dropoff-o.Ready))
		rtp = append(rtp, float64(r.Pickup-o.Ready))
		if i, ok := courierIdx[r.Courier]; ok {
			delivered[i]++
		}
	}
	m.OrdersDelivered = len(ctd)
	if m.Orders > 0 {
		m.DeliveredShare = float64(m.OrdersDelivered) / float64(m.Orders)
	}
	m.ClickToDoor, m.ClickToDoorOverage = kpi.Summarize(ctd), kpi.Summarize(over)
	m.ReadyToDoor, m.ReadyToPickup = kpi.Summarize(rtd), kpi.Summarize(rtp)

	perBundle := make([]float64, 0, len(s.Assignments))
	for _, a := range s.Assignments {
		perBundle = append(perBundle, float64(len(a.Orders)))
		if i, ok := courierIdx[a.Courier]; ok {
			bundles[i]++
		}
	}
	m.OrdersPerBundle = kpi.Summarize(perBundle)

	locate := func(id string, c *Courier) (x, y float64, ok bool) {
		if id == OnLocation {
			return c.X, c.Y, true
		}
		if r := restaurants[id]; r != nil {
			return r.X, r.Y, true
		}
		if o := orders[id]; o != nil {
			return o.X, o.Y, true
		}
		return 0, 0, false
	}
	for _, mv := range s.Moves {
		i, ok := courierIdx[mv.Courier]
		if !ok {
			continue
		}
		c := &in.Couriers[i]
		ax, ay, ok1 := locate(mv.Origin, c)
		bx, by, ok2 := locate(mv.Destination, c)
		if ok1 && ok2 {
			driving[i] += in.TravelMinutes(ax, ay, bx, by)
		}
	}

	n := len(in.Couriers)
	oph, bph, util := make([]float64, n), make([]float64, n), make([]float64, n)
	guar, earn, comp := make([]float64, n), make([]float64, n), make([]float64, n)
	onMinimum := 0
	for i, c := range in.Couriers {
		shift := float64(c.Off - c.On) // Load guarantees > 0
		if shift <= 0 {
			continue // a hand-built instance with an empty shift has no rates to report
		}
		oph[i] = 60 * float64(delivered[i]) / shift
		bph[i] = 60 * float64(bundles[i]) / shift
		busy := driving[i] + p.PickupService*bundles[i] + p.DropoffService*delivered[i]
		util[i] = float64(busy) / shift
		guar[i] = p.PayPerHour * shift / 60
		earn[i] = p.PayPerOrder * float64(delivered[i])
		comp[i] = math.Max(earn[i], guar[i])
		m.TotalCompensation += comp[i]
		if earn[i] < guar[i] {
			onMinimum++
		}
	}
	m.OrdersPerHour, m.BundlesPerHour, m.Utilization = kpi.Summarize(oph), kpi.Summarize(bph), kpi.Summarize(util)
	m.GuaranteedEarnings, m.DeliveryEarnings = kpi.Summarize(guar), kpi.Summarize(earn)
	m.Compensation = kpi.Summarize(comp)
	if n > 0 {
		m.GuaranteedShare = float64(onMinimum) / float64(n)
	}
	return m
}

package sim

import (
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim/kpi"
)

// Summary is the KPIs of a run, machine-readable (summary.json). Durations are in minutes, distances in km.
type Summary struct {
	Scenario string `json:"scenario"`
	Policy   string `json:"policy"`
	Rounds   int    `json:"rounds"`

	Orders         int     `json:"orders"`
	Delivered      int     `json:"delivered"`
	DeliveredShare float64 `json:"delivered_share"`
	// OnTimeShare is the share of all orders delivered by their promise.
	OnTimeShare float64 `json:"on_time_share"`

	// Distributions over delivered orders.
	ClickToDoor   kpi.Stats `json:"click_to_door_min"`
	Overage       kpi.Stats `json:"click_to_door_overage_min"`
	ReadyToDoor   kpi.Stats `json:"ready_to_door_min"`
	ReadyToPickup kpi.Stats `json:"ready_to_pickup_min"`
	// Lateness is max(0, delivered − promise).
	Lateness kpi.Stats `json:"lateness_min"`

	// OrdersPerBundle is over store visits (orders collected together).
	OrdersPerBundle kpi.Stats `json:"orders_per_bundle"`
	// OrdersPerCourierHour is delivered orders over the fleet's total shift hours.
	OrdersPerCourierHour float64 `json:"orders_per_courier_hour"`
	// KmPerOrder is the fleet's distance over delivered orders.
	KmPerOrder float64 `json:"km_per_order"`

	// Per courier, over their shifts.
	CourierOrdersPerHour  kpi.Stats `json:"courier_orders_per_hour"`
	CourierBundlesPerHour kpi.Stats `json:"courier_bundles_per_hour"`
	// Utilisation is (driving + service) / shift length, as the MDRP defines it.
	Utilisation kpi.Stats `json:"courier_utilisation"`
	// IdleShare is the share of the shift with nothing on the route.
	IdleShare kpi.Stats `json:"courier_idle_share"`
	// Earnings is max(pay per order × orders, pay per hour × shift hours) when the scenario has pay.
	Earnings *kpi.Stats `json:"courier_compensation,omitempty"`

	// Fulfilment is the store side, for scenarios that model it. The figures above are then over the orders for
	// couriers only (orders collected in store are counted here), rejected ones included.
	Fulfilment *FulfilSummary `json:"fulfilment,omitempty"`
}

func minutes(d time.Duration) float64 { return d.Minutes() }

// Summarize computes the KPIs of a run. payPerOrder and payPerHour are the scenario's compensation (0: none).
func Summarize(r *Result, payPerOrder, payPerHour float64) Summary {
	s := Summary{Scenario: r.Scenario, Policy: r.Policy, Rounds: r.Rounds}
	var c2d, over, r2d, r2p, late []float64
	onTime := 0
	for _, o := range r.Orders {
		if o.Collect {
			continue
		}
		s.Orders++
		if o.Status != dispatch.StatusDelivered {
			continue
		}
		s.Delivered++
		ctd := minutes(o.Delivered.Sub(o.Placed))
		c2d = append(c2d, ctd)
		over = append(over, max(0, ctd-minutes(r.Target)))
		r2d = append(r2d, minutes(o.Delivered.Sub(o.Ready)))
		r2p = append(r2p, minutes(o.PickedUp.Sub(o.Ready)))
		l := max(0, minutes(o.Delivered.Sub(o.DeliverBy)))
		late = append(late, l)
		if l == 0 {
			onTime++
		}
	}
	if s.Orders > 0 {
		s.DeliveredShare = float64(s.Delivered) / float64(s.Orders)
		s.OnTimeShare = float64(onTime) / float64(s.Orders)
	}
	s.ClickToDoor, s.Overage = kpi.Summarize(c2d), kpi.Summarize(over)
	s.ReadyToDoor, s.ReadyToPickup, s.Lateness = kpi.Summarize(r2d), kpi.Summarize(r2p), kpi.Summarize(late)

	var perBundle []float64
	for _, p := range r.Pickups {
		perBundle = append(perBundle, float64(len(p.Orders)))
	}
	s.OrdersPerBundle = kpi.Summarize(perBundle)

	var oph, bph, util, idle, pay []float64
	var hours, km float64
	for i := range r.Couriers {
		c := &r.Couriers[i]
		h := c.Off.Sub(c.On).Hours()
		hours += h
		km += c.Metres / 1000
		oph = append(oph, float64(c.Delivered)/h)
		bph = append(bph, float64(c.Pickups)/h)
		util = append(util, c.Utilisation())
		idle = append(idle, c.IdleShare())
		pay = append(pay, max(payPerOrder*float64(c.Delivered), payPerHour*h))
	}
	if hours > 0 {
		s.OrdersPerCourierHour = float64(s.Delivered) / hours
	}
	if s.Delivered > 0 {
		s.KmPerOrder = km / float64(s.Delivered)
	}
	s.CourierOrdersPerHour, s.CourierBundlesPerHour = kpi.Summarize(oph), kpi.Summarize(bph)
	s.Utilisation, s.IdleShare = kpi.Summarize(util), kpi.Summarize(idle)
	if payPerOrder > 0 || payPerHour > 0 {
		e := kpi.Summarize(pay)
		s.Earnings = &e
	}
	if r.Fulfil != nil {
		s.Fulfilment = summarizeFulfil(r)
	}
	return s
}

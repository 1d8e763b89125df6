package sim

import (
	"math"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

func TestSummarizeHandComputed(t *testing.T) {
	at := func(m float64) time.Time { return day0.Add(time.Duration(m * float64(time.Minute))) }
	r := &Result{
		Start: day0, Target: 40 * time.Minute, Policy: "optimize",
		Orders: []OrderRecord{
			// on time: click-to-door 30, ready-to-pickup 2
			{ID: "a", Placed: at(0), Ready: at(10), PickedUp: at(12), Delivered: at(30), DeliverBy: at(40), Status: dispatch.StatusDelivered, Bundle: 0},
			// late by 10: click-to-door 50, ready-to-pickup 4
			{ID: "b", Placed: at(0), Ready: at(8), PickedUp: at(12), Delivered: at(50), DeliverBy: at(40), Status: dispatch.StatusDelivered, Bundle: 0},
			{ID: "c", Placed: at(5), Ready: at(15), DeliverBy: at(45), Status: dispatch.StatusPending, Bundle: -1},
		},
		Pickups: []Pickup{{At: at(12), CourierID: "k", StoreID: "s", Orders: []string{"a", "b"}}},
		Couriers: []CourierRecord{{
			ID: "k", On: at(0), Off: at(120), Delivered: 2, Pickups: 1,
			Driving: 40 * time.Minute, Service: 20 * time.Minute, Routed: 90 * time.Minute, Metres: 12000,
		}},
	}
	s := Summarize(r, 10, 15)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Orders != 3 || s.Delivered != 2 {
		t.Fatalf("orders %d delivered %d", s.Orders, s.Delivered)
	}
	near("delivered share", s.DeliveredShare, 2.0/3)
	near("on-time share", s.OnTimeShare, 1.0/3)
	near("click-to-door mean", s.ClickToDoor.Mean, 40)
	near("overage max", s.Overage.Max, 10)
	near("ready-to-pickup mean", s.ReadyToPickup.Mean, 3)
	near("lateness max", s.Lateness.Max, 10)
	near("orders per bundle", s.OrdersPerBundle.Mean, 2)
	near("orders per courier-hour", s.OrdersPerCourierHour, 1) // 2 orders over a 2 h shift
	near("km per order", s.KmPerOrder, 6)
	near("utilisation", s.Utilisation.Mean, 0.5) // (40 + 20) / 120
	near("idle share", s.IdleShare.Mean, 0.25)   // 1 - 90/120
	near("compensation", s.Earnings.Mean, 30)    // max(10 x 2, 15 x 2 h)
}

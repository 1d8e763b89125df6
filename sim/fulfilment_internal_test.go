package sim

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// TestFulfilmentStory follows a hand-made morning order by order: store A opens 08:00-20:00 with one picker and
// two of product x; store B, 3 km away, is always open with x and one y.
func TestFulfilmentStory(t *testing.T) {
	at := func(h, m int) time.Time { return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	week := map[string][]string{}
	for _, d := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		week[d] = []string{"08:00-20:00"}
	}
	hours, err := fulfil.ParseHours(week, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	travel := geo.CeilMinutes{Space: geo.Planar, MetresPerMinute: 320}
	cfg := fulfil.DefaultConfig(travel)
	sc := &Scenario{
		Name: "story", Start: at(6, 0), Space: geo.Planar, Travel: travel, Config: dispatch.DefaultConfig(),
		TickEvery: time.Minute, Target: 40 * time.Minute,
		Stores: []dispatch.Store{{ID: "A", Location: orb.Point{0, 0}}, {ID: "B", Location: orb.Point{3000, 0}}},
		Couriers: []Shift{{Courier: dispatch.CourierSpec{ID: "k1", Vehicle: geo.Bike, Capacity: 8},
			Location: orb.Point{0, 0}, On: at(7, 30), Off: at(12, 0)}},
		Fulfil: &Fulfilment{Config: cfg,
			Stores: []StoreSetup{
				{Kind: "small", Pickers: 1, Prep: 5 * time.Minute, Hours: hours, Stock: map[string]int{"x": 2}},
				{Kind: "big", Prep: 5 * time.Minute, Stock: map[string]int{"x": 5, "y": 1}},
			},
			Restocks: []Restock{{At: at(9, 0), StoreID: "A", Level: map[string]int{"x": 3}}},
		},
	}
	x := []fulfil.Item{{SKU: "x", Qty: 1}}
	y := []fulfil.Item{{SKU: "y", Qty: 1}}
	add := func(id, store string, placed, deliverBy time.Time, side OrderSetup) {
		sc.Orders = append(sc.Orders, dispatch.OrderSpec{ID: id, StoreID: store, Dropoff: orb.Point{500, 0},
			Created: placed, Ready: placed.Add(5 * time.Minute), DeliverBy: deliverBy})
		sc.Fulfil.Orders = append(sc.Fulfil.Orders, side)
	}
	add("o1", "A", at(6, 10), at(8, 40), OrderSetup{Items: x})                               // overnight, ready 08:05
	add("o2", "", at(6, 20), at(7, 0), OrderSetup{Items: y})                                 // only B has y
	add("o3", "", at(6, 30), at(7, 10), OrderSetup{Items: y})                                // B's y is taken
	add("o4", "A", at(6, 40), at(8, 30), OrderSetup{Items: x, Collect: true})                // the last x; ready 08:10
	add("o5", "A", at(6, 50), at(9, 0), OrderSetup{Items: x})                                // no x left at A
	add("o6", "A", at(7, 0), at(7, 40), OrderSetup{})                                        // A is closed
	add("o7", "A", at(7, 5), at(7, 45), OrderSetup{Later: []time.Time{at(8, 10), at(9, 0)}}) // takes 09:00
	add("o8", "A", at(19, 0), at(19, 40), OrderSetup{Items: x})                              // no courier: cancelled at 20:00
	add("o9", "A", at(19, 30), at(20, 10), OrderSetup{Collect: true, CollectAfter: 40 * time.Minute})

	var stockA, reservedA map[string]int
	out, err := RunScenario(sc, Options{Policy: dispatch.PolicyOptimize, Check: func(v *View) error {
		stockA, reservedA, _ = v.Network().Inventory("A")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Result
	o := map[string]*OrderRecord{}
	for i := range r.Orders {
		o[r.Orders[i].ID] = &r.Orders[i]
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s", what)
		}
	}
	check("o1 is an overnight order ready at 08:05 and delivered",
		o["o1"].Overnight && o["o1"].Ready.Equal(at(8, 5)) && o["o1"].Status == dispatch.StatusDelivered &&
			!o["o1"].PickedUp.Before(at(8, 5)))
	check("o2 names only y and goes to B", o["o2"].StoreID == "B" && o["o2"].ByItems && o["o2"].Rejected == "" && !o["o2"].Overnight)
	check("o3 finds no y left", o["o3"].Rejected == fulfil.ReasonOutOfStock && slices.Equal(o["o3"].Reasons, []string{fulfil.ReasonOutOfStock}))
	check("o4 is collected as soon as it is ready, 08:10, behind o1 at A's one picker",
		o["o4"].Collect && o["o4"].Ready.Equal(at(8, 10)) && o["o4"].Collected.Equal(at(8, 10)) && o["o4"].Overnight &&
			o["o4"].Stage(r.Samples[len(r.Samples)-1].At) == "collected" && o["o4"].CourierID == "")
	check("o5 finds no x left at A", o["o5"].Rejected == fulfil.ReasonOutOfStock && o["o5"].StoreID == "A")
	check("o6 asks a closed store to deliver now", o["o6"].Rejected == fulfil.ReasonClosed)
	check("o7 takes the second later slot", o["o7"].LaterSlot == 2 && o["o7"].DeliverBy.Equal(at(9, 0)) &&
		o["o7"].Ready.Equal(at(8, 15)) && o["o7"].Status == dispatch.StatusDelivered && o["o7"].Overnight)
	check("o8, with no courier on duty, is cancelled when A closes", o["o8"].Missed && o["o8"].Status == dispatch.StatusCancelled)
	check("o9's customer comes after closing and collects at the next opening",
		o["o9"].Collected.Equal(at(32, 0)) && !o["o9"].Overnight)
	// x: two sold (o1, o4), three restocked at 09:00, one reserved by o8 and given back at its cancellation.
	check("A ends with three x and nothing reserved", maps.Equal(stockA, map[string]int{"x": 3}) && len(reservedA) == 0)
	check("y ran out at B at 06:20, then x at A at 06:40",
		len(r.Fulfil.StockOuts) >= 2 && r.Fulfil.StockOuts[0] == StockOut{At: at(6, 20), StoreID: "B", SKU: "y"} &&
			r.Fulfil.StockOuts[1] == StockOut{At: at(6, 40), StoreID: "A", SKU: "x"})
	f := out.Summary.Fulfilment
	check("the summary counts them", f.Rejected == 3 && maps.Equal(f.RejectedByReason, map[string]int{"out_of_stock": 2, "closed": 1}) &&
		f.LaterSlot == 1 && f.Missed == 1 && f.Restocks == 1 && f.ByItems == 2 && f.Collect.Accepted == 2)
	check("the opening is 08:00 and o1, o4, o7 are its overnight orders",
		f.Opening != nil && f.Opening.At.Equal(at(8, 0)) && f.Opening.OvernightOrders == 2 && f.Opening.OvernightCollect == 1)
	if t.Failed() {
		for _, rec := range r.Orders {
			t.Logf("%+v", rec)
		}
		t.Logf("stock-outs %+v; summary %+v", r.Fulfil.StockOuts, f)
	}
}

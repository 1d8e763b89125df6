package fulfil

import (
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// A choice by items stays in one region: the one asked for, else the drop-off's, which is that of the nearest
// store that can serve the order; a better store of another region farther away is passed over.
func TestChooseWithinARegion(t *testing.T) {
	n := testNetwork(t)
	// Nearest first: "a-empty" (region a, no eggs), "b-slow" (region b), "a-fast" (region a), "b-fast" (region b).
	put(t, n, Store{ID: "a-empty", Region: "a", Location: orb.Point{100, 0}, Prep: time.Minute}, map[string]int{"milk": 5})
	put(t, n, Store{ID: "b-slow", Region: "b", Location: orb.Point{600, 0}, Prep: 15 * time.Minute}, map[string]int{"milk": 5, "eggs": 5})
	put(t, n, Store{ID: "a-fast", Region: "a", Location: orb.Point{1200, 0}, Prep: time.Minute}, map[string]int{"milk": 5, "eggs": 5})
	put(t, n, Store{ID: "b-fast", Region: "b", Location: orb.Point{1800, 0}, Prep: time.Minute}, map[string]int{"milk": 5, "eggs": 5})
	eggs := []Item{{SKU: "eggs", Qty: 1}}
	milk := []Item{{SKU: "milk", Qty: 1}}
	for _, c := range []struct {
		name, region string
		items        []Item
		store        string
	}{
		// b-slow is the nearest store that can serve it: region b, whose b-fast (prep 1 min, ride 7.5 min) beats
		// b-slow (15 + 2.5); a-fast would be earlier still (1 + 5) but is of region a.
		{"eggs, the drop-off's region", "", eggs, "b-fast"},
		{"milk, the drop-off's region", "", milk, "a-empty"},
		{"eggs in region a", "a", eggs, "a-fast"},
		{"milk in region b", "b", milk, "b-fast"},
	} {
		p, err := n.Choose(t0, &Request{Items: c.items, Region: c.region, Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(time.Hour)})
		if err != nil || p.StoreID != c.store {
			t.Fatalf("%s: chose %+v (%v), want %s", c.name, p, err, c.store)
		}
		if p.Region != c.store[:1] {
			t.Fatalf("%s: plan's region %q, want %s's", c.name, p.Region, c.store)
		}
	}
	_, err := n.Choose(t0, &Request{Items: eggs, Region: "c", Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(time.Hour)})
	if de := unservable(t, err); len(de.Reasons) != 1 || de.Reasons[0] != ReasonNoStoreInReach {
		t.Fatalf("a region without stores: %v", de.Reasons)
	}
	// A named store is taken whatever its region (the caller checks the region it wants).
	if p, err := n.Choose(t0, &Request{StoreID: "b-slow", Region: "a", Dropoff: orb.Point{0, 0}, DeliverBy: t0.Add(time.Hour)}); err != nil || p.StoreID != "b-slow" || p.Region != "b" {
		t.Fatalf("named store: %+v %v", p, err)
	}
}

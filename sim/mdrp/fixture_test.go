package mdrp

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture returns a small hand-built instance and a feasible solution of it, fresh on every call so that tests
// may mutate them. The timeline, with 100 m/min and 4-minute services (2 minutes each side):
//
//	c1 (0,300), shift 0–120:  leaves at 10 for r1 (300 m: 3 min), arrives 13; picks o1,o2 up at 18 (o2 ready);
//	                          leaves 20 for o1 (500 m), arrives 25, drops 27, leaves 29 for o2 (300 m), arrives 32,
//	                          drops 34; waits; assigned o4 at 52, leaves o2 at 52 for r1 (800 m), arrives 60, picks
//	                          up at 62, leaves 64 for o4 (500 m), arrives 69, drops 71.
//	c2 (1000,500), shift 10–70: assigned o3,o5 at 25, leaves for r2 (500 m), arrives 30, picks up at 32, leaves 34
//	                          for o3 (1000 m), arrives 44, drops 46, leaves 48 for o5 at the same place (0 min),
//	                          drops 50.
//	c3 idle; o6 undelivered.
func fixture() (*Instance, *Solution) {
	in := &Instance{
		Name: "tiny",
		Params: Params{MetersPerMinute: 100, PickupService: 4, DropoffService: 4, Target: 25, MaxClickToDoor: 90,
			PayPerOrder: 10, PayPerHour: 15},
		Restaurants: []Restaurant{{"r1", 0, 0}, {"r2", 1000, 0}},
		Orders: []Order{
			{"o1", 0, 500, 5, "r1", 15},
			{"o2", 0, 800, 6, "r1", 18},
			{"o3", 1000, 1000, 20, "r2", 30},
			{"o4", 300, 400, 50, "r1", 60},
			{"o5", 1000, 1000, 21, "r2", 28},
			{"o6", 2000, 0, 100, "r2", 110},
		},
		Couriers: []Courier{{"c1", 0, 300, 0, 120}, {"c2", 1000, 500, 10, 70}, {"c3", 5000, 5000, 0, 60}},
	}
	s := &Solution{
		Assignments: []Assignment{
			{10, 18, "c1", []string{"o1", "o2"}},
			{25, 32, "c2", []string{"o3", "o5"}},
			{52, 62, "c1", []string{"o4"}},
		},
		Orders: []OrderRecord{
			{"o1", 5, 15, 18, 27, "c1"},
			{"o2", 6, 18, 18, 34, "c1"},
			{"o3", 20, 30, 32, 46, "c2"},
			{"o5", 21, 28, 32, 50, "c2"},
			{"o4", 50, 60, 62, 71, "c1"},
		},
		Moves: []Move{
			{"c1", 10, "0", "r1"},
			{"c1", 20, "r1", "o1"},
			{"c1", 29, "o1", "o2"},
			{"c1", 52, "o2", "r1"},
			{"c1", 64, "r1", "o4"},
			{"c2", 25, "0", "r2"},
			{"c2", 34, "r2", "o3"},
			{"c2", 48, "o3", "o5"},
		},
	}
	return in, s
}

// writeInstance writes in as the four tab-separated instance files, the way the published instances look.
func writeInstance(t testing.TB, dir string, in *Instance) {
	t.Helper()
	var r, o, c strings.Builder
	r.WriteString("restaurant\tx\ty\n")
	for _, x := range in.Restaurants {
		fmt.Fprintf(&r, "%s\t%v\t%v\n", x.ID, x.X, x.Y)
	}
	o.WriteString("order\tx\ty\tplacement_time\trestaurant\tready_time\n")
	for _, x := range in.Orders {
		fmt.Fprintf(&o, "%s\t%v\t%v\t%d\t%s\t%d\n", x.ID, x.X, x.Y, x.Placement, x.Restaurant, x.Ready)
	}
	c.WriteString("courier\tx\ty\ton_time\toff_time\n")
	for _, x := range in.Couriers {
		fmt.Fprintf(&c, "%s\t%v\t%v\t%d\t%d\n", x.ID, x.X, x.Y, x.On, x.Off)
	}
	p := in.Params
	params := "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\t" +
		"maximum click-to-door\tpay per order\tguaranteed pay per hour\n" +
		fmt.Sprintf("%v\t%d\t%d\t%d\t%d\t%v\t%v\n", p.MetersPerMinute, p.PickupService, p.DropoffService, p.Target,
			p.MaxClickToDoor, p.PayPerOrder, p.PayPerHour)
	writeFiles(t, dir, map[string]string{RestaurantsFile: r.String(), OrdersFile: o.String(),
		CouriersFile: c.String(), ParamsFile: params})
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// greedy builds a feasible solution of the basic variant independently of the validator's code: orders are
// taken in placement order, bundled with the next orders of the same restaurant placed within bundleWindow
// minutes (at most maxBundle), and each bundle goes to the courier that can pick it up first. All service
// arithmetic is done in half-minutes and rounded up to whole minutes, as integer solution files require.
func greedy(in *Instance, maxBundle, bundleWindow int) *Solution {
	p := in.Params
	ps, ds := p.PickupService, p.DropoffService
	type state struct {
		loc    string
		x, y   float64
		leave2 int // earliest departure, half-minutes
		moves  []Move
	}
	st := make([]state, len(in.Couriers))
	for i, c := range in.Couriers {
		st[i] = state{loc: OnLocation, x: c.X, y: c.Y, leave2: 2 * c.On}
	}
	rest := map[string]Restaurant{}
	for _, r := range in.Restaurants {
		rest[r.ID] = r
	}
	idx := make([]int, len(in.Orders))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return in.Orders[a].Placement - in.Orders[b].Placement })
	ceilHalf := func(h int) int { return (h + 1) / 2 } // half-minutes → whole minutes, rounding up (h ≥ 0)

	s := &Solution{}
	used := make([]bool, len(in.Orders))
	for n, i := range idx {
		if used[i] {
			continue
		}
		first := in.Orders[i]
		group := []int{i}
		used[i] = true
		for _, j := range idx[n+1:] {
			o := in.Orders[j]
			if len(group) == maxBundle || o.Placement > first.Placement+bundleWindow {
				break
			}
			if !used[j] && o.Restaurant == first.Restaurant {
				group = append(group, j)
				used[j] = true
			}
		}
		T, ready := 0, 0
		for _, j := range group {
			T = max(T, in.Orders[j].Placement)
			ready = max(ready, in.Orders[j].Ready)
		}
		r := rest[first.Restaurant]
		best, bestP, bestDep := -1, 0, 0
		for ci, c := range in.Couriers {
			dep := max(T, ceilHalf(st[ci].leave2))
			arr := dep + in.TravelMinutes(st[ci].x, st[ci].y, r.X, r.Y)
			P := ceilHalf(max(2*ready, 2*arr+ps))
			if P <= c.Off && (best < 0 || P < bestP) {
				best, bestP, bestDep = ci, P, dep
			}
		}
		if best < 0 {
			continue // nobody can pick it up before going off duty: undelivered
		}
		cs := &st[best]
		c := in.Couriers[best]
		a := Assignment{Time: T, Pickup: bestP, Courier: c.ID}
		cs.moves = append(cs.moves, Move{c.ID, bestDep, cs.loc, r.ID})
		cs.loc, cs.x, cs.y, cs.leave2 = r.ID, r.X, r.Y, 2*bestP+ps
		for _, j := range group {
			o := in.Orders[j]
			dep := ceilHalf(cs.leave2)
			arr := dep + in.TravelMinutes(cs.x, cs.y, o.X, o.Y)
			D := ceilHalf(2*arr + ds)
			cs.moves = append(cs.moves, Move{c.ID, dep, cs.loc, o.ID})
			cs.loc, cs.x, cs.y, cs.leave2 = o.ID, o.X, o.Y, 2*D+ds
			a.Orders = append(a.Orders, o.ID)
			s.Orders = append(s.Orders, OrderRecord{o.ID, o.Placement, o.Ready, bestP, D, c.ID})
		}
		s.Assignments = append(s.Assignments, a)
	}
	for _, cs := range st {
		s.Moves = append(s.Moves, cs.moves...)
	}
	return s
}

// randomInstance draws a small instance whose diners sit on a coarse grid, so that bundles often hold orders
// at the very same place, with odd and even service times and speeds that do not divide the distances.
func randomInstance(seed uint64) *Instance {
	rng := rand.New(rand.NewPCG(seed, 42))
	in := &Instance{Name: fmt.Sprintf("random%d", seed)}
	in.Params = Params{
		MetersPerMinute: []float64{100, 137.5, 320, 314}[rng.IntN(4)],
		PickupService:   rng.IntN(6), DropoffService: rng.IntN(6),
		Target: 40, MaxClickToDoor: 90, PayPerOrder: 10, PayPerHour: 15,
	}
	for i := range 4 {
		in.Restaurants = append(in.Restaurants, Restaurant{fmt.Sprintf("r%d", i+1),
			float64(rng.IntN(3000)), float64(rng.IntN(3000))})
	}
	for i := range 80 {
		placed := rng.IntN(240)
		in.Orders = append(in.Orders, Order{fmt.Sprintf("o%d", i+1),
			float64(600 * rng.IntN(5)), float64(600 * rng.IntN(5)), placed,
			in.Restaurants[rng.IntN(len(in.Restaurants))].ID, placed + rng.IntN(30)})
	}
	for i := range 6 {
		on := rng.IntN(200)
		in.Couriers = append(in.Couriers, Courier{fmt.Sprintf("c%d", i+1),
			float64(rng.IntN(3000)), float64(rng.IntN(3000)), on, on + 30 + rng.IntN(150)})
	}
	return in
}

package mdrp

import (
	"fmt"
	"math"
	"path/filepath"
)

// Names of the instance files inside an instance directory.
const (
	OrdersFile      = "orders.txt"
	RestaurantsFile = "restaurants.txt"
	CouriersFile    = "couriers.txt"
	ParamsFile      = "instance_parameters.txt"
)

// OnLocation is the origin that stands for a courier's on-location in the couriers solution file.
const OnLocation = "0"

// Params are the time and compensation parameters of an instance (instance_parameters.txt).
type Params struct {
	MetersPerMinute float64 // speed: travel minutes = ceil(metres / MetersPerMinute)
	PickupService   int     // minutes of service at a restaurant (half before the pickup, half after)
	DropoffService  int     // minutes of service at a diner (half before the drop-off, half after)
	Target          int     // target click-to-door minutes (overage is measured against it)
	MaxClickToDoor  int     // maximum click-to-door minutes (informative; not a feasibility condition)
	PayPerOrder     float64 // courier pay per delivered order
	PayPerHour      float64 // guaranteed courier pay per hour of shift
}

// Restaurant is a pickup location.
type Restaurant struct {
	ID   string
	X, Y float64 // metres
}

// Order is a meal to carry from its restaurant to the diner at (X, Y).
type Order struct {
	ID         string
	X, Y       float64 // drop-off location, metres
	Placement  int     // minute the order is placed (the dispatcher learns of it)
	Restaurant string  // restaurant id
	Ready      int     // minute the meal is ready at the restaurant
}

// Courier is one shift: the courier is at (X, Y) at On and picks up nothing after Off.
type Courier struct {
	ID      string
	X, Y    float64 // on-location, metres
	On, Off int     // shift start and end, minutes
}

// Instance is one MDRP instance. Records keep the order of the input files.
type Instance struct {
	Name        string // base name of the instance directory, e.g. "0o100t100s1p100"
	Params      Params
	Restaurants []Restaurant
	Orders      []Order
	Couriers    []Courier
}

// TravelMinutes is the travel time between two points: ceil(euclidean distance / meters_per_minute).
//
// The distance is computed as sqrt(dx²+dy²), like the upstream evaluator (not math.Hypot, which may differ in
// the last bit), so that exact multiples of the speed land on whole minutes as they do there. A quotient that
// exceeds a whole number by at most 1e-12 of itself counts as that whole number, so rounding noise cannot add
// a minute.
func (in *Instance) TravelMinutes(ax, ay, bx, by float64) int {
	return travelMinutes(ax, ay, bx, by, in.Params.MetersPerMinute)
}

func travelMinutes(ax, ay, bx, by, metersPerMinute float64) int {
	dx, dy := bx-ax, by-ay
	q := math.Sqrt(dx*dx+dy*dy) / metersPerMinute
	f := math.Floor(q)
	if q-f <= 1e-12*q {
		return int(f)
	}
	return int(f) + 1
}

// Load reads the instance in directory dir. It rejects, with the file, line and field in the message: a
// missing file, a wrong number of columns, numbers that do not parse or are not finite, times that are not
// whole or are negative, duplicate ids (ids must also be distinct across restaurants, orders and couriers,
// and no restaurant or order may be called "0", because solutions use ids as location names), an order of an
// unknown restaurant, ready < placement, off <= on, meters_per_minute <= 0, negative service times or pay.
func Load(dir string) (*Instance, error) {
	in := &Instance{Name: filepath.Base(filepath.Clean(dir))}
	var err error
	if in.Params, err = loadParams(dir); err != nil {
		return nil, err
	}
	// ids names every location kind, because the solution files name locations by id alone.
	ids := map[string]string{}
	claim := func(r *fieldReader, kind, id string) {
		if id == OnLocation && kind != "courier" {
			r.fail(kind, "%s id %q is reserved for couriers' on-locations", kind, id)
		} else if prev, dup := ids[id]; dup {
			if prev == kind {
				r.fail(kind, "duplicate %s id %q", kind, id)
			} else {
				r.fail(kind, "%s id %q is also a %s id", kind, id, prev)
			}
		}
		ids[id] = kind
	}

	recs, err := readRecords(dir, RestaurantsFile, 3, 3)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: RestaurantsFile, rec: rec}
		x := Restaurant{ID: r.str(0), X: r.num(1, "x"), Y: r.num(2, "y")}
		claim(r, "restaurant", x.ID)
		if r.err != nil {
			return nil, r.err
		}
		in.Restaurants = append(in.Restaurants, x)
	}

	if recs, err = readRecords(dir, OrdersFile, 6, 6); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: OrdersFile, rec: rec}
		o := Order{ID: r.str(0), X: r.num(1, "x"), Y: r.num(2, "y"), Placement: r.whole(3, "placement_time"),
			Restaurant: r.str(4), Ready: r.whole(5, "ready_time")}
		claim(r, "order", o.ID)
		switch {
		case ids[o.Restaurant] != "restaurant":
			r.fail("restaurant", "restaurant %q is not in %s", o.Restaurant, RestaurantsFile)
		case o.Placement < 0:
			r.fail("placement_time", "placement_time %d is negative", o.Placement)
		case o.Ready < o.Placement:
			r.fail("ready_time", "ready_time %d is before placement_time %d", o.Ready, o.Placement)
		}
		if r.err != nil {
			return nil, r.err
		}
		in.Orders = append(in.Orders, o)
	}

	if recs, err = readRecords(dir, CouriersFile, 5, 5); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: CouriersFile, rec: rec}
		c := Courier{ID: r.str(0), X: r.num(1, "x"), Y: r.num(2, "y"), On: r.whole(3, "on_time"),
			Off: r.whole(4, "off_time")}
		claim(r, "courier", c.ID)
		switch {
		case c.On < 0:
			r.fail("on_time", "on_time %d is negative", c.On)
		case c.Off <= c.On:
			r.fail("off_time", "off_time %d is not after on_time %d", c.Off, c.On)
		}
		if r.err != nil {
			return nil, r.err
		}
		in.Couriers = append(in.Couriers, c)
	}
	return in, nil
}

// loadParams reads instance_parameters.txt, which must hold exactly one data line.
func loadParams(dir string) (Params, error) {
	recs, err := readRecords(dir, ParamsFile, 7, 7)
	if err != nil {
		return Params{}, err
	}
	if len(recs) != 1 {
		return Params{}, &ParseError{File: ParamsFile, Msg: fmt.Sprintf("%d data lines, want 1", len(recs))}
	}
	r := &fieldReader{file: ParamsFile, rec: recs[0]}
	p := Params{
		MetersPerMinute: r.num(0, "meters_per_minute"),
		PickupService:   r.whole(1, "pickup_service"),
		DropoffService:  r.whole(2, "dropoff_service"),
		Target:          r.whole(3, "target_click_to_door"),
		MaxClickToDoor:  r.whole(4, "max_click_to_door"),
		PayPerOrder:     r.num(5, "pay_per_order"),
		PayPerHour:      r.num(6, "pay_per_hour"),
	}
	switch {
	case r.err != nil:
	case p.MetersPerMinute <= 0:
		r.fail("meters_per_minute", "meters_per_minute %v is not positive", p.MetersPerMinute)
	case p.PickupService < 0:
		r.fail("pickup_service", "pickup_service %d is negative", p.PickupService)
	case p.DropoffService < 0:
		r.fail("dropoff_service", "dropoff_service %d is negative", p.DropoffService)
	case p.PayPerOrder < 0:
		r.fail("pay_per_order", "pay_per_order %v is negative", p.PayPerOrder)
	case p.PayPerHour < 0:
		r.fail("pay_per_hour", "pay_per_hour %v is negative", p.PayPerHour)
	}
	return p, r.err
}

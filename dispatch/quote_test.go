package dispatch

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func TestQuoteMatchesWhatTheRoundDoes(t *testing.T) {
	c := newCity(t, func(cfg *Config) { cfg.PostponeSlack = 0 })
	c.store("s", 0, 0)
	c.courier("near", 500, 0, 2)
	c.courier("far", 5000, 0, 2)
	now := c.now()
	spec := OrderSpec{ID: "o1", StoreID: "s", Dropoff: orb.Point{0, 2000}, Ready: now.Add(5 * time.Minute), DeliverBy: now.Add(40 * time.Minute)}
	before, _ := json.Marshal([]any{c.e.Export(), c.e.Now()})
	q, err := c.e.Quote(now, spec)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal([]any{c.e.Export(), c.e.Now()})
	if string(before) != string(after) {
		t.Fatal("Quote changed the engine's state")
	}
	if !q.Feasible || q.CourierID != "near" || len(q.Reasons) != 0 {
		t.Fatalf("quote %+v, want feasible with courier near", q)
	}
	mustApply(t, c.e, now, OrderPlaced{spec})
	mustApply(t, c.e, now, DispatchTick{})
	o, _ := c.e.Order("o1")
	if o.CourierID != q.CourierID || !o.PickupETA.Equal(q.PickupETA) || !o.DropoffETA.Equal(q.DropoffETA) {
		t.Fatalf("round planned %s pick-up %s drop-off %s; quote said %s %s %s", o.CourierID,
			o.PickupETA.Format(time.TimeOnly), o.DropoffETA.Format(time.TimeOnly), q.CourierID,
			q.PickupETA.Format(time.TimeOnly), q.DropoffETA.Format(time.TimeOnly))
	}
}

func TestQuoteReasons(t *testing.T) {
	c := newCity(t, nil)
	c.store("s", 0, 0)
	now := c.now()
	spec := OrderSpec{StoreID: "s", Dropoff: orb.Point{0, 2000}, DeliverBy: now.Add(40 * time.Minute)}
	q, err := c.e.Quote(now, spec)
	if err != nil {
		t.Fatal(err)
	}
	if q.Feasible || !reflect.DeepEqual(q.Reasons, []Unplaced{UnplacedNoCourier}) {
		t.Fatalf("no courier online: %+v, want %s", q, UnplacedNoCourier)
	}

	c.courier("small", 100, 0, 1)
	big := spec
	big.Size = 3
	if q, _ := c.e.Quote(now, big); q.Feasible || !reflect.DeepEqual(q.Reasons, []Unplaced{UnplacedCouriersFull}) {
		t.Fatalf("order bigger than every bag: %+v, want %s", q, UnplacedCouriersFull)
	}

	// A door 6 km away cannot be reached in 5 minutes plus the hard limit.
	far := spec
	far.Dropoff = orb.Point{0, 6000}
	far.DeliverBy = now.Add(time.Minute)
	c.e.cfg.HardLateness = time.Minute
	if q, _ := c.e.Quote(now, far); q.Feasible || !reflect.DeepEqual(q.Reasons, []Unplaced{UnplacedWouldBeLate}) || q.LateBy <= 0 {
		t.Fatalf("unreachable promise: %+v, want %s with LateBy", q, UnplacedWouldBeLate)
	}

	bad := spec
	bad.StoreID = "nowhere"
	if _, err := c.e.Quote(now, bad); ErrorCodeOf(err) != ENotFound {
		t.Fatalf("unknown store: %v, want %s", err, ENotFound)
	}
}

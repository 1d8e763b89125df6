package synth

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// gridRoads is a map whose roads are the meridians and parallels every 0.001°, east of a coast at a longitude: a
// point west of the coast is in the sea.
type gridRoads struct {
	geo.TravelModel
	coast float64
	asked int
}

func (g *gridRoads) OnRoad(p orb.Point) (orb.Point, error) {
	g.asked++
	if p[0] < g.coast {
		return orb.Point{}, errors.New("in the sea")
	}
	// The nearest road: round the coordinate that is closer to a grid line.
	lon, lat := math.Round(p[0]*1000)/1000, math.Round(p[1]*1000)/1000
	if math.Abs(p[0]-lon) < math.Abs(p[1]-lat) {
		return orb.Point{lon, p[1]}, nil
	}
	return orb.Point{p[0], lat}, nil
}

func onGrid(p orb.Point) bool {
	near := func(v float64) bool { return math.Abs(v*1000-math.Round(v*1000)) < 1e-6 }
	return near(p[0]) || near(p[1])
}

func TestGenerateOnRoads(t *testing.T) {
	spec, err := Load("../scenarios/small-town.json")
	if err != nil {
		t.Fatal(err)
	}
	// The coast runs through the town's centre: half of what Generate draws falls in the sea.
	roads := &gridRoads{TravelModel: geo.NewStraightLine(geo.Geographic), coast: spec.City.Lon}
	sc, err := GenerateOn(spec, 7, roads)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Travel != geo.TravelModel(roads) {
		t.Fatal("the scenario does not travel on the map")
	}
	check := func(what string, p orb.Point) {
		t.Helper()
		if p[0] < roads.coast || !onGrid(p) {
			t.Fatalf("%s at %v is not on the map's roads", what, p)
		}
	}
	for _, s := range sc.Stores {
		check("store "+s.ID, s.Location)
	}
	for _, c := range sc.Couriers {
		check("courier "+c.Courier.ID, c.Location)
	}
	for _, o := range sc.Orders {
		check("drop-off of "+o.ID, o.Dropoff)
	}
	if roads.asked <= len(sc.Stores)+len(sc.Couriers)+len(sc.Orders) {
		t.Fatalf("%d places asked for %d placed: nothing fell in the sea, so the test proves nothing", roads.asked,
			len(sc.Stores)+len(sc.Couriers)+len(sc.Orders))
	}

	// Without a map the day is the one Generate has always drawn.
	plain, err := Generate(spec, 7)
	if err != nil {
		t.Fatal(err)
	}
	again, err := GenerateOn(spec, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain, again) {
		t.Fatal("GenerateOn without roads drew another day than Generate")
	}
}

func TestGenerateOnRoadsFarFromTheCity(t *testing.T) {
	spec, err := Load("../scenarios/small-town.json")
	if err != nil {
		t.Fatal(err)
	}
	roads := &gridRoads{TravelModel: geo.NewStraightLine(geo.Geographic), coast: 179}
	_, err = GenerateOn(spec, 7, roads)
	if err == nil || !strings.Contains(err.Error(), "does the map cover the city") {
		t.Fatalf("err = %v, want one saying the map does not cover the city", err)
	}
}

package daemon

import (
	"sync"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-polyline"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// maxLegs bounds the legs kept: a city's routes change every round, so older legs are rarely asked again.
const maxLegs = 1 << 16

// legs draws routes on the road map for the API and the courier streams. The paths are computed when a route is
// read, not when it is planned: the loop never waits for them, and only routes somebody looks at are drawn. Safe
// for concurrent use.
type legs struct {
	model geo.PathModel
	mu    sync.Mutex
	kept  map[legKey]*service.Leg
}

type legKey struct {
	from, to orb.Point
	p        geo.Profile
}

// newLegs returns nil unless the travel model can say which way a trip goes (a road map).
func newLegs(m geo.TravelModel) *legs {
	pm, ok := m.(geo.PathModel)
	if !ok {
		return nil
	}
	return &legs{model: pm, kept: make(map[legKey]*service.Leg)}
}

// leg returns the leg from one place to another for a vehicle, or nil when the map has no path between them.
func (l *legs) leg(from, to orb.Point, p geo.Profile) *service.Leg {
	k := legKey{from, to, p}
	l.mu.Lock()
	v, ok := l.kept[k]
	l.mu.Unlock()
	if ok {
		return v
	}
	path, err := l.model.Path(from, to, p)
	if err == nil {
		coords := make([][]float64, len(path.Points))
		for i, pt := range path.Points {
			coords[i] = []float64{pt[1], pt[0]}
		}
		v = &service.Leg{Polyline: string(polyline.EncodeCoords(coords)), Metres: round1(path.Metres), Seconds: round1(path.Duration.Seconds())}
	}
	l.mu.Lock()
	if len(l.kept) >= maxLegs {
		clear(l.kept)
	}
	l.kept[k] = v
	l.mu.Unlock()
	return v
}

func round1(v float64) float64 {
	return float64(int64(v*10+0.5)) / 10
}

// withLegs returns a copy of the route whose stops carry their legs, the first from the courier's position (or,
// without one, the first stop has none). A stop at the same place as the one before it (several orders of one
// store) has an empty leg.
func (l *legs) withLegs(rt *service.Route, c *service.Courier) *service.Route {
	if l == nil || c == nil || len(rt.Stops) == 0 {
		return rt
	}
	profile, err := geo.ParseProfile(c.Vehicle)
	if err != nil {
		return rt
	}
	out := *rt
	out.Stops = make([]service.Stop, len(rt.Stops))
	copy(out.Stops, rt.Stops)
	from := c.Location
	for i := range out.Stops {
		to := out.Stops[i].Location
		if from != nil {
			out.Stops[i].Leg = l.leg(from.Point(), to.Point(), profile)
		}
		from = &out.Stops[i].Location
	}
	return &out
}

// CourierRoute is the courier's current route as the API and the stream show it: with a road map, each stop
// carries its leg (LegView). The second result is false for an unknown courier.
func (d *Daemon) CourierRoute(courierID string) (*service.Route, bool) {
	v := d.View()
	rt, ok := v.Route(courierID)
	if !ok {
		return nil, false
	}
	c, _ := v.Courier(courierID)
	return d.legs.withLegs(rt, c), true
}

// OrderWithLeg returns the order with, on a road map and once its courier's next stop is its drop-off, the leg
// the courier rides to the customer (ETA.Leg). Earlier legs pass other customers' doors, so they are not shown to
// the order's service.
func (d *Daemon) OrderWithLeg(o *service.Order) *service.Order {
	if d.legs == nil || o.CourierID == "" || o.ETA == nil || o.Final() {
		return o
	}
	v := d.View()
	rt, ok := v.Route(o.CourierID)
	if !ok || len(rt.Stops) == 0 || rt.Stops[0].OrderID != o.ID || rt.Stops[0].Kind != "dropoff" {
		return o
	}
	c, ok := v.Courier(o.CourierID)
	if !ok || c.Location == nil {
		return o
	}
	profile, err := geo.ParseProfile(c.Vehicle)
	if err != nil {
		return o
	}
	cp := *o
	eta := *o.ETA
	eta.Leg = d.legs.leg(c.Location.Point(), rt.Stops[0].Location.Point(), profile)
	cp.ETA = &eta
	return &cp
}

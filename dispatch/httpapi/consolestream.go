package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// The console's reads: GET /v1/console/snapshot is the whole city as the console draws it, and GET
// /v1/console/stream sends the same snapshot first, then only what changed, at most every consoleInterval. Both
// are made from the daemon's published View, never through its loop, so a console never slows dispatch.

// consoleInterval is the shortest time between two changes sent on a console stream: a busy city changes after
// every position report, and a person cannot follow faster.
const consoleInterval = 500 * time.Millisecond

// consoleRefresh is how often a stream recomputes the figures of an unchanged view: "late now" and "the last hour"
// move with the clock alone.
const consoleRefresh = 5 * time.Second

// Courier states as the console draws them: the daemon's idle, offline and awaiting_location, and a busy courier
// split by the kind of its next stop.
const (
	consoleToStore    = "to_store"
	consoleToCustomer = "to_customer"
)

// consoleSnapshot is GET /v1/console/snapshot and the first event of the stream.
type consoleSnapshot struct {
	// Seq is the journal record the snapshot was made after; At the daemon's clock then.
	Seq      uint64           `json:"seq"`
	At       time.Time        `json:"at"`
	Map      consoleMapInfo   `json:"map"`
	Figures  consoleFigures   `json:"figures"`
	Stores   []consoleStore   `json:"stores"`
	Couriers []consoleCourier `json:"couriers"`
	// Routes are the routes of the couriers on shift that have one, apart from the couriers: a courier moves at
	// every position report, its route changes only when the dispatcher changes it.
	Routes []consoleCourierRoute `json:"routes"`
	Orders []consoleOrder        `json:"orders"`
}

// consoleMapInfo says whether a road map is loaded (the base layer is drawn from it) and where the city lies.
type consoleMapInfo struct {
	Roads bool `json:"roads"`
	// Bounds is [south, west, north, east] of the stores, couriers and open orders' drop-offs (absent when there
	// are none); Extent is that of the road map (absent without one).
	Bounds *[4]float64 `json:"bounds,omitempty"`
	Extent *[4]float64 `json:"extent,omitempty"`
}

// consoleFigures are the headline figures.
type consoleFigures struct {
	// OrdersLastHour counts the orders created in the last hour; DeliveredLastHour those delivered in it, and
	// OnTimeShare the share of those delivered by their promise (absent with none delivered).
	OrdersLastHour    int      `json:"orders_last_hour"`
	DeliveredLastHour int      `json:"delivered_last_hour"`
	OnTimeShare       *float64 `json:"on_time_share,omitempty"`
	// OpenOrders counts the orders not finished; LateNow those of them that are late (see OrderView.LateAt).
	OpenOrders int `json:"open_orders"`
	LateNow    int `json:"late_now"`
	// CouriersOnline counts the couriers on shift; CouriersBusy those with a route.
	CouriersOnline int `json:"couriers_online"`
	CouriersBusy   int `json:"couriers_busy"`
	// LastRoundMS is how long the last dispatch round took, in milliseconds (absent before the first).
	LastRoundMS *float64 `json:"last_round_ms,omitempty"`
}

type consoleStore struct {
	ID       string           `json:"id"`
	Name     string           `json:"name,omitempty"`
	Location service.Location `json:"location"`
	Open     bool             `json:"open"`
	// Queue is how many of its orders the store is working on (active_orders); Waiting how many of them no courier
	// has yet.
	Queue   int `json:"queue"`
	Waiting int `json:"waiting"`
}

type consoleCourier struct {
	ID       string            `json:"id"`
	Name     string            `json:"name,omitempty"`
	Vehicle  string            `json:"vehicle"`
	Status   string            `json:"status"`
	Location *service.Location `json:"location,omitempty"`
	Load     int               `json:"load"`
	Capacity int               `json:"capacity"`
	// RouteVersion is the version of the courier's route in Routes (0: none).
	RouteVersion uint64 `json:"route_version,omitempty"`
}

// consoleCourierRoute is a courier's route as the console has it. It is comparable (see encoded): the route is
// kept, by version, by consoleRoutes.
type consoleCourierRoute struct {
	CourierID string        `json:"courier_id"`
	Route     *consoleRoute `json:"route"`
}

// consoleRoute is a courier's planned stops and, with a road map, the roads between them.
type consoleRoute struct {
	Version uint64 `json:"version"`
	// Stops are the places the courier goes to, in order, as [lat, lon].
	Stops [][2]float64 `json:"stops"`
	// Orders are the order of each stop.
	Orders []string `json:"orders"`
	// Legs are the roads to each stop, encoded polylines at precision 5 (see service.Leg), the first from where
	// the courier was when the route was planned; absent without a road map.
	Legs []string `json:"legs,omitempty"`
}

type consoleOrder struct {
	ID         string            `json:"id"`
	Status     string            `json:"status"`
	StoreID    string            `json:"store_id"`
	CourierID  string            `json:"courier_id,omitempty"`
	Fulfilment string            `json:"fulfilment"`
	Dropoff    *service.Location `json:"dropoff,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	DeliverBy  time.Time         `json:"deliver_by"`
	PickupETA  *time.Time        `json:"pickup_eta,omitempty"`
	DropoffETA *time.Time        `json:"dropoff_eta,omitempty"`
	Late       bool              `json:"late"`
	// Reason is why a pending order waits (the dispatcher's last reason).
	Reason string `json:"reason,omitempty"`
}

// consoleDelta is an event of the stream after the first: the figures, and what changed since the last event.
type consoleDelta struct {
	Seq      uint64            `json:"seq"`
	At       time.Time         `json:"at"`
	Figures  consoleFigures    `json:"figures"`
	Stores   []json.RawMessage `json:"stores,omitempty"`
	Couriers []json.RawMessage `json:"couriers,omitempty"`
	Routes   []json.RawMessage `json:"routes,omitempty"`
	Orders   []json.RawMessage `json:"orders,omitempty"`
	// Removed lists the ids of what is gone: couriers and stores deleted, routes ended (by courier), orders
	// finished.
	Removed consoleRemoved `json:"removed"`
}

type consoleRemoved struct {
	Stores   []string `json:"stores,omitempty"`
	Couriers []string `json:"couriers,omitempty"`
	Routes   []string `json:"routes,omitempty"`
	Orders   []string `json:"orders,omitempty"`
}

// consoleRoutes keeps the drawn routes of couriers by route version: drawing a route on the road map costs a path
// search per stop, and a route is drawn again only when the dispatcher changes it, not at every position report.
// Safe for concurrent use.
type consoleRoutes struct {
	mu   sync.Mutex
	kept map[string]*consoleRoute
}

// maxConsoleRoutes bounds the routes kept (one per courier of a large fleet, with room).
const maxConsoleRoutes = 1 << 15

func (c *consoleRoutes) route(d service.Couriers, v service.View, cv *service.Courier) *consoleRoute {
	if cv.RouteStops == 0 {
		return nil
	}
	c.mu.Lock()
	r, ok := c.kept[cv.ID]
	c.mu.Unlock()
	if ok && r.Version == cv.RouteVersion {
		return r
	}
	rt, ok := v.Route(cv.ID)
	if !ok || len(rt.Stops) == 0 {
		return nil
	}
	if rt.Version != cv.RouteVersion {
		return nil // the view is being replaced; the next one has both
	}
	drawn := rt
	if withLegs, ok := d.CourierRoute(cv.ID); ok && withLegs.Version == rt.Version {
		drawn = withLegs
	}
	r = &consoleRoute{Version: rt.Version, Stops: make([][2]float64, len(rt.Stops)), Orders: make([]string, len(rt.Stops))}
	for i, st := range drawn.Stops {
		r.Stops[i] = [2]float64{st.Location.Lat, st.Location.Lon}
		r.Orders[i] = st.OrderID
		if st.Leg != nil {
			if r.Legs == nil {
				r.Legs = make([]string, len(drawn.Stops))
			}
			r.Legs[i] = st.Leg.Polyline
		}
	}
	c.mu.Lock()
	if c.kept == nil || len(c.kept) >= maxConsoleRoutes {
		c.kept = map[string]*consoleRoute{}
	}
	c.kept[cv.ID] = r
	c.mu.Unlock()
	return r
}

// consoleSnapshotOf makes the console's snapshot of a view as of now.
func (s *Server) consoleSnapshotOf(v service.View, now time.Time) *consoleSnapshot {
	snap := &consoleSnapshot{Seq: v.Seq(), At: v.At(), Stores: []consoleStore{}, Couriers: []consoleCourier{}, Routes: []consoleCourierRoute{},
		Orders: []consoleOrder{}}
	f := &snap.Figures
	waiting := map[string]int{}
	hourAgo := now.Add(-time.Hour)
	onTime := 0
	v.EachOrder(func(o *service.Order) bool {
		if !o.CreatedAt.Before(hourAgo) {
			f.OrdersLastHour++
		}
		if o.DeliveredAt != nil && !o.DeliveredAt.Before(hourAgo) {
			f.DeliveredLastHour++
			if !o.DeliveredAt.After(o.DeliverBy) {
				onTime++
			}
		}
		if o.Final() {
			return true
		}
		late := o.LateAt(now).Late
		f.OpenOrders++
		if late {
			f.LateNow++
		}
		if o.Status == "pending" {
			waiting[o.StoreID]++
		}
		co := consoleOrder{ID: o.ID, Status: o.Status, StoreID: o.StoreID, CourierID: o.CourierID, Fulfilment: o.Fulfilment,
			Dropoff: o.Dropoff, CreatedAt: o.CreatedAt, DeliverBy: o.DeliverBy, Late: late, Reason: o.WaitingReason}
		if o.ETA != nil {
			co.PickupETA, co.DropoffETA = o.ETA.PickupAt, o.ETA.DropoffAt
		}
		snap.Orders = append(snap.Orders, co)
		return true
	})
	slices.SortFunc(snap.Orders, func(a, b consoleOrder) int { return strings.Compare(a.ID, b.ID) })
	if f.DeliveredLastHour > 0 {
		share := float64(onTime) / float64(f.DeliveredLastHour)
		f.OnTimeShare = &share
	}
	if s.cfg.Rounds != nil {
		if d, ok := s.cfg.Rounds.Last(); ok {
			ms := millis(d)
			f.LastRoundMS = &ms
		}
	}
	var box *[4]float64
	extend := func(l service.Location) {
		if box == nil {
			box = &[4]float64{l.Lat, l.Lon, l.Lat, l.Lon}
			return
		}
		box[0], box[1] = min(box[0], l.Lat), min(box[1], l.Lon)
		box[2], box[3] = max(box[2], l.Lat), max(box[3], l.Lon)
	}
	for _, st := range v.Stores() {
		snap.Stores = append(snap.Stores, consoleStore{ID: st.ID, Name: st.Name, Location: st.Location,
			Open: s.hours.Open(st, now), Queue: st.ActiveOrders, Waiting: waiting[st.ID]})
		extend(st.Location)
	}
	for _, c := range v.Couriers("") {
		cc := consoleCourier{ID: c.ID, Name: c.Name, Vehicle: c.Vehicle, Status: c.Status, Location: c.Location, Load: c.Load, Capacity: c.Capacity}
		if c.Status != service.CourierOffline {
			f.CouriersOnline++
		}
		if c.Status == service.CourierBusy {
			f.CouriersBusy++
		}
		var route *consoleRoute
		if c.Status != service.CourierOffline {
			route = s.drawnRoutes.route(s.d, v, c)
		}
		if route != nil {
			cc.RouteVersion = route.Version
			snap.Routes = append(snap.Routes, consoleCourierRoute{CourierID: c.ID, Route: route})
		}
		if c.Status == service.CourierBusy && route != nil {
			cc.Status = consoleToCustomer
			if rt, ok := v.Route(c.ID); ok && len(rt.Stops) > 0 && rt.Stops[0].Kind == "pickup" {
				cc.Status = consoleToStore
			}
		}
		if c.Location != nil {
			extend(*c.Location)
		}
		snap.Couriers = append(snap.Couriers, cc)
	}
	for _, o := range snap.Orders {
		if o.Dropoff != nil {
			extend(*o.Dropoff)
		}
	}
	snap.Map.Bounds = box
	if s.roadMap != nil {
		snap.Map.Roads = true
		b := s.roadMap.Extent()
		snap.Map.Extent = &[4]float64{b.Min[1], b.Min[0], b.Max[1], b.Max[0]}
	}
	return snap
}

func (s *Server) consoleSnapshot(w http.ResponseWriter, _ *http.Request, _ service.Principal) error {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.consoleSnapshotOf(s.d.View(), s.cfg.Now()))
	return nil
}

// consoleFrame is the console's picture of one view as of one moment: the snapshot and each object's JSON. It is
// made once and shared by every stream (consoleFrames), so that more consoles do not mean more encoding.
type consoleFrame struct {
	view  service.View
	built time.Time
	snap  *consoleSnapshot
	// Each object's JSON by id; an object that did not change since the frame before keeps the same bytes.
	stores   map[string]encoded[consoleStore]
	couriers map[string]encoded[consoleCourier]
	routes   map[string]encoded[consoleCourierRoute]
	orders   map[string]encoded[consoleOrder]
}

// encoded is an object of the console and its JSON. The objects are comparable: their pointers point into the
// daemon's immutable views (a changed order, courier or position is a new pointer) and drawn routes are kept by
// version, so an equal object has the same JSON.
type encoded[T comparable] struct {
	item T
	json []byte
}

// encodeAll encodes items by id, reusing the JSON of prev for the objects that are equal to what it was made from.
func encodeAll[T comparable](items []T, id func(*T) string, prev map[string]encoded[T]) map[string]encoded[T] {
	out := make(map[string]encoded[T], len(items))
	for i := range items {
		k := id(&items[i])
		if e, ok := prev[k]; ok && e.item == items[i] {
			out[k] = e
			continue
		}
		b, _ := json.Marshal(&items[i])
		out[k] = encoded[T]{items[i], b}
	}
	return out
}

// consoleFrames keeps the latest frame. A stream asks for the frame of the current view; the frame is made again
// when the view changed, or when it is older than consoleRefresh (the figures move with the clock).
type consoleFrames struct {
	mu   sync.Mutex
	last *consoleFrame
}

func (s *Server) consoleFrame(v service.View) *consoleFrame {
	f := &s.frames
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.last; l != nil && l.view == v && time.Since(l.built) < consoleRefresh {
		return l
	}
	f.last = makeFrame(s.consoleSnapshotOf(v, s.cfg.Now()), f.last)
	f.last.view, f.last.built = v, time.Now()
	return f.last
}

// makeFrame encodes a snapshot's objects, reusing the JSON of the frame before (nil: none) for those unchanged.
func makeFrame(snap *consoleSnapshot, prev *consoleFrame) *consoleFrame {
	if prev == nil {
		prev = &consoleFrame{}
	}
	return &consoleFrame{snap: snap,
		stores:   encodeAll(snap.Stores, func(x *consoleStore) string { return x.ID }, prev.stores),
		couriers: encodeAll(snap.Couriers, func(x *consoleCourier) string { return x.ID }, prev.couriers),
		routes:   encodeAll(snap.Routes, func(x *consoleCourierRoute) string { return x.CourierID }, prev.routes),
		orders:   encodeAll(snap.Orders, func(x *consoleOrder) string { return x.ID }, prev.orders)}
}

// consoleState is what a stream last sent of each object, as JSON, to find what changed.
type consoleState struct {
	stores, couriers, routes, orders map[string][]byte
}

func newConsoleState() *consoleState {
	return &consoleState{stores: map[string][]byte{}, couriers: map[string][]byte{}, routes: map[string][]byte{}, orders: map[string][]byte{}}
}

// diffItems compares the objects of a kind with what was sent and returns the changed ones as JSON (by id) and
// the ids gone; sent is updated.
func diffItems[T comparable](items map[string]encoded[T], sent map[string][]byte) (changed []json.RawMessage, gone []string) {
	ids := make([]string, 0, len(items))
	for k, e := range items {
		if old, ok := sent[k]; ok && bytes.Equal(old, e.json) {
			continue
		}
		ids = append(ids, k)
	}
	slices.Sort(ids)
	for _, k := range ids {
		b := items[k].json
		sent[k] = b
		changed = append(changed, b)
	}
	for k := range sent {
		if _, ok := items[k]; !ok {
			gone = append(gone, k)
			delete(sent, k)
		}
	}
	slices.Sort(gone)
	return changed, gone
}

// delta returns what changed from the state sent to the frame, and takes the frame as sent.
func (st *consoleState) delta(f *consoleFrame) *consoleDelta {
	d := &consoleDelta{Seq: f.snap.Seq, At: f.snap.At, Figures: f.snap.Figures}
	d.Stores, d.Removed.Stores = diffItems(f.stores, st.stores)
	d.Couriers, d.Removed.Couriers = diffItems(f.couriers, st.couriers)
	d.Routes, d.Removed.Routes = diffItems(f.routes, st.routes)
	d.Orders, d.Removed.Orders = diffItems(f.orders, st.orders)
	return d
}

func (d *consoleDelta) empty() bool {
	return len(d.Stores)+len(d.Couriers)+len(d.Routes)+len(d.Orders)+
		len(d.Removed.Stores)+len(d.Removed.Couriers)+len(d.Removed.Routes)+len(d.Removed.Orders) == 0
}

// consoleStream is the console's server-sent event stream. The first event ("snapshot") is the whole snapshot;
// each later one ("delta") holds the figures and only the stores, couriers and orders that changed or went, at
// most one every consoleInterval and only when something did change. Event ids are the snapshot's seq. A
// reconnecting client (with Last-Event-ID or not) starts again from a fresh snapshot: the stream keeps no
// history, and a snapshot is what the client would rebuild anyway.
func (s *Server) consoleStream(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	closed, err := s.limits.openStream(p)
	if err != nil {
		return err
	}
	defer closed()
	write := startSSE(w)
	v := s.d.View()
	frame := s.consoleFrame(v)
	snap := frame.snap
	st := newConsoleState()
	st.delta(frame) // takes the snapshot as sent
	data, _ := json.Marshal(snap)
	if !write(fmt.Appendf(nil, "id: %d\nevent: snapshot\ndata: %s\n\n", snap.Seq, data)) {
		return nil
	}
	tick := time.NewTicker(consoleInterval)
	defer tick.Stop()
	lastWrite, lastBuilt := time.Now(), time.Now()
	lastFigures := snap.Figures
	heartbeat := func() bool {
		if time.Since(lastWrite) < s.cfg.Heartbeat {
			return true
		}
		lastWrite = time.Now()
		return write([]byte(": heartbeat\n\n"))
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.d.StreamsDone():
			return nil
		case <-tick.C:
		}
		nv := s.d.View()
		if nv == v && time.Since(lastBuilt) < consoleRefresh {
			if !heartbeat() {
				return nil
			}
			continue
		}
		v, lastBuilt = nv, time.Now()
		frame = s.consoleFrame(v)
		d := st.delta(frame)
		if d.empty() && frame.snap.Figures.equal(lastFigures) {
			if !heartbeat() {
				return nil
			}
			continue
		}
		lastFigures = frame.snap.Figures
		data, _ := json.Marshal(d)
		if !write(fmt.Appendf(nil, "id: %d\nevent: delta\ndata: %s\n\n", d.Seq, data)) {
			return nil
		}
		lastWrite = time.Now()
	}
}

func (f consoleFigures) equal(g consoleFigures) bool {
	a, _ := json.Marshal(f)
	b, _ := json.Marshal(g)
	return bytes.Equal(a, b)
}

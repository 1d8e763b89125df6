package sim

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Options says how to run a scenario.
type Options struct {
	// Policy is the dispatch policy the engine runs.
	Policy dispatch.Policy
	// Tune, when set, adjusts the engine configuration after the scenario's (for comparing parameter settings).
	// It may not change the scenario's service times or rules: the simulated world keeps them.
	Tune func(*dispatch.Config)
	// SampleEvery is the interval of the time series (orders waiting, couriers busy). Default 5 min.
	SampleEvery time.Duration
	// Progress, when set, is called now and then from Run's goroutine with the share of the day simulated (0..1).
	Progress func(done float64)
	// Check, when set, is called after every event of the run with a view of its state; an error stops the run
	// and is returned. It is for tests and invariant checks.
	Check func(v *View) error
}

// Run simulates the scenario under the options and returns what happened. It is deterministic: the same scenario
// and options give the same Result. The engine is created fresh for the run and driven only through Apply.
func Run(sc *Scenario, opt Options) (*Result, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	cfg := sc.Config
	cfg.Policy = opt.Policy
	if opt.Tune != nil {
		opt.Tune(&cfg)
		if cfg.PickupService != sc.Config.PickupService || cfg.DropoffService != sc.Config.DropoffService ||
			cfg.Rules != sc.Config.Rules {
			return nil, errors.New("sim: a policy tuning may not change service times or rules")
		}
	}
	if opt.SampleEvery <= 0 {
		opt.SampleEvery = 5 * time.Minute
	}
	eng, err := dispatch.New(cfg, sc.Space, sc.Travel)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s := &simulation{sc: sc, opt: opt, eng: eng, cfg: cfg}
	s.init()
	if sc.Fulfil != nil {
		if err := s.initFulfil(); err != nil {
			return nil, err
		}
	}
	for _, st := range sc.Stores {
		if err := s.apply(dispatch.StoreUpserted{Store: st}); err != nil {
			return nil, err
		}
	}
	if err := s.loop(); err != nil {
		return nil, err
	}
	return s.result(), nil
}

// Event kinds of the simulation's queue. At equal times they run in this order: a courier finishing a hand-over at
// the last minute of its shift does so before it goes off shift, and a dispatch round sees every order placed and
// every courier that came on at that moment.
type kind uint8

const (
	evCourier kind = iota // a courier's next step (arrival, hand-over, departure)
	evShiftOn
	evRestock // a delivery to a store, before the orders of the same moment
	evOrder
	evCollected // a customer collecting an order in store
	evClosing   // a store closing with an order of a courier's not picked up
	evShiftOff
	evSample
	evTick
)

type event struct {
	at   int64 // ns since the Unix epoch
	kind kind
	seq  uint64 // insertion order: the last tie-break, so the queue order is total
	idx  int    // courier, shift or order index
	// token invalidates a courier step that a route change made stale.
	token uint64
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	a, b := &q[i], &q[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simulation struct {
	sc  *Scenario
	opt Options
	eng *dispatch.Engine
	cfg dispatch.Config

	q   queue
	seq uint64
	now int64

	couriers  []*courier
	courierBy map[string]*courier
	orders    []*orderTrack
	orderBy   map[string]*orderTrack

	// lastWork is when the last order is placed or the last shift ends: ticks continue until then, and after it
	// while any route still has stops.
	lastWork int64
	pickups  []Pickup
	samples  []Sample
	rounds   int
	waiting  int // placed, not yet picked up (nor cancelled)
	busy     int // couriers with a non-empty route
	online   int

	// With fulfilment (Scenario.Fulfil).
	net        *fulfil.Network
	stores     []*storeTrack
	storeIdx   map[string]int
	opening    time.Time
	stockOuts  []StockOut
	restocks   int
	collecting int // collect orders accepted, not yet collected
	overnight  int // overnight orders accepted, not yet picked up or collected
	// overnightLeft counts the overnight orders of couriers [0] and of collection [1] not yet handed over (in the
	// backlog, or cancelled); overnightExit is when one of each was last handed over.
	overnightLeft [2]int
	overnightExit [2]int64
}

func ns(t time.Time) int64 { return t.UnixNano() }

func (s *simulation) push(at int64, k kind, idx int, token uint64) {
	s.seq++
	heap.Push(&s.q, event{at: at, kind: k, seq: s.seq, idx: idx, token: token})
}

func (s *simulation) init() {
	sc := s.sc
	s.courierBy = make(map[string]*courier, len(sc.Couriers))
	for i := range sc.Couriers {
		sh := &sc.Couriers[i]
		c := &courier{sim: s, idx: i, shift: sh, pos: sh.Location, place: Place{Kind: PlaceStart}}
		s.couriers = append(s.couriers, c)
		s.courierBy[sh.Courier.ID] = c
		s.push(ns(sh.On), evShiftOn, i, 0)
		s.push(ns(sh.Off), evShiftOff, i, 0)
		s.lastWork = max(s.lastWork, ns(sh.Off))
	}
	s.orderBy = make(map[string]*orderTrack, len(sc.Orders))
	for i := range sc.Orders {
		o := &orderTrack{spec: sc.Orders[i], bundle: -1, idx: i}
		s.orders = append(s.orders, o)
		s.orderBy[o.spec.ID] = o
		s.push(ns(o.spec.Created), evOrder, i, 0)
		s.lastWork = max(s.lastWork, ns(o.spec.Created))
	}
	start := ns(sc.Start)
	s.now = start
	s.push(start, evTick, 0, 0)
	s.push(start, evSample, 0, 0)
}

// apply feeds one event to the engine and plays out its effects in the simulated world.
func (s *simulation) apply(ev dispatch.Event) error {
	fx, err := s.eng.Apply(time.Unix(0, s.now).UTC(), ev)
	if err != nil {
		return fmt.Errorf("sim: %s at %s: %w", ev.EventName(), s.clock(s.now), err)
	}
	for _, f := range fx {
		switch f := f.(type) {
		case dispatch.RouteChanged:
			c := s.courierBy[f.Route.CourierID]
			c.setRoute(f.Route)
		case dispatch.OrderAssigned:
			o := s.orderBy[f.OrderID]
			if o.assigned == 0 {
				o.assigned = s.now
			}
			o.lastAssigned = s.now
			if f.Previous != "" {
				o.reassigned++
			}
		case dispatch.OrderStatusChanged:
			o := s.orderBy[f.OrderID]
			switch f.Status {
			case dispatch.StatusCancelled, dispatch.StatusFailed:
				o.status = f.Status
				s.waiting--
				s.finish(o, false)
			}
		}
	}
	return nil
}

func (s *simulation) clock(t int64) string {
	d := time.Duration(t - ns(s.sc.Start))
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

func (s *simulation) loop() error {
	start, end := ns(s.sc.Start), s.lastWork
	tick := int64(s.sc.TickEvery)
	nextProgress := 0.0
	for s.q.Len() > 0 {
		ev := heap.Pop(&s.q).(event)
		s.now = ev.at
		if s.opt.Progress != nil && end > start {
			if done := float64(s.now-start) / float64(end-start); done >= nextProgress {
				s.opt.Progress(min(done, 1))
				nextProgress = done + 0.01
			}
		}
		var err error
		switch ev.kind {
		case evCourier:
			c := s.couriers[ev.idx]
			if ev.token == c.token {
				err = c.step()
			}
		case evShiftOn:
			err = s.shiftOn(s.couriers[ev.idx])
		case evOrder:
			o := s.orders[ev.idx]
			if s.net != nil {
				err = s.placeFulfil(o)
				break
			}
			s.waiting++
			err = s.apply(dispatch.OrderPlaced{Order: o.spec})
		case evCollected:
			s.collected(s.orders[ev.idx])
		case evClosing:
			err = s.closing(s.orders[ev.idx])
		case evRestock:
			err = s.restock(&s.sc.Fulfil.Restocks[ev.idx])
		case evShiftOff:
			c := s.couriers[ev.idx]
			c.online = false
			s.online--
			err = s.apply(dispatch.CourierOffline{CourierID: c.shift.Courier.ID})
			if c.phase == phaseIdle && len(c.route.Stops) == 0 {
				c.finishedAt = s.now
			}
		case evSample:
			s.sample()
			// With fulfilment, orders no courier will take wait for their store to close: the samples follow the
			// backlog down to it.
			if s.more() || (s.net != nil && s.waiting+s.collecting > 0 && s.q.Len() > 0) {
				s.push(s.now+int64(s.opt.SampleEvery), evSample, 0, 0)
			}
		case evTick:
			err = s.tick()
			if s.more() {
				s.push(s.now+tick, evTick, 0, 0)
			}
		}
		if err == nil && s.opt.Check != nil {
			err = s.opt.Check(&View{s: s})
		}
		if err != nil {
			return err
		}
	}
	s.sample()
	return nil
}

// more reports whether the day goes on: work is still to come, a courier still has stops to serve, or a customer
// has still to collect an order.
func (s *simulation) more() bool {
	return s.now < s.lastWork || s.busy > 0 || s.collecting > 0
}

func (s *simulation) shiftOn(c *courier) error {
	sh := c.shift
	if err := s.apply(dispatch.CourierRegistered{Courier: sh.Courier}); err != nil {
		return err
	}
	c.online = true
	c.onAt = s.now
	s.online++
	return s.apply(dispatch.CourierOnline{CourierID: sh.Courier.ID, Location: sh.Location, ShiftEnd: sh.Off})
}

// tick reports where moving couriers are (as their phones would) and runs a dispatch round. Under the no-diversion
// rule a route only ever grows at its end, so the engine's own reckoning from the last stop is exact and the
// reports are skipped.
func (s *simulation) tick() error {
	if !s.cfg.Rules.NoDiversion {
		for _, c := range s.couriers {
			if c.online && c.phase == phaseTravelling && s.now > c.departAt {
				if err := s.apply(dispatch.CourierMoved{CourierID: c.shift.Courier.ID, Location: c.position(s.now)}); err != nil {
					return err
				}
			}
		}
	}
	s.rounds++
	return s.apply(dispatch.DispatchTick{})
}

func (s *simulation) sample() {
	sm := Sample{
		At:      time.Unix(0, s.now).UTC(),
		Waiting: s.waiting,
		Busy:    s.busy,
		Online:  s.online,
	}
	if s.net != nil {
		sm.Collecting, sm.Overnight, sm.Preparing = s.collecting, s.overnight, s.preparing()
		for _, o := range s.orders {
			if o.live && !o.setup.Collect && o.pickedUp == 0 && ns(o.spec.DeliverBy) < s.now {
				sm.Overdue++
			}
		}
	}
	s.samples = append(s.samples, sm)
}

// lerp interpolates along a straight line; good enough for a location report between two stops.
func lerp(a, b orb.Point, f float64) orb.Point {
	f = min(max(f, 0), 1)
	return orb.Point{a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f}
}

func (s *simulation) result() *Result {
	r := &Result{
		Scenario: s.sc.Name,
		Policy:   s.cfg.Policy.String(),
		Start:    s.sc.Start,
		Target:   s.sc.Target,
		Rounds:   s.rounds,
		Samples:  s.samples,
		Pickups:  s.pickups,
	}
	if s.net != nil {
		r.Fulfil = s.fulfilResult()
	}
	for _, o := range s.orders {
		rec := OrderRecord{
			ID: o.spec.ID, StoreID: o.spec.StoreID, CourierID: o.courier,
			Placed: o.spec.Created, Ready: o.spec.Ready, DeliverBy: o.spec.DeliverBy,
			Status: o.status, Bundle: o.bundle, Reassigned: o.reassigned,
		}
		if o.assigned != 0 {
			rec.Assigned = time.Unix(0, o.assigned).UTC()
			rec.LastAssigned = time.Unix(0, o.lastAssigned).UTC()
		}
		if o.pickedUp != 0 {
			rec.PickedUp = time.Unix(0, o.pickedUp).UTC()
		}
		if o.delivered != 0 {
			rec.Delivered = time.Unix(0, o.delivered).UTC()
		}
		if s.net != nil {
			s.fulfilRecord(o, &rec)
		}
		r.Orders = append(r.Orders, rec)
	}
	for _, c := range s.couriers {
		rec := CourierRecord{
			ID: c.shift.Courier.ID, On: c.shift.On, Off: c.shift.Off, Vehicle: c.shift.Courier.Vehicle.String(),
			Delivered: c.delivered, Pickups: c.visits, Driving: time.Duration(c.driving),
			Service: time.Duration(c.service), Routed: time.Duration(c.routed), Metres: c.metres,
			Moves: c.moves,
		}
		if c.finishedAt != 0 {
			rec.Finished = time.Unix(0, c.finishedAt).UTC()
		}
		r.Couriers = append(r.Couriers, rec)
	}
	r.Geography = s.geography(r)
	return r
}

// mapTracks is how many couriers' days the report's map draws: the busiest, so that the map shows work, not
// noise.
const mapTracks = 8

// geography is the map of the day: every store and drop-off, and the busiest couriers' tracks, on the roads when
// the travel model knows them (geo.PathModel).
func (s *simulation) geography(r *Result) Geography {
	pm, roads := s.sc.Travel.(geo.PathModel)
	g := Geography{Geographic: s.sc.Space == geo.Geographic, Roads: roads}
	for _, st := range s.sc.Stores {
		g.Stores = append(g.Stores, st.Location)
	}
	for _, o := range s.sc.Orders {
		if (o.Dropoff != orb.Point{}) {
			g.Dropoffs = append(g.Dropoffs, o.Dropoff)
		}
	}
	busiest := make([]int, len(r.Couriers))
	for i := range busiest {
		busiest[i] = i
	}
	slices.SortStableFunc(busiest, func(a, b int) int { return cmp.Compare(r.Couriers[b].Delivered, r.Couriers[a].Delivered) })
	for _, i := range busiest[:min(mapTracks, len(busiest))] {
		c := &r.Couriers[i]
		if c.Delivered == 0 {
			break
		}
		vehicle, _ := geo.ParseProfile(c.Vehicle)
		tr := Track{CourierID: c.ID}
		for _, m := range c.Moves {
			leg := orb.LineString{m.FromAt, m.ToAt}
			if roads {
				if p, err := pm.Path(m.FromAt, m.ToAt, vehicle); err == nil && len(p.Points) > 1 {
					leg = p.Points
				}
			}
			tr.Legs = append(tr.Legs, leg)
		}
		g.Tracks = append(g.Tracks, tr)
	}
	return g
}

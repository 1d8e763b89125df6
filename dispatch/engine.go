package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/internal/assign"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Engine is the deterministic dispatch core. All state changes go through Apply; the same events applied with the
// same times to engines made with the same configuration give the same effects, bit for bit.
//
// An Engine is owned by one goroutine: Apply and the read methods must not be called concurrently. (A round may
// use Config.Workers goroutines internally to price bundles; they start and finish inside Apply.)
type Engine struct {
	cfg    Config
	space  geo.Space
	travel geo.TravelModel
	plan   planner
	// yield, when set (Planner.Yield), is called between small pieces of a round's work.
	yield func()

	now int64

	stores       map[string]*storeState
	storeList    []*storeState // by index; nil once removed
	storeIndex   *geo.Index[int32]
	couriers     map[string]*courierState
	courierList  []*courierState
	courierIndex *courierIndex // online couriers only, by region

	orders map[string]*orderState
	// open holds the orders that are not final, in placement order (compacted lazily).
	open     []*orderState
	openDead int
	// finished holds final orders in the order they finished, until FinishedRetention has passed.
	finished []*orderState
	seq      uint64

	skillBits map[string]uint64

	fx        []Effect
	round     roundState
	lastStats Stats
	solver    assign.Solver
	// rec collects the decision of the round planRound runs (nil otherwise).
	rec *Decision
}

// New makes an engine. space says how points are read (geo.Geographic for lon/lat, geo.Planar for benchmark
// coordinates in metres); travel gives travel times in that space.
func New(cfg Config, space geo.Space, travel geo.TravelModel) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if space == nil || travel == nil {
		return nil, fmt.Errorf("dispatch: New needs a space and a travel model")
	}
	e := &Engine{
		cfg:          cfg,
		space:        space,
		travel:       travel,
		stores:       make(map[string]*storeState),
		storeIndex:   geo.NewIndex[int32](space),
		couriers:     make(map[string]*courierState),
		courierIndex: newCourierIndex(space),
		orders:       make(map[string]*orderState),
		skillBits:    make(map[string]uint64),
	}
	e.plan = newPlanner(&e.cfg, travel)
	return e, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Now returns the time of the last applied event.
func (e *Engine) Now() time.Time { return toTime(e.now) }

// Apply applies one event at time now and returns its effects (a new slice, the caller's to keep). now must not
// be earlier than the previous call's. An event that fails validation returns an *Error and changes nothing.
func (e *Engine) Apply(now time.Time, ev Event) ([]Effect, error) {
	ns := now.UnixNano()
	if now.IsZero() {
		return nil, invalid("now", "now is required")
	}
	if ns < e.now {
		return nil, invalid("now", "time went back: %s is before %s", now.UTC().Format(time.RFC3339Nano), toTime(e.now).Format(time.RFC3339Nano))
	}
	e.now = ns
	e.plan.now = ns
	e.fx = e.fx[:0]
	var err *Error
	switch ev := ev.(type) {
	case StoreUpserted:
		err = e.upsertStore(ev.Store)
	case StoreRemoved:
		err = e.removeStore(ev.StoreID)
	case CourierRegistered:
		err = e.registerCourier(ev.Courier)
	case CourierOnline:
		err = e.courierOnline(ev)
	case CourierOffline:
		err = e.courierOffline(ev.CourierID)
	case CourierMoved:
		err = e.courierMoved(ev)
	case OrderPlaced:
		err = e.placeOrder(ev.Order)
	case OrderCancelled:
		err = e.cancelOrder(ev)
	case CourierAccepted:
		err = e.accept(ev)
	case CourierDeclined:
		err = e.decline(ev)
	case CourierArrived:
		err = e.arrived(ev)
	case OrderPickedUp:
		err = e.pickedUp(ev)
	case OrderDelivered:
		err = e.handedOver(ev.CourierID, ev.OrderID, StatusDelivered, "")
	case OrderFailed:
		err = e.handedOver(ev.CourierID, ev.OrderID, StatusFailed, ev.Reason)
	case DispatchTick:
		// The round plans on a copy and its decision is applied here, as a driver that plans elsewhere would.
		pl := e.Planner()
		d, perr := pl.Plan(now)
		if perr != nil {
			return nil, perr
		}
		// The round's batch answers the re-timing of the routes it made (the same model, the same answers).
		e.round.batch.handed, pl.e.round.batch.last = pl.e.round.batch.last, nil
		e.applyDecision(d)
		e.round.batch.handed = nil
	case nil:
		err = invalid("event", "event is nil")
	default:
		var ok bool
		if err, ok = e.applyOverride(ev); !ok {
			err = invalid("event", "unknown event %T", ev)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(e.fx) == 0 {
		return nil, nil
	}
	return slices.Clone(e.fx), nil
}

func (e *Engine) emit(f Effect) { e.fx = append(e.fx, f) }

// skillMask interns skill names as bits, in order of first appearance (deterministic for a given event log).
func (e *Engine) skillMask(field string, skills []string, intern bool) (uint64, *Error) {
	var m uint64
	for i, s := range skills {
		if s == "" || len(s) > 64 {
			return 0, invalid(fmt.Sprintf("%s[%d]", field, i), "a skill is 1 to 64 bytes")
		}
		b, ok := e.skillBits[s]
		if !ok {
			if !intern {
				// A skill no courier has ever had: no courier can have it now either.
				return 0, nil
			}
			if len(e.skillBits) == 64 {
				return 0, invalid(field, "more than 64 distinct skills are not supported")
			}
			b = 1 << uint(len(e.skillBits))
			e.skillBits[s] = b
		}
		m |= b
	}
	return m, nil
}

func (e *Engine) upsertStore(s Store) *Error {
	if err := checkID("store_id", s.ID); err != nil {
		return err
	}
	if err := checkPoint(e.space, "location", s.Location); err != nil {
		return err
	}
	region, err := regionOf("region", s.Region)
	if err != nil {
		return err
	}
	s.Region = region
	st, ok := e.stores[s.ID]
	if ok && st.open > 0 && st.Region != region {
		// Its open orders belong to the region of their couriers: they cannot move with it.
		return &Error{Code: EConflict, Field: "region", Message: fmt.Sprintf("store %q has %d open orders in region %q; its region can change once they are finished", s.ID, st.open, st.Region)}
	}
	if !ok {
		st = &storeState{Store: s, idx: int32(len(e.storeList))}
		e.stores[s.ID] = st
		e.storeList = append(e.storeList, st)
	} else {
		moved := st.Location != s.Location
		st.Store = s
		if st.open > 0 && moved {
			// A store that moves (its location corrected) moves the pick-ups of its open orders: the routes holding
			// them are re-timed and shown again, a version up, so that their couriers ride to the new place.
			var routes []*courierState
			for _, o := range e.open {
				if o.store != st {
					continue
				}
				o.storeLoc = s.Location
				if o.courier != nil && o.status == StatusAssigned && !slices.Contains(routes, o.courier) {
					routes = append(routes, o.courier)
				}
			}
			slices.SortFunc(routes, func(a, b *courierState) int { return cmp.Compare(a.idx, b.idx) })
			for _, c := range routes {
				e.routeChanged(c)
			}
		}
	}
	e.storeIndex.Set(st.idx, s.Location)
	return nil
}

func (e *Engine) removeStore(id string) *Error {
	st, ok := e.stores[id]
	if !ok {
		return notFound("store_id", "store %q not found", id)
	}
	if st.open > 0 {
		return conflict("store %q has %d open orders", id, st.open)
	}
	delete(e.stores, id)
	e.storeList[st.idx] = nil
	e.storeIndex.Remove(st.idx)
	return nil
}

func (e *Engine) registerCourier(spec CourierSpec) *Error {
	if err := checkID("courier_id", spec.ID); err != nil {
		return err
	}
	if spec.Vehicle >= geo.NumProfiles {
		return invalid("vehicle", "unknown vehicle %d", spec.Vehicle)
	}
	if spec.Capacity < 1 || spec.Capacity > 1000 {
		return invalid("capacity", "capacity must be within [1, 1000], got %d", spec.Capacity)
	}
	region, err := regionOf("region", spec.Region)
	if err != nil {
		return err
	}
	spec.Region = region
	if c, ok := e.couriers[spec.ID]; ok && c.spec.Region != region && (c.online || len(c.stops) > 0) {
		// A courier on shift may be offered orders of its region at any round, and its route holds some.
		return &Error{Code: EConflict, Field: "region", Message: fmt.Sprintf("courier %q is on shift or has a route in region %q; its region can change once it is off shift with an empty route", spec.ID, c.spec.Region)}
	}
	mask, err := e.skillMask("skills", spec.Skills, true)
	if err != nil {
		return err
	}
	spec.Skills = slices.Clone(spec.Skills)
	if c, ok := e.couriers[spec.ID]; ok {
		c.spec, c.skills = spec, mask
		return nil
	}
	c := &courierState{spec: spec, idx: int32(len(e.courierList)), skills: mask}
	e.couriers[spec.ID] = c
	e.courierList = append(e.courierList, c)
	return nil
}

func (e *Engine) courier(id string) (*courierState, *Error) {
	if err := checkID("courier_id", id); err != nil {
		return nil, err
	}
	c, ok := e.couriers[id]
	if !ok {
		return nil, notFound("courier_id", "courier %q not found", id)
	}
	return c, nil
}

func (e *Engine) courierOnline(ev CourierOnline) *Error {
	c, err := e.courier(ev.CourierID)
	if err != nil {
		return err
	}
	if err := checkPoint(e.space, "location", ev.Location); err != nil {
		return err
	}
	c.online = true
	c.loc, c.locAt = ev.Location, e.now
	c.shiftEnd = 0
	if !ev.ShiftEnd.IsZero() {
		c.shiftEnd = ev.ShiftEnd.UnixNano()
	}
	if len(c.stops) == 0 {
		c.mode, c.modeAt = modeMoving, e.now
	}
	e.courierIndex.Set(c)
	return nil
}

func (e *Engine) courierOffline(id string) *Error {
	c, err := e.courier(id)
	if err != nil {
		return err
	}
	c.online = false
	e.courierIndex.Remove(c)
	// Orders not yet picked up go back to the pool; orders on board stay until delivered.
	changed := false
	for i := 0; i < len(c.stops); {
		o := c.stops[i].o
		if o.status == StatusAssigned {
			e.unassign(o, UnassignOffline)
			changed = true
			continue // unassign removed the stop at i
		}
		i++
	}
	if changed {
		e.routeChanged(c)
	}
	return nil
}

func (e *Engine) courierMoved(ev CourierMoved) *Error {
	c, err := e.courier(ev.CourierID)
	if err != nil {
		return err
	}
	if err := checkPoint(e.space, "location", ev.Location); err != nil {
		return err
	}
	at := e.now
	if !ev.At.IsZero() && ev.At.UnixNano() < at {
		at = ev.At.UnixNano()
	}
	if at < c.locAt {
		return nil // an older report than the one we have
	}
	c.loc, c.locAt = ev.Location, at
	if c.online {
		e.courierIndex.Set(c)
	}
	return nil
}

func (e *Engine) placeOrder(spec OrderSpec) *Error {
	if err := checkID("id", spec.ID); err != nil {
		return err
	}
	if _, dup := e.orders[spec.ID]; dup {
		return conflict("order %q already exists", spec.ID)
	}
	o, err := e.newOrder(spec)
	if err != nil {
		return err
	}
	e.seq++
	o.seq = e.seq
	e.orders[spec.ID] = o
	e.open = append(e.open, o)
	o.store.open++
	e.setStatus(o, StatusPending, "")
	if o.waiting() {
		e.tellUnplaced(o, UnplacedStorePaused, 0)
	}
	return nil
}

// newOrder validates an order's spec against the current state and makes its state, changing nothing in the
// engine (placement and quotes share it).
func (e *Engine) newOrder(spec OrderSpec) (*orderState, *Error) {
	if err := checkID("store_id", spec.StoreID); err != nil {
		return nil, err
	}
	st, ok := e.stores[spec.StoreID]
	if !ok {
		return nil, notFound("store_id", "store %q not found", spec.StoreID)
	}
	if err := checkPoint(e.space, "dropoff", spec.Dropoff); err != nil {
		return nil, err
	}
	if spec.Created.IsZero() {
		spec.Created = toTime(e.now)
	}
	if spec.Ready.IsZero() {
		spec.Ready = spec.Created
	}
	switch {
	case spec.DeliverBy.IsZero():
		return nil, invalid("deliver_by", "deliver_by is required")
	case !spec.DeliverBy.After(spec.Created):
		return nil, invalid("deliver_by", "deliver_by must be after the order is created")
	case spec.Ready.Before(spec.Created):
		return nil, invalid("ready_at", "ready_at must not be before the order is created")
	case spec.Ready.After(spec.DeliverBy):
		return nil, invalid("ready_at", "ready_at must not be after deliver_by")
	case !spec.PickupBy.IsZero() && spec.PickupBy.Before(spec.Ready):
		return nil, invalid("pickup_by", "pickup_by must not be before ready_at")
	}
	if spec.Size == 0 {
		spec.Size = 1
	}
	if spec.Size < 0 || spec.Size > 1000 {
		return nil, invalid("size", "size must be within [1, 1000], got %d", spec.Size)
	}
	mask, err := e.skillMask("skills", spec.Skills, false)
	if err != nil {
		return nil, err
	}
	if len(spec.Skills) > 0 && mask == 0 {
		mask = unknownSkill
	}
	spec.Skills = slices.Clone(spec.Skills)
	return &orderState{
		spec: spec, store: st, region: st.Region,
		storeLoc: st.Location, dropLoc: spec.Dropoff,
		created: spec.Created.UnixNano(), ready: spec.Ready.UnixNano(), deliverBy: spec.DeliverBy.UnixNano(),
		pickupBy: pickupLimit(spec.PickupBy), size: spec.Size, skills: mask,
	}, nil
}

// unknownSkill marks an order that needs a skill no courier has: no mask of interned skills contains this bit
// unless all 64 are interned, in which case the order is matched against them as usual.
const unknownSkill = uint64(1) << 63

func (e *Engine) order(id string) (*orderState, *Error) {
	if err := checkID("order_id", id); err != nil {
		return nil, err
	}
	o, ok := e.orders[id]
	if !ok {
		return nil, notFound("order_id", "order %q not found", id)
	}
	return o, nil
}

// courierOrder finds an order on a courier's route; another courier's order is "not found", never "forbidden".
func (e *Engine) courierOrder(courierID, orderID string) (*courierState, *orderState, *Error) {
	c, err := e.courier(courierID)
	if err != nil {
		return nil, nil, err
	}
	o, err := e.order(orderID)
	if err != nil {
		return nil, nil, err
	}
	if o.courier != c {
		return nil, nil, notFound("order_id", "order %q not found", orderID)
	}
	return c, o, nil
}

func (e *Engine) cancelOrder(ev OrderCancelled) *Error {
	o, err := e.order(ev.OrderID)
	if err != nil {
		return err
	}
	switch o.status {
	case StatusPending:
	case StatusAssigned:
		c := o.courier
		e.removeStops(c, o)
		e.routeChanged(c)
	default:
		return conflict("order %q is %s and can no longer be cancelled", o.spec.ID, o.status)
	}
	e.finish(o, StatusCancelled, ev.Reason)
	return nil
}

func (e *Engine) accept(ev CourierAccepted) *Error {
	_, o, err := e.courierOrder(ev.CourierID, ev.OrderID)
	if err != nil {
		return err
	}
	if o.status != StatusAssigned && o.status != StatusPickedUp {
		return conflict("order %q is %s", o.spec.ID, o.status)
	}
	o.accepted = true
	return nil
}

func (e *Engine) decline(ev CourierDeclined) *Error {
	c, o, err := e.courierOrder(ev.CourierID, ev.OrderID)
	if err != nil {
		return err
	}
	if o.status != StatusAssigned {
		return conflict("order %q is %s and can no longer be declined", o.spec.ID, o.status)
	}
	o.declined = append(o.declined, c.idx)
	e.unassign(o, UnassignDeclined)
	e.routeChanged(c)
	return nil
}

func (e *Engine) arrived(ev CourierArrived) *Error {
	c, o, err := e.courierOrder(ev.CourierID, ev.OrderID)
	if err != nil {
		return err
	}
	kind := Pickup
	switch o.status {
	case StatusAssigned:
	case StatusPickedUp:
		kind = Dropoff
	default:
		return conflict("order %q is %s", o.spec.ID, o.status)
	}
	i := c.stopIndex(o, kind)
	if i < 0 {
		return &Error{Code: EInternal, Message: fmt.Sprintf("order %q has no %s stop on its courier's route", o.spec.ID, kind)}
	}
	here := c.stops[i].location()
	if i == 0 && c.mode != modeMoving && c.loc == here {
		return nil // already there
	}
	if i != 0 {
		s := c.stops[i]
		copy(c.stops[1:i+1], c.stops[:i])
		c.stops[0] = s
		e.routeChanged(c)
	}
	c.mode, c.modeAt = modeArrived, e.now
	c.loc, c.locAt = here, e.now
	if c.online {
		e.courierIndex.Set(c)
	}
	return nil
}

func (e *Engine) pickedUp(ev OrderPickedUp) *Error {
	c, o, err := e.courierOrder(ev.CourierID, ev.OrderID)
	if err != nil {
		return err
	}
	if o.status != StatusAssigned {
		return conflict("order %q is %s, not assigned", o.spec.ID, o.status)
	}
	i := c.stopIndex(o, Pickup)
	if i < 0 {
		return &Error{Code: EInternal, Message: fmt.Sprintf("order %q has no pickup stop on its courier's route", o.spec.ID)}
	}
	c.stops = slices.Delete(c.stops, i, i+1)
	c.load += o.size
	o.pickedUpAt = e.now
	o.accepted = true
	e.leftStop(c, o.storeLoc, Pickup)
	e.setStatus(o, StatusPickedUp, "")
	e.routeChanged(c)
	return nil
}

// handedOver ends an order at its drop-off: delivered, or failed.
func (e *Engine) handedOver(courierID, orderID string, status OrderStatus, reason string) *Error {
	c, o, err := e.courierOrder(courierID, orderID)
	if err != nil {
		return err
	}
	if o.status != StatusPickedUp {
		return conflict("order %q is %s, not picked up", o.spec.ID, o.status)
	}
	i := c.stopIndex(o, Dropoff)
	if i < 0 {
		return &Error{Code: EInternal, Message: fmt.Sprintf("order %q has no dropoff stop on its courier's route", o.spec.ID)}
	}
	c.stops = slices.Delete(c.stops, i, i+1)
	c.load -= o.size
	if status == StatusDelivered {
		e.leftStop(c, o.dropLoc, Dropoff)
	}
	e.finish(o, status, reason)
	e.routeChanged(c)
	return nil
}

// leftStop updates the courier after a hand-over at loc: it is there now, and either continues the same visit
// (the next stop is of the same kind at the same place) or heads on.
func (e *Engine) leftStop(c *courierState, loc orb.Point, kind StopKind) {
	c.loc, c.locAt = loc, e.now
	if c.online {
		e.courierIndex.Set(c)
	}
	if len(c.stops) > 0 && c.stops[0].kind == kind && c.stops[0].location() == loc {
		c.mode, c.modeAt = modeContinuing, e.now
	} else {
		// It leaves once the second half of the service is spent (MDRP convention: half before, half after).
		c.mode, c.modeAt = modeMoving, e.now+e.plan.halfAfter[kind]
	}
}

// removeStops takes an order's stops off its courier's route.
func (e *Engine) removeStops(c *courierState, o *orderState) {
	first := len(c.stops) > 0 && c.stops[0].o == o
	c.stops = slices.DeleteFunc(c.stops, func(s stop) bool { return s.o == o })
	if first {
		// The courier was heading to (or at) that stop; from here it heads to the new first stop (once done with
		// the service of a hand-over it may still be finishing).
		c.mode, c.modeAt = modeMoving, max(e.now, c.modeAt)
	}
}

// unassign takes an assigned (not picked up) order off its courier's route and returns it to the pool.
func (e *Engine) unassign(o *orderState, why UnassignReason) {
	c := o.courier
	e.removeStops(c, o)
	o.courier = nil
	o.accepted = false
	o.locked = false
	o.unplaced = ""
	e.emit(OrderUnassigned{OrderID: o.spec.ID, CourierID: c.spec.ID, Reason: why})
	if why != UnassignReassigned {
		e.setStatus(o, StatusPending, string(why))
	}
}

// routeChanged bumps a courier's route version, re-times it and emits it.
func (e *Engine) routeChanged(c *courierState) {
	c.version++
	e.retime(c)
	e.emit(RouteChanged{Route: c.route()})
	if e.rec != nil {
		e.rec.recordRoute(c)
	}
}

func (e *Engine) setStatus(o *orderState, s OrderStatus, reason string) {
	o.status = s
	if s != StatusAssigned {
		o.locked = false // a lock holds an assigned order on its courier, and ends with that
	}
	o.timeline = append(o.timeline, StatusChange{Status: s, At: toTime(e.now)})
	cid := ""
	if o.courier != nil {
		cid = o.courier.spec.ID
	}
	if s != StatusAssigned {
		e.emit(OrderStatusChanged{OrderID: o.spec.ID, Status: s, CourierID: cid, At: toTime(e.now), Reason: reason})
	}
}

func (e *Engine) finish(o *orderState, s OrderStatus, reason string) {
	e.setStatus(o, s, reason)
	o.finishedAt = e.now
	o.store.open--
	e.openDead++
	e.finished = append(e.finished, o)
}

package dispatch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// This file turns an engine into a State and back, so that the daemon can checkpoint the engine, restart, Restore
// it and replay only the journal written after the checkpoint, with the same results as a replay from the start.

// StateVersion is the version of the State format that Export writes and the only one Restore reads. Any change
// to what a State means (a field added that Restore needs, a unit or an encoding changed) bumps it.
const StateVersion = 1

// maxStopsHard is the longest route a restored courier may have: Config.MaxRouteStops can never be above it, and
// the planner relies on it (pick-up slots are int8, exact sequencing uses bit masks).
const maxStopsHard = 64

// ErrInvalidState is wrapped by every error that Restore returns for a State it cannot use (an unknown version, a
// dangling reference, a value out of range, an inconsistency between orders and routes). A daemon that gets it can
// fall back to replaying its whole journal. A Config that does not validate is reported as New reports it.
var ErrInvalidState = errors.New("dispatch: invalid state")

// State is a checkpoint of an Engine: everything that decides the results of later Apply calls and of the read
// methods (Order, Courier, Route, LastRound, Now), as plain data that encoding/json writes and reads without loss.
// Engine.Export makes one; Restore makes an engine from one. An engine restored from the State of another, given
// the same Config, space and travel model, returns the same effects and reads as that engine for any sequence of
// later events, bit for bit.
//
// The format is versioned (Version, see StateVersion); Restore rejects any other version.
//
// Times: the fields of an order's spec (Created, Ready, DeliverBy) are the caller's values and are kept as
// time.Time, so their instant and UTC offset survive (not a monotonic clock reading, nor a zone's name). Every
// other time is the engine's own: int64 nanoseconds since the Unix epoch, 0 meaning "none" (exactly the engine's
// internal representation, so nothing is rounded on the way).
//
// Stores and couriers are listed in index order and orders in placement order (by Seq); the lists Open and
// Finished give the engine's work list and retention queue by order id. Only behaviour is captured: working
// memory that each event recomputes before reading it is not (a round's scratch, bundle building's solo trips),
// nor are caches derived from what is here (spatial indexes, skill masks of couriers, counts of open orders per
// store, an order's planning copies of its spec, and its pick-up point, which is its store's location for every
// order still open; nothing reads a finished order's). Finished orders still listed in the engine's work list (it is
// compacted lazily, and nothing reads those entries) are left out of Open, so that two engines that behave alike
// export alike.
type State struct {
	// Version is StateVersion.
	Version int `json:"version"`
	// Now is the engine's clock: the time of the last applied event.
	Now int64 `json:"now"`
	// Seq is the sequence number given to the last order placed (orders are numbered from 1, in placement order).
	Seq uint64 `json:"seq"`
	// Skills are the skill names interned so far, in bit order: Skills[i] is the skill with bit 1<<i. The
	// assignment is part of the state: a new skill gets the next bit, and orders keep the masks they were given.
	Skills []string `json:"skills"`
	// Stores are in index order. A removed store keeps its slot (Removed), since indexes are never reused.
	Stores []SavedStore `json:"stores"`
	// Couriers are in index order (couriers are never removed).
	Couriers []SavedCourier `json:"couriers"`
	// Orders are every order the engine still knows, open or finished, in placement order.
	Orders []SavedOrder `json:"orders"`
	// Open lists the ids of the orders that are not final (pending, assigned, picked up), in placement order.
	Open []string `json:"open"`
	// Finished lists the ids of the final orders still retained, in the order they finished (oldest first);
	// they are forgotten Config.FinishedRetention after FinishedAt.
	Finished []string `json:"finished"`
	// LastRound is what LastRound returns.
	LastRound SavedStats `json:"last_round"`
}

// SavedStore is a store of a State.
type SavedStore struct {
	ID       string    `json:"id,omitempty"`
	Name     string    `json:"name,omitempty"`
	Location orb.Point `json:"location"`
	// Region is the store's region; empty for DefaultRegion (and in states written before regions).
	Region string `json:"region,omitempty"`
	// Removed marks the slot of a removed store; its other fields are then empty (orders that still name the
	// slot are all final, and nothing reads a final order's store).
	Removed bool `json:"removed,omitempty"`
	// Paused: an operator paused dispatch for the store.
	Paused bool `json:"paused,omitempty"`
}

// SavedCourier is a courier of a State: its registration, its live state and its route.
type SavedCourier struct {
	ID       string      `json:"id"`
	Name     string      `json:"name,omitempty"`
	Vehicle  geo.Profile `json:"vehicle"`
	Capacity int         `json:"capacity"`
	// Skills as registered (each one appears in State.Skills). nil and empty are kept apart, as Courier reports
	// them.
	Skills []string `json:"skills"`
	// Region is the courier's region; empty for DefaultRegion (and in states written before regions).
	Region string `json:"region,omitempty"`

	Online bool `json:"online"`
	// Location is the last known position, LocationAt when it held (ns).
	Location   orb.Point `json:"location"`
	LocationAt int64     `json:"location_at"`
	// ShiftEnd (ns) is 0 when unknown.
	ShiftEnd int64 `json:"shift_end,omitempty"`
	// Mode says where the courier stands with respect to its first stop: "moving" (on the way, having set off at
	// ModeAt), "arrived" (there since ModeAt, service not yet spent) or "continuing" (mid-visit there, the last
	// hand-over of the visit at ModeAt).
	Mode   string `json:"mode"`
	ModeAt int64  `json:"mode_at"`
	// Load is the number of units on board.
	Load int `json:"load"`
	// RouteVersion is the version of the courier's current route.
	RouteVersion uint64 `json:"route_version"`
	// Stops is the route, with the planned times last computed.
	Stops []SavedStop `json:"stops"`
}

// SavedStop is a route stop of a State.
type SavedStop struct {
	// Kind is "pickup" or "dropoff".
	Kind    string `json:"kind"`
	OrderID string `json:"order_id"`
	// Planned times (ns): arrival at the place, hand-over, departure.
	Arrive   int64 `json:"arrive"`
	Handover int64 `json:"handover"`
	Depart   int64 `json:"depart"`
}

// SavedOrder is an order of a State: its spec as the engine completed it, and its life so far.
type SavedOrder struct {
	// The spec, after the engine filled in its defaults (Created, Ready, Size).
	ID        string    `json:"id"`
	StoreID   string    `json:"store_id"`
	Dropoff   orb.Point `json:"dropoff"`
	Created   time.Time `json:"created"`
	Ready     time.Time `json:"ready"`
	DeliverBy time.Time `json:"deliver_by"`
	PickupBy  time.Time `json:"pickup_by,omitzero"`
	Size      int       `json:"size"`
	// Skills as placed; nil and empty are kept apart, as Order reports them.
	Skills []string `json:"skills"`
	// AcceptLate as placed (OrderSpec.AcceptLate).
	AcceptLate bool `json:"accept_late,omitempty"`

	// Seq is the order's placement number (ties in the planner's orderings are broken by it).
	Seq uint64 `json:"seq"`
	// Store is the index in State.Stores of the order's store. Store ids may be reused after a removal, indexes
	// never are.
	Store int `json:"store"`
	// SkillMask is the mask of skills the order was given when placed. It is saved rather than recomputed: a skill
	// no courier had then makes the order unservable (see unknownSkill) even after a courier with it registers.
	SkillMask uint64 `json:"skill_mask"`

	// Status is the status's API name ("pending", "assigned", "picked_up", "delivered", "cancelled", "failed").
	Status string `json:"status"`
	// CourierID is the courier whose route holds the order, or for a final order the one that last held it.
	CourierID string `json:"courier_id,omitempty"`
	Accepted  bool   `json:"accepted,omitempty"`
	// Locked: an operator locked the order onto its courier (only an assigned order is).
	Locked bool `json:"locked,omitempty"`
	// DeclinedBy lists the couriers that declined the order, in the order they did.
	DeclinedBy []string `json:"declined_by,omitempty"`
	PickedUpAt int64    `json:"picked_up_at,omitempty"`
	FinishedAt int64    `json:"finished_at,omitempty"`
	// Timeline is the order's status history.
	Timeline []SavedStatusChange `json:"timeline"`
	// Unplaced is the last reason told for not placing the order (told again only when it changes).
	Unplaced Unplaced `json:"unplaced,omitempty"`
}

// SavedStatusChange is an entry of an order's timeline.
type SavedStatusChange struct {
	Status string `json:"status"`
	At     int64  `json:"at"`
}

// SavedStats is a State's copy of Stats (spelled out so that renaming a Stats field cannot change the format).
type SavedStats struct {
	Candidates   int `json:"candidates"`
	Backlog      int `json:"backlog,omitempty"`
	Reassignable int `json:"reassignable"`
	Rows         int `json:"rows"`
	Pairs        int `json:"pairs"`
	Postponed    int `json:"postponed"`
	Assigned     int `json:"assigned"`
	Reassigned   int `json:"reassigned"`
}

var modeNames = [...]string{modeMoving: "moving", modeArrived: "arrived", modeContinuing: "continuing"}

// Export returns the engine's state. The State is a deep copy that shares no memory with the engine: the engine
// may go on applying events while another goroutine encodes it. Like every method, Export must not run
// concurrently with Apply.
func (e *Engine) Export() *State {
	st := &State{
		Version:   StateVersion,
		Now:       e.now,
		Seq:       e.seq,
		Skills:    make([]string, len(e.skillBits)),
		Stores:    make([]SavedStore, len(e.storeList)),
		Couriers:  make([]SavedCourier, len(e.courierList)),
		Orders:    make([]SavedOrder, 0, len(e.orders)),
		Open:      make([]string, 0, len(e.open)),
		Finished:  make([]string, 0, len(e.finished)),
		LastRound: SavedStats(e.lastStats),
	}
	// Each bit has exactly one name, so filling the slots in map order gives the same slice every time.
	for name, b := range e.skillBits {
		st.Skills[bits.TrailingZeros64(b)] = name
	}
	for i, s := range e.storeList {
		if s == nil {
			st.Stores[i] = SavedStore{Removed: true}
			continue
		}
		st.Stores[i] = SavedStore{ID: s.ID, Name: s.Name, Location: s.Location, Region: savedRegion(s.Region), Paused: s.paused}
	}
	for i, c := range e.courierList {
		sc := SavedCourier{
			ID: c.spec.ID, Name: c.spec.Name, Vehicle: c.spec.Vehicle, Capacity: c.spec.Capacity,
			Skills: slices.Clone(c.spec.Skills), Region: savedRegion(c.spec.Region),
			Online: c.online, Location: c.loc, LocationAt: c.locAt, ShiftEnd: c.shiftEnd,
			Mode: modeNames[c.mode], ModeAt: c.modeAt, Load: c.load, RouteVersion: c.version,
			Stops: make([]SavedStop, len(c.stops)),
		}
		for k, s := range c.stops {
			sc.Stops[k] = SavedStop{Kind: s.kind.String(), OrderID: s.o.spec.ID, Arrive: s.arrive, Handover: s.hand, Depart: s.depart}
		}
		st.Couriers[i] = sc
	}
	// The order map is read in its (random) order, then sorted by the unique placement number.
	orders := make([]*orderState, 0, len(e.orders))
	for _, o := range e.orders {
		orders = append(orders, o)
	}
	slices.SortFunc(orders, func(a, b *orderState) int { return cmp.Compare(a.seq, b.seq) })
	for _, o := range orders {
		st.Orders = append(st.Orders, e.saveOrder(o))
	}
	for _, o := range e.open {
		// Final entries wait for lazy compaction and are skipped by every reader; some may even be forgotten
		// orders whose id was since reused.
		if !o.status.Final() {
			st.Open = append(st.Open, o.spec.ID)
		}
	}
	for _, o := range e.finished {
		st.Finished = append(st.Finished, o.spec.ID)
	}
	return st
}

func (e *Engine) saveOrder(o *orderState) SavedOrder {
	so := SavedOrder{
		ID: o.spec.ID, StoreID: o.spec.StoreID, Dropoff: o.spec.Dropoff,
		Created: o.spec.Created, Ready: o.spec.Ready, DeliverBy: o.spec.DeliverBy, PickupBy: o.spec.PickupBy,
		Size: o.spec.Size, Skills: slices.Clone(o.spec.Skills), AcceptLate: o.spec.AcceptLate,
		Seq: o.seq, Store: int(o.store.idx), SkillMask: o.skills,
		Status: o.status.String(), Accepted: o.accepted, Locked: o.locked,
		PickedUpAt: o.pickedUpAt, FinishedAt: o.finishedAt,
		Timeline: make([]SavedStatusChange, len(o.timeline)),
		Unplaced: o.unplaced,
	}
	if o.courier != nil {
		so.CourierID = o.courier.spec.ID
	}
	for _, idx := range o.declined {
		so.DeclinedBy = append(so.DeclinedBy, e.courierList[idx].spec.ID)
	}
	for i, ch := range o.timeline {
		// Timeline times come from toTime(e.now): 0 and the zero time.Time map onto each other both ways.
		at := int64(0)
		if !ch.At.IsZero() {
			at = ch.At.UnixNano()
		}
		so.Timeline[i] = SavedStatusChange{Status: ch.Status.String(), At: at}
	}
	return so
}

// Restore makes an engine from a State that Export wrote, with the given configuration, space and travel model
// (pass the ones the exported engine had, or the restored engine will decide differently from then on). The
// State is read, never kept: the engine shares no memory with it.
//
// The State is checked as data from disk deserves: an unknown version, a dangling reference (a stop or a list
// naming a missing order, an unknown courier or store), a value out of range or an inconsistency between orders and
// routes returns an error wrapping ErrInvalidState and naming what is wrong. Restore never panics on a bad State.
func Restore(cfg Config, space geo.Space, travel geo.TravelModel, st *State) (*Engine, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil state", ErrInvalidState)
	}
	if st.Version != StateVersion {
		return nil, fmt.Errorf("%w: unsupported state version %d (this engine reads version %d)", ErrInvalidState, st.Version, StateVersion)
	}
	e, err := New(cfg, space, travel)
	if err != nil {
		return nil, err
	}
	r := restorer{e: e, st: st}
	if err := r.restore(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	return e, nil
}

// restorer carries what Restore needs between its steps.
type restorer struct {
	e  *Engine
	st *State
	// slots are the stores by index, including a placeholder for each removed slot (which only final orders may
	// name: it gives them a store to point to, as the removed store did).
	slots []*storeState
	// orders in the State's order, for the checks that walk them.
	orders []*orderState
}

func (r *restorer) restore() error {
	e, st := r.e, r.st
	e.now, e.plan.now = st.Now, st.Now
	e.seq = st.Seq
	e.lastStats = Stats(st.LastRound)
	for _, step := range []func() error{r.skills, r.stores, r.couriers, r.ordersOf, r.lists, r.routes} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *restorer) skills() error {
	if len(r.st.Skills) > 64 {
		return fmt.Errorf("%d skills, at most 64 are supported", len(r.st.Skills))
	}
	for i, name := range r.st.Skills {
		if name == "" || len(name) > 64 {
			return fmt.Errorf("skills[%d]: a skill is 1 to 64 bytes", i)
		}
		if _, dup := r.e.skillBits[name]; dup {
			return fmt.Errorf("skills[%d]: skill %q appears twice", i, name)
		}
		r.e.skillBits[name] = 1 << uint(i)
	}
	return nil
}

func (r *restorer) stores() error {
	e := r.e
	if len(r.st.Stores) > math.MaxInt32 {
		return fmt.Errorf("too many stores")
	}
	r.slots = make([]*storeState, len(r.st.Stores))
	e.storeList = make([]*storeState, len(r.st.Stores))
	for i, s := range r.st.Stores {
		if s.Removed {
			r.slots[i] = &storeState{idx: int32(i)}
			continue
		}
		if err := checkID("id", s.ID); err != nil {
			return fmt.Errorf("stores[%d]: %s", i, err.Message)
		}
		if err := e.space.Validate(s.Location); err != nil {
			return fmt.Errorf("store %q: location: %v", s.ID, err)
		}
		if _, dup := e.stores[s.ID]; dup {
			return fmt.Errorf("store %q appears twice", s.ID)
		}
		region, rerr := regionOf("region", s.Region)
		if rerr != nil {
			return fmt.Errorf("store %q: %s", s.ID, rerr.Message)
		}
		ss := &storeState{Store: Store{ID: s.ID, Name: s.Name, Location: s.Location, Region: region}, idx: int32(i), paused: s.Paused}
		r.slots[i] = ss
		e.storeList[i] = ss
		e.stores[s.ID] = ss
		e.storeIndex.Set(ss.idx, ss.Location)
	}
	return nil
}

func (r *restorer) couriers() error {
	e := r.e
	if len(r.st.Couriers) > math.MaxInt32 {
		return fmt.Errorf("too many couriers")
	}
	e.courierList = make([]*courierState, len(r.st.Couriers))
	for i, sc := range r.st.Couriers {
		if err := checkID("id", sc.ID); err != nil {
			return fmt.Errorf("couriers[%d]: %s", i, err.Message)
		}
		if _, dup := e.couriers[sc.ID]; dup {
			return fmt.Errorf("courier %q appears twice", sc.ID)
		}
		if !sc.Vehicle.Valid() {
			return fmt.Errorf("courier %q: unknown vehicle %d", sc.ID, sc.Vehicle)
		}
		if sc.Capacity < 1 || sc.Capacity > 1000 {
			return fmt.Errorf("courier %q: capacity %d is outside [1, 1000]", sc.ID, sc.Capacity)
		}
		// The skill mask is derived: every skill of a registered courier was interned when it registered.
		var mask uint64
		for _, s := range sc.Skills {
			b, ok := e.skillBits[s]
			if !ok {
				return fmt.Errorf("courier %q: skill %q is not in the state's skill list", sc.ID, s)
			}
			mask |= b
		}
		// An online courier goes into the spatial index, which accepts only points valid in the space; an offline
		// one may never have been located (the zero point), but its position still times its route.
		if sc.Online {
			if err := e.space.Validate(sc.Location); err != nil {
				return fmt.Errorf("courier %q: location: %v", sc.ID, err)
			}
		} else if !finitePoint(sc.Location) {
			return fmt.Errorf("courier %q: location %v is not finite", sc.ID, [2]float64(sc.Location))
		}
		mode, ok := parseName(modeNames[:], sc.Mode)
		if !ok {
			return fmt.Errorf("courier %q: unknown mode %q", sc.ID, sc.Mode)
		}
		if sc.Load < 0 {
			return fmt.Errorf("courier %q: negative load %d", sc.ID, sc.Load)
		}
		if len(sc.Stops) > maxStopsHard {
			return fmt.Errorf("courier %q: %d stops, at most %d are supported", sc.ID, len(sc.Stops), maxStopsHard)
		}
		region, rerr := regionOf("region", sc.Region)
		if rerr != nil {
			return fmt.Errorf("courier %q: %s", sc.ID, rerr.Message)
		}
		c := &courierState{
			spec: CourierSpec{ID: sc.ID, Name: sc.Name, Vehicle: sc.Vehicle, Capacity: sc.Capacity,
				Skills: slices.Clone(sc.Skills), Region: region},
			idx: int32(i), skills: mask, online: sc.Online, loc: sc.Location, locAt: sc.LocationAt,
			shiftEnd: sc.ShiftEnd, mode: courierMode(mode), modeAt: sc.ModeAt, load: sc.Load, version: sc.RouteVersion,
		}
		e.courierList[i] = c
		e.couriers[sc.ID] = c
		if c.online {
			e.courierIndex.Set(c)
		}
	}
	return nil
}

func (r *restorer) ordersOf() error {
	e, st := r.e, r.st
	seqs := make(map[uint64]bool, len(st.Orders))
	r.orders = make([]*orderState, 0, len(st.Orders))
	if len(e.orders) == 0 {
		e.orders = make(map[string]*orderState, len(st.Orders)) // sized once, not grown by doubling
	}
	known := uint64(1)<<uint(len(e.skillBits)) - 1 // (1<<64)-1 wraps to all ones, as wanted
	for i := range st.Orders {
		so := &st.Orders[i]
		if err := checkID("id", so.ID); err != nil {
			return fmt.Errorf("orders[%d]: %s", i, err.Message)
		}
		o, err := r.order(so, known)
		if err != nil {
			return fmt.Errorf("order %q: %w", so.ID, err)
		}
		if _, dup := e.orders[so.ID]; dup {
			return fmt.Errorf("order %q appears twice", so.ID)
		}
		if seqs[o.seq] {
			return fmt.Errorf("order %q: seq %d is used twice", so.ID, o.seq)
		}
		seqs[o.seq] = true
		e.orders[so.ID] = o
		r.orders = append(r.orders, o)
	}
	return nil
}

// order checks one saved order and makes its state (store and courier wired, planning copies derived).
func (r *restorer) order(so *SavedOrder, known uint64) (*orderState, error) {
	e := r.e
	if err := checkID("store_id", so.StoreID); err != nil {
		return nil, errors.New(err.Message)
	}
	if err := e.space.Validate(so.Dropoff); err != nil {
		return nil, fmt.Errorf("dropoff: %v", err)
	}
	switch {
	case so.Created.IsZero() || so.Ready.IsZero() || so.DeliverBy.IsZero():
		return nil, fmt.Errorf("created, ready and deliver_by are required")
	case !so.DeliverBy.After(so.Created) || so.Ready.Before(so.Created) || so.Ready.After(so.DeliverBy):
		return nil, fmt.Errorf("times out of order: created %s, ready %s, deliver by %s", so.Created, so.Ready, so.DeliverBy)
	case !so.PickupBy.IsZero() && so.PickupBy.Before(so.Ready):
		return nil, fmt.Errorf("pickup_by %s is before ready %s", so.PickupBy, so.Ready)
	case so.Size < 1 || so.Size > 1000:
		return nil, fmt.Errorf("size %d is outside [1, 1000]", so.Size)
	case so.Seq == 0 || so.Seq > r.st.Seq:
		return nil, fmt.Errorf("seq %d is outside [1, %d]", so.Seq, r.st.Seq)
	case so.Store < 0 || so.Store >= len(r.slots):
		return nil, fmt.Errorf("store index %d is outside [0, %d)", so.Store, len(r.slots))
	}
	for i, s := range so.Skills {
		if s == "" || len(s) > 64 {
			return nil, fmt.Errorf("skills[%d]: a skill is 1 to 64 bytes", i)
		}
	}
	if (len(so.Skills) == 0) != (so.SkillMask == 0) || so.SkillMask&^(known|unknownSkill) != 0 {
		return nil, fmt.Errorf("skill mask %#x does not fit skills %q", so.SkillMask, so.Skills)
	}
	status, ok := parseName(statusNames[:], so.Status)
	if !ok {
		return nil, fmt.Errorf("unknown status %q", so.Status)
	}
	o := &orderState{
		spec: OrderSpec{ID: so.ID, StoreID: so.StoreID, Dropoff: so.Dropoff, Created: so.Created, Ready: so.Ready,
			DeliverBy: so.DeliverBy, PickupBy: so.PickupBy, Size: so.Size, Skills: slices.Clone(so.Skills), AcceptLate: so.AcceptLate},
		seq: so.Seq, dropLoc: so.Dropoff,
		created: so.Created.UnixNano(), ready: so.Ready.UnixNano(), deliverBy: so.DeliverBy.UnixNano(),
		pickupBy: pickupLimit(so.PickupBy),
		size:     so.Size, skills: so.SkillMask,
		status: OrderStatus(status), accepted: so.Accepted, locked: so.Locked, pickedUpAt: so.PickedUpAt, finishedAt: so.FinishedAt,
		unplaced: so.Unplaced,
	}
	final := o.status.Final()
	// The store: an open order's must be the live store of that id. A final order may name a removed slot; nothing
	// reads a final order's store, but it gets one, as in the engine it came from.
	o.store = r.slots[so.Store]
	o.region = o.store.Region
	if live := r.e.storeList[so.Store]; live != nil && live.ID != so.StoreID {
		return nil, fmt.Errorf("store index %d is store %q, not %q", so.Store, live.ID, so.StoreID)
	} else if live == nil && !final {
		return nil, fmt.Errorf("%s order of removed store %q (index %d)", o.status, so.StoreID, so.Store)
	}
	// Every open order's pick-up is at its store's current location (the engine moves them when a store moves).
	o.storeLoc = o.store.Location
	if !final {
		o.store.open++
	}
	switch so.Unplaced {
	case "", UnplacedNoCourier, UnplacedCouriersFull, UnplacedWouldBeLate, UnplacedCouriersTaken, UnplacedBacklog, UnplacedStorePaused:
	default:
		return nil, fmt.Errorf("unknown unplaced reason %q", so.Unplaced)
	}
	if so.CourierID != "" {
		c, ok := e.couriers[so.CourierID]
		if !ok {
			return nil, fmt.Errorf("courier %q is not in the state", so.CourierID)
		}
		o.courier = c
	}
	switch {
	case o.status == StatusPending && o.courier != nil:
		return nil, fmt.Errorf("pending, yet held by courier %q", so.CourierID)
	case (o.status == StatusAssigned || o.status == StatusPickedUp) && o.courier == nil:
		return nil, fmt.Errorf("%s, yet held by no courier", o.status)
	case o.locked && o.status != StatusAssigned:
		return nil, fmt.Errorf("locked, yet %s", o.status)
	}
	for _, id := range so.DeclinedBy {
		c, ok := e.couriers[id]
		if !ok {
			return nil, fmt.Errorf("declined by courier %q, which is not in the state", id)
		}
		o.declined = append(o.declined, c.idx)
	}
	if len(so.Timeline) == 0 {
		return nil, fmt.Errorf("empty timeline")
	}
	o.timeline = make([]StatusChange, len(so.Timeline))
	for i, ch := range so.Timeline {
		s, ok := parseName(statusNames[:], ch.Status)
		if !ok {
			return nil, fmt.Errorf("timeline[%d]: unknown status %q", i, ch.Status)
		}
		o.timeline[i] = StatusChange{Status: OrderStatus(s), At: toTime(ch.At)}
	}
	if last := o.timeline[len(o.timeline)-1].Status; last != o.status {
		return nil, fmt.Errorf("status %s, but the timeline ends with %s", o.status, last)
	}
	return o, nil
}

// lists rebuilds the open list and the retention queue. Together they must hold every order exactly once (an order
// missing from both would never be dispatched, or never forgotten).
func (r *restorer) lists() error {
	e, st := r.e, r.st
	listed := make(map[*orderState]bool, len(r.orders))
	e.open = make([]*orderState, 0, len(st.Open))
	for i, id := range st.Open {
		o, ok := e.orders[id]
		switch {
		case !ok:
			return fmt.Errorf("open[%d]: order %q is not in the state", i, id)
		case listed[o]:
			return fmt.Errorf("open[%d]: order %q is listed twice", i, id)
		case o.status.Final():
			return fmt.Errorf("open[%d]: order %q is %s", i, id, o.status)
		}
		listed[o] = true
		e.open = append(e.open, o)
	}
	e.finished = make([]*orderState, 0, len(st.Finished))
	for i, id := range st.Finished {
		o, ok := e.orders[id]
		switch {
		case !ok:
			return fmt.Errorf("finished[%d]: order %q is not in the state", i, id)
		case listed[o]:
			return fmt.Errorf("finished[%d]: order %q is listed twice", i, id)
		case !o.status.Final():
			return fmt.Errorf("finished[%d]: order %q is %s", i, id, o.status)
		case i > 0 && o.finishedAt < e.finished[i-1].finishedAt:
			// Forgetting finished orders stops at the first one still within retention.
			return fmt.Errorf("finished[%d]: order %q finished before the order listed ahead of it", i, id)
		}
		listed[o] = true
		e.finished = append(e.finished, o)
	}
	for _, o := range r.orders {
		if !listed[o] {
			return fmt.Errorf("order %q (%s) is in neither the open nor the finished list", o.spec.ID, o.status)
		}
	}
	return nil
}

// routes wires the couriers' stops to their orders and checks that routes and orders agree: each assigned order
// has its pick-up then its drop-off on its courier's route, each picked-up order its drop-off only, nothing else
// is on a route, and a courier's load is what it carries.
func (r *restorer) routes() error {
	e := r.e
	type seen struct{ pickup, dropoff int }
	onRoute := make(map[*orderState]*seen)
	for i, sc := range r.st.Couriers {
		c := e.courierList[i]
		c.stops = make([]stop, len(sc.Stops))
		for k, ss := range sc.Stops {
			o, ok := e.orders[ss.OrderID]
			if !ok {
				return fmt.Errorf("courier %q: stop %d names order %q, which is not in the state", c.spec.ID, k, ss.OrderID)
			}
			kind, ok := parseName([]string{Pickup.String(), Dropoff.String()}, ss.Kind)
			if !ok {
				return fmt.Errorf("courier %q: stop %d: unknown kind %q", c.spec.ID, k, ss.Kind)
			}
			if o.courier != c || o.status.Final() {
				return fmt.Errorf("courier %q: stop %d names order %q, which is %s and not on this courier's route", c.spec.ID, k, o.spec.ID, o.status)
			}
			if !c.carries(o.region) {
				return fmt.Errorf("courier %q of region %q: stop %d names order %q of region %q", c.spec.ID, c.spec.Region, k, o.spec.ID, o.region)
			}
			n := onRoute[o]
			if n == nil {
				n = &seen{}
				onRoute[o] = n
			}
			switch StopKind(kind) {
			case Pickup:
				if o.status != StatusAssigned || n.pickup > 0 || n.dropoff > 0 {
					return fmt.Errorf("courier %q: stop %d: unexpected pick-up of %s order %q", c.spec.ID, k, o.status, o.spec.ID)
				}
				n.pickup++
			case Dropoff:
				if (o.status == StatusAssigned && n.pickup == 0) || n.dropoff > 0 {
					return fmt.Errorf("courier %q: stop %d: unexpected drop-off of %s order %q", c.spec.ID, k, o.status, o.spec.ID)
				}
				n.dropoff++
			}
			c.stops[k] = stop{kind: StopKind(kind), o: o, stopTimes: stopTimes{arrive: ss.Arrive, hand: ss.Handover, depart: ss.Depart}}
		}
	}
	carried := make(map[*courierState]int)
	for _, o := range r.orders {
		if o.status.Final() || o.courier == nil {
			continue
		}
		n := onRoute[o]
		if n == nil || n.dropoff == 0 || (o.status == StatusAssigned && n.pickup == 0) {
			return fmt.Errorf("%s order %q is missing stops on the route of courier %q", o.status, o.spec.ID, o.courier.spec.ID)
		}
		if o.status == StatusPickedUp {
			carried[o.courier] += o.size
		}
	}
	for _, c := range e.courierList {
		if c.load != carried[c] {
			return fmt.Errorf("courier %q: load %d, but it carries %d units", c.spec.ID, c.load, carried[c])
		}
	}
	return nil
}

// parseName returns the index of name in names.
func parseName(names []string, name string) (int, bool) {
	i := slices.Index(names, name)
	return i, i >= 0
}

func finitePoint(p orb.Point) bool {
	return !math.IsNaN(p[0]) && !math.IsInf(p[0], 0) && !math.IsNaN(p[1]) && !math.IsInf(p[1], 0)
}

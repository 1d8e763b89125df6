package dispatch

import (
	"maps"
	"slices"
	"sort"
)

// Clone returns a copy of the engine that a dispatch round may plan on (PlanRound) while the original goes on
// applying events on another goroutine: the two share no memory that either writes. It holds what a round reads:
// stores, couriers with their routes, and the orders that are not final (finished orders, which only reads and
// retention need, stay behind). The travel model is shared, and must be safe for concurrent use (a round already
// asks it from Config.Workers goroutines).
//
// Like every method, Clone must not run concurrently with Apply on the same engine.
func (e *Engine) Clone() *Engine {
	n := &Engine{
		cfg:       e.cfg,
		space:     e.space,
		travel:    e.travel,
		now:       e.now,
		seq:       e.seq,
		skillBits: maps.Clone(e.skillBits),
		lastStats: e.lastStats,
	}
	n.plan = newPlanner(&n.cfg, e.travel)
	n.plan.now = e.now

	// Stores: few, copied whole (an upsert on the original rewrites its storeState).
	stores := make([]storeState, len(e.storeList))
	n.storeList = make([]*storeState, len(e.storeList))
	n.stores = make(map[string]*storeState, len(e.stores))
	for i, st := range e.storeList {
		if st == nil {
			continue
		}
		stores[i] = *st
		n.storeList[i] = &stores[i]
		n.stores[st.ID] = &stores[i]
	}
	n.storeIndex = e.storeIndex.Clone()

	// Open orders, in placement order (which is seq order: the open list only ever appends).
	live := 0
	for _, o := range e.open {
		if !o.status.Final() {
			live++
		}
	}
	orders := make([]orderState, 0, live)
	n.open = make([]*orderState, 0, live)
	n.orders = make(map[string]*orderState, live)
	for _, o := range e.open {
		if o.status.Final() {
			continue
		}
		orders = append(orders, *o)
		c := &orders[len(orders)-1]
		// Timelines and declines are appended to, never written in place: clipped, an append on either side
		// copies instead of writing into the other's array.
		c.timeline = slices.Clip(c.timeline)
		c.declined = slices.Clip(c.declined)
		c.store = n.storeList[o.store.idx]
		n.open = append(n.open, c)
		n.orders[c.spec.ID] = c
	}
	cloneOf := func(o *orderState) *orderState {
		i := sort.Search(len(orders), func(i int) bool { return orders[i].seq >= o.seq })
		return &orders[i]
	}

	// Couriers, their routes in one arena (each route clipped to its own part of it).
	couriers := make([]courierState, len(e.courierList))
	total := 0
	for _, c := range e.courierList {
		total += len(c.stops)
	}
	arena := make([]stop, 0, total)
	n.courierList = make([]*courierState, len(e.courierList))
	n.couriers = make(map[string]*courierState, len(e.couriers))
	for i, c := range e.courierList {
		couriers[i] = *c
		nc := &couriers[i]
		nc.spec.Skills = slices.Clip(nc.spec.Skills)
		at := len(arena)
		for _, s := range c.stops {
			s.o = cloneOf(s.o)
			arena = append(arena, s)
		}
		nc.stops = arena[at:len(arena):len(arena)]
		n.courierList[i] = nc
		n.couriers[nc.spec.ID] = nc
	}
	for i := range orders {
		if c := orders[i].courier; c != nil {
			orders[i].courier = n.courierList[c.idx]
		}
	}
	n.courierIndex = e.courierIndex.Clone()
	return n
}

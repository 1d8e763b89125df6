package dispatch

import (
	"cmp"
	"maps"
	"slices"
	"sort"
	"time"
)

// Clone returns a complete copy of the engine, which another goroutine may own (to Export it while the original
// goes on applying events, for instance): the two share no memory that either writes. The travel model is shared,
// and must be safe for concurrent use (a round already asks it from Config.Workers goroutines).
//
// Like every method, Clone must not run concurrently with Apply on the same engine.
func (e *Engine) Clone() *Engine { return e.copyState(true) }

// Planner is a copy of what a dispatch round reads (stores, couriers with their routes, the orders that are not
// final), taken on the engine's goroutine and planned on anywhere else. It plans one round.
type Planner struct {
	e    *Engine
	used bool
}

// Planner copies what a round reads, for a round planned on another goroutine (Planner.Plan) while the engine goes
// on applying events; the decision is then applied to the engine with ApplyDecision. Finished orders, which only
// reads and retention need, are not copied.
func (e *Engine) Planner() *Planner { return &Planner{e: e.copyState(false)} }

// Plan runs the round at time now (not before the time of the copy) and returns its decision. A Planner plans once;
// a second call returns an error.
func (p *Planner) Plan(now time.Time) (*Decision, error) {
	if p.used {
		return nil, &Error{Code: EConflict, Message: "this planner has planned its round already"}
	}
	p.used = true
	return p.e.planRound(now)
}

// Yield makes the round call f between small pieces of its work: after every bundle priced, every eighth bundle's
// candidates found or route re-sequenced, every 64th evaluation of the improvement. f runs on the round's
// goroutines and must not touch the engine. A daemon passes a function that lets the processor go to whatever
// else is waiting (requests, whose callers wait, unlike a round's), so that a round planned beside them does not
// hold a processor for the scheduler's whole time slice. The decision does not depend on f.
func (p *Planner) Yield(f func()) { p.e.yield = f }

// pause calls the yield function, if any.
func (e *Engine) pause() {
	if e.yield != nil {
		e.yield()
	}
}

// copyState copies the engine: every order when full, else only those that are not final.
func (e *Engine) copyState(full bool) *Engine {
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

	// Orders by placement number (unique), so that a pointer into the original is found by binary search.
	var src []*orderState
	if full {
		src = make([]*orderState, 0, len(e.orders))
		for _, o := range e.orders {
			src = append(src, o)
		}
	} else {
		src = make([]*orderState, 0, len(e.open))
		for _, o := range e.open {
			if !o.status.Final() {
				src = append(src, o)
			}
		}
	}
	// (The open list is mostly in placement order already: it only appends, and compaction keeps the order.)
	slices.SortFunc(src, func(a, b *orderState) int { return cmp.Compare(a.seq, b.seq) })
	orders := make([]orderState, len(src))
	n.orders = make(map[string]*orderState, len(src))
	for i, o := range src {
		orders[i] = *o
		c := &orders[i]
		// Timelines and declines are appended to, never written in place: clipped, an append on either side
		// copies instead of writing into the other's array.
		c.timeline = slices.Clip(c.timeline)
		c.declined = slices.Clip(c.declined)
		c.spec.Skills = slices.Clip(c.spec.Skills)
		if st := n.storeList[o.store.idx]; st != nil {
			c.store = st
		} else {
			// A removed store's slot: only final orders name it; they keep a copy of it.
			st := *o.store
			c.store = &st
		}
		n.orders[c.spec.ID] = c
	}
	cloneOf := func(o *orderState) *orderState {
		i := sort.Search(len(orders), func(i int) bool { return orders[i].seq >= o.seq })
		return &orders[i]
	}
	n.open = make([]*orderState, 0, len(e.open))
	for _, o := range e.open {
		if !o.status.Final() {
			n.open = append(n.open, cloneOf(o))
		}
	}
	if full {
		n.finished = make([]*orderState, len(e.finished))
		for i, o := range e.finished {
			n.finished[i] = cloneOf(o)
		}
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
		if c := orders[i].courier; c != nil && int(c.idx) < len(n.courierList) && e.courierList[c.idx] == c {
			orders[i].courier = n.courierList[c.idx]
		}
	}
	n.courierIndex = e.courierIndex.Clone()
	return n
}

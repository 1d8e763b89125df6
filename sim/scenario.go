package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Scenario is one day to simulate: the world (stores, courier shifts, orders with their preparation times) and how
// it is measured (space and travel model). The dispatch policy is not part of it: the same scenario runs under
// several policies (see Policy).
type Scenario struct {
	// Name identifies the scenario in reports (an MDRP instance name, a scenario file's name).
	Name string
	// Start is the virtual time of minute zero of the day. Every time in the scenario is at or after it.
	Start time.Time
	// Space and Travel measure distances and travel times, for the engine and for the simulated couriers alike.
	Space  geo.Space
	Travel geo.TravelModel
	// Config is the engine configuration the scenario calls for (service times, rule switches); a Policy may
	// change the dispatch parameters but keeps its service times and rules.
	Config dispatch.Config
	// TickEvery is the interval between dispatch rounds (the first at Start).
	TickEvery time.Duration
	// Target is the click-to-door promise the KPIs measure against (an order's DeliverBy is normally
	// Created + Target); MaxClickToDoor the longest click-to-door that still counts as a delivery in the MDRP sense
	// (0: no limit).
	Target, MaxClickToDoor time.Duration
	// PayPerOrder and PayPerHour are the courier compensation parameters of the MDRP (0 when not modelled).
	PayPerOrder, PayPerHour float64

	Stores   []dispatch.Store
	Couriers []Shift
	Orders   []dispatch.OrderSpec

	// Fulfil, when not nil, runs the stores' side of the day beside the engine (package dispatch/fulfil): stock,
	// opening hours, picking queues, the choice of a store for orders that name only their items, and orders the
	// customer collects in store. Nil: every order is placed as given, at stores that are always open with
	// unlimited stock and pickers (MDRP instances, scenario files without any of these).
	Fulfil *Fulfilment
}

// Fulfilment is the store side of a scenario. With it, an order's OrderSpec.Ready minus its Created is its
// preparation time, not its ready time: the store's picking queue and opening hours decide when it is ready
// (fulfil.Network.Choose), and an order with an empty StoreID names only its items.
type Fulfilment struct {
	// Config is the network's configuration: the ride estimate, search radius, candidates, pick-up margin.
	Config fulfil.Config
	// Stores holds what the network knows of each store, by the index of Scenario.Stores (same length).
	Stores []StoreSetup
	// Orders holds each order's fulfilment side, by the index of Scenario.Orders (same length).
	Orders []OrderSetup
	// Restocks are deliveries to the stores, in any order.
	Restocks []Restock
}

// StoreSetup is a store's side of fulfilment.
type StoreSetup struct {
	// Kind labels the store in reports ("convenience").
	Kind string
	// Pickers is how many orders the store prepares at once (0: no limit).
	Pickers int
	// Prep is the preparation time of an order that brings none (OrderSpec.Ready equal to Created).
	Prep time.Duration
	// Hours is the opening schedule (nil: always open).
	Hours *fulfil.Hours
	// Stock is the stock on hand at the start of the day, by SKU; nil: the store keeps no stock, so only orders
	// without items can be served there.
	Stock map[string]int
}

// OrderSetup is an order's side of fulfilment.
type OrderSetup struct {
	// Items are the products ordered, normalized (fulfil.NormalizeItems); empty: no stock is taken.
	Items []fulfil.Item
	// Collect: the customer collects the order in the store. It never enters the engine; the store has it ready
	// at the plan's ready time and the customer takes it CollectAfter later (or, if the store is closed then, when
	// it opens).
	Collect      bool
	CollectAfter time.Duration
	// Later are later promises the customer accepts, in order, when no store can keep OrderSpec.DeliverBy (the
	// later delivery slots a booking app offers).
	Later []time.Time
}

// Restock is a delivery to a store: at At, every product in Level has its available stock (on hand less what
// live orders have reserved) brought back up to that level; it is never lowered.
type Restock struct {
	At      time.Time
	StoreID string
	Level   map[string]int
}

// Shift is a courier's registration and one period on duty: it comes online at Location at On and stops taking
// pick-ups at Off (it still finishes its drop-offs, then goes offline).
type Shift struct {
	Courier  dispatch.CourierSpec
	Location orb.Point
	On, Off  time.Time
}

// Validate checks what the simulator relies on, naming the first offending record.
func (s *Scenario) Validate() error {
	switch {
	case s.Space == nil || s.Travel == nil:
		return fmt.Errorf("scenario %q: space and travel model are required", s.Name)
	case s.TickEvery <= 0:
		return fmt.Errorf("scenario %q: dispatch interval must be positive, got %s", s.Name, s.TickEvery)
	}
	if err := s.Config.Validate(); err != nil {
		return fmt.Errorf("scenario %q: config: %w", s.Name, err)
	}
	stores := make(map[string]bool, len(s.Stores))
	for _, st := range s.Stores {
		if stores[st.ID] {
			return fmt.Errorf("scenario %q: store %q listed twice", s.Name, st.ID)
		}
		stores[st.ID] = true
		if err := s.Space.Validate(st.Location); err != nil {
			return fmt.Errorf("scenario %q: store %q: %w", s.Name, st.ID, err)
		}
	}
	couriers := make(map[string]bool, len(s.Couriers))
	for _, c := range s.Couriers {
		if couriers[c.Courier.ID] {
			return fmt.Errorf("scenario %q: courier %q has two shifts (one shift per courier id)", s.Name, c.Courier.ID)
		}
		couriers[c.Courier.ID] = true
		if c.On.Before(s.Start) || !c.Off.After(c.On) {
			return fmt.Errorf("scenario %q: courier %q: shift %s to %s is empty or before the start of the day",
				s.Name, c.Courier.ID, c.On.Format(time.TimeOnly), c.Off.Format(time.TimeOnly))
		}
		if err := s.Space.Validate(c.Location); err != nil {
			return fmt.Errorf("scenario %q: courier %q: %w", s.Name, c.Courier.ID, err)
		}
	}
	if err := s.validateFulfil(); err != nil {
		return err
	}
	orders := make(map[string]bool, len(s.Orders))
	for i, o := range s.Orders {
		if orders[o.ID] {
			return fmt.Errorf("scenario %q: order %q listed twice", s.Name, o.ID)
		}
		orders[o.ID] = true
		byItems := s.Fulfil != nil && o.StoreID == "" && len(s.Fulfil.Orders[i].Items) > 0
		if !stores[o.StoreID] && !byItems {
			return fmt.Errorf("scenario %q: order %q: unknown store %q", s.Name, o.ID, o.StoreID)
		}
		if o.Created.Before(s.Start) || o.Ready.Before(o.Created) {
			return fmt.Errorf("scenario %q: order %q: created before the start of the day or ready before created", s.Name, o.ID)
		}
		if o.Ready.After(o.DeliverBy) {
			return fmt.Errorf("scenario %q: order %q: ready at %s, after its promise %s", s.Name, o.ID,
				o.Ready.Format(time.TimeOnly), o.DeliverBy.Format(time.TimeOnly))
		}
		if err := s.Space.Validate(o.Dropoff); err != nil {
			return fmt.Errorf("scenario %q: order %q: %w", s.Name, o.ID, err)
		}
	}
	return nil
}

// validateFulfil checks the store side against the rest of the scenario.
func (s *Scenario) validateFulfil() error {
	f := s.Fulfil
	if f == nil {
		return nil
	}
	if len(f.Stores) != len(s.Stores) || len(f.Orders) != len(s.Orders) {
		return fmt.Errorf("scenario %q: fulfilment lists %d stores and %d orders, the scenario %d and %d",
			s.Name, len(f.Stores), len(f.Orders), len(s.Stores), len(s.Orders))
	}
	for i, st := range f.Stores {
		if st.Pickers < 0 || st.Prep < 0 {
			return fmt.Errorf("scenario %q: store %q: negative pickers or preparation", s.Name, s.Stores[i].ID)
		}
		if err := fulfil.CheckInventory("stock", st.Stock, false); err != nil {
			return fmt.Errorf("scenario %q: store %q: %w", s.Name, s.Stores[i].ID, err)
		}
	}
	for i, o := range f.Orders {
		id := s.Orders[i].ID
		items, err := fulfil.NormalizeItems(o.Items)
		if err != nil {
			return fmt.Errorf("scenario %q: order %q: %w", s.Name, id, err)
		}
		if !slices.Equal(items, o.Items) {
			return fmt.Errorf("scenario %q: order %q: items are not normalized (merged by SKU and sorted)", s.Name, id)
		}
		if o.CollectAfter < 0 {
			return fmt.Errorf("scenario %q: order %q: negative collection delay", s.Name, id)
		}
		prev := s.Orders[i].DeliverBy
		for _, t := range o.Later {
			if !t.After(prev) {
				return fmt.Errorf("scenario %q: order %q: later promises must come after the promise and each other", s.Name, id)
			}
			prev = t
		}
	}
	stores := make(map[string]bool, len(s.Stores))
	for _, st := range s.Stores {
		stores[st.ID] = true
	}
	for _, r := range f.Restocks {
		if !stores[r.StoreID] {
			return fmt.Errorf("scenario %q: restock at unknown store %q", s.Name, r.StoreID)
		}
		if err := fulfil.CheckInventory("level", r.Level, false); err != nil {
			return fmt.Errorf("scenario %q: restock of store %q: %w", s.Name, r.StoreID, err)
		}
	}
	return nil
}

package sim

import (
	"fmt"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
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
	orders := make(map[string]bool, len(s.Orders))
	for _, o := range s.Orders {
		if orders[o.ID] {
			return fmt.Errorf("scenario %q: order %q listed twice", s.Name, o.ID)
		}
		orders[o.ID] = true
		if !stores[o.StoreID] {
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

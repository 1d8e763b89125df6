package service

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

// Store is a store as the API shows it.
type Store struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Region is the region the store and its orders belong to (DefaultRegion unless registered with another).
	Region      string   `json:"region"`
	Location    Location `json:"location"`
	PrepSeconds int      `json:"prep_seconds"`
	// MaxActiveOrders is how many orders the store prepares at once (its pickers); more wait in its queue.
	MaxActiveOrders int `json:"max_active_orders,omitempty"`
	// Hours are the opening hours as {"mon": ["08:00-22:00"], …} in Timezone (absent: always open).
	Hours    json.RawMessage `json:"hours,omitempty"`
	Timezone string          `json:"timezone,omitempty"`
	// Inventory is the stock on hand, Reserved the part of it held for live orders: shown when one store is read
	// (GET /v1/stores/{id}), not in listings. In a store_put record, Inventory replaces the stock (nil keeps it).
	Inventory map[string]int `json:"inventory,omitempty"`
	Reserved  map[string]int `json:"reserved,omitempty"`
	// Preparing is how many orders the store is preparing (taken, not yet ready), shown with the inventory.
	Preparing    *int `json:"preparing,omitempty"`
	ActiveOrders int  `json:"active_orders"`
	// Paused: an operator paused dispatch for the store; its pending orders wait (reason store_paused).
	Paused    bool      `json:"paused,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StoreInput is a store as an admin registers it.
type StoreInput struct {
	ID   string
	Name string
	// Region (CheckRegion): empty keeps an existing store's region, and puts a new one in the daemon's region
	// (DefaultRegion unless the daemon serves one region).
	Region          string
	Location        Location
	PrepSeconds     int
	MaxActiveOrders int
	Hours           json.RawMessage
	Timezone        string
	Inventory       map[string]int
}

// InventoryChange is an admin's change of a store's stock: Set counts first, then Adjust moves (either may be nil).
type InventoryChange struct {
	Set, Adjust map[string]int
}

// Store actions on in-store pick-up orders.
const (
	StoreActionReady     = "ready"
	StoreActionCollected = "collected"
)

// OpenHours tells whether stores are open, reading each distinct hours object and time zone once. The zero
// value is ready; it is safe for concurrent use.
type OpenHours struct {
	mu   sync.Mutex
	read map[string]*fulfil.Hours
}

// Open reports whether a store is open at t by its opening hours. A store without hours is always open, and so is
// one whose hours do not parse (the API refuses such hours; a store that has them was taken as always open).
func (c *OpenHours) Open(s *Store, t time.Time) bool {
	if len(s.Hours) == 0 || string(s.Hours) == "null" {
		return true
	}
	key := s.Timezone + "\x00" + string(s.Hours)
	c.mu.Lock()
	h, ok := c.read[key]
	c.mu.Unlock()
	if !ok {
		h = parseOpenHours(s)
		c.mu.Lock()
		if c.read == nil || len(c.read) >= maxOpenHours {
			c.read = map[string]*fulfil.Hours{}
		}
		c.read[key] = h
		c.mu.Unlock()
	}
	if h == nil {
		return true
	}
	open, _, ok := h.Window(t)
	return ok && !open.After(t)
}

// maxOpenHours bounds the hours kept: a city has a few kinds of opening hours, not thousands.
const maxOpenHours = 4096

func parseOpenHours(s *Store) *fulfil.Hours {
	zone := time.UTC
	if s.Timezone != "" {
		z, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil
		}
		zone = z
	}
	var days map[string][]string
	if err := json.Unmarshal(s.Hours, &days); err != nil {
		return nil
	}
	h, err := fulfil.ParseHours(days, zone)
	if err != nil {
		return nil
	}
	return h
}

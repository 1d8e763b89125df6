package daemon

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
)

// This file holds what the operator's console reads beside the API's own reads: the operator role's keys, every
// order of a snapshot, whether a store is open, and the last round's duration. Everything here reads published
// views or is safe for concurrent use; nothing enters the loop except CreateRoleKey, which is a command.

// KeyRoles are the roles an API key may be made with (POST /v1/api-keys); RoleOrders is the default.
var KeyRoles = []string{RoleOrders, RoleOperator}

// keyRole is a key record's role: empty (records written before keys had a choice of role) is RoleOrders; a role
// that is not one of KeyRoles is refused, naming the field.
func keyRole(role string) (string, error) {
	if role == "" {
		return RoleOrders, nil
	}
	if !slices.Contains(KeyRoles, role) {
		return "", errorf(dispatch.EInvalid, "role", "role must be one of %s", strings.Join(KeyRoles, ", "))
	}
	return role, nil
}

// CreateRoleKey makes an API key of a role, one of KeyRoles; the key itself is returned once.
func (d *Daemon) CreateRoleKey(ctx context.Context, name, role string) (*APIKey, string, error) {
	if name == "" || len(name) > 200 {
		return nil, "", errorf(dispatch.EInvalid, "name", "name is required (at most 200 bytes)")
	}
	if _, err := keyRole(role); err != nil || role == "" {
		return nil, "", errorf(dispatch.EInvalid, "role", "role must be one of %s", strings.Join(KeyRoles, ", "))
	}
	secret := NewToken("dk_")
	rec := &keyRecord{ID: newID("key_"), Name: name, Hash: HashToken(secret), Role: role}
	k, err := run(ctx, d, recordCommand[*APIKey]{&record{Type: recKeyCreate, Key: rec}})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// EachOrder calls fn with every order the view holds (open ones, and finished ones within retention), in no
// particular order, until fn returns false. The orders are shared: fn must not change them.
func (v *View) EachOrder(fn func(*OrderView) bool) {
	for _, o := range v.orders.all() {
		if !fn(o) {
			return
		}
	}
}

// OpenHours tells whether stores are open, reading each distinct hours object and time zone once. The zero
// value is ready; it is safe for concurrent use.
type OpenHours struct {
	mu   sync.Mutex
	read map[string]*fulfil.Hours
}

// maxOpenHours bounds the hours kept: a city has a few kinds of opening hours, not thousands.
const maxOpenHours = 4096

// Open reports whether a store is open at t by its opening hours. A store without hours is always open, and so is
// one whose hours do not parse (the API refuses such hours; a store that has them was taken as always open).
func (c *OpenHours) Open(s *StoreView, t time.Time) bool {
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

func parseOpenHours(s *StoreView) *fulfil.Hours {
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

// RoundTimes passes everything to the Observer it wraps and keeps the duration of the last dispatch round, for
// the console's headline figures. Make it with NewRoundTimes.
type RoundTimes struct {
	Observer
	last atomic.Int64
}

// NewRoundTimes wraps o (nil: an observer that does nothing).
func NewRoundTimes(o Observer) *RoundTimes {
	if o == nil {
		o = nopObserver{}
	}
	return &RoundTimes{Observer: o}
}

// DispatchRound keeps the round's duration and passes the round on.
func (r *RoundTimes) DispatchRound(d time.Duration, candidates, assigned int) {
	r.last.Store(int64(max(d, 1)))
	r.Observer.DispatchRound(d, candidates, assigned)
}

// Last returns the last round's duration; false before the first round.
func (r *RoundTimes) Last() (time.Duration, bool) {
	d := r.last.Load()
	return time.Duration(d), d != 0
}

package daemon

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// This file holds what the operator's console reads beside the API's own reads: the operator role's keys, every
// order of a snapshot, whether a store is open, and the last round's duration. Everything here reads published
// views or is safe for concurrent use; nothing enters the loop except CreateRoleKey, which is a command.

// keyRole is a key record's role: empty (records written before keys had a choice of role) is RoleOrders; a role
// that is not one of KeyRoles is refused, naming the field.
func keyRole(role string) (string, error) {
	if role == "" {
		return service.RoleOrders, nil
	}
	if !slices.Contains(service.KeyRoles, role) {
		return "", errorf(dispatch.EInvalid, "role", "role must be one of %s", strings.Join(service.KeyRoles, ", "))
	}
	return role, nil
}

// CreateRoleKey makes an API key of a role, one of KeyRoles; the key itself is returned once.
func (d *Daemon) CreateRoleKey(ctx context.Context, name, role string) (*service.APIKey, string, error) {
	if name == "" || len(name) > 200 {
		return nil, "", errorf(dispatch.EInvalid, "name", "name is required (at most 200 bytes)")
	}
	if _, err := keyRole(role); err != nil || role == "" {
		return nil, "", errorf(dispatch.EInvalid, "role", "role must be one of %s", strings.Join(service.KeyRoles, ", "))
	}
	secret := NewToken("dk_")
	rec := &keyRecord{ID: newID("key_"), Name: name, Hash: service.HashToken(secret), Role: role}
	k, err := run(ctx, d, recordCommand[*service.APIKey]{&record{Type: recKeyCreate, Key: rec}})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// EachOrder calls fn with every order the view holds (open ones, and finished ones within retention), in no
// particular order, until fn returns false. The orders are shared: fn must not change them.
func (v *View) EachOrder(fn func(*service.Order) bool) {
	for _, o := range v.orders.All() {
		if !fn(o) {
			return
		}
	}
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

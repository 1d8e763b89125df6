package daemon

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// TestOperatorKeySurvivesRestarts: an operator key keeps its role through a replay of the journal (a crash) and
// through a checkpoint (a graceful stop), and an orders key stays an orders key.
func TestOperatorKeySurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	h := start(t, dir, clock, nil)
	op, opSecret, err := h.d.CreateRoleKey(ctx, "console", service.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	_, ordersSecret, err := h.d.CreateAPIKey(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if op.Role != service.RoleOperator {
		t.Fatalf("made a key of role %q", op.Role)
	}
	if _, _, err := h.d.CreateRoleKey(ctx, "x", service.RoleAdmin); err == nil {
		t.Fatal("made a key of role admin")
	}
	if _, _, err := h.d.CreateRoleKey(ctx, "x", ""); err == nil {
		t.Fatal("made a key without a role")
	}
	check := func(when string, d *Daemon) {
		t.Helper()
		if p, ok := d.View().Authenticate(service.HashToken(opSecret)); !ok || p.Role != service.RoleOperator || p.ID != op.ID {
			t.Errorf("%s: the operator key authenticates as %+v %v", when, p, ok)
		}
		if p, ok := d.View().Authenticate(service.HashToken(ordersSecret)); !ok || p.Role != service.RoleOrders {
			t.Errorf("%s: the orders key authenticates as %+v %v", when, p, ok)
		}
	}
	check("live", h.d)
	h.crash()
	h = start(t, dir, clock, nil)
	check("after a crash", h.d)
	h.close()
	h = start(t, dir, clock, nil)
	check("after a checkpoint", h.d)
}

// TestKeyRecordRoles: a key record without a role (written before roles) is an orders key; one with a role that no
// key may have is refused.
func TestKeyRecordRoles(t *testing.T) {
	for _, c := range []struct {
		role, want string
		ok         bool
	}{{"", service.RoleOrders, true}, {service.RoleOrders, service.RoleOrders, true}, {service.RoleOperator, service.RoleOperator, true}, {service.RoleAdmin, "", false}, {service.RoleCourier, "", false}} {
		got, err := keyRole(c.role)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("keyRole(%q) = %q, %v", c.role, got, err)
		}
	}
}

func TestOpenHours(t *testing.T) {
	var oh service.OpenHours
	hours, _ := json.Marshal(map[string][]string{"mon": {"08:00-12:00"}})
	s := &service.Store{ID: "s", Hours: hours, Timezone: "UTC"}
	monday := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC) // a Monday
	for _, c := range []struct {
		at   time.Duration
		open bool
	}{{7 * time.Hour, false}, {9 * time.Hour, true}, {12*time.Hour + time.Minute, false}} {
		if got := oh.Open(s, monday.Add(c.at)); got != c.open {
			t.Errorf("open at %v: %v, want %v", monday.Add(c.at), got, c.open)
		}
	}
	if !oh.Open(&service.Store{ID: "always"}, monday) {
		t.Error("a store without hours is closed")
	}
}

func TestRoundTimes(t *testing.T) {
	r := NewRoundTimes(nil)
	if _, ok := r.Last(); ok {
		t.Fatal("a last round before any")
	}
	r.OrderPlaced() // passed on to the observer that does nothing
	r.DispatchRound(42*time.Millisecond, 3, 2)
	if d, ok := r.Last(); !ok || d != 42*time.Millisecond {
		t.Fatalf("last round %v %v", d, ok)
	}
}

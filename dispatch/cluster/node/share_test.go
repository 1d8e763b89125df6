package node

import (
	"testing"
	"time"
)

func snap(owners map[string]string, members ...string) *snapshot {
	s := &snapshot{at: time.Unix(100, 0), owners: owners}
	for _, m := range members {
		s.members = append(s.members, Member{ID: m})
	}
	return s
}

func TestShareTakesByCount(t *testing.T) {
	regions := []string{"r1", "r2", "r3", "r4"}
	grace, failsafe := time.Second, 4*time.Second
	for _, tc := range []struct {
		name     string
		self     string
		owners   map[string]string
		members  []string
		draining bool
		freeFor  time.Duration
		want     bool
	}{
		{"under lo takes at once", "c", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, 0, true},
		{"at lo waits for the grace", "b", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, 0, false},
		{"at lo takes after the grace", "b", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, grace, true},
		{"at hi does not take", "a", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, grace, false},
		{"anyone after the failsafe", "a", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, failsafe, true},
		{"a draining node never", "c", map[string]string{}, []string{"a", "b", "c"}, true, failsafe, false},
		{"alone before the registry lists it", "a", map[string]string{}, nil, false, 0, true},
		{"draining nodes do not count", "a", map[string]string{"r1": "a", "r2": "a"}, []string{"a", "b"}, false, grace, true},
		// c died: its entry fell silent, and b, at lo of three nodes, is under lo of two: it takes at once.
		{"a silent node does not count", "b", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, 0, true},
		{"a node catching up does not count", "b", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, []string{"a", "b", "c"}, false, 0, true},
	} {
		s := share{regions: regions, self: tc.self}
		sn := snap(tc.owners, tc.members...)
		switch tc.name {
		case "draining nodes do not count":
			sn.members[1].Draining = true // a alone takes regions: its share is all four
		case "a silent node does not count":
			sn.members[2].Silent = true
		case "a node catching up does not count":
			sn.members[2].CatchingUp = true
		}
		if got := s.mayTake(sn, tc.draining, tc.freeFor, grace, failsafe); got != tc.want {
			t.Errorf("%s: mayTake %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestShareGivesOneAtATime(t *testing.T) {
	regions := []string{"r1", "r2", "r3", "r4"}
	all := map[string]string{"r1": "a", "r2": "a", "r3": "b", "r4": "b"}
	// c joined: a and b hold two each, c none; only a (the lowest id among the most) gives, its last region.
	if r, ok := (share{regions, "a"}).giveAway(snap(all, "a", "b", "c")); !ok || r != "r2" {
		t.Errorf("a gives %q %v, want r2", r, ok)
	}
	if r, ok := (share{regions, "b"}).giveAway(snap(all, "a", "b", "c")); ok {
		t.Errorf("b gives %q too", r)
	}
	// c is not given a region until it can serve it, nor once it fell silent.
	for _, mark := range []func(*Member){func(m *Member) { m.CatchingUp = true }, func(m *Member) { m.Silent = true }} {
		sn := snap(all, "a", "b", "c")
		mark(&sn.members[2])
		if r, ok := (share{regions, "a"}).giveAway(sn); ok {
			t.Errorf("a gives %q to c, which is %+v", r, sn.members[2])
		}
	}
	// While a region is free nobody gives.
	free := map[string]string{"r1": "a", "r3": "b", "r4": "b"}
	if r, ok := (share{regions, "b"}).giveAway(snap(free, "a", "b", "c")); ok {
		t.Errorf("b gives %q while r2 is free", r)
	}
	// Over hi gives whatever the others hold.
	three := map[string]string{"r1": "a", "r2": "a", "r3": "a", "r4": "b"}
	if r, ok := (share{regions, "a"}).giveAway(snap(three, "a", "b")); !ok || r != "r3" {
		t.Errorf("a over its share gives %q %v, want r3", r, ok)
	}
	// Balanced: nobody gives.
	for _, self := range []string{"a", "b"} {
		if r, ok := (share{regions, self}).giveAway(snap(all, "a", "b")); ok {
			t.Errorf("%s gives %q from an even share", self, r)
		}
	}
}

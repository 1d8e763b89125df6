package mdrp

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateFeasibleFixture(t *testing.T) {
	in, s := fixture()
	if vs := Validate(in, s); len(vs) != 0 {
		t.Fatalf("feasible solution reported infeasible:\n%s", joinViolations(vs))
	}
}

// Each mutation breaks exactly one condition of §2.1; the validator must report that condition and no other.
func TestValidateMutations(t *testing.T) {
	// record returns the delivery record of order id.
	record := func(s *Solution, id string) *OrderRecord {
		for i := range s.Orders {
			if s.Orders[i].Order == id {
				return &s.Orders[i]
			}
		}
		panic("no record " + id)
	}
	courier := func(in *Instance, id string) *Courier {
		for i := range in.Couriers {
			if in.Couriers[i].ID == id {
				return &in.Couriers[i]
			}
		}
		panic("no courier " + id)
	}
	cases := []struct {
		name   string
		cond   int
		mutate func(in *Instance, s *Solution)
	}{
		{"delivered by another courier", 1, func(in *Instance, s *Solution) { record(s, "o4").Courier = "c2" }},
		{"assigned but not delivered", 1, func(in *Instance, s *Solution) { s.Orders = s.Orders[:4] }},
		{"two delivery records", 1, func(in *Instance, s *Solution) { s.Orders = append(s.Orders, s.Orders[0]) }},
		{"unknown order in bundle", 1, func(in *Instance, s *Solution) {
			s.Assignments[2].Orders = append(s.Assignments[2].Orders, "o99")
		}},
		{"order in two assignments", 1, func(in *Instance, s *Solution) {
			s.Assignments[2].Orders = append(s.Assignments[2].Orders, "o1")
		}},
		{"moves of an unknown courier", 1, func(in *Instance, s *Solution) { s.Moves = append(s.Moves, Move{"c9", 0, "0", "r1"}) }},
		{"assigned before placement", 2, func(in *Instance, s *Solution) { s.Assignments[1].Time = 20 }}, // o5 placed at 21
		{"courier sets out before the assignment", 2, func(in *Instance, s *Solution) { s.Assignments[2].Time = 53 }},
		{"record placement differs", 2, func(in *Instance, s *Solution) { record(s, "o3").Placement = 19 }},
		{"pickup after off-time", 3, func(in *Instance, s *Solution) { courier(in, "c2").Off = 31 }},
		{"pickup before ready", 4, func(in *Instance, s *Solution) {
			in.Orders[2].Ready = 33
			record(s, "o3").Ready = 33
		}},
		{"record pickup differs", 4, func(in *Instance, s *Solution) { record(s, "o2").Pickup = 19 }},
		{"drop-offs out of sequence", 5, func(in *Instance, s *Solution) { s.Assignments[0].Orders = []string{"o2", "o1"} }},
		{"first departure before on-time", 6, func(in *Instance, s *Solution) { courier(in, "c1").On = 11 }},
		{"first move not from the on-location", 6, func(in *Instance, s *Solution) { s.Moves[0].Origin = "r1" }},
		{"origin is not the previous destination", 6, func(in *Instance, s *Solution) {
			s.Moves[3].Origin = "o1" // 5 minutes from r1 instead of 8: every later time still holds
		}},
		{"leaves the restaurant before the service ends", 6, func(in *Instance, s *Solution) {
			s.Moves[1].Departure = 19 // pickup 18 + 2 = 20
			record(s, "o1").Dropoff = 26
			s.Moves[2].Departure = 28
			record(s, "o2").Dropoff = 33
		}},
		{"moves not grouped by courier", 6, func(in *Instance, s *Solution) {
			s.Moves = []Move{s.Moves[0], s.Moves[5], s.Moves[1], s.Moves[2], s.Moves[3], s.Moves[4], s.Moves[6], s.Moves[7]}
		}},
		{"unknown destination", 6, func(in *Instance, s *Solution) { s.Moves[7].Destination = "x9" }},
		{"pickup before arrival plus half service", 7, func(in *Instance, s *Solution) {
			s.Assignments[1].Pickup = 31 // arrival 30 + 2 = 32
			record(s, "o3").Pickup = 31
			record(s, "o5").Pickup = 31
		}},
		{"pickup after the courier left", 7, func(in *Instance, s *Solution) {
			s.Assignments[2].Pickup = 65 // left r1 at 64
			record(s, "o4").Pickup = 65
		}},
		{"bundle of two restaurants", 7, func(in *Instance, s *Solution) {
			in.Orders[1].Restaurant = "r2" // o2 now comes from r2, but c1 only goes to r1
		}},
		{"drop-off later than arrival plus half service", 8, func(in *Instance, s *Solution) { record(s, "o4").Dropoff = 72 }},
		{"drop-off earlier than arrival plus half service", 8, func(in *Instance, s *Solution) { record(s, "o4").Dropoff = 70 }},
		{"co-located order without its own move", 8, func(in *Instance, s *Solution) { s.Moves = s.Moves[:7] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, s := fixture()
			tc.mutate(in, s)
			vs := Validate(in, s)
			if len(vs) == 0 {
				t.Fatalf("no violation, want condition %d", tc.cond)
			}
			for _, v := range vs {
				if v.Condition != tc.cond {
					t.Fatalf("want only condition %d, got:\n%s", tc.cond, joinViolations(vs))
				}
			}
			t.Log(joinViolations(vs))
		})
	}
}

// With odd service times the half-services are half-minutes: times round up to whole minutes.
func TestValidateOddServiceTimes(t *testing.T) {
	build := func() (*Instance, *Solution) {
		in := &Instance{
			Params:      Params{MetersPerMinute: 100, PickupService: 5, DropoffService: 5},
			Restaurants: []Restaurant{{"r1", 0, 0}},
			Orders:      []Order{{"o1", 0, 500, 0, "r1", 0}},
			Couriers:    []Courier{{"c1", 0, 300, 0, 100}},
		}
		// arrive r1 at 3; pickup ≥ 5.5 → 6; leave ≥ 8.5 → 9; arrive o1 at 14; drop-off 16.5 → 17.
		s := &Solution{
			Assignments: []Assignment{{0, 6, "c1", []string{"o1"}}},
			Orders:      []OrderRecord{{"o1", 0, 0, 6, 17, "c1"}},
			Moves:       []Move{{"c1", 0, "0", "r1"}, {"c1", 9, "r1", "o1"}},
		}
		return in, s
	}
	in, s := build()
	if vs := Validate(in, s); len(vs) != 0 {
		t.Fatalf("feasible: %s", joinViolations(vs))
	}
	for _, c := range []struct {
		cond   int
		mutate func(s *Solution)
	}{
		{8, func(s *Solution) { s.Orders[0].Dropoff = 16 }},                              // 16 < 16.5
		{8, func(s *Solution) { s.Orders[0].Dropoff = 18 }},                              // waits at the door
		{7, func(s *Solution) { s.Assignments[0].Pickup, s.Orders[0].Pickup = 5, 5 }},    // 5 < 5.5
		{6, func(s *Solution) { s.Moves[1].Departure, s.Orders[0].Dropoff = 8, 16 }},     // 8 < 8.5
		{6, func(s *Solution) { s.Moves = append(s.Moves, Move{"c1", 19, "o1", "r1"}) }}, // 19 < 19.5
		{2, func(s *Solution) { s.Assignments[0].Time, s.Moves[0].Departure = 1, 0 }},    // sets out before told
		{3, func(s *Solution) { // picked up at 101, after off-time 100, and on time otherwise
			s.Assignments[0].Pickup, s.Orders[0].Pickup, s.Moves[1].Departure, s.Orders[0].Dropoff = 101, 101, 104, 112
		}},
		{1, func(s *Solution) { s.Assignments = append(s.Assignments, s.Assignments[0]) }}, // twice
		{1, func(s *Solution) { s.Orders[0].Courier = "cX" }},                              // unknown courier, not the assigned one
	} {
		in, s := build()
		c.mutate(s)
		vs := Validate(in, s)
		if len(vs) == 0 || slices.ContainsFunc(vs, func(v Violation) bool { return v.Condition != c.cond }) {
			t.Errorf("want only condition %d, got:\n%s", c.cond, joinViolations(vs))
		}
	}
}

// A solution built by a simple dispatcher that knows only the rules must always pass, whatever the speeds,
// service times and co-located diners.
func TestValidateAcceptsGreedySolutions(t *testing.T) {
	for seed := range uint64(40) {
		in := randomInstance(seed)
		s := greedy(in, 1+int(seed%4), 15)
		if len(s.Assignments) == 0 {
			t.Fatalf("seed %d: greedy assigned nothing", seed)
		}
		if vs := Validate(in, s); len(vs) != 0 {
			t.Fatalf("seed %d (params %+v):\n%s", seed, in.Params, joinViolations(vs))
		}
		m := Evaluate(in, s)
		if m.OrdersDelivered != len(s.Orders) || m.Bundles != len(s.Assignments) {
			t.Fatalf("seed %d: metrics %+v", seed, m)
		}
	}
}

func TestViolationString(t *testing.T) {
	v := Violation{Condition: 8, Courier: "c1", Order: "o4", Message: "late"}
	const want = "condition 8 (at the diner at drop-off): courier c1: order o4: late"
	if v.Error() != want || v.String() != want {
		t.Fatalf("%q, want %q", v.Error(), want)
	}
	if ConditionName(0) != "" || ConditionName(9) != "" || ConditionName(1) == "" {
		t.Fatal("ConditionName bounds")
	}
}

func joinViolations(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

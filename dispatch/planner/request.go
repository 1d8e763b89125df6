package planner

import (
	"fmt"
	"math"
	"time"
)

// Request is a planning problem: vehicles, shipments and the travel between their locations. Places are indices
// into Matrix. Times are in the matrix's time unit from an origin the caller chooses (seconds from the start of the
// day for the daemon); a window's zero Latest means no limit. A Request is plain data that an HTTP layer can decode
// from JSON.
type Request struct {
	Vehicles  []Vehicle  `json:"vehicles"`
	Shipments []Shipment `json:"shipments"`
	Matrix    *Matrix    `json:"matrix"`
}

// Vehicle is one vehicle of the fleet: it leaves Start no earlier than ShiftStart and must be at End by ShiftEnd.
type Vehicle struct {
	ID         string  `json:"id"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	ShiftStart float64 `json:"shift_start"`
	// ShiftEnd is the latest return to End; zero means no limit.
	ShiftEnd float64 `json:"shift_end"`
	// Capacity has one entry per dimension of the shipments' amounts (all vehicles and shipments have the same
	// number of dimensions; none at all means capacity is not planned).
	Capacity []int64  `json:"capacity"`
	Skills   []string `json:"skills,omitempty"`
	// Break, when set, is a pause of Duration the vehicle must start within [Earliest, Latest], taken where the
	// vehicle is between two stops (or while it waits).
	Break *Break `json:"break,omitempty"`
}

// Break is a vehicle's pause.
type Break struct {
	Earliest float64 `json:"earliest"`
	Latest   float64 `json:"latest"`
	Duration float64 `json:"duration"`
}

// Shipment is an amount carried from a pickup to a delivery by one vehicle that has all of Skills.
type Shipment struct {
	ID       string   `json:"id"`
	Pickup   Task     `json:"pickup"`
	Delivery Task     `json:"delivery"`
	Amount   []int64  `json:"amount"`
	Skills   []string `json:"skills,omitempty"`
	// Priority weighs shipments when not all can be served: leaving a shipment out costs 1 + Priority, and plans
	// first minimise the total of what they leave out (one shipment of priority 3 weighs as much as four of
	// priority 0). Zero is the default; negative values are refused.
	Priority int `json:"priority,omitempty"`
}

// Task is one end of a shipment: service starts within [Earliest, Latest] (waiting is allowed) and lasts Service.
type Task struct {
	Place    int     `json:"place"`
	Service  float64 `json:"service"`
	Earliest float64 `json:"earliest"`
	// Latest is the latest start of service; zero means no limit.
	Latest float64 `json:"latest"`
}

// Options bound and seed a search.
type Options struct {
	// Seed makes the search reproducible: the same request, seed, workers and budget give the same plan.
	Seed uint64
	// Workers is the number of independent searches run in parallel (different seeds derived from Seed); the best
	// plan wins, ties going to the lowest worker. Zero means one.
	Workers int
	// Iterations bounds each worker's large-neighbourhood search; the plan then depends only on the request, Seed
	// and Workers. Zero means no bound by count (TimeLimit must then be set).
	Iterations int
	// TimeLimit bounds the search by the clock Now; the plan then also depends on the machine's speed.
	TimeLimit time.Duration
	// Now is the clock TimeLimit is measured with; required with TimeLimit.
	Now func() time.Time
}

// FieldError is a request or options value the planner refuses, with the field that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "planner: " + e.Field + ": " + e.Msg }

func fieldErr(msg string, format string, a ...any) error {
	return &FieldError{Field: fmt.Sprintf(format, a...), Msg: msg}
}

// maxSkills is the most distinct skills a request may name (they are planned as a bit set).
const maxSkills = 64

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks the request: sizes, places inside the matrix, finite times with windows that are not empty,
// amounts and capacities of one dimension count and not negative.
func (r *Request) Validate() error {
	if r.Matrix == nil {
		return &FieldError{Field: "matrix", Msg: "is required"}
	}
	if err := r.Matrix.Validate(); err != nil {
		return err
	}
	n := r.Matrix.N
	if len(r.Vehicles) == 0 {
		return &FieldError{Field: "vehicles", Msg: "at least one vehicle is required"}
	}
	dims := -1
	checkPlace := func(p int, field string, a ...any) error {
		if p < 0 || p >= n {
			return fieldErr(fmt.Sprintf("place %d is outside the matrix (0..%d)", p, n-1), field, a...)
		}
		return nil
	}
	checkAmounts := func(v []int64, field string, a ...any) error {
		if dims < 0 {
			dims = len(v)
		}
		if len(v) != dims {
			return fieldErr(fmt.Sprintf("has %d dimensions, the first vehicle's capacity has %d", len(v), dims), field, a...)
		}
		for _, x := range v {
			if x < 0 {
				return fieldErr("must not be negative", field, a...)
			}
		}
		return nil
	}
	for i, v := range r.Vehicles {
		if err := checkPlace(v.Start, "vehicles[%d].start", i); err != nil {
			return err
		}
		if err := checkPlace(v.End, "vehicles[%d].end", i); err != nil {
			return err
		}
		if !finite(v.ShiftStart) || v.ShiftStart < 0 {
			return fieldErr("must be finite and not negative", "vehicles[%d].shift_start", i)
		}
		if !finite(v.ShiftEnd) || (v.ShiftEnd != 0 && v.ShiftEnd < v.ShiftStart) {
			return fieldErr("must be finite and not before shift_start", "vehicles[%d].shift_end", i)
		}
		if err := checkAmounts(v.Capacity, "vehicles[%d].capacity", i); err != nil {
			return err
		}
		if b := v.Break; b != nil {
			if !finite(b.Earliest) || !finite(b.Latest) || b.Latest < b.Earliest {
				return fieldErr("must be finite with latest not before earliest", "vehicles[%d].break", i)
			}
			if !finite(b.Duration) || b.Duration < 0 {
				return fieldErr("must be finite and not negative", "vehicles[%d].break.duration", i)
			}
		}
	}
	skills := map[string]bool{}
	countSkills := func(names []string, field string, a ...any) error {
		for _, n := range names {
			skills[n] = true
		}
		if len(skills) > maxSkills {
			return fieldErr(fmt.Sprintf("more than %d distinct skills in the request", maxSkills), field, a...)
		}
		return nil
	}
	for i, v := range r.Vehicles {
		if err := countSkills(v.Skills, "vehicles[%d].skills", i); err != nil {
			return err
		}
	}
	for i, s := range r.Shipments {
		if err := countSkills(s.Skills, "shipments[%d].skills", i); err != nil {
			return err
		}
		for k, t := range []*Task{&s.Pickup, &s.Delivery} {
			name := [2]string{"pickup", "delivery"}[k]
			if err := checkPlace(t.Place, "shipments[%d].%s.place", i, name); err != nil {
				return err
			}
			if !finite(t.Service) || t.Service < 0 {
				return fieldErr("must be finite and not negative", "shipments[%d].%s.service", i, name)
			}
			if !finite(t.Earliest) || t.Earliest < 0 {
				return fieldErr("must be finite and not negative", "shipments[%d].%s.earliest", i, name)
			}
			if !finite(t.Latest) || (t.Latest != 0 && t.Latest < t.Earliest) {
				return fieldErr("must be finite and not before earliest", "shipments[%d].%s.latest", i, name)
			}
		}
		if err := checkAmounts(s.Amount, "shipments[%d].amount", i); err != nil {
			return err
		}
		if s.Priority < 0 {
			return fieldErr("must not be negative", "shipments[%d].priority", i)
		}
	}
	return nil
}

func (o *Options) validate() error {
	if o.Workers < 0 {
		return &FieldError{Field: "options.workers", Msg: "must not be negative"}
	}
	if o.Iterations < 0 {
		return &FieldError{Field: "options.iterations", Msg: "must not be negative"}
	}
	if o.TimeLimit < 0 {
		return &FieldError{Field: "options.time_limit", Msg: "must not be negative"}
	}
	if o.TimeLimit > 0 && o.Now == nil {
		return &FieldError{Field: "options.now", Msg: "a clock is required with a time limit"}
	}
	if o.TimeLimit == 0 && o.Iterations == 0 {
		return &FieldError{Field: "options.iterations", Msg: "give iterations, a time limit or both"}
	}
	return nil
}

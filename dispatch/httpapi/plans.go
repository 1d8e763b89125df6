package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Limits of one plan request. The time limit bounds the search (the travel matrix is built before it starts); the
// sizes bound the matrix, at most (2 × 1 000 + 2 × 200)² pairs.
const (
	maxPlanVehicles       = 200
	maxPlanShipments      = 1000
	maxPlanIterations     = 1_000_000
	defaultPlanTimeLimit  = 1000 // milliseconds
	maxPlanTimeLimit      = 10_000
	maxPlanBody           = 1 << 20
	defaultPlanSeed       = 1
	planUnavailableReason = "no travel model is configured for plans"
)

type planBody struct {
	Start       *string       `json:"start"`
	TimeLimitMS *int          `json:"time_limit_ms"`
	Iterations  int           `json:"iterations"`
	Seed        *uint64       `json:"seed"`
	Vehicles    []planVehicle `json:"vehicles"`
	Shipments   []planShip    `json:"shipments"`
}

type planVehicle struct {
	ID         string        `json:"id"`
	Profile    string        `json:"profile"`
	Start      *locationBody `json:"start"`
	End        *locationBody `json:"end"`
	ShiftStart *string       `json:"shift_start"`
	ShiftEnd   *string       `json:"shift_end"`
	Capacity   []int64       `json:"capacity"`
	Skills     []string      `json:"skills"`
	Break      *planBreak    `json:"break"`
}

type planBreak struct {
	Earliest  *string `json:"earliest"`
	Latest    *string `json:"latest"`
	DurationS float64 `json:"duration_s"`
}

type planShip struct {
	ID       string    `json:"id"`
	Pickup   *planTask `json:"pickup"`
	Delivery *planTask `json:"delivery"`
	Amount   []int64   `json:"amount"`
	Skills   []string  `json:"skills"`
	Priority int       `json:"priority"`
}

type planTask struct {
	Location *locationBody `json:"location"`
	ServiceS float64       `json:"service_s"`
	Earliest *string       `json:"earliest"`
	Latest   *string       `json:"latest"`
}

// planView is the answer of POST /v1/plans. Times are RFC 3339 to the millisecond; cost is the seconds of
// travel the planner minimised (after what it leaves out and the number of vehicles).
type planView struct {
	Start      time.Time        `json:"start"`
	Routes     []planRouteView  `json:"routes"`
	Unassigned []planUnassigned `json:"unassigned"`
	Vehicles   int              `json:"vehicles"`
	Cost       float64          `json:"cost"`
	DistanceM  float64          `json:"distance_m"`
}

type planRouteView struct {
	Vehicle   string         `json:"vehicle"`
	Stops     []planStopView `json:"stops"`
	Cost      float64        `json:"cost"`
	DurationS float64        `json:"duration_s"`
	DistanceM float64        `json:"distance_m"`
	Break     *planBreakView `json:"break,omitempty"`
}

type planBreakView struct {
	Start time.Time `json:"start"`
	After int       `json:"after"`
}

type planStopView struct {
	Kind     planner.StopKind `json:"kind"`
	Shipment string           `json:"shipment,omitempty"`
	Location service.Location `json:"location"`
	Arrival  time.Time        `json:"arrival"`
	Start    time.Time        `json:"start"`
	Depart   time.Time        `json:"depart"`
	Load     []int64          `json:"load"`
}

type planUnassigned struct {
	Shipment string         `json:"shipment"`
	Reason   planner.Reason `json:"reason"`
}

// planInput is a validated plan request: the planner's request over the places of one profile, and the places.
type planInput struct {
	start   time.Time
	places  []orb.Point
	req     planner.Request
	profile geo.Profile
	opts    planner.Options
}

func invalid(field, format string, a ...any) error {
	return apiError(dispatch.EInvalid, field, "%s %s", field, fmt.Sprintf(format, a...))
}

// secondsFrom turns a time of the body into seconds after start; a time before start is refused.
func secondsFrom(start time.Time, s *string, field string) (float64, error) {
	t, err := parseTime(field, s)
	if err != nil || t == nil {
		return 0, err
	}
	if t.Before(start) {
		return 0, invalid(field, "must not be before start")
	}
	return t.Sub(start).Seconds(), nil
}

// latestFrom is secondsFrom for the end of a window, where the planner reads zero as no limit: the end must be
// after start.
func latestFrom(start time.Time, s *string, field string) (float64, error) {
	sec, err := secondsFrom(start, s, field)
	if err == nil && s != nil && sec <= 0 {
		return 0, invalid(field, "must be after start")
	}
	return sec, err
}

// compilePlan checks the body and builds the planner's request, the places numbered in the order they come.
func (s *Server) compilePlan(b *planBody) (*planInput, error) {
	if b.Start == nil {
		return nil, invalid("start", "is required (RFC 3339): it is the origin of the plan's times")
	}
	start, err := parseTime("start", b.Start)
	if err != nil {
		return nil, err
	}
	in := &planInput{start: *start}
	limit := defaultPlanTimeLimit
	if b.TimeLimitMS != nil {
		limit = *b.TimeLimitMS
		if limit < 1 || limit > maxPlanTimeLimit {
			return nil, invalid("time_limit_ms", "must be from 1 to %d", maxPlanTimeLimit)
		}
	}
	if b.Iterations < 0 || b.Iterations > maxPlanIterations {
		return nil, invalid("iterations", "must be from 0 to %d", maxPlanIterations)
	}
	in.opts = planner.Options{Seed: defaultPlanSeed, Workers: 1, Iterations: b.Iterations,
		TimeLimit: time.Duration(limit) * time.Millisecond, Now: s.cfg.Now}
	if b.Seed != nil {
		in.opts.Seed = *b.Seed
	}
	switch {
	case len(b.Vehicles) == 0:
		return nil, invalid("vehicles", "must list at least one vehicle")
	case len(b.Vehicles) > maxPlanVehicles:
		return nil, invalid("vehicles", "lists %d vehicles, at most %d are allowed", len(b.Vehicles), maxPlanVehicles)
	case len(b.Shipments) > maxPlanShipments:
		return nil, invalid("shipments", "lists %d shipments, at most %d are allowed", len(b.Shipments), maxPlanShipments)
	}
	checker, _ := s.cfg.Travel.(geo.PointChecker)
	place := func(l *locationBody, field string) (int, error) {
		loc, err := l.location(field)
		if err != nil {
			return 0, err
		}
		p := loc.Point()
		if err := geo.Geographic.Validate(p); err != nil {
			return 0, apiError(dispatch.EInvalid, field, "%s: %v", field, err)
		}
		if checker != nil {
			if err := checker.CheckPoint(p); err != nil {
				return 0, apiError(dispatch.EInvalid, field, "%s: %v", field, err)
			}
		}
		in.places = append(in.places, p)
		return len(in.places) - 1, nil
	}
	ids := map[string]bool{}
	// entry names the i-th element of a list and checks its id: given (a null element has none) and unique.
	entry := func(list string, i int, id string) (string, error) {
		f := fmt.Sprintf("%s[%d]", list, i)
		if id == "" || ids[id] {
			return f, invalid(f+".id", "is required and must be unique among the %s", list)
		}
		ids[id] = true
		return f, nil
	}
	for i, v := range b.Vehicles {
		f, err := entry("vehicles", i, v.ID)
		if err != nil {
			return nil, err
		}
		if v.Profile == "" {
			return nil, invalid(f+".profile", "is required (foot, bike, ebike, scooter or car)")
		}
		p, err := geo.ParseProfile(v.Profile)
		if err != nil {
			return nil, invalid(f+".profile", "must be foot, bike, ebike, scooter or car")
		}
		if i == 0 {
			in.profile = p
		} else if p != in.profile {
			return nil, invalid(f+".profile", "must be the same as vehicles[0].profile (%s): one plan is for one profile", in.profile)
		}
		pv := planner.Vehicle{ID: v.ID, Capacity: v.Capacity, Skills: v.Skills}
		if pv.Start, err = place(v.Start, f+".start"); err != nil {
			return nil, err
		}
		pv.End = pv.Start
		if v.End != nil {
			if pv.End, err = place(v.End, f+".end"); err != nil {
				return nil, err
			}
		}
		if pv.ShiftStart, err = secondsFrom(in.start, v.ShiftStart, f+".shift_start"); err != nil {
			return nil, err
		}
		if pv.ShiftEnd, err = latestFrom(in.start, v.ShiftEnd, f+".shift_end"); err != nil {
			return nil, err
		}
		if br := v.Break; br != nil {
			if br.Earliest == nil || br.Latest == nil {
				return nil, invalid(f+".break", "needs earliest and latest")
			}
			pb := &planner.Break{Duration: br.DurationS}
			if pb.Earliest, err = secondsFrom(in.start, br.Earliest, f+".break.earliest"); err != nil {
				return nil, err
			}
			if pb.Latest, err = secondsFrom(in.start, br.Latest, f+".break.latest"); err != nil {
				return nil, err
			}
			pv.Break = pb
		}
		in.req.Vehicles = append(in.req.Vehicles, pv)
	}
	clear(ids)
	for i, sh := range b.Shipments {
		f, err := entry("shipments", i, sh.ID)
		if err != nil {
			return nil, err
		}
		ps := planner.Shipment{ID: sh.ID, Amount: sh.Amount, Skills: sh.Skills, Priority: sh.Priority}
		for k, t := range []*planTask{sh.Pickup, sh.Delivery} {
			tf := f + [2]string{".pickup", ".delivery"}[k]
			if t == nil {
				return nil, invalid(tf, "is required")
			}
			pt := planner.Task{Service: t.ServiceS}
			var err error
			if pt.Place, err = place(t.Location, tf+".location"); err != nil {
				return nil, err
			}
			if pt.Earliest, err = secondsFrom(in.start, t.Earliest, tf+".earliest"); err != nil {
				return nil, err
			}
			if pt.Latest, err = latestFrom(in.start, t.Latest, tf+".latest"); err != nil {
				return nil, err
			}
			if k == 0 {
				ps.Pickup = pt
			} else {
				ps.Delivery = pt
			}
		}
		in.req.Shipments = append(in.req.Shipments, ps)
	}
	// The planner's own checks (amount dimensions, windows, priorities, skills) on a matrix of the right size;
	// the real one is built only for a request that passes them.
	in.req.Matrix = &planner.Matrix{N: len(in.places), Durations: make([]float64, len(in.places)*len(in.places))}
	if err := in.req.Validate(); err != nil {
		return nil, plannerError(err)
	}
	return in, nil
}

// plannerError turns the planner's *FieldError into the API's 400, its field renamed to the body's.
func plannerError(err error) error {
	var fe *planner.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	for _, r := range [][2]string{{".place", ".location"}, {".service", ".service_s"}, {".break.duration", ".break.duration_s"},
		{"options.time_limit", "time_limit_ms"}, {"options.", ""}} {
		if strings.HasSuffix(field, r[0]) || strings.HasPrefix(r[0], "options.") && strings.HasPrefix(field, r[0]) {
			field = strings.Replace(field, r[0], r[1], 1)
			break
		}
	}
	return apiError(dispatch.EInvalid, field, "%s %s", field, fe.Msg)
}

// plans plans a set of vehicles and shipments without touching the live state: the daemon's loop and engine are
// not asked anything. The travel times are the daemon's model for the vehicles' profile.
func (s *Server) plans(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if s.cfg.Travel == nil {
		return apiError(dispatch.EUnavailable, "", planUnavailableReason)
	}
	var b planBody
	if err := decodeUpTo(w, r, &b, false, maxPlanBody); err != nil {
		return err
	}
	in, err := s.compilePlan(&b)
	if err != nil {
		return err
	}
	select {
	case s.planSlots <- struct{}{}:
		defer func() { <-s.planSlots }()
	default:
		return apiError(dispatch.EUnavailable, "", "%d plans are being made; try again shortly", cap(s.planSlots))
	}
	in.req.Matrix = planner.ModelMatrix(s.cfg.Travel, in.places, in.profile)
	plan, err := planner.Solve(r.Context(), &in.req, in.opts)
	if err != nil {
		return plannerError(err)
	}
	if err := r.Context().Err(); err != nil {
		return err // the client is gone; the plan is incomplete
	}
	writeJSON(w, http.StatusOK, in.view(plan))
	return nil
}

// view turns the planner's plan into the answer: places back to locations, seconds back to times.
func (in *planInput) view(p *planner.Plan) planView {
	at := func(sec float64) time.Time {
		return in.start.Add(time.Duration(math.Round(sec*1000)) * time.Millisecond).UTC()
	}
	loc := func(i int) service.Location { return service.Location{Lat: in.places[i][1], Lon: in.places[i][0]} }
	out := planView{Start: in.start, Routes: []planRouteView{}, Unassigned: []planUnassigned{}, Vehicles: p.Vehicles, Cost: round1(p.Cost)}
	for _, rt := range p.Routes {
		v := planRouteView{Vehicle: rt.Vehicle, Cost: round1(rt.Cost), DurationS: round1(rt.Duration)}
		for i, st := range rt.Stops {
			v.Stops = append(v.Stops, planStopView{Kind: st.Kind, Shipment: st.Shipment, Location: loc(st.Place),
				Arrival: at(st.Arrival), Start: at(st.Start), Depart: at(st.Depart), Load: st.Load})
			if i > 0 {
				v.DistanceM += geo.Geographic.Distance(in.places[rt.Stops[i-1].Place], in.places[st.Place])
			}
		}
		v.DistanceM = round1(v.DistanceM)
		if rt.Break != nil {
			v.Break = &planBreakView{Start: at(rt.Break.Start), After: rt.Break.After}
		}
		out.DistanceM += v.DistanceM
		out.Routes = append(out.Routes, v)
	}
	out.DistanceM = round1(out.DistanceM)
	for _, u := range p.Unassigned {
		out.Unassigned = append(out.Unassigned, planUnassigned{Shipment: u.Shipment, Reason: u.Reason})
	}
	return out
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

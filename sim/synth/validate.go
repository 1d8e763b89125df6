package synth

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// Defaults and limits.
const (
	defaultDate       = "2026-01-05"
	defaultName       = "synthetic"
	defaultTickSec    = 30
	defaultServiceMin = 4
	defaultPrepMaxP90 = 3 // default prep.max_min is this many times p90_min
	shareTolerance    = 0.01
	maxOrders         = 1_000_000
	maxCount          = 100_000 // stores of a kind, couriers of a group
	maxRadiusKm       = 100
	maxLatitude       = 85
	minutesPerDay     = 24 * 60
	z90               = 1.2815515655446004 // standard normal 90th percentile
)

// Validate reports every problem with the spec at once, as *Error values joined with errors.Join, each naming the
// field (such as "demand.peaks[1].width_min must be > 0, got 0"); nil if the spec can be generated.
func (s *Spec) Validate() error {
	_, errs := s.resolve()
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// model is a validated spec in the units Generate works in: times in minutes since the day's start, distances in
// metres, shares normalised.
type model struct {
	name        string
	start       time.Time // the day's start (scenario minute zero)
	dayMin      float64
	centre      orb.Point
	radiusM     float64
	districts   int
	districtR   float64 // metres
	spread      float64
	kinds       []kindModel
	atDistrict  bool // couriers start in a district
	shifts      []shiftModel
	curve       curve
	orders      float64
	dropMeanM   float64
	dropMaxM    float64
	target      time.Duration
	maxC2D      time.Duration
	tick        time.Duration
	pickupSvc   time.Duration
	dropoffSvc  time.Duration
	payPerOrder float64
	payPerHour  float64
	shiftLabels []string // per shift group, for courier names
}

type kindModel struct {
	kind, prefix string
	count        int
	share        float64 // normalised
	popSigma     float64
	prep         prepModel
	sizes        []int
	sizeCum      []float64 // cumulative normalised shares; nil: every order is 1 unit
}

type prepModel struct {
	mu, sigma float64 // log-scale; sigma 0: constant exp(mu)
	lo, hi    float64 // minutes
}

type shiftModel struct {
	on, off  time.Time
	count    int
	vehicle  geo.Profile
	capacity int
}

type validator struct{ errs []*Error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// finite reports whether x is a finite number, adding an error if it is not.
func (v *validator) finite(field string, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.add(field, "must be a finite number, got %g", x)
		return false
	}
	return true
}

func (v *validator) positive(field string, x float64) bool {
	if !v.finite(field, x) {
		return false
	}
	if x <= 0 {
		v.add(field, "must be > 0, got %g", x)
		return false
	}
	return true
}

func (v *validator) nonNegative(field string, x float64) bool {
	if !v.finite(field, x) {
		return false
	}
	if x < 0 {
		v.add(field, "must be >= 0, got %g", x)
		return false
	}
	return true
}

func (v *validator) within(field string, x, lo, hi float64) bool {
	if !v.finite(field, x) {
		return false
	}
	if x < lo || x > hi {
		v.add(field, "must be within [%g, %g], got %g", lo, hi, x)
		return false
	}
	return true
}

func (v *validator) count(field string, n, lo, hi int) bool {
	if n < lo || n > hi {
		v.add(field, "must be within [%d, %d], got %d", lo, hi, n)
		return false
	}
	return true
}

// clock parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
func (v *validator) clock(field, s string) (int, bool) {
	if s == "" {
		v.add(field, "is required (a clock time \"HH:MM\")")
		return 0, false
	}
	hh, mm, ok := strings.Cut(s, ":")
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if !ok || errH != nil || errM != nil || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 ||
		h < 0 || m < 0 || m > 59 || h*60+m > minutesPerDay || hh[0] == '+' || hh[0] == '-' || mm[0] == '+' {
		v.add(field, "%q is not a clock time \"HH:MM\" (00:00 to 24:00)", s)
		return 0, false
	}
	return h*60 + m, true
}

func minutes(x float64) time.Duration { return time.Duration(math.Round(x * float64(time.Minute))) }

// resolve validates the spec and, when it is valid, returns it as a model.
func (s *Spec) resolve() (*model, []*Error) {
	v := &validator{}
	m := &model{name: s.Name}
	if m.name == "" {
		m.name = defaultName
	}

	date := s.Date
	if date == "" {
		date = defaultDate
	}
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		v.add("date", "%q is not a date \"YYYY-MM-DD\"", s.Date)
	}

	// City.
	if v.within("city.lat", s.City.Lat, -maxLatitude, maxLatitude) && v.within("city.lon", s.City.Lon, -180, 180) {
		m.centre = orb.Point{s.City.Lon, s.City.Lat}
	}
	cityOK := v.positive("city.radius_km", s.City.RadiusKm) && v.within("city.radius_km", s.City.RadiusKm, 0, maxRadiusKm)
	m.radiusM = s.City.RadiusKm * 1000

	// Day window.
	startMin, startOK := v.clock("day.start", s.Day.Start)
	dayOK := startOK
	if v.positive("day.hours", s.Day.Hours) {
		m.dayMin = s.Day.Hours * 60
		if startOK && float64(startMin)+m.dayMin > minutesPerDay+1e-9 {
			v.add("day.hours", "must end the day by 24:00, but %s plus %g h is past midnight", s.Day.Start, s.Day.Hours)
			dayOK = false
		}
	} else {
		dayOK = false
	}
	m.start = day.Add(time.Duration(startMin) * time.Minute)
	inDay := func(field string, clockMin int, allowEnd bool) bool {
		x := float64(clockMin - startMin)
		if x < 0 || x > m.dayMin || (x == m.dayMin && !allowEnd) {
			v.add(field, "must be within the day (%s plus %g h), got %s", s.Day.Start, s.Day.Hours, clockString(clockMin))
			return false
		}
		return true
	}

	// Promise.
	if v.positive("promise.target_min", s.Promise.TargetMin) {
		m.target = minutes(s.Promise.TargetMin)
		if v.nonNegative("promise.max_click_to_door_min", s.Promise.MaxClickToDoorMin) &&
			s.Promise.MaxClickToDoorMin > 0 && s.Promise.MaxClickToDoorMin < s.Promise.TargetMin {
			v.add("promise.max_click_to_door_min", "must be 0 (no limit) or at least target_min (%g), got %g",
				s.Promise.TargetMin, s.Promise.MaxClickToDoorMin)
		}
		m.maxC2D = minutes(s.Promise.MaxClickToDoorMin)
	}

	// Stores.
	st := s.Stores
	m.districts = st.Districts
	if v.count("stores.districts", st.Districts, 0, maxCount) && st.Districts > 0 {
		if v.positive("stores.district_radius_km", st.DistrictRadiusKm) && cityOK && st.DistrictRadiusKm > s.City.RadiusKm {
			v.add("stores.district_radius_km", "must be at most city.radius_km (%g), got %g", s.City.RadiusKm, st.DistrictRadiusKm)
		}
		m.districtR = st.DistrictRadiusKm * 1000
	}
	if v.within("stores.spread_share", st.SpreadShare, 0, 1) {
		m.spread = st.SpreadShare
	}
	if len(st.Kinds) == 0 {
		v.add("stores.kinds", "must list at least one kind of store")
	}
	kindNames := make(map[string]bool)
	prefixes := make(map[string]bool)
	totalStores, shareSum, sharesOK := 0, 0.0, true
	maxUnits, maxUnitsField := 1, ""
	for i, k := range st.Kinds {
		f := fmt.Sprintf("stores.kinds[%d]", i)
		km := kindModel{kind: k.Kind, prefix: k.Prefix, count: k.Count, popSigma: k.PopularitySigma}
		if k.Kind == "" {
			v.add(f+".kind", "is required")
		} else if kindNames[k.Kind] {
			v.add(f+".kind", "%q is listed twice", k.Kind)
		}
		kindNames[k.Kind] = true
		if km.prefix == "" && k.Kind != "" {
			km.prefix = strings.ToLower(k.Kind[:1])
		}
		switch {
		case !isLowerLetters(km.prefix):
			v.add(f+".prefix", "must be lowercase ASCII letters, got %q (default: the first letter of kind)", km.prefix)
		case prefixes[km.prefix]:
			v.add(f+".prefix", "%q is used by another kind (set a distinct prefix)", km.prefix)
		}
		prefixes[km.prefix] = true
		if v.count(f+".count", k.Count, 0, maxCount) {
			totalStores += k.Count
		}
		if v.within(f+".demand_share", k.DemandShare, 0, 1) {
			shareSum += k.DemandShare
			if k.DemandShare > 0 && k.Count == 0 {
				v.add(f+".count", "must be > 0 for a kind with a positive demand_share")
			}
		} else {
			sharesOK = false
		}
		v.within(f+".popularity_sigma", k.PopularitySigma, 0, 3)
		km.prep = v.prep(f+".prep", k.Prep, s.Promise.TargetMin)
		if len(k.Sizes) > 0 {
			sum, ok := 0.0, true
			for j, sz := range k.Sizes {
				g := fmt.Sprintf("%s.sizes[%d]", f, j)
				if v.count(g+".units", sz.Units, 1, maxCount) && sz.Units > maxUnits {
					maxUnits, maxUnitsField = sz.Units, g+".units"
				}
				if v.within(g+".share", sz.Share, 0, 1) {
					sum += sz.Share
				} else {
					ok = false
				}
				km.sizes = append(km.sizes, sz.Units)
				km.sizeCum = append(km.sizeCum, sum)
			}
			if ok && math.Abs(sum-1) > shareTolerance {
				v.add(f+".sizes", "have shares adding up to %g; they must add up to 1 (±%g)", sum, shareTolerance)
			}
		}
		m.kinds = append(m.kinds, km)
	}
	if len(st.Kinds) > 0 && totalStores == 0 {
		v.add("stores.kinds", "must hold at least one store in total")
	}
	if len(st.Kinds) > 0 && sharesOK && math.Abs(shareSum-1) > shareTolerance {
		v.add("stores.kinds", "have demand_share values adding up to %g; they must add up to 1 (±%g)", shareSum, shareTolerance)
	}
	for i := range m.kinds {
		if shareSum > 0 {
			m.kinds[i].share = st.Kinds[i].DemandShare / shareSum
		}
	}

	// Couriers.
	switch s.Couriers.StartAt {
	case "", "city":
	case "district":
		m.atDistrict = true
		if st.Districts == 0 {
			v.add("couriers.start_at", "is \"district\" but stores.districts is 0")
		}
	default:
		v.add("couriers.start_at", "must be \"city\" or \"district\", got %q", s.Couriers.StartAt)
	}
	totalCouriers, maxCapacity := 0, 0
	for i, g := range s.Couriers.Shifts {
		f := fmt.Sprintf("couriers.shifts[%d]", i)
		sm := shiftModel{count: g.Count, capacity: g.Capacity}
		on, onOK := v.clock(f+".start", g.Start)
		off, offOK := v.clock(f+".end", g.End)
		if onOK && dayOK {
			inDay(f+".start", on, false)
		}
		if onOK && offOK && off <= on {
			v.add(f+".end", "must be after start (%s), got %s", g.Start, g.End)
		}
		sm.on = day.Add(time.Duration(on) * time.Minute)
		sm.off = day.Add(time.Duration(off) * time.Minute)
		if v.count(f+".count", g.Count, 0, maxCount) {
			totalCouriers += g.Count
		}
		if g.Vehicle == "" {
			v.add(f+".vehicle", "is required (foot, bike, ebike, scooter or car)")
		} else if p, err := geo.ParseProfile(g.Vehicle); err != nil {
			v.add(f+".vehicle", "%q is not a vehicle (foot, bike, ebike, scooter or car)", g.Vehicle)
		} else {
			sm.vehicle = p
		}
		if v.count(f+".capacity", g.Capacity, 1, 1000) && g.Count > 0 {
			maxCapacity = max(maxCapacity, g.Capacity)
		}
		m.shifts = append(m.shifts, sm)
		label := g.Name
		if label == "" {
			label = g.Start + "-" + g.End
		}
		m.shiftLabels = append(m.shiftLabels, label)
	}
	if totalCouriers == 0 {
		v.add("couriers.shifts", "must hold at least one courier")
	} else if maxUnits > maxCapacity {
		v.add(maxUnitsField, "%d exceeds every courier's capacity (largest %d)", maxUnits, maxCapacity)
	}

	// Demand.
	d := s.Demand
	if v.count("demand.orders", d.Orders, 1, maxOrders) {
		m.orders = float64(d.Orders)
	}
	curveOK := dayOK
	m.curve = curve{base: 1, length: m.dayMin}
	if d.Base != nil {
		curveOK = v.nonNegative("demand.base", *d.Base) && curveOK
		m.curve.base = *d.Base
	}
	for i, p := range d.Peaks {
		f := fmt.Sprintf("demand.peaks[%d]", i)
		c, ok := v.clock(f+".centre", p.Centre)
		ok = v.positive(f+".width_min", p.WidthMin) && ok
		ok = v.nonNegative(f+".weight", p.Weight) && ok
		curveOK = curveOK && ok
		m.curve.peaks = append(m.curve.peaks, peak{centre: float64(c - startMin), width: p.WidthMin, weight: p.Weight})
	}
	for i, u := range d.Surges {
		f := fmt.Sprintf("demand.surges[%d]", i)
		a, okA := v.clock(f+".start", u.Start)
		b, okB := v.clock(f+".end", u.End)
		ok := okA && okB
		if okA && dayOK {
			ok = inDay(f+".start", a, false) && ok
		}
		if okB && dayOK {
			ok = inDay(f+".end", b, true) && ok
		}
		if okA && okB && b <= a {
			v.add(f+".end", "must be after start (%s), got %s", u.Start, u.End)
			ok = false
		}
		if !v.positive(f+".multiplier", u.Multiplier) {
			ok = false
		} else if u.Multiplier > 100 {
			v.add(f+".multiplier", "must be at most 100, got %g", u.Multiplier)
			ok = false
		}
		curveOK = curveOK && ok
		m.curve.surges = append(m.curve.surges, surge{from: float64(a - startMin), to: float64(b - startMin), mult: u.Multiplier})
	}
	if curveOK {
		if total := m.curve.total(); !(total > 1e-9) || math.IsInf(total, 0) {
			v.add("demand", "has an arrival rate of zero over the day (base 0 and no peak weight within the day)")
		}
	}
	if v.positive("demand.dropoff.mean_km", d.Dropoff.MeanKm) {
		m.dropMeanM = d.Dropoff.MeanKm * 1000
	}
	if v.positive("demand.dropoff.max_km", d.Dropoff.MaxKm) && v.within("demand.dropoff.max_km", d.Dropoff.MaxKm, 0, maxRadiusKm) {
		m.dropMaxM = d.Dropoff.MaxKm * 1000
	}

	// Dispatch and pay.
	tick := s.Dispatch.TickSec
	if v.nonNegative("dispatch.tick_sec", tick) {
		if tick == 0 {
			tick = defaultTickSec
		}
		m.tick = time.Duration(math.Round(tick * float64(time.Second)))
		if m.tick <= 0 {
			v.add("dispatch.tick_sec", "must be at least a nanosecond, got %g", s.Dispatch.TickSec)
		}
	}
	m.pickupSvc = v.service("dispatch.pickup_service_min", s.Dispatch.PickupServiceMin)
	m.dropoffSvc = v.service("dispatch.dropoff_service_min", s.Dispatch.DropoffServiceMin)
	if v.nonNegative("pay.per_order", s.Pay.PerOrder) {
		m.payPerOrder = s.Pay.PerOrder
	}
	if v.nonNegative("pay.per_hour", s.Pay.PerHour) {
		m.payPerHour = s.Pay.PerHour
	}

	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return m, nil
}

func (v *validator) service(field string, x *float64) time.Duration {
	if x == nil {
		return minutes(defaultServiceMin)
	}
	if v.nonNegative(field, *x) && *x > 120 {
		v.add(field, "must be at most 120, got %g", *x)
	}
	return minutes(*x)
}

// prep checks a preparation-time distribution. The engine refuses an order that is ready after its promise, so
// the upper bound is at most the promise target (when that is valid).
func (v *validator) prep(f string, p Prep, target float64) prepModel {
	ok := v.positive(f+".median_min", p.MedianMin)
	if v.positive(f+".p90_min", p.P90Min) && ok && p.P90Min < p.MedianMin {
		v.add(f+".p90_min", "must be at least median_min (%g), got %g", p.MedianMin, p.P90Min)
		ok = false
	}
	ok = v.nonNegative(f+".min_min", p.MinMin) && ok
	if !(target > 0) || math.IsInf(target, 0) {
		target = minutesPerDay
	}
	hi := p.MaxMin
	if hi == 0 {
		hi = min(defaultPrepMaxP90*p.P90Min, target)
	} else {
		ok = v.positive(f+".max_min", p.MaxMin) && ok
	}
	if !ok {
		return prepModel{}
	}
	if p.MinMin > p.MedianMin {
		v.add(f+".min_min", "must be at most median_min (%g), got %g", p.MedianMin, p.MinMin)
	}
	switch {
	case p.MedianMin > target:
		v.add(f+".median_min", "must be at most promise.target_min (%g): an order must be ready by its promise, got %g",
			target, p.MedianMin)
	case hi > target:
		v.add(f+".max_min", "must be at most promise.target_min (%g): an order must be ready by its promise, got %g",
			target, hi)
	case hi < p.MedianMin:
		v.add(f+".max_min", "must be at least median_min (%g), got %g", p.MedianMin, hi)
	}
	return prepModel{
		mu:    math.Log(p.MedianMin),
		sigma: math.Log(p.P90Min/p.MedianMin) / z90,
		lo:    p.MinMin,
		hi:    hi,
	}
}

func isLowerLetters(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

func clockString(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

package synth

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
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
	maxSKUs           = 100_000
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
	name string
	// The day: its date and time zone, the clock minute it starts at, whether it runs past midnight.
	loc          *time.Location
	year         int
	month        time.Month
	day          int
	startMin     int
	pastMidnight bool
	start        time.Time // the day's start (scenario minute zero)
	dayMin       float64
	centre       orb.Point
	radiusM      float64
	districts    int
	districtR    float64 // metres
	spread       float64
	kinds        []kindModel
	atDistrict   bool // couriers start in a district
	shifts       []shiftModel
	curve        curve
	orders       float64
	dropMeanM    float64
	dropMaxM     float64
	target       time.Duration
	maxC2D       time.Duration
	tick         time.Duration
	pickupSvc    time.Duration
	dropoffSvc   time.Duration
	payPerOrder  float64
	payPerHour   float64
	shiftLabels  []string // per shift group, for courier names

	// Fulfilment (nil or zero when the spec has none of it).
	fulfil     bool
	catalogue  *catalogueModel
	searchM    float64 // 0: the network's default
	candidates int     // 0: the network's default
	byItems    float64
	collect    *collectModel
	slots      *slotModel
}

type catalogueModel struct {
	skus               []string
	popCum             []float64 // cumulative popularity weights, by rank
	relPop             []float64 // popularity over the mean popularity, by rank
	linesMean, qtyMean float64
	linesMax, qtyMax   int
}

type stockModel struct {
	assortment float64
	mu, sigma  float64 // log-scale, for a product of mean popularity
	follow     float64
}

type collectModel struct {
	share float64
	delay prepModel // minutes
}

type slotModel struct {
	length time.Duration
	count  int
	share  float64
}

type kindModel struct {
	kind, prefix string
	count        int
	share        float64 // normalised
	popSigma     float64
	prep         prepModel
	sizes        []int
	sizeCum      []float64 // cumulative normalised shares; nil: every order is 1 unit
	hours        *fulfil.Hours
	pickers      int
	stock        *stockModel
	restock      []time.Time
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
	m.loc = v.zone("timezone", s.Timezone, time.UTC)
	m.year, m.month, m.day = day.Date()

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
		if m.dayMin > minutesPerDay+1e-9 {
			v.add("day.hours", "must be at most 24, got %g", s.Day.Hours)
			dayOK = false
		}
	} else {
		dayOK = false
	}
	m.startMin = startMin
	m.pastMidnight = float64(startMin)+m.dayMin > minutesPerDay+1e-9
	m.start = m.at(startMin)
	inDay := func(field string, clockMin int, allowEnd bool) bool {
		x := m.offset(clockMin)
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

	m.catalogue = v.catalogue(s.Catalogue)

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
		v.storeSide(f, k, &km, m)
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
		sm.on, sm.off = m.at(on), m.at(off)
		if onOK && offOK && !sm.off.After(sm.on) {
			v.add(f+".end", "must be after start (%s), got %s", g.Start, g.End)
		}
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
		m.curve.peaks = append(m.curve.peaks, peak{centre: m.offset(c), width: p.WidthMin, weight: p.Weight})
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
		if okA && okB && m.offset(b) <= m.offset(a) {
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
		m.curve.surges = append(m.curve.surges, surge{from: m.offset(a), to: m.offset(b), mult: u.Multiplier})
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

	v.fulfilment(s, m)

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

// at is the instant of a clock time (minutes after midnight) of the day: on the date, or on the next day when the
// day runs past midnight and the time is before its start. Built from the date's fields, it follows daylight
// saving.
func (m *model) at(clockMin int) time.Time {
	if m.pastMidnight && clockMin < m.startMin {
		clockMin += minutesPerDay
	}
	return time.Date(m.year, m.month, m.day, 0, clockMin, 0, 0, m.loc)
}

// offset is the minutes from the start of the day to a clock time of the day.
func (m *model) offset(clockMin int) float64 { return m.at(clockMin).Sub(m.start).Minutes() }

// zone loads an IANA time zone; an empty name is def.
func (v *validator) zone(field, name string, def *time.Location) *time.Location {
	if name == "" {
		return def
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		v.add(field, "%q is not a time zone (an IANA name such as \"Asia/Shanghai\")", name)
		return def
	}
	return loc
}

// catalogue checks the catalogue and works out the products' popularity.
func (v *validator) catalogue(c *Catalogue) *catalogueModel {
	if c == nil {
		return nil
	}
	cm := &catalogueModel{linesMean: 1, linesMax: 10, qtyMean: 1, qtyMax: 5}
	ok := v.count("catalogue.skus", c.SKUs, 1, maxSKUs)
	ok = v.within("catalogue.popularity_skew", c.PopularitySkew, 0, 5) && ok
	if c.LinesMean != 0 && v.within("catalogue.lines_mean", c.LinesMean, 1, 50) {
		cm.linesMean = c.LinesMean
	}
	if c.LinesMax != 0 && v.count("catalogue.lines_max", c.LinesMax, 1, fulfil.MaxItems) {
		cm.linesMax = c.LinesMax
	}
	if c.QtyMean != 0 && v.within("catalogue.qty_mean", c.QtyMean, 1, 100) {
		cm.qtyMean = c.QtyMean
	}
	// lines_max × qty_max stays within the API's largest quantity of a product, however the lines merge.
	if c.QtyMax != 0 && v.count("catalogue.qty_max", c.QtyMax, 1, fulfil.MaxQty/fulfil.MaxItems) {
		cm.qtyMax = c.QtyMax
	}
	if !ok {
		return cm
	}
	width := len(strconv.Itoa(c.SKUs))
	var sum float64
	for k := 1; k <= c.SKUs; k++ {
		w := math.Pow(float64(k), -c.PopularitySkew)
		sum += w
		cm.skus = append(cm.skus, fmt.Sprintf("sku%0*d", max(width, 3), k))
		cm.popCum = append(cm.popCum, sum)
		cm.relPop = append(cm.relPop, w)
	}
	for i := range cm.relPop {
		cm.relPop[i] *= float64(c.SKUs) / sum
	}
	return cm
}

// storeSide checks a kind's hours, pickers, stock and restocks.
func (v *validator) storeSide(f string, k StoreKind, km *kindModel, m *model) {
	if len(k.Hours) > 0 || k.Pickers != 0 || k.Stock != nil || len(k.Restock) > 0 {
		m.fulfil = true
	}
	loc := v.zone(f+".timezone", k.Timezone, m.loc)
	if len(k.Hours) > 0 {
		km.hours = v.hours(f+".hours", k.Hours, loc)
	}
	if v.count(f+".pickers", k.Pickers, 0, maxCount) {
		km.pickers = k.Pickers
	}
	if st := k.Stock; st != nil {
		if m.catalogue == nil {
			v.add(f+".stock", "needs a catalogue (the products to stock)")
		}
		sm := &stockModel{assortment: 1, follow: st.FollowPopularity}
		if st.Assortment != 0 && v.within(f+".stock.assortment", st.Assortment, 0, 1) {
			sm.assortment = st.Assortment
		}
		if v.positive(f+".stock.median_units", st.MedianUnits) && v.positive(f+".stock.p90_units", st.P90Units) {
			if st.P90Units < st.MedianUnits {
				v.add(f+".stock.p90_units", "must be at least median_units (%g), got %g", st.MedianUnits, st.P90Units)
			}
			sm.mu, sm.sigma = math.Log(st.MedianUnits), math.Log(st.P90Units/st.MedianUnits)/z90
		}
		v.within(f+".stock.follow_popularity", st.FollowPopularity, 0, 1)
		km.stock = sm
	}
	if len(k.Restock) > 0 && k.Stock == nil {
		v.add(f+".restock", "needs stock to restock")
	}
	for i, r := range k.Restock {
		field := fmt.Sprintf("%s.restock[%d]", f, i)
		if c, ok := v.clock(field, r); ok {
			if x := m.offset(c); x < 0 || x > m.dayMin {
				v.add(field, "must be within the day (%s plus %g h), got %s", clockString(m.startMin), m.dayMin/60, r)
			}
			km.restock = append(km.restock, m.at(c))
		}
	}
}

// hours reads an opening schedule in the API's form, with "daily" for the days not listed.
func (v *validator) hours(f string, days map[string][]string, loc *time.Location) *fulfil.Hours {
	week := make(map[string][]string, 7)
	for _, d := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		if spans, ok := days["daily"]; ok {
			week[d] = spans
		}
	}
	for d, spans := range days {
		if d != "daily" {
			week[d] = spans
		}
	}
	h, err := fulfil.ParseHours(week, loc)
	if err != nil {
		field := f
		var de *dispatch.Error
		if errors.As(err, &de) {
			name := strings.TrimPrefix(de.Field, "hours")
			// A day filled in from "daily" is reported as "daily".
			if day, _, _ := strings.Cut(strings.TrimPrefix(name, "."), "["); day != "" {
				if _, listed := days[day]; !listed {
					name = ".daily" + strings.TrimPrefix(strings.TrimPrefix(name, "."), day)
				}
			}
			field += name
			err = errors.New(de.Message)
		}
		v.add(field, "%v", err)
		return nil
	}
	return h
}

// fulfilment checks the orders' side: items, collection, slots.
func (v *validator) fulfilment(s *Spec, m *model) {
	d := s.Demand
	if s.Catalogue != nil || d.ByItemsShare != 0 || d.Collect != nil || s.Promise.Slots != nil {
		m.fulfil = true
	}
	if v.within("demand.by_items_share", d.ByItemsShare, 0, 1) {
		m.byItems = d.ByItemsShare
		if d.ByItemsShare > 0 && !slices.ContainsFunc(m.kinds, func(k kindModel) bool { return k.stock != nil }) {
			v.add("demand.by_items_share", "needs a kind of store with stock (orders name items the stores stock)")
		}
	}
	if c := d.Collect; c != nil {
		cm := &collectModel{}
		if v.within("demand.collect.share", c.Share, 0, 1) {
			cm.share = c.Share
		}
		ok := v.positive("demand.collect.delay_median_min", c.DelayMedianMin)
		if v.positive("demand.collect.delay_p90_min", c.DelayP90Min) && ok && c.DelayP90Min < c.DelayMedianMin {
			v.add("demand.collect.delay_p90_min", "must be at least delay_median_min (%g), got %g", c.DelayMedianMin, c.DelayP90Min)
			ok = false
		}
		hi := c.DelayMaxMin
		if hi == 0 {
			hi = defaultPrepMaxP90 * c.DelayP90Min
		} else if v.positive("demand.collect.delay_max_min", hi) && ok && hi < c.DelayMedianMin {
			v.add("demand.collect.delay_max_min", "must be at least delay_median_min (%g), got %g", c.DelayMedianMin, hi)
			ok = false
		}
		if ok {
			cm.delay = prepModel{mu: math.Log(c.DelayMedianMin), sigma: math.Log(c.DelayP90Min/c.DelayMedianMin) / z90, hi: hi}
		}
		m.collect = cm
	}
	if sl := s.Promise.Slots; sl != nil {
		sm := &slotModel{share: 1}
		if v.positive("promise.slots.slot_min", sl.SlotMin) {
			sm.length = minutes(sl.SlotMin)
		}
		if v.count("promise.slots.count", sl.Count, 1, 96) {
			sm.count = sl.Count
		}
		if sl.Share != nil && v.within("promise.slots.share", *sl.Share, 0, 1) {
			sm.share = *sl.Share
		}
		if !slices.ContainsFunc(m.kinds, func(k kindModel) bool { return k.hours != nil }) {
			v.add("promise.slots", "needs a kind of store with hours (slots are booked at closed stores)")
		}
		m.slots = sm
	}
	if r := s.Stores.SearchRadiusKm; v.nonNegative("stores.search_radius_km", r) {
		m.searchM = r * 1000
		if r > maxRadiusKm {
			v.add("stores.search_radius_km", "must be at most %d, got %g", maxRadiusKm, r)
		}
	}
	if v.count("stores.candidates", s.Stores.Candidates, 0, 1000) {
		m.candidates = s.Stores.Candidates
	}
}

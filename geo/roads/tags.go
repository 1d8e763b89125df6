package roads

import (
	"math"
	"strconv"
	"strings"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// tagLookup returns the value of an OSM way's tag, or "" when the way does not have it.
type tagLookup func(key string) string

// wayRule is what one way offers one profile: whether it may be used forwards (in the way's node order) and
// backwards, and at what speed in km/h.
type wayRule struct {
	fwd, bwd bool
	kmh      float64
}

// Speeds in km/h. The road classes' figures are urban averages for a car; a profile's own cap (maxKMH) applies
// on top, so a scooter never exceeds 45 km/h, whatever the road allows.
var carKMH = map[string]float64{
	"motorway": 90, "motorway_link": 50,
	"trunk": 70, "trunk_link": 45,
	"primary": 50, "primary_link": 40,
	"secondary": 45, "secondary_link": 35,
	"tertiary": 40, "tertiary_link": 30,
	"unclassified": 30, "residential": 25, "road": 25,
	"living_street": 10, "service": 15, "track": 15,
}

// Bicycle speeds in km/h; the e-bike rides at ebikeFactor times these, so the two share one graph (see
// [Network]).
const (
	bikeRoadKMH     = 16
	bikeCyclewayKMH = 18
	bikePathKMH     = 14
	bikeDismountKMH = 5
	ebikeFactor     = 1.25 // 16 → 20, 18 → 22.5 km/h: under the e-bike's 25 km/h assistance limit
	footKMH         = 5
	footStepsKMH    = 3
	scooterMaxKMH   = 45
	carMaxKMH       = 130
	// WalkKMH is the speed at which the distance between a point and its place on the road is walked.
	WalkKMH = 5
)

// motorClasses are the highway classes open to motor vehicles by default.
var motorClasses = map[string]bool{
	"motorway": true, "motorway_link": true, "trunk": true, "trunk_link": true,
	"primary": true, "primary_link": true, "secondary": true, "secondary_link": true,
	"tertiary": true, "tertiary_link": true, "unclassified": true, "residential": true,
	"road": true, "living_street": true, "service": true, "track": true,
}

// classAccess is the default access of a highway class for foot, bicycle, moped and car, before access tags.
func classAccess(class string) (foot, bike, moped, car bool) {
	switch class {
	case "motorway", "motorway_link":
		return false, false, false, true
	case "pedestrian", "footway", "steps", "bridleway", "corridor":
		return true, false, false, false
	case "path":
		return true, true, false, false
	case "cycleway":
		return true, true, false, false
	}
	if motorClasses[class] {
		return true, true, true, true
	}
	return false, false, false, false
}

// accessValue reads one access tag value: yes (known and allowed), no (known and refused), or unknown ("" or a
// value this package does not interpret, which leaves the more general tag in force).
func accessValue(v string) (allowed, known bool) {
	switch v {
	case "yes", "designated", "permissive", "destination", "delivery", "customers", "official", "discouraged", "dismount":
		return true, true
	case "no", "private", "agricultural", "forestry", "use_sidepath", "military":
		return false, true
	}
	return false, false
}

// resolveAccess applies the tags from general to specific: the last one that is set decides.
func resolveAccess(def bool, tags tagLookup, keys ...string) bool {
	a := def
	for _, k := range keys {
		if v, ok := accessValue(tags(k)); ok {
			a = v
		}
	}
	return a
}

// onewayDir reads a oneway-style value: +1 forwards only, -1 backwards only, 0 both ways, and ok=false when the
// value is absent or not understood.
func onewayDir(v string) (dir int, ok bool) {
	switch v {
	case "yes", "1", "true":
		return 1, true
	case "-1", "reverse":
		return -1, true
	case "no", "0", "false":
		return 0, true
	}
	return 0, false
}

// bikeContraflow reports whether a one-way street has a lane or track for bicycles against its direction.
func bikeContraflow(tags tagLookup) bool {
	if strings.HasPrefix(tags("cycleway"), "opposite") {
		return true
	}
	for _, side := range []string{"left", "right", "both"} {
		switch tags("cycleway:" + side) {
		case "opposite_lane", "opposite_track", "opposite_share_busway", "opposite":
			return true
		}
		if tags("cycleway:"+side+":oneway") == "no" {
			return true
		}
	}
	return false
}

// parseMaxspeed reads an OSM maxspeed value in km/h: a number, "N mph", "walk", "none", or a country code's
// implicit limit such as "FR:urban" (50), "DE:rural" (80), "IT:motorway" (120), "DE:living_street" (10),
// "DE:zone30" (30). ok is false for anything else, which leaves the road class's speed in force.
func parseMaxspeed(v string) (kmh float64, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	switch v {
	case "walk":
		return 6, true
	case "none", "signals", "variable":
		return 0, false
	}
	if i := strings.IndexByte(v, ':'); i > 0 {
		kind := strings.ToLower(v[i+1:])
		switch {
		case kind == "urban":
			return 50, true
		case kind == "rural", kind == "trunk":
			return 80, true
		case kind == "motorway":
			return 120, true
		case kind == "living_street", kind == "walk", kind == "pedestrian":
			return 10, true
		case strings.HasPrefix(kind, "zone"):
			n, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimPrefix(kind, "zone"), ":"), 64)
			if err == nil && n > 0 && n < 200 {
				return n, true
			}
		}
		return 0, false
	}
	factor := 1.0
	if strings.HasSuffix(v, "mph") {
		factor = 1.609344
		v = strings.TrimSpace(strings.TrimSuffix(v, "mph"))
	} else if strings.HasSuffix(v, "km/h") {
		v = strings.TrimSpace(strings.TrimSuffix(v, "km/h"))
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) || n > 300 {
		return 0, false
	}
	return n * factor, true
}

// graphProfiles are the profiles that own a graph; the e-bike rides on the bicycle's graph.
var graphProfiles = [...]geo.Profile{geo.Foot, geo.Bike, geo.Scooter, geo.Car}

// numGraphs is len(graphProfiles).
const numGraphs = len(graphProfiles)

// graphOf is the index in graphProfiles of the graph a profile travels on, and scaleOf what its durations are
// multiplied by on that graph.
func graphOf(p geo.Profile) int {
	switch p {
	case geo.Foot:
		return 0
	case geo.Bike, geo.EBike:
		return 1
	case geo.Scooter:
		return 2
	}
	return 3
}

func scaleOf(p geo.Profile) float64 {
	if p == geo.EBike {
		return 1 / ebikeFactor
	}
	return 1
}

// wayRules returns, for each graph (foot, bike, scooter, car), what an OSM way with these tags offers; all
// false when the way is not a road for anyone.
func wayRules(tags tagLookup) (rules [numGraphs]wayRule) {
	class := tags("highway")
	if class == "" || tags("area") == "yes" {
		return rules
	}
	// Private roads are out for everyone, whatever a more specific tag says: a courier cannot count on being
	// let in. Roads under construction, proposed or abandoned have highway classes of their own
	// (construction, proposed, abandoned) that classAccess does not open.
	if tags("access") == "private" || tags("route") == "ferry" {
		return rules
	}
	footOK, bikeOK, mopedOK, carOK := classAccess(class)
	if tags("motorroad") == "yes" {
		footOK, bikeOK, mopedOK = false, false, false
	}
	footOK = resolveAccess(footOK, tags, "access", "foot")
	bikeOK = resolveAccess(bikeOK, tags, "access", "vehicle", "bicycle")
	mopedOK = resolveAccess(mopedOK, tags, "access", "vehicle", "motor_vehicle", "moped")
	carOK = resolveAccess(carOK, tags, "access", "vehicle", "motor_vehicle", "motorcar")
	if class == "steps" {
		bikeOK, mopedOK, carOK = false, false, false
	}

	// One-way rules for vehicles.
	oneway, ok := onewayDir(tags("oneway"))
	if !ok {
		oneway = 0
		if class == "motorway" || class == "motorway_link" {
			oneway = 1
		}
		switch tags("junction") {
		case "roundabout", "circular":
			oneway = 1
		}
	}
	motorFwd, motorBwd := oneway >= 0, oneway <= 0
	if v := tags("oneway"); v == "reversible" || v == "alternating" {
		motorFwd, motorBwd = false, false
	}
	bikeWay := oneway
	if d, ok := onewayDir(tags("oneway:bicycle")); ok {
		bikeWay = d
	} else if oneway != 0 && bikeContraflow(tags) {
		bikeWay = 0
	}

	// Speeds.
	motorKMH, known := carKMH[class]
	if !known {
		motorKMH = 20
	}
	if ms, ok := parseMaxspeed(tags("maxspeed")); ok {
		motorKMH = ms
	}
	bikeKMH := float64(bikeRoadKMH)
	switch class {
	case "cycleway":
		bikeKMH = bikeCyclewayKMH
	case "path", "track", "footway", "pedestrian", "bridleway":
		bikeKMH = bikePathKMH
	}
	if tags("bicycle") == "dismount" {
		bikeKMH = bikeDismountKMH
	}
	walk := float64(footKMH)
	if class == "steps" {
		walk = footStepsKMH
	}

	if footOK {
		rules[0] = wayRule{fwd: true, bwd: true, kmh: walk}
	}
	if bikeOK {
		rules[1] = wayRule{fwd: bikeWay >= 0, bwd: bikeWay <= 0, kmh: bikeKMH}
	}
	if mopedOK && (motorFwd || motorBwd) {
		rules[2] = wayRule{fwd: motorFwd, bwd: motorBwd, kmh: math.Min(motorKMH, scooterMaxKMH)}
	}
	if carOK && (motorFwd || motorBwd) {
		rules[3] = wayRule{fwd: motorFwd, bwd: motorBwd, kmh: math.Min(motorKMH, carMaxKMH)}
	}
	return rules
}

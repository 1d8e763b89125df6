package roads

import (
	"strings"
	"testing"
)

func lookup(kv string) tagLookup {
	m := map[string]string{}
	for _, f := range strings.Fields(kv) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// dirs writes what a way offers each graph (foot, bike, scooter, car) as "fb" for both ways, "f-" forwards,
// "-b" backwards, "--" closed.
func dirs(r [numGraphs]wayRule) string {
	var s []string
	for _, x := range r {
		d := []byte("--")
		if x.fwd {
			d[0] = 'f'
		}
		if x.bwd {
			d[1] = 'b'
		}
		s = append(s, string(d))
	}
	return strings.Join(s, " ")
}

func TestWayRulesAccess(t *testing.T) {
	for _, c := range []struct {
		tags string
		want string // foot bike scooter car
	}{
		{"highway=residential", "fb fb fb fb"},
		{"highway=residential oneway=yes", "fb f- f- f-"},
		{"highway=residential oneway=-1", "fb -b -b -b"},
		{"highway=residential oneway=true oneway:bicycle=no", "fb fb f- f-"},
		{"highway=residential oneway=yes cycleway=opposite", "fb fb f- f-"},
		{"highway=residential oneway=yes cycleway:left=opposite_track", "fb fb f- f-"},
		{"highway=residential oneway=yes cycleway:right:oneway=no", "fb fb f- f-"},
		{"highway=residential oneway=no", "fb fb fb fb"},
		{"highway=residential junction=roundabout", "fb f- f- f-"},
		{"highway=tertiary junction=circular", "fb f- f- f-"},
		{"highway=motorway", "-- -- -- f-"},
		{"highway=motorway_link", "-- -- -- f-"},
		{"highway=motorway oneway=no", "-- -- -- fb"},
		{"highway=trunk motorroad=yes", "-- -- -- fb"},
		{"highway=footway", "fb -- -- --"},
		{"highway=footway bicycle=yes", "fb fb -- --"},
		{"highway=pedestrian bicycle=designated", "fb fb -- --"},
		{"highway=cycleway", "fb fb -- --"},
		{"highway=cycleway foot=no", "-- fb -- --"},
		{"highway=cycleway moped=yes", "fb fb fb --"},
		{"highway=path", "fb fb -- --"},
		{"highway=steps", "fb -- -- --"},
		{"highway=steps bicycle=yes", "fb -- -- --"},
		{"highway=service access=private", "-- -- -- --"},
		{"highway=residential access=private foot=yes", "-- -- -- --"},
		{"highway=residential access=no foot=yes", "fb -- -- --"},
		{"highway=residential access=no bicycle=permissive", "-- fb -- --"},
		{"highway=residential motor_vehicle=no", "fb fb -- --"},
		{"highway=residential motor_vehicle=no motorcar=destination", "fb fb -- fb"},
		{"highway=residential motor_vehicle=private moped=yes", "fb fb fb --"},
		{"highway=residential vehicle=no", "fb -- -- --"},
		{"highway=residential vehicle=no bicycle=yes", "fb fb -- --"},
		{"highway=residential foot=use_sidepath", "-- fb fb fb"},
		{"highway=residential area=yes", "-- -- -- --"},
		{"highway=pedestrian area=yes", "-- -- -- --"},
		{"highway=construction construction=residential", "-- -- -- --"},
		{"highway=proposed", "-- -- -- --"},
		{"highway=abandoned", "-- -- -- --"},
		{"route=ferry", "-- -- -- --"},
		{"highway=residential route=ferry", "-- -- -- --"},
		{"waterway=river", "-- -- -- --"},
		{"highway=residential oneway=reversible", "fb fb -- --"},
	} {
		if got := dirs(wayRules(lookup(c.tags))); got != c.want {
			t.Errorf("%s: %s, want %s", c.tags, got, c.want)
		}
	}
}

func TestWayRulesSpeeds(t *testing.T) {
	for _, c := range []struct {
		tags string
		want [numGraphs]float64 // km/h: foot bike scooter car
	}{
		{"highway=residential", [numGraphs]float64{footKMH, bikeRoadKMH, 25, 25}},
		{"highway=primary maxspeed=70", [numGraphs]float64{footKMH, bikeRoadKMH, scooterMaxKMH, 70}},
		{"highway=primary maxspeed=30", [numGraphs]float64{footKMH, bikeRoadKMH, 30, 30}},
		{"highway=primary maxspeed=FR:urban", [numGraphs]float64{footKMH, bikeRoadKMH, 45, 50}},
		{"highway=motorway maxspeed=none", [numGraphs]float64{0, 0, 0, carKMH["motorway"]}},
		{"highway=cycleway", [numGraphs]float64{footKMH, bikeCyclewayKMH, 0, 0}},
		{"highway=footway bicycle=dismount", [numGraphs]float64{footKMH, bikeDismountKMH, 0, 0}},
		{"highway=steps", [numGraphs]float64{footStepsKMH, 0, 0, 0}},
		{"highway=living_street maxspeed=walk", [numGraphs]float64{footKMH, bikeRoadKMH, 6, 6}},
	} {
		r := wayRules(lookup(c.tags))
		for g := range r {
			if r[g].kmh != c.want[g] {
				t.Errorf("%s: graph %s at %g km/h, want %g", c.tags, graphNames[g], r[g].kmh, c.want[g])
			}
		}
	}
}

func TestParseMaxspeed(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"50", 50, true},
		{"50 km/h", 50, true},
		{"30 mph", 30 * 1.609344, true},
		{"20mph", 20 * 1.609344, true},
		{"walk", 6, true},
		{"FR:urban", 50, true},
		{"DE:rural", 80, true},
		{"IT:motorway", 120, true},
		{"DE:living_street", 10, true},
		{"DE:zone30", 30, true},
		{"DE:zone:20", 20, true},
		{"none", 0, false},
		{"signals", 0, false},
		{"", 0, false},
		{"fast", 0, false},
		{"-5", 0, false},
		{"NaN", 0, false},
		{"1e400", 0, false},
		{"XX:unknown", 0, false},
	} {
		got, ok := parseMaxspeed(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseMaxspeed(%q) = %g, %v; want %g, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

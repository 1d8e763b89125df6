package synth

import (
	"errors"
	"strings"
	"testing"
)

// validJSON is a small valid scenario file; tests change it with strings.Replace.
const validJSON = `{
  "name": "test-town",
  "city": {"lat": 30.0, "lon": 120.0, "radius_km": 3},
  "day": {"start": "10:00", "hours": 10},
  "stores": {
    "districts": 2, "district_radius_km": 0.5, "spread_share": 0.25,
    "kinds": [
      {"kind": "restaurant", "count": 10, "demand_share": 0.8,
       "prep": {"median_min": 12, "p90_min": 20, "min_min": 3, "max_min": 30}},
      {"kind": "convenience", "count": 3, "demand_share": 0.2,
       "prep": {"median_min": 4, "p90_min": 7},
       "sizes": [{"units": 1, "share": 0.7}, {"units": 2, "share": 0.3}]}
    ]
  },
  "couriers": {
    "shifts": [
      {"start": "10:00", "end": "15:00", "count": 5, "vehicle": "ebike", "capacity": 3},
      {"start": "16:00", "end": "20:30", "count": 5, "vehicle": "bike", "capacity": 2}
    ]
  },
  "demand": {
    "orders": 200,
    "peaks": [
      {"name": "lunch", "centre": "12:00", "width_min": 45, "weight": 3},
      {"name": "dinner", "centre": "18:00", "width_min": 50, "weight": 2}
    ],
    "surges": [{"start": "19:00", "end": "20:00", "multiplier": 1.5}],
    "dropoff": {"mean_km": 1.2, "max_km": 3}
  },
  "promise": {"target_min": 35}
}`

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("test file does not contain %q", old)
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseValid(t *testing.T) {
	s, err := Parse(strings.NewReader(validJSON), "dir/test.json")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "test-town" || s.Stores.Kinds[1].Sizes[1].Units != 2 || s.Demand.Surges[0].Multiplier != 1.5 {
		t.Errorf("parsed spec is off: %+v", s)
	}
	// Without a name, the file's base name stands in.
	s, err = Parse(strings.NewReader(mustReplace(t, validJSON, `"name": "test-town",`, "")), "dir/other.json")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "other" {
		t.Errorf("default name %q, want %q", s.Name, "other")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       string // the whole error message
	}{
		{"syntax", "{\n  \"city\": {\"lat\": 30 \"lon\": 120}\n}",
			`bad.json:2:22: invalid character '"' after object key:value pair`},
		{"truncated", "{\n  \"city\": {",
			`bad.json:2:12: unexpected end of JSON input`},
		{"empty", "", `bad.json:1:1: unexpected end of JSON input`},
		{"trailing data", "{}\n{}", `bad.json:2:1: invalid character '{' after top-level value`},
		{"not an object", "[1, 2]", `bad.json:1:1: expected an object, got an array`},
		{"unknown field", "{\n  \"demand\": {\n    \"peaks\": [\n      {\"centre\": \"12:00\"},\n" +
			"      {\"centre\": \"18:00\", \"widht_min\": 30}\n    ]\n  }\n}",
			`bad.json:5:27: demand.peaks[1]: unknown field "widht_min"`},
		{"unknown top-level field", "{\"name\": \"x\",\n \"citty\": {}}", `bad.json:2:2: unknown field "citty"`},
		{"case-sensitive names", `{"Name": "x"}`, `bad.json:1:2: unknown field "Name"`},
		{"duplicate field", "{\"city\": {\"lat\": 1,\n  \"lat\": 2}}", `bad.json:2:3: city: duplicate field "lat"`},
		{"string for number", "{\"city\": {\n  \"radius_km\": \"8\"}}", `bad.json:2:16: city.radius_km: expected a number, got a string`},
		{"fraction for integer", `{"demand": {"orders": 12.5}}`, `bad.json:1:23: demand.orders: expected an integer, got 12.5`},
		{"object for array", `{"demand": {"peaks": {}}}`, `bad.json:1:22: demand.peaks: expected an array, got an object`},
		{"number for string", `{"couriers": {"shifts": [{"start": 10}]}}`,
			`bad.json:1:36: couriers.shifts[0].start: expected a string, got a number`},
		{"bool for number", `{"demand": {"base": true}}`, `bad.json:1:21: demand.base: expected a number, got true or false`},
		{"out of range", `{"city": {"lat": 1e999}}`, `bad.json:1:18: city.lat: number 1e999 is out of range`},
		{"non-ASCII column", "{\"description\": \"café\", \"x\": 1}", `bad.json:1:25: unknown field "x"`},
		{"semantic", mustReplace(t, validJSON, `"width_min": 50`, `"width_min": 0`),
			`bad.json: demand.peaks[1].width_min must be > 0, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.file), "bad.json")
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "bad.json" {
				t.Errorf("error %v is not an *Error naming the file", err)
			}
		})
	}
}

func TestParseHours(t *testing.T) {
	kind := `"prep": {"median_min": 4, "p90_min": 7},`
	ok := mustReplace(t, validJSON, kind, kind+` "hours": {"daily": ["08:00-22:00"], "sun": []}, "pickers": 2,`)
	s, err := Parse(strings.NewReader(ok), "ok.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stores.Kinds[1].Hours; len(got["daily"]) != 1 || got["sun"] == nil || len(got["sun"]) != 0 {
		t.Errorf("hours read as %v", got)
	}
	for _, c := range []struct{ hours, want string }{
		{`{"daily": [8]}`, `stores.kinds[1].hours.daily[0]: expected a string, got a number`},
		{`{"mon": "08:00-22:00"}`, `stores.kinds[1].hours.mon: expected an array, got a string`},
		{`{"mon": [], "mon": []}`, `stores.kinds[1].hours: duplicate field "mon"`},
		{`["08:00-22:00"]`, `stores.kinds[1].hours: expected an object, got an array`},
	} {
		bad := mustReplace(t, validJSON, kind, kind+` "hours": `+c.hours+`,`)
		_, err := Parse(strings.NewReader(bad), "bad.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("hours %s: error %v, want one ending %q", c.hours, err, c.want)
		}
	}
}

func TestParseReportsEverySemanticError(t *testing.T) {
	file := mustReplace(t, validJSON, `"width_min": 50`, `"width_min": -5`)
	file = mustReplace(t, file, `"count": 10`, `"count": -1`)
	file = mustReplace(t, file, `"end": "15:00"`, `"end": "09:30"`)
	_, err := Parse(strings.NewReader(file), "bad.json")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"bad.json: demand.peaks[1].width_min must be > 0, got -5",
		"bad.json: stores.kinds[0].count must be within [0, 100000], got -1",
		"bad.json: couriers.shifts[0].end must be after start (10:00), got 09:30",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%s\ndoes not hold %q", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.json"); err == nil {
		t.Error("no error for a missing file")
	}
}

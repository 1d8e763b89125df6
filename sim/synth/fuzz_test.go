package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseScenario parses a made-up scenario file. Parse never panics, and every error it returns is made of
// *Error values, a JSON error located within the file. What it accepts is a spec that validates, that writes back
// to JSON and parses to the same spec, and (when small enough to draw quickly) that Generate turns into a valid
// scenario, the same one every time for a seed.
//
// Seeds: the test suite's valid file and the shipped scenarios (sim/scenarios), and near-valid files in testdata.
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(validJSON))
	for _, name := range []string{"../scenarios/small-town.json", "../scenarios/city-day.json"} {
		if s, err := Load(name); err == nil {
			b, _ := json.Marshal(s)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a spec that does not validate: %v", err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(bytes.NewReader(b), "fuzz.json")
		if err != nil {
			t.Fatalf("the accepted spec, written back, is refused: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("the accepted spec, written back and parsed, differs:\n%+v\n%+v", s, back)
		}
		if !smallSpec(s) {
			return
		}
		sc, err := Generate(s, 1)
		if err != nil {
			t.Fatalf("Parse accepted a spec Generate refuses: %v", err)
		}
		again, err := Generate(s, 1)
		if err != nil || !reflect.DeepEqual(sc, again) {
			t.Fatalf("Generate is not deterministic (%v)", err)
		}
	})
}

// smallSpec reports whether a spec draws quickly (the fuzzer must not spend its time on a million orders).
func smallSpec(s *Spec) bool {
	n := s.Demand.Orders
	for _, k := range s.Stores.Kinds {
		n += k.Count
	}
	for _, g := range s.Couriers.Shifts {
		n += g.Count
	}
	return n <= 3000
}

// checkParseError checks that a refusal is made of *Error values, and that a JSON error is located within the file.
func checkParseError(t *testing.T, data []byte, err error) {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	lines := 1 + bytes.Count(data, []byte{'\n'})
	for _, e := range errs {
		var pe *Error
		if !errors.As(e, &pe) || pe.Msg == "" || pe.File != "fuzz.json" {
			t.Fatalf("error %q (%T) is not a located *Error", e, e)
		}
		if pe.Line < 0 || pe.Line > lines || (pe.Line > 0) != (pe.Column > 0) {
			t.Fatalf("error %q: line %d column %d, the file has %d lines", e, pe.Line, pe.Column, lines)
		}
		if pe.Line == 0 && pe.Field == "" {
			t.Fatalf("error %q names neither a place nor a field", e)
		}
	}
}

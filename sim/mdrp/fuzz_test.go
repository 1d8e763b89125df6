package mdrp

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// instanceFiles are the four instance files of fixture(), as writeInstance writes them.
func instanceFiles(tb testing.TB) [4]string {
	tb.Helper()
	in, _ := fixture()
	dir := tb.TempDir()
	writeInstance(tb, dir, in)
	var out [4]string
	for i, name := range []string{ParamsFile, RestaurantsFile, OrdersFile, CouriersFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// checkParseErr checks that a refusal is a *ParseError naming one of the files it may read.
func checkParseErr(t *testing.T, err error, files ...string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) || !slices.Contains(files, pe.File) || pe.Line < 0 || pe.Msg == "" {
		t.Fatalf("error %q (%T) is not a *ParseError naming one of %v", err, err, files)
	}
}

// FuzzLoadInstance loads an instance from four made-up files. Load never panics, and refuses with a *ParseError
// naming the file. What it accepts keeps every rule Load documents (checked here afresh), writes back to files
// that load to the same instance, and goes through the validator and the evaluator (with an empty solution and a
// greedy one) without a panic.
//
// Seeds: the files of the hand-built fixture, and near-valid variants in testdata.
func FuzzLoadInstance(f *testing.F) {
	files := instanceFiles(f)
	f.Add(files[0], files[1], files[2], files[3])
	f.Fuzz(func(t *testing.T, params, restaurants, orders, couriers string) {
		dir := filepath.Join(t.TempDir(), "inst")
		writeFiles(t, dir, map[string]string{ParamsFile: params, RestaurantsFile: restaurants, OrdersFile: orders, CouriersFile: couriers})
		in, err := Load(dir)
		if err != nil {
			checkParseErr(t, err, ParamsFile, RestaurantsFile, OrdersFile, CouriersFile)
			return
		}
		checkInstance(t, in)
		again := filepath.Join(t.TempDir(), "inst")
		writeInstance(t, again, in)
		back, err := Load(again)
		if err != nil {
			t.Fatalf("the accepted instance, written back, is refused: %v", err)
		}
		if !reflect.DeepEqual(in, back) {
			t.Fatalf("the accepted instance, written back and loaded, differs:\n%+v\n%+v", in, back)
		}
		if len(in.Orders) > 200 || len(in.Couriers) > 200 {
			return
		}
		Validate(in, &Solution{})
		Evaluate(in, &Solution{})
		s := greedy(in, 3, 5)
		Validate(in, s)
		Evaluate(in, s)
	})
}

// checkInstance checks the rules Load promises, independently of how Load checks them.
func checkInstance(t *testing.T, in *Instance) {
	t.Helper()
	finite := func(xs ...float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	p := in.Params
	if !finite(p.MetersPerMinute, p.PayPerOrder, p.PayPerHour) || p.MetersPerMinute <= 0 || p.PickupService < 0 ||
		p.DropoffService < 0 || p.PayPerOrder < 0 || p.PayPerHour < 0 {
		t.Fatalf("accepted parameters %+v", p)
	}
	kind := map[string]string{}
	claim := func(id, k string) {
		t.Helper()
		if id == "" || strings.ContainsAny(id, " \t\r\n") || kind[id] != "" || id == OnLocation && k != "courier" {
			t.Fatalf("accepted %s id %q (already a %q id)", k, id, kind[id])
		}
		kind[id] = k
	}
	for _, r := range in.Restaurants {
		claim(r.ID, "restaurant")
		if !finite(r.X, r.Y) {
			t.Fatalf("accepted restaurant %+v", r)
		}
	}
	for _, o := range in.Orders {
		claim(o.ID, "order")
		if !finite(o.X, o.Y) || kind[o.Restaurant] != "restaurant" || o.Placement < 0 || o.Ready < o.Placement {
			t.Fatalf("accepted order %+v", o)
		}
	}
	for _, c := range in.Couriers {
		claim(c.ID, "courier")
		if !finite(c.X, c.Y) || c.On < 0 || c.Off <= c.On {
			t.Fatalf("accepted courier %+v", c)
		}
	}
}

// FuzzReadSolution reads a solution from three made-up files. ReadSolution never panics, and refuses with a
// *ParseError naming the file. What it accepts writes back (WriteSolution) to files that read to the same
// solution, and the validator and the evaluator take it, against the fixture's instance, without a panic,
// reporting only violations of the eight conditions, each with a message.
//
// Seeds: the fixture's feasible solution, and near-valid variants in testdata.
func FuzzReadSolution(f *testing.F) {
	in, sol := fixture()
	dir := f.TempDir()
	if err := WriteSolution(dir, sol); err != nil {
		f.Fatal(err)
	}
	var seed [3]string
	for i, name := range []string{AssignmentsFile, OrderRecordsFile, CourierMovesFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		seed[i] = string(b)
	}
	f.Add(seed[0], seed[1], seed[2])
	f.Fuzz(func(t *testing.T, assignments, orders, moves string) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{AssignmentsFile: assignments, OrderRecordsFile: orders, CourierMovesFile: moves})
		s, err := ReadSolution(dir)
		if err != nil {
			checkParseErr(t, err, AssignmentsFile, OrderRecordsFile, CourierMovesFile)
			return
		}
		again := t.TempDir()
		if err := WriteSolution(again, s); err != nil {
			t.Fatalf("the accepted solution cannot be written back: %v", err)
		}
		back, err := ReadSolution(again)
		if err != nil {
			t.Fatalf("the accepted solution, written back, is refused: %v", err)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("the accepted solution, written back and read, differs:\n%+v\n%+v", s, back)
		}
		for _, v := range Validate(in, s) {
			if ConditionName(v.Condition) == "" || v.Message == "" {
				t.Fatalf("violation %+v", v)
			}
		}
		Evaluate(in, s)
	})
}

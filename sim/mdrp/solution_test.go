package mdrp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSolutionRoundTrip(t *testing.T) {
	_, s := fixture()
	dir1 := filepath.Join(t.TempDir(), "a", "b") // WriteSolution creates missing directories
	if err := WriteSolution(dir1, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSolution(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, s)
	}
	dir2 := t.TempDir()
	if err := WriteSolution(dir2, got); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{AssignmentsFile, OrderRecordsFile, CourierMovesFile} {
		a, _ := os.ReadFile(filepath.Join(dir1, name))
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s differs after a round trip:\n%s\n---\n%s", name, a, b)
		}
	}
	// The exact format the evaluator reads.
	want := map[string]string{
		AssignmentsFile:  "assignment_time pickup_time courier orders\n10 18 c1 o1 o2\n25 32 c2 o3 o5\n52 62 c1 o4\n",
		OrderRecordsFile: "order placement_time ready_time pickup_time dropoff_time courier\no1 5 15 18 27 c1\n",
		CourierMovesFile: "courier departure_time origin destination\nc1 10 0 r1\nc1 20 r1 o1\n",
	}
	for name, prefix := range want {
		b, _ := os.ReadFile(filepath.Join(dir1, name))
		if !strings.HasPrefix(string(b), prefix) {
			t.Errorf("%s starts\n%s\nwant\n%s", name, b, prefix)
		}
	}
}

func TestWriteSolutionRefusesUnreadable(t *testing.T) {
	for name, s := range map[string]*Solution{
		"empty bundle":  {Assignments: []Assignment{{1, 2, "c1", nil}}},
		"space in id":   {Orders: []OrderRecord{{"o 1", 0, 0, 0, 0, "c1"}}},
		"empty courier": {Moves: []Move{{"", 0, "0", "r1"}}},
	} {
		if err := WriteSolution(t.TempDir(), s); err == nil {
			t.Errorf("%s: WriteSolution succeeded", name)
		}
	}
}

func TestReadSolutionToleratesLayout(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		AssignmentsFile:  "header\r\n10.0\t18 c1 o1\to2\r\n\r\n",
		OrderRecordsFile: "header\no1 5 15 18 27 c1",
		CourierMovesFile: "header\n\nc1 10 0 r1\n",
	})
	s, err := ReadSolution(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Solution{
		Assignments: []Assignment{{10, 18, "c1", []string{"o1", "o2"}}},
		Orders:      []OrderRecord{{"o1", 5, 15, 18, 27, "c1"}},
		Moves:       []Move{{"c1", 10, "0", "r1"}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v, want %+v", s, want)
	}
}

func TestReadSolutionErrors(t *testing.T) {
	good := map[string]string{
		AssignmentsFile:  "h\n10 18 c1 o1\n",
		OrderRecordsFile: "h\no1 5 15 18 27 c1\n",
		CourierMovesFile: "h\nc1 10 0 r1\nc1 20 r1 o1\n",
	}
	cases := []struct {
		name, file, text, want, field string
	}{
		{"missing", "", "", "mdrp: solution_info_couriers.txt: missing file", ""},
		{"short assignment", AssignmentsFile, "h\n10 18 c1\n", "mdrp: solution_info_assignments.txt line 2: 3 columns, want at least 4", ""},
		{"bad pickup", AssignmentsFile, "h\n10 x c1 o1\n", `mdrp: solution_info_assignments.txt line 2: pickup_time "x" is not a whole number`, "pickup_time"},
		{"record columns", OrderRecordsFile, "h\no1 5 15 18 27\n", "mdrp: solution_info_orders.txt line 2: 5 columns, want 6", ""},
		{"fractional dropoff", OrderRecordsFile, "h\no1 5 15 18 27.5 c1\n", `mdrp: solution_info_orders.txt line 2: dropoff_time "27.5" is not a whole number`, "dropoff_time"},
		{"bad departure", CourierMovesFile, "h\nc1 10 0 r1\n\nc1 NaN r1 o1\n", `mdrp: solution_info_couriers.txt line 4: departure_time "NaN" is not a whole number`, "departure_time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for k, v := range good {
				files[k] = v
			}
			if tc.file == "" {
				delete(files, CourierMovesFile)
			} else {
				files[tc.file] = tc.text
			}
			writeFiles(t, dir, files)
			_, err := ReadSolution(dir)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != tc.field {
				t.Errorf("field of %v: want %q", err, tc.field)
			}
		})
	}
}

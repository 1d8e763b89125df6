package mdrp

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestLoadRoundTripsWrittenInstance(t *testing.T) {
	want, _ := fixture()
	dir := filepath.Join(t.TempDir(), "tiny")
	writeInstance(t, dir, want)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load:\n got %+v\nwant %+v", got, want)
	}
}

// The reader must accept CRLF, blank lines, spaces instead of tabs, a missing final newline and "12.0".
func TestLoadToleratesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	writeFiles(t, dir, map[string]string{
		RestaurantsFile: "restaurant\tx\ty\r\nr1\t10\t20.5\r\n\r\nr2  30 40\r\n",
		OrdersFile:      "order x y placement_time restaurant ready_time\n\no1\t1\t2\t3\tr1\t4.0",
		CouriersFile:    "courier\tx\ty\ton_time\toff_time\nc1\t5\t6\t0\t90\n\n",
		ParamsFile:      "h\n320\t4\t5\t40\t90\t10\t15\n",
	})
	in, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Instance{Name: "layout",
		Params:      Params{MetersPerMinute: 320, PickupService: 4, DropoffService: 5, Target: 40, MaxClickToDoor: 90, PayPerOrder: 10, PayPerHour: 15},
		Restaurants: []Restaurant{{"r1", 10, 20.5}, {"r2", 30, 40}},
		Orders:      []Order{{"o1", 1, 2, 3, "r1", 4}},
		Couriers:    []Courier{{"c1", 5, 6, 0, 90}},
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v\nwant %+v", in, want)
	}
}

func TestLoadErrors(t *testing.T) {
	const (
		rest    = "restaurant\tx\ty\nr1\t0\t0\nr2\t10\t10\n"
		orders  = "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t1\t0\tr1\t5\no2\t2\t2\t3\tr2\t9\n"
		couri   = "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t0\t60\n"
		params  = "h\n320\t4\t4\t40\t90\t10\t15\n"
		ordHead = "order\tx\ty\tplacement_time\trestaurant\tready_time\n"
	)
	cases := []struct {
		name      string
		file      string // file to replace ("" = remove couriers.txt)
		text      string
		wantFile  string
		wantLine  int
		wantField string
		wantMsg   string
	}{
		{"missing file", "", "", CouriersFile, 0, "", "missing file"},
		{"column count", OrdersFile, ordHead + "o1\t1\t1\t0\tr1\t5\no2\t2\t2\t3\tr2\n", OrdersFile, 3, "", "5 columns, want 6"},
		{"ready not a number", OrdersFile, ordHead + "\no1\t1\t1\t0\tr1\tabc\n", OrdersFile, 3, "ready_time", `ready_time "abc" is not a whole number`},
		{"fractional time", OrdersFile, ordHead + "o1\t1\t1\t0.5\tr1\t5\n", OrdersFile, 2, "placement_time", `placement_time "0.5" is not a whole number`},
		{"duplicate order", OrdersFile, ordHead + "o1\t1\t1\t0\tr1\t5\no1\t2\t2\t3\tr2\t9\n", OrdersFile, 3, "order", `duplicate order id "o1"`},
		{"unknown restaurant", OrdersFile, ordHead + "o1\t1\t1\t0\tr9\t5\n", OrdersFile, 2, "restaurant", `restaurant "r9" is not in restaurants.txt`},
		{"ready before placement", OrdersFile, ordHead + "o1\t1\t1\t7\tr1\t5\n", OrdersFile, 2, "ready_time", "ready_time 5 is before placement_time 7"},
		{"order id is a restaurant id", OrdersFile, ordHead + "r1\t1\t1\t0\tr1\t5\n", OrdersFile, 2, "order", `order id "r1" is also a restaurant id`},
		{"non-finite coordinate", OrdersFile, ordHead + "o1\tNaN\t1\t0\tr1\t5\n", OrdersFile, 2, "x", `x "NaN" is not finite`},
		{"bad coordinate", RestaurantsFile, "h\nr1\t0\t1e\n", RestaurantsFile, 2, "y", `y "1e" is not a number`},
		{"duplicate restaurant", RestaurantsFile, "h\nr1\t0\t0\nr2\t0\t0\nr1\t1\t1\n", RestaurantsFile, 4, "restaurant", `duplicate restaurant id "r1"`},
		{"reserved id", RestaurantsFile, "h\nr1\t0\t0\nr2\t0\t0\n0\t1\t1\n", RestaurantsFile, 4, "restaurant", `restaurant id "0" is reserved`},
		{"off before on", CouriersFile, "h\nc1\t0\t0\t0\t60\nc2\t0\t0\t30\t30\n", CouriersFile, 3, "off_time", "off_time 30 is not after on_time 30"},
		{"duplicate courier", CouriersFile, "h\nc1\t0\t0\t0\t60\nc1\t0\t0\t0\t60\n", CouriersFile, 3, "courier", `duplicate courier id "c1"`},
		{"infinite speed", ParamsFile, "h\n+Inf\t4\t4\t40\t90\t10\t15\n", ParamsFile, 2, "meters_per_minute", `meters_per_minute "+Inf" is not finite`},
		{"zero speed", ParamsFile, "h\n0\t4\t4\t40\t90\t10\t15\n", ParamsFile, 2, "meters_per_minute", "meters_per_minute 0 is not positive"},
		{"negative pickup service", ParamsFile, "h\n320\t-1\t4\t40\t90\t10\t15\n", ParamsFile, 2, "pickup_service", "pickup_service -1 is negative"},
		{"negative dropoff service", ParamsFile, "h\n320\t4\t-4\t40\t90\t10\t15\n", ParamsFile, 2, "dropoff_service", "dropoff_service -4 is negative"},
		{"two parameter lines", ParamsFile, "h\n320\t4\t4\t40\t90\t10\t15\n320\t4\t4\t40\t90\t10\t15\n", ParamsFile, 0, "", "2 data lines, want 1"},
		{"parameter columns", ParamsFile, "h\n320\t4\t4\t40\t90\t10\n", ParamsFile, 2, "", "6 columns, want 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{RestaurantsFile: rest, OrdersFile: orders, CouriersFile: couri, ParamsFile: params}
			if tc.file == "" {
				delete(files, CouriersFile)
			} else {
				files[tc.file] = tc.text
			}
			writeFiles(t, dir, files)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.File != tc.wantFile || pe.Line != tc.wantLine || pe.Field != tc.wantField {
				t.Errorf("file %q line %d field %q, want %q %d %q (%v)", pe.File, pe.Line, pe.Field,
					tc.wantFile, tc.wantLine, tc.wantField, err)
			}
			msg := err.Error()
			prefix := "mdrp: " + tc.wantFile
			if tc.wantLine > 0 {
				prefix += " line " + strconv.Itoa(tc.wantLine)
			}
			if !strings.HasPrefix(msg, prefix+": ") || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q, want prefix %q and %q", msg, prefix, tc.wantMsg)
			}
			if tc.file == "" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("missing file error %v does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

// The exact message asked for by users of the package.
func TestLoadErrorMessage(t *testing.T) {
	dir := t.TempDir()
	in, _ := fixture()
	writeInstance(t, dir, in)
	writeFiles(t, dir, map[string]string{OrdersFile: "order\tx\ty\tplacement_time\trestaurant\tready_time\n" +
		"o1\t0\t500\t5\tr1\t15\n\n\n\n\no7\t0\t0\t1\tr1\tabc\n"})
	_, err := Load(dir)
	const want = `mdrp: orders.txt line 7: ready_time "abc" is not a whole number`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

func TestTravelMinutes(t *testing.T) {
	in := &Instance{Params: Params{MetersPerMinute: 100}}
	for _, c := range []struct {
		ax, ay, bx, by float64
		want           int
	}{
		{0, 0, 0, 0, 0},
		{0, 0, 300, 400, 5},    // exactly 5 minutes
		{0, 0, 300, 400.01, 6}, // a hair over: next minute
		{0, 0, 0.001, 0, 1},    // any movement takes a minute
		{10, 10, 10, -90, 1},
	} {
		if got := in.TravelMinutes(c.ax, c.ay, c.bx, c.by); got != c.want {
			t.Errorf("TravelMinutes(%v,%v,%v,%v) = %d, want %d", c.ax, c.ay, c.bx, c.by, got, c.want)
		}
	}
	// 2.1 / 0.7 = 3.0000000000000004 in float64: rounding noise must not add a minute.
	in.Params.MetersPerMinute = 0.7
	if got := in.TravelMinutes(0, 0, 2.1, 0); got != 3 {
		t.Errorf("noisy quotient: %d minutes, want 3", got)
	}
	in.Params.MetersPerMinute = 320
	if got := in.TravelMinutes(0, 0, 641, 0); got != 3 {
		t.Errorf("641 m at 320 m/min: %d, want 3", got)
	}
}

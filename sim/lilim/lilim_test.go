package lilim

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// small is an instance in the published format (tab-separated, CRLF): two pairs, capacity 10, horizon 100.
//
//	task 1 (0,10) picks 5 for task 2 (10,10); task 3 (0,-10) picks 7 for task 4 (10,-10).
const small = "25\t10\t1\r\n" +
	"0\t0\t0\t0\t0\t100\t0\t0\t0\r\n" +
	"1\t0\t10\t5\t0\t50\t1\t0\t2\r\n" +
	"2\t10\t10\t-5\t0\t60\t1\t1\t0\r\n" +
	"3\t0\t-10\t7\t0\t50\t1\t0\t4\r\n" +
	"4\t10\t-10\t-7\t30\t90\t1\t3\t0\r\n"

func parseSmall(t *testing.T) *Instance {
	t.Helper()
	in, err := Parse(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestParse(t *testing.T) {
	in := parseSmall(t)
	if in.Vehicles != 25 || in.Capacity != 10 || len(in.Tasks) != 5 || in.Horizon() != 100 {
		t.Fatalf("header or tasks wrong: %+v", in)
	}
	if tk := in.Tasks[4]; tk.X != 10 || tk.Y != -10 || tk.Demand != -7 || tk.Earliest != 30 || tk.Pickup != 3 {
		t.Fatalf("task 4 read as %+v", tk)
	}
}

func TestLoadNamesTheInstance(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lx101.txt")
	if err := os.WriteFile(p, []byte(small), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Load(p)
	if err != nil || in.Name != "lx101" {
		t.Fatalf("Load: %v, name %q", err, in.Name)
	}
}

func TestParseRefuses(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(small, "\r\n"), "\r\n")
	edit := func(i int, s string) string {
		l := append([]string{}, lines...)
		l[i] = s
		return strings.Join(l, "\r\n")
	}
	cases := map[string]string{
		"empty":           "",
		"short header":    edit(0, "25\t10"),
		"not a number":    edit(1, "0\t0\t0\t0\t0\tx\t0\t0\t0"),
		"id out of step":  edit(2, "7\t0\t10\t5\t0\t50\t1\t0\t2"),
		"depot demand":    edit(1, "0\t0\t0\t3\t0\t100\t0\t0\t0"),
		"unpaired":        edit(2, "1\t0\t10\t5\t0\t50\t1\t0\t4"),
		"demand mismatch": edit(3, "2\t10\t10\t-4\t0\t60\t1\t1\t0"),
		"empty window":    edit(2, "1\t0\t10\t5\t60\t50\t1\t0\t2"),
		"over capacity":   edit(2, "1\t0\t10\t11\t0\t50\t1\t0\t2") + "",
		"eight fields":    edit(4, "4\t10\t-10\t-7\t30\t90\t1\t3"),
	}
	for name, text := range cases {
		if _, err := Parse(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckAccepts(t *testing.T) {
	in := parseSmall(t)
	// One route: 1 (arrive 10), 2 (21), 3 (at 21+1+sqrt(500)), 4; then the depot.
	v, d, err := in.Check([][]int{{1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	want := 10 + 10 + math.Hypot(10, 20) + 10 + math.Hypot(10, 10)
	if v != 1 || math.Abs(d-want) > 1e-9 {
		t.Fatalf("got %d vehicles %.6f, want 1 and %.6f", v, d, want)
	}
	// Two routes, an empty one ignored.
	v, _, err = in.Check([][]int{{1, 2}, {}, {3, 4}})
	if err != nil || v != 2 {
		t.Fatalf("two routes: %d vehicles, %v", v, err)
	}
}

func TestCheckRefuses(t *testing.T) {
	in := parseSmall(t)
	cases := map[string]struct {
		routes [][]int
		want   string
	}{
		"missing":  {[][]int{{1, 2}}, "not visited"},
		"twice":    {[][]int{{1, 2, 3, 4, 3}}, "twice"},
		"depot":    {[][]int{{0, 1, 2, 3, 4}}, "does not exist"},
		"unknown":  {[][]int{{1, 2, 3, 4, 9}}, "does not exist"},
		"order":    {[][]int{{2, 1, 3, 4}}, "before its pickup"},
		"split":    {[][]int{{1, 4}, {3, 2}}, "before its pickup"},
		"capacity": {[][]int{{1, 3, 2, 4}}, "exceeds the capacity"},
		"window":   {[][]int{{3, 4, 1, 2}}, "after its window"},
	}
	for name, c := range cases {
		_, _, err := in.Check(c.routes)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, c.want)
		}
	}
	// The horizon: the depot closes at 30, before the route is back.
	h := strings.Replace(small, "0\t0\t0\t0\t0\t100", "0\t0\t0\t0\t0\t30", 1)
	in2, err := Parse(strings.NewReader(h))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := in2.Check([][]int{{1, 2}, {3, 4}}); err == nil || !strings.Contains(err.Error(), "horizon") {
		t.Errorf("horizon: got %v", err)
	}
}

func TestLoadBest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bks.csv")
	os.WriteFile(p, []byte("instance,vehicles,distance,source\nlc101,10,828.9369,x\n"), 0o644)
	b, err := LoadBest(p)
	if err != nil || b["lc101"] != (Best{10, 828.9369}) {
		t.Fatalf("got %v, %v", b, err)
	}
	os.WriteFile(p, []byte("instance,vehicles,distance\nlc101,ten,1\n"), 0o644)
	if _, err := LoadBest(p); err == nil {
		t.Fatal("a vehicle count that is not a number is accepted")
	}
}

// FuzzParse reads made-up instances: Parse never panics, and what it accepts has paired tasks that Check can
// serve one pair per route without an index error.
func FuzzParse(f *testing.F) {
	f.Add(small)
	f.Add("1\t1\t0\r\n0\t0\t0\t0\t0\t10\t0\t0\t0\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		in, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		var routes [][]int
		for _, tk := range in.Tasks[1:] {
			if tk.Demand > 0 {
				routes = append(routes, []int{tk.ID, tk.Delivery})
			}
		}
		in.Check(routes) // may refuse (windows, fleet), must not panic
	})
}

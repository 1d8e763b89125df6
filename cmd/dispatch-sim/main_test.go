package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
	"github.com/o2o-dispatch/dispatchd/sim/synth"
)

// writeInstance writes a small random MDRP instance (a town of 5 x 5 km, 6 restaurants, 25 couriers, 120 orders over
// four hours) in the benchmark's format.
func writeInstance(t *testing.T, seed uint64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("%do10t100s1p100", seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	var b strings.Builder
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	b.WriteString("meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n320\t4\t4\t40\t90\t10\t15\n")
	write(mdrp.ParamsFile)
	b.WriteString("restaurant\tx\ty\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "r%d\t%d\t%d\n", i, rng.IntN(5000), rng.IntN(5000))
	}
	write(mdrp.RestaurantsFile)
	b.WriteString("courier\tx\ty\ton_time\toff_time\n")
	for i := 1; i <= 25; i++ {
		on := 60 * rng.IntN(2)
		fmt.Fprintf(&b, "c%d\t%d\t%d\t%d\t%d\n", i, rng.IntN(5000), rng.IntN(5000), on, on+180)
	}
	write(mdrp.CouriersFile)
	b.WriteString("order\tx\ty\tplacement_time\trestaurant\tready_time\n")
	for i := 1; i <= 120; i++ {
		p := rng.IntN(200)
		fmt.Fprintf(&b, "o%d\t%d\t%d\t%d\tr%d\t%d\n", i, rng.IntN(5000), rng.IntN(5000), p, 1+rng.IntN(6), p+5+rng.IntN(20))
	}
	write(mdrp.OrdersFile)
	return dir
}

func TestRunMDRPWritesAValidSolution(t *testing.T) {
	inst := writeInstance(t, 1)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"run", "--mdrp", inst, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, name := range []string{"summary.json", "orders.csv", "couriers.csv", "report.html",
		"solution_info_assignments.txt", "solution_info_orders.txt", "solution_info_couriers.txt"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	// The files on disk, read back, pass the independent validator.
	in, err := mdrp.Load(inst)
	if err != nil {
		t.Fatal(err)
	}
	sol, err := mdrp.ReadSolution(out)
	if err != nil {
		t.Fatal(err)
	}
	if v := mdrp.Validate(in, sol); len(v) > 0 {
		t.Fatalf("%d violations, first: %v", len(v), v[0])
	}
	var sum struct {
		Policy    string `json:"policy"`
		Orders    int    `json:"orders"`
		Delivered int    `json:"delivered"`
		MDRP      struct {
			Feasible bool         `json:"feasible"`
			Metrics  mdrp.Metrics `json:"metrics"`
		} `json:"mdrp"`
		Compared []struct {
			Policy string `json:"policy"`
		} `json:"compared"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Policy != "optimize" || sum.Orders != 120 || !sum.MDRP.Feasible || len(sum.Compared) != 1 || sum.Compared[0].Policy != "nearest-idle" {
		t.Fatalf("summary.json: %+v", sum)
	}
	if sum.Delivered != len(sol.Orders) || sum.MDRP.Metrics.OrdersDelivered != sum.Delivered {
		t.Fatalf("summary says %d delivered, the solution has %d, the evaluator %d", sum.Delivered, len(sol.Orders), sum.MDRP.Metrics.OrdersDelivered)
	}
	if !strings.Contains(stdout.String(), "click-to-door mean") {
		t.Fatalf("no table on stdout:\n%s", stdout.String())
	}
}

func TestRunIsByteIdentical(t *testing.T) {
	inst := writeInstance(t, 2)
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	for _, d := range dirs {
		var stdout, stderr bytes.Buffer
		if err := run(testEnv, []string{"compare", "--mdrp", inst, "--out", d}, &stdout, &stderr); err != nil {
			t.Fatalf("compare: %v", err)
		}
	}
	entries, err := os.ReadDir(dirs[0])
	if err != nil || len(entries) != 7 {
		t.Fatalf("outputs: %v, %d files", err, len(entries))
	}
	for _, e := range entries {
		a, _ := os.ReadFile(filepath.Join(dirs[0], e.Name()))
		b, _ := os.ReadFile(filepath.Join(dirs[1], e.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", e.Name())
		}
	}
}

func TestBaselinePolicyRun(t *testing.T) {
	inst := writeInstance(t, 3)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"run", "--mdrp", inst, "--out", out, "--policy", "baseline"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	in, _ := mdrp.Load(inst)
	sol, err := mdrp.ReadSolution(out)
	if err != nil {
		t.Fatal(err)
	}
	if v := mdrp.Validate(in, sol); len(v) > 0 {
		t.Fatalf("baseline solution: %v", v[0])
	}
	for _, a := range sol.Assignments {
		if len(a.Orders) != 1 {
			t.Fatalf("the baseline carries one order at a time, got %v", a)
		}
	}
}

func TestBench(t *testing.T) {
	root := t.TempDir()
	for seed := uint64(4); seed <= 5; seed++ {
		inst := writeInstance(t, seed)
		if err := os.Rename(inst, filepath.Join(root, filepath.Base(inst))); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	jsonOut := filepath.Join(t.TempDir(), "bench.json")
	if err := run(testEnv, []string{"bench", "--mdrp-root", root, "--pattern", "*o10t100*", "--out", jsonOut}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	// header, 2 instances x 2 policies, 2 means
	if len(lines) != 7 || !strings.HasPrefix(lines[5], "mean of 2") {
		t.Fatalf("bench output:\n%s", stdout.String())
	}
	var rows []benchRow
	data, _ := os.ReadFile(jsonOut)
	if err := json.Unmarshal(data, &rows); err != nil || len(rows) != 4 {
		t.Fatalf("bench.json: %v, %d rows", err, len(rows))
	}
}

func TestClearErrors(t *testing.T) {
	inst := writeInstance(t, 6)
	orders := filepath.Join(inst, mdrp.OrdersFile)
	data, _ := os.ReadFile(orders)
	lines := strings.Split(string(data), "\n")
	lines[3] = "o3\t100\t200\tnoon\tr1\t30"
	if err := os.WriteFile(orders, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--mdrp", inst, "--out", t.TempDir()}, []string{"orders.txt", "line 4", "placement_time"}},
		{[]string{"run", "--mdrp", filepath.Join(t.TempDir(), "nowhere"), "--out", t.TempDir()}, []string{"missing file"}},
		{[]string{"run", "--out", t.TempDir()}, []string{"--mdrp", "--scenario"}},
		{[]string{"run", "--mdrp", inst, "--out", t.TempDir(), "--policy", "fastest"}, []string{"fastest"}},
		{[]string{"frobnicate"}, []string{"unknown command"}},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := run(testEnv, c.args, &stdout, &stderr)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", c.args, err, w)
			}
		}
	}
}

func TestScenarioRun(t *testing.T) {
	out, again := t.TempDir(), t.TempDir()
	for _, dir := range []string{out, again} {
		var stdout, stderr bytes.Buffer
		if err := run(testEnv, []string{"run", "--scenario", "../../sim/scenarios/small-town.json", "--seed", "3", "--out", dir}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"summary.json", "orders.csv", "couriers.csv", "report.html"} {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: empty, or differs between two runs with the same seed", name)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("nearest-idle")) {
		t.Fatalf("report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "solution_info_orders.txt")); err == nil {
		t.Fatal("a synthetic scenario has no MDRP solution files")
	}
}

// TestMorningScenarioRun runs a reduced copy of the shipped morning-opening scenario through the command: the store
// side reaches the table, the summary, stores.csv and the report.
func TestMorningScenarioRun(t *testing.T) {
	spec, err := synth.Load("../../sim/scenarios/morning-opening.json")
	if err != nil {
		t.Fatal(err)
	}
	spec.Stores.Kinds[0].Count, spec.Stores.Kinds[1].Count = 6, 2
	spec.Demand.Orders = 150
	for i, n := range []int{3, 12, 2} {
		spec.Couriers.Shifts[i].Count = n
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "morning.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"run", "--scenario", file, "--seed", "2", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, row := range []string{"orders rejected (%)", "delivered by the promise, overnight (%)", "backlog at opening",
		"overnight orders picked up, after opening (min)", "stores.csv"} {
		if !strings.Contains(stdout.String(), row) {
			t.Errorf("stdout lacks %q:\n%s", row, stdout.String())
		}
	}
	// Counts are whole numbers, not 255.00.
	if !regexp.MustCompile(`(?m)^ *backlog at opening +\d+ +\d+ *$`).MatchString(stdout.String()) {
		t.Errorf("the backlog at opening is not printed as a count:\n%s", stdout.String())
	}
	var summary struct {
		Fulfilment *struct {
			Orders  int `json:"orders"`
			Opening *struct {
				At      string `json:"at"`
				Backlog int    `json:"backlog_at_opening"`
			} `json:"opening"`
			Backlog []json.RawMessage `json:"backlog"`
		} `json:"fulfilment"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &summary); err != nil {
		t.Fatal(err)
	}
	f := summary.Fulfilment
	if f == nil || f.Orders < 100 || f.Opening == nil || f.Opening.At != "2026-03-11T08:00:00+08:00" ||
		f.Opening.Backlog == 0 || len(f.Backlog) < 150 {
		t.Fatalf("summary.json fulfilment: %s", raw)
	}
	stores, err := os.ReadFile(filepath.Join(out, "stores.csv"))
	if err != nil || bytes.Count(stores, []byte("\n")) != 9 {
		t.Errorf("stores.csv: %v\n%s", err, stores)
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("Backlog over the day")) || !bytes.Contains(html, []byte("opening 08:00+1")) {
		t.Errorf("report.html lacks the backlog chart: %v", err)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEnv is the fixed clock and version the command's tests run with, so that two runs write the same bytes.
var testEnv = env{now: func() time.Time { return time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC) }, version: "v9.9.9-test"}

// TestOutputsSayHowTheyWereMade: summary.json and report.html say when (the injected clock), by which version and
// from which inputs a run was made; the older policy name "baseline" is taken and written as nearest-idle.
func TestOutputsSayHowTheyWereMade(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"run", "--scenario", "../../sim/scenarios/small-town.json", "--seed", "3", "--policy", "baseline", "--out", out, "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Made struct {
			At       time.Time
			Version  string
			Command  string
			Input    string
			Seed     *uint64
			Scenario string
			Policies []string
		}
		Policy string
	}
	raw, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	m := sum.Made
	if !m.At.Equal(testEnv.now()) || m.Version != "v9.9.9-test" || m.Command != "run" ||
		m.Input != "scenario file ../../sim/scenarios/small-town.json" || m.Seed == nil || *m.Seed != 3 ||
		m.Scenario == "" || strings.Join(m.Policies, ",") != "nearest-idle,optimize" || sum.Policy != "nearest-idle" {
		t.Fatalf("summary.json: made %+v, policy %q", m, sum.Policy)
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	want := "Made 2026-12-07 01:02:03 UTC by dispatch-sim v9.9.9-test (run) from scenario file ../../sim/scenarios/small-town.json, seed 3, scenario " +
		m.Scenario + ", policies nearest-idle and optimize"
	if !bytes.Contains(html, []byte(want)) {
		t.Fatalf("report.html does not say how it was made (%q)", want)
	}
}

// TestMDRPReportCarriesTheVerdict: an MDRP run's report shows the independent validator's verdict on each policy's
// solution, and its time axes count minutes since the start, not clock times.
func TestMDRPReportCarriesTheVerdict(t *testing.T) {
	inst := writeInstance(t, 4)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(testEnv, []string{"compare", "--mdrp", inst, "--out", out, "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, want := range []string{`<span class="good">passed</span> MDRP validator (sim/mdrp), optimize&#39;s solution`,
		`<span class="good">passed</span> MDRP validator (sim/mdrp), nearest-idle&#39;s solution`, "minutes since the start of the day"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if bytes.Contains(html, []byte("time of day")) {
		t.Error("an MDRP report labels minutes since the start as a time of day")
	}
	if !strings.Contains(stdout.String(), "MDRP validator: solution feasible") {
		t.Errorf("stdout lacks the validator's verdict:\n%s", stdout.String())
	}
}

package load

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseSweep(t *testing.T) {
	got, err := parseSweep("1000, 2000,3000 ,4000")
	if err != nil || !slices.Equal(got, []int{1000, 2000, 3000, 4000}) {
		t.Fatalf("parseSweep = %v, %v", got, err)
	}
	if got, err := parseSweep("500"); err != nil || !slices.Equal(got, []int{500}) {
		t.Fatalf("one step: %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "1000,", ",1000", "1000,,2000", "abc", "1000,x", "1.5", "1e3", "0", "-5",
		"2000,1000", "1000,1000", "1000,2000000", "1000;2000", "1_000"} {
		t.Run(bad, func(t *testing.T) {
			if got, err := parseSweep(bad); err == nil {
				t.Errorf("parseSweep(%q) = %v, want an error", bad, got)
			}
		})
	}
}

func TestSustained(t *testing.T) {
	limit := 50 * time.Millisecond
	good := stepResult{Rate: 1000, Requests: 30000, OK: 30000, ThroughputPerS: 999.9, P99MS: 12}
	for _, tc := range []struct {
		name string
		edit func(*stepResult)
		want bool
	}{
		{"Good", func(*stepResult) {}, true},
		{"OneError", func(s *stepResult) { s.Errors, s.OK = 1, s.OK-1 }, false},
		{"P99AtLimit", func(s *stepResult) { s.P99MS = 50 }, false},
		{"P99JustUnder", func(s *stepResult) { s.P99MS = 49.999 }, true},
		{"Throughput98Percent", func(s *stepResult) { s.ThroughputPerS = 980 }, true},
		{"ThroughputShort", func(s *stepResult) { s.ThroughputPerS = 979.9 }, false},
		{"ThroughputAbove", func(s *stepResult) { s.ThroughputPerS = 1030 }, true},
		{"Interrupted", func(s *stepResult) { s.Interrupted = true }, false},
		{"NoRequests", func(s *stepResult) { *s = stepResult{Rate: 1000} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			if got := sustained(s, limit); got != tc.want {
				t.Errorf("sustained(%+v) = %v, want %v", s, got, tc.want)
			}
		})
	}
}

func TestHighestSustained(t *testing.T) {
	limit := 50 * time.Millisecond
	step := func(rate int, p99 float64, errs uint64, achieved float64) stepResult {
		s := stepResult{Rate: rate, Requests: uint64(rate) * 10, Errors: errs, P99MS: p99, ThroughputPerS: achieved}
		s.Sustained = sustained(s, limit)
		return s
	}
	for _, tc := range []struct {
		name  string
		steps []stepResult
		want  int // 0: none
	}{
		{"None", nil, 0},
		{"AllFail", []stepResult{step(1000, 80, 0, 1000), step(2000, 10, 3, 2000)}, 0},
		{"StopsAtP99", []stepResult{step(1000, 5, 0, 1000), step(2000, 20, 0, 2000), step(3000, 51, 0, 3000)}, 2000},
		{"StopsAtErrors", []stepResult{step(1000, 5, 0, 1000), step(2000, 6, 1, 2000)}, 1000},
		{"StopsAtThroughput", []stepResult{step(1000, 5, 0, 1000), step(2000, 6, 0, 1900)}, 1000},
		{"AllPass", []stepResult{step(1000, 5, 0, 1000), step(2000, 6, 0, 2000), step(4000, 9, 0, 3990)}, 4000},
		// Each step stands alone: a pass above a failed step still counts.
		{"PassAboveFail", []stepResult{step(1000, 5, 0, 1000), step(2000, 60, 0, 2000), step(3000, 30, 0, 3000)}, 3000},
		{"Unordered", []stepResult{step(3000, 5, 0, 3000), step(1000, 5, 0, 1000)}, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			best, ok := highestSustained(tc.steps)
			if tc.want == 0 {
				if ok {
					t.Errorf("highestSustained = %d, want none", best.Rate)
				}
				return
			}
			if !ok || best.Rate != tc.want {
				t.Errorf("highestSustained = %d, %v; want %d", best.Rate, ok, tc.want)
			}
		})
	}
}

func TestResultError(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    vegeta.Result
		want string
	}{
		{"Created", vegeta.Result{Code: 201}, ""},
		{"NoContent", vegeta.Result{Code: 204}, ""},
		{"Unavailable", vegeta.Result{Code: 503, Error: "503 Service Unavailable",
			Body: []byte(`{"error":{"code":"unavailable","message":"the queue is full"}}`)},
			"503 Service Unavailable: unavailable: the queue is full"},
		{"NotJSON", vegeta.Result{Code: 502, Error: "502 Bad Gateway", Body: []byte("<html>")}, "502 Bad Gateway"},
		// vegeta counts 3xx as success; the API never redirects, so here it is an error.
		{"Redirect", vegeta.Result{Code: 302}, "302 Found"},
		{"Transport", vegeta.Result{Error: "dial tcp 127.0.0.1:1: connect: connection refused"},
			"dial tcp 127.0.0.1:1: connect: connection refused"},
		{"BodyCut", vegeta.Result{Code: 201, Error: "unexpected EOF"}, "201 Created: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultError(&tc.r); got != tc.want {
				t.Errorf("resultError = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorTallyIsBounded(t *testing.T) {
	var tally errorTally
	for i := range 1000 {
		tally.add(fmt.Sprintf("409 Conflict: order %d", i))
	}
	tally.add("409 Conflict: order 3")
	list := tally.list()
	if len(list) != maxDistinctErrors+1 {
		t.Fatalf("%d entries, want %d distinct and the rest", len(list), maxDistinctErrors+1)
	}
	if list[0].Error != "409 Conflict: order 0" || list[3].Count != 2 {
		t.Errorf("first entries %+v: want the first errors in order, counted", list[:4])
	}
	last := list[len(list)-1]
	if last.Error != otherErrors || last.Count != 1000-maxDistinctErrors {
		t.Errorf("last entry %+v, want %q with %d", last, otherErrors, 1000-maxDistinctErrors)
	}
}

func TestPrintReport(t *testing.T) {
	rep := &report{Mode: "orders", Target: "http://127.0.0.1:1", Spawned: true, DaemonArgs: []string{"--queue-size=8"},
		Stores: 50, StepDuration: "30s", P99LimitMS: 50, Host: hostInfo{NumCPU: 2}, DaemonExit: "stopped cleanly on SIGTERM",
		Steps: []stepResult{
			{Rate: 1000, SentPerS: 1000, ThroughputPerS: 999.8, Requests: 30000, OK: 30000, SuccessRatio: 1, P50MS: 1.234,
				P90MS: 3, P99MS: 12.5, MaxMS: 1500, StatusCodes: map[string]int{"201": 30000}, Sustained: true},
			{Rate: 2000, SentPerS: 2000, ThroughputPerS: 1900, Requests: 60000, OK: 59990, Errors: 10, SuccessRatio: 0.9998,
				P99MS: 80, StatusCodes: map[string]int{"201": 59990, "503": 7, "0": 3},
				ErrorSamples: []errorCount{{"503 Service Unavailable: unavailable: queue full", 7}, {"read: connection reset", 3}}},
		}}
	var b strings.Builder
	printReport(&b, rep)
	out := b.String()
	for _, want := range []string{"1.23ms", "12.5ms", "1.50s", "201:30000", "none:3 201:59990 503:7",
		"errors at 2000/s (10 of 60000 requests)", "7 × 503 Service Unavailable: unavailable: queue full",
		"highest sustained rate: 1000/s", "--queue-size=8", "stopped cleanly"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("  tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("Defaults", func(t *testing.T) {
		c, err := ParseFlags([]string{"--spawn", "/bin/dispatchd"}, io.Discard, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if c.mode != "orders" || !slices.Equal(c.rates, []int{1000}) || c.duration != 30*time.Second || c.stores != 50 ||
			c.couriers != 0 || c.p99Limit != 50*time.Millisecond || c.center != shanghai {
			t.Errorf("defaults %+v", c)
		}
	})
	t.Run("LocationsDefaultCouriers", func(t *testing.T) {
		c, err := ParseFlags([]string{"--spawn", "d", "--mode", "locations"}, io.Discard, noEnv)
		if err != nil || c.couriers != 1000 {
			t.Fatalf("couriers %v, %v; want 1000", c, err)
		}
	})
	t.Run("TokenFromFile", func(t *testing.T) {
		c, err := ParseFlags([]string{"--target", "http://127.0.0.1:8080/", "--admin-token-file", tokenFile}, io.Discard, noEnv)
		if err != nil || c.adminToken != "tok-from-file" || c.target != "http://127.0.0.1:8080" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("TokenFromEnv", func(t *testing.T) {
		env := func(k string) string {
			if k == "DISPATCHD_ADMIN_TOKEN" {
				return "tok-env"
			}
			return ""
		}
		c, err := ParseFlags([]string{"--target", "http://127.0.0.1:8080"}, io.Discard, env)
		if err != nil || c.adminToken != "tok-env" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("Sweep", func(t *testing.T) {
		c, err := ParseFlags([]string{"--spawn", "d", "--sweep", "100,200"}, io.Discard, noEnv)
		if err != nil || !slices.Equal(c.rates, []int{100, 200}) || !c.swept {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	for name, args := range map[string][]string{
		"NoTarget":          {"--mode", "orders"},
		"BothTargets":       {"--spawn", "d", "--target", "http://127.0.0.1:1", "--admin-token", "x"},
		"NoToken":           {"--target", "http://127.0.0.1:1"},
		"BadURL":            {"--target", "127.0.0.1:8080", "--admin-token", "x"},
		"TokenWithSpawn":    {"--spawn", "d", "--admin-token", "x"},
		"DaemonArgNoSpawn":  {"--target", "http://127.0.0.1:1", "--admin-token", "x", "--daemon-arg=--queue-size=1"},
		"BadMode":           {"--spawn", "d", "--mode", "quotes"},
		"RateAndSweep":      {"--spawn", "d", "--rate", "10", "--sweep", "10,20"},
		"BadSweep":          {"--spawn", "d", "--sweep", "20,10"},
		"ZeroRate":          {"--spawn", "d", "--rate", "0"},
		"NoCouriers":        {"--spawn", "d", "--mode", "locations", "--couriers", "0"},
		"BadCenter":         {"--spawn", "d", "--center", "95,10"},
		"ZeroDuration":      {"--spawn", "d", "--duration", "0s"},
		"WorkersAboveMax":   {"--spawn", "d", "--workers", "10", "--max-workers", "5"},
		"StrayArgument":     {"--spawn", "d", "orders"},
		"UnknownFlag":       {"--spawn", "d", "--frobnicate"},
		"TokenFileMissing":  {"--target", "http://127.0.0.1:1", "--admin-token-file", filepath.Join(t.TempDir(), "none")},
		"NegativeP99Limit":  {"--spawn", "d", "--p99-limit", "-1ms"},
		"TooManyStores":     {"--spawn", "d", "--stores", "0"},
		"AreaTooSmall":      {"--spawn", "d", "--area-m", "1"},
		"KeepDataWithoutIt": {"--target", "http://127.0.0.1:1", "--admin-token", "x", "--keep-data"},
	} {
		t.Run("Rejects"+name, func(t *testing.T) {
			if c, err := ParseFlags(args, io.Discard, noEnv); err == nil {
				t.Errorf("parseFlags(%q) = %+v, want an error", args, c)
			} else if name != "TokenFileMissing" && !errors.Is(err, ErrUsage) {
				t.Errorf("parseFlags(%q): %v, want a usage error", args, err)
			}
		})
	}
}

package load

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// maxRate bounds --rate and the steps of --sweep: far beyond what one loopback client drives, so a larger number
// is a typing error.
const maxRate = 1_000_000

// parseSweep reads "1000,2000,3000": positive, strictly increasing rates.
func parseSweep(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("empty step in %q", s)
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("step %q is not a whole number of requests per second", f)
		}
		if n < 1 || n > maxRate {
			return nil, fmt.Errorf("step %d is not within [1, %d]", n, maxRate)
		}
		if len(rates) > 0 && n <= rates[len(rates)-1] {
			return nil, fmt.Errorf("steps must increase: %d after %d", n, rates[len(rates)-1])
		}
		rates = append(rates, n)
	}
	return rates, nil
}

// sustainedShare is the share of the rate asked that a step's throughput must reach. Only a shortfall counts: a
// throughput a little above the rate is an artefact of the measure (vegeta divides N answers by the span from the
// first request to the last answer, N-1 intervals plus one latency), most visible in short steps.
const sustainedShare = 0.98

// sustained says whether the daemon kept up with a step: every request answered 2xx, p99 under the limit and the
// throughput within 2% of the rate asked. An interrupted step proves nothing.
func sustained(s stepResult, p99Limit time.Duration) bool {
	return s.Requests > 0 && s.Errors == 0 && !s.Interrupted && s.P99MS < ms(p99Limit) &&
		s.ThroughputPerS >= sustainedShare*float64(s.Rate)
}

// highestSustained is the step with the highest rate among those marked sustained. A failed step below it does
// not disqualify it: each step stands on its own, and the table shows them all.
func highestSustained(steps []stepResult) (stepResult, bool) {
	var best stepResult
	found := false
	for _, s := range steps {
		if s.Sustained && (!found || s.Rate > best.Rate) {
			best, found = s, true
		}
	}
	return best, found
}

type hostInfo struct {
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
}

// report is the whole run, as written by --json.
type report struct {
	Mode         string       `json:"mode"`
	Target       string       `json:"target"`
	Spawned      bool         `json:"spawned"`
	DaemonArgs   []string     `json:"daemon_args,omitempty"`
	DaemonExit   string       `json:"daemon_exit,omitempty"`
	Stores       int          `json:"stores"`
	Couriers     int          `json:"couriers"`
	StepDuration string       `json:"step_duration"`
	P99LimitMS   float64      `json:"p99_limit_ms"`
	StartedAt    time.Time    `json:"started_at"`
	Host         hostInfo     `json:"host"`
	Steps        []stepResult `json:"steps"`
	// BestRate is the highest sustained rate; 0 when no step was sustained.
	BestRate int `json:"best_rate"`
}

// shownErrors is how many distinct errors per step the table lists; the JSON has up to maxDistinctErrors.
const shownErrors = 5

// describeTarget is the daemon a report is about: its URL, and whether and how it was started.
func describeTarget(target string, spawned bool, args []string) string {
	if !spawned {
		return target
	}
	if len(args) == 0 {
		return target + " (spawned)"
	}
	return target + " (spawned with " + strings.Join(args, " ") + ")"
}

func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "dispatchd-load: %s against %s; %d stores, %d couriers; %s per step; %d CPUs shared with the daemon\n\n",
		r.Mode, describeTarget(r.Target, r.Spawned, r.DaemonArgs), r.Stores, r.Couriers, r.StepDuration, r.Host.NumCPU)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate/s\tsent/s\tachieved/s\trequests\tsuccess\tp50\tp90\tp99\tmax\tmax sent at\tsustained\t  status codes")
	for _, s := range r.Steps {
		mark := "no"
		switch {
		case s.Interrupted:
			mark = "interrupted"
		case s.Sustained:
			mark = "yes"
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%d\t%.2f%%\t%s\t%s\t%s\t%s\t+%.1fs\t%s\t  %s\n", s.Rate, s.SentPerS, s.ThroughputPerS,
			s.Requests, 100*s.SuccessRatio, fmtMS(s.P50MS), fmtMS(s.P90MS), fmtMS(s.P99MS), fmtMS(s.MaxMS), s.MaxAtS, mark,
			fmtCodes(s.StatusCodes))
	}
	tw.Flush()
	printSelfView(w, r.Steps)
	for _, s := range r.Steps {
		if len(s.ErrorSamples) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nerrors at %d/s (%d of %d requests):\n", s.Rate, s.Errors, s.Requests)
		for i, e := range s.ErrorSamples {
			if i == shownErrors {
				fmt.Fprintf(w, "  … %d more distinct errors (see --json)\n", len(s.ErrorSamples)-shownErrors)
				break
			}
			fmt.Fprintf(w, "  %7d × %s\n", e.Count, e.Error)
		}
	}
	fmt.Fprintln(w)
	if best, ok := highestSustained(r.Steps); ok {
		fmt.Fprintf(w, "highest sustained rate: %d/s (p99 %s under %s, no errors, %.1f/s achieved)\n", best.Rate,
			fmtMS(best.P99MS), fmtMS(r.P99LimitMS), best.ThroughputPerS)
	} else {
		fmt.Fprintf(w, "no step was sustained (p99 under %s, no errors, throughput within 2%% of the rate)\n", fmtMS(r.P99LimitMS))
	}
	if r.DaemonExit != "" {
		fmt.Fprintf(w, "daemon: %s\n", r.DaemonExit)
	}
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
}

// fmtCodes writes status counts in order of status, "201:30001 503:12"; 0 (no answer) is written "none".
func fmtCodes(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if k == "0" {
			name = "none"
		}
		parts = append(parts, name+":"+strconv.Itoa(codes[k]))
	}
	return strings.Join(parts, " ")
}

func writeJSON(path string, r any) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

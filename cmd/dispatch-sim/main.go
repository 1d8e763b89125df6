// Command dispatch-sim replays a day of orders and couriers through the dispatch engine in virtual time: one
// scenario or MDRP instance under one policy (run, which also runs the other policy for the report's comparison
// column), both policies with the engine's first (compare), or many MDRP instances (bench).
//
//	dispatch-sim run --mdrp <instance dir> --out <dir> [--policy optimize|nearest-idle]
//	dispatch-sim run --scenario sim/scenarios/city-day.json --seed 1 --out out/
//	dispatch-sim compare --mdrp <instance dir> --out <dir>
//	dispatch-sim bench --mdrp-root ../shared/data/mdrplib/public_instances --pattern '*o100t100s2p100'
//	dispatch-sim plan --lilim-dir ../shared/data/lilim/pdp_100 --seconds 2    (the route planner on Li & Lim)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	// Scenario files name IANA time zones; the embedded database serves machines that have none installed.
	_ "time/tzdata"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/version"
	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim"
	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
	"github.com/o2o-dispatch/dispatchd/sim/synth"
)

// env is what a command takes from the world beside its arguments: the clock that dates its outputs and the
// build's version. main passes the real ones; tests pass fixed ones.
type env struct {
	now     func() time.Time
	version string
}

func main() {
	if err := run(env{now: time.Now, version: version.Get().String()}, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dispatch-sim:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage:
  dispatch-sim run     (--mdrp DIR | --scenario FILE [--seed N] [--map FILE]) --out DIR [--policy optimize|nearest-idle]
  dispatch-sim compare (--mdrp DIR | --scenario FILE [--seed N] [--map FILE]) --out DIR
  dispatch-sim bench   --mdrp-root DIR [--pattern GLOB] [--policy optimize|nearest-idle|both] [--out FILE.json]
  dispatch-sim table   --map FILE --profile P --pairs in.csv --out out.csv
  dispatch-sim plan    (--lilim FILE [--out FILE.json] | --lilim-dir DIR [--bks FILE]) [--seconds S] [--iterations N] [--seed N] [--workers N]
  dispatch-sim settle  --mdrp-root DIR [--pattern GLOB] [--before M,M,...] [--iterations N] [--seed N] [--out DIR]
  dispatch-sim --version

run studies one policy: its outputs (orders.csv, the MDRP solution files) are that policy's, and the report
compares it with the other one. compare always leads with optimize and writes the optimize run's files, the
nearest-idle run beside it in the report and summary.json.

--map (a file of 'dispatchd map prepare', or a raw OpenStreetMap .osm.pbf extract) puts a scenario's stores,
couriers and drop-offs on the map's roads and runs the day on road travel times; the scenario's city must lie on
the map. MDRP instances keep their own rule (straight lines in planar metres). table writes the road trip of every
pair of places of a CSV file (header from_lat,from_lon,to_lat,to_lon; seconds,metres added, empty where no road
connects them).

Policies, named as the daemon's --policy names them: "optimize" is the engine's dispatch round (the default);
"nearest-idle" is the nearest idle courier, one order at a time, first come first served ("baseline" is
accepted for it). Outputs of run/compare in --out: summary.json, orders.csv, couriers.csv, report.html, for
scenarios with stores' stock, hours or pickers stores.csv, and for MDRP instances
solution_info_{assignments,orders,couriers}.txt. Each report and summary.json says when it was made, by which
version, from which input, seed, scenario and policies.`

func run(e env, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: a command is required", errUsage)
	}
	switch args[0] {
	case "run":
		return runOne(e, args[1:], stdout, stderr, false)
	case "compare":
		return runOne(e, args[1:], stdout, stderr, true)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "table":
		return table(args[1:], stdout, stderr)
	case "plan":
		return planCmd(args[1:], stdout, stderr)
	case "settle":
		return settle(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "--version", "-version", "version":
		_, err := fmt.Fprintln(stdout, version.Line("dispatch-sim"))
		return err
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// parsePolicy accepts the engine's policy names (those of the daemon's --policy, and "baseline" for nearest-idle)
// and the older "engine" and "default" for optimize.
func parsePolicy(name string) (dispatch.Policy, error) {
	switch name {
	case "engine", "default":
		return dispatch.PolicyOptimize, nil
	}
	p, err := dispatch.ParsePolicy(name)
	if err != nil {
		return 0, fmt.Errorf("%w: --policy %q: want optimize or nearest-idle", errUsage, name)
	}
	return p, nil
}

// policyLabel is the policy's name in every output: the engine's, as the daemon's --policy takes it.
func policyLabel(p dispatch.Policy) string { return p.String() }

func runOne(e env, args []string, stdout, stderr io.Writer, compare bool) error {
	name := "run"
	if compare {
		name = "compare"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mdrpDir := fs.String("mdrp", "", "MDRP instance directory")
	scenario := fs.String("scenario", "", "scenario file (JSON)")
	seed := fs.Uint64("seed", 1, "seed for a generated scenario")
	out := fs.String("out", "", "output directory")
	policyName := fs.String("policy", "optimize", "policy: optimize or nearest-idle")
	quiet := fs.Bool("quiet", false, "no progress bar")
	mapPath := fs.String("map", "", "road map for a scenario (prepared map file or OpenStreetMap extract)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if (*mdrpDir == "") == (*scenario == "") {
		return fmt.Errorf("%w: give exactly one of --mdrp and --scenario", errUsage)
	}
	if *mapPath != "" && *mdrpDir != "" {
		return fmt.Errorf("%w: --map is for scenarios; MDRP instances travel by their own rule (straight lines in planar metres)", errUsage)
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	policy, err := parsePolicy(*policyName)
	if err != nil {
		return err
	}
	policies := []dispatch.Policy{policy}
	// Every report shows the policy next to the other one; compare leads with the engine's.
	other := dispatch.PolicyNearestIdle
	if policy == dispatch.PolicyNearestIdle {
		other = dispatch.PolicyOptimize
	}
	if compare {
		policies = []dispatch.Policy{dispatch.PolicyOptimize, dispatch.PolicyNearestIdle}
	} else {
		policies = append(policies, other)
	}

	var (
		in     *mdrp.Instance
		sc     *sim.Scenario
		source string
	)
	made := &sim.Made{Version: e.version, Command: name}
	if *mdrpDir != "" {
		if in, err = mdrp.Load(*mdrpDir); err != nil {
			return err
		}
		sc, source = sim.FromMDRP(in), "MDRP instance "+*mdrpDir
		made.Input = "MDRP instance " + *mdrpDir
	} else {
		spec, err := synth.Load(*scenario)
		if err != nil {
			return err
		}
		var rd synth.Roads
		if *mapPath != "" {
			net, err := openMap(*mapPath, stderr)
			if err != nil {
				return err
			}
			rd = scenarioRoads{net}
		}
		if sc, err = synth.GenerateOn(spec, *seed, rd); err != nil {
			return err
		}
		source = fmt.Sprintf("scenario %s, seed %d", *scenario, *seed)
		made.Input, made.Seed = "scenario file "+*scenario, seed
		if *mapPath != "" {
			source += ", on the roads of " + *mapPath
			made.Input += ", on the roads of " + *mapPath
		}
	}

	// The policies run side by side, each on its own engine: a run reads the scenario and never changes it.
	outs := make([]*sim.Outcome, len(policies))
	errs := make([]error, len(policies))
	var bar *sharedBar
	if !*quiet {
		labels := make([]string, len(policies))
		for i, p := range policies {
			labels[i] = policyLabel(p)
		}
		bar = newSharedBar(progressBar(stderr, strings.Join(labels, "+")), len(policies))
	}
	var wg sync.WaitGroup
	for i, p := range policies {
		wg.Go(func() {
			opt := sim.Options{Policy: p, Progress: bar.reporter(i)}
			if in != nil {
				outs[i], errs[i] = sim.RunMDRP(in, opt)
			} else {
				outs[i], errs[i] = sim.RunScenario(sc, opt)
			}
		})
	}
	wg.Wait()
	bar.end()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, p := range policies {
		outs[i].Summary.Policy = policyLabel(p)
		made.Policies = append(made.Policies, policyLabel(p))
	}
	made.Scenario, made.At = sc.Name, e.now()
	notes := []string{source, fmt.Sprintf("%d orders, %d couriers, %d stores, dispatch every %s",
		len(sc.Orders), len(sc.Couriers), len(sc.Stores), sc.TickEvery)}
	if f := outs[0].Summary.Fulfilment; f != nil {
		note := fmt.Sprintf("stores' side modelled: %d orders by items only, %d collected in store, times in %s",
			f.ByItems, f.Collect.Orders, sc.Start.Location())
		if op := f.Opening; op != nil {
			note += fmt.Sprintf("; first opening %s", op.At.Format("2006-01-02 15:04"))
		}
		notes = append(notes, note)
	}
	if err := sim.WriteOutputs(*out, outs, sc.Target, notes, made); err != nil {
		return err
	}
	if err := sim.WriteTable(stdout, outs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(outputNames(*out, in != nil, sc.Fulfil != nil), ", "))
	if m := outs[0].MDRP; m != nil && !m.Feasible {
		return fmt.Errorf("the solution breaks %d MDRP feasibility conditions, first: %s", len(m.Violations), m.Violations[0])
	}
	return nil
}

func outputNames(dir string, mdrpRun, fulfilRun bool) []string {
	names := []string{"summary.json", "orders.csv", "couriers.csv", "report.html"}
	if fulfilRun {
		names = append(names, "stores.csv")
	}
	if mdrpRun {
		names = append(names, "solution_info_assignments.txt", "solution_info_orders.txt", "solution_info_couriers.txt")
	}
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	return names
}

// sharedBar draws one progress bar for runs made at the same time: the share of the slowest.
type sharedBar struct {
	mu   sync.Mutex
	draw func(float64)
	done []float64
}

// newSharedBar returns a bar over n runs drawn by draw, or nil (no bar) when draw is nil.
func newSharedBar(draw func(float64), n int) *sharedBar {
	if draw == nil {
		return nil
	}
	return &sharedBar{draw: draw, done: make([]float64, n)}
}

// reporter is the Progress callback of the i-th run (nil for no bar). It is called from that run's goroutine.
func (b *sharedBar) reporter(i int) func(float64) {
	if b == nil {
		return nil
	}
	return func(done float64) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done[i] = done
		b.draw(slices.Min(b.done))
	}
}

// end clears the bar's line.
func (b *sharedBar) end() {
	if b != nil {
		b.draw(-1)
	}
}

// progressBar draws a bar on w when w is a terminal; it returns nil otherwise. A negative value ends the line.
func progressBar(w io.Writer, label string) func(float64) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(done float64) {
		if done < 0 {
			fmt.Fprint(w, "\r\033[K")
			return
		}
		const width = 30
		n := int(done * width)
		fmt.Fprintf(w, "\r%-10s [%s%s] %3.0f%%", label, strings.Repeat("#", n), strings.Repeat(" ", width-n), 100*done)
	}
}

// benchRow is one instance of a bench run.
type benchRow struct {
	Instance string       `json:"instance"`
	Policy   string       `json:"policy"`
	Orders   int          `json:"orders"`
	Feasible bool         `json:"feasible"`
	Summary  sim.Summary  `json:"summary"`
	Metrics  mdrp.Metrics `json:"mdrp_metrics"`
	// Unreachable is the least number of orders any solution of the instance leaves undelivered (mdrp.LostBound:
	// the orders no courier can pick up within the rules, or what the fleet's capacity proves, whichever is more).
	Unreachable int           `json:"unreachable"`
	Elapsed     time.Duration `json:"elapsed_ns"`
}

func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("mdrp-root", "", "directory holding MDRP instance directories")
	pattern := fs.String("pattern", "*", "glob of instance directory names")
	policyName := fs.String("policy", "both", "optimize, nearest-idle or both")
	out := fs.String("out", "", "write every row as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *root == "" {
		return fmt.Errorf("%w: --mdrp-root is required", errUsage)
	}
	policies := []dispatch.Policy{dispatch.PolicyOptimize, dispatch.PolicyNearestIdle}
	if *policyName != "both" {
		p, err := parsePolicy(*policyName)
		if err != nil {
			return err
		}
		policies = []dispatch.Policy{p}
	}
	dirs, err := mdrpDirs(*root, *pattern)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no MDRP instance matches %s", filepath.Join(*root, *pattern))
	}
	slices.Sort(dirs)
	var rows []benchRow
	fmt.Fprintf(stdout, "%-18s %-9s %6s %8s %9s %8s %8s %8s %8s %9s %8s %8s\n", "instance", "policy", "orders", "feasible",
		"delivered", "c2d", "c2d p90", "r2p", "ord/bdl", "ord/c-h", "unreach", "seconds")
	for _, d := range dirs {
		in, err := mdrp.Load(d)
		if err != nil {
			return err
		}
		unreachable := mdrp.LostBound(in)
		for _, p := range policies {
			start := time.Now()
			o, err := sim.RunMDRP(in, sim.Options{Policy: p})
			if err != nil {
				return fmt.Errorf("%s: %w", in.Name, err)
			}
			row := benchRow{Instance: in.Name, Policy: policyLabel(p), Orders: len(in.Orders), Feasible: o.MDRP.Feasible,
				Summary: o.Summary, Metrics: o.MDRP.Metrics, Unreachable: unreachable, Elapsed: time.Since(start)}
			row.Summary.Policy = row.Policy
			rows = append(rows, row)
			printRow(stdout, row.Instance, row.Policy, row.Orders, row.Feasible, &row.Metrics, row.Unreachable, row.Elapsed.Seconds())
		}
	}
	for _, p := range policies {
		var m mdrp.Metrics
		var secs float64
		n, feasible, orders, unreachable := 0, true, 0, 0
		for _, r := range rows {
			if r.Policy != policyLabel(p) {
				continue
			}
			n++
			orders += r.Orders
			unreachable += r.Unreachable
			feasible = feasible && r.Feasible
			m.DeliveredShare += r.Metrics.DeliveredShare
			m.ClickToDoor.Mean += r.Metrics.ClickToDoor.Mean
			m.ClickToDoor.P90 += r.Metrics.ClickToDoor.P90
			m.ReadyToPickup.Mean += r.Metrics.ReadyToPickup.Mean
			m.OrdersPerBundle.Mean += r.Metrics.OrdersPerBundle.Mean
			m.OrdersPerHour.Mean += r.Metrics.OrdersPerHour.Mean
			secs += r.Elapsed.Seconds()
		}
		k := float64(n)
		m.DeliveredShare /= k
		m.ClickToDoor.Mean /= k
		m.ClickToDoor.P90 /= k
		m.ReadyToPickup.Mean /= k
		m.OrdersPerBundle.Mean /= k
		m.OrdersPerHour.Mean /= k
		printRow(stdout, fmt.Sprintf("mean of %d", n), policyLabel(p), orders/n, feasible, &m, unreachable, secs/k)
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := writeJSON(f, rows); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if !r.Feasible {
			return fmt.Errorf("%s (%s): the solution is not feasible", r.Instance, r.Policy)
		}
	}
	return nil
}

// printRow prints one line of the bench table; unreachable is the least number of orders any solution leaves
// undelivered (mdrp.LostBound), the instance's own bound on what any solution delivers (a total on a mean line).
func printRow(w io.Writer, name, policy string, orders int, feasible bool, m *mdrp.Metrics, unreachable int, secs float64) {
	fmt.Fprintf(w, "%-18s %-9s %6d %8v %8.2f%% %8.2f %8.2f %8.2f %8.3f %9.3f %8d %8.2f\n", name, policy, orders, feasible,
		100*m.DeliveredShare, m.ClickToDoor.Mean, m.ClickToDoor.P90, m.ReadyToPickup.Mean, m.OrdersPerBundle.Mean,
		m.OrdersPerHour.Mean, unreachable, secs)
}

// mdrpDirs returns the directories under root whose names match pattern and that hold an MDRP instance (an orders
// file), in name order.
func mdrpDirs(root, pattern string) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(root, pattern))
	if err != nil {
		return nil, fmt.Errorf("%w: --pattern: %v", errUsage, err)
	}
	return slices.DeleteFunc(dirs, func(d string) bool {
		fi, err := os.Stat(filepath.Join(d, mdrp.OrdersFile))
		return err != nil || fi.IsDir()
	}), nil
}

package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim"
	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
)

// settle runs the optimising policy on MDRP instances and, where it loses orders beyond the instance's proven
// bound, re-plans the end of the day in hindsight (mdrp.Replan) from each of the given minutes before the last
// shift ends. A re-plan that delivers more is checked by the validator and, with --out, written as the
// instance's three solution files: a constructive proof that those orders could be delivered.
func settle(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("settle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("mdrp-root", "", "directory holding MDRP instance directories")
	pattern := fs.String("pattern", "*", "glob of instance directory names")
	before := fs.String("before", "60,120,180,240", "comma-separated minutes before the last off-time to re-plan from")
	iterations := fs.Int("iterations", 20000, "search iterations per re-plan")
	seed := fs.Uint64("seed", 1, "seed")
	online := fs.Int("online", 0, "re-plan without hindsight every N minutes (mdrp.ReplanOnline; 0: with hindsight)")
	cold := fs.Bool("cold", false, "with --online, plan each step from nothing (not from the previous step's plan)")
	every := fs.Bool("every", false, "re-plan every instance, also those the policy loses no order of beyond the bound")
	out := fs.String("out", "", "write each improved solution into OUT/<instance>/")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *root == "" {
		return fmt.Errorf("%w: --mdrp-root is required", errUsage)
	}
	var offsets []int
	for _, f := range strings.Split(*before, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || m < 0 {
			return fmt.Errorf("%w: --before: %q is not a whole number of minutes", errUsage, f)
		}
		offsets = append(offsets, m)
	}
	dirs, err := mdrpDirs(*root, *pattern)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-18s %6s %6s %6s %7s %6s %8s %8s\n", "instance", "orders", "bound", "policy", "from", "replan", "c2d", "c2d new")
	totalPolicy, totalBest := 0, 0
	for _, d := range dirs {
		in, err := mdrp.Load(d)
		if err != nil {
			return err
		}
		bound := mdrp.LostBound(in)
		o, err := sim.RunMDRP(in, sim.Options{Policy: dispatch.PolicyOptimize})
		if err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
		lostPolicy := len(in.Orders) - len(o.MDRP.Solution.Orders)
		totalPolicy += lostPolicy
		if lostPolicy <= bound && !*every {
			totalBest += lostPolicy
			continue
		}
		lastOff := 0
		for _, c := range in.Couriers {
			lastOff = max(lastOff, c.Off)
		}
		best, bestFrom, bestLost := o.MDRP.Solution, -1, lostPolicy
		for _, b := range offsets {
			from := lastOff - b
			opts := mdrp.ReplanOptions{From: from, Iterations: *iterations, Seed: *seed, Cold: *cold}
			var s *mdrp.Solution
			if *online > 0 {
				s, err = mdrp.ReplanOnline(in, o.MDRP.Solution, opts, *online)
			} else {
				s, err = mdrp.Replan(in, o.MDRP.Solution, opts)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", in.Name, err)
			}
			if v := mdrp.Validate(in, s); len(v) > 0 {
				return fmt.Errorf("%s: the re-plan from minute %d is not feasible: %v", in.Name, from, v[0])
			}
			lost := len(in.Orders) - len(s.Orders)
			m := mdrp.Evaluate(in, s)
			fmt.Fprintf(stdout, "%-18s %6d %6d %6d %7d %6d %8.2f %8.2f\n", in.Name, len(in.Orders), bound, lostPolicy, from,
				lost, o.MDRP.Metrics.ClickToDoor.Mean, m.ClickToDoor.Mean)
			if lost < bestLost {
				best, bestFrom, bestLost = s, from, lost
			}
		}
		totalBest += bestLost
		if *out != "" && bestFrom >= 0 {
			if err := mdrp.WriteSolution(filepath.Join(*out, in.Name), best); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "lost: policy %d, best re-plan %d\n", totalPolicy, totalBest)
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
	"github.com/o2o-dispatch/dispatchd/sim/lilim"
)

// planCmd runs the planner on Li & Lim instances: one file (a line of result, optionally the solution as JSON) or a
// directory (a table against the best known values). Every solution is checked by sim/lilim before it is printed.
func planCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("lilim", "", "Li & Lim instance file")
	dir := fs.String("lilim-dir", "", "directory of Li & Lim instances (*.txt)")
	bks := fs.String("bks", "", "best-known table (default: bks.csv in the directory or its parent)")
	seconds := fs.Float64("seconds", 2, "time limit per instance, seconds (0: none, --iterations must be set)")
	iterations := fs.Int("iterations", 0, "search iterations per worker (deterministic when --seconds is 0)")
	seed := fs.Uint64("seed", 1, "seed")
	workers := fs.Int("workers", runtime.NumCPU(), "parallel searches")
	out := fs.String("out", "", "write the solution as JSON (with --lilim)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if (*file == "") == (*dir == "") {
		return fmt.Errorf("%w: give exactly one of --lilim and --lilim-dir", errUsage)
	}
	if *seconds < 0 || *iterations < 0 || *workers < 1 {
		return fmt.Errorf("%w: --seconds and --iterations must not be negative, --workers must be positive", errUsage)
	}
	if *seconds == 0 && *iterations == 0 {
		return fmt.Errorf("%w: --seconds 0 needs --iterations", errUsage)
	}
	opt := planner.Options{Seed: *seed, Workers: *workers, Iterations: *iterations,
		TimeLimit: time.Duration(*seconds * float64(time.Second)), Now: time.Now}
	if *file != "" {
		res, err := solveLiLim(*file, opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "vehicles %d distance %.4f seconds %.2f\n", res.vehicles, res.distance, res.seconds)
		if *out != "" {
			return writeLiLimSolution(*out, res)
		}
		return nil
	}
	if *out != "" {
		return fmt.Errorf("%w: --out goes with --lilim", errUsage)
	}
	return planTable(*dir, *bks, opt, stdout)
}

type lilimResult struct {
	name     string
	vehicles int
	distance float64
	seconds  float64
	// cpu is the processor time of the run, all workers together.
	cpu    float64
	routes [][]int
}

// lilimRequest is the planner's request for an instance: places are task ids, every vehicle leaves the depot at 0
// and is back by the horizon.
func lilimRequest(in *lilim.Instance) *planner.Request {
	pts := make([]orb.Point, len(in.Tasks))
	for i, t := range in.Tasks {
		pts[i] = orb.Point{t.X, t.Y}
	}
	r := &planner.Request{Matrix: planner.EuclideanMatrix(pts)}
	for k := range in.Vehicles {
		r.Vehicles = append(r.Vehicles, planner.Vehicle{ID: strconv.Itoa(k + 1), ShiftEnd: in.Horizon(),
			Capacity: []int64{int64(in.Capacity)}})
	}
	for _, t := range in.Tasks[1:] {
		if t.Demand <= 0 {
			continue
		}
		d := in.Tasks[t.Delivery]
		r.Shipments = append(r.Shipments, planner.Shipment{ID: strconv.Itoa(t.ID), Amount: []int64{int64(t.Demand)},
			Pickup:   planner.Task{Place: t.ID, Service: t.Service, Earliest: t.Earliest, Latest: t.Latest},
			Delivery: planner.Task{Place: d.ID, Service: d.Service, Earliest: d.Earliest, Latest: d.Latest}})
	}
	// A zero latest time means no limit to the planner; in the benchmark it means time 0.
	for i := range r.Shipments {
		for _, t := range []*planner.Task{&r.Shipments[i].Pickup, &r.Shipments[i].Delivery} {
			if t.Latest == 0 {
				t.Latest = math.SmallestNonzeroFloat64
			}
		}
	}
	return r
}

func solveLiLim(path string, opt planner.Options) (*lilimResult, error) {
	in, err := lilim.Load(path)
	if err != nil {
		return nil, err
	}
	start, cpu0 := time.Now(), cpuSeconds()
	plan, err := planner.Solve(context.Background(), lilimRequest(in), opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	secs := time.Since(start).Seconds()
	if len(plan.Unassigned) > 0 {
		u := plan.Unassigned[0]
		return nil, fmt.Errorf("%s: %d shipments left out, the first %s: %s", in.Name, len(plan.Unassigned), u.Shipment, u.Reason)
	}
	res := &lilimResult{name: in.Name, seconds: secs, cpu: cpuSeconds() - cpu0}
	for _, r := range plan.Routes {
		var ids []int
		for _, s := range r.Stops[1 : len(r.Stops)-1] {
			ids = append(ids, s.Place)
		}
		res.routes = append(res.routes, ids)
	}
	if res.vehicles, res.distance, err = in.Check(res.routes); err != nil {
		return nil, fmt.Errorf("%s: the checker refuses the planner's solution: %w", in.Name, err)
	}
	return res, nil
}

func writeLiLimSolution(path string, res *lilimResult) error {
	b, err := json.MarshalIndent(struct {
		Instance string  `json:"instance"`
		Vehicles int     `json:"vehicles"`
		Distance float64 `json:"distance"`
		Routes   [][]int `json:"routes"`
	}{res.name, res.vehicles, res.distance, res.routes}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// planTable solves every instance of dir, one after the other, and prints each against the best known.
func planTable(dir, bksPath string, opt planner.Options, stdout io.Writer) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.txt instances in %s", dir)
	}
	slices.Sort(files)
	if bksPath == "" {
		for _, p := range []string{filepath.Join(dir, "bks.csv"), filepath.Join(dir, "..", "bks.csv")} {
			if _, err := os.Stat(p); err == nil {
				bksPath = p
				break
			}
		}
	}
	var best map[string]lilim.Best
	if bksPath != "" {
		if best, err = lilim.LoadBest(bksPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%-8s %8s %12s %8s %12s %8s %7s %7s\n", "instance", "vehicles", "distance", "best v", "best d", "gap %", "seconds", "cpu s")
	var (
		n, atBest, veh, bestVeh, matched int
		gapSum, secs, cpu                float64
	)
	for _, f := range files {
		res, err := solveLiLim(f, opt)
		if err != nil {
			return err
		}
		n++
		veh += res.vehicles
		secs += res.seconds
		cpu += res.cpu
		b, ok := best[res.name]
		if !ok {
			fmt.Fprintf(stdout, "%-8s %8d %12.4f %8s %12s %8s %7.2f %7.2f\n", res.name, res.vehicles, res.distance, "-", "-", "-", res.seconds, res.cpu)
			continue
		}
		bestVeh += b.Vehicles
		gap := "-"
		if res.vehicles == b.Vehicles {
			atBest++
			matched++
			g := 100 * (res.distance - b.Distance) / b.Distance
			gapSum += g
			gap = fmt.Sprintf("%.2f", g)
		}
		fmt.Fprintf(stdout, "%-8s %8d %12.4f %8d %12.4f %8s %7.2f %7.2f\n", res.name, res.vehicles, res.distance, b.Vehicles, b.Distance, gap, res.seconds, res.cpu)
	}
	fmt.Fprintf(stdout, "\n%d instances, %d vehicles in total (best known %d), %d at the best known vehicles", n, veh, bestVeh, atBest)
	if matched > 0 {
		fmt.Fprintf(stdout, ", mean distance gap where vehicles match %.2f %%", gapSum/float64(matched))
	}
	fmt.Fprintf(stdout, ", %.2f s per instance (%.2f s of processor time); every solution checked\n", secs/float64(n), cpu/float64(n))
	if best == nil {
		return errors.New("no best-known table found (give --bks)")
	}
	return nil
}

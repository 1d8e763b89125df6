// Package lilim reads the Li & Lim pickup-and-delivery benchmark with time windows (Li and Lim 2001, the 100- to
// 1000-task sets kept by SINTEF) and checks solutions of it on its own, without trusting the planner that made them.
//
// # Data
//
// The instances are not shipped with dispatchd: read them by path from a local copy (the benchmarks skip when it is
// absent); the tests write their own small files.
//
// # Instance files
//
// Whitespace-separated integers (the published files are tab-separated with CRLF line ends). The first line is
// `K Q S`: vehicles available, capacity, and a speed that is not used. Then one line per task:
//
//	id x y demand earliest latest service pickup delivery
//
// Task 0 is the depot; its latest time is the horizon. A pickup has a positive demand, pickup 0 and the id of its
// delivery; a delivery has the opposite demand, the id of its pickup and delivery 0.
//
// # Rules
//
// Distances are Euclidean in double precision and travel time equals distance. Routes leave the depot at time 0,
// service starts within the task's window (waiting is allowed) and lasts its service time, the load never exceeds
// Q, a pickup comes before its delivery on the same route, every task is visited exactly once and every route is
// back at the depot by the horizon. Solutions are ranked by vehicles, then total distance.
package lilim

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Task is one line of an instance; the depot is task 0.
type Task struct {
	ID               int
	X, Y             float64
	Demand           int
	Earliest, Latest float64
	Service          float64
	Pickup, Delivery int
}

// Instance is a Li & Lim instance.
type Instance struct {
	// Name is the file name without its extension.
	Name     string
	Vehicles int
	Capacity int
	Tasks    []Task
}

// Horizon is the depot's latest time: every route must be back by then.
func (in *Instance) Horizon() float64 { return in.Tasks[0].Latest }

// Dist is the Euclidean distance between two tasks.
func (in *Instance) Dist(a, b int) float64 {
	return math.Hypot(in.Tasks[a].X-in.Tasks[b].X, in.Tasks[a].Y-in.Tasks[b].Y)
}

// Load reads an instance file.
func Load(path string) (*Instance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lilim: %w", err)
	}
	defer f.Close()
	in, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("lilim: %s: %w", path, err)
	}
	in.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return in, nil
}

// Parse reads an instance and checks its structure: ids 0..N in order, a depot first, pairs that point at each
// other with opposite demands, windows that are not empty and nothing negative where it must not be.
func Parse(r io.Reader) (*Instance, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	var in Instance
	header := false
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		nums := make([]int, len(fields))
		for i, f := range fields {
			v, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("line %d field %d: %q is not an integer", line, i+1, f)
			}
			nums[i] = v
		}
		if !header {
			if len(nums) != 3 {
				return nil, fmt.Errorf("line %d: header has %d fields, want 3 (vehicles capacity speed)", line, len(nums))
			}
			if nums[0] <= 0 || nums[1] <= 0 {
				return nil, fmt.Errorf("line %d: vehicles and capacity must be positive", line)
			}
			in.Vehicles, in.Capacity = nums[0], nums[1]
			header = true
			continue
		}
		if len(nums) != 9 {
			return nil, fmt.Errorf("line %d: task has %d fields, want 9", line, len(nums))
		}
		t := Task{ID: nums[0], X: float64(nums[1]), Y: float64(nums[2]), Demand: nums[3], Earliest: float64(nums[4]),
			Latest: float64(nums[5]), Service: float64(nums[6]), Pickup: nums[7], Delivery: nums[8]}
		if t.ID != len(in.Tasks) {
			return nil, fmt.Errorf("line %d: task id %d, want %d (ids run 0..N in order)", line, t.ID, len(in.Tasks))
		}
		if t.Earliest < 0 || t.Latest < t.Earliest || t.Service < 0 {
			return nil, fmt.Errorf("line %d: task %d: window [%v, %v] or service %v is invalid", line, t.ID, t.Earliest, t.Latest, t.Service)
		}
		in.Tasks = append(in.Tasks, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !header {
		return nil, errors.New("empty file")
	}
	if len(in.Tasks) == 0 {
		return nil, errors.New("no depot line")
	}
	if d := in.Tasks[0]; d.Demand != 0 || d.Pickup != 0 || d.Delivery != 0 {
		return nil, errors.New("task 0 (the depot) must have demand, pickup and delivery 0")
	}
	n := len(in.Tasks)
	for _, t := range in.Tasks[1:] {
		switch {
		case t.Demand > 0 && t.Pickup == 0 && t.Delivery > 0 && t.Delivery < n:
			d := in.Tasks[t.Delivery]
			if d.Pickup != t.ID || d.Delivery != 0 || d.Demand != -t.Demand {
				return nil, fmt.Errorf("task %d: its delivery %d does not point back with the opposite demand", t.ID, t.Delivery)
			}
			if t.Demand > in.Capacity {
				return nil, fmt.Errorf("task %d: demand %d exceeds the capacity %d", t.ID, t.Demand, in.Capacity)
			}
		case t.Demand < 0 && t.Delivery == 0 && t.Pickup > 0 && t.Pickup < n:
			if in.Tasks[t.Pickup].Delivery != t.ID {
				return nil, fmt.Errorf("task %d: its pickup %d does not point back", t.ID, t.Pickup)
			}
		default:
			return nil, fmt.Errorf("task %d: neither a pickup (demand > 0, pickup 0, delivery id) nor a delivery (demand < 0, pickup id, delivery 0)", t.ID)
		}
	}
	return &in, nil
}

// Check validates a solution, routes of task ids with the depot left out, and returns its vehicles (non-empty
// routes) and total distance. It reports the first rule broken: a task out of range, twice or missing, a delivery
// before its pickup or on another route, a load above capacity, a service start after its window, or a return after
// the horizon. Times are compared with a tolerance of 1e-6.
func (in *Instance) Check(routes [][]int) (vehicles int, distance float64, err error) {
	const tol = 1e-6
	n := len(in.Tasks)
	seen := make([]int, n) // route number + 1
	for k, r := range routes {
		if len(r) == 0 {
			continue
		}
		vehicles++
		t, load, prev := 0.0, 0, 0
		for i, id := range r {
			if id <= 0 || id >= n {
				return 0, 0, fmt.Errorf("route %d stop %d: task %d does not exist", k, i, id)
			}
			if seen[id] != 0 {
				return 0, 0, fmt.Errorf("route %d stop %d: task %d is visited twice", k, i, id)
			}
			seen[id] = k + 1
			task := in.Tasks[id]
			if task.Demand < 0 && seen[task.Pickup] != k+1 {
				return 0, 0, fmt.Errorf("route %d stop %d: delivery %d before its pickup %d on this route", k, i, id, task.Pickup)
			}
			d := in.Dist(prev, id)
			distance += d
			t = math.Max(t+d, task.Earliest)
			if t > task.Latest+tol {
				return 0, 0, fmt.Errorf("route %d stop %d: service at task %d starts at %.4f, after its window ends at %v", k, i, id, t, task.Latest)
			}
			t += task.Service
			load += task.Demand
			if load > in.Capacity {
				return 0, 0, fmt.Errorf("route %d stop %d: load %d after task %d exceeds the capacity %d", k, i, load, id, in.Capacity)
			}
			prev = id
		}
		d := in.Dist(prev, 0)
		distance += d
		if t+d > in.Horizon()+tol {
			return 0, 0, fmt.Errorf("route %d: back at the depot at %.4f, after the horizon %v", k, t+d, in.Horizon())
		}
	}
	for id := 1; id < n; id++ {
		if seen[id] == 0 {
			return 0, 0, fmt.Errorf("task %d is not visited", id)
		}
		if t := in.Tasks[id]; t.Demand > 0 && seen[t.Delivery] != seen[id] {
			return 0, 0, fmt.Errorf("task %d and its delivery %d are on different routes", id, t.Delivery)
		}
	}
	if vehicles > in.Vehicles {
		return 0, 0, fmt.Errorf("%d vehicles used, the instance has %d", vehicles, in.Vehicles)
	}
	return vehicles, distance, nil
}

// Best is a best-known result.
type Best struct {
	Vehicles int
	Distance float64
}

// LoadBest reads a best-known table (`instance,vehicles,distance[,…]` with a header line) into a map by instance
// name.
func LoadBest(path string) (map[string]Best, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lilim: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("lilim: %s: %w", path, err)
	}
	out := map[string]Best{}
	for i, row := range rows {
		if i == 0 {
			continue
		}
		if len(row) < 3 {
			return nil, fmt.Errorf("lilim: %s line %d: want instance,vehicles,distance", path, i+1)
		}
		v, err1 := strconv.Atoi(row[1])
		d, err2 := strconv.ParseFloat(row[2], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("lilim: %s line %d: vehicles and distance must be numbers", path, i+1)
		}
		out[row[0]] = Best{Vehicles: v, Distance: d}
	}
	return out, nil
}

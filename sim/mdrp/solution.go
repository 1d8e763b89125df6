package mdrp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the solution files, exactly as the upstream evaluator opens them.
const (
	AssignmentsFile   = "solution_info_assignments.txt"
	OrderRecordsFile  = "solution_info_orders.txt"
	CourierMovesFile  = "solution_info_couriers.txt"
	assignmentsHeader = "assignment_time pickup_time courier orders"
	orderRecordHeader = "order placement_time ready_time pickup_time dropoff_time courier"
	courierMoveHeader = "courier departure_time origin destination"
)

// Assignment is one instruction: at minute Time the courier is told to pick up Orders (a bundle of one
// restaurant) at minute Pickup and deliver them in the listed sequence.
type Assignment struct {
	Time    int
	Pickup  int
	Courier string
	Orders  []string // in delivery sequence
}

// OrderRecord describes one delivered order.
type OrderRecord struct {
	Order     string
	Placement int
	Ready     int
	Pickup    int
	Dropoff   int
	Courier   string
}

// Move is one leg of a courier's route. Origin is OnLocation ("0") for the courier's on-location, otherwise a
// restaurant id or an order id (the order's drop-off location); Destination is a restaurant or an order id.
// The arrival is not stored: it is Departure + the travel time.
type Move struct {
	Courier     string
	Departure   int
	Origin      string
	Destination string
}

// Solution is the content of the three solution files. Moves are grouped by courier, each courier's moves in
// the order it executes them.
type Solution struct {
	Assignments []Assignment
	Orders      []OrderRecord
	Moves       []Move
}

// WriteSolution writes the three solution files into dir, creating it if needed. The output depends only on
// s (records in slice order, single spaces, "\n" line ends, one header line per file), so equal solutions give
// identical bytes. It refuses ids that are empty or contain white space and assignments without orders,
// because they could not be read back.
func WriteSolution(dir string, s *Solution) error {
	var a, o, m bytes.Buffer
	a.WriteString(assignmentsHeader + "\n")
	for i, x := range s.Assignments {
		if len(x.Orders) == 0 {
			return fmt.Errorf("mdrp: write %s: assignment %d has no orders", AssignmentsFile, i)
		}
		if err := checkIDs(AssignmentsFile, append([]string{x.Courier}, x.Orders...)...); err != nil {
			return err
		}
		fmt.Fprintf(&a, "%d %d %s %s\n", x.Time, x.Pickup, x.Courier, strings.Join(x.Orders, " "))
	}
	o.WriteString(orderRecordHeader + "\n")
	for _, x := range s.Orders {
		if err := checkIDs(OrderRecordsFile, x.Order, x.Courier); err != nil {
			return err
		}
		fmt.Fprintf(&o, "%s %d %d %d %d %s\n", x.Order, x.Placement, x.Ready, x.Pickup, x.Dropoff, x.Courier)
	}
	m.WriteString(courierMoveHeader + "\n")
	for _, x := range s.Moves {
		if err := checkIDs(CourierMovesFile, x.Courier, x.Origin, x.Destination); err != nil {
			return err
		}
		fmt.Fprintf(&m, "%s %d %s %s\n", x.Courier, x.Departure, x.Origin, x.Destination)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mdrp: write solution: %w", err)
	}
	for _, f := range []struct {
		name string
		buf  *bytes.Buffer
	}{{AssignmentsFile, &a}, {OrderRecordsFile, &o}, {CourierMovesFile, &m}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("mdrp: write %s: %w", f.name, err)
		}
	}
	return nil
}

func checkIDs(file string, ids ...string) error {
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, " \t\r\n\v\f") {
			return fmt.Errorf("mdrp: write %s: id %q is empty or contains white space", file, id)
		}
	}
	return nil
}

// ReadSolution reads the three solution files from dir. Errors name the file, the line and the field. Times
// must be whole numbers ("12.0" is accepted, as the evaluator accepts it). Only the format is checked here;
// Validate checks feasibility.
func ReadSolution(dir string) (*Solution, error) {
	s := &Solution{}
	recs, err := readRecords(dir, AssignmentsFile, 4, -1)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: AssignmentsFile, rec: rec}
		a := Assignment{Time: r.whole(0, "assignment_time"), Pickup: r.whole(1, "pickup_time"), Courier: r.str(2),
			Orders: append([]string(nil), rec.fields[3:]...)}
		if r.err != nil {
			return nil, r.err
		}
		s.Assignments = append(s.Assignments, a)
	}

	if recs, err = readRecords(dir, OrderRecordsFile, 6, 6); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: OrderRecordsFile, rec: rec}
		o := OrderRecord{Order: r.str(0), Placement: r.whole(1, "placement_time"), Ready: r.whole(2, "ready_time"),
			Pickup: r.whole(3, "pickup_time"), Dropoff: r.whole(4, "dropoff_time"), Courier: r.str(5)}
		if r.err != nil {
			return nil, r.err
		}
		s.Orders = append(s.Orders, o)
	}

	if recs, err = readRecords(dir, CourierMovesFile, 4, 4); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r := &fieldReader{file: CourierMovesFile, rec: rec}
		m := Move{Courier: r.str(0), Departure: r.whole(1, "departure_time"), Origin: r.str(2), Destination: r.str(3)}
		if r.err != nil {
			return nil, r.err
		}
		s.Moves = append(s.Moves, m)
	}
	return s, nil
}

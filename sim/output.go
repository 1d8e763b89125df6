package sim

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim/mdrp"
	"github.com/o2o-dispatch/dispatchd/sim/report"
)

// Outcome is one policy's run of a scenario with everything computed from it.
type Outcome struct {
	Result  *Result
	Summary Summary
	// MDRP is set for runs of MDRP instances: the solution, the validator's verdict and the evaluator's figures.
	MDRP *MDRPOutcome
}

// MDRPOutcome is the benchmark's view of a run.
type MDRPOutcome struct {
	Solution   *mdrp.Solution `json:"-"`
	Feasible   bool           `json:"feasible"`
	Violations []string       `json:"violations,omitempty"`
	Metrics    mdrp.Metrics   `json:"metrics"`
}

// RunScenario runs a scenario under a policy and summarises it.
func RunScenario(sc *Scenario, opt Options) (*Outcome, error) {
	r, err := Run(sc, opt)
	if err != nil {
		return nil, err
	}
	return &Outcome{Result: r, Summary: Summarize(r, sc.PayPerOrder, sc.PayPerHour)}, nil
}

// RunMDRP runs an MDRP instance under a policy, writes its solution, checks it with the independent validator and
// evaluates it. An infeasible solution is reported in the outcome, not as an error.
func RunMDRP(in *mdrp.Instance, opt Options) (*Outcome, error) {
	out, err := RunScenario(FromMDRP(in), opt)
	if err != nil {
		return nil, err
	}
	sol, err := MDRPSolution(out.Result)
	if err != nil {
		return nil, err
	}
	m := &MDRPOutcome{Solution: sol, Metrics: mdrp.Evaluate(in, sol)}
	for _, v := range mdrp.Validate(in, sol) {
		m.Violations = append(m.Violations, v.Error())
	}
	m.Feasible = len(m.Violations) == 0
	out.MDRP = m
	return out, nil
}

// Made says when, by which build and from which inputs a run's outputs were made. It is written into
// summary.json and under the report's title; the caller fills it (the time from its own clock).
type Made struct {
	At time.Time `json:"at"`
	// Version is the build's version and commit ("devel" when the build does not say).
	Version string `json:"version"`
	// Command is the dispatch-sim command (run or compare); Input the scenario file or MDRP instance directory.
	Command string `json:"command"`
	Input   string `json:"input"`
	// Seed generated the scenario (nil for MDRP instances, which are read as they are).
	Seed     *uint64  `json:"seed,omitempty"`
	Scenario string   `json:"scenario"`
	Policies []string `json:"policies"`
}

// String is the line the report shows.
func (m *Made) String() string {
	s := fmt.Sprintf("Made %s by dispatch-sim %s (%s) from %s", m.At.UTC().Format("2006-01-02 15:04:05 UTC"),
		m.Version, m.Command, m.Input)
	if m.Seed != nil {
		s += fmt.Sprintf(", seed %d", *m.Seed)
	}
	return s + fmt.Sprintf(", scenario %s, policies %s", m.Scenario, strings.Join(m.Policies, " and "))
}

// summaryFile is the layout of summary.json.
type summaryFile struct {
	Made *Made `json:"made,omitempty"`
	Summary
	MDRP *MDRPOutcome `json:"mdrp,omitempty"`
	// Compared holds the other policies run for the report, summarised the same way.
	Compared []Summary `json:"compared,omitempty"`
}

// WriteOutputs writes the files of a run into dir: summary.json, orders.csv, couriers.csv, report.html, for runs
// with fulfilment stores.csv, and for MDRP runs the three solution files. The first outcome is the run's; the
// others are compared with it in the report and summary. notes are shown under the report's title; made (nil:
// not said) in summary.json and the report.
func WriteOutputs(dir string, outs []*Outcome, target time.Duration, notes []string, made *Made) error {
	if len(outs) == 0 {
		return fmt.Errorf("sim: nothing to write")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sim: output directory: %w", err)
	}
	main := outs[0]
	sf := summaryFile{Made: made, Summary: main.Summary, MDRP: main.MDRP}
	for _, o := range outs[1:] {
		sf.Compared = append(sf.Compared, o.Summary)
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sf)
	}); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "orders.csv"), func(w io.Writer) error { return WriteOrdersCSV(w, main.Result) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "couriers.csv"), func(w io.Writer) error { return WriteCouriersCSV(w, main.Result) }); err != nil {
		return err
	}
	if main.Result.Fulfil != nil {
		if err := writeFile(filepath.Join(dir, "stores.csv"), func(w io.Writer) error { return WriteStoresCSV(w, main.Result) }); err != nil {
			return err
		}
	}
	if main.MDRP != nil {
		if err := mdrp.WriteSolution(dir, main.MDRP.Solution); err != nil {
			return err
		}
	}
	data := ReportData(outs, target, notes)
	if made != nil {
		data.Made = made.String()
	}
	return writeFile(filepath.Join(dir, "report.html"), func(w io.Writer) error { return report.Write(w, data) })
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	w := bufio.NewWriter(f)
	if err := fill(w); err != nil {
		f.Close()
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	return nil
}

// midnight is the start of the calendar day of the run: times in files and charts count minutes from it, so that
// minute 720 is noon whatever time the scenario starts.
func midnight(r *Result) time.Time {
	y, m, d := r.Start.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, r.Start.Location())
}

// clockOf formats a time as minutes from midnight (one decimal), the unit analysts compare.
func clockOf(r *Result, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatFloat(t.Sub(midnight(r)).Minutes(), 'f', 1, 64)
}

// WriteOrdersCSV writes one row per order: its times (minutes from the start of the day), courier and KPIs. With
// fulfilment the status is the order's stage (rejected, and for orders collected in store pending,
// ready_for_pickup or collected), and more columns follow: whether the customer collects it, when, whether it named
// only its items, how many units, the rejection reasons, the later slots taken, whether it was an overnight order,
// its wait for a picker and whether the store cancelled it at closing.
func WriteOrdersCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	head := []string{"order", "store", "status", "courier", "placed_min", "ready_min", "deliver_by_min",
		"assigned_min", "picked_up_min", "delivered_min", "click_to_door_min", "late_min", "bundle_size", "reassigned"}
	if r.Fulfil != nil {
		head = append(head, "collect", "collected_min", "by_items", "units", "rejected", "reasons", "later_slot",
			"overnight", "pick_wait_min", "missed_at_closing")
	}
	_ = cw.Write(head)
	end := runEnd(r)
	for i := range r.Orders {
		o := &r.Orders[i]
		c2d, late, size := "", "", ""
		if o.Status == dispatch.StatusDelivered {
			c2d = strconv.FormatFloat(o.Delivered.Sub(o.Placed).Minutes(), 'f', 1, 64)
			late = strconv.FormatFloat(max(0, o.Delivered.Sub(o.DeliverBy).Minutes()), 'f', 1, 64)
		}
		if o.Bundle >= 0 {
			size = strconv.Itoa(len(r.Pickups[o.Bundle].Orders))
		}
		status := o.Status.String()
		if r.Fulfil != nil {
			status = o.Stage(end)
		}
		row := []string{o.ID, o.StoreID, status, o.CourierID, clockOf(r, o.Placed), clockOf(r, o.Ready),
			clockOf(r, o.DeliverBy), clockOf(r, o.Assigned), clockOf(r, o.PickedUp), clockOf(r, o.Delivered), c2d, late,
			size, strconv.Itoa(o.Reassigned)}
		if r.Fulfil != nil {
			row = append(row, strconv.FormatBool(o.Collect), clockOf(r, o.Collected), strconv.FormatBool(o.ByItems),
				strconv.Itoa(o.Items), o.Rejected, strings.Join(o.Reasons, " "), strconv.Itoa(o.LaterSlot),
				strconv.FormatBool(o.Overnight), strconv.FormatFloat(o.PickWait.Minutes(), 'f', 1, 64),
				strconv.FormatBool(o.Missed))
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// runEnd is the time of the last sample: the end of the run.
func runEnd(r *Result) time.Time {
	if len(r.Samples) == 0 {
		return r.Start
	}
	return r.Samples[len(r.Samples)-1].At
}

// WriteStoresCSV writes one row per store of a run with fulfilment: its picking capacity, the orders it took and
// turned away, its longest queue and its orders' waits for a picker, and the products that ran out there.
func WriteStoresCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"store", "kind", "pickers", "orders", "collect", "turned_away", "peak_queue", "peak_at_min",
		"pick_wait_mean_min", "pick_wait_max_min", "stock_outs"})
	outs := map[string]int{}
	if r.Fulfil == nil {
		cw.Flush()
		return cw.Error()
	}
	for _, so := range r.Fulfil.StockOuts {
		outs[so.StoreID]++
	}
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, st := range r.Fulfil.Stores {
		mean := 0.0
		if n := st.Orders + st.Collect; n > 0 {
			mean = st.PickWait.Minutes() / float64(n)
		}
		peakAt := ""
		if st.PeakQueue > 0 {
			peakAt = clockOf(r, st.PeakAt)
		}
		_ = cw.Write([]string{st.ID, st.Kind, strconv.Itoa(st.Pickers), strconv.Itoa(st.Orders), strconv.Itoa(st.Collect),
			strconv.Itoa(st.Turned), strconv.Itoa(st.PeakQueue), peakAt, f1(mean), f1(st.MaxPickWait.Minutes()),
			strconv.Itoa(outs[st.ID])})
	}
	cw.Flush()
	return cw.Error()
}

// WriteCouriersCSV writes one row per courier shift with its work and utilisation.
func WriteCouriersCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"courier", "vehicle", "on_min", "off_min", "finished_min", "delivered", "pickups",
		"driving_min", "service_min", "routed_min", "km", "utilisation", "idle_share"})
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for i := range r.Couriers {
		c := &r.Couriers[i]
		_ = cw.Write([]string{c.ID, c.Vehicle, clockOf(r, c.On), clockOf(r, c.Off), clockOf(r, c.Finished),
			strconv.Itoa(c.Delivered), strconv.Itoa(c.Pickups), f1(c.Driving.Minutes()), f1(c.Service.Minutes()),
			f1(c.Routed.Minutes()), strconv.FormatFloat(c.Metres/1000, 'f', 2, 64),
			strconv.FormatFloat(c.Utilisation(), 'f', 3, 64), strconv.FormatFloat(c.IdleShare(), 'f', 3, 64)})
	}
	cw.Flush()
	return cw.Error()
}

// headline is one row of the stdout table and of the report's KPI table.
type headline struct {
	name, unit string
	better     int
	value      func(s *Summary) float64
	count      bool // a number of things: printed whole
}

var headlines = []headline{
	{"click-to-door mean", "min", -1, func(s *Summary) float64 { return s.ClickToDoor.Mean }, false},
	{"click-to-door p90", "min", -1, func(s *Summary) float64 { return s.ClickToDoor.P90 }, false},
	{"delivered", "%", +1, func(s *Summary) float64 { return 100 * s.DeliveredShare }, false},
	{"delivered by the promise", "%", +1, func(s *Summary) float64 { return 100 * s.OnTimeShare }, false},
	{"lateness p90", "min", -1, func(s *Summary) float64 { return s.Lateness.P90 }, false},
	{"ready-to-pickup mean", "min", -1, func(s *Summary) float64 { return s.ReadyToPickup.Mean }, false},
	{"ready-to-door mean", "min", -1, func(s *Summary) float64 { return s.ReadyToDoor.Mean }, false},
	{"orders per bundle", "", 0, func(s *Summary) float64 { return s.OrdersPerBundle.Mean }, false},
	{"orders per courier-hour", "", +1, func(s *Summary) float64 { return s.OrdersPerCourierHour }, false},
	{"km per order", "km", -1, func(s *Summary) float64 { return s.KmPerOrder }, false},
	{"courier utilisation", "%", 0, func(s *Summary) float64 { return 100 * s.Utilisation.Mean }, false},
	{"courier idle share", "%", 0, func(s *Summary) float64 { return 100 * s.IdleShare.Mean }, false},
}

// fulfilHeadlines are the rows of the store side, for runs with fulfilment. Figures that do not apply (no
// opening, a backlog that never cleared) are NaN: "n/a".
var fulfilHeadlines = []headline{
	{"orders rejected", "%", -1, func(s *Summary) float64 { return 100 * s.Fulfilment.RejectedShare }, false},
	{"delivered by the promise, overnight", "%", +1, func(s *Summary) float64 { return 100 * s.Fulfilment.Overnight.OnTimeShare }, false},
	{"delivered by the promise, daytime", "%", +1, func(s *Summary) float64 { return 100 * s.Fulfilment.Daytime.OnTimeShare }, false},
	{"wait for a picker mean", "min", -1, func(s *Summary) float64 { return s.Fulfilment.PickWait.Mean }, false},
	{"stock-outs", "", -1, func(s *Summary) float64 { return float64(s.Fulfilment.StockOuts) }, true},
	{"cancelled at closing", "", -1, func(s *Summary) float64 { return float64(s.Fulfilment.Missed) }, true},
	{"backlog at opening", "", 0, func(s *Summary) float64 {
		return openingFigure(s, func(o *OpeningSummary) (float64, bool) { return float64(o.BacklogAtOpening), true })
	}, true},
	{"overnight orders picked up, after opening", "min", -1, func(s *Summary) float64 {
		return openingFigure(s, func(o *OpeningSummary) (float64, bool) {
			return o.OvernightClearedMin, !o.OvernightCleared.IsZero()
		})
	}, false},
	{"backlog back to normal, after opening", "min", -1, func(s *Summary) float64 {
		return openingFigure(s, func(o *OpeningSummary) (float64, bool) { return o.BackToNormalMin, !o.BackToNormal.IsZero() })
	}, false},
}

// openingFigure is a figure of the first opening, NaN when there is none or the figure does not apply.
func openingFigure(s *Summary, f func(*OpeningSummary) (float64, bool)) float64 {
	if o := s.Fulfilment.Opening; o != nil {
		if v, ok := f(o); ok {
			return v
		}
	}
	return math.NaN()
}

// headlinesOf are the rows shown for a run.
func headlinesOf(s *Summary) []headline {
	if s.Fulfilment == nil {
		return headlines
	}
	return append(slices.Clone(headlines), fulfilHeadlines...)
}

// WriteTable prints the headline KPIs of the outcomes side by side.
func WriteTable(w io.Writer, outs []*Outcome) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "KPI\t")
	for _, o := range outs {
		fmt.Fprintf(tw, "%s\t", o.Summary.Policy)
	}
	fmt.Fprintln(tw)
	for _, h := range headlinesOf(&outs[0].Summary) {
		name := h.name
		if h.unit != "" {
			name += " (" + h.unit + ")"
		}
		fmt.Fprintf(tw, "%s\t", name)
		for _, o := range outs {
			switch v := h.value(&o.Summary); {
			case math.IsNaN(v):
				fmt.Fprint(tw, "n/a\t")
			case h.count:
				fmt.Fprintf(tw, "%.0f\t", v)
			default:
				fmt.Fprintf(tw, "%.2f\t", v)
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "orders delivered\t")
	for _, o := range outs {
		fmt.Fprintf(tw, "%d/%d\t", o.Summary.Delivered, o.Summary.Orders)
	}
	fmt.Fprintln(tw)
	if outs[0].MDRP != nil {
		fmt.Fprint(tw, "MDRP validator: solution feasible\t")
		for _, o := range outs {
			fmt.Fprintf(tw, "%v\t", o.MDRP.Feasible)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// ReportData turns outcomes into the HTML report's input.
func ReportData(outs []*Outcome, target time.Duration, notes []string) *report.Data {
	d := &report.Data{Notes: notes, Target: target.Minutes()}
	if len(outs) > 0 {
		d.Scenario = outs[0].Result.Scenario
		d.Title = "dispatch-sim: " + d.Scenario
		// An MDRP instance counts minutes from its start, which is no time of day.
		d.Elapsed = outs[0].MDRP != nil
	}
	for _, o := range outs {
		r := o.Result
		p := report.Policy{Name: o.Summary.Policy, Orders: o.Summary.Orders}
		for _, h := range headlinesOf(&o.Summary) {
			p.KPIs = append(p.KPIs, report.KPI{Name: h.name, Unit: h.unit, Value: h.value(&o.Summary), Better: h.better, Count: h.count})
		}
		// The orders the summary counts: those for couriers (orders collected in store are counted apart).
		for _, ord := range r.Orders {
			if ord.Status == dispatch.StatusDelivered && !ord.Collect {
				p.ClickToDoor = append(p.ClickToDoor, ord.Delivered.Sub(ord.Placed).Minutes())
				p.Promise = append(p.Promise, ord.DeliverBy.Sub(ord.Placed).Minutes())
			}
		}
		if m := o.MDRP; m != nil {
			c := report.Check{Label: "MDRP validator (sim/mdrp), " + o.Summary.Policy + "'s solution", OK: m.Feasible}
			if !m.Feasible {
				c.Detail = fmt.Sprintf("%d feasibility conditions broken, first: %s", len(m.Violations), m.Violations[0])
			}
			d.Checks = append(d.Checks, c)
		}
		for _, s := range r.Samples {
			m := s.At.Sub(midnight(r)).Minutes()
			p.Waiting = append(p.Waiting, report.Sample{Minute: m, Value: float64(s.Waiting)})
			p.Busy = append(p.Busy, report.Sample{Minute: m, Value: float64(s.Busy)})
			p.Online = append(p.Online, report.Sample{Minute: m, Value: float64(s.Online)})
		}
		for i := range r.Couriers {
			p.Utilisation = append(p.Utilisation, r.Couriers[i].Utilisation())
		}
		if f := o.Summary.Fulfilment; f != nil {
			p.Fulfilment = reportFulfilment(r, f)
		}
		d.Policies = append(d.Policies, p)
	}
	if len(outs) > 0 {
		d.Map = reportMap(&outs[0].Result.Geography)
	}
	return d
}

// reportMap is the report's map of a day.
func reportMap(g *Geography) *report.Map {
	pts := func(ps []orb.Point) [][2]float64 {
		out := make([][2]float64, len(ps))
		for i, p := range ps {
			out[i] = p
		}
		return out
	}
	m := &report.Map{Geographic: g.Geographic, Stores: pts(g.Stores), Dropoffs: pts(g.Dropoffs),
		Caption: "Stores (squares), drop-offs (dots) and how the busiest couriers rode, as straight lines between stops."}
	if g.Roads {
		m.Caption = "Stores (squares), drop-offs (dots) and how the busiest couriers rode, on the roads of the map."
	}
	for _, t := range g.Tracks {
		tr := report.Track{Name: t.CourierID}
		for _, l := range t.Legs {
			tr.Legs = append(tr.Legs, pts(l))
		}
		m.Tracks = append(m.Tracks, tr)
	}
	return m
}

// reportFulfilment is the store side of the report.
func reportFulfilment(r *Result, f *FulfilSummary) *report.Fulfilment {
	rf := &report.Fulfilment{Opening: math.NaN()}
	if !r.Fulfil.Opening.IsZero() {
		rf.Opening = r.Fulfil.Opening.Sub(midnight(r)).Minutes()
	}
	for i := range r.Samples {
		s := &r.Samples[i]
		m := s.At.Sub(midnight(r)).Minutes()
		rf.Backlog = append(rf.Backlog, report.Sample{Minute: m, Value: float64(s.Backlog())})
		rf.Overnight = append(rf.Overnight, report.Sample{Minute: m, Value: float64(s.Overnight)})
		rf.Preparing = append(rf.Preparing, report.Sample{Minute: m, Value: float64(s.Preparing)})
	}
	for _, why := range slices.Sorted(maps.Keys(f.RejectedByReason)) {
		rf.Rejections = append(rf.Rejections, report.Count{Label: why, N: f.RejectedByReason[why]})
	}
	return rf
}

package load

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// driveReport is a drive or crash run, as written by --json.
type driveReport struct {
	Mode       string   `json:"mode"`
	Target     string   `json:"target"`
	Spawned    bool     `json:"spawned"`
	DaemonArgs []string `json:"daemon_args,omitempty"`
	DaemonExit string   `json:"daemon_exit,omitempty"`
	Stores     int      `json:"stores"`
	Couriers   int      `json:"couriers"`
	// ConnectS is how long the fleet took to come online (every stream open) before the measured load began.
	ConnectS  float64 `json:"connect_s"`
	OrderRate int     `json:"order_rate"`
	// LocationRate is positions a second; LocationBatch 0 means each courier posts its own, else the positions
	// go by POST /v1/courier-locations, LocationBatch a request.
	LocationRate  int `json:"location_rate"`
	LocationBatch int `json:"location_batch"`
	// MaxConns bounds the connections that carry the requests (0: none; the couriers' streams have their own).
	MaxConns       int       `json:"max_conns,omitempty"`
	TimeScale      float64   `json:"time_scale"`
	PrepSeconds    int       `json:"prep_seconds"`
	PromiseSeconds int       `json:"promise_seconds"`
	CancelShare    float64   `json:"cancel_share"`
	LoadS          float64   `json:"load_s"`
	DrainS         float64   `json:"drain_s"`
	P99LimitMS     float64   `json:"p99_limit_ms"`
	StartedAt      time.Time `json:"started_at"`
	Host           hostInfo  `json:"host"`

	// CPU is how busy the machine was during the load.
	CPU *cpuUse `json:"cpu,omitempty"`
	// Daemon is the daemon's own view of the load (drive mode): its latency of placing an order, its CPU, its
	// loop's busy ratio and longest step.
	Daemon *driveSelfView `json:"daemon,omitempty"`
	// OrdersSentPerS and PositionsSentPerS are the rates the pacers reached.
	OrdersSentPerS    float64      `json:"orders_sent_per_s"`
	PositionsSentPerS float64      `json:"positions_sent_per_s"`
	Classes           []classStats `json:"classes"`
	Ledger            ledgerCounts `json:"placements"`
	// PickedUp and Delivered are the couriers' hand-overs the daemon acknowledged; DeliveredUnanswered the
	// deliveries sent that got no answer (the daemon may have taken them).
	PickedUp            int64        `json:"couriers_picked_up"`
	Delivered           int64        `json:"couriers_delivered"`
	DeliveredUnanswered int64        `json:"couriers_delivered_unanswered"`
	Outcome             driveOutcome `json:"outcome"`

	Crash       *crashReport    `json:"crash,omitempty"`
	Check       checkResult     `json:"check"`
	CheckFrozen bool            `json:"check_frozen"`
	Replays     int             `json:"replays"`
	ReplaysSame int             `json:"replays_same_order"`
	Violations  violationReport `json:"violations"`
	// Held (drive mode) says whether the daemon held the load; NotHeld says why not.
	Held    bool     `json:"held"`
	NotHeld []string `json:"not_held,omitempty"`
	// Interrupted: the run was stopped (Ctrl-C) and its figures are partial, without the final check.
	Interrupted bool `json:"interrupted,omitempty"`
}

// printDriveReport writes the drive's figures: one row per class of request, the dispatch outcome, the kills and
// the verdict of the checks.
func printDriveReport(w io.Writer, r *driveReport) {
	fmt.Fprintf(w, "dispatchd-load: %s against %s; %d stores, %d couriers; %d orders/s, %d positions/s (%s); load %.1fs, drain %.0fs; couriers at %g× e-bike speed; prep %ds, promise %ds; %d CPUs shared with the daemon\n\n",
		r.Mode, describeTarget(r.Target, r.Spawned, r.DaemonArgs), r.Stores, r.Couriers, r.OrderRate, r.LocationRate, positionsHow(r.LocationBatch), r.LoadS, r.DrainS,
		r.TimeScale, r.PrepSeconds, r.PromiseSeconds, r.Host.NumCPU)
	if r.MaxConns > 0 {
		fmt.Fprintf(w, "requests over at most %d connections kept open (--max-conns), as through a gateway; each courier's stream on its own\n\n", r.MaxConns)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\trequests\tper s\tok\tstale\terrors\tp50\tp90\tp99\tmax\t  status codes")
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t  %s\n", c.Name, c.Requests, c.PerS, c.OK, c.Stale, c.Errors,
			fmtMS(c.P50MS), fmtMS(c.P90MS), fmtMS(c.P99MS), fmtMS(c.MaxMS), fmtCodes(c.StatusCodes))
	}
	tw.Flush()
	for _, c := range r.Classes {
		if len(c.ErrorSamples) == 0 && c.Skipped == 0 {
			continue
		}
		fmt.Fprintf(w, "\nerrors in %s (%d of %d requests; %d not sent):\n", c.Name, c.Errors, c.Requests, c.Skipped)
		for i, e := range c.ErrorSamples {
			if i == shownErrors {
				fmt.Fprintf(w, "  … %d more distinct errors (see --json)\n", len(c.ErrorSamples)-shownErrors)
				break
			}
			fmt.Fprintf(w, "  %7d × %s\n", e.Count, e.Error)
		}
	}
	fmt.Fprintf(w, "\nsent: %.1f orders/s, %.1f positions/s\n", r.OrdersSentPerS, r.PositionsSentPerS)
	if u := r.CPU; u != nil {
		daemon := "not measured, among the others"
		if u.DaemonMeasured {
			daemon = fmt.Sprintf("%.2f", u.Daemon)
		}
		fmt.Fprintf(w, "cpu during the load, in cores of %.0f: load generator %.2f, daemon %s, other processes %.2f (machine busy %.2f)\n",
			u.Cores, u.LoadGenerator, daemon, u.Others, u.Busy)
	}
	if len(r.Classes) > 0 {
		printDriveSelfView(w, r.Daemon, r.Classes[0].P99MS)
	}
	o := r.Outcome
	fmt.Fprintf(w, "outcome (GET /v1/orders at the end): %d placed (201), %d ever assigned, %d picked up, %d delivered (%d late, after deliver_by), %d cancelled, %d failed; still open: %d pending, %d assigned, %d picked up (%d flagged late)",
		r.Ledger.Acked, o.Assigned, o.PickedUp, o.Delivered, o.Late, o.Cancelled, o.Failed, o.OpenPending, o.OpenAssigned,
		o.OpenPickedUp, o.OpenLate)
	if o.Delivered > 0 {
		fmt.Fprintf(w, "; created to delivered p50 %.0fs, p90 %.0fs", o.DeliveryP50S, o.DeliveryP90S)
	}
	fmt.Fprintln(w)
	l := r.Ledger
	fmt.Fprintf(w, "placements: %d asked, %d answered 201, %d refused (4xx), %d without a final answer; %d retries with the same Idempotency-Key and body\n",
		l.Requested, l.Acked, l.Rejected, l.InFlight+l.Retrying, l.Retries)
	if c := r.Crash; c != nil {
		kills, graceful := 0, 0
		for _, k := range c.Kills {
			if k.Graceful {
				graceful++
			} else {
				kills++
			}
		}
		fmt.Fprintf(w, "\ncrash: seed %d; %d of %d kills (SIGKILL) and %d of %d graceful stops (SIGTERM), each followed by a restart on the same data directory\n",
			c.Seed, kills, c.KillsAsked, graceful, c.GracefulAsked)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stop\thow\tat\tup\tin flight\tready again in\tchecked\tlisted\tviolations\t")
		for _, k := range c.Kills {
			how := "kill"
			if k.Graceful {
				how = "SIGTERM"
			}
			fmt.Fprintf(tw, "%d\t%s\t+%.2fs\t%.2fs\t%d\t%.0fms\t%d\t%d\t%d\t\n", k.N, how, k.AtS, k.UpS, k.InFlight, 1000*k.RestartS, k.Checked, k.Listed, k.Violations)
		}
		tw.Flush()
		fmt.Fprintf(w, "placements in flight at a kill whose answer was lost: %d; retried with the same key and answered 201: %d (%d had been journaled before the kill and came back as the same order, %d were created by the retry)\n",
			l.LostAnswers, l.LostThenAcked, l.Journaled, l.CreatedByRetry)
		fmt.Fprintf(w, "final graceful stop, restart in %.0fms with no dispatch round due, then the check on the frozen state\n", 1000*c.FinalRestartS)
	}
	ch := r.Check
	fmt.Fprintf(w, "\ncheck: %d orders answered 201 looked up among %d listed: %d lost, %d duplicated, %d behind their acknowledged status, %d bad timelines; %d listed without a 201 (answer lost, never retried), %d nobody asked for\n",
		ch.Acked, ch.Listed, ch.Lost, ch.Duplicated, ch.Regressed, ch.BadTimelines, ch.Unanswered, ch.Unknown)
	state := "live"
	if r.CheckFrozen {
		state = "frozen"
	}
	fmt.Fprintf(w, "routes (%s state): %d routes, %d stops, %d violations; replays of acknowledged orders with their key and body: %d, %d answered the same order\n",
		state, ch.Routes, ch.RouteStops, ch.RouteViolations, r.Replays, r.ReplaysSame)
	if r.Interrupted {
		fmt.Fprintln(w, "\ninterrupted: the figures above are partial and the final check did not run")
	}
	switch n := r.Violations.total(); {
	case n > 0:
		fmt.Fprintf(w, "\nverdict: %d VIOLATIONS\n", n)
		for _, c := range r.Violations.Counts {
			fmt.Fprintf(w, "  %7d × %s\n", c.Count, c.Error)
		}
		for _, s := range r.Violations.Samples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	case r.Interrupted:
	case l.InFlight+l.Retrying > 0:
		fmt.Fprintf(w, "\nverdict: INCOMPLETE: %d placements never got a final answer\n", l.InFlight+l.Retrying)
	default:
		fmt.Fprintln(w, "\nverdict: clean (nothing acknowledged was lost, duplicated or taken back)")
	}
	if r.Mode == modeDrive && !r.Interrupted {
		if r.Held {
			fmt.Fprintf(w, "load held: yes (no errors, order intake p99 %s under %s, both rates sent in full)\n", fmtMS(r.Classes[0].P99MS), fmtMS(r.P99LimitMS))
		} else {
			fmt.Fprintf(w, "load held: no: %s\n", strings.Join(r.NotHeld, "; "))
		}
	}
	if r.DaemonExit != "" {
		fmt.Fprintf(w, "daemon: %s\n", r.DaemonExit)
	}
}

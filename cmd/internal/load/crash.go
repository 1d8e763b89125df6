package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// killRecord is one kill (or graceful stop) of the crash mode.
type killRecord struct {
	N int `json:"n"`
	// Graceful: stopped with SIGTERM (the daemon writes a checkpoint), not killed.
	Graceful bool `json:"graceful,omitempty"`
	// AtS is when the kill landed, in seconds from the start of the load; UpS how long the daemon had been ready
	// before it.
	AtS float64 `json:"at_s"`
	UpS float64 `json:"up_s"`
	// InFlight is the order placements under way when the kill landed.
	InFlight int `json:"in_flight"`
	// RestartS is the time from the kill to GET /readyz answering 200 again.
	RestartS float64 `json:"restart_s"`
	// Checked is the orders acknowledged before the kill that were looked for after the restart, Listed the
	// orders of the run then listed, and Violations what that check found.
	Checked    int `json:"checked"`
	Listed     int `json:"listed"`
	Violations int `json:"violations"`
}

// crashReport is the kills of a crash run.
type crashReport struct {
	Seed       uint64 `json:"seed"`
	KillsAsked int    `json:"kills_asked"`
	// GracefulAsked is the graceful restarts asked for among the kills.
	GracefulAsked int          `json:"graceful_asked,omitempty"`
	Kills         []killRecord `json:"kills"`
	// FinalRestartS is the restart after the final graceful stop, for the final check.
	FinalRestartS float64 `json:"final_restart_s"`
}

// killUptimes is the crash schedule: how long the daemon runs, once ready, before each of n stops, drawn from
// seed around a mean that spreads them over du, and which of them are to be graceful (the given number of them,
// at positions drawn from seed too).
func killUptimes(seed uint64, n, graceful int, du time.Duration) ([]time.Duration, []bool) {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	mean := float64(du) / float64(n+1)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(mean * (0.5 + rng.Float64()))
	}
	gentle := make([]bool, n)
	for _, i := range rng.Perm(n)[:graceful] {
		gentle[i] = true
	}
	return out, gentle
}

// runKills SIGKILLs the daemon --kills times (and stops it gracefully --graceful more times, interleaved) at
// the moments of the schedule and restarts it on the same data each time. After each restart it checks that every order acknowledged before the kill is listed, once, at a
// status no earlier than the one acknowledged, and places a few of them again with their Idempotency-Key, which
// must answer the same order. It returns early when ctx ends, and with an error when a restart fails.
func (dr *drive) runKills(ctx context.Context, du time.Duration) error {
	o := dr.cfg.drive
	uptimes, graceful := killUptimes(o.seed, o.kills+o.graceful, o.graceful, du)
	kills := 0
	rng := rand.New(rand.NewPCG(o.seed, 0x7265706c))
	prefix := orderExternalPrefix(dr.fx.runID)
	readyAt := time.Now()
	for k, up := range uptimes {
		if !sleep(ctx, up) {
			return nil
		}
		rec := killRecord{N: k + 1, Graceful: graceful[k], InFlight: dr.led.inFlight(), UpS: time.Since(readyAt).Seconds()}
		killAt := time.Now()
		rec.AtS = killAt.Sub(dr.started).Seconds()
		dr.fleet.epoch.Add(1)
		what := "kill"
		if rec.Graceful {
			// A graceful stop finishes the requests in flight and writes a checkpoint: the restart then recovers
			// from it, a path the kills alone take only when a checkpoint happens to fall between two of them.
			what = "graceful stop"
			if err := dr.d.terminate(); err != nil {
				dr.viol.add("graceful stop", "stop %d: %v", k+1, err)
			}
		} else {
			kills++
			if err := dr.d.kill(); err != nil {
				return fmt.Errorf("kill %d: %w", k+1, err)
			}
		}
		// Taken once the process is gone: every 201 received by now was for an order on disk.
		acked := dr.led.snapshot()
		if err := dr.d.restart(ctx, dr.cfg.readyTimeout); err != nil {
			return fmt.Errorf("restart after %s %d: %w", what, k+1, err)
		}
		readyAt = time.Now()
		rec.RestartS = readyAt.Sub(killAt).Seconds()

		before := dr.viol.total()
		listed, err := listOrders(ctx, dr.api, dr.token, dr.started.Add(-time.Minute), prefix)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("list the orders after %s %d: %w", what, k+1, err)
		}
		res := checkOrders(checkInput{Acked: acked, Listed: listed}, dr.viol)
		rec.Checked, rec.Listed = res.Acked, res.Listed
		for _, r := range dr.led.replayCandidates(10, rng) {
			dr.orders.replayOne(ctx, r)
		}
		rec.Violations = dr.viol.total() - before
		dr.crash.Kills = append(dr.crash.Kills, rec)
		fmt.Fprintf(dr.log, "dispatchd-load:   %s (%d/%d) at +%.2fs (up %.2fs, %d placements in flight): ready again in %s; %d acknowledged orders checked, %d violations\n",
			what, rec.N, len(uptimes), rec.AtS, rec.UpS, rec.InFlight, time.Duration(rec.RestartS*float64(time.Second)).Round(time.Millisecond),
			rec.Checked, rec.Violations)
	}
	// One more stretch of load after the last restart, so that it too is exercised.
	sleep(ctx, du/time.Duration(len(uptimes)+1))
	return nil
}

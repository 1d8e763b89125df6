package load

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildDaemon builds cmd/dispatchd into a temporary directory.
func buildDaemon(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the daemon with")
	}
	bin := filepath.Join(t.TempDir(), "dispatchd")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/o2o-dispatch/dispatchd/cmd/dispatchd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/dispatchd: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackAddr returns a loopback address with a port free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAgainstDaemon runs the drive and the crash modes against the real daemon, built for the test, at rates a
// shared CI machine keeps up with.
func TestAgainstDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildDaemon(t)
	// A fleet that keeps up with its orders (60 couriers at 200 times e-bike speed carry about 20 orders a second):
	// a backlog would make every dispatch round, and so every recovery, which replays the rounds since the last
	// checkpoint, slower and slower.
	common := []string{"--spawn", bin, "--stores", "5", "--couriers", "60", "--time-scale", "200", "--prep-seconds", "1",
		"--cancel-share", "0.05", "--workers", "8", "--location-rate", "120", "--daemon-arg=--dispatch-interval=300ms"}

	// Order services and couriers against a daemon that stays up: every order placed, none refused, couriers
	// carrying orders to their end, and the check clean.
	t.Run("Drive", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		out := filepath.Join(t.TempDir(), "drive.json")
		var stdout, stderr syncBuffer
		// The daemon serves /metrics on an address of its own: the drive's self view must scrape it there.
		metrics := freeLoopbackAddr(t)
		args := append([]string{"--mode", "drive", "--rate", "20", "--duration", "5s", "--drain", "3s", "--json", out,
			"--daemon-arg=--metrics-addr=" + metrics}, common...)
		if err := run(context.Background(), args, &stdout, &stderr, noEnv); err != nil {
			t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		rep := readJSON[driveReport](t, out)
		l, c := rep.Ledger, rep.Check
		if l.Requested < 90 || l.Acked != l.Requested || l.Retries != 0 || c.Acked != l.Acked || c.Listed != l.Acked {
			t.Errorf("placements %+v, check %+v: want every order answered 201 at the first attempt and listed", l, c)
		}
		if rep.Classes[0].Name != "orders" || rep.Classes[0].Errors != 0 || rep.Classes[1].OK == 0 || rep.Classes[1].Errors != 0 {
			t.Errorf("classes %+v", rep.Classes[:2])
		}
		// A delivery in flight when the run ends (or cut by a timeout) may be the daemon's and not acknowledged.
		if o := rep.Outcome; o.Delivered == 0 || int64(o.Delivered) < rep.Delivered || int64(o.Delivered) > rep.Delivered+rep.DeliveredUnanswered ||
			o.Assigned < o.Delivered {
			t.Errorf("outcome %+v, couriers delivered %d (%d unanswered): want deliveries, the same count both ways but for the unanswered",
				o, rep.Delivered, rep.DeliveredUnanswered)
		}
		if rep.Violations.total() != 0 || rep.Replays == 0 || rep.ReplaysSame != rep.Replays || c.Routes != 60 {
			t.Errorf("violations %+v, replays %d/%d, routes %d", rep.Violations, rep.ReplaysSame, rep.Replays, c.Routes)
		}
		if v := rep.Daemon; v == nil || v.Error != "" || v.Orders == nil || v.Orders.Requests < 90 {
			t.Errorf("the daemon's own view %+v: want its order latency, scraped from %s", v, metrics)
		}
		if !strings.Contains(stdout.String(), "verdict: clean") || rep.DaemonExit != "stopped cleanly on SIGTERM" {
			t.Errorf("stdout:\n%s", stdout.String())
		}
		checkEmpty(t, tmp)
	})

	// Twenty SIGKILLs under load (and three graceful stops, whose restarts recover from a checkpoint), each
	// followed by a restart on the same data: nothing acknowledged is lost, duplicated or taken back, and the
	// placements cut off by a kill end up as exactly one order each.
	t.Run("Crash", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		out := filepath.Join(t.TempDir(), "crash.json")
		var stdout, stderr syncBuffer
		args := append([]string{"--mode", "crash", "--kills", "20", "--graceful", "3", "--seed", "1", "--rate", "10", "--duration", "12s", "--drain", "3s",
			"--json", out}, common...)
		if err := run(context.Background(), args, &stdout, &stderr, noEnv); err != nil {
			t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		rep := readJSON[driveReport](t, out)
		if rep.Crash == nil || len(rep.Crash.Kills) != 23 || rep.Crash.Seed != 1 {
			t.Fatalf("crash %+v: want 20 kills and 3 graceful stops", rep.Crash)
		}
		checked, graceful := 0, 0
		for _, k := range rep.Crash.Kills {
			checked += k.Checked
			if k.Graceful {
				graceful++
			}
		}
		if graceful != 3 {
			t.Errorf("%d graceful stops, want 3", graceful)
		}
		l, c := rep.Ledger, rep.Check
		if checked == 0 || c.Acked == 0 || c.Acked != l.Acked || l.Acked != l.Requested || l.InFlight+l.Retrying != 0 {
			t.Errorf("placements %+v, check %+v, %d checked after the kills: want every placement answered in the end", l, c, checked)
		}
		if c.Lost != 0 || c.Duplicated != 0 || c.Regressed != 0 || c.Unknown != 0 || c.RouteViolations != 0 || rep.Violations.total() != 0 {
			t.Errorf("check %+v, violations %+v", c, rep.Violations)
		}
		// The kills cut requests off: the order service retried them, with their keys.
		if l.Retries == 0 || rep.Classes[0].Errors == 0 {
			t.Errorf("no placement was retried (%+v); did the kills land?", l)
		}
		if l.LostThenAcked != l.LostAnswers || l.Journaled+l.CreatedByRetry != l.LostThenAcked {
			t.Errorf("placements whose answer a kill cut off: %+v", l)
		}
		if rep.Replays == 0 || rep.ReplaysSame != rep.Replays || !rep.CheckFrozen || c.Routes != 60 {
			t.Errorf("replays %d/%d, frozen %v, routes %d", rep.ReplaysSame, rep.Replays, rep.CheckFrozen, c.Routes)
		}
		if rep.Outcome.Delivered == 0 {
			t.Errorf("outcome %+v: the couriers delivered nothing across the kills", rep.Outcome)
		}
		if !strings.Contains(stdout.String(), "verdict: clean") || rep.DaemonExit != "stopped cleanly on SIGTERM" {
			t.Errorf("stdout:\n%s", stdout.String())
		}
		checkEmpty(t, tmp)
	})
}

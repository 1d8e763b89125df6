// Command dispatchd-load measures dispatchd's order intake and courier location updates at a constant request
// rate, the way BENCHMARKS.md section 3 ("Intake and durability") asks: a bounded load from a second process on
// loopback, driven by the vegeta library so that a slow answer delays nothing that follows it (the rate is held
// by the clock, not by the answers), reporting p50/p90/p99/max latency, status codes and errors.
//
// It either starts a daemon itself (--spawn: on a free loopback port, with a fresh temporary data directory and a
// generated admin token, stopped with SIGTERM at the end whatever happens, Ctrl-C included) or attacks one that
// runs already (--target with the admin token). Through the API it then registers --stores stores on a grid
// around --center, an order-service key and, for the locations mode, --couriers couriers that it puts online.
// It opens --workers connections, and attacks:
//
//   - orders: POST /v1/orders, each with its own Idempotency-Key and external_id, a random store and a drop-off
//     0.5 to 4 km from it. A 201 means the order is in the journal on disk.
//   - locations: POST /v1/courier/location, taking the couriers in turn, each a few metres on from its last
//     position.
//
// One rate (--rate, for --duration) or a sweep (--sweep, one step per rate, --pause between steps, the same
// daemon and connections throughout). The table on stdout has one row per step; --json writes the same figures
// plus a per-second breakdown (requests, errors, slowest answer), which shows when the daemon stalled. A step is
// sustained when it had no error (any answer other than 2xx, or none), its p99 stayed under --p99-limit and its
// throughput reached 98% of the rate asked; the summary names the highest sustained rate.
//
// Examples:
//
//	go build -o /tmp/dispatchd ./cmd/dispatchd && go build -o /tmp/dispatchd-load ./cmd/dispatchd-load
//	dispatchd-load --spawn /tmp/dispatchd --mode orders --rate 1000 --duration 30s
//	dispatchd-load --spawn /tmp/dispatchd --mode locations --rate 8000 --duration 10s --couriers 2000
//	dispatchd-load --spawn /tmp/dispatchd --mode orders --sweep 1000,2000,3000,4000 --json orders.json \
//	    --daemon-arg=--dispatch-interval=10s --daemon-arg=--queue-size=8192
//	dispatchd-load --target http://127.0.0.1:8080 --admin-token-file var/admin.token --mode orders --rate 500
//
// A spawned daemon's data directory is made under $TMPDIR (else /tmp): put it on the disk to be measured, since
// on a tmpfs the fsync behind every 201 costs nothing. Its first lines of output are passed on to stderr, all of
// them go to dispatchd.log in that directory; --keep-data keeps both.
//
// Against a running daemon the admin token comes from --admin-token-file, --admin-token or the environment
// variable DISPATCHD_ADMIN_TOKEN (in that order; a token on the command line is visible to other users of the
// machine). Stores are named load-store-N and couriers load-courier-N, so that runs against the same daemon reuse
// them (a courier's token is rotated to learn it); order ids and keys carry a random run id. What the load
// creates stays in that daemon.
//
// Both processes share the machine: on a small one the load generator's own CPU use limits the rates it can
// drive, and the "sent/s" column falls below the rate asked when it could not keep up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first Ctrl-C stops the attack: the steps run so far are reported and a spawned daemon is stopped.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "dispatchd-load:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dispatchd-load:", err)
		os.Exit(1)
	}
}

// Command dispatchd-load is dispatchd's load generator: intake and position figures, order services and couriers
// driving the daemon (--mode drive), and the crash test (--mode crash). Its flags and what it does are documented
// in package cmd/internal/load (go doc ./cmd/internal/load), which holds its logic; this program reads the flags,
// handles signals and sets the exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/load"
)

func main() {
	cfg, err := load.ParseFlags(os.Args[1:], os.Stderr, os.Getenv)
	if err == nil {
		// The first Ctrl-C stops the attack: the steps run so far are reported and a spawned daemon is stopped.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = load.Run(ctx, cfg, os.Stdout, os.Stderr)
		stop()
	}
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, load.ErrUsage):
		fmt.Fprintln(os.Stderr, "dispatchd-load:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dispatchd-load:", err)
		os.Exit(1)
	}
}

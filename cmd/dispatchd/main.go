// Command dispatchd is the dispatch daemon: the HTTP API of order services and couriers over the dispatch engine,
// with its journal in a data directory and Prometheus metrics.
//
// Every flag may also be set by an environment variable (DISPATCHD_ and the flag's name in upper case with
// underscores: --data-dir is DISPATCHD_DATA_DIR) or by a JSON config file (--config) whose keys are the flag
// names; a key starting with "_" is a comment. Flags win over the environment, which wins over the file. Run
// dispatchd -h for the list; docs/dispatchd.example.json holds every setting at its default, described.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// Stores' opening hours are in their own time zones: with the zone database built in, a machine without
	// /usr/share/zoneinfo (a minimal container) reads them the same.
	_ "time/tzdata"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "map" {
		if err := runMap(ctx, os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	m := NewMain(os.Stderr)
	if err := m.ParseFlags(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if m.ShowVersion {
		fmt.Println(version.Line("dispatchd"))
		return
	}
	go func() {
		// After the first signal a graceful stop begins; a second one means "now".
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "dispatchd: second signal, exiting at once")
		os.Exit(1)
	}()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dispatchd:", err)
		os.Exit(1)
	}
}

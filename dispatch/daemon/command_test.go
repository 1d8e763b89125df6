package daemon

import (
	"context"
	"time"
)

// loopFunc runs a test's function on the loop, as a command.
type loopFunc func(now time.Time) (any, uint64, error)

func (f loopFunc) run(_ *Daemon, now time.Time) (any, uint64, error) { return f(now) }

// do runs fn on the loop (tests look at and poke the loop's state with it).
func (d *Daemon) do(ctx context.Context, fn func(now time.Time) (any, uint64, error)) (any, error) {
	return run[any](ctx, d, loopFunc(fn))
}

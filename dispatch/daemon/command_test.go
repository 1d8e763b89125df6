package daemon

import (
	"context"
	"time"
)

// do runs fn on the loop (tests look at and poke the loop's state with it), a standby's too.
func (d *Daemon) do(ctx context.Context, fn func(now time.Time) (any, uint64, error)) (any, error) {
	var out any
	err := d.enqueue(ctx, request{fn: func(now time.Time) (uint64, error) {
		r, seq, err := fn(now)
		out = r
		return seq, err
	}, reply: make(chan reply, 1)})
	return out, err
}

package daemon

import (
	"context"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// A command is one operation on the loop's state, carrying its typed reply R: one type per operation (placeOrder,
// cancelOrder, ...), its run method executed on the loop. Every command runs on the loop as it comes: rounds plan
// off the loop on a copy of the engine, so no command waits for one, and there is nothing to decide per type.
type command[R any] interface {
	// run executes the command at time now and returns its reply and the journal record it wrote (0: none).
	run(d *Daemon, now time.Time) (reply R, seq uint64, err error)
}

// run submits cmd to the loop and waits for its reply; when it wrote a record, also until the record is durable
// and a snapshot containing it is published, so that what the caller acknowledges is durable and readable.
func run[R any](ctx context.Context, d *Daemon, cmd command[R]) (R, error) {
	var out R
	err := d.submit(ctx, request{fn: func(now time.Time) (uint64, error) {
		r, seq, err := cmd.run(d, now)
		out = r // read by the caller only after the reply, which the loop sends after this
		return seq, err
	}, reply: make(chan reply, 1)})
	if err != nil {
		var zero R
		return zero, err
	}
	return out, nil
}

// recordAs is record for a record whose apply answers an R.
func recordAs[R any](d *Daemon, rec *record) (R, uint64, error) {
	var zero R
	res, seq, err := d.record(rec)
	if err != nil {
		return zero, 0, err
	}
	r, ok := res.(R)
	if !ok && res != nil {
		return zero, 0, &dispatch.Error{Code: dispatch.EInternal, Message: "a " + rec.Type + " record answered an unexpected result"}
	}
	return r, seq, nil
}

// recordCommand is a command that only writes its record (stamped with the time it runs) and answers what applying
// it answers.
type recordCommand[R any] struct{ rec *record }

func (c recordCommand[R]) run(d *Daemon, now time.Time) (R, uint64, error) {
	rec := *c.rec
	rec.At = now
	return recordAs[R](d, &rec)
}

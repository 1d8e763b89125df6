package jsjournal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// read delivers the stream's messages after after, in order, to fn until fn says no more (or fails), or ctx ends.
// An ordered consumer carries them: it starts again where it stopped when a server or the connection goes away.
// idle bounds each wait for the next message; a wait that times out is only a pause, so the loop waits again,
// unless maxIdle (when not 0) such waits passed in a row without a message: then it gives up with an error.
func read(ctx context.Context, stream jetstream.Stream, after uint64,
	fn func(seq uint64, m jetstream.Msg) (more bool, err error), idle time.Duration, maxIdle int) error {
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
	})
	if err != nil {
		return fmt.Errorf("jsjournal: read after %d: %w", after, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("jsjournal: read after %d: %w", after, err)
	}
	defer it.Stop()
	idles, pos := 0, after
	for {
		wctx, cancel := context.WithTimeout(ctx, idle)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if idles++; maxIdle > 0 && idles >= maxIdle {
					return fmt.Errorf("jsjournal: read after %d: no message after %d for %v", after, pos, time.Duration(idles)*idle)
				}
				continue
			}
			return fmt.Errorf("jsjournal: read after %d: %w", after, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("jsjournal: read after %d: %w", after, err)
		}
		idles, pos = 0, meta.Sequence.Stream
		more, err := fn(meta.Sequence.Stream, m)
		if err != nil || !more {
			return err
		}
	}
}

package jsjournal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Reading uses an ordered consumer, which starts again where it stopped when it misses a message or a heartbeat.
// Its pulls are short (readExpiry, with heartbeats every readHeartbeat), so that a pull lost with a server is
// noticed within seconds rather than the client's default of half a minute. A consumer that still delivers
// nothing for a while (Replay's readRestart, which knows messages are there; a follower's followRestart, which
// may just be waiting for the next record) is made again from the position reached: on a busy cluster, after a
// stream leader moved, an ordered consumer was seen to sit idle for good.
const (
	readExpiry    = 2 * time.Second
	readHeartbeat = 500 * time.Millisecond
	readIdle      = readExpiry
	readRestart   = 3 * readIdle
	followRestart = time.Minute
)

// read delivers the stream's messages after after, in order, to fn until fn says no more (or fails), or ctx ends.
// A consumer that delivers nothing for restart is replaced. Waiting for a message is only a pause, unless maxIdle
// is not 0 and that long passed without one: then it gives up with an error (Replay, which knows what it waits
// for, bounds it; a follower waits for ever).
func read(ctx context.Context, stream jetstream.Stream, after uint64,
	fn func(seq uint64, m jetstream.Msg) (more bool, err error), restart, maxIdle time.Duration) error {
	pos := after
	var idleSince time.Time
	for {
		more, got, err := readFrom(ctx, stream, pos, fn, restart)
		if err != nil || !more {
			return err
		}
		if got > pos {
			pos, idleSince = got, time.Time{}
		} else if idleSince.IsZero() {
			idleSince = time.Now()
		} else if maxIdle > 0 && time.Since(idleSince) >= maxIdle {
			return fmt.Errorf("jsjournal: read after %d: no message after %d for %v", after, pos, maxIdle)
		}
	}
}

// readFrom reads with one consumer from after+1 until fn says no more (more false), an error, or restart without
// a message (more true, to make a new consumer from got, the last message passed).
func readFrom(ctx context.Context, stream jetstream.Stream, after uint64,
	fn func(seq uint64, m jetstream.Msg) (bool, error), restart time.Duration) (more bool, got uint64, err error) {
	got = after
	cctx, cancel := context.WithTimeout(ctx, readRestart)
	cons, err := stream.OrderedConsumer(cctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, got, ctx.Err()
		}
		return true, got, nil // the stream has no leader for the moment: try again
	}
	it, err := cons.Messages(jetstream.PullExpiry(readExpiry), jetstream.PullHeartbeat(readHeartbeat))
	if err != nil {
		return false, got, fmt.Errorf("jsjournal: read after %d: %w", after, err)
	}
	defer it.Stop()
	last := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, readIdle)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return false, got, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if time.Since(last) >= restart {
					return true, got, nil
				}
				continue
			}
			return false, got, fmt.Errorf("jsjournal: read after %d: %w", after, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return false, got, fmt.Errorf("jsjournal: read after %d: %w", after, err)
		}
		last = time.Now()
		more, err := fn(meta.Sequence.Stream, m)
		got = max(got, meta.Sequence.Stream)
		if err != nil || !more {
			return false, got, err
		}
	}
}

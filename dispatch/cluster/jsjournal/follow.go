package jsjournal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// GapError is a Follower's stop when the stream no longer holds the records after its position: they were
// purged (the owner checkpointed and truncated) before the follower read them. The standby must load a newer
// checkpoint and follow from there.
type GapError struct {
	Region string
	// After is the follower's position; Next the first record the stream still had after it.
	After, Next uint64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("jsjournal: region %s: records %d to %d were purged before the follower read them", e.Region, e.After+1, e.Next-1)
}

// Follower reads a region's stream as it grows, for a warm standby: every record after a position, in order,
// takeover markers noted and not passed on. It writes nothing.
type Follower struct {
	region string
	stream jetstream.Stream
	pos    atomic.Uint64
	tail   uint64

	mu     sync.Mutex
	marker Marker
}

// NewFollower follows region's stream from after (records up to after are what the standby has, from a
// checkpoint). The stream must exist (a region that was never written has none yet: jetstream.ErrStreamNotFound).
func NewFollower(ctx context.Context, nc *nats.Conn, region string, after uint64) (*Follower, error) {
	if err := CheckRegion(region); err != nil {
		return nil, fmt.Errorf("jsjournal: follower: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jsjournal: follower: %w", err)
	}
	stream, err := js.Stream(ctx, StreamName(region))
	if err != nil {
		return nil, fmt.Errorf("jsjournal: follower of region %s: %w", region, err)
	}
	f := &Follower{region: region, stream: stream, tail: stream.CachedInfo().State.LastSeq}
	f.pos.Store(after)
	return f, nil
}

// Tail is the stream's last sequence number when the follower was made: a standby that reached it has read what
// was written before it started following (CaughtUp).
func (f *Follower) Tail() uint64 { return f.tail }

// CaughtUp says whether the follower has passed Tail.
func (f *Follower) CaughtUp() bool { return f.pos.Load() >= f.tail }

// Position is the sequence number of the last message passed (a record given to fn, or a takeover marker): what
// a standby has applied.
func (f *Follower) Position() uint64 { return f.pos.Load() }

// Owner is the writer named by the last takeover marker passed (zero before the first).
func (f *Follower) Owner() Marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marker
}

// Run calls fn for every record after Position, in order, as they arrive, until ctx ends (it returns ctx's error),
// fn fails (its error), or records were purged before it read them (*GapError). A server or the connection going
// away is waited out. Run may be called again after it returned, to go on from Position.
func (f *Follower) Run(ctx context.Context, fn func(seq uint64, rec []byte) error) error {
	var ferr error
	err := read(ctx, f.stream, f.pos.Load(), func(seq uint64, m jetstream.Msg) (bool, error) {
		pos := f.pos.Load()
		if seq <= pos {
			return true, nil
		}
		if seq != pos+1 {
			ferr = &GapError{Region: f.region, After: pos, Next: seq}
			return false, nil
		}
		if m.Headers().Get(KindHeader) == kindTakeover {
			var mk Marker
			if err := json.Unmarshal(m.Data(), &mk); err == nil {
				f.mu.Lock()
				f.marker = mk
				f.mu.Unlock()
			}
		} else if err := fn(seq, m.Data()); err != nil {
			ferr = err
			return false, nil
		}
		f.pos.Store(seq)
		return true, nil
	}, followRestart, 0)
	if ferr != nil {
		return ferr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ctx.Err()
	}
	return err
}

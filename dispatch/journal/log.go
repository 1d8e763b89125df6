package journal

import (
	"context"
	"errors"
)

// Log is what the daemon needs of its record journal: *Journal (a local directory) is one, and a region's journal
// kept elsewhere (a replicated stream) is another. The contract, which every implementation keeps:
//
//   - Append gives the record the next sequence number (LastSeq+1) and returns it at once, before the record is
//     durable; records are stored in the order of their sequence numbers, without a gap between two appends of
//     one writer. An error means nothing was appended (the log is closed, or failed: see Err).
//   - Wait(ctx, seq) returns nil only once record seq, and every record before it, is durable: on disk for the
//     local journal, acknowledged by a quorum of replicas for a replicated one. It returns Err once the log
//     failed, ErrClosed once it is closed, or ctx's error.
//   - Durable is the highest sequence number known to be durable; it never goes back. LastSeq is the last
//     appended (durable or not), Pending how many appended records are not yet durable.
//   - Err is nil until the log fails, and then the same error for good: a record whose fate is unknown (a failed
//     commit, or a writer fenced off by another) means no record after it may be written. Nothing appended after
//     the failure is stored; a record the caller was told is durable stays so.
//   - Replay(after, fn) calls fn for every record above after, in order, up to LastSeq; it is for recovery,
//     before the first Append.
//   - Truncate(seq) drops the records up to seq, which a durable checkpoint now covers; Floor is the highest
//     sequence number dropped so far (0 if none). Numbering goes on above LastSeq whatever was dropped.
//   - Skip(seq) moves the numbering on when nothing is pending: the next record appended gets seq+1, and seq
//     becomes the floor.
//   - Close stops the log after what is pending is written (or failed); appends after it fail with ErrClosed.
type Log interface {
	Append(rec []byte) (uint64, error)
	Wait(ctx context.Context, seq uint64) error
	Durable() uint64
	LastSeq() uint64
	Pending() int
	Err() error
	Replay(after uint64, fn func(seq uint64, rec []byte) error) error
	Truncate(seq uint64) error
	Floor() (uint64, error)
	Skip(seq uint64) error
	Close() error
}

var _ Log = (*Journal)(nil)

// ErrBehindFloor is wrapped by an error saying that a reader's position lies below the log's floor: the records it
// needs next were dropped, and it has to start again from a newer checkpoint.
var ErrBehindFloor = errors.New("journal: truncated past the reader's position")

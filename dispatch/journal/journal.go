package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")
	keyFloor   = []byte("floor")
)

// ErrClosed is returned by Append and Wait once the journal is closed.
var ErrClosed = errors.New("journal: closed")

// Options tune a journal. The zero value is usable.
type Options struct {
	// Now is the clock used to measure sync latency (default time.Now).
	Now func() time.Time
	// OnSync, when set, is called by the committer after every commit with its duration and record count
	// (for metrics). It must not block.
	OnSync func(d time.Duration, records int)
	// OnDurable, when set, is called by the committer after every successful commit with the highest durable
	// sequence number. It must not block for long: the next commit waits for it.
	OnDurable func(seq uint64)
	// FailCommit, when set, is called before each commit; an error it returns fails that commit as if the disk
	// had (a test seam for a full or broken disk).
	FailCommit func() error
}

type pending struct {
	seq uint64
	rec []byte
}

// Journal is an append-only log of opaque records with group commit. Append, Wait, Durable and LastSeq are safe
// for concurrent use; Replay and LoadCheckpoint are meant for recovery, before the first Append.
type Journal struct {
	db  *bolt.DB
	opt Options

	mu      sync.Mutex
	buf     []pending
	lastSeq uint64
	closed  bool
	// failed is the first commit error; once set the journal refuses appends, since the records that failed may
	// or may not be on disk and the log can no longer promise an order.
	failed error
	// notify is closed (and replaced) after every commit attempt, waking the callers of Wait.
	notify chan struct{}

	durable atomic.Uint64
	wake    chan struct{}
	done    chan struct{}
}

// Open opens (or creates) the journal file at path and starts its committer.
func Open(path string, opt Options) (*Journal, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second, // another process holding the file lock: fail instead of hanging
		// The free list is rebuilt on open instead of being written at every commit: commits stay small.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	j := &Journal{db: db, opt: opt, notify: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	err = db.Update(func(tx *bolt.Tx) error {
		log, err := tx.CreateBucketIfNotExists(bucketLog)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if k, _ := log.Cursor().Last(); k != nil {
			if len(k) != 8 {
				return fmt.Errorf("log key of %d bytes", len(k))
			}
			j.lastSeq = binary.BigEndian.Uint64(k)
		}
		if v := meta.Get(keyFloor); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("floor of %d bytes", len(v))
			}
			j.lastSeq = max(j.lastSeq, binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	j.durable.Store(j.lastSeq)
	go j.commitLoop()
	return j, nil
}

// Append adds a record and returns its sequence number. The record is not durable until Wait(seq) returns nil.
// The journal keeps rec; the caller must not change it afterwards.
func (j *Journal) Append(rec []byte) (uint64, error) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, ErrClosed
	}
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return 0, err
	}
	j.lastSeq++
	seq := j.lastSeq
	j.buf = append(j.buf, pending{seq, rec})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return seq, nil
}

// LastSeq is the sequence number of the last record appended (durable or not).
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastSeq
}

// Durable is the highest sequence number known to be on disk.
func (j *Journal) Durable() uint64 { return j.durable.Load() }

// Pending is how many appended records wait for a commit.
func (j *Journal) Pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.buf)
}

// Wait blocks until the record seq is on disk, the journal fails (the commit error), it is closed (ErrClosed)
// or ctx ends.
func (j *Journal) Wait(ctx context.Context, seq uint64) error {
	for {
		if j.durable.Load() >= seq {
			return nil
		}
		j.mu.Lock()
		ch, failed, closed := j.notify, j.failed, j.closed && len(j.buf) == 0
		j.mu.Unlock()
		if j.durable.Load() >= seq {
			return nil
		}
		if failed != nil {
			return failed
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Err returns the commit error that failed the journal, if any.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

func (j *Journal) commitLoop() {
	defer close(j.done)
	for {
		j.mu.Lock()
		for len(j.buf) == 0 && !j.closed {
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		batch := j.buf
		j.buf = nil
		closing := j.closed
		j.mu.Unlock()
		if len(batch) > 0 {
			j.commit(batch)
		}
		if closing {
			j.mu.Lock()
			empty := len(j.buf) == 0
			j.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

func (j *Journal) commit(batch []pending) {
	start := j.opt.Now()
	var err error
	if j.opt.FailCommit != nil {
		err = j.opt.FailCommit()
	}
	if err == nil {
		err = j.db.Update(func(tx *bolt.Tx) error {
			log := tx.Bucket(bucketLog)
			log.FillPercent = 1 // keys only ever grow: pack pages full
			var key [8]byte
			for _, p := range batch {
				binary.BigEndian.PutUint64(key[:], p.seq)
				if err := log.Put(key[:], p.rec); err != nil {
					return err
				}
			}
			return nil
		})
	}
	last := batch[len(batch)-1].seq
	if err == nil {
		j.durable.Store(last)
		if j.opt.OnSync != nil {
			j.opt.OnSync(j.opt.Now().Sub(start), len(batch))
		}
		if j.opt.OnDurable != nil {
			j.opt.OnDurable(last)
		}
	}
	j.mu.Lock()
	if err != nil && j.failed == nil {
		j.failed = fmt.Errorf("journal: commit: %w", err)
	}
	close(j.notify)
	j.notify = make(chan struct{})
	j.mu.Unlock()
}

// Replay calls fn for every record with a sequence number above after, in order. It stops at fn's first error.
func (j *Journal) Replay(after uint64, fn func(seq uint64, rec []byte) error) error {
	return j.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		var from [8]byte
		binary.BigEndian.PutUint64(from[:], after+1)
		for k, v := c.Seek(from[:]); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("journal: log key of %d bytes", len(k))
			}
			if err := fn(binary.BigEndian.Uint64(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// truncateChunk bounds the records one truncation transaction deletes: bbolt has one writer at a time, and a
// transaction that deleted a whole day's log would hold every commit (and so every client) waiting.
const truncateChunk = 5000

// Truncate deletes the records up to seq, which a checkpoint kept elsewhere now covers, and remembers seq as the
// floor of future sequence numbers (so that a log emptied by truncation does not count from 1 again). The caller
// must have made the checkpoint durable first. Records up to seq need not be durable yet: one that lands after
// the truncation is skipped by Replay(seq, ...).
func (j *Journal) Truncate(seq uint64) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	for first := true; ; first = false {
		more := false
		err := j.db.Update(func(tx *bolt.Tx) error {
			if first {
				if err := tx.Bucket(bucketMeta).Put(keyFloor, key[:]); err != nil {
					return err
				}
			}
			c := tx.Bucket(bucketLog).Cursor()
			n := 0
			for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, _ = c.Next() {
				if n == truncateChunk {
					more = true
					return nil
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal: truncate: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// Floor is the sequence number the last Truncate covered (0 if none).
func (j *Journal) Floor() (uint64, error) {
	var floor uint64
	err := j.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyFloor); len(v) == 8 {
			floor = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return floor, err
}

// Close writes what is pending, stops the committer and closes the file. Appends after Close fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	<-j.done
	j.mu.Lock()
	close(j.notify)
	j.notify = make(chan struct{})
	failed := j.failed
	j.mu.Unlock()
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return failed
}

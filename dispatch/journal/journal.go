package journal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Append and Wait once the journal is closed.
var ErrClosed = errors.New("journal: closed")

// On disk a journal is a directory of segment files, "seg-<first sequence number>.log", each a run of frames:
//
//	length uint32 | crc uint32 (CRC-32C of seq and payload) | seq uint64 | payload
//
// little endian. A commit appends the frames of a batch with one write and one fsync. A crash can leave a torn
// frame only at the end of the last segment; Open cuts it off (it was never acknowledged). A bad frame anywhere
// else is corruption, and Open refuses the journal rather than replay around it.
const (
	frameHeader = 16
	maxRecord   = 64 << 20
	floorFile   = "floor"
)

// defaultSegmentBytes is Options.SegmentBytes when unset.
const defaultSegmentBytes = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

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
	// SegmentBytes: a segment is closed once it is past this size, and Truncate deletes whole segments, so it is
	// also the grain of compaction. Default 64 MiB.
	SegmentBytes int64
	// NoSync: commits write without an fsync, and Wait means "written" rather than "on disk"; Sync makes what is
	// written durable. For a log whose content can be made again after a crash (the daemon's event log, rebuilt
	// by replay), where a second fsync stream beside the record journal would only cost latency.
	NoSync bool
}

type pending struct {
	seq uint64
	rec []byte
}

type segment struct {
	first uint64
	path  string
}

// Journal is an append-only log of opaque records with group commit. Append, Wait, Durable, LastSeq and Pending
// are safe for concurrent use; Replay is meant for recovery, before the first Append.
type Journal struct {
	dir string
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

	// fileMu guards the segment list and the open segment: the committer holds it while it writes, Truncate
	// while it rotates and deletes.
	fileMu   sync.Mutex
	segments []segment
	file     *os.File
	size     int64
	frame    []byte
	// written is the last sequence number written to a segment (durable once its fsync returned).
	written uint64

	// Repaired is how many bytes of a torn last frame Open cut off (0 normally).
	Repaired int64

	durable atomic.Uint64
	wake    chan struct{}
	done    chan struct{}
}

// Open opens (or creates) the journal in directory dir and starts its committer.
func Open(dir string, opt Options) (*Journal, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = defaultSegmentBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, opt: opt, notify: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := j.load(); err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	j.durable.Store(j.lastSeq)
	go j.commitLoop()
	return j, nil
}

// load finds the segments, checks every frame, cuts a torn tail off the last segment, and opens it for appending.
func (j *Journal) load() error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".log") {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".log"), 10, 64)
		if err != nil {
			return fmt.Errorf("segment name %q", name)
		}
		j.segments = append(j.segments, segment{first, filepath.Join(j.dir, name)})
	}
	slices.SortFunc(j.segments, func(a, b segment) int { return cmpU64(a.first, b.first) })
	floor, err := j.Floor()
	if err != nil {
		return err
	}
	j.lastSeq = floor
	// Records are numbered one by one from at most the floor + 1 (a truncation deletes whole segments, after writing
	// the floor), and every segment is named after its first record, which Replay relies on to skip segments; only
	// the first may be named lower (a truncation can leave it named before the floor). Anything else means that
	// segments or records went missing or were moved: refuse rather than replay around the hole.
	var prev uint64
	seen := false
	for i, s := range j.segments {
		if i > 0 && seen && s.first != prev+1 {
			return fmt.Errorf("%s follows record %d", s.path, prev)
		}
		last := i == len(j.segments)-1
		var good int64
		err := scan(s.path, func(seq uint64, _ []byte, end int64) error {
			switch {
			case !seen && seq > floor+1:
				return fmt.Errorf("%s: the journal starts at record %d, after the floor %d", s.path, seq, floor)
			case seen && seq != prev+1:
				return fmt.Errorf("%s: record %d follows record %d", s.path, seq, prev)
			case good == 0 && i > 0 && seq != s.first:
				return fmt.Errorf("%s: starts with record %d", s.path, seq)
			}
			prev, seen = seq, true
			j.lastSeq = max(j.lastSeq, seq)
			good = end
			return nil
		})
		var torn *tornError
		switch {
		case errors.As(err, &torn) && torn.tail && last:
			// A commit that a crash interrupted: cut it off (its callers were never answered).
			if err := os.Truncate(s.path, good); err != nil {
				return err
			}
			j.Repaired = torn.size - good
		case err != nil:
			return err
		}
	}
	j.written = j.lastSeq
	if len(j.segments) == 0 {
		return j.rotate()
	}
	cur := j.segments[len(j.segments)-1]
	f, err := os.OpenFile(cur.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	j.file, j.size = f, st.Size()
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// tornError reports a frame that ends early or fails its checksum. tail says it is the end of the file (the frame
// runs to or past the end, or only zeros follow): what a crash in the middle of a commit leaves. A bad frame with
// data after it is not a torn write but corruption.
type tornError struct {
	path     string
	at, size int64
	tail     bool
}

func (e *tornError) Error() string {
	return fmt.Sprintf("journal: %s: bad frame at byte %d of %d", e.path, e.at, e.size)
}

// scan reads every frame of a segment; fn gets each record and the offset just after it.
func scan(path string, fn func(seq uint64, rec []byte, end int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [frameHeader]byte
	size := st.Size()
	bad := func(end int64) error {
		tail := end >= size
		if !tail {
			tail = zerosFrom(path, off)
		}
		return &tornError{path, off, size, tail}
	}
	for off < size {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return bad(size)
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		seq := binary.LittleEndian.Uint64(hdr[8:16])
		if n > maxRecord || off+frameHeader+int64(n) > size {
			return bad(size)
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return bad(size)
		}
		c := crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, rec)
		if c != sum {
			return bad(off + frameHeader + int64(n))
		}
		off += frameHeader + int64(n)
		if err := fn(seq, rec, off); err != nil {
			return err
		}
	}
	return nil
}

// zerosFrom reports whether the file holds only zero bytes from off to its end (blocks a crash left allocated but
// unwritten).
func zerosFrom(path string, off int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return false
			}
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// rotate closes the open segment (if any) and starts a new one at the next sequence number. The caller holds fileMu
// (or is load, before the committer runs).
func (j *Journal) rotate() error {
	if j.file != nil {
		// Whatever NoSync says, a closed segment is synced: only the open one may lose its tail.
		if err := j.file.Sync(); err != nil {
			return err
		}
		if err := j.file.Close(); err != nil {
			return err
		}
		j.file = nil
	}
	next := j.written + 1
	path := filepath.Join(j.dir, fmt.Sprintf("seg-%020d.log", next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	if n := len(j.segments); n == 0 || j.segments[n-1].path != path {
		j.segments = append(j.segments, segment{next, path})
	}
	j.file, j.size = f, 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append adds a record and returns its sequence number. The record is not durable until Wait(seq) returns nil.
// The journal keeps rec; the caller must not change it afterwards.
func (j *Journal) Append(rec []byte) (uint64, error) {
	if len(rec) > maxRecord {
		return 0, fmt.Errorf("journal: record of %d bytes is over the %d limit", len(rec), maxRecord)
	}
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
		err = j.write(batch)
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

// write appends a batch's frames with one write and one fsync.
func (j *Journal) write(batch []pending) error {
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if j.file == nil {
		return ErrClosed
	}
	buf := j.frame[:0]
	for _, p := range batch {
		var hdr [frameHeader]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(p.rec)))
		binary.LittleEndian.PutUint64(hdr[8:16], p.seq)
		c := crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, p.rec)
		binary.LittleEndian.PutUint32(hdr[4:8], c)
		buf = append(buf, hdr[:]...)
		buf = append(buf, p.rec...)
	}
	if cap(buf) <= 4<<20 {
		j.frame = buf // keep a buffer of ordinary size for the next commit
	}
	if _, err := j.file.Write(buf); err != nil {
		return err
	}
	if !j.opt.NoSync {
		if err := j.file.Sync(); err != nil {
			return err
		}
	}
	j.size += int64(len(buf))
	j.written = batch[len(batch)-1].seq
	if j.size >= j.opt.SegmentBytes {
		return j.rotate()
	}
	return nil
}

// Replay calls fn for every record with a sequence number above after, in order. It stops at fn's first error.
func (j *Journal) Replay(after uint64, fn func(seq uint64, rec []byte) error) error {
	j.fileMu.Lock()
	segs := slices.Clone(j.segments)
	j.fileMu.Unlock()
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].first <= after+1 {
			continue // every record in it is at or below after
		}
		err := scan(s.path, func(seq uint64, rec []byte, _ int64) error {
			if seq <= after {
				return nil
			}
			return fn(seq, rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Truncate deletes the records up to seq, which a checkpoint kept elsewhere now covers, and remembers seq as the
// floor of future sequence numbers (so that a log emptied by truncation does not count from 1 again). The caller
// must have made the checkpoint durable first. Whole segments go: the open one is closed and a new one started
// when every record in it is covered. Records up to seq need not be durable yet: one that lands after the
// truncation is skipped by Replay(seq, ...).
func (j *Journal) Truncate(seq uint64) error {
	if err := writeFloor(j.dir, seq); err != nil {
		return fmt.Errorf("journal: truncate: %w", err)
	}
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if j.file != nil && j.size > 0 && j.written <= seq {
		if err := j.rotate(); err != nil {
			return fmt.Errorf("journal: truncate: %w", err)
		}
	}
	keep := j.segments[:0]
	for i, s := range j.segments {
		lastInIt := uint64(0)
		if i+1 < len(j.segments) {
			lastInIt = j.segments[i+1].first - 1
		}
		if i+1 < len(j.segments) && lastInIt <= seq {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("journal: truncate: %w", err)
			}
			continue
		}
		keep = append(keep, s)
	}
	j.segments = keep
	return nil
}

// writeFloor records the truncation point atomically (temporary file, fsync, rename, directory fsync).
func writeFloor(dir string, seq uint64) error {
	tmp := filepath.Join(dir, floorFile+".tmp")
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], seq)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], crcTable))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, floorFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// Floor is the sequence number the last Truncate covered (0 if none).
func (j *Journal) Floor() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, floorFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: floor: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], crcTable) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("journal: floor file is damaged")
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

// Sync makes everything written so far durable (for NoSync journals; a no-op cost otherwise).
func (j *Journal) Sync() error {
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if j.file == nil {
		return ErrClosed
	}
	return j.file.Sync()
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
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if j.file != nil {
		err := j.file.Sync()
		if cerr := j.file.Close(); err == nil {
			err = cerr
		}
		j.file = nil
		if err != nil {
			return fmt.Errorf("journal: close: %w", err)
		}
	}
	return failed
}

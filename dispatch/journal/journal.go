package journal

import (
	"bufio"
	"bytes"
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

// ErrDamagedFloor is Open's refusal of a journal whose floor file (where the last Truncate stopped) fails its
// checksum. Options.Salvage rebuilds it from the first record.
var ErrDamagedFloor = errors.New("journal: the floor file is damaged")

// On disk a journal is a directory of segment files, "seg-<n>.log", each a run of frames:
//
//	length uint32 | crc uint32 (CRC-32C of seq and payload) | seq uint64 | payload
//
// little endian, then, in a segment made by preallocation, zeros to its end. No frame starts with 16 zero bytes
// (sequence numbers start at 1), so a frame header of zeros with nothing but zeros after it is the end of the
// segment's records; one with anything else after it is a bad frame like any other. A segment's name is at most the sequence number of its first record, and sequence numbers run on
// without a gap from one record to the next above the floor (the last Truncate). A commit appends the frames of a
// batch with one write and one fsync, and a segment is synced before the next one is created, so a crash can tear
// only the end of the last segment. Open cuts a torn tail off (nobody was told it was durable). A bad frame with
// intact records after it is not a torn write but damage to records that were acknowledged, and Open refuses the
// journal rather than drop them, unless Options.Salvage says to keep what comes before the damage.
const (
	frameHeader = 16
	maxRecord   = 64 << 20
	floorFile   = "floor"
	// spareFile is the next segment, preallocated ahead of need: rotation renames it, so that a new segment costs
	// a rename and not the allocation of SegmentBytes. It holds nothing but zeros, whatever its size, so one left
	// by a crash is used as it is.
	spareFile = "spare.seg"
)

// defaultSegmentBytes is Options.SegmentBytes when unset.
const defaultSegmentBytes = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// File is what the journal needs of a segment open for appending; *os.File is one. Options.WrapFile may put a
// test double around it.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Options tune a journal. The zero value is usable.
type Options struct {
	// Now is the clock used to measure sync latency and to name the directory salvage moves damage to (default
	// time.Now).
	Now func() time.Time
	// OnSync, when set, is called by the committer after every commit with its duration and record count
	// (for metrics). It must not block.
	OnSync func(d time.Duration, records int)
	// OnDurable, when set, is called by the committer after every successful commit with the highest durable
	// sequence number. It must not block for long: the next commit waits for it.
	OnDurable func(seq uint64)
	// OnFail, when set, is called by the committer once, when a commit fails and the journal stops writing.
	OnFail func(err error)
	// FailCommit, when set, is called before each commit; an error it returns fails that commit as if the disk
	// had (a test seam for a full or broken disk).
	FailCommit func() error
	// WrapFile, when set, wraps every segment the journal opens for appending (a test seam: a wrapper can make
	// writes and syncs fail part way, as a full disk does).
	WrapFile func(File) File
	// SegmentBytes: a segment is closed once it is past this size, and Truncate deletes whole segments, so it is
	// also the grain of compaction. Default 64 MiB. Segments are preallocated to this size (fallocate on Linux,
	// zeros written elsewhere), the next one ahead of need, so that a commit writes into allocated space and its
	// fdatasync has no file size or block map to write; a closed segment is cut back to its records.
	SegmentBytes int64
	// NoSync: commits write without an fsync, and Wait means "written" rather than "on disk"; Sync makes what is
	// written durable. For a log whose content can be made again after a crash (the daemon's event log, rebuilt
	// by replay), where a second fsync stream beside the record journal would only cost latency. Since any part of
	// an unsynced segment may be lost in a crash, Open cuts the last segment at its first bad frame whatever
	// follows it.
	NoSync bool
	// Salvage: when Open finds a bad frame with intact records after it (which it otherwise refuses, see
	// CorruptError), keep the records before it, move the damaged segment and every later one aside into a
	// "damaged-<time>" directory of the journal (not deleted), cut the damaged segment there, and say so in
	// Recovery.Salvaged. A damaged floor file is rebuilt from the first record. The records after the damage are
	// lost to replay: an operator's decision, for one start.
	Salvage bool
}

type pending struct {
	seq uint64
	rec []byte
}

type segment struct {
	first uint64
	path  string
}

// Recovery is what Open found in the journal's directory and what it did about damage (Journal.Recovery).
type Recovery struct {
	// Segments is how many segment files Open kept; Records how many records they hold, First and Last the
	// sequence numbers of the first and last of them (0 when there are none); Floor that of the last Truncate.
	Segments    int
	Records     int
	First, Last uint64
	Floor       uint64
	// Cut is the torn tail Open cut off the last segment: a crash during a commit, whose callers were never
	// answered (or, for a NoSync journal, anything after its first bad frame). Nil when the journal ended cleanly.
	Cut *Damage
	// Salvaged is the damage Options.Salvage cut away with everything after it. Nil unless salvage was needed.
	Salvaged *Damage
	// FloorRebuilt says the floor file was damaged and Options.Salvage rebuilt it from the first record.
	FloorRebuilt bool
}

// Damage is a bad frame Open found, where, and what dropping it and everything after it costs.
type Damage struct {
	// Segment is the segment file and Offset the byte where the bad frame starts: what is kept of the segment ends
	// there. Size is the segment's size as Open found it.
	Segment string
	Offset  int64
	Size    int64
	// Reason says what is wrong with the frame.
	Reason string
	// LastKept is the sequence number of the last record before the damage (0 if there is none above the floor).
	LastKept uint64
	// Dropped is how many bytes recovery cut off or moved aside: the rest of this segment and every later one, not
	// counting the zeros of a preallocated tail.
	Dropped int64
	// Intact is how many intact records Open found after the damage, in this segment and later ones (recognised
	// by their checksums), IntactFirst and IntactLast their lowest and highest sequence numbers. They are why
	// Open refuses the journal (CorruptError), and what salvage loses. Zero for a torn tail.
	Intact                  int
	IntactFirst, IntactLast uint64
	// MovedTo is the directory salvage moved the damaged segments to, whole (empty for a torn tail).
	MovedTo string
}

// String describes the damage for a log line.
func (d *Damage) String() string { return d.describe("dropped") }

func (d *Damage) describe(dropped string) string {
	s := fmt.Sprintf("%s: bad frame at byte %d of %d (%s) after record %d; %d bytes %s", d.Segment, d.Offset, d.Size,
		d.Reason, d.LastKept, d.Dropped, dropped)
	if d.Intact > 0 {
		s += fmt.Sprintf(", with intact records after the damage: %d (%d to %d)", d.Intact, d.IntactFirst, d.IntactLast)
	}
	if d.MovedTo != "" {
		s += "; the damaged segments are in " + d.MovedTo
	}
	return s
}

// CorruptError is Open's refusal of a journal with a bad frame that is not a torn tail: intact records follow it
// (or it breaks the run of sequence numbers, or it is in a segment the journal had already synced and closed), so
// cutting there would drop records that were acknowledged. Options.Salvage keeps the records before it instead.
type CorruptError struct {
	Damage
}

func (e *CorruptError) Error() string {
	return "journal: damaged: " + e.Damage.describe("would be dropped")
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
	// commitErr is the committer's own copy of failed (it alone sets it), read without the lock.
	commitErr error

	// fileMu guards the segment list and the open segment: the committer holds it while it writes, Truncate
	// while it rotates and deletes.
	fileMu   sync.Mutex
	segments []segment
	file     File
	size     int64
	frame    []byte
	// written is the last sequence number written to a segment (durable once its fsync returned).
	written uint64

	recovery Recovery

	durable atomic.Uint64
	wake    chan struct{}
	done    chan struct{}

	// spareMu guards spareReady, which says spareFile is there to be renamed; the preparer (prepareLoop) makes
	// it when prep says one was taken, and stops when stop is closed (prepDone then).
	spareMu    sync.Mutex
	spareReady bool
	prep       chan struct{}
	stop       chan struct{}
	prepDone   chan struct{}
}

// Open opens (or creates) the journal in directory dir and starts its committer. A torn tail is cut off (see
// Recovery); other damage is refused with a *CorruptError unless opt.Salvage is set.
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
	j := &Journal{dir: dir, opt: opt, notify: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}),
		prep: make(chan struct{}, 1), stop: make(chan struct{}), prepDone: make(chan struct{})}
	if err := j.load(); err != nil {
		if j.file != nil {
			j.file.Close()
		}
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	j.durable.Store(j.lastSeq)
	go j.commitLoop()
	go j.prepareLoop()
	j.prep <- struct{}{}
	return j, nil
}

// prepareLoop makes the spare segment whenever rotation took it, until Close.
func (j *Journal) prepareLoop() {
	defer close(j.prepDone)
	for {
		select {
		case <-j.stop:
			return
		case <-j.prep:
			// A failure is not the journal's: rotation makes the segment itself when no spare is ready.
			j.makeSpare()
		}
	}
}

// makeSpare preallocates spareFile unless it is ready.
func (j *Journal) makeSpare() error {
	j.spareMu.Lock()
	defer j.spareMu.Unlock()
	if j.spareReady {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(j.dir, spareFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = preallocate(f, j.opt.SegmentBytes)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	j.spareReady = err == nil
	return err
}

// Recovery returns what Open found and did.
func (j *Journal) Recovery() Recovery { return j.recovery }

// load finds the segments, checks every frame and the run of sequence numbers, deals with damage (cut a torn
// tail, salvage, or refuse), and opens the last segment for appending.
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
		if !j.opt.Salvage {
			return err
		}
		if floor, err = j.rebuildFloor(); err != nil {
			return err
		}
	}
	rec := &j.recovery
	rec.Floor = floor
	// prev is the last record read. Above the floor each record must follow it by one; at or below it (records a
	// checkpoint covers, left in a segment that also holds later ones) they need only increase.
	var prev uint64
	// ends[i] is where segment i's records end, once known: what follows is a preallocated tail, or nothing.
	ends := map[int]int64{}
	for i, s := range j.segments {
		if i+1 < len(j.segments) && j.segments[i+1].first <= floor+1 {
			// Every record in it is at or below the floor (Truncate deletes such segments; a crash may have
			// left one): nothing in it is replayed, so damage in it costs nothing.
			continue
		}
		inSegment := 0
		size, err := readFrames(s.path, func(seq uint64, _ []byte, start, _ int64) error {
			// A segment is named after its first record, and Replay skips segments by their names: a segment
			// (other than the first, which a truncation may leave named lower) that does not start with its name
			// was moved or renamed, and replaying around it would lose records.
			if inSegment++; inSegment == 1 && i > 0 && seq != s.first {
				return &badFrame{path: s.path, at: start, order: true,
					reason: fmt.Sprintf("the segment named after record %d starts with record %d", s.first, seq)}
			}
			if want := max(prev, floor) + 1; seq > floor && seq != want || seq <= floor && prev > 0 && seq <= prev {
				return &badFrame{path: s.path, at: start, order: true,
					reason: fmt.Sprintf("record %d where %d was expected", seq, want)}
			}
			if rec.Records == 0 {
				rec.First = seq
			}
			prev = seq
			rec.Records++
			return nil
		})
		var bf *badFrame
		if errors.As(err, &bf) {
			if err := j.damaged(i, size, bf, prev); err != nil {
				return err
			}
			if len(j.segments) == i+1 {
				ends[i] = bf.at // cut there (salvage may have moved it aside whole instead)
			}
			break
		}
		if err != nil {
			return err
		}
		ends[i] = size
	}
	rec.Last = prev
	rec.Segments = len(j.segments)
	j.lastSeq = max(floor, prev)
	j.written = j.lastSeq
	if len(j.segments) == 0 {
		return j.rotate()
	}
	last := len(j.segments) - 1
	end, ok := ends[last]
	if !ok {
		if end, err = readFrames(j.segments[last].path, func(uint64, []byte, int64, int64) error { return nil }); err != nil {
			return err
		}
	}
	// A segment written before segments were preallocated ends at its last record; it is preallocated now like
	// any other, and written on from its end.
	f, err := os.OpenFile(j.segments[last].path, os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	preallocate(f, j.opt.SegmentBytes) // see newSegment
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	j.file, j.size = j.wrap(f), end
	return nil
}

func (j *Journal) wrap(f *os.File) File {
	if j.opt.WrapFile != nil {
		return j.opt.WrapFile(f)
	}
	return f
}

// damaged decides what to do about the bad frame bf of segment i (size bytes), after record lastKept: cut it off
// as a torn tail, salvage, or refuse. It leaves j.segments as the segments kept.
func (j *Journal) damaged(i int, size int64, bf *badFrame, lastKept uint64) error {
	s := j.segments[i]
	d := Damage{Segment: s.path, Offset: bf.at, Size: size, Reason: bf.reason, LastKept: lastKept}
	if err := surveyIntact(j.segments[i:], bf.at, lastKept, &d); err != nil {
		return err
	}
	last := i == len(j.segments)-1
	// Only the end of the last segment can be torn by a crash, and only if no intact record follows (a commit's
	// frames go out in order in one write). An unsynced journal may lose any part of its last segment. A frame
	// that is whole but out of sequence was written that way: that is not a tear.
	torn := last && !bf.order && (d.Intact == 0 || j.opt.NoSync)
	switch {
	case torn:
		if err := cutFile(s.path, bf.at); err != nil {
			return err
		}
		j.recovery.Cut = &d
		j.segments = j.segments[:i+1]
	case j.opt.Salvage:
		if err := j.salvage(i, &d); err != nil {
			return fmt.Errorf("salvage: %w", err)
		}
		j.recovery.Salvaged = &d
	default:
		return &CorruptError{d}
	}
	return nil
}

// surveyIntact counts the intact records (above after) from byte from of the first segment on, through the last
// segment, into d, and adds the later segments' sizes to d.Dropped. It reads the files whole: this runs only when
// a journal is damaged.
func surveyIntact(segs []segment, from int64, after uint64, d *Damage) error {
	for k, s := range segs {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		if k > 0 {
			from = 0
			d.Dropped += dataEnd(b)
		} else {
			d.Dropped = max(dataEnd(b)-from, 0)
		}
		n, first, last := intactFrames(b, from, after)
		if n > 0 {
			if d.Intact == 0 {
				d.IntactFirst = first
			}
			d.Intact += n
			d.IntactLast = last
		}
	}
	return nil
}

// intactFrames counts the frames of b from byte from on whose checksum holds and whose sequence number is above
// after. Past a bad spot it tries every byte offset: a frame is recognised by its checksum (a false match has odds
// of one in 2^32 per offset tried, and sequence numbers must also be in range).
func intactFrames(b []byte, from int64, after uint64) (n int, first, last uint64) {
	p := int(from)
	for p+frameHeader <= len(b) {
		size := binary.LittleEndian.Uint32(b[p:])
		seq := binary.LittleEndian.Uint64(b[p+8:])
		if size <= maxRecord && p+frameHeader+int(size) <= len(b) && seq > after {
			end := p + frameHeader + int(size)
			if crc32.Update(crc32.Checksum(b[p+8:p+16], crcTable), crcTable, b[p+frameHeader:end]) == binary.LittleEndian.Uint32(b[p+4:]) {
				if n == 0 {
					first = seq
				}
				n++
				last, after, p = seq, seq, end
				continue
			}
		}
		p++
	}
	return n, first, last
}

// salvage keeps the records before the damage d in segment i: it moves every later segment into a new directory
// of damaged segments, copies the damaged one there whole, and cuts it at the damage (or moves it whole when
// nothing before the damage is left in it). A crash half way leaves the originals in one place or the other.
func (j *Journal) salvage(i int, d *Damage) error {
	aside := filepath.Join(j.dir, "damaged-"+j.opt.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return err
	}
	for _, s := range j.segments[i+1:] {
		if err := os.Rename(s.path, filepath.Join(aside, filepath.Base(s.path))); err != nil {
			return err
		}
	}
	s := j.segments[i]
	j.segments = j.segments[:i]
	if d.Offset == 0 {
		if err := os.Rename(s.path, filepath.Join(aside, filepath.Base(s.path))); err != nil {
			return err
		}
	} else {
		if err := copyFile(s.path, filepath.Join(aside, filepath.Base(s.path))); err != nil {
			return err
		}
		if err := syncDir(aside); err != nil {
			return err
		}
		if err := cutFile(s.path, d.Offset); err != nil {
			return err
		}
		j.segments = append(j.segments, s)
	}
	if err := syncDir(aside); err != nil {
		return err
	}
	d.MovedTo = aside
	return syncDir(j.dir)
}

// rebuildFloor replaces a damaged floor file (for Salvage): the floor becomes the record before the first one in
// the segments (0 with none). The daemon checks it against its checkpoint.
func (j *Journal) rebuildFloor() (uint64, error) {
	var floor uint64
	if len(j.segments) > 0 {
		_, err := readFrames(j.segments[0].path, func(seq uint64, _ []byte, _, _ int64) error {
			floor = seq - 1
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			var bf *badFrame
			if !errors.As(err, &bf) {
				return 0, err
			}
		}
	}
	if err := writeFloor(j.dir, floor); err != nil {
		return 0, err
	}
	j.recovery.FloorRebuilt = true
	return floor, nil
}

var errStop = errors.New("stop")

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cutFile truncates a file to size and syncs it.
func cutFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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

// badFrame is a frame that fails its checks: it ends early, claims a length over the limit, fails its checksum,
// or (order) is whole but out of sequence.
type badFrame struct {
	path   string
	at     int64
	reason string
	order  bool
}

func (e *badFrame) Error() string {
	return fmt.Sprintf("journal: %s: bad frame at byte %d (%s)", e.path, e.at, e.reason)
}

// readFrames reads every frame of a segment; fn gets each record and the offsets where its frame starts and ends.
// It returns where the segment's records end (its size, or where its preallocated tail of zeros begins), and stops
// with a *badFrame at the first frame that fails its checks (or the error of fn, which may be a *badFrame too);
// the size returned with a bad frame is the file's.
func readFrames(path string, fn func(seq uint64, rec []byte, start, end int64) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, int(min(size, 1<<20))) // no 1 MiB buffer for a small segment
	var off int64
	var hdr [frameHeader]byte
	bad := func(reason string, a ...any) error {
		return &badFrame{path: path, at: off, reason: fmt.Sprintf(reason, a...)}
	}
	for off < size {
		if n, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				if allZero(hdr[:n]) {
					return off, nil // a preallocated tail shorter than a frame header
				}
				return size, bad("the file ends %d bytes into a frame header", n)
			}
			return size, err
		}
		if allZero(hdr[:]) {
			rest, err := zerosToEnd(r)
			if err != nil {
				return size, err
			}
			if rest {
				return off, nil
			}
			return size, bad("a frame header of zeros with data after it")
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		seq := binary.LittleEndian.Uint64(hdr[8:16])
		if n > maxRecord {
			return size, bad("length %d is over the limit", n)
		}
		if off+frameHeader+int64(n) > size {
			return size, bad("a frame of %d bytes runs %d bytes past the end of the file", n, off+frameHeader+int64(n)-size)
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return size, err
		}
		if crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, rec) != sum {
			return size, bad("checksum mismatch")
		}
		start := off
		off += frameHeader + int64(n)
		if err := fn(seq, rec, start, off); err != nil {
			return size, err
		}
	}
	return size, nil
}

// zeroBlock is compared against, a block at a time: bytes.Equal runs in the runtime's vectorised comparison, so
// checking a preallocated tail of 64 MiB at every start costs milliseconds (a loop over its bytes took seconds
// under the race detector, which checks every read).
var zeroBlock = make([]byte, 64<<10)

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// zerosToEnd reads r to its end and says whether it held only zeros.
func zerosToEnd(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// dataEnd is where b's last byte that is not zero ends: the records and any torn frame, without a preallocated
// tail.
func dataEnd(b []byte) int64 {
	n := len(b)
	// Whole blocks of zeros first, then byte by byte within the last block that holds data.
	for n > 0 {
		k := min(n, len(zeroBlock))
		if !allZero(b[n-k : n]) {
			break
		}
		n -= k
	}
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

// rotate closes the open segment (if any) and starts a new one at the next sequence number. The caller holds fileMu
// (or is load, before the committer runs).
func (j *Journal) rotate() error {
	if j.file != nil {
		// A segment closed early (by Truncate) gives back the preallocated space it did not use.
		if err := j.file.Truncate(j.size); err != nil {
			return err
		}
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
	f, err := j.newSegment(path)
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
	j.file, j.size = j.wrap(f), 0
	return nil
}

// newSegment makes the segment file path, empty and preallocated: the spare renamed when one is ready (and the
// preparer told to make the next), else made here.
func (j *Journal) newSegment(path string) (*os.File, error) {
	j.spareMu.Lock()
	if _, err := os.Stat(path); j.spareReady && errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(filepath.Join(j.dir, spareFile), path); err == nil {
			j.spareReady = false
			j.spareMu.Unlock()
			select {
			case j.prep <- struct{}{}:
			default:
			}
			return os.OpenFile(path, os.O_WRONLY, 0o600)
		}
		j.spareReady = false
	}
	j.spareMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// Preallocation saves the commits work; a segment it failed for (a full disk) is written as one that was never
	// preallocated, and a commit that finds no room fails as it would have.
	preallocate(f, j.opt.SegmentBytes)
	return f, nil
}

// writeZeros makes f size bytes long, writing zeros from its end (preallocation without fallocate).
func writeZeros(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zeros := make([]byte, min(size, 1<<20))
	for off := st.Size(); off < size; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// syncData makes what was written to f durable: fdatasync for a segment file, the wrapper's Sync for one that
// Options.WrapFile wrapped.
func syncData(f File) error {
	if of, ok := f.(*os.File); ok {
		return datasync(of)
	}
	return f.Sync()
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
	// Once a commit failed nothing after it is written: records appended before the failure but committed after it
	// would land past a hole in the sequence numbers, and may depend on the records that failed.
	err := j.commitErr
	durable := false
	if err == nil && j.opt.FailCommit != nil {
		err = j.opt.FailCommit()
	}
	if err == nil {
		durable, err = j.write(batch)
	}
	last := batch[len(batch)-1].seq
	if durable {
		j.durable.Store(last)
		if j.opt.OnSync != nil {
			j.opt.OnSync(j.opt.Now().Sub(start), len(batch))
		}
		if j.opt.OnDurable != nil {
			j.opt.OnDurable(last)
		}
	}
	if err != nil && j.commitErr == nil {
		j.commitErr = fmt.Errorf("journal: commit: %w", err)
	}
	j.mu.Lock()
	failedNow := j.failed == nil && j.commitErr != nil
	if j.failed == nil {
		j.failed = j.commitErr
	}
	j.mu.Unlock()
	// OnFail runs before any waiter hears of the failure, so that whoever a failed Wait answers finds the owner
	// already told (a daemon already read-only).
	if failedNow && j.opt.OnFail != nil {
		j.opt.OnFail(j.commitErr)
	}
	j.mu.Lock()
	close(j.notify)
	j.notify = make(chan struct{})
	j.mu.Unlock()
}

// write appends a batch's frames with one write and one fsync, and reports whether the batch is durable. When the
// write or the fsync fails, it cuts what it may have written off the segment: a record whose caller is told it
// failed must not come back on the next start (a short write can leave whole frames of the batch behind). The
// journal stays failed all the same: after a failed fsync the kernel may have dropped the dirty pages or marked
// them clean, so neither a second fsync nor the page cache says what is on disk.
func (j *Journal) write(batch []pending) (bool, error) {
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if j.file == nil {
		return false, ErrClosed
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
		return false, j.undo(err)
	}
	if !j.opt.NoSync {
		if err := syncData(j.file); err != nil {
			return false, j.undo(err)
		}
	}
	j.size += int64(len(buf))
	j.written = batch[len(batch)-1].seq
	if j.size >= j.opt.SegmentBytes {
		// The batch is durable even if starting the next segment fails (the journal fails then, for what follows).
		return true, j.rotate()
	}
	return true, nil
}

// undo cuts a failed commit off the open segment (see write) and returns the commit's error.
func (j *Journal) undo(err error) error {
	if terr := j.file.Truncate(j.size); terr != nil {
		return fmt.Errorf("%w (and cutting the failed commit off the segment failed: %v)", err, terr)
	}
	// Best effort: should the machine crash before the truncation is on disk, the failed commit is in the state of
	// any commit a crash interrupts (there or not, torn or not), which Open deals with.
	j.file.Sync()
	return err
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
		_, err := readFrames(s.path, func(seq uint64, rec []byte, _, _ int64) error {
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

// Skip moves the numbering on: the next record appended gets seq+1, and seq becomes the floor, as if Truncate(seq)
// had covered the records up to it. It is for a log whose numbers must stay in step with something else after it
// lost records (the daemon's event log, whose ids a checkpoint fixes, after a salvage). Nothing may be pending and
// seq may not be below LastSeq.
func (j *Journal) Skip(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) > 0 || seq < j.lastSeq || j.durable.Load() < j.lastSeq {
		return fmt.Errorf("journal: skip to %d: records are pending or %d is behind the last record %d", seq, seq, j.lastSeq)
	}
	if err := writeFloor(j.dir, seq); err != nil {
		return fmt.Errorf("journal: skip: %w", err)
	}
	j.fileMu.Lock()
	j.written = seq
	j.fileMu.Unlock()
	j.lastSeq = seq
	j.durable.Store(seq)
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
		return 0, fmt.Errorf("%w: %s", ErrDamagedFloor, filepath.Join(j.dir, floorFile))
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
	return syncData(j.file)
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
	close(j.stop)
	<-j.prepDone
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

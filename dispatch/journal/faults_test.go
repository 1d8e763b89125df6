package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests here damage a journal the ways a crash, a bad disk or a full disk do, and check what Open keeps, what
// it reports, and that it never keeps more than was written, changes a byte, or gives a record twice.

const faultSeed = 20261123

// testSegment is the segment size of the journals the fault tests write and reopen: small, so that they span
// many segments and each reopening preallocates little.
const testSegment = 1024

// layout is a journal written by writeJournal, as the tests see it: its records, how they were committed, and where
// each frame lies, in its segment and in the segments laid end to end.
type layout struct {
	recs    [][]byte
	commits []int // records per commit, in order
	segs    []segFile
	// start and end of every record's frame in the concatenated segments.
	start, end []int64
}

type segFile struct {
	name  string
	data  []byte // the frames, without the preallocated tail
	first int64  // offset of the segment in the concatenated segments
	size  int64  // the file's size, with its preallocated tail
}

// writeJournal writes n records of varied sizes (some empty, some over the segment size) in commits of one to four
// records into a journal in dir, with small segments, and returns where everything is.
func writeJournal(t *testing.T, dir string, n int, segmentBytes int64, sizes func(i int) int) *layout {
	t.Helper()
	var commits []int
	j := openTemp(t, dir, Options{SegmentBytes: segmentBytes, OnSync: func(_ time.Duration, records int) {
		commits = append(commits, records) // the committer calls it in order, before Wait returns
	}})
	rnd := rand.New(rand.NewPCG(faultSeed, uint64(n)))
	l := &layout{}
	for i := 0; i < n; {
		burst := 1 + rnd.IntN(4)
		var seq uint64
		for k := 0; k < burst && i < n; k, i = k+1, i+1 {
			rec := make([]byte, sizes(i))
			for b := range rec {
				rec[b] = byte(rnd.IntN(256))
			}
			l.recs = append(l.recs, rec)
			var err error
			if seq, err = j.Append(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Wait(context.Background(), seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	l.commits = commits
	names, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	slices.Sort(names)
	var off int64
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		end, err := readFrames(name, func(uint64, []byte, int64, int64) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !allZero(b[end:]) {
			t.Fatalf("%s: bytes that are not zero after the records", name)
		}
		l.segs = append(l.segs, segFile{filepath.Base(name), b[:end], off, int64(len(b))})
		off += end
	}
	for _, r := range l.recs {
		var s int64
		if len(l.end) > 0 {
			s = l.end[len(l.end)-1]
		}
		l.start = append(l.start, s)
		l.end = append(l.end, s+frameHeader+int64(len(r)))
	}
	if off != l.end[len(l.end)-1] {
		t.Fatalf("segments hold %d bytes, the frames %d", off, l.end[len(l.end)-1])
	}
	return l
}

// segOf is the index of the segment holding the byte at offset x of the concatenated segments (the last one for
// the end).
func (l *layout) segOf(x int64) int {
	i := len(l.segs) - 1
	for i > 0 && l.segs[i].first > x {
		i--
	}
	return i
}

// writeCut makes dir hold the journal as a crash at offset x of the concatenated segments leaves it: the segments
// before, the one holding x cut there, none after (or an empty one, emptyNext, when x is where a segment begins:
// a crash just after rotation). With pad, the segment holding x has zeros after the cut up to pad bytes, as a
// preallocated segment has (and an empty next one is pad bytes of zeros: a crash between preallocation and the
// first write); without, it ends at x, as a segment written before preallocation does. Segments before the one
// numbered keep are written only if missing (tests change only later ones, and rewriting many files costs a
// journal commit of the file system each time).
func (l *layout) writeCut(t *testing.T, dir string, x int64, emptyNext bool, keep int, pad int64) {
	t.Helper()
	os.MkdirAll(dir, 0o700)
	want := map[string]bool{}
	for i, s := range l.segs {
		if s.first > x || s.first == x && x > 0 && !emptyNext {
			break
		}
		want[s.name] = true
		path := filepath.Join(dir, s.name)
		if _, err := os.Stat(path); i < keep && err == nil {
			continue
		}
		b := s.data[:min(int64(len(s.data)), x-s.first)]
		if x-s.first <= int64(len(s.data)) && int64(len(b)) < pad {
			b = append(slices.Clone(b), make([]byte, pad-int64(len(b)))...)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !want[e.Name()] {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// scratchDir is a temporary directory for the tests that open a journal thousands of times: on a memory file
// system when there is one (/dev/shm), where an fsync costs nothing, since they check what Open reads and
// repairs, not what a disk keeps.
func scratchDir(t *testing.T) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "journal-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}

// readAll replays a journal and fails on a record out of sequence.
func readAll(t *testing.T, j *Journal) [][]byte {
	t.Helper()
	var got [][]byte
	err := j.Replay(0, func(seq uint64, rec []byte) error {
		if seq != uint64(len(got)+1) {
			return fmt.Errorf("record %d after %d records", seq, len(got))
		}
		got = append(got, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// samePrefix fails unless got is exactly the first n records of want.
func samePrefix(t *testing.T, what string, got, want [][]byte, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d records back, want %d", what, len(got), n)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: record %d changed", what, i+1)
		}
	}
}

// appendAndReopen checks that a repaired journal takes new records after the kept ones and opens cleanly again.
func appendAndReopen(t *testing.T, what, dir string, j *Journal, kept [][]byte, opt Options) {
	t.Helper()
	more := [][]byte{[]byte("after-1"), []byte("after-2")}
	for i, r := range more {
		seq, err := j.Append(r)
		if err != nil {
			t.Fatalf("%s: append after repair: %v", what, err)
		}
		if seq != uint64(len(kept)+i+1) {
			t.Fatalf("%s: appended as record %d after %d kept", what, seq, len(kept))
		}
		if err := j.Wait(context.Background(), seq); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("%s: reopening after the repair and two appends: %v", what, err)
	}
	defer j2.Close()
	if rec := j2.Recovery(); rec.Cut != nil || rec.Salvaged != nil || rec.Last != uint64(len(kept)+len(more)) {
		t.Fatalf("%s: reopened: %+v, want no damage and %d records", what, rec, len(kept)+len(more))
	}
	// Open checked every frame and the run of sequence numbers; read back the last kept record and the new ones.
	var got [][]byte
	after := uint64(max(len(kept)-1, 0))
	err = j2.Replay(after, func(seq uint64, rec []byte) error {
		if seq != after+uint64(len(got))+1 {
			return fmt.Errorf("record %d after %d", seq, after+uint64(len(got)))
		}
		got = append(got, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	samePrefix(t, what+", reopened", got, append(slices.Clone(kept[after:]), more...), len(kept)-int(after)+len(more))
}

// TestCutAtEveryOffset plays a crash at every byte of the last commits (through frame headers, payloads and a
// segment boundary): Open keeps exactly the whole frames before the cut, which include every commit that finished
// before it, reports the bytes it dropped and where, and goes on appending.
func TestCutAtEveryOffset(t *testing.T) {
	base := filepath.Join(scratchDir(t), "base")
	l := writeJournal(t, base, 300, 1024, func(i int) int {
		switch {
		case i%37 == 5:
			return 0
		case i%53 == 7:
			return 1500 // longer than a segment
		}
		return (i * 7919) % 260
	})
	if len(l.segs) < 10 || len(l.commits) < 4 {
		t.Fatalf("setup: %d segments, %d commits", len(l.segs), len(l.commits))
	}
	// From the start of the third commit from the end, or of the last frame of the segment before the last if
	// that is earlier, to the end.
	first := len(l.recs)
	for _, c := range l.commits[len(l.commits)-3:] {
		first -= c
	}
	from := l.start[first]
	lastSeg := l.segs[len(l.segs)-1].first
	for i := len(l.recs) - 1; i >= 0; i-- {
		if l.start[i] < lastSeg {
			from = min(from, l.start[i])
			break
		}
	}
	total := l.end[len(l.end)-1]
	if from >= lastSeg || lastSeg >= total {
		t.Fatalf("setup: cuts from %d to %d do not cross the segment boundary at %d", from, total, lastSeg)
	}
	// commitEnd[k] is where commit k ends.
	var commitEnd []int64
	n := 0
	for _, c := range l.commits {
		n += c
		commitEnd = append(commitEnd, l.end[n-1])
	}

	dir := filepath.Join(scratchDir(t), "cut")
	cuts, withCut := 0, 0
	for x := from; x <= total; x++ {
		for _, v := range []struct {
			emptyNext bool
			pad       int64
		}{{false, 0}, {true, 0}, {false, testSegment}, {true, testSegment}} {
			emptyNext := v.emptyNext
			si := l.segOf(x)
			atBoundary := x == l.segs[si].first && si > 0
			if emptyNext && !atBoundary {
				continue
			}
			what := fmt.Sprintf("cut at byte %d (segment %s, byte %d), empty next segment %v, zeros to byte %d", x, l.segs[si].name, x-l.segs[si].first, emptyNext, v.pad)
			if atBoundary && !emptyNext {
				// The segment before is whole and the one that starts here was never made.
				si--
			}
			l.writeCut(t, dir, x, emptyNext, l.segOf(from), v.pad)
			j, err := Open(dir, Options{SegmentBytes: testSegment})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			cuts++
			whole := 0
			for whole < len(l.recs) && l.end[whole] <= x {
				whole++
			}
			for k, e := range commitEnd {
				if e <= x && l.end[whole-1] < e {
					t.Fatalf("%s: commit %d, which ended at %d, is not kept whole", what, k, e)
				}
			}
			got := readAll(t, j)
			samePrefix(t, what, got, l.recs, whole)
			rec := j.Recovery()
			var lastEnd int64
			if whole > 0 {
				lastEnd = l.end[whole-1]
			}
			if rec.Records != whole || rec.Last != uint64(whole) {
				t.Fatalf("%s: recovery reports %d records up to %d, want %d", what, rec.Records, rec.Last, whole)
			}
			// base is where the kept frames end in the segment cut; end where its bytes end, without zeros at
			// its end, which are a preallocated tail's or the torn frame's: Open cannot tell them apart, and
			// does not count them as dropped.
			segStart := l.segs[si].first
			base := max(lastEnd, segStart)
			end := max(segStart+dataEnd(l.segs[si].data[:x-segStart]), base)
			switch {
			case end == base && rec.Cut != nil:
				t.Fatalf("%s: a cut between frames reported as damage: %+v", what, rec.Cut)
			case end > base:
				withCut++
				c := rec.Cut
				want := filepath.Join(dir, l.segs[si].name)
				if c == nil || c.Segment != want || c.Offset != base-segStart ||
					c.Dropped != end-base || c.LastKept != uint64(whole) || c.Intact != 0 {
					t.Fatalf("%s: recovery reports %+v, want %d bytes dropped from byte %d of %s after record %d",
						what, c, end-base, base-segStart, want, whole)
				}
			}
			appendAndReopen(t, what, dir, j, l.recs[:whole], Options{SegmentBytes: testSegment})
		}
	}
	t.Logf("%d cuts from byte %d to %d of %d (%d segments, %d commits, the last 3 of %v records; seed %d); %d cut a torn frame",
		cuts, from, total, total, len(l.segs), len(l.commits), l.commits[len(l.commits)-3:], faultSeed, withCut)
}

// flipCase names a record whose every bit is flipped in turn.
type flipCase struct {
	name string
	rec  int // index of the record
}

// TestBitFlips flips every bit of chosen records in turn. In the last record (what a torn write also looks like)
// Open cuts it off and reports it. Anywhere else intact records follow the damage, so Open refuses the journal,
// naming the segment and the byte; with Options.Salvage it keeps the records before the damage, moves the damaged
// segments aside unchanged, and reports what it dropped.
func TestBitFlips(t *testing.T) {
	base := filepath.Join(scratchDir(t), "base")
	const n = 60
	l := writeJournal(t, base, n, 1024, func(i int) int { return 20 + (i*37)%90 })
	lastSeg := len(l.segs) - 1
	firstOfLast := 0
	for l.start[firstOfLast] < l.segs[lastSeg].first {
		firstOfLast++
	}
	if n-firstOfLast < 3 || lastSeg < 2 {
		t.Fatalf("setup: %d records in the last segment, %d segments", n-firstOfLast, len(l.segs))
	}
	midSeg := lastSeg / 2
	mid := 0
	for l.start[mid] < l.segs[midSeg].first {
		mid++
	}
	mid++ // the second record of a segment in the middle
	cases := []flipCase{{"LastRecord", n - 1}, {"RecordBeforeTheLast", n - 2}, {"FirstOfTheLastSegment", firstOfLast}, {"Middle", mid}}
	rnd := rand.New(rand.NewPCG(faultSeed, 2))
	dir := filepath.Join(scratchDir(t), "flip")
	flips, cut, salvaged := 0, 0, 0
	for _, tc := range cases {
		si := l.segOf(l.start[tc.rec])
		seg := l.segs[si]
		from, to := l.start[tc.rec]-seg.first, l.end[tc.rec]-seg.first
		for bit := from * 8; bit < to*8; bit++ {
			flips++
			what := fmt.Sprintf("%s: bit %d of byte %d of %s (record %d)", tc.name, bit%8, bit/8, seg.name, tc.rec+1)
			l.writeCut(t, dir, l.end[n-1], false, si-1, 0) // a salvage at byte 0 appends to the segment before
			path := filepath.Join(dir, seg.name)
			damaged := slices.Clone(seg.data)
			damaged[bit/8] ^= 1 << (bit % 8)
			os.WriteFile(path, damaged, 0o600)
			j, err := Open(dir, Options{SegmentBytes: testSegment})
			if tc.rec == n-1 {
				// The tail: cut and reported.
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				samePrefix(t, what, readAll(t, j), l.recs, n-1)
				cut++
				if c := j.Recovery().Cut; c == nil || c.Offset != from || c.Segment != path || c.LastKept != n-1 {
					t.Fatalf("%s: recovery reports %+v, want a cut at byte %d after record %d", what, c, from, n-1)
				}
				if bit%61 == 0 {
					appendAndReopen(t, what, dir, j, l.recs[:n-1], Options{SegmentBytes: testSegment})
				} else {
					j.Close()
				}
				continue
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				if err == nil {
					j.Close()
				}
				t.Fatalf("%s: Open gave %v, want a refusal (intact records follow the damage)", what, err)
			}
			if ce.Segment != path || ce.Offset != from || ce.LastKept != uint64(tc.rec) || ce.IntactFirst != uint64(tc.rec+2) ||
				ce.IntactLast != n || ce.Intact != n-tc.rec-1 || !strings.Contains(err.Error(), seg.name) ||
				!strings.Contains(err.Error(), fmt.Sprintf("byte %d", from)) {
				t.Fatalf("%s: refusal %v (%+v), want it to name %s, byte %d, and intact records %d to %d", what, err, ce.Damage, seg.name, from, tc.rec+2, n)
			}
			// Salvage on a sample (it syncs and copies, so every bit would be slow); the header's bits always.
			if bit-from*8 >= frameHeader*8 && rnd.IntN(16) != 0 {
				continue
			}
			salvaged++
			opt := Options{Salvage: true, SegmentBytes: testSegment}
			j, err = Open(dir, opt)
			if err != nil {
				t.Fatalf("%s: salvage: %v", what, err)
			}
			samePrefix(t, what+", salvaged", readAll(t, j), l.recs, tc.rec)
			s := j.Recovery().Salvaged
			var laterBytes int64
			for _, later := range l.segs[si+1:] {
				laterBytes += int64(len(later.data))
			}
			if s == nil || s.Offset != from || s.Dropped != int64(len(seg.data))-from+laterBytes || s.MovedTo == "" {
				t.Fatalf("%s: salvage reports %+v", what, s)
			}
			// The damaged segment is aside as it was, and so is every later one.
			if b, err := os.ReadFile(filepath.Join(s.MovedTo, seg.name)); err != nil || !bytes.Equal(b, damaged) {
				t.Fatalf("%s: the damaged segment was not moved aside whole: %v", what, err)
			}
			for _, later := range l.segs[si+1:] {
				if b, err := os.ReadFile(filepath.Join(s.MovedTo, later.name)); err != nil || !bytes.Equal(b, later.data) {
					t.Fatalf("%s: segment %s was not moved aside whole: %v", what, later.name, err)
				}
			}
			appendAndReopen(t, what, dir, j, l.recs[:tc.rec], Options{SegmentBytes: testSegment})
		}
	}
	t.Logf("%d bits flipped in %d records (seed %d): %d in the last record, cut off; %d in the others, refused, and %d of those salvaged",
		flips, len(cases), faultSeed, cut, flips-cut, salvaged)
}

// A segment missing from the middle, or the first one missing under the floor, breaks the run of sequence numbers:
// Open refuses rather than replay around the hole.
func TestMissingSegmentIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	l := writeJournal(t, dir, 40, 300, func(i int) int { return 50 })
	if len(l.segs) < 4 {
		t.Fatalf("setup: %d segments", len(l.segs))
	}
	gone := l.segs[1]
	os.Remove(filepath.Join(dir, gone.name))
	_, err := Open(dir, Options{SegmentBytes: testSegment})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Segment != filepath.Join(dir, l.segs[2].name) || ce.Offset != 0 || !strings.Contains(ce.Reason, "expected") {
		t.Fatalf("open with a segment missing: %v, want a refusal at the start of %s", err, l.segs[2].name)
	}
	j, err := Open(dir, Options{Salvage: true, SegmentBytes: testSegment})
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	for l.start[first] < l.segs[1].first {
		first++
	}
	samePrefix(t, "after salvaging a missing segment", readAll(t, j), l.recs, first)
	appendAndReopen(t, "after salvaging a missing segment", dir, j, l.recs[:first], Options{SegmentBytes: testSegment})
}

// The floor file is checksummed: a flipped bit is refused (naming it), and salvage rebuilds it from the first
// record kept.
func TestDamagedFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{SegmentBytes: 100})
	appendN(t, j, 1, 30)
	if err := j.Truncate(12); err != nil {
		t.Fatal(err)
	}
	j.Close()
	good, err := os.ReadFile(filepath.Join(dir, floorFile))
	if err != nil {
		t.Fatal(err)
	}
	j = openTemp(t, dir, Options{})
	want := records(t, j, 12)
	j.Close()
	for bit := range len(good) * 8 {
		b := slices.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		os.WriteFile(filepath.Join(dir, floorFile), b, 0o600)
		if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "floor") {
			t.Fatalf("bit %d of the floor flipped: %v, want a refusal naming the floor file", bit, err)
		}
	}
	j, err = Open(dir, Options{Salvage: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rec := j.Recovery()
	if !rec.FloorRebuilt || rec.Floor > 12 || rec.Floor+1 != rec.First {
		t.Fatalf("salvaged floor: %+v, want it rebuilt below the first record", rec)
	}
	if got := records(t, j, 12); !slices.Equal(got, want) {
		t.Fatalf("records past 12 after rebuilding the floor: %v, want %v", got, want)
	}
}

// failingFile is a segment on a disk that is full once: when failWrite is set, the next write stores half of what
// it was given and fails with ENOSPC; when failSync is set, the next fsync fails. Then there is room again.
type failingFile struct {
	File
	failWrite, failSync *atomic.Bool
}

func (f failingFile) Write(p []byte) (int, error) {
	if f.failWrite.CompareAndSwap(true, false) {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f failingFile) Sync() error {
	if f.failSync.CompareAndSwap(true, false) {
		return &os.PathError{Op: "sync", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.File.Sync()
}

// A commit that fails on a full disk, by a short write or a failed fsync, is cut off the segment: its records are
// not there on the next start (their callers were told they failed). Records queued behind it fail too, even if
// the disk has room again by their turn, and the journal refuses appends until it is reopened.
func TestFullDiskLeavesNoFailedRecord(t *testing.T) {
	for _, mode := range []string{"ShortWrite", "FailedSync"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			var failWrite, failSync, hold atomic.Bool
			held, release := make(chan struct{}), make(chan struct{})
			opt := Options{
				WrapFile: func(f File) File { return failingFile{f, &failWrite, &failSync} },
				// Holds the first failing commit until more records queue behind it.
				FailCommit: func() error {
					if hold.CompareAndSwap(true, false) {
						close(held)
						<-release
					}
					return nil
				},
			}
			j := openTemp(t, dir, opt)
			appendN(t, j, 1, 5)
			if mode == "ShortWrite" {
				failWrite.Store(true)
			} else {
				failSync.Store(true)
			}
			hold.Store(true)
			var seqs []uint64
			for i := range 3 { // a batch of several records, so that a short write leaves whole frames of it behind
				seq, _ := j.Append([]byte(fmt.Sprintf("refused-%d", i)))
				seqs = append(seqs, seq)
			}
			<-held
			for i := range 3 {
				seq, _ := j.Append([]byte(fmt.Sprintf("queued-%d", i)))
				seqs = append(seqs, seq)
			}
			// The disk has room again once the first commit failed: the records queued behind it must fail anyway.
			close(release)
			for _, seq := range seqs {
				if err := j.Wait(context.Background(), seq); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("wait for record %d on a full disk: %v, want ENOSPC", seq, err)
				}
			}
			if _, err := j.Append([]byte("later")); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append after the failure: %v, want the disk error", err)
			}
			j.Close()
			j = openTemp(t, dir, opt)
			defer j.Close()
			if got := records(t, j, 0); len(got) != 5 || j.Recovery().Cut != nil {
				t.Fatalf("after space came back: %v (cut %+v), want the 5 records before the failure and no damage", got, j.Recovery().Cut)
			}
			appendN(t, j, 6, 6)
		})
	}
}

// /dev/full is a real device that answers every write with ENOSPC: a segment linked to it fails its first commit
// with the kernel's own error.
func TestDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	dir := filepath.Join(t.TempDir(), "journal")
	os.MkdirAll(dir, 0o700)
	if err := os.Symlink("/dev/full", filepath.Join(dir, "seg-00000000000000000001.log")); err != nil {
		t.Skip(err)
	}
	j := openTemp(t, dir, Options{})
	defer j.Close()
	seq, _ := j.Append([]byte("x"))
	if err := j.Wait(context.Background(), seq); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("commit on /dev/full: %v, want ENOSPC", err)
	}
	if j.Durable() != 0 {
		t.Fatalf("durable %d after a failed commit", j.Durable())
	}
}

func TestSkip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{})
	appendN(t, j, 1, 3)
	if err := j.Skip(2); err == nil {
		t.Fatal("skip backwards accepted")
	}
	if err := j.Skip(10); err != nil {
		t.Fatal(err)
	}
	if seq, _ := j.Append([]byte("r11")); seq != 11 {
		t.Fatalf("first record after skipping to 10 is %d", seq)
	}
	j.Wait(context.Background(), 11)
	j.Close()
	j = openTemp(t, dir, Options{})
	defer j.Close()
	if got := fmt.Sprint(records(t, j, 10)); got != "[11:r11]" || j.LastSeq() != 11 {
		t.Fatalf("after reopening: %s, last %d", got, j.LastSeq())
	}
}

// A segment wholly under the floor is not read: damage in one that a crash left before Truncate deleted it costs
// nothing.
func TestDamageUnderTheFloorIsIgnored(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	l := writeJournal(t, dir, 40, 300, func(int) int { return 50 })
	// The floor covers the first two segments, as if a crash came between writing it and deleting them.
	floor := uint64(0)
	for l.end[floor] <= l.segs[2].first {
		floor++
	}
	if err := writeFloor(dir, floor); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, l.segs[0].name)
	b := slices.Clone(l.segs[0].data)
	b[20] ^= 1
	os.WriteFile(first, b, 0o600)
	j := openTemp(t, dir, Options{})
	defer j.Close()
	got := records(t, j, floor)
	if len(got) != len(l.recs)-int(floor) || j.Recovery().Cut != nil {
		t.Fatalf("%d records past the floor %d, want %d (recovery %+v)", len(got), floor, len(l.recs)-int(floor), j.Recovery())
	}
}

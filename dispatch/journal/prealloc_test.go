package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// copyDir copies the files of a fixture directory into a new temporary one.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	os.MkdirAll(dir, 0o700)
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testdata/unpreallocated was written by the journal as it was before segments were preallocated (20 records in
// segments of 200 bytes, truncated after record 5): it is read as it is, its last segment is written on, and the
// journal opens cleanly again.
func TestUnpreallocatedJournalIsRead(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "unpreallocated"))
	j := openTemp(t, dir, Options{SegmentBytes: 200})
	rec := j.Recovery()
	if rec.Cut != nil || rec.Salvaged != nil || rec.Floor != 5 || rec.Last != 20 {
		t.Fatalf("recovery %+v, want records up to 20 above the floor 5, no damage", rec)
	}
	var want []string
	for i := 6; i <= 20; i++ {
		want = append(want, fmt.Sprintf("%d:record %d of a journal written before segments were preallocated", i, i))
	}
	if got := records(t, j, 5); !slices.Equal(got, want) {
		t.Fatalf("records after the floor:\n%q\nwant\n%q", got, want)
	}
	appendN(t, j, 21, 30)
	j.Close()
	j = openTemp(t, dir, Options{SegmentBytes: 200})
	defer j.Close()
	if rec := j.Recovery(); rec.Cut != nil || rec.Last != 30 {
		t.Fatalf("reopened after appending: %+v, want no damage and records up to 30", rec)
	}
	if got := records(t, j, 20); len(got) != 10 || got[0] != "21:r21" || got[9] != "30:r30" {
		t.Fatalf("records appended to the old journal: %q", got)
	}
}

// A journal's segments are preallocated: the open one is SegmentBytes long with zeros after its records, a closed
// one is cut back to its records, and a spare waits for the next rotation. None of this is damage on reopening.
func TestSegmentsArePreallocated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	const size = 512
	j := openTemp(t, dir, Options{SegmentBytes: size})
	appendN(t, j, 1, 100) // records of 2-4 bytes in frames of 18-20: several segments
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) < 2 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for i, s := range segs {
		b, _ := os.ReadFile(s)
		end, err := readFrames(s, func(uint64, []byte, int64, int64) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		switch last := i == len(segs)-1; {
		case last && len(b) != size:
			t.Fatalf("open segment %s holds %d bytes, want %d preallocated", s, len(b), size)
		case !last && int64(len(b)) != end:
			t.Fatalf("closed segment %s holds %d bytes for %d of records", s, len(b), end)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, spareFile)); err != nil || st.Size() != size {
		t.Fatalf("spare segment: %v, %v; want one of %d bytes", st, err, size)
	}
	j = openTemp(t, dir, Options{SegmentBytes: size})
	defer j.Close()
	if rec := j.Recovery(); rec.Cut != nil || rec.Last != 100 || len(records(t, j, 0)) != 100 {
		t.Fatalf("reopened: %+v, want 100 records and no damage", rec)
	}
}

// A crash between the preallocation of a segment and its first write leaves a segment of zeros (and maybe a
// spare, whole or not): that is an empty segment, not damage, and the journal writes on into it.
func TestCrashBetweenPreallocationAndFirstWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{SegmentBytes: 1 << 20})
	appendN(t, j, 1, 7)
	j.Close()
	if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000008.log"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spareFile), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	j = openTemp(t, dir, Options{SegmentBytes: 1 << 20})
	if rec := j.Recovery(); rec.Cut != nil || rec.Last != 7 || rec.Segments != 2 {
		t.Fatalf("recovery %+v, want 7 records in 2 segments, no damage", rec)
	}
	appendN(t, j, 8, 9)
	j.Close()
	j = openTemp(t, dir, Options{SegmentBytes: 1 << 20})
	defer j.Close()
	if got := records(t, j, 6); !slices.Equal(got, []string{"7:r7", "8:r8", "9:r9"}) {
		t.Fatalf("records after 6: %q", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "seg-00000000000000000008.log"))
	if b[8] != 8 {
		t.Fatalf("record 8 was not written at the start of the preallocated segment")
	}
}

// A frame header of zeros is the end of the records only if nothing but zeros follows: zeros over a frame with
// intact records after it are damage, refused (naming the segment and the byte) like any other.
func TestZeroedFrameWithRecordsAfterIsRefused(t *testing.T) {
	for _, zeros := range []int{frameHeader, frameHeader + 2, 3} { // the header, the whole frame, part of the header
		t.Run(fmt.Sprint(zeros), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			j := openTemp(t, dir, Options{SegmentBytes: 4096})
			appendN(t, j, 1, 5) // frames of 18 bytes
			j.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
			b, _ := os.ReadFile(segs[0])
			at := 2 * (frameHeader + 2) // record 3
			copy(b[at:], make([]byte, zeros))
			os.WriteFile(segs[0], b, 0o600)
			_, err := Open(dir, Options{SegmentBytes: 4096})
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset != int64(at) || ce.LastKept != 2 || ce.Intact != 2 || ce.IntactFirst != 4 {
				t.Fatalf("open with record 3's first %d bytes zeroed: %v, want a refusal at byte %d after record 2, with records 4 and 5 intact", zeros, err, at)
			}
		})
	}
}

package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzOpenDamagedSegment writes good records, damages the segment with the fuzzer's bytes (appended, or written
// over part of it), and opens it: Open must never panic, and when it accepts the journal, what it replays is a
// prefix of what was written, in order, that drops no record left intact, and appending goes on from there.
func FuzzOpenDamagedSegment(f *testing.F) {
	// One good segment, made once: each case damages a copy of it.
	base := filepath.Join(f.TempDir(), "journal")
	// Small segments: the good one is its records and a preallocated tail of zeros, which the damage may land in.
	j, err := Open(base, Options{SegmentBytes: 256})
	if err != nil {
		f.Fatal(err)
	}
	var want []string
	var ends []int // where each record's frame ends
	for i := range 5 {
		rec := fmt.Sprintf("record-%d", i)
		seq, _ := j.Append([]byte(rec))
		j.Wait(context.Background(), seq)
		want = append(want, rec)
		if len(ends) == 0 {
			ends = append(ends, frameHeader+len(rec))
		} else {
			ends = append(ends, ends[len(ends)-1]+frameHeader+len(rec))
		}
	}
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(base, "seg-*.log"))
	good, err := os.ReadFile(segs[0])
	if err != nil {
		f.Fatal(err)
	}
	name := filepath.Base(segs[0])
	f.Fuzz(func(t *testing.T, at uint16, damage []byte, overwrite bool) {
		dir := filepath.Join(t.TempDir(), "journal")
		os.MkdirAll(dir, 0o700)
		b := append([]byte(nil), good...)
		if overwrite {
			pos := int(at) % (len(b) + 1)
			b = append(b[:pos:pos], append(damage, b[min(pos+len(damage), len(b)):]...)...)
		} else {
			b = append(b, damage...)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o600)

		j, err := Open(dir, Options{SegmentBytes: 256})
		if err != nil {
			return // refusing a damaged journal is allowed; panicking or inventing records is not
		}
		defer j.Close()
		var got []string
		err = j.Replay(0, func(seq uint64, rec []byte) error {
			if seq != uint64(len(got)+1) {
				return fmt.Errorf("record %d after %d records", seq, len(got))
			}
			got = append(got, string(rec))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(want) {
			t.Fatalf("%d records replayed, %d written", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("record %d is %q, was %q", i+1, got[i], want[i])
			}
		}
		// A record dropped must have been damaged, and so must every later one: dropping a record left intact
		// would lose one that was acknowledged.
		for k := len(got); k < len(want); k++ {
			start := ends[k] - frameHeader - len(want[k])
			if ends[k] <= len(b) && bytes.Equal(b[start:ends[k]], good[start:ends[k]]) {
				t.Fatalf("record %d was left intact but dropped (%d of %d kept)", k+1, len(got), len(want))
			}
		}
		seq, err := j.Append([]byte("after"))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(len(got)+1) {
			t.Fatalf("next sequence %d after %d records", seq, len(got))
		}
	})
}

// writeSegment writes frames with the given sequence numbers (payload "r<seq>", checksums right) as a segment.
func writeSegment(t *testing.T, dir string, name uint64, seqs []uint64) {
	t.Helper()
	var buf []byte
	for _, seq := range seqs {
		rec := []byte(fmt.Sprintf("r%d", seq))
		var hdr [frameHeader]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(rec)))
		binary.LittleEndian.PutUint64(hdr[8:16], seq)
		binary.LittleEndian.PutUint32(hdr[4:8], crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, rec))
		buf = append(append(buf, hdr[:]...), rec...)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seg-%020d.log", name)), buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzJournalSegments builds a journal directory whose frames are all well formed (right length, right checksum)
// but whose sequence numbers, segment names and floor the fuzzer chooses: the steps between records (each byte of
// steps, as a signed number), where the second segment starts, how far its name is off, and the floor. Open must
// refuse such a journal or give a consistent one: the records above the floor are numbered one by one from the
// floor up, each with its own payload, Replay after any point gives exactly the records past it, and the next
// append takes the next number.
func FuzzJournalSegments(f *testing.F) {
	f.Fuzz(func(t *testing.T, steps []byte, floor uint8, split uint8, rename int8) {
		if len(steps) > 64 {
			return
		}
		dir := t.TempDir()
		var seqs []uint64
		seq := uint64(0)
		for _, s := range steps {
			seq += uint64(int64(int8(s))) // wraps below zero to a huge number: also a sequence a file may hold
			seqs = append(seqs, seq)
		}
		k := int(split) % (len(seqs) + 1)
		nameOf := func(part []uint64, next uint64) uint64 {
			if len(part) > 0 {
				return part[0]
			}
			return next
		}
		if k > 0 {
			writeSegment(t, dir, nameOf(seqs[:k], 1), seqs[:k])
		}
		if k < len(seqs) || k == 0 {
			writeSegment(t, dir, nameOf(seqs[k:], seq+1)+uint64(int64(rename)), seqs[k:])
		}
		if floor > 0 {
			if err := writeFloor(dir, uint64(floor)); err != nil {
				t.Fatal(err)
			}
		}
		j, err := Open(dir, Options{NoSync: true})
		if err != nil {
			return // refusing a journal that does not hang together is allowed
		}
		defer j.Close()
		from := uint64(floor)
		replay := func(after uint64) []uint64 {
			var got []uint64
			err := j.Replay(after, func(seq uint64, rec []byte) error {
				if string(rec) != fmt.Sprintf("r%d", seq) {
					return fmt.Errorf("record %d holds %q", seq, rec)
				}
				got = append(got, seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		all := replay(from)
		for i, s := range all {
			if s != from+1+uint64(i) {
				t.Fatalf("steps %v, split %d, rename %d, floor %d: accepted, and the records after the floor are %v", steps, k, rename, floor, all)
			}
		}
		for i := range all {
			if got := replay(all[i]); !slices.Equal(got, all[i+1:]) {
				t.Fatalf("steps %v, split %d, rename %d, floor %d: records after %d are %v, want %v", steps, k, rename, floor, all[i], got, all[i+1:])
			}
		}
		next, err := j.Append([]byte("next"))
		if err != nil {
			t.Fatal(err)
		}
		if want := from + uint64(len(all)) + 1; next != want {
			t.Fatalf("steps %v, split %d, rename %d, floor %d: %d records after the floor, the next is numbered %d", steps, k, rename, floor, len(all), next)
		}
	})
}

package journal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenDamagedSegment writes good records, damages the segment with the fuzzer's bytes (appended, or written
// over part of it), and opens it: Open must never panic, and when it accepts the journal, what it replays is a
// prefix of what was written, in order, that drops no record left intact, and appending goes on from there.
func FuzzOpenDamagedSegment(f *testing.F) {
	f.Add(uint16(0), []byte{1, 2, 3}, false)
	f.Add(uint16(40), []byte{0xff}, true)
	f.Add(uint16(17), make([]byte, 64), true)
	f.Add(uint16(5), []byte("garbage after the end"), false)
	// One good segment, made once: each case damages a copy of it.
	base := filepath.Join(f.TempDir(), "journal")
	j, err := Open(base, Options{})
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

		j, err := Open(dir, Options{})
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

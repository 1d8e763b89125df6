package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openTemp(t *testing.T, path string, opt Options) *Journal {
	t.Helper()
	j, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func records(t *testing.T, j *Journal, after uint64) []string {
	t.Helper()
	var got []string
	err := j.Replay(after, func(seq uint64, rec []byte) error {
		got = append(got, fmt.Sprintf("%d:%s", seq, rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendWaitReplayAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, path, Options{})
	for i := range 5 {
		seq, err := j.Append([]byte(fmt.Sprintf("r%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", seq, i+1)
		}
	}
	if err := j.Wait(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	if j.Durable() != 5 {
		t.Fatalf("durable %d, want 5", j.Durable())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}

	j = openTemp(t, path, Options{})
	defer j.Close()
	if got, want := fmt.Sprint(records(t, j, 2)), "[3:r2 4:r3 5:r4]"; got != want {
		t.Fatalf("replay after 2: %s, want %s", got, want)
	}
	seq, _ := j.Append([]byte("next"))
	if seq != 6 {
		t.Fatalf("sequence after reopen %d, want 6", seq)
	}
}

func TestCloseFlushesPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, path, Options{})
	for i := range 100 {
		if _, err := j.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openTemp(t, path, Options{})
	defer j.Close()
	if n := len(records(t, j, 0)); n != 100 {
		t.Fatalf("%d records after close and reopen, want 100", n)
	}
}

// Many concurrent writers must share commits: that is the point of group commit.
func TestGroupCommit(t *testing.T) {
	var commits, synced atomic.Int64
	j := openTemp(t, filepath.Join(t.TempDir(), "journal"), Options{OnSync: func(_ time.Duration, n int) {
		commits.Add(1)
		synced.Add(int64(n))
	}})
	defer j.Close()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq, err := j.Append([]byte(fmt.Sprintf("%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				if err := j.Wait(context.Background(), seq); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if synced.Load() != writers*each {
		t.Fatalf("%d records synced, want %d", synced.Load(), writers*each)
	}
	if commits.Load() >= writers*each {
		t.Fatalf("%d commits for %d records: no batching", commits.Load(), writers*each)
	}
}

func appendN(t *testing.T, j *Journal, from, to int) {
	t.Helper()
	var seq uint64
	for i := from; i <= to; i++ {
		var err error
		if seq, err = j.Append([]byte(fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Wait(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
}

func TestTruncate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{})
	appendN(t, j, 1, 10)
	// Every record is covered: the segment goes, and numbering goes on from the floor.
	if err := j.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if got := records(t, j, 0); len(got) != 0 {
		t.Fatalf("records after a truncation that covers all: %v", got)
	}
	appendN(t, j, 11, 15)
	// A truncation inside the open segment keeps it; replay skips what is covered.
	if err := j.Truncate(12); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(records(t, j, 12)), "[13:r13 14:r14 15:r15]"; got != want {
		t.Fatalf("replay after 12: %s, want %s", got, want)
	}
	j.Close()
	j = openTemp(t, dir, Options{})
	defer j.Close()
	if floor, _ := j.Floor(); floor != 12 {
		t.Fatalf("floor %d, want 12", floor)
	}
	if seq, _ := j.Append([]byte("x")); seq != 16 {
		t.Fatalf("sequence after reopening %d, want 16", seq)
	}
	j.Close()
	// Emptied by truncation and reopened: numbering must not start again.
	j = openTemp(t, dir, Options{})
	defer j.Close()
	j.Truncate(16)
	j.Close()
	j = openTemp(t, dir, Options{})
	defer j.Close()
	if seq, _ := j.Append([]byte("y")); seq != 17 {
		t.Fatalf("sequence after emptying the log %d, want 17", seq)
	}
}

func TestSegmentsRotateAndTruncateWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{SegmentBytes: 200}) // a few records per segment
	for i := 1; i <= 60; i++ {
		appendN(t, j, i, i) // one commit each, so segments fill and rotate
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) < 5 {
		t.Fatalf("%d segments for 60 records over a 200-byte limit", len(segs))
	}
	if n := len(records(t, j, 0)); n != 60 {
		t.Fatalf("%d records replayed across segments, want 60", n)
	}
	if err := j.Truncate(40); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(after) >= len(segs) {
		t.Fatalf("truncation deleted no segment (%d before, %d after)", len(segs), len(after))
	}
	got := records(t, j, 40)
	if len(got) != 20 || got[0] != "41:r41" {
		t.Fatalf("replay after 40: %v", got)
	}
	j.Close()
	j = openTemp(t, dir, Options{SegmentBytes: 200})
	defer j.Close()
	if got := records(t, j, 40); len(got) != 20 {
		t.Fatalf("after reopening: %d records past 40, want 20", len(got))
	}
}

func TestTornTailIsCutAndCorruptionRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := openTemp(t, dir, Options{})
	appendN(t, j, 1, 5)
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	last := segs[len(segs)-1]
	file, _ := os.ReadFile(last)
	if len(file) != defaultSegmentBytes {
		t.Fatalf("the open segment holds %d bytes, want %d preallocated", len(file), defaultSegmentBytes)
	}
	end, err := readFrames(last, func(uint64, []byte, int64, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	good := file[:end]
	torn := []byte{40, 0, 0, 0, 1, 2, 3}
	// A crash in the middle of a commit: half a frame at the end, in a preallocated segment (zeros after it) and
	// in one that is not (a journal written before preallocation, or a segment past its preallocated size).
	for _, tail := range []int{defaultSegmentBytes - len(good) - len(torn), 0} {
		os.WriteFile(last, append(append(append([]byte{}, good...), torn...), make([]byte, tail)...), 0o600)
		j = openTemp(t, dir, Options{})
		if cut := j.Recovery().Cut; cut == nil || cut.Dropped != 7 || cut.Offset != int64(len(good)) {
			t.Fatalf("%d zeros after: cut %+v, want the 7 bytes of the torn frame at byte %d", tail, cut, len(good))
		}
		if n := len(records(t, j, 0)); n != 5 {
			t.Fatalf("%d records after the repair, want 5", n)
		}
		j.Close()
	}
	j = openTemp(t, dir, Options{})
	if n := len(records(t, j, 0)); n != 5 {
		t.Fatalf("%d records after the repair, want 5", n)
	}
	appendN(t, j, 6, 6)
	j.Close()
	j = openTemp(t, dir, Options{})
	if n := len(records(t, j, 0)); n != 6 {
		t.Fatalf("%d records after appending past a repaired tail, want 6", n)
	}
	j.Close()
	// Zeros after the last frame, however many (blocks preallocated, or allocated but never written), are the end
	// of the records, not damage.
	for _, zeros := range []int{0, 5, 16, 100} {
		b, _ := os.ReadFile(last)
		end, err := readFrames(last, func(uint64, []byte, int64, int64) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(last, append(append([]byte{}, b[:end]...), make([]byte, zeros)...), 0o600)
		j = openTemp(t, dir, Options{})
		if cut := j.Recovery().Cut; cut != nil || len(records(t, j, 0)) != 6 {
			t.Fatalf("%d zeros after the last frame: cut %+v, %d records; want no cut and 6", zeros, cut, len(records(t, j, 0)))
		}
		j.Close()
	}
	// A flipped byte inside a record with records after it is corruption, not a torn tail.
	b, _ := os.ReadFile(last)
	b[frameHeader] ^= 0xff
	os.WriteFile(last, b, 0o600)
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a corrupt record in the middle of the journal was accepted (Open must refuse, not drop what follows)")
	}
}

func TestFailedCommitIsReportedAndSticky(t *testing.T) {
	disk := errors.New("no space left on device")
	var fail atomic.Bool
	var told atomic.Int32
	j := openTemp(t, filepath.Join(t.TempDir(), "journal"), Options{FailCommit: func() error {
		if fail.Load() {
			return disk
		}
		return nil
	}, OnFail: func(err error) {
		if !errors.Is(err, disk) {
			t.Errorf("OnFail(%v), want the disk error", err)
		}
		told.Add(1)
	}})
	defer j.Close()
	seq, _ := j.Append([]byte("ok"))
	if err := j.Wait(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	seq, _ = j.Append([]byte("lost"))
	if err := j.Wait(context.Background(), seq); !errors.Is(err, disk) {
		t.Fatalf("wait on a failed commit: %v, want the disk error", err)
	}
	if _, err := j.Append([]byte("after")); !errors.Is(err, disk) {
		t.Fatalf("append after a failed commit: %v, want the disk error", err)
	}
	if n := told.Load(); n != 1 {
		t.Fatalf("OnFail called %d times, want once (when the journal failed)", n)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	j := openTemp(t, filepath.Join(t.TempDir(), "journal"), Options{})
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Wait(ctx, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait for a record never appended: %v, want context.Canceled", err)
	}
}

func BenchmarkAppendWait(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "journal"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rec := make([]byte, 300)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq, err := j.Append(rec)
			if err != nil {
				b.Fatal(err)
			}
			if err := j.Wait(context.Background(), seq); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package journal

import (
	"context"
	"errors"
	"fmt"
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
	path := filepath.Join(t.TempDir(), "journal.db")
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
	path := filepath.Join(t.TempDir(), "journal.db")
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
	j := openTemp(t, filepath.Join(t.TempDir(), "journal.db"), Options{OnSync: func(_ time.Duration, n int) {
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

func TestTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openTemp(t, path, Options{})
	n := truncateChunk*2 + 10 // more than one truncation transaction
	for i := range n {
		j.Append([]byte(fmt.Sprintf("r%d", i)))
	}
	if err := j.Wait(context.Background(), uint64(n)); err != nil {
		t.Fatal(err)
	}
	if err := j.Truncate(uint64(n - 2)); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(records(t, j, 0)), fmt.Sprintf("[%d:r%d %d:r%d]", n-1, n-2, n, n-1); got != want {
		t.Fatalf("log after truncation: %s, want %s", got, want)
	}
	// A truncation that empties the log must not let sequence numbers start again.
	if err := j.Truncate(uint64(n)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = openTemp(t, path, Options{})
	defer j.Close()
	if floor, _ := j.Floor(); floor != uint64(n) {
		t.Fatalf("floor %d, want %d", floor, n)
	}
	if seq, _ := j.Append([]byte("x")); seq != uint64(n+1) {
		t.Fatalf("sequence after emptying the log %d, want %d", seq, n+1)
	}
}

func TestFailedCommitIsReportedAndSticky(t *testing.T) {
	disk := errors.New("no space left on device")
	var fail atomic.Bool
	j := openTemp(t, filepath.Join(t.TempDir(), "journal.db"), Options{FailCommit: func() error {
		if fail.Load() {
			return disk
		}
		return nil
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
}

func TestWaitHonoursContext(t *testing.T) {
	j := openTemp(t, filepath.Join(t.TempDir(), "journal.db"), Options{})
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Wait(ctx, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait for a record never appended: %v, want context.Canceled", err)
	}
}

func BenchmarkAppendWait(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "journal.db"), Options{})
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

package jsjournal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

const testTimeout = clustertest.Timeout

var ctxT = clustertest.Context

func open(t *testing.T, nc *nats.Conn, region, owner string, epoch uint64) *Journal {
	t.Helper()
	j, err := Open(ctxT(t), nc, Config{Region: region, Owner: owner, Epoch: epoch})
	if err != nil {
		t.Fatalf("open %s as %s: %v", region, owner, err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func rec(i int) []byte { return []byte(fmt.Sprintf("record %d", i)) }

type entry struct {
	seq uint64
	rec string
}

func replayAll(t *testing.T, j *Journal, after uint64) []entry {
	t.Helper()
	var got []entry
	if err := j.Replay(after, func(seq uint64, b []byte) error {
		got = append(got, entry{seq, string(b)})
		return nil
	}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return got
}

// rawMsgs reads every message of region's stream, markers included, by sequence number.
func rawMsgs(t *testing.T, nc *nats.Conn, region string) []*jetstream.RawStreamMsg {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx := ctxT(t)
	st, err := js.Stream(ctx, StreamName(region))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Region: "a.b", Epoch: 1}, "Region"},
		{Config{Region: "", Epoch: 1}, "Region"},
		{Config{Region: "r"}, "Epoch"},
		{Config{Region: "r", Epoch: 1, Replicas: 7}, "Replicas"},
		{Config{Region: "r", Epoch: 1, RetryFor: time.Hour}, "Duplicates"},
	} {
		_, err := Open(context.Background(), nil, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}

// The journal keeps the contract of journal.Log: sequence numbers returned at once and in order, Wait until
// acknowledged, Replay of exactly the records (not the takeover marker), LastSeq, Durable and Pending consistent.
func TestAppendWaitReplay(t *testing.T) {
	c := clustertest.Start(t, 3)
	nc := c.Connect()
	j := open(t, nc, "east", "n1", 1)
	marker := j.LastSeq()
	if marker != 1 || j.Durable() != 1 {
		t.Fatalf("a new stream's marker at %d (durable %d), want 1", marker, j.Durable())
	}
	var want []entry
	for i := range 200 {
		seq, err := j.Append(rec(i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != marker+uint64(i)+1 {
			t.Fatalf("append %d got seq %d", i, seq)
		}
		want = append(want, entry{seq, string(rec(i))})
	}
	if err := j.Wait(ctxT(t), j.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if j.Durable() != j.LastSeq() || j.Pending() != 0 {
		t.Fatalf("durable %d last %d pending %d", j.Durable(), j.LastSeq(), j.Pending())
	}
	got := replayAll(t, j, 0)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay:\n got %v\nwant %v", got, want)
	}
	if got := replayAll(t, j, want[149].seq); fmt.Sprint(got) != fmt.Sprint(want[150:]) {
		t.Fatalf("replay after %d: got %v", want[149].seq, got)
	}
	// Every server holds all of it: the stream is replicated three times.
	for i := range c.Size() {
		c.WaitLocal(i, StreamName("east"), func(st server.StreamState) bool { return st.LastSeq == j.LastSeq() })
	}
}

// Stopping the stream's leader in the middle of appends loses nothing: the records are sent again to the new
// leader, every Wait returns nil, and the server that comes back catches up with all of them.
func TestAppendsSurviveTheLossOfAServer(t *testing.T) {
	c := clustertest.Start(t, 3)
	nc := c.Connect()
	j := open(t, nc, "west", "n1", 1)
	ctx := ctxT(t)
	var want []entry
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			seq, err := j.Append(rec(i))
			if err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
			want = append(want, entry{seq, string(rec(i))})
		}
	}
	appendN(0, 300)
	leader := c.StreamLeader(StreamName("west"))
	if leader < 0 {
		t.Fatal("no stream leader")
	}
	c.Stop(leader) // with appends in flight
	appendN(300, 300)
	if err := j.Wait(ctx, j.LastSeq()); err != nil {
		t.Fatalf("wait with one server down: %v", err)
	}
	c.Restart(leader)
	appendN(600, 100)
	if err := j.Wait(ctx, j.LastSeq()); err != nil {
		t.Fatal(err)
	}
	last := j.LastSeq()
	c.WaitLocal(leader, StreamName("west"), func(st server.StreamState) bool { return st.LastSeq == last })
	if got := replayAll(t, j, 0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay after the loss of a server: %d records, want %d", len(got), len(want))
	}
}

// Two writers on one region: once the second opened (its takeover marker), the first is refused with the typed
// error, appends nothing more, and nothing it sent after the marker is in the stream, however many of its records
// were in flight.
func TestAStaleWriterIsFenced(t *testing.T) {
	c := clustertest.Start(t, 3)
	old := open(t, c.Connect(), "north", "n1", 1)
	ctx := ctxT(t)
	for i := range 50 {
		if _, err := old.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Wait(ctx, old.LastSeq()); err != nil {
		t.Fatal(err)
	}
	// The old writer keeps appending, up to 100 records in flight, while the new one takes over.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			seq, err := old.Append(rec(i))
			if err != nil {
				return
			}
			if i%100 == 0 && old.Wait(ctx, seq-100) != nil {
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond) // let appends get in flight (the test holds whatever the timing)
	nc2 := c.Connect()
	taker := open(t, nc2, "north", "n2", 2)
	markerSeq := taker.LastSeq()
	// A record appended after the takeover is refused, whatever was in flight.
	late, err := old.Append([]byte("late"))
	if err == nil {
		err = old.Wait(ctx, late)
	}
	close(stop)
	wg.Wait()
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the stale writer's append after the takeover: %v, want ErrFenced", err)
	}
	var fe *FencedError
	if !errors.As(old.Err(), &fe) || fe.Region != "north" {
		t.Fatalf("Err: %v, want a *FencedError for north", old.Err())
	}
	if _, err := old.Append([]byte("late")); !errors.Is(err, ErrFenced) {
		t.Fatalf("append after the fence: %v", err)
	}
	// The taker writes on.
	seq, err := taker.Append([]byte("taker's"))
	if err != nil {
		t.Fatal(err)
	}
	if err := taker.Wait(ctx, seq); err != nil {
		t.Fatal(err)
	}
	// Nothing of the old writer's after the marker; everything it was told is durable is before it.
	oldDurable := old.Durable()
	if oldDurable >= markerSeq {
		t.Fatalf("the old writer has %d durable, at or after the marker %d", oldDurable, markerSeq)
	}
	msgs := rawMsgs(t, nc2, "north")
	for _, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		if m.Sequence > markerSeq && !strings.HasPrefix(id, taker.session+".") {
			t.Errorf("message %d (%s) after the marker %d is not the taker's", m.Sequence, id, markerSeq)
		}
		if m.Sequence < markerSeq && !strings.HasPrefix(id, old.session+".") {
			t.Errorf("message %d (%s) before the marker is not the old writer's", m.Sequence, id)
		}
	}
	if m := msgs[markerSeq-1]; m.Header.Get(KindHeader) != kindTakeover {
		t.Fatalf("message %d is not the marker: %v", markerSeq, m.Header)
	}
	if uint64(len(msgs)) != seq {
		t.Fatalf("%d messages, want %d", len(msgs), seq)
	}
}

// A writer whose lease is older than the stream's writer's (a node that slept through its lease and took no new
// one) is refused at Open and does not fence the newer writer off.
func TestAnOlderEpochCannotTakeTheStream(t *testing.T) {
	c := clustertest.Start(t, 3)
	newer := open(t, c.Connect(), "bay", "n2", 5)
	_, err := Open(ctxT(t), c.Connect(), Config{Region: "bay", Owner: "n1", Epoch: 4})
	var stale *StaleEpochError
	if !errors.As(err, &stale) || stale.Epoch != 4 || stale.Current != 5 {
		t.Fatalf("open in an older epoch: %v, want a *StaleEpochError", err)
	}
	seq, err := newer.Append(rec(0))
	if err == nil {
		err = newer.Wait(ctxT(t), seq)
	}
	if err != nil {
		t.Fatalf("the newer writer after the refused open: %v", err)
	}
}

// A writer whose connection is gone fails (its records cannot be acknowledged) rather than wait for ever.
func TestAWriterCutOffFails(t *testing.T) {
	c := clustertest.Start(t, 3)
	nc := c.Connect()
	j := open(t, nc, "south", "n1", 1)
	seq, _ := j.Append(rec(0))
	if err := j.Wait(ctxT(t), seq); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	seq, err := j.Append(rec(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(ctxT(t), seq); err == nil || j.Err() == nil {
		t.Fatalf("wait on a closed connection: %v (Err %v)", err, j.Err())
	}
	if _, err := j.Append(rec(2)); err == nil {
		t.Fatal("append after the failure succeeded")
	}
}

// What a replay shows after every server restarted is exactly what was acknowledged, and a writer that opens then
// numbers on after it.
func TestReplayAfterRestartIsWhatWasAcknowledged(t *testing.T) {
	c := clustertest.Start(t, 3)
	j := open(t, c.Connect(), "central", "n1", 1)
	var want []entry
	for i := range 100 {
		seq, err := j.Append(rec(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{seq, string(rec(i))})
	}
	if err := j.Wait(ctxT(t), j.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(ctxT(t), j.LastSeq()+1); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("wait after close: %v", err)
	}
	for i := range c.Size() {
		c.Stop(i)
	}
	for i := range c.Size() {
		c.StartServer(i)
	}
	c.WaitReady()
	j2 := open(t, c.Connect(), "central", "n2", 2)
	if got := replayAll(t, j2, 0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay after a restart:\n got %v\nwant %v", got, want)
	}
	if j2.LastSeq() != want[len(want)-1].seq+1 {
		t.Fatalf("the new writer's marker at %d, want %d", j2.LastSeq(), want[len(want)-1].seq+1)
	}
}

// Truncate purges what a checkpoint covers (keeping the last record), Floor says so, Replay starts after it;
// Skip numbers on after a sequence number the stream never reached.
func TestTruncateFloorSkip(t *testing.T) {
	c := clustertest.Start(t, 3)
	j := open(t, c.Connect(), "docks", "n1", 1)
	ctx := ctxT(t)
	for i := range 10 {
		j.Append(rec(i))
	}
	if err := j.Truncate(j.LastSeq() + 1); err == nil {
		t.Fatal("truncate past the durable records succeeded")
	}
	if err := j.Wait(ctx, j.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if err := j.Truncate(6); err != nil {
		t.Fatal(err)
	}
	if f, err := j.Floor(); err != nil || f != 6 {
		t.Fatalf("floor %d (%v), want 6", f, err)
	}
	got := replayAll(t, j, 6)
	if len(got) != 5 || got[0].seq != 7 {
		t.Fatalf("replay after truncation: %v", got)
	}
	// Truncating everything leaves the numbering where it was.
	if err := j.Truncate(j.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if f, _ := j.Floor(); f != j.LastSeq() {
		t.Fatalf("floor %d after truncating all of %d", f, j.LastSeq())
	}
	seq, err := j.Append([]byte("after truncate"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(ctx, seq); err != nil {
		t.Fatalf("append after truncating all: %v", err)
	}
	if err := j.Skip(seq - 1); err == nil {
		t.Fatal("skip behind the last record succeeded")
	}
	if err := j.Skip(100); err != nil {
		t.Fatal(err)
	}
	if f, _ := j.Floor(); f != 100 || j.LastSeq() != 100 {
		t.Fatalf("after skip to 100: floor %d, last %d", f, j.LastSeq())
	}
	seq, err = j.Append([]byte("after skip"))
	if err != nil || seq != 101 {
		t.Fatalf("append after skip: %d, %v", seq, err)
	}
	if err := j.Wait(ctx, seq); err != nil {
		t.Fatalf("append after skip: %v", err)
	}
	if got := replayAll(t, j, 100); len(got) != 1 || got[0] != (entry{101, "after skip"}) {
		t.Fatalf("replay after skip: %v", got)
	}
}

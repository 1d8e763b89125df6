package checkpoint

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// The scheduled book comes last, counted in the header; a checkpoint written before it (no count, no records)
// still reads.
func TestScheduledRecords(t *testing.T) {
	book := &Scheduled{OrderID: "o3", StoreID: "s0", Dropoff: Location{31.24, 121.48}, CreatedAt: at,
		ReadyAt: at.Add(5 * time.Minute), DeliverAfter: at.Add(3 * time.Hour), DeliverBy: at.Add(4 * time.Hour), Size: 1,
		ReleaseAt: at.Add(150 * time.Minute), Courier: "c0", PickupAt: at.Add(3 * time.Hour), DropoffAt: at.Add(200 * time.Minute),
		PickupSeq: 1, DropoffSeq: 2, PlannedAt: at}
	write := func(count int, recs ...*Record) []byte {
		var buf bytes.Buffer
		w := NewWriter(&buf, 64, Header{Counts: Counts{Idem: 1, Scheduled: count}})
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	idem := &Record{K: KindIdem, Idem: &Idem{Key: "i1", Status: 201, At: at}}
	engine := &Record{K: KindEngine, Engine: &dispatch.State{}}
	b := write(1, engine, idem, &Record{K: KindScheduled, Scheduled: book})
	h, recs, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Counts.Scheduled != 1 || len(recs) != 3 || recs[2].Scheduled == nil {
		t.Fatalf("header %+v, records %d", h.Counts, len(recs))
	}
	want, _ := json.Marshal(book)
	got, _ := json.Marshal(recs[2].Scheduled)
	if !bytes.Equal(want, got) {
		t.Fatalf("read back %s\nwant %s", got, want)
	}
	if strings.Contains(string(write(0, engine, idem)), `"scheduled"`) {
		t.Fatal("a checkpoint without scheduled orders names them in its header")
	}
	if _, _, err := readAll(write(0, engine, idem, &Record{K: KindScheduled, Scheduled: book})); err == nil || !strings.Contains(err.Error(), "header counts") {
		t.Fatalf("%v, want a scheduled record the header does not count refused", err)
	}
	w := NewWriter(&bytes.Buffer{}, 64, Header{})
	w.Write(&Record{K: KindScheduled, Scheduled: book})
	if err := w.Write(idem); err == nil {
		t.Fatal("an idempotency key written after the scheduled book")
	}
	if err := NewWriter(&bytes.Buffer{}, 64, Header{}).Write(&Record{K: KindScheduled}); err == nil {
		t.Fatal("a scheduled record without its order written")
	}
}

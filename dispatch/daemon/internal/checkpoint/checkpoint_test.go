package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

var at = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

// sample writes a small checkpoint: the engine in its parts, a record of every other kind.
func sample(t testing.TB) ([]byte, []*Record) {
	t.Helper()
	recs := []*Record{
		{K: KindEngine, Engine: &dispatch.State{Version: 1, Now: 42, Seq: 2, Skills: []string{"cold"}}},
		{K: KindEngineStore, EngineStore: &dispatch.SavedStore{ID: "s0"}},
		{K: KindEngineCourier, EngineCourier: &dispatch.SavedCourier{ID: "c0", Capacity: 3}},
		{K: KindEngineOrder, EngineOrder: &dispatch.SavedOrder{ID: "o1"}},
		{K: KindEngineOrder, EngineOrder: &dispatch.SavedOrder{ID: "o2"}},
		{K: KindStore, Store: &Store{ID: "s0", Location: Location{31.2, 121.4}, Stock: map[string]int{"milk": 3}, CreatedAt: at}},
		{K: KindCourier, Courier: &Courier{ID: "c0", Vehicle: "ebike", Capacity: 3, TokenHash: []byte{1, 2}, OnShift: true}},
		{K: KindOrder, Order: &Order{ID: "o1", Status: "pending", StoreID: "s0", Items: []Item{{"milk", 1}},
			Timeline: []Step{{Status: "pending", At: at}}}},
		{K: KindOrder, Order: &Order{ID: "o2", Status: "delivered", StoreID: "s0", Customer: json.RawMessage(`{"name":"A"}`),
			Timeline: []Step{{Status: "pending", At: at}, {Status: "delivered", At: at.Add(time.Hour)}}}},
		{K: KindKey, Key: &Key{ID: "k1", Role: "orders", Hash: []byte("h")}},
		{K: KindWebhook, Webhook: &Webhook{ID: "w1", URL: "http://127.0.0.1:1/x", Events: []string{"order.delivered"}}},
		{K: KindAnnounced, Announced: &Announced{OrderID: "o1", At: at}},
		{K: KindIdem, Idem: &Idem{Key: "i1", Status: 201, Body: []byte("{}"), At: at, OrderID: "o1"}},
	}
	counter := &Reader{}
	for _, r := range recs {
		counter.count(r.K)
	}
	c := counter.seen
	var buf bytes.Buffer
	w := NewWriter(&buf, 64, Header{Seq: 37, At: at, EventSeq: 9, Counts: c})
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), recs
}

// readAll reads a checkpoint to its end.
func readAll(b []byte) (Header, []*Record, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return Header{}, nil, err
	}
	var recs []*Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), recs, nil
		}
		if err != nil {
			return r.Header(), recs, err
		}
		recs = append(recs, rec)
	}
}

func TestRoundTrip(t *testing.T) {
	b, want := sample(t)
	if n := bytes.Count(b, []byte("\n")); n != len(want)+2 {
		t.Fatalf("%d lines, want a header, %d records and a trailer", n, len(want))
	}
	h, got, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != Version || h.Seq != 37 || h.EventSeq != 9 || !h.At.Equal(at) || h.Counts.EngineOrders != 2 || h.Counts.Orders != 2 {
		t.Fatalf("header %+v", h)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("records read back differ:\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// replaceLine returns b with its line i (from 0) replaced.
func replaceLine(b []byte, i int, line string) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	lines[i] = line + "\n"
	return []byte(strings.Join(lines, ""))
}

// Damage is an error that says what is wrong, never a panic or a state the file did not hold.
func TestDamageIsNamed(t *testing.T) {
	good, recs := sample(t)
	n := len(recs) + 2 // lines
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"Empty", nil, "no header"},
		{"NotJSON", []byte("crc32c 00000000\n"), "no header"},
		{"Version1", []byte(`{"version":1,"seq":3}` + "\n"), "first record"},
		{"Version3", []byte(`{"k":"header","header":{"version":3}}` + "\n"), "version 3"},
		{"CutBeforeTrailer", good[:bytes.LastIndexByte(good[:len(good)-1], '\n')+1], "cut short after record 14"},
		{"CutInARecord", good[:len(good)/2], "record"},
		{"ChecksumMismatch", bytes.Replace(good, []byte(`"milk":3`), []byte(`"milk":4`), 1), "checksum mismatch"},
		{"UnknownKind", replaceLine(good, 3, `{"k":"truck","truck":{}}`), `unknown kind "truck"`},
		{"NullEntity", replaceLine(good, 8, `{"k":"order","order":null}`), `kind "order", has no order`},
		{"OrderWithoutTimeline", replaceLine(good, 8, `{"k":"order","order":{"id":"o1"}}`), "without a timeline"},
		{"OutOfOrder", replaceLine(good, 2, `{"k":"idem","idem":{"key":"x"}}`), `of kind "engine_courier", comes after one of kind "idem"`},
		{"SecondHeader", replaceLine(good, 5, string(good[:bytes.IndexByte(good, '\n')])), `of kind "header"`},
		{"TrailerCount", replaceLine(good, n-1, `{"k":"end","end":{"records":3,"xxhash":"0000000000000000"}}`), "counts 3 records"},
		{"TrailerHash", replaceLine(good, n-1, `{"k":"end","end":{"records":14,"xxhash":"zz"}}`), "not 16 hex digits"},
		{"AfterTrailer", append(append([]byte{}, good...), `{"k":"store"}`...), "after the trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAll(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// The header's counts must match the records: a file that lost whole records and had its trailer made again would
// otherwise pass.
func TestCountsMustMatch(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 64, Header{Counts: Counts{Orders: 2}})
	w.Write(&Record{K: KindEngine, Engine: &dispatch.State{}})
	w.Write(&Record{K: KindOrder, Order: &Order{ID: "o1", Timeline: []Step{{Status: "pending"}}}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "header counts") {
		t.Fatalf("%v, want the counts refused", err)
	}
}

// The writer refuses what the reader would: a record without its entity, or out of order.
func TestWriterRefuses(t *testing.T) {
	w := NewWriter(io.Discard, 64, Header{})
	if err := w.Write(&Record{K: KindOrder}); err == nil {
		t.Fatal("an order record without its order written")
	}
	w = NewWriter(io.Discard, 64, Header{})
	w.Write(&Record{K: KindIdem, Idem: &Idem{Key: "i"}})
	if err := w.Write(&Record{K: KindStore, Store: &Store{ID: "s"}}); err == nil {
		t.Fatal("a store written after an idempotency key")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a refused record says nothing")
	}
}

// FuzzReader reads made-up checkpoints: it returns records or an error, never panics, and whatever it accepts in
// full re-encodes to records that read back the same.
func FuzzReader(f *testing.F) {
	good, _ := sample(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(replaceLine(good, 8, `{"k":"order","order":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := readAll(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, 64, h)
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatalf("a record the reader accepted is refused by the writer: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, again, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("written again, refused: %v", err)
		}
		a, _ := json.Marshal(recs)
		c, _ := json.Marshal(again)
		if !bytes.Equal(a, c) {
			t.Fatalf("written again, read back other records")
		}
	})
}

// big writes a checkpoint of n orders, many batches of lines.
func big(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, 1<<16, Header{Seq: 1, Counts: Counts{Orders: n}})
	w.Write(&Record{K: KindEngine, Engine: &dispatch.State{Version: 1}})
	for i := range n {
		o := &Order{ID: fmt.Sprintf("o%06d", i), Status: "pending", StoreID: "s0", Timeline: []Step{{Status: "pending", At: at}}}
		if err := w.Write(&Record{K: KindOrder, Order: o}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Records decoded ahead, in batches on several goroutines, come out in the file's order, and damage far into the
// file is named by its record's number.
func TestManyBatchesInOrder(t *testing.T) {
	const n = 20*batchLines + 7
	b := big(t, n)
	_, recs, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n+1 {
		t.Fatalf("%d records, want %d", len(recs), n+1)
	}
	for i, r := range recs[1:] {
		if want := fmt.Sprintf("o%06d", i); r.Order.ID != want {
			t.Fatalf("record %d is order %s, want %s", i+2, r.Order.ID, want)
		}
	}
	// Line 3000 (from 0: the header is line 0, record 1) made unreadable.
	bad := replaceLine(b, 3000, `{"k":"order","order":{"id":`)
	if _, _, err := readAll(bad); err == nil || !strings.Contains(err.Error(), "record 3001:") {
		t.Fatalf("%v, want record 3001 named", err)
	}
}

// A reader abandoned after a few records stops its goroutines on Close.
func TestCloseAbandoned(t *testing.T) {
	r, err := NewReader(bytes.NewReader(big(t, 10*batchLines)))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	r.Close()
	if _, err := r.Next(); err == nil {
		t.Fatal("Next after Close returned a record")
	}
}

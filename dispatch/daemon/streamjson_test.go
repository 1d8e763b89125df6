package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func streamed(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriterSize(&buf, 64) // small, so that every element crosses a flush
	if err := writeJSONStreamed(w, v); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The streamed checkpoint is byte for byte what json.Marshal makes of the same data, for a checkpoint written by
// a daemon that went through every step of an order's life (its engine state, views, keys, idempotency records,
// announced ETAs, stock), read back.
func TestStreamedCheckpointIsMarshal(t *testing.T) {
	dir, _, _, _ := checkpointRun(t)
	d := &Daemon{}
	data, err := d.readCheckpoint(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(data.Orders) == 0 || len(data.Engine.Orders) == 0 || len(data.Idem) == 0 || len(data.Couriers) == 0 {
		t.Fatalf("setup: the checkpoint holds too little to compare (%d orders, %d idempotency records)", len(data.Orders), len(data.Idem))
	}
	want, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := streamed(t, data); !bytes.Equal(got, want) {
		t.Fatalf("streamed checkpoint differs from json.Marshal:\n%s", firstDiff(string(want), string(got)))
	}
}

type streamInner struct {
	A int    `json:"a,omitempty"`
	B string `json:"b"`
}

type selfMarshaled struct{ v int }

func (s selfMarshaled) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int{"self": s.v})
}

type pointerMarshaled struct{ v int }

func (p *pointerMarshaled) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int{"ptr": p.v})
}

type withEmbedded struct {
	streamInner
	C int
}

type namedKey string

type streamCase struct {
	Plain      int                      `json:"plain"`
	Untagged   string                   // the field name is the key
	Skipped    int                      `json:"-"`
	hidden     int                      // unexported: never written
	Omitted    []int                    `json:"omitted,omitempty"`
	OmitZero   int                      `json:"omit_zero,omitempty"`
	OmitPtr    *streamInner             `json:"omit_ptr,omitempty"`
	Kept       []int                    `json:"kept,omitempty"`
	NilSlice   []string                 `json:"nil_slice"`
	EmptySlice []string                 `json:"empty_slice"`
	NilMap     map[string]int           `json:"nil_map"`
	Bytes      []byte                   `json:"bytes"`
	Time       time.Time                `json:"time"`
	Self       selfMarshaled            `json:"self"`
	PtrSelf    pointerMarshaled         `json:"ptr_self"`
	PtrSelves  []pointerMarshaled       `json:"ptr_selves"`
	SelfPtr    *selfMarshaled           `json:"self_ptr"`
	Embedded   withEmbedded             `json:"embedded"`
	AsString   int                      `json:"as_string,string"`
	Nested     *streamInner             `json:"nested"`
	Inners     []streamInner            `json:"inners"`
	ByName     map[namedKey]streamInner `json:"by_name"`
	ByInt      map[int]string           `json:"by_int"`
	HTML       string                   `json:"html"`
	Any        any                      `json:"any"`
	Raw        json.RawMessage          `json:"raw"`
	Float      float64                  `json:"float"`
	Array      [2]int                   `json:"array"`
}

// Every rule of encoding/json the walk reproduces or hands back to json.Marshal: names from tags or fields, "-",
// unexported fields, omitempty on each kind, nil and empty slices and maps, byte slices, values that marshal
// themselves, embedded fields, ",string", map key order for named and non-string keys, HTML escaping.
func TestStreamedJSONFollowsEncodingJSON(t *testing.T) {
	v := &streamCase{
		Plain: 1, Untagged: "u", Skipped: 2, hidden: 3, Kept: []int{4, 5}, EmptySlice: []string{},
		Bytes: []byte{0, 1, 2}, Time: time.Date(2026, 11, 23, 9, 30, 0, 5, time.UTC), Self: selfMarshaled{6},
		SelfPtr: &selfMarshaled{7}, PtrSelf: pointerMarshaled{11}, PtrSelves: []pointerMarshaled{{12}}, Embedded: withEmbedded{streamInner{8, "e"}, 9}, AsString: 10,
		Nested: &streamInner{B: "<n&>"}, Inners: []streamInner{{1, "x"}, {0, ""}},
		ByName: map[namedKey]streamInner{"zeta": {B: "z"}, "alpha": {A: 1}, "<k>": {}},
		ByInt:  map[int]string{10: "ten", 9: "nine"}, HTML: "<script>&</script>\u2028",
		Any: map[string]any{"b": 1, "a": []any{"x"}}, Raw: json.RawMessage(`{"r":1}`), Float: 1e21, Array: [2]int{1, 2},
	}
	for _, x := range []any{v, *v, streamCase{}, []streamCase{*v, {}}, map[string]*streamCase{"a": v, "b": nil}, nil} {
		want, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := streamed(t, x); !bytes.Equal(got, want) {
			t.Fatalf("%T: streamed differs from json.Marshal:\n%s", x, firstDiff(string(want), string(got)))
		}
	}
}

// A value json.Marshal refuses is refused streamed too, not written half.
func TestStreamedJSONReportsMarshalErrors(t *testing.T) {
	bad := struct {
		F []any `json:"f"`
	}{F: []any{1, make(chan int)}}
	var unsupported *json.UnsupportedTypeError
	if err := writeJSONStreamed(bufio.NewWriter(&bytes.Buffer{}), bad); !errors.As(err, &unsupported) {
		t.Fatalf("err = %v, want json's UnsupportedTypeError", err)
	}
}

// pacedFile writes everything it is given, in order, across chunk boundaries.
func TestPacedFileWritesEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paced")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &pacedFile{f: f}
	var want []byte
	for i := range 40 {
		b := bytes.Repeat([]byte{byte(i)}, 100_000+i*7)
		if n, err := p.Write(b); err != nil || n != len(b) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		want = append(want, b...)
	}
	if p.synced == 0 || p.synced > p.written {
		t.Fatalf("synced %d of %d bytes: the writeback was never started, or past the end", p.synced, p.written)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file has %d bytes, want %d, or differs", len(got), len(want))
	}
}

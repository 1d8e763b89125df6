package daemon

import (
	"bufio"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// writeJSONStreamed writes what json.Marshal(v) would, byte for byte, but walks v's structs field by field and
// marshals the elements of their slices and maps one at a time. A checkpoint of tens of thousands of orders is
// 50 to 100 MB of JSON: json.Marshal built it in one buffer, grown by doubling (clearing and copying up to twice that
// much, a tenth of the daemon's CPU under load), and handed it to the file in a single write that the disk then
// flushed all at once, in front of the journal's fsyncs. Streamed, the memory is one element, and the file takes
// the checkpoint in steps that pacedFile paces.
//
// It falls back to json.Marshal for whatever it does not walk itself: values with their own MarshalJSON or
// MarshalText, structs with embedded fields or the ",string" or ",omitzero" options, maps whose keys are not plain
// strings, and byte slices.
func writeJSONStreamed(w *bufio.Writer, v any) error {
	return streamValue(w, reflect.ValueOf(v))
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func marshalsItself(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler))
}

func streamValue(w *bufio.Writer, v reflect.Value) error {
	if v.IsValid() && !marshalsItself(v.Type()) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				return streamValue(w, v.Elem())
			}
		case reflect.Struct:
			if fields, ok := streamableFields(v.Type()); ok {
				return streamStruct(w, v, fields)
			}
		case reflect.Slice:
			if !v.IsNil() && v.Type().Elem().Kind() != reflect.Uint8 {
				return streamSlice(w, v)
			}
		case reflect.Map:
			if !v.IsNil() && v.Type().Key().Kind() == reflect.String && !marshalsItself(v.Type().Key()) {
				return streamMap(w, v)
			}
		}
	}
	return writeMarshaled(w, v)
}

func writeMarshaled(w *bufio.Writer, v reflect.Value) error {
	var x any
	switch {
	case v.CanAddr():
		// As encoding/json does for a value it reached through a pointer or a slice: its pointer methods count.
		x = v.Addr().Interface()
	case v.IsValid():
		x = v.Interface()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

type streamField struct {
	index     int
	key       []byte // the quoted name and the colon
	omitEmpty bool
}

// streamableFields lists the fields encoding/json writes for t, in order, or false when t has something this walk
// does not reproduce (then json.Marshal writes the whole struct).
func streamableFields(t reflect.Type) ([]streamField, bool) {
	var out []streamField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil, false
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		o := strings.Split(opts, ",")
		if slices.Contains(o, "string") || slices.Contains(o, "omitzero") {
			return nil, false
		}
		key, err := json.Marshal(name)
		if err != nil {
			return nil, false
		}
		out = append(out, streamField{index: i, key: append(key, ':'), omitEmpty: slices.Contains(o, "omitempty")})
	}
	return out, true
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func streamStruct(w *bufio.Writer, v reflect.Value, fields []streamField) error {
	w.WriteByte('{')
	first := true
	for _, f := range fields {
		fv := v.Field(f.index)
		if f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		w.Write(f.key)
		if err := streamValue(w, fv); err != nil {
			return err
		}
	}
	return w.WriteByte('}')
}

func streamSlice(w *bufio.Writer, v reflect.Value) error {
	w.WriteByte('[')
	for i := range v.Len() {
		if i > 0 {
			w.WriteByte(',')
		}
		if err := writeMarshaled(w, v.Index(i)); err != nil {
			return err
		}
	}
	return w.WriteByte(']')
}

// streamMap writes the entries in the order encoding/json does: sorted by key.
func streamMap(w *bufio.Writer, v reflect.Value) error {
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	w.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(',')
		}
		kb, err := json.Marshal(k.String())
		if err != nil {
			return err
		}
		w.Write(kb)
		w.WriteByte(':')
		if err := writeMarshaled(w, v.MapIndex(k)); err != nil {
			return err
		}
	}
	return w.WriteByte('}')
}

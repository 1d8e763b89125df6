package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem with a scenario: a JSON error at a place of the file, or a value that Validate rejects.
type Error struct {
	// File is the file's name as given to Parse or Load ("" for a Spec built in Go).
	File string
	// Line and Column (1-based, columns in characters) locate a JSON error; both are 0 for a semantic error.
	Line, Column int
	// Field is the path of the field, such as "demand.peaks[1].width_min" ("" for the whole file).
	Field string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	switch {
	case e.Field == "":
	case e.Line > 0:
		b.WriteString(e.Field + ": ")
	default:
		b.WriteString(e.Field + " ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads and validates the scenario file at path (see Parse).
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a scenario file and validates it. name is the file's name, for error messages and as the default
// Spec.Name (its base name without extension).
//
// The errors are *Error values: a JSON error (malformed JSON, an unknown or duplicate field, a value of the wrong
// type) gives one, with the line and column; failed validation gives one per problem, joined with errors.Join,
// each naming the field. Use errors.As to get at them.
func Parse(r io.Reader, name string) (*Spec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if e := checkJSON(data, reflect.TypeFor[Spec]()); e != nil {
		e.File = name
		return nil, e
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		// checkJSON accepts only what the decoder accepts; this is a safety net.
		return nil, &Error{File: name, Msg: err.Error()}
	}
	if s.Name == "" {
		base := filepath.Base(name)
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if _, errs := s.resolve(); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			e.File = name
			joined[i] = e
		}
		return nil, errors.Join(joined...)
	}
	return &s, nil
}

// checkJSON checks data strictly against the type t: well-formed JSON, one value, no unknown or duplicate field
// names (case-sensitive), every value of the field's JSON type. It returns the first problem, located.
func checkJSON(data []byte, t reflect.Type) *Error {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return &Error{Line: 1, Column: 1, Msg: err.Error()}
		}
		// Offset counts the bytes read, the offending one included; at the end of the input there is none.
		off := int(se.Offset) - 1
		if strings.HasPrefix(se.Error(), "unexpected end") {
			off = len(data)
		}
		e := &Error{Msg: se.Error()}
		e.Line, e.Column = position(data, off)
		return e
	}
	c := checker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	return c.value(t, "")
}

// position returns the 1-based line and column (in characters) of the byte at offset off.
func position(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[lineStart:])
}

type checker struct {
	data []byte
	dec  *json.Decoder
}

// next returns the offset of the next token: the decoder's offset moved past blanks and separators.
func (c *checker) next() int {
	off := int(c.dec.InputOffset())
	for off < len(c.data) {
		switch c.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (c *checker) errAt(off int, field, format string, args ...any) *Error {
	e := &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
	e.Line, e.Column = position(c.data, off)
	return e
}

// value checks the next JSON value against t (nil: anything goes, nothing to check).
func (c *checker) value(t reflect.Type, field string) *Error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	start := c.next()
	tok, err := c.dec.Token()
	if err != nil {
		return c.errAt(start, field, "%v", err)
	}
	mismatch := func(got string) *Error {
		return c.errAt(start, field, "expected %s, got %s", jsonKind(t), got)
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return c.object(t, field, start, mismatch)
		}
		return c.array(t, field, mismatch)
	case string:
		if t != nil && t.Kind() != reflect.String {
			return mismatch("a string")
		}
	case bool:
		if t != nil && t.Kind() != reflect.Bool {
			return mismatch("true or false")
		}
	case json.Number:
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			if _, err := strconv.ParseFloat(string(tok), t.Bits()); err != nil {
				return c.errAt(start, field, "number %s is out of range", tok)
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(string(tok), 10, t.Bits()); err != nil {
				return c.errAt(start, field, "expected an integer, got %s", tok)
			}
		default:
			return mismatch("a number")
		}
	case nil:
		// null leaves the field at its zero value, as if it were left out.
	}
	return nil
}

func (c *checker) object(t reflect.Type, field string, start int, mismatch func(string) *Error) *Error {
	if t != nil && t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
		return mismatch("an object")
	}
	isMap := t != nil && t.Kind() == reflect.Map
	var fields map[string]reflect.Type
	if !isMap {
		fields = jsonFields(t)
	}
	seen := make(map[string]bool)
	for c.dec.More() {
		keyAt := c.next()
		tok, err := c.dec.Token()
		if err != nil {
			return c.errAt(keyAt, field, "%v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return c.errAt(keyAt, field, "duplicate field %q", key)
		}
		seen[key] = true
		var ft reflect.Type
		switch {
		case isMap:
			ft = t.Elem() // any key: the validation checks it
		case t != nil:
			var ok bool
			if ft, ok = fields[key]; !ok {
				return c.errAt(keyAt, field, "unknown field %q", key)
			}
		}
		sub := key
		if field != "" {
			sub = field + "." + key
		}
		if e := c.value(ft, sub); e != nil {
			return e
		}
	}
	if _, err := c.dec.Token(); err != nil { // '}'
		return c.errAt(start, field, "%v", err)
	}
	return nil
}

func (c *checker) array(t reflect.Type, field string, mismatch func(string) *Error) *Error {
	if t != nil && t.Kind() != reflect.Slice {
		return mismatch("an array")
	}
	var et reflect.Type
	if t != nil {
		et = t.Elem()
	}
	for i := 0; c.dec.More(); i++ {
		if e := c.value(et, fmt.Sprintf("%s[%d]", field, i)); e != nil {
			return e
		}
	}
	if _, err := c.dec.Token(); err != nil { // ']'
		return c.errAt(c.next(), field, "%v", err)
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields to their types (nil for a nil type).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil {
		return nil
	}
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

// jsonKind describes the JSON value a Go type takes.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

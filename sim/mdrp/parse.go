package mdrp

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseError reports a problem in one of the instance or solution files, naming the file (base name), the
// 1-based line (counting the header; 0 when the problem concerns the whole file) and, when there is one, the
// field. Callers can match it with errors.As; its text is meant for people.
type ParseError struct {
	File  string // base name, e.g. "orders.txt"
	Line  int    // 1-based physical line, header included; 0 for the whole file
	Field string // column name, or "" when the problem is not about one field
	Msg   string
	Err   error // underlying error (e.g. from os.ReadFile), if any
}

// Error formats the error as "mdrp: FILE line N: MSG", e.g.
// `mdrp: orders.txt line 7: ready_time "abc" is not a whole number`.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("mdrp: %s line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("mdrp: %s: %s", e.File, e.Msg)
}

// Unwrap returns the underlying error, so that errors.Is(err, fs.ErrNotExist) works for a missing file.
func (e *ParseError) Unwrap() error { return e.Err }

// record is one data line of a file: its physical line number and its fields.
type record struct {
	line   int
	fields []string
}

// readRecords reads dir/file and returns its data lines. The first non-blank line is the header and is
// skipped; blank lines are skipped; fields are separated by tabs or any run of white space, which accepts
// both the tab-separated instance files and the space-separated solution files, CRLF line ends and a missing
// or extra final newline. Each record must have between minCols and maxCols fields (maxCols < 0: no limit).
func readRecords(dir, file string, minCols, maxCols int) ([]record, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		msg := err.Error()
		if os.IsNotExist(err) {
			msg = fmt.Sprintf("missing file (%s)", filepath.Join(dir, file))
		}
		return nil, &ParseError{File: file, Msg: msg, Err: err}
	}
	text := strings.TrimPrefix(string(data), "\ufeff") // a BOM left by a spreadsheet would spoil the first id
	var out []record
	header := true
	for i, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line) // also drops the '\r' of CRLF
		if len(fields) == 0 {
			continue
		}
		if header {
			header = false
			continue
		}
		if len(fields) < minCols || (maxCols >= 0 && len(fields) > maxCols) {
			want := strconv.Itoa(minCols)
			if maxCols < 0 {
				want = "at least " + want
			} else if maxCols != minCols {
				want = fmt.Sprintf("%d to %d", minCols, maxCols)
			}
			return nil, &ParseError{File: file, Line: i + 1,
				Msg: fmt.Sprintf("%d columns, want %s", len(fields), want)}
		}
		out = append(out, record{line: i + 1, fields: fields})
	}
	return out, nil
}

// fieldReader converts the fields of one record and keeps the first error, so that a loader can read a whole
// line and check once.
type fieldReader struct {
	file string
	rec  record
	err  error
}

func (r *fieldReader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &ParseError{File: r.file, Line: r.rec.line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

// str returns field i unchanged (ids are opaque strings).
func (r *fieldReader) str(i int) string { return r.rec.fields[i] }

// num parses field i as a finite float64.
func (r *fieldReader) num(i int, name string) float64 {
	s := r.rec.fields[i]
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.fail(name, "%s %q is not a number", name, s)
		return 0
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.fail(name, "%s %q is not finite", name, s)
		return 0
	}
	return v
}

// whole parses field i as a whole number. "12" and, because spreadsheets and pandas write them, "12.0" are
// accepted; "12.5", "abc", NaN and values beyond ±2^53 are not.
func (r *fieldReader) whole(i int, name string) int {
	s := r.rec.fields[i]
	v, ok := parseWhole(s)
	if !ok {
		r.fail(name, "%s %q is not a whole number", name, s)
	}
	return v
}

func parseWhole(s string) (int, bool) {
	if v, err := strconv.Atoi(s); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

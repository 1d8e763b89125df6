package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// maxDepth bounds how deeply a request body nests. The deepest body the API defines nests four levels (a batch of
// locations); the rest is room for the opaque customer and hours values.
const maxDepth = 32

// checkShape refuses what encoding/json would let through or name badly, each with the path of the field at fault
// ("locations[2].location.alt"):
//   - invalid UTF-8, which the decoder silently replaces with U+FFFD (an id or idempotency key would then not be
//     the one the client sent);
//   - a key given twice, of which the decoder keeps the last (a proxy that reads the first sees another request);
//   - nesting deeper than maxDepth;
//   - a key that t, the type the body decodes into, does not have (the decoder names only the key).
//
// Malformed JSON and values of the wrong type are left to the decoder, which reports them.
//
// Most bodies have none of these: a scan of the bytes, without allocating, tells so, and only a body it doubts is
// walked token by token (five times the cost of decoding it).
func checkShape(body []byte, t reflect.Type) error {
	if utf8.Valid(body) && !doubtful(body) {
		return nil
	}
	return walkCheck(body, t)
}

// walkCheck is checkShape's token by token walk, which finds the field at fault.
func walkCheck(body []byte, t reflect.Type) error {
	badUTF8 := int64(-1)
	if !utf8.Valid(body) {
		badUTF8 = int64(firstInvalidUTF8(body))
	}
	err := walkJSON(body, t, func(s jsonStep) error {
		switch {
		case badUTF8 >= 0 && s.end > badUTF8:
			return apiError(dispatch.EInvalid, s.path(), "%s is not valid UTF-8", orBody(s.path()))
		case s.key && s.dup:
			return apiError(dispatch.EInvalid, s.path(), "%s is given twice", s.path())
		case s.key && !s.known:
			return apiError(dispatch.EInvalid, s.path(), "unknown field %q", s.path())
		case s.open && len(s.stack) >= maxDepth:
			return apiError(dispatch.EInvalid, s.path(), "%s nests deeper than %d levels", orBody(s.path()), maxDepth)
		}
		return nil
	})
	if err == nil && badUTF8 >= 0 {
		// Past the value (trailing data, refused anyway) or in a part the walk did not reach.
		return apiError(dispatch.EInvalid, "", "the body is not valid UTF-8")
	}
	return err
}

// doubtful reports whether body may nest deeper than maxDepth or repeat a key in an object. It errs towards yes:
// keys are compared without regard to case (encoding/json matches field names so), a key with an escape or an
// object with many keys counts as a repeat, and malformed JSON is no.
func doubtful(body []byte) bool {
	type key struct{ obj, start, end int }
	var keysBuf [32]key
	keys := keysBuf[:0]
	var objects [maxDepth + 1]int // the object open at each depth (-1: an array)
	depth, nextObject := 0, 0
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			if depth++; depth > maxDepth {
				return true
			}
			objects[depth] = -1
			if c == '{' {
				objects[depth], nextObject = nextObject, nextObject+1
			}
		case '}', ']':
			if depth--; depth < 0 {
				return false
			}
		case '"':
			start, escaped := i+1, false
			for i = start; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					escaped = true
					i++
				}
			}
			if i >= len(body) {
				return false
			}
			colon := i + 1
			for colon < len(body) && (body[colon] == ' ' || body[colon] == '\t' || body[colon] == '\n' || body[colon] == '\r') {
				colon++
			}
			if colon == len(body) || body[colon] != ':' || depth == 0 || objects[depth] < 0 {
				continue // a string value
			}
			if escaped || len(keys) == 256 {
				return true
			}
			k := key{objects[depth], start, i}
			for _, o := range keys {
				if o.obj == k.obj && bytes.EqualFold(body[o.start:o.end], body[k.start:k.end]) {
					return true
				}
			}
			keys = append(keys, k)
		}
	}
	return false
}

// pathAt returns the path of the value of body that ends at or after byte offset off: where the decoder reports a
// type error, with array indexes that its own field names lack ("locations[1].courier_id", not
// "locations.courier_id"). It returns "" when it cannot tell.
func pathAt(body []byte, t reflect.Type, off int64) string {
	var found string
	walkJSON(body, t, func(s jsonStep) error {
		if !s.key && s.end >= off {
			found = s.path()
			return errFound
		}
		return nil
	})
	return found
}

// errFound stops a walk that found what it looked for.
var errFound = errors.New("found")

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// jsonFrame is an object or array that walkJSON is inside.
type jsonFrame struct {
	t       reflect.Type // the Go type it decodes into; nil when anything goes (json.RawMessage, any)
	array   bool
	index   int    // array: the element being read
	key     string // object: the key whose value is being read
	wantKey bool   // object: the next token is a key
	keys    map[string]bool
}

// jsonStep is one token as walkJSON reads it.
type jsonStep struct {
	stack []jsonFrame // the containers around the token; the last one holds it (empty for the top value)
	end   int64       // offset just past the token
	key   bool        // the token is an object key (the last frame's key)
	known bool        // a key: the Go type has it
	dup   bool        // a key: the object had it already
	open  bool        // the token opens an object or array
}

// path is the token's path: "dropoff.lat", "locations[2].courier_id", "" for the top value.
func (s jsonStep) path() string {
	var b strings.Builder
	for _, f := range s.stack {
		if f.array {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}

// walkJSON reads the first JSON value of body token by token, knowing for each token its path and the Go type
// (within t) it decodes into, and calls visit for each; a non-nil error from visit stops the walk and is
// returned. Malformed JSON ends the walk silently.
func walkJSON(body []byte, t reflect.Type, visit func(jsonStep) error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers stay text: 1e999 is the decoder's to refuse, with a type error
	var stack []jsonFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		step := jsonStep{stack: stack, end: dec.InputOffset()}
		var top *jsonFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return nil
			}
			stack[len(stack)-1].next()
			continue
		}
		if top != nil && top.wantKey {
			key, _ := tok.(string)
			canonical, _, known := childType(top.t, key)
			top.key, top.wantKey = key, false
			if top.keys == nil {
				top.keys = map[string]bool{}
			}
			step.key, step.known, step.dup = true, known, top.keys[canonical]
			top.keys[canonical] = true
			if err := visit(step); err != nil {
				return err
			}
			continue
		}
		vt := t
		if top != nil {
			vt = top.child()
		}
		d, open := tok.(json.Delim)
		step.open = open
		if err := visit(step); err != nil {
			return err
		}
		if open {
			vt = indirect(vt)
			if vt != nil && (d == '{') != (vt.Kind() == reflect.Struct || vt.Kind() == reflect.Map) {
				return nil // an array for an object or the reverse: the decoder's type error says so
			}
			stack = append(stack, jsonFrame{t: vt, array: d == '[', wantKey: d == '{'})
			continue
		}
		if top == nil {
			return nil
		}
		top.next()
	}
}

// next moves the frame past a value.
func (f *jsonFrame) next() {
	if f.array {
		f.index++
	} else {
		f.wantKey = true
	}
}

// child is the Go type of the value being read in the frame: the element type of an array or map, or the type of
// the field of the current key.
func (f *jsonFrame) child() reflect.Type {
	if f.t == nil {
		return nil
	}
	switch f.t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return f.t.Elem()
	case reflect.Struct:
		_, ft, _ := childType(f.t, f.key)
		return ft
	}
	return nil
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// indirect is t without pointers, or nil when anything goes in a value of t (json.RawMessage, interfaces).
func indirect(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessage || t.Kind() == reflect.Interface {
		return nil
	}
	return t
}

// childType says which field of struct t a key sets (matched like encoding/json: exact name, else without regard
// to case): its canonical name, its type, and whether there is one. Keys of maps and of unknown types are all
// known, under their own name.
func childType(t reflect.Type, key string) (canonical string, ft reflect.Type, known bool) {
	if t == nil || t.Kind() != reflect.Struct {
		return key, nil, true
	}
	fields := structFields(t)
	if f, ok := fields.exact[key]; ok {
		return f.name, f.t, true
	}
	if f, ok := fields.folded[strings.ToLower(key)]; ok {
		return f.name, f.t, true
	}
	return key, nil, false
}

type jsonField struct {
	name string
	t    reflect.Type
}

type fieldTable struct {
	exact, folded map[string]jsonField
}

var fieldTables sync.Map // reflect.Type → fieldTable

// structFields lists the JSON fields of a request body's struct type (no embedded structs: request bodies have
// none).
func structFields(t reflect.Type) fieldTable {
	if v, ok := fieldTables.Load(t); ok {
		return v.(fieldTable)
	}
	ft := fieldTable{exact: map[string]jsonField{}, folded: map[string]jsonField{}}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		jf := jsonField{name: name, t: f.Type}
		ft.exact[name] = jf
		ft.folded[strings.ToLower(name)] = jf
	}
	fieldTables.Store(t, ft)
	return ft
}

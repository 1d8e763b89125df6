package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// The data directories under testdata were written before regions existed: their stores, couriers and orders
// read as of the default region. regionalState is a fixture's state (what stateOf showed then, possibly followed
// by more JSON values) as the daemon shows it now: "region": "default" on every store, courier and order view,
// and nothing else changed (the engine's state omits the default region, so it reads as written). Both sides of
// a comparison go through canonicalState, which orders object keys, so that the field's place does not matter.
func regionalState(t *testing.T, old []byte) string {
	t.Helper()
	return canonicalState(t, string(old), func(v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, list := range []string{"orders", "couriers", "stores"} {
			if l, ok := m[list].([]any); ok {
				for _, x := range l {
					setDefaultRegion(t, x)
				}
			}
		}
		if stock, ok := m["stock"].(map[string]any); ok {
			for _, x := range stock {
				setDefaultRegion(t, x)
			}
		}
		if evs, ok := m["events"].([]any); ok {
			for _, ev := range evs {
				if e, ok := ev.(map[string]any); ok {
					setDefaultRegion(t, e["order"])
				}
			}
		}
	})
}

func setDefaultRegion(t *testing.T, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("fixture: a view is %T, not an object", v)
	}
	if _, ok := m["region"]; ok {
		t.Fatalf("fixture: a view written before regions has a region: %v", m)
	}
	m["region"] = "default"
}

// canonicalState re-encodes every JSON value of s with its object keys sorted (numbers kept as written), after
// fix, when given, has changed it.
func canonicalState(t *testing.T, s string, fix func(any)) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []string
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("state is not JSON: %v", err)
		}
		if fix != nil {
			fix(v)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.String())
	}
	return strings.Join(out, "")
}

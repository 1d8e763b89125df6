package fulfil

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// FuzzParseHours reads an hours object as a store's PUT sends it: it is refused with an invalid_argument naming a
// field under hours, or accepted, and then its canonical form parses to the same schedule, and every window it
// gives starts no later than it ends and contains or follows the time asked.
func FuzzParseHours(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string, at int64) {
		var days map[string][]string
		if json.Unmarshal([]byte(body), &days) != nil {
			return
		}
		h, err := ParseHours(days, time.UTC)
		if err != nil {
			var de *dispatch.Error
			if !errors.As(err, &de) || de.Code != dispatch.EInvalid || !strings.HasPrefix(de.Field, "hours.") {
				t.Fatalf("%s: refused with %v, want invalid_argument on a field under hours", body, err)
			}
			return
		}
		again, err := ParseHours(h.Format(), time.UTC)
		if err != nil || !sameWeek(again, h) {
			t.Fatalf("%s: canonical form %v parses to %v, %v", body, h.Format(), again, err)
		}
		now := time.Unix(0, at%(1<<62)).UTC()
		open, close, ok := h.Window(now)
		if ok && !close.IsZero() && (!close.After(open) || !close.After(now)) {
			t.Fatalf("%s at %s: window %s to %s", body, now, open, close)
		}
	})
}

func sameWeek(a, b *Hours) bool {
	for d := range a.Week {
		if len(a.Week[d]) != len(b.Week[d]) {
			return false
		}
		for i := range a.Week[d] {
			if a.Week[d][i] != b.Week[d][i] {
				return false
			}
		}
	}
	return true
}

// FuzzInventoryChanges drives one store's stock with arbitrary changes, orders and hand-overs decoded from bytes:
// stock on hand never goes below what is reserved, and a refused change changes nothing.
func FuzzInventoryChanges(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		n := testNetwork(t)
		put(t, n, Store{ID: "s", Location: orb.Point{0, 0}}, map[string]int{"a": 3})
		skus := []string{"a", "b", "c"}
		live := 0
		for i := 0; i+2 < len(ops) && i < 300; i += 3 {
			sku, q := skus[int(ops[i+1])%3], int(int8(ops[i+2]))
			before, _, _ := n.Inventory("s")
			switch ops[i] % 4 {
			case 0:
				_, err := n.AdjustInventory("s", nil, map[string]int{sku: q})
				if after, _, _ := n.Inventory("s"); err != nil && !maps.Equal(before, after) {
					t.Fatalf("a refused adjustment changed stock: %v to %v", before, after)
				}
			case 1:
				_, _ = n.AdjustInventory("s", map[string]int{sku: q}, nil)
			case 2:
				if items, err := NormalizeItems([]Item{{sku, max(q, 1)}}); err == nil {
					if n.Reserve(string(rune('A'+live)), Plan{StoreID: "s", Ready: t0}, items) == nil {
						live++
					}
				}
			case 3:
				if live > 0 {
					live--
					n.HandOver(string(rune('A' + live)))
				}
			}
			on, res, _ := n.Inventory("s")
			for k, r := range res {
				if on[k] < r || r < 0 {
					t.Fatalf("%s: %d on hand, %d reserved", k, on[k], r)
				}
			}
		}
	})
}

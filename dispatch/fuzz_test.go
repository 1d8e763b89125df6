package dispatch

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzRestoreState decodes a State from the fuzzer's JSON, as the daemon decodes its checkpoint, and restores an
// engine from it. Restore must refuse with an error wrapping ErrInvalidState or return an engine, never panic.
// What it accepts passes the engine's invariant checks, keeps what the State said (exporting it gives the State
// back, a list left out or null as an empty one), and runs: a round and the couriers' next steps go through without a panic or a broken invariant.
//
// Seeds: the State of snapshotScenario (one of everything Restore checks), and near-valid ones in testdata.
func FuzzRestoreState(f *testing.F) {
	orig, valid := snapshotScenario(f)
	b, err := json.Marshal(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var st State
		if json.Unmarshal(data, &st) != nil {
			return // not a State: the JSON decoder refuses it before Restore sees it
		}
		e, err := restoreNoPanic(orig, &st)
		if err != nil {
			if !errors.Is(err, ErrInvalidState) {
				t.Fatalf("refused with %v, which does not wrap ErrInvalidState", err)
			}
			return
		}
		if err := checkInvariants(e); err != nil {
			t.Fatalf("restored an engine that breaks an invariant: %v", err)
		}
		in, _ := json.Marshal(emptyLists(st))
		out := exportJSON(t, e)
		if string(in) != string(out) {
			t.Fatalf("restored, then exported, the state differs:\n%s", firstDiffJSON(in, out))
		}
		at := toTime(e.now).Add(time.Minute)
		if e.now == 0 {
			at = t0
		}
		steps := []Event{DispatchTick{}}
		for _, c := range e.courierList {
			if len(c.stops) > 0 {
				s := c.stops[0]
				steps = append(steps, CourierArrived{CourierID: c.spec.ID, OrderID: s.o.spec.ID},
					OrderPickedUp{CourierID: c.spec.ID, OrderID: s.o.spec.ID}, OrderDelivered{CourierID: c.spec.ID, OrderID: s.o.spec.ID})
			}
		}
		for _, ev := range steps {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s on the restored engine panicked: %v", ev.EventName(), p)
					}
				}()
				e.Apply(at, ev) // refusing an event is fine; the state must stay sound
			}()
			if err := checkInvariants(e); err != nil {
				t.Fatalf("after %s on the restored engine: %v", ev.EventName(), err)
			}
		}
	})
}

// emptyLists returns st with its lists that are absent or null empty instead, as Export writes them: Restore reads
// both alike, and nothing tells them apart. (Skills lists are another matter: nil and empty are kept apart there.)
func emptyLists(st State) *State {
	orEmpty := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	st.Skills, st.Open, st.Finished = orEmpty(st.Skills), orEmpty(st.Open), orEmpty(st.Finished)
	if st.Stores == nil {
		st.Stores = []SavedStore{}
	}
	if st.Orders == nil {
		st.Orders = []SavedOrder{}
	}
	st.Couriers = append([]SavedCourier{}, st.Couriers...)
	for i := range st.Couriers {
		if st.Couriers[i].Stops == nil {
			st.Couriers[i].Stops = []SavedStop{}
		}
	}
	return &st
}

// firstDiffJSON shows where two JSON texts first differ.
func firstDiffJSON(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-200, 0)
	return "was …" + string(a[lo:min(i+100, len(a))]) + "…\nnow …" + string(b[lo:min(i+100, len(b))]) + "…"
}

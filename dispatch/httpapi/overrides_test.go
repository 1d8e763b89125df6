package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

type apiErr struct {
	Error struct {
		Code    string   `json:"code"`
		Field   string   `json:"field"`
		Reasons []string `json:"reasons"`
	} `json:"error"`
}

func (f *fixture) expectError(want int, method, path, token, body, code, field, rule string) {
	f.t.Helper()
	var e apiErr
	if err := json.Unmarshal(f.expect(want, method, path, token, body), &e); err != nil {
		f.t.Fatal(err)
	}
	if e.Error.Code != code || e.Error.Field != field || (rule != "" && (len(e.Error.Reasons) != 1 || e.Error.Reasons[0] != rule)) {
		f.t.Fatalf("%s %s: error %+v, want %s on %q (%s)", method, path, e.Error, code, field, rule)
	}
}

type orderOut struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	CourierID     string `json:"courier_id"`
	Locked        bool   `json:"locked"`
	WaitingReason string `json:"waiting_reason"`
	Timeline      []struct {
		Status, Reason, By string
		CourierID          string `json:"courier_id"`
	} `json:"timeline"`
}

// Each override over HTTP as an operator: its answer, who in the timeline and the event, its refusals, its bad
// bodies.
func TestOverrideEndpoints(t *testing.T) {
	f := newFixture(t)
	var op struct{ ID, Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"desk","role":"operator"}`), &op)
	f.expect(200, "POST", "/v1/courier/shift", f.riders["b"], `{"status":"online","location":{"lat":31.232,"lon":121.475}}`)
	place := func() string {
		var o struct{ ID string }
		json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`), &o)
		return o.ID
	}
	read := func(id string) orderOut {
		var o orderOut
		json.Unmarshal(f.expect(200, "GET", "/v1/orders/"+id, adminToken, ""), &o)
		return o
	}

	// The fixture's order is on a: move it to b, locked.
	var o orderOut
	json.Unmarshal(f.expect(200, "POST", "/v1/orders/"+f.order+"/assign", op.Key, `{"courier_id":"b","lock":true}`), &o)
	if o.Status != "assigned" || o.CourierID != "b" || !o.Locked {
		t.Fatalf("assigned: %+v", o)
	}
	if e := o.Timeline[len(o.Timeline)-1]; e.Status != "assigned" || e.By != op.ID || e.CourierID != "b" {
		t.Fatalf("timeline entry %+v, want assigned to b by %s", e, op.ID)
	}
	// The event (webhooks carry the same): read from the log once it is there.
	found := false
	for deadline := time.Now().Add(5 * time.Second); !found && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		page, _, err := f.d.Events(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			found = found || ev.Type == "order.assigned" && ev.Order.ID == f.order && ev.By == op.ID
		}
	}
	if !found {
		t.Fatalf("no order.assigned event by %s", op.ID)
	}
	if !read(f.order).Locked {
		t.Fatal("the lock is not in the order's view")
	}
	o = orderOut{}
	json.Unmarshal(f.expect(200, "POST", "/v1/orders/"+f.order+"/unlock", op.Key, ""), &o)
	if o.Locked {
		t.Fatalf("unlocked: %+v", o)
	}
	o = orderOut{}
	json.Unmarshal(f.expect(200, "POST", "/v1/orders/"+f.order+"/unassign", op.Key, ""), &o)
	if o.Status != "pending" || o.CourierID != "" {
		t.Fatalf("unassigned: %+v", o)
	}
	// Bulk: two orders to a.
	second := place()
	var moved struct{ Orders []orderOut }
	json.Unmarshal(f.expect(200, "POST", "/v1/dispatch/moves", op.Key, fmt.Sprintf(`{"courier_id":"a","order_ids":[%q,%q]}`, f.order, second)), &moved)
	if len(moved.Orders) != 2 || moved.Orders[0].CourierID != "a" || moved.Orders[1].CourierID != "a" {
		t.Fatalf("moved: %+v", moved)
	}
	// Pause and resume.
	var st struct{ Paused bool }
	json.Unmarshal(f.expect(200, "POST", "/v1/stores/s1/pause", op.Key, ""), &st)
	if !st.Paused {
		t.Fatal("pause answered a store not paused")
	}
	third := place()
	if o := read(third); o.WaitingReason != "store_paused" {
		t.Fatalf("an order of a paused store: %+v", o)
	}
	st = struct{ Paused bool }{}
	json.Unmarshal(f.expect(200, "POST", "/v1/stores/s1/resume", op.Key, ""), &st)
	if st.Paused {
		t.Fatal("resume answered a store still paused")
	}
	// Refusals: an order picked up cannot move or be unassigned; a courier off shift takes nothing.
	f.expect(200, "POST", "/v1/courier/orders/"+f.order+"/picked_up", f.riders["a"], "")
	f.expectError(409, "POST", "/v1/orders/"+f.order+"/assign", op.Key, `{"courier_id":"b"}`, "conflict", "order_id", "already_picked_up")
	f.expectError(409, "POST", "/v1/orders/"+f.order+"/unassign", op.Key, "", "conflict", "order_id", "already_picked_up")
	f.expectError(409, "POST", "/v1/dispatch/moves", op.Key, fmt.Sprintf(`{"courier_id":"b","order_ids":[%q,%q]}`, second, f.order), "conflict", "order_ids[1]", "already_picked_up")
	if o := read(second); o.CourierID != "a" {
		t.Fatalf("a refused move moved %s: %+v", second, o)
	}
	var off struct {
		R []string `json:"returned"`
		B []string `json:"on_board"`
	}
	json.Unmarshal(f.expect(200, "POST", "/v1/couriers/a/off-shift", op.Key, ""), &off)
	if fmt.Sprint(off.B) != fmt.Sprint([]string{f.order}) || fmt.Sprint(off.R) != fmt.Sprint([]string{second}) {
		t.Fatalf("off shift: returned %v, on board %v", off.R, off.B)
	}
	f.expectError(409, "POST", "/v1/orders/"+third+"/assign", op.Key, `{"courier_id":"a"}`, "conflict", "courier_id", "courier_offline")
	// Not found, bad bodies.
	f.expectError(404, "POST", "/v1/orders/ord_NOSUCH/assign", op.Key, `{"courier_id":"b"}`, "not_found", "", "")
	f.expectError(404, "POST", "/v1/orders/"+third+"/assign", op.Key, `{"courier_id":"ghost"}`, "not_found", "courier_id", "")
	f.expectError(404, "POST", "/v1/stores/nope/pause", op.Key, "", "not_found", "", "")
	f.expectError(404, "POST", "/v1/couriers/nope/off-shift", op.Key, "", "not_found", "", "")
	f.expectError(400, "POST", "/v1/orders/"+third+"/assign", op.Key, `{}`, "invalid_argument", "courier_id", "")
	f.expectError(400, "POST", "/v1/orders/"+third+"/assign", op.Key, `{"courier_id":"b","lock":"yes"}`, "invalid_argument", "lock", "")
	f.expectError(400, "POST", "/v1/dispatch/moves", op.Key, `{"courier_id":"b"}`, "invalid_argument", "order_ids", "")
	f.expectError(400, "POST", "/v1/dispatch/moves", op.Key, `{"courier_id":"b","order_ids":["x"],"extra":1}`, "invalid_argument", "extra", "")
	// An operator may cancel, and is named.
	json.Unmarshal(f.expect(200, "POST", "/v1/orders/"+third+"/cancel", op.Key, `{"reason":"store closed"}`), &o)
	if e := o.Timeline[len(o.Timeline)-1]; e.Status != "cancelled" || e.By != op.ID {
		t.Fatalf("cancel entry %+v", e)
	}
}

package httpapi

import (
	"encoding/json"
	"testing"
	"time"
)

// TestScheduledOrderOverHTTP: deliver_after is read as RFC 3339 and refused by field; an order hours ahead is
// placed scheduled, listed by that status and cancelled.
func TestScheduledOrderOverHTTP(t *testing.T) {
	f := newFulfilFixture(t)
	at := func(d time.Duration) string { return `"` + fulfilNow.Add(d).Format(time.RFC3339) + `"` }
	for _, c := range []struct{ name, body, field string }{
		{"NotATime", `"deliver_after":"tomorrow"`, "deliver_after"},
		{"NotAString", `"deliver_after":12`, "deliver_after"},
		{"InThePast", `"deliver_after":` + at(-time.Minute), "deliver_after"},
		{"AfterDeliverBy", `"deliver_after":` + at(3*time.Hour) + `,"deliver_by":` + at(2*time.Hour), "deliver_after"},
		{"DeliverByBeyondAWeek", `"deliver_by":` + at(8*24*time.Hour), "deliver_by"},
	} {
		var e errorReply
		json.Unmarshal(f.expect(400, "POST", "/v1/orders", f.key, `{"store_id":"corner","dropoff":{"lat":31.2400,"lon":121.4830},`+c.body+`}`), &e)
		if e.Error.Field != c.field {
			t.Errorf("%s: field %q, want %q", c.name, e.Error.Field, c.field)
		}
	}
	var o struct {
		ID           string
		Status       string
		DeliverAfter *time.Time `json:"deliver_after"`
		Schedule     *struct {
			ReleaseAt time.Time `json:"release_at"`
		}
	}
	json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"corner","dropoff":{"lat":31.2400,"lon":121.4830},`+
		`"deliver_after":`+at(26*time.Hour)+`,"deliver_by":`+at(27*time.Hour)+`}`), &o)
	if o.Status != "scheduled" || o.DeliverAfter == nil || !o.DeliverAfter.Equal(fulfilNow.Add(26*time.Hour)) || o.Schedule == nil {
		t.Fatalf("placed %+v, want scheduled with its window", o)
	}
	var list struct {
		Orders []struct{ ID string }
	}
	json.Unmarshal(f.expect(200, "GET", "/v1/orders?status=scheduled", f.key, ""), &list)
	if len(list.Orders) != 1 || list.Orders[0].ID != o.ID {
		t.Fatalf("scheduled orders listed: %+v", list.Orders)
	}
	json.Unmarshal(f.expect(200, "POST", "/v1/orders/"+o.ID+"/cancel", f.key, `{"reason":"moved out"}`), &o)
	if o.Status != "cancelled" {
		t.Fatalf("after the cancel: %s", o.Status)
	}
}

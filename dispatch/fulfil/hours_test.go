package fulfil

import (
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return z
}

func TestParseHoursRejectsBadSpansNamingTheField(t *testing.T) {
	cases := []struct {
		days  map[string][]string
		field string
	}{
		{map[string][]string{"monday": {"08:00-22:00"}}, "hours.monday"},
		{map[string][]string{"mon": {"8:00-22:00"}}, "hours.mon[0]"},
		{map[string][]string{"mon": {"08:00"}}, "hours.mon[0]"},
		{map[string][]string{"mon": {"08:00-22:60"}}, "hours.mon[0]"},
		{map[string][]string{"mon": {"24:00-02:00"}}, "hours.mon[0]"},
		{map[string][]string{"tue": {"08:00-12:00", "11:00-14:00"}}, "hours.tue"},
	}
	for _, c := range cases {
		_, err := ParseHours(c.days, time.UTC)
		de, ok := err.(*dispatch.Error)
		if !ok || de.Code != dispatch.EInvalid || de.Field != c.field {
			t.Errorf("%v: got %v, want invalid_argument on %s", c.days, err, c.field)
		}
	}
	if _, err := ParseHours(map[string][]string{"mon": {"08:00-22:00"}}, nil); err == nil {
		t.Error("hours without a zone accepted")
	}
}

func TestFormatIsTheInverseOfParse(t *testing.T) {
	in := map[string][]string{"mon": {"08:00-12:00", "13:00-22:00"}, "sat": {"22:00-02:00"}, "sun": {"00:00-24:00"}}
	h, err := ParseHours(in, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	out := h.Format()
	for day, spans := range in {
		if len(out[day]) != len(spans) {
			t.Fatalf("%s: %v, want %v", day, out[day], spans)
		}
		for i := range spans {
			if out[day][i] != spans[i] {
				t.Errorf("%s[%d] = %s, want %s", day, i, out[day][i], spans[i])
			}
		}
	}
}

func TestWindow(t *testing.T) {
	sh := mustZone(t, "Asia/Shanghai") // UTC+8, no daylight saving
	h, err := ParseHours(map[string][]string{
		"mon": {"08:00-12:00", "13:00-23:00"}, "tue": {"08:00-23:00"}, "fri": {"20:00-24:00"}, "sat": {"00:00-02:00"},
	}, sh)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-11-23 is a Monday.
	cases := []struct {
		t           string
		open, close string
	}{
		{"2026-11-23 07:00", "2026-11-23 08:00", "2026-11-23 12:00"}, // before opening: the next window
		{"2026-11-23 09:30", "2026-11-23 08:00", "2026-11-23 12:00"}, // open: the window in progress
		{"2026-11-23 12:30", "2026-11-23 13:00", "2026-11-23 23:00"}, // lunch break
		{"2026-11-23 23:00", "2026-11-24 08:00", "2026-11-24 23:00"}, // closing instant: closed
		{"2026-11-25 10:00", "2026-11-27 20:00", "2026-11-28 02:00"}, // Wednesday: Friday night, joined with Saturday
		{"2026-11-28 01:00", "2026-11-28 00:00", "2026-11-28 02:00"}, // inside Saturday's span
	}
	for _, c := range cases {
		open, close, ok := h.Window(at(c.t))
		if !ok || !open.Equal(at(c.open)) || !close.Equal(at(c.close)) {
			t.Errorf("Window(%s) = %s, %s, %v; want %s, %s", c.t, open.In(sh), close.In(sh), ok, c.open, c.close)
		}
	}
	closed, _ := ParseHours(map[string][]string{}, sh)
	if _, _, ok := closed.Window(at("2026-11-23 09:00")); ok {
		t.Error("a store with no spans has a window")
	}
	always, _ := ParseHours(map[string][]string{"sun": {"00:00-24:00"}, "mon": {"00:00-24:00"}, "tue": {"00:00-24:00"},
		"wed": {"00:00-24:00"}, "thu": {"00:00-24:00"}, "fri": {"00:00-24:00"}, "sat": {"00:00-24:00"}}, sh)
	if open, close, ok := always.Window(at("2026-11-23 09:00")); !ok || !close.IsZero() || open.After(at("2026-11-23 09:00")) {
		t.Errorf("open around the clock: %s, %s, %v; want open now with no closing", open, close, ok)
	}
	var none *Hours
	if open, close, ok := none.Window(at("2026-11-23 09:00")); !ok || !close.IsZero() || !open.Equal(at("2026-11-23 09:00")) {
		t.Error("nil hours are not always open")
	}
}

func TestWindowFollowsDaylightSaving(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	h, _ := ParseHours(map[string][]string{"sun": {"08:00-22:00"}}, ny)
	// 2026-03-08: clocks go from 02:00 to 03:00; the store still opens at 08:00 local (12:00 UTC, not 13:00).
	open, _, ok := h.Window(time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC); !ok || !open.Equal(want) {
		t.Errorf("opening on the spring-forward day = %s, want %s", open.UTC(), want)
	}
	open, _, _ = h.Window(time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC); !open.Equal(want) {
		t.Errorf("opening a week before = %s, want %s", open.UTC(), want)
	}
}

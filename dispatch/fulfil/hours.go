package fulfil

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Span is one opening of a day: from Open to Close after local midnight. Close is after Open and may pass
// midnight (up to 48 hours), so a shop open "18:00-02:00" is the span 18h to 26h of the day it opens.
type Span struct {
	Open, Close time.Duration
}

// Hours is a store's weekly opening schedule in its own time zone. A nil *Hours means always open.
type Hours struct {
	// Zone is the store's time zone; opening times are wall-clock times there, so they follow daylight saving.
	Zone *time.Location
	// Week holds each day's spans by time.Weekday, sorted by opening and not overlapping.
	Week [7][]Span
}

// dayNames are the keys of the hours object, by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseHours reads the API's hours object: a day name ("mon" … "sun") to a list of "HH:MM-HH:MM" spans in the
// store's time zone. A day left out is closed all day; "00:00-24:00" is open all day; a span whose closing time is
// not after its opening runs past midnight ("22:00-02:00"). zone must not be nil (the caller resolves the IANA
// name: loading a zone reads the system's database, which the engine's packages never do).
//
// Errors are *dispatch.Error with code EInvalid and the field in the API's form ("hours.mon[1]").
func ParseHours(days map[string][]string, zone *time.Location) (*Hours, error) {
	if zone == nil {
		return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "timezone", Message: "a time zone is required with hours"}
	}
	h := &Hours{Zone: zone}
	for name, spans := range days {
		day := slices.Index(dayNames[:], name)
		if day < 0 {
			return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "hours." + name, Message: fmt.Sprintf("%q is not a day: use sun, mon, tue, wed, thu, fri, sat", name)}
		}
		if len(spans) > 8 {
			return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "hours." + name, Message: "at most 8 spans a day"}
		}
		for i, text := range spans {
			field := fmt.Sprintf("hours.%s[%d]", name, i)
			sp, err := parseSpan(text)
			if err != nil {
				return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: field, Message: err.Error()}
			}
			h.Week[day] = append(h.Week[day], sp)
		}
		slices.SortFunc(h.Week[day], func(a, b Span) int { return int(a.Open - b.Open) })
		for i := 1; i < len(h.Week[day]); i++ {
			if h.Week[day][i].Open < h.Week[day][i-1].Close {
				return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "hours." + name, Message: "spans of a day overlap"}
			}
		}
	}
	return h, nil
}

func parseSpan(text string) (Span, error) {
	open, close, ok := strings.Cut(text, "-")
	if !ok {
		return Span{}, fmt.Errorf("%q is not a span: want HH:MM-HH:MM", text)
	}
	o, err := parseClock(open, false)
	if err != nil {
		return Span{}, err
	}
	c, err := parseClock(close, true)
	if err != nil {
		return Span{}, err
	}
	if c <= o {
		c += 24 * time.Hour // past midnight
	}
	return Span{Open: o, Close: c}, nil
}

// parseClock reads "HH:MM"; "24:00" is allowed as a closing time only.
func parseClock(s string, closing bool) (time.Duration, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not a time: want HH:MM", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	switch {
	case err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59:
		return 0, fmt.Errorf("%q is not a time: want HH:MM", s)
	case h == 24 && m == 0 && closing:
	case h > 23:
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Format writes the schedule back in the API's form (the inverse of ParseHours).
func (h *Hours) Format() map[string][]string {
	out := map[string][]string{}
	for day, spans := range h.Week {
		for _, sp := range spans {
			c := sp.Close
			if c > 24*time.Hour {
				c -= 24 * time.Hour
			}
			out[dayNames[day]] = append(out[dayNames[day]], clock(sp.Open)+"-"+clock(c))
		}
	}
	return out
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// horizonDays is how far ahead Window looks: a store with no opening in the next eight days is treated as closed.
const horizonDays = 8

// Window returns the opening that is in progress at t or, when the store is closed at t, the next one: its
// start (not after t when open at t) and its end. ok is false when the store does not open within eight days.
// Spans that touch or overlap (a day closing at 24:00 and the next opening at 00:00, a late span running into the
// next day's first) are one window. A nil *Hours is always open: the window starts at t and never ends (zero close).
func (h *Hours) Window(t time.Time) (open, close time.Time, ok bool) {
	if h == nil {
		return t, time.Time{}, true
	}
	local := t.In(h.Zone)
	y, m, d := local.Date()
	// Spans come out in order of opening: a day's spans open before the next day's midnight, so walking the days
	// in turn and each day's spans in turn is chronological.
	for off := -1; off <= horizonDays+1; off++ {
		day := time.Date(y, m, d+off, 0, 0, 0, 0, h.Zone)
		for _, sp := range h.Week[day.Weekday()] {
			o, c := at(day, sp.Open), at(day, sp.Close)
			switch {
			case ok && o.After(close):
				return open, close, true // the window found has ended
			case ok:
				close = later(close, c) // touches the window found: one window
			case c.After(t):
				open, close, ok = o, c, true
			}
		}
	}
	if ok {
		// Open without a break to the end of what was looked at (a store open around the clock): no closing.
		return open, time.Time{}, true
	}
	return time.Time{}, time.Time{}, false
}

// at is the instant of a wall-clock offset from a local midnight. Building it from the date's fields (not by adding
// a duration to midnight) keeps opening times right on the days daylight saving starts or ends.
func at(midnight time.Time, d time.Duration) time.Time {
	y, m, day := midnight.Date()
	mins := int(d / time.Minute)
	return time.Date(y, m, day, mins/60, mins%60, 0, 0, midnight.Location())
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

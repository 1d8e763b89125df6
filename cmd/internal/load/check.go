package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// violations collects what a check found wrong, by kind, with the first few messages in full.
type violations struct {
	mu      sync.Mutex
	counts  map[string]int
	kinds   []string
	samples []string
}

// maxViolationSamples bounds the messages kept; the counts cover everything.
const maxViolationSamples = 50

func (v *violations) add(kind, format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.counts == nil {
		v.counts = map[string]int{}
	}
	if v.counts[kind] == 0 {
		v.kinds = append(v.kinds, kind)
	}
	v.counts[kind]++
	if len(v.samples) < maxViolationSamples {
		v.samples = append(v.samples, kind+": "+fmt.Sprintf(format, a...))
	}
}

// total is the number of violations of every kind.
func (v *violations) total() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.counts {
		n += c
	}
	return n
}

// violationReport is the violations in the JSON report.
type violationReport struct {
	Counts  []errorCount `json:"counts"`
	Samples []string     `json:"samples,omitempty"`
}

// total is the number of violations of every kind.
func (r violationReport) total() int {
	n := 0
	for _, c := range r.Counts {
		n += c.Count
	}
	return n
}

func (v *violations) report() violationReport {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := violationReport{Samples: append([]string(nil), v.samples...)}
	for _, k := range v.kinds {
		r.Counts = append(r.Counts, errorCount{k, v.counts[k]})
	}
	return r
}

// timelineEntry and listedOrder are an order as GET /v1/orders lists it (the fields the checks use).
type timelineEntry struct {
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	CourierID string    `json:"courier_id,omitempty"`
}

type listedOrder struct {
	ID          string          `json:"id"`
	ExternalID  string          `json:"external_id"`
	Status      string          `json:"status"`
	CourierID   string          `json:"courier_id"`
	CreatedAt   time.Time       `json:"created_at"`
	DeliverBy   time.Time       `json:"deliver_by"`
	DeliveredAt *time.Time      `json:"delivered_at"`
	Late        bool            `json:"late"`
	Timeline    []timelineEntry `json:"timeline"`
}

// checkInput is what the daemon was told and what it shows.
type checkInput struct {
	// Acked is every order answered 201, with the furthest status acknowledged since.
	Acked []ackedOrder
	// Listed is every order of the run that GET /v1/orders lists, read after Acked was taken.
	Listed []listedOrder
	// Requested is the external id of every order the order service asked for, answered or not; nil skips the
	// check that the daemon holds no order nobody asked for.
	Requested map[string]bool
	// Routes are couriers' routes, read after Listed (nil: not checked).
	Routes []routeView
	// Frozen says that nothing changed while Listed and Routes were read (no courier acting, no dispatch round),
	// so that every assigned or picked-up order must be on its courier's route exactly, and nothing else.
	Frozen bool
}

// checkResult counts what the check looked at and what it found wrong.
type checkResult struct {
	Acked  int `json:"acked"`
	Listed int `json:"listed"`
	// Lost: acknowledged, not listed. Duplicated: an id or external id listed more than once, or an
	// acknowledged external id listed under another id. Regressed: listed at a status behind the one
	// acknowledged. BadTimelines: a timeline that is not a legal, time-ordered sequence ending at the status.
	Lost         int `json:"lost"`
	Duplicated   int `json:"duplicated"`
	Regressed    int `json:"regressed"`
	BadTimelines int `json:"bad_timelines"`
	// Unknown: listed orders nobody asked for. Unanswered: listed orders whose placement was never answered 201,
	// which a crash allows (the order was journaled, the answer lost) and a retry would have found.
	Unknown    int `json:"unknown"`
	Unanswered int `json:"unanswered"`
	// RouteStops is the stops read; RouteViolations those (and the orders) that contradict the listed statuses.
	Routes          int `json:"routes"`
	RouteStops      int `json:"route_stops"`
	RouteViolations int `json:"route_violations"`
}

// legalNext says which status may follow which in a timeline: pending to assigned or cancelled; assigned to
// another courier (a re-plan), back to pending, picked up or cancelled; picked up to delivered or failed.
var legalNext = map[string][]string{
	"pending":   {"assigned", "cancelled"},
	"assigned":  {"assigned", "pending", "picked_up", "cancelled"},
	"picked_up": {"delivered", "failed"},
}

// timelineProblem says what is wrong with an order's timeline, or "".
func timelineProblem(o listedOrder) string {
	tl := o.Timeline
	if len(tl) == 0 {
		return "no timeline"
	}
	if tl[0].Status != "pending" {
		return fmt.Sprintf("starts with %q, not pending", tl[0].Status)
	}
	for i := 1; i < len(tl); i++ {
		prev, cur := tl[i-1], tl[i]
		if cur.At.Before(prev.At) {
			return fmt.Sprintf("entry %d (%s at %s) is before entry %d (%s at %s)", i, cur.Status,
				cur.At.Format(time.RFC3339Nano), i-1, prev.Status, prev.At.Format(time.RFC3339Nano))
		}
		ok := false
		for _, n := range legalNext[prev.Status] {
			ok = ok || n == cur.Status
		}
		if !ok {
			return fmt.Sprintf("%s follows %s (entry %d)", cur.Status, prev.Status, i)
		}
	}
	if last := tl[len(tl)-1].Status; last != o.Status {
		return fmt.Sprintf("ends with %s but the order is %s", last, o.Status)
	}
	return ""
}

// historyProblem says how a listed timeline fails to continue the one acknowledged before, or "": a timeline is
// history, to which a later answer may add entries but in which it may change none.
func historyProblem(acked, listed []timelineEntry) string {
	if len(listed) < len(acked) {
		return fmt.Sprintf("the timeline had %d entries (the last %s at %s) and now has %d", len(acked),
			acked[len(acked)-1].Status, acked[len(acked)-1].At.Format(time.RFC3339Nano), len(listed))
	}
	for i, e := range acked {
		if l := listed[i]; l.Status != e.Status || !l.At.Equal(e.At) || l.CourierID != e.CourierID {
			return fmt.Sprintf("timeline entry %d was %s at %s (courier %q) and is now %s at %s (courier %q)", i, e.Status,
				e.At.Format(time.RFC3339Nano), e.CourierID, l.Status, l.At.Format(time.RFC3339Nano), l.CourierID)
		}
	}
	return ""
}

// checkOrders compares what the daemon was told with what it shows, adds every contradiction to v and counts.
func checkOrders(in checkInput, v *violations) checkResult {
	res := checkResult{Acked: len(in.Acked), Listed: len(in.Listed), Routes: len(in.Routes)}
	byID := make(map[string]*listedOrder, len(in.Listed))
	byExt := make(map[string][]string, len(in.Listed))
	for i := range in.Listed {
		o := &in.Listed[i]
		if _, dup := byID[o.ID]; dup {
			res.Duplicated++
			v.add("duplicated", "order %s is listed twice", o.ID)
		}
		byID[o.ID] = o
		byExt[o.ExternalID] = append(byExt[o.ExternalID], o.ID)
		if p := timelineProblem(*o); p != "" {
			res.BadTimelines++
			v.add("timeline", "order %s (%s): %s", o.ID, o.Status, p)
		}
	}
	for ext, ids := range byExt {
		if len(ids) > 1 {
			res.Duplicated++
			v.add("duplicated", "external_id %s is held by %d orders: %s", ext, len(ids), strings.Join(ids, ", "))
		}
	}
	acked := make(map[string]bool, len(in.Acked))
	for _, a := range in.Acked {
		acked[a.ID] = true
		o := byID[a.ID]
		if o == nil {
			res.Lost++
			v.add("lost", "order %s (%s, key %s) was answered 201 and is not listed", a.ID, a.ExternalID, a.Key)
			continue
		}
		if ids := byExt[a.ExternalID]; len(ids) != 1 || ids[0] != a.ID {
			res.Duplicated++
			v.add("duplicated", "external_id %s was answered with order %s and is listed as %s", a.ExternalID, a.ID, strings.Join(ids, ", "))
		}
		if statusRank(o.Status) < statusRank(a.Status) || statusRank(a.Status) == 2 && o.Status != a.Status {
			res.Regressed++
			v.add("status", "order %s was acknowledged %s and is listed %s", a.ID, a.Status, o.Status)
		}
		if p := historyProblem(a.Timeline, o.Timeline); p != "" {
			res.BadTimelines++
			v.add("timeline", "order %s: %s", a.ID, p)
		}
	}
	if in.Requested != nil {
		for _, o := range in.Listed {
			switch {
			case acked[o.ID]:
			case in.Requested[o.ExternalID]:
				res.Unanswered++
			default:
				res.Unknown++
				v.add("unknown order", "order %s (%s) is listed and was never asked for", o.ID, o.ExternalID)
			}
		}
	}
	if in.Routes != nil {
		checkRoutes(in, byID, &res, v)
	}
	return res
}

// checkRoutes checks the routes against the listed orders. Read after the list, a route may never hold an order
// the list shows delivered, cancelled or failed, nor a pickup for one it shows picked up; with everything frozen,
// the routes and the statuses must match exactly.
func checkRoutes(in checkInput, byID map[string]*listedOrder, res *checkResult, v *violations) {
	type seen struct{ pickups, dropoffs int }
	onRoute := map[string]*seen{}
	bad := func(format string, a ...any) {
		res.RouteViolations++
		v.add("route", format, a...)
	}
	for _, r := range in.Routes {
		for _, s := range r.Stops {
			res.RouteStops++
			o := byID[s.OrderID]
			if o == nil {
				if in.Frozen {
					bad("courier %s: route version %d holds order %s, which is not listed", r.CourierID, r.Version, s.OrderID)
				}
				continue
			}
			k := onRoute[s.OrderID]
			if k == nil {
				k = &seen{}
				onRoute[s.OrderID] = k
			}
			if s.Kind == "pickup" {
				k.pickups++
			} else {
				k.dropoffs++
			}
			switch {
			case statusRank(o.Status) == 2:
				bad("courier %s: route version %d holds a %s stop for order %s, which is %s", r.CourierID, r.Version, s.Kind, o.ID, o.Status)
			case o.Status == "picked_up" && s.Kind == "pickup":
				bad("courier %s: route version %d holds a pickup stop for order %s, which is picked up", r.CourierID, r.Version, o.ID)
			case in.Frozen && o.Status == "pending":
				bad("courier %s: route version %d holds order %s, which is pending", r.CourierID, r.Version, o.ID)
			case in.Frozen && o.CourierID != r.CourierID:
				bad("courier %s: route version %d holds order %s, which is assigned to %q", r.CourierID, r.Version, o.ID, o.CourierID)
			}
		}
	}
	if !in.Frozen {
		return
	}
	for _, o := range in.Listed {
		k := onRoute[o.ID]
		if k == nil {
			k = &seen{}
		}
		switch {
		case o.Status == "assigned" && (k.pickups != 1 || k.dropoffs != 1):
			bad("order %s is assigned to %s and has %d pickup and %d dropoff stops on the routes", o.ID, o.CourierID, k.pickups, k.dropoffs)
		case o.Status == "picked_up" && (k.pickups != 0 || k.dropoffs != 1):
			bad("order %s is picked up by %s and has %d pickup and %d dropoff stops on the routes", o.ID, o.CourierID, k.pickups, k.dropoffs)
		}
	}
}

// listOrders reads every order created since since whose external id starts with prefix, page by page, with the
// admin token.
func listOrders(ctx context.Context, api *apiClient, token string, since time.Time, prefix string) ([]listedOrder, error) {
	return listOrdersIn(ctx, api, token, since, prefix, "")
}

// listOrdersIn is listOrders in one region of a cluster (region "": no ?region=, a single daemon).
func listOrdersIn(ctx context.Context, api *apiClient, token string, since time.Time, prefix, region string) ([]listedOrder, error) {
	var out []listedOrder
	q := url.Values{"limit": {"200"}, "created_since": {since.UTC().Format(time.RFC3339Nano)}}
	if region != "" {
		q.Set("region", region)
	}
	for {
		var page struct {
			Orders     []listedOrder `json:"orders"`
			NextCursor string        `json:"next_cursor"`
		}
		if err := api.call(ctx, http.MethodGet, "/v1/orders?"+q.Encode(), token, nil, &page, http.StatusOK); err != nil {
			return nil, err
		}
		for _, o := range page.Orders {
			if strings.HasPrefix(o.ExternalID, prefix) {
				out = append(out, o)
			}
		}
		if page.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// readRoutes reads every courier's route with its own token.
func readRoutes(ctx context.Context, api *apiClient, couriers []*simCourier) ([]routeView, error) {
	out := make([]routeView, len(couriers))
	err := parallel(ctx, len(couriers), func(ctx context.Context, i int) error {
		return api.call(ctx, http.MethodGet, "/v1/courier/route", couriers[i].token, nil, &out[i], http.StatusOK)
	})
	return out, err
}

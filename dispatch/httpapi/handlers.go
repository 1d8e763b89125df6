package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// locationBody is a location as sent: pointers, so that a missing coordinate is told apart from 0.
type locationBody struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

func (l *locationBody) location(field string) (service.Location, error) {
	if l == nil {
		return service.Location{}, apiError(dispatch.EInvalid, field, "%s is required", field)
	}
	if l.Lat == nil {
		return service.Location{}, apiError(dispatch.EInvalid, field+".lat", "%s.lat is required", field)
	}
	if l.Lon == nil {
		return service.Location{}, apiError(dispatch.EInvalid, field+".lon", "%s.lon is required", field)
	}
	return service.Location{Lat: *l.Lat, Lon: *l.Lon}, nil
}

// query parses the request's query string. One that is not well formed (a bad %-escape, a ';' separator) is a 400:
// reading around it would drop the parameter it spoils, and a filter the client asked for would silently not apply.
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apiError(dispatch.EInvalid, "", "the query string is not well formed: %v", err)
	}
	return q, nil
}

// parseTime reads an RFC 3339 time of a named field.
func parseTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, apiError(dispatch.EInvalid, field, "%s must be an RFC 3339 time such as 2026-11-22T11:30:00Z", field)
	}
	t = t.UTC()
	return &t, nil
}

// pingWindow is how far from now a position's time may lie. Devices that were offline send positions late and
// clocks drift, but a time a day off is a bug (a zero time, a wrong year), not a position worth keeping.
const pingWindow = 24 * time.Hour

// checkRecent refuses a position's time (when given) that is not within pingWindow of now.
func checkRecent(field string, at *time.Time, now time.Time) error {
	if at != nil && (at.Before(now.Add(-pingWindow)) || at.After(now.Add(pingWindow))) {
		return apiError(dispatch.EInvalid, field, "%s must be within a day of now", field)
	}
	return nil
}

type orderBody struct {
	ExternalID     string          `json:"external_id,omitempty"`
	StoreID        string          `json:"store_id,omitempty"`
	Region         string          `json:"region,omitempty"`
	Items          []fulfil.Item   `json:"items,omitempty"`
	Fulfilment     string          `json:"fulfilment,omitempty"`
	Dropoff        *locationBody   `json:"dropoff,omitempty"`
	PrepSeconds    *int            `json:"prep_seconds,omitempty"`
	ReadyAt        *string         `json:"ready_at,omitempty"`
	PromiseSeconds *int            `json:"promise_seconds,omitempty"`
	DeliverBy      *string         `json:"deliver_by,omitempty"`
	Size           *int            `json:"size,omitempty"`
	Skills         []string        `json:"skills,omitempty"`
	Customer       json.RawMessage `json:"customer,omitempty"`
	AcceptLate     bool            `json:"accept_late,omitempty"`
	DeliverAfter   *string         `json:"deliver_after,omitempty"`
}

func (b *orderBody) input() (service.OrderInput, error) {
	if b.Region != "" {
		if err := service.CheckRegion(b.Region); err != nil {
			return service.OrderInput{}, err
		}
	}
	in := service.OrderInput{ExternalID: b.ExternalID, StoreID: b.StoreID, Region: b.Region, PrepSeconds: b.PrepSeconds,
		PromiseSeconds: b.PromiseSeconds, Skills: b.Skills, Customer: b.Customer, Items: b.Items, Fulfilment: b.Fulfilment,
		AcceptLate: b.AcceptLate}
	if b.Dropoff == nil && b.Fulfilment == service.FulfilPickup {
		in.NoDropoff = true // an in-store pick-up needs no address (the daemon says so if it needs one to choose)
	} else {
		drop, err := b.Dropoff.location("dropoff")
		if err != nil {
			return in, err
		}
		in.Dropoff = drop
	}
	var err error
	if in.ReadyAt, err = parseTime("ready_at", b.ReadyAt); err != nil {
		return in, err
	}
	if in.DeliverBy, err = parseTime("deliver_by", b.DeliverBy); err != nil {
		return in, err
	}
	if in.DeliverAfter, err = parseTime("deliver_after", b.DeliverAfter); err != nil {
		return in, err
	}
	if b.Size != nil {
		if *b.Size < 1 {
			return in, apiError(dispatch.EInvalid, "size", "size must be within [1, 1000]")
		}
		in.Size = *b.Size
	}
	for i, sk := range b.Skills {
		if sk == "" || len(sk) > 64 {
			return in, apiError(dispatch.EInvalid, fmt.Sprintf("skills[%d]", i), "a skill is 1 to 64 bytes")
		}
	}
	return in, nil
}

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	key := r.Header.Get("Idempotency-Key")
	if utf8.RuneCountInString(key) > 255 {
		return apiError(dispatch.EInvalid, "Idempotency-Key", "Idempotency-Key is longer than 255 characters")
	}
	if !utf8.ValidString(key) {
		// Kept in the journal as JSON, which would replace the bad bytes: the key would change across a restart.
		return apiError(dispatch.EInvalid, "Idempotency-Key", "Idempotency-Key is not valid UTF-8")
	}
	var b orderBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	// The request's fingerprint for idempotency is its decoded content re-encoded, so that spacing and field order
	// (also inside customer, which is re-encoded with sorted keys) do not make "the same body" different.
	fp := b
	if len(b.Customer) > 0 {
		var c any
		if err := json.Unmarshal(b.Customer, &c); err == nil {
			fp.Customer, _ = json.Marshal(c)
		}
	}
	canon, _ := json.Marshal(fp)
	sum := sha256.Sum256(canon)
	if p.Role == admin {
		p.ID = "admin"
	}
	o, err := s.d.PlaceOrder(r.Context(), p, key, sum[:], in)
	if err != nil {
		return err
	}
	// A retry with the same key gets the same order, written the same way: the same bytes.
	writeJSON(w, http.StatusCreated, o)
	return nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	o, ok := s.d.View().Order(r.PathValue("id"))
	if !ok {
		return apiError(dispatch.ENotFound, "", "order %q not found", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, s.d.OrderWithLeg(o).LateAt(s.cfg.Now()))
	return nil
}

type orderList struct {
	Orders []service.Order `json:"orders"`
	// NextCursor, when set, fetches the next page (pass it as cursor=).
	NextCursor string `json:"next_cursor,omitempty"`
}

var orderStatuses = map[string]bool{"pending": true, "assigned": true, "picked_up": true, "delivered": true, "cancelled": true, "failed": true,
	service.StatusReadyForPickup: true, service.StatusCollected: true, service.StatusScheduled: true}

// listOrders is GET /v1/orders: filters on status, store_id, courier_id, region and the creation time, oldest
// first, in pages joined by an opaque cursor.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	for k := range q {
		switch k {
		case "status", "store_id", "courier_id", "region", "created_since", "created_until", "limit", "cursor":
		default:
			return apiError(dispatch.EInvalid, k, "unknown query parameter %q", k)
		}
	}
	f := service.OrderFilter{Status: q.Get("status"), StoreID: q.Get("store_id"), CourierID: q.Get("courier_id"), Limit: 100}
	if f.Region, err = regionParam(q); err != nil {
		return err
	}
	if f.Status != "" && !orderStatuses[f.Status] {
		return apiError(dispatch.EInvalid, "status", "status must be scheduled, pending, assigned, picked_up, delivered, cancelled, failed, ready_for_pickup or collected")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"created_since", &f.CreatedSince}, {"created_until", &f.CreatedUntil}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(p.name, &v)
			if err != nil {
				return err
			}
			*p.dst = *t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return apiError(dispatch.EInvalid, "limit", "limit must be an integer within [1, 500]")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return apiError(dispatch.EInvalid, "cursor", "cursor is not one this API gave")
		}
		f.After = c
	}
	page, more := s.d.View().ListOrders(f)
	now := s.cfg.Now()
	out := orderList{Orders: make([]service.Order, len(page))}
	for i, o := range page {
		out.Orders[i] = o.LateAt(now)
	}
	if more {
		last := page[len(page)-1]
		out.NextCursor = encodeCursor(service.OrderCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// A cursor is the creation time (Unix nanoseconds) and id of the last order of a page, base64url-encoded: opaque to
// clients, and stable across restarts since both are part of the order.
func encodeCursor(c service.OrderCursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s", c.CreatedAt.UnixNano(), c.ID))
}

func decodeCursor(s string) (service.OrderCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return service.OrderCursor{}, err
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return service.OrderCursor{}, fmt.Errorf("bad cursor")
	}
	return service.OrderCursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

type reasonBody struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var b reasonBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	o, err := s.d.CancelOrderAs(r.Context(), p.Who(), r.PathValue("id"), b.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}

func (s *Server) quote(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b orderBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	q, err := s.d.Quote(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

type storeBody struct {
	Name            string          `json:"name"`
	Region          string          `json:"region"`
	Location        *locationBody   `json:"location"`
	PrepSeconds     int             `json:"prep_seconds"`
	MaxActiveOrders int             `json:"max_active_orders"`
	Hours           json.RawMessage `json:"hours,omitempty"`
	Timezone        string          `json:"timezone"`
	Inventory       map[string]int  `json:"inventory"`
}

func (s *Server) putStore(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b storeBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	loc, err := b.Location.location("location")
	if err != nil {
		return err
	}
	if b.Region != "" {
		if err := service.CheckRegion(b.Region); err != nil {
			return err
		}
	}
	v, created, err := s.d.PutStore(r.Context(), service.StoreInput{ID: r.PathValue("store_id"), Name: b.Name, Region: b.Region, Location: loc,
		PrepSeconds: b.PrepSeconds, MaxActiveOrders: b.MaxActiveOrders, Hours: b.Hours, Timezone: b.Timezone, Inventory: b.Inventory})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) getStore(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	v, err := s.d.StoreDetail(r.Context(), r.PathValue("store_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteStore(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if err := s.d.DeleteStore(r.Context(), r.PathValue("store_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type storeList struct {
	Stores []*service.Store `json:"stores"`
}

// onlyParams refuses a query parameter that is not one of names: like an unknown body field, it is a client's
// mistake (a misspelt filter) that would otherwise pass silently.
func onlyParams(q url.Values, names ...string) error {
	for k := range q {
		if !slices.Contains(names, k) {
			return apiError(dispatch.EInvalid, k, "unknown query parameter %q", k)
		}
	}
	return nil
}

func (s *Server) listStores(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	if err := onlyParams(q, "near", "radius_m", "region"); err != nil {
		return err
	}
	region, err := regionParam(q)
	if err != nil {
		return err
	}
	near := q.Get("near")
	if near == "" {
		if q.Get("radius_m") != "" {
			return apiError(dispatch.EInvalid, "near", "radius_m needs near=lat,lon")
		}
		writeJSON(w, http.StatusOK, storeList{Stores: inRegion(s.d.View().Stores(), region, storeRegion)})
		return nil
	}
	lat, lon, ok := strings.Cut(near, ",")
	la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if !ok || err1 != nil || err2 != nil || math.IsNaN(la) || math.IsNaN(lo) || la < -90 || la > 90 || lo < -180 || lo > 180 {
		return apiError(dispatch.EInvalid, "near", "near must be lat,lon within range, such as near=31.23,121.47")
	}
	radius := 3000.0
	if v := q.Get("radius_m"); v != "" {
		rad, err := strconv.ParseFloat(v, 64)
		if err != nil || !(rad > 0) || rad > 100_000 {
			return apiError(dispatch.EInvalid, "radius_m", "radius_m must be a number of metres within (0, 100000]")
		}
		radius = rad
	}
	writeJSON(w, http.StatusOK, storeList{Stores: inRegion(s.d.View().StoresNear(service.Location{Lat: la, Lon: lo}, radius), region, storeRegion)})
	return nil
}

type courierBody struct {
	Name     string   `json:"name"`
	Region   string   `json:"region"`
	Vehicle  string   `json:"vehicle"`
	Capacity *int     `json:"capacity"`
	Skills   []string `json:"skills"`
}

type courierWithToken struct {
	*service.Courier
	Token string `json:"token,omitempty"`
}

func (s *Server) putCourier(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b courierBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	q, err := query(r)
	if err != nil {
		return err
	}
	if err := onlyParams(q, "rotate_token"); err != nil {
		return err
	}
	rotate := false
	if v := q.Get("rotate_token"); v != "" {
		if rotate, err = strconv.ParseBool(v); err != nil {
			return apiError(dispatch.EInvalid, "rotate_token", "rotate_token must be true or false")
		}
	}
	capacity := 1
	if b.Capacity != nil {
		capacity = *b.Capacity
	}
	for i, sk := range b.Skills {
		if sk == "" || len(sk) > 64 {
			return apiError(dispatch.EInvalid, fmt.Sprintf("skills[%d]", i), "a skill is 1 to 64 bytes")
		}
	}
	if b.Region != "" {
		if err := service.CheckRegion(b.Region); err != nil {
			return err
		}
	}
	v, token, created, err := s.d.PutCourier(r.Context(), service.CourierInput{ID: r.PathValue("courier_id"), Name: b.Name, Region: b.Region,
		Vehicle: b.Vehicle, Capacity: capacity, Skills: b.Skills}, rotate)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, courierWithToken{v, token})
	return nil
}

func (s *Server) getCourier(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	v, ok := s.d.View().Courier(r.PathValue("courier_id"))
	if !ok {
		return apiError(dispatch.ENotFound, "", "courier %q not found", r.PathValue("courier_id"))
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listCouriers(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	if err := onlyParams(q, "status", "region"); err != nil {
		return err
	}
	region, err := regionParam(q)
	if err != nil {
		return err
	}
	status := q.Get("status")
	switch status {
	case "", "online", service.CourierOffline, service.CourierAwaitingLocation, service.CourierIdle, service.CourierBusy:
	default:
		return apiError(dispatch.EInvalid, "status", "status must be online, offline, awaiting_location, idle or busy")
	}
	list := inRegion(s.d.View().Couriers(status), region, courierRegion)
	if list == nil {
		list = []*service.Courier{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"couriers": list})
	return nil
}

type keyBody struct {
	Name string `json:"name"`
	// Role is "orders" (the default) or "operator".
	Role string `json:"role,omitempty"`
}

type keyWithSecret struct {
	*service.APIKey
	Key string `json:"key"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b keyBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Role == "" {
		b.Role = service.RoleOrders
	}
	k, secret, err := s.d.CreateRoleKey(r.Context(), b.Name, b.Role)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, keyWithSecret{k, secret})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, _ *http.Request, _ service.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": s.d.View().APIKeys()})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if err := s.d.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type shiftBody struct {
	Status   string        `json:"status"`
	Location *locationBody `json:"location,omitempty"`
	ShiftEnd *string       `json:"shift_end,omitempty"`
}

func (s *Server) shift(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var b shiftBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	var online bool
	switch b.Status {
	case "online":
		online = true
	case "offline":
	default:
		return apiError(dispatch.EInvalid, "status", `status must be "online" or "offline"`)
	}
	var loc *service.Location
	if b.Location != nil {
		l, err := b.Location.location("location")
		if err != nil {
			return err
		}
		loc = &l
	}
	end, err := parseTime("shift_end", b.ShiftEnd)
	if err != nil {
		return err
	}
	v, err := s.d.SetShift(r.Context(), p.ID, online, loc, end)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

type locationReport struct {
	Location *locationBody `json:"location"`
	At       *string       `json:"at,omitempty"`
	SpeedMPS *float64      `json:"speed_mps,omitempty"`
	Heading  *float64      `json:"heading,omitempty"`
	Accuracy *float64      `json:"accuracy_m,omitempty"`
}

func (s *Server) location(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var b locationReport
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	loc, err := b.Location.location("location")
	if err != nil {
		return err
	}
	at, err := parseTime("at", b.At)
	if err != nil {
		return err
	}
	if b.SpeedMPS != nil && (*b.SpeedMPS < 0 || *b.SpeedMPS > 100) {
		return apiError(dispatch.EInvalid, "speed_mps", "speed_mps must be within [0, 100]")
	}
	if b.Heading != nil && (*b.Heading < 0 || *b.Heading >= 360) {
		return apiError(dispatch.EInvalid, "heading", "heading must be within [0, 360)")
	}
	if b.Accuracy != nil && *b.Accuracy < 0 {
		return apiError(dispatch.EInvalid, "accuracy_m", "accuracy_m must not be negative")
	}
	if err := checkRecent("at", at, s.cfg.Now()); err != nil {
		return err
	}
	var when time.Time
	if at != nil {
		when = *at
	}
	if err := s.d.QueueLocation(p.ID, loc, when); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type locationBatchEntry struct {
	CourierID string        `json:"courier_id"`
	Location  *locationBody `json:"location"`
	At        *string       `json:"at,omitempty"`
}

type locationBatch struct {
	Locations []locationBatchEntry `json:"locations"`
}

// locationBatch takes many couriers' positions from a trusted gateway in one request (admin role).
func (s *Server) locationBatch(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b locationBatch
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	batch := make([]service.LocationUpdate, len(b.Locations))
	for i, e := range b.Locations {
		field := fmt.Sprintf("locations[%d]", i)
		if e.CourierID == "" {
			return apiError(dispatch.EInvalid, field+".courier_id", "%s.courier_id is required", field)
		}
		loc, err := e.Location.location(field + ".location")
		if err != nil {
			return err
		}
		at, err := parseTime(field+".at", e.At)
		if err != nil {
			return err
		}
		if err := checkRecent(field+".at", at, s.cfg.Now()); err != nil {
			return err
		}
		batch[i] = service.LocationUpdate{CourierID: e.CourierID, Location: loc}
		if at != nil {
			batch[i].At = *at
		}
	}
	if err := s.d.QueueLocations(batch); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(batch)})
	return nil
}

func (s *Server) route(w http.ResponseWriter, _ *http.Request, p service.Principal) error {
	rt, ok := s.d.CourierRoute(p.ID)
	if !ok {
		return apiError(dispatch.ENotFound, "", "courier not found")
	}
	writeJSON(w, http.StatusOK, rt)
	return nil
}

var courierActions = map[string]bool{"accept": true, "decline": true, "arrived": true, "picked_up": true, "delivered": true, "failed": true}

func (s *Server) courierAction(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	action := r.PathValue("action")
	if !courierActions[action] {
		return apiError(dispatch.ENotFound, "", "no such action %q", action)
	}
	var b reasonBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	o, err := s.d.CourierAction(r.Context(), p.ID, r.PathValue("order_id"), action, b.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}

type webhookBody struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events,omitempty"`
}

func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b webhookBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	v, created, err := s.d.PutWebhook(r.Context(), service.WebhookInput{ID: r.PathValue("webhook_id"), URL: b.URL, Secret: b.Secret, Events: b.Events})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	v, ok := s.d.WebhookView(r.PathValue("webhook_id"))
	if !ok {
		return apiError(dispatch.ENotFound, "", "webhook %q not found", r.PathValue("webhook_id"))
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, _ *http.Request, _ service.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": s.d.WebhookViews()})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if err := s.d.DeleteWebhook(r.Context(), r.PathValue("webhook_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// HopHeader marks a request one node forwarded to another, naming the forwarding node. A request that carries it
// is never forwarded again: the node it reached answers 503 if it does not own the region (ownership moved while
// the request was on its way), and the client retries.
const HopHeader = "Dispatchd-Forwarded-By"

// Directory is what the router asks of the node (a *Node is one).
type Directory interface {
	// Regions are the cluster's regions, the control region first.
	Regions() []string
	// Local is region's replica on this node (nil before it opened) and whether this node serves it as owner.
	Local(region string) (Replica, bool)
	// Owner is the node serving region and the URL it answers at; ok false when nobody does right now.
	Owner(region string) (id, url string, ok bool)
}

// catchingUp is what a Directory may also say (a *Node does): whether its replica of a region has read the
// region's stream up to where it ended when the replica opened. One that has not must not answer for what it has
// not read: a lookup there that finds nothing answers 503, and so does a request served here while the control
// region's replica (API keys) lags. A Directory without it is always caught up.
type catchingUp interface {
	CaughtUp(region string) bool
}

// leveller is what a Directory may also say (a *Node does): whether its replica of a region has read every record
// its stream holds now (Node.Level). A request whose token is still unknown after Patience is 503, not 401, while
// the control region's replica is not level. A Directory without it is always level.
type leveller interface {
	Level(ctx context.Context, region string) (bool, error)
}

// RouterConfig sets a router up.
type RouterConfig struct {
	// Self is this node's id (the hop header's value).
	Self string
	// Transport carries forwarded requests (default http.DefaultTransport).
	Transport http.RoundTripper
	// RetryAfter is what a 503 during a failover tells the client to wait (default 1 s, rounded up to seconds).
	RetryAfter time.Duration
	// Patience is how long a lookup by id that finds nothing here looks again, how long a request waits for
	// this node's replica of the control region to catch up, and how long one whose token this node does not know
	// waits for it (a key made a moment ago through another node, not yet read here) (default 1 s).
	Patience time.Duration
	// AdminToken is the API's admin token, which no replica lists: a request with it does not wait (Patience).
	AdminToken string
	// DropoffRegion chooses the region of an order by items from its drop-off when the order names neither a
	// store nor a region (default: the region of the store nearest the drop-off, over every region's view).
	DropoffRegion func(d Directory, at service.Location) (string, bool)
	// Observer is told the outcome of every forwarded request (metrics).
	Observer Observer
	// Logger receives a line for each request that could not be forwarded.
	Logger zerolog.Logger
}

// Router is the http.Handler in front of a node's regions: any node answers for any region. It finds the
// region a request is about; a region this node owns is served by its replica's handler, a region owned
// elsewhere is forwarded to its owner (a reverse proxy, not a redirect: order services and courier apps need to
// reach only one address, whichever node it leads to), and a region without an owner (a failover under way)
// answers 503 with Retry-After, naming the region.
//
// How the region is found, by route:
//
//   - An order, store or courier named in the path: the region whose replica on this node (owner or standby:
//     every node holds every region) has it.
//   - POST /v1/orders and POST /v1/quotes: the body's store's region; else the body's region; else the region of
//     the drop-off (DropoffRegion).
//   - PUT /v1/stores/{id} and PUT /v1/couriers/{id}: the body's region; else the region that has the id; else
//     "default" when it is one of the cluster's.
//   - Listings, GET /v1/events and the console's snapshot and stream: the query's region (required when the
//     cluster has more than one: 400 naming region).
//   - The courier app's routes (/v1/courier/...): the region of the courier the bearer token belongs to.
//   - API keys and webhooks: the control region (the first of the cluster's).
//   - POST /v1/dispatch/moves: the region of the courier named.
//   - POST /v1/courier-locations: each position goes to its courier's region. A batch naming couriers of
//     several regions is split, each region's part sent to its owner in turn: 202 with the sum accepted once
//     every part was, else the first refusal as its region answered it.
//   - GET /readyz: 503 naming the region while a replica here is not open or has not caught up with its stream
//     (a Directory that says so: Node.CaughtUp), else the control region's replica answers.
//   - Everything else (health, metrics, travel times, plans, the console's files, GET /v1/cluster, an unknown
//     path): this node's replica of the control region, whatever its role.
//
// A request whose region cannot be told (an id no region has, a body that does not parse) is served by this
// node's replica of the control region, which answers it as the API does (authentication first, then 404 or 400).
type Router struct {
	dir   Directory
	cfg   RouterConfig
	mux   *http.ServeMux
	proxy *httputil.ReverseProxy

	adminHash []byte // the admin token's SHA-256 (nil: none configured)

	authMu      sync.Mutex
	authLast    map[string]time.Time // reason → when a refusal was last logged
	authSkipped map[string]int       // reason → refusals not logged since
}

type routeKind int

const (
	byAny routeKind = iota
	byOrder
	byStore
	byCourier
	byQuery
	byOrderBody
	byPutBody
	byToken
	byControl
	byMoveBody
	byLocationsBody
	byReady
)

type targetKey struct{}

type forward struct {
	region, owner string
	url           *url.URL
}

// NewRouter makes the router over dir.
func NewRouter(dir Directory, cfg RouterConfig) *Router {
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Patience <= 0 {
		cfg.Patience = findPatience
	}
	if cfg.DropoffRegion == nil {
		cfg.DropoffRegion = NearestStoreRegion
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	rt := &Router{dir: dir, cfg: cfg, mux: http.NewServeMux()}
	if cfg.AdminToken != "" {
		rt.adminHash = service.HashToken(cfg.AdminToken)
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			f := pr.In.Context().Value(targetKey{}).(forward)
			pr.SetURL(f.url)
			pr.SetXForwarded()
			pr.Out.Header.Set(HopHeader, cfg.Self)
		},
		// Streams (the courier's, /v1/events, the console's) pass through as they are written.
		FlushInterval: -1,
		Transport:     cfg.Transport,
		ModifyResponse: func(*http.Response) error {
			cfg.Observer.Forwarded("ok")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f := r.Context().Value(targetKey{}).(forward)
			cfg.Observer.Forwarded("error")
			if r.Context().Err() != nil {
				return // the client went away
			}
			cfg.Logger.Warn().Err(err).Str("region", f.region).Str("owner", f.owner).Msg("node: forwarding")
			rt.unavailable(w, f.region, fmt.Sprintf("region %s: its owner (node %s) could not be reached; retry", f.region, f.owner))
		},
	}
	for pattern, kind := range map[string]routeKind{
		"/v1/orders/{id}":                                  byOrder,
		"/v1/orders/{id}/{action}":                         byOrder,
		"GET /v1/orders":                                   byQuery,
		"POST /v1/orders":                                  byOrderBody,
		"POST /v1/quotes":                                  byOrderBody,
		"GET /v1/events":                                   byQuery,
		"PUT /v1/stores/{store_id}":                        byPutBody,
		"/v1/stores/{store_id}":                            byStore,
		"/v1/stores/{store_id}/{action}":                   byStore,
		"/v1/stores/{store_id}/orders/{order_id}/{action}": byStore,
		"GET /v1/stores":                                   byQuery,
		"PUT /v1/couriers/{courier_id}":                    byPutBody,
		"/v1/couriers/{courier_id}":                        byCourier,
		"/v1/couriers/{courier_id}/{action}":               byCourier,
		"GET /v1/couriers":                                 byQuery,
		"/v1/webhooks":                                     byControl,
		"/v1/webhooks/{id}":                                byControl,
		"/v1/api-keys":                                     byControl,
		"/v1/api-keys/{id}":                                byControl,
		"/v1/courier/":                                     byToken,
		"POST /v1/courier-locations":                       byLocationsBody,
		"POST /v1/dispatch/moves":                          byMoveBody,
		"GET /v1/console/snapshot":                         byQuery,
		"GET /v1/console/stream":                           byQuery,
		"GET /readyz":                                      byReady,
		"/":                                                byAny,
	} {
		rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { rt.serve(w, r, kind) })
	}
	return rt
}

// ServeHTTP routes r.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, kind routeKind) {
	regions := rt.dir.Regions()
	control := regions[0]
	region, errMsg := "", ""
	switch kind {
	case byReady:
		if lagging := rt.lagging(); lagging != "" {
			rt.unavailable(w, lagging, fmt.Sprintf("not ready: region %s is opening or catching up with its stream on this node", lagging))
			return
		}
	case byOrder:
		region = rt.find(r.Context(), func(v service.View) bool { _, ok := v.Order(r.PathValue("id")); return ok })
	case byStore:
		region = rt.find(r.Context(), func(v service.View) bool { _, ok := v.Store(r.PathValue("store_id")); return ok })
	case byCourier:
		region = rt.find(r.Context(), func(v service.View) bool { _, ok := v.Courier(r.PathValue("courier_id")); return ok })
	case byQuery:
		region, errMsg = rt.queryRegion(r, regions)
	case byOrderBody:
		region, errMsg = rt.orderRegion(r, regions)
	case byPutBody:
		region, errMsg = rt.putRegion(r, regions)
	case byToken:
		region = rt.tokenRegion(r)
	case byControl:
		region = control
	case byMoveBody:
		var b struct {
			CourierID string `json:"courier_id"`
		}
		if peekJSON(r, &b) {
			region = rt.courierRegion(r.Context(), b.CourierID)
		}
	case byLocationsBody:
		var b struct {
			Locations []json.RawMessage `json:"locations"`
		}
		if peekJSON(r, &b) && len(b.Locations) > 0 {
			parts := rt.locationParts(r.Context(), b.Locations)
			if len(parts) > 1 {
				rt.splitLocations(w, r, parts)
				return
			}
			if len(parts) == 1 {
				region = parts[0].region
			}
		}
	}
	if errMsg != "" {
		writeError(w, http.StatusBadRequest, dispatch.EInvalid, "region", errMsg)
		return
	}
	if region == "" && kind != byAny && kind != byControl && kind != byReady {
		// A lookup that found nothing here: on a replica that has not read its whole stream yet, "not found"
		// (or a courier's token refused) may be wrong.
		if opening := rt.lagging(); opening != "" {
			rt.unavailable(w, opening, fmt.Sprintf("region %s is opening or catching up on this node, which cannot say yet where this request belongs; retry", opening))
			return
		}
	}
	if region == "" && (kind == byOrder || kind == byStore || kind == byCourier || kind == byMoveBody ||
		(kind == byToken && courierToken(r))) {
		// An id (or a courier's token) the request says exists, found in no replica here after Patience: "not
		// found" only once every replica here has read its whole stream (it may be in what one has not read yet).
		if behind := rt.behind(r.Context()); behind != "" {
			rt.unavailable(w, behind, fmt.Sprintf("no region on this node has this id yet, and region %s has not read its stream to its end here; retry", behind))
			return
		}
	}
	if region == "" {
		// Not told: this node's replica of the control region answers (authentication, then 404 or 400).
		if rep, _ := rt.dir.Local(control); rep != nil && rep.Handler() != nil && r.Header.Get(HopHeader) == "" {
			rt.serveHere(w, r, rep)
			return
		}
		region = control
	}
	rt.toRegion(w, r, region)
}

// locationPart is the positions of one region's couriers in a batch (POST /v1/courier-locations).
type locationPart struct {
	region    string
	locations []json.RawMessage
}

// locationParts splits a batch of positions by their couriers' regions, in the order the regions first appear;
// positions of a courier no region here has go with the first part (its owner answers for them as the API does).
func (rt *Router) locationParts(ctx context.Context, locations []json.RawMessage) []locationPart {
	var parts []locationPart
	var unknown []json.RawMessage
	regionOf := map[string]string{}
	for _, raw := range locations {
		var e struct {
			CourierID string `json:"courier_id"`
		}
		_ = json.Unmarshal(raw, &e) // one that does not decode: the API says what is wrong with it
		region, seen := regionOf[e.CourierID]
		if !seen {
			region = rt.courierRegion(ctx, e.CourierID)
			regionOf[e.CourierID] = region
		}
		i := slices.IndexFunc(parts, func(p locationPart) bool { return p.region == region })
		switch {
		case region == "":
			unknown = append(unknown, raw)
		case i < 0:
			parts = append(parts, locationPart{region: region, locations: []json.RawMessage{raw}})
		default:
			parts[i].locations = append(parts[i].locations, raw)
		}
	}
	if len(parts) > 0 {
		parts[0].locations = append(parts[0].locations, unknown...)
	}
	return parts
}

// splitLocations sends each region's part of a batch of positions to the region (served here or forwarded to its
// owner), one after the other, and answers 202 with the positions accepted once every part was; else the first
// part's refusal as its region answered it (the parts before it stand: a position sent again is harmless).
func (rt *Router) splitLocations(w http.ResponseWriter, r *http.Request, parts []locationPart) {
	accepted := 0
	for _, p := range parts {
		body, err := json.Marshal(map[string][]json.RawMessage{"locations": p.locations})
		if err != nil {
			writeError(w, http.StatusInternalServerError, dispatch.EInternal, "", err.Error())
			return
		}
		sub := r.Clone(r.Context())
		sub.Body, sub.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rec := &recordedResponse{header: http.Header{}}
		rt.toRegion(rec, sub, p.region)
		var ans struct {
			Accepted int `json:"accepted"`
		}
		if rec.status/100 != 2 || json.Unmarshal(rec.body.Bytes(), &ans) != nil {
			maps.Copy(w.Header(), rec.header)
			w.WriteHeader(max(rec.status, http.StatusOK))
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		accepted += ans.Accepted
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]int{"accepted": accepted})
}

// recordedResponse keeps an answer in memory (one part of a split request).
type recordedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rr *recordedResponse) Header() http.Header { return rr.header }
func (rr *recordedResponse) WriteHeader(status int) {
	if rr.status == 0 {
		rr.status = status
	}
}
func (rr *recordedResponse) Write(b []byte) (int, error) {
	rr.WriteHeader(http.StatusOK)
	return rr.body.Write(b)
}

// serveHere serves r with a replica on this node, once the control region's replica here has caught up with its
// stream (it authenticates every region's API keys): a request with credentials waits for it as a lookup does
// (Patience), then answers 503 rather than 401 for a key this node has not read yet. A token neither rep nor the
// control replica here knows is waited for as long again: a standby follows its owner a little behind, and a key
// made a moment ago through another node (the control region's owner) is known here a moment later. A 401 is given only by a
// control replica that was caught up when the request came and still is, the same replica, when the API refuses
// the key: one that was replaced meanwhile (the node lost or gave up the control region's lease and reopened its
// replica from a checkpoint, which may predate the key) or fell behind answers 503 instead. Each refusal is logged
// (authFailure).
func (rt *Router) serveHere(w http.ResponseWriter, r *http.Request, rep Replica) {
	if r.Header.Get("Authorization") == "" {
		rep.Handler().ServeHTTP(w, r)
		return
	}
	control := rt.dir.Regions()[0]
	if !rt.caughtUp(r.Context(), control) {
		rt.authFailure(r, authNotCaughtUp, "")
		rt.unavailable(w, control, fmt.Sprintf("region %s (API keys) is catching up with its stream on this node; retry", control))
		return
	}
	if !rt.awaitToken(r, rep, control) && !rt.level(r.Context(), control) {
		rt.authFailure(r, authBehind, "")
		rt.unavailable(w, control, fmt.Sprintf("region %s (API keys) has not read its stream to its end on this node, and this key is not in what it read; retry", control))
		return
	}
	before, _ := rt.dir.Local(control)
	rep.Handler().ServeHTTP(&authGuard{ResponseWriter: w, rt: rt, r: r, control: control, before: before}, r)
}

// awaitToken waits up to Patience (or until r's context ends) for r's bearer token to be known here: a key in the
// control region's replica, a courier's token in rep's region, or the admin token. One still unknown after it is
// left to the API (401) unless the control region's replica here has not read its stream to its end (level).
// It says whether the token is known (or not one to look up).
func (rt *Router) awaitToken(r *http.Request, rep Replica, control string) bool {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return true // the API says what is wrong
	}
	h := service.HashToken(token)
	if rt.adminHash != nil && bytes.Equal(h, rt.adminHash) {
		return true
	}
	known := func() bool {
		if v := rep.View(); v != nil {
			if _, ok := v.Authenticate(h); ok {
				return true
			}
		}
		if c, _ := rt.dir.Local(control); c != nil && c.View() != nil {
			if p, ok := c.View().Authenticate(h); ok && p.Role != service.RoleCourier {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(rt.cfg.Patience)
	for !known() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-r.Context().Done():
			return true // the client went away: nothing to answer
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// level says whether this node's replica of region has read its whole stream (a Directory that cannot say: yes).
func (rt *Router) level(ctx context.Context, region string) bool {
	l, ok := rt.dir.(leveller)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, rt.cfg.Patience)
	defer cancel()
	lv, err := l.Level(ctx, region)
	return err == nil && lv
}

// behind is the first region (in the cluster's order) whose replica here has not read its whole stream, or "".
func (rt *Router) behind(ctx context.Context) string {
	for _, region := range rt.dir.Regions() {
		if !rt.level(ctx, region) {
			return region
		}
	}
	return ""
}

// Why a request's credentials were refused (or not judged) on this node: the reason in the log line.
const (
	authNotCaughtUp = "the control region's replica has not caught up with its stream"
	authReopened    = "the control region's replica was reopened while the request was served"
	authUnknown     = "unknown key"
	authRevoked     = "key revoked"
	authBehind      = "unknown key, and the control region's replica has not read its stream to its end"
	authLate        = "key read here only after the refusal (the control region's replica was behind)"
)

// authGuard passes a replica's answer through, except a 401 that this node cannot stand by: one given while its
// replica of the control region is not the replica that was caught up when the request came, or is not caught up
// now, becomes 503 with Retry-After (the client retries; a node that has read the key then serves it).
type authGuard struct {
	http.ResponseWriter
	rt          *Router
	r           *http.Request
	control     string
	before      Replica
	wrote, held bool
}

func (g *authGuard) WriteHeader(status int) {
	if g.wrote {
		return
	}
	g.wrote = true
	if status == http.StatusUnauthorized {
		if reason := g.rt.judgeRefusal(g.control, g.before); reason != "" {
			g.rt.authFailure(g.r, reason, "")
			// What the API set for its 401 (its Content-Type, its length) is not the 503's.
			for k := range g.ResponseWriter.Header() {
				g.ResponseWriter.Header().Del(k)
			}
			g.held = true
			g.rt.unavailable(g.ResponseWriter, g.control, fmt.Sprintf("region %s (API keys) changed on this node while the request was served; retry", g.control))
			return
		}
		reason, id := g.rt.refusalReason(g.r, g.control)
		g.rt.authFailure(g.r, reason, id)
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *authGuard) Write(b []byte) (int, error) {
	if !g.wrote {
		g.WriteHeader(http.StatusOK)
	}
	if g.held {
		return len(b), nil // the API's 401 body: the 503 was written instead
	}
	return g.ResponseWriter.Write(b)
}

// Flush passes on (streams served with credentials).
func (g *authGuard) Flush() {
	if g.held {
		return
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (g *authGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// judgeRefusal is why a 401 given now cannot stand ("" when it can): the control region's replica here is not
// before (it was reopened), or has not caught up.
func (rt *Router) judgeRefusal(control string, before Replica) string {
	now, _ := rt.dir.Local(control)
	if now == nil || now != before {
		return authReopened
	}
	if cu, ok := rt.dir.(catchingUp); ok && !cu.CaughtUp(control) {
		return authNotCaughtUp
	}
	return ""
}

// refusalReason tells an unknown key from a revoked one (and one the control region's replica here lists now,
// read after the API refused it), by the control region's keys here; with the key's id when it is listed.
func (rt *Router) refusalReason(r *http.Request, control string) (reason, keyID string) {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	h := service.HashToken(strings.TrimSpace(token))
	rep, _ := rt.dir.Local(control)
	if rep == nil || rep.View() == nil {
		return authUnknown, ""
	}
	for _, k := range rep.View().APIKeys() {
		if bytes.Equal(k.Hash, h) {
			if k.RevokedAt != nil {
				return authRevoked, k.ID
			}
			return authLate, k.ID
		}
	}
	return authUnknown, ""
}

// authLogEvery is the least time between two log lines for the same reason of refused credentials; the lines
// between are counted in the next one.
const authLogEvery = time.Second

// authFailure logs credentials this node refused (401) or could not judge (503), at warn, at most one line per
// reason per authLogEvery: the path, the key's id when it is listed (revoked), the token's kind (its prefix:
// "dk_" an API key, "dc_" a courier's token) and the first bytes of its SHA-256, never the token.
func (rt *Router) authFailure(r *http.Request, reason, keyID string) {
	now := time.Now()
	rt.authMu.Lock()
	if rt.authLast == nil {
		rt.authLast, rt.authSkipped = map[string]time.Time{}, map[string]int{}
	}
	if last, ok := rt.authLast[reason]; ok && now.Sub(last) < authLogEvery {
		rt.authSkipped[reason]++
		rt.authMu.Unlock()
		return
	}
	skipped := rt.authSkipped[reason]
	rt.authLast[reason], rt.authSkipped[reason] = now, 0
	rt.authMu.Unlock()
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	kind, _, _ := strings.Cut(token, "_")
	if len(kind) > 4 || kind == token {
		kind = "" // not a dispatchd token: nothing of it is logged
	}
	ev := rt.cfg.Logger.Warn().Str("reason", reason).Str("method", r.Method).Str("path", r.URL.Path).
		Str("token_kind", kind).Str("token_sha256", fmt.Sprintf("%x", service.HashToken(token)[:4])).Int("not_logged_since", skipped)
	if keyID != "" {
		ev = ev.Str("key_id", keyID)
	}
	if by := r.Header.Get(HopHeader); by != "" {
		ev = ev.Str("forwarded_by", by)
	}
	ev.Msg("node: credentials refused")
}

// caughtUp waits up to Patience (or until ctx ends) for this node's replica of region to have caught up.
func (rt *Router) caughtUp(ctx context.Context, region string) bool {
	cu, ok := rt.dir.(catchingUp)
	if !ok {
		return true
	}
	deadline := time.Now().Add(rt.cfg.Patience)
	for !cu.CaughtUp(region) {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// lagging is a region whose replica here is not open or has not caught up with its stream ("" when none is).
func (rt *Router) lagging() string {
	cu, _ := rt.dir.(catchingUp)
	for _, region := range rt.dir.Regions() {
		if rep, _ := rt.dir.Local(region); rep == nil || rep.View() == nil || (cu != nil && !cu.CaughtUp(region)) {
			return region
		}
	}
	return ""
}

// toRegion serves r here if this node owns region, else forwards it to the owner.
func (rt *Router) toRegion(w http.ResponseWriter, r *http.Request, region string) {
	if rep, owned := rt.dir.Local(region); owned && rep != nil && rep.Handler() != nil {
		rt.serveHere(w, r, rep)
		return
	}
	if by := r.Header.Get(HopHeader); by != "" {
		rt.cfg.Observer.Forwarded("hop_limit")
		rt.unavailable(w, region, fmt.Sprintf("region %s is not served by node %s, which node %s forwarded this request to (its owner changed meanwhile); retry", region, rt.cfg.Self, by))
		return
	}
	owner, addr, ok := rt.dir.Owner(region)
	if !ok || owner == rt.cfg.Self {
		rt.cfg.Observer.Forwarded("no_owner")
		msg := fmt.Sprintf("region %s has no owner right now (a failover is under way); retry", region)
		if owner != "" && owner != rt.cfg.Self {
			msg = fmt.Sprintf("region %s: its owner, node %s, is not in the node registry (it stopped: a failover is under way); retry", region, owner)
		}
		rt.unavailable(w, region, msg)
		return
	}
	u, err := url.Parse(addr)
	if err != nil {
		rt.cfg.Observer.Forwarded("error")
		rt.unavailable(w, region, fmt.Sprintf("region %s: its owner (node %s) has no usable address", region, owner))
		return
	}
	if isStream(r) {
		// A stream lasts: the server's write timeout, meant for one answer, must not cut it (the owner's server
		// renews its own deadline at each write).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, forward{region: region, owner: owner, url: u})))
}

func isStream(r *http.Request) bool {
	switch r.URL.Path {
	case "/v1/events", "/v1/courier/stream", "/v1/console/stream":
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

func (rt *Router) unavailable(w http.ResponseWriter, region, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rt.cfg.RetryAfter.Seconds()))))
	w.Header().Set("Dispatchd-Region", region)
	writeError(w, http.StatusServiceUnavailable, dispatch.EUnavailable, "", msg)
}

// findPatience is the default Patience: how long a lookup by id that finds nothing here looks again. A standby applies its owner's
// records a little behind (what was made a moment ago through another node may not be here yet); a genuinely
// unknown id is answered that much later.
const findPatience = time.Second

// find is the first region (in the cluster's order) whose replica here has what has says, looking again for up
// to Patience (or until ctx ends) while nothing has it: for an id the request says exists.
func (rt *Router) find(ctx context.Context, has func(service.View) bool) string {
	deadline := time.Now().Add(rt.cfg.Patience)
	for {
		if region := rt.findNow(has); region != "" {
			return region
		}
		if time.Now().After(deadline) {
			return ""
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// findNow is the first region whose replica here has what has says now: for an id that may be new (a store or
// courier being put) or a token that may not be a courier's.
func (rt *Router) findNow(has func(service.View) bool) string {
	for _, region := range rt.dir.Regions() {
		if rep, _ := rt.dir.Local(region); rep != nil {
			if v := rep.View(); v != nil && has(v) {
				return region
			}
		}
	}
	return ""
}

func (rt *Router) courierRegion(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	return rt.find(ctx, func(v service.View) bool { _, ok := v.Courier(id); return ok })
}

// queryRegion is the query's region: required when the cluster has more than one.
func (rt *Router) queryRegion(r *http.Request, regions []string) (string, string) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", "" // the API answers the malformed query
	}
	region := q.Get("region")
	if region == "" {
		if len(regions) == 1 {
			return regions[0], ""
		}
		return "", fmt.Sprintf("region is required (the cluster has regions %s)", strings.Join(regions, ", "))
	}
	if !slices.Contains(regions, region) {
		return "", fmt.Sprintf("region %q is not one of the cluster's (%s)", region, strings.Join(regions, ", "))
	}
	return region, ""
}

// knownRegion checks a region named in a body.
func knownRegion(region string, regions []string) (string, string) {
	if !slices.Contains(regions, region) {
		return "", fmt.Sprintf("region %q is not one of the cluster's (%s)", region, strings.Join(regions, ", "))
	}
	return region, ""
}

// orderRegion is an order's (or a quote's) region: its store's, else the one it names, else its drop-off's.
func (rt *Router) orderRegion(r *http.Request, regions []string) (string, string) {
	var b struct {
		StoreID string `json:"store_id"`
		Region  string `json:"region"`
		Dropoff *struct {
			Lat *float64 `json:"lat"`
			Lon *float64 `json:"lon"`
		} `json:"dropoff"`
	}
	if !peekJSON(r, &b) {
		return "", ""
	}
	if b.StoreID != "" {
		return rt.find(r.Context(), func(v service.View) bool { _, ok := v.Store(b.StoreID); return ok }), ""
	}
	if b.Region != "" {
		return knownRegion(b.Region, regions)
	}
	if len(regions) == 1 {
		return regions[0], ""
	}
	if b.Dropoff != nil && b.Dropoff.Lat != nil && b.Dropoff.Lon != nil {
		if region, ok := rt.cfg.DropoffRegion(rt.dir, service.Location{Lat: *b.Dropoff.Lat, Lon: *b.Dropoff.Lon}); ok {
			return region, ""
		}
		return "", "no region has a store near the drop-off: name the order's region"
	}
	return "", ""
}

// putRegion is the region of a store or courier being put: the body's, else the one that has it, else "default".
func (rt *Router) putRegion(r *http.Request, regions []string) (string, string) {
	var b struct {
		Region string `json:"region"`
	}
	if !peekJSON(r, &b) {
		return "", ""
	}
	if b.Region != "" {
		return knownRegion(b.Region, regions)
	}
	var region string
	if id := r.PathValue("store_id"); id != "" {
		region = rt.findNow(func(v service.View) bool { _, ok := v.Store(id); return ok })
	} else if id := r.PathValue("courier_id"); id != "" {
		region = rt.findNow(func(v service.View) bool { _, ok := v.Courier(id); return ok })
	}
	switch {
	case region != "":
		return region, ""
	case len(regions) == 1:
		return regions[0], ""
	case slices.Contains(regions, "default"):
		return "default", ""
	}
	return "", fmt.Sprintf("region is required (the cluster has regions %s)", strings.Join(regions, ", "))
}

// tokenRegion is the region of the courier whose bearer token r carries.
func (rt *Router) tokenRegion(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return ""
	}
	h := service.HashToken(token)
	isCourier := func(v service.View) bool {
		p, ok := v.Authenticate(h)
		return ok && p.Role == service.RoleCourier
	}
	if courierToken(r) {
		// A courier's token registered a moment ago through another node may not be read here yet: looked for
		// again, as an id is.
		return rt.find(r.Context(), isCourier)
	}
	return rt.findNow(isCourier)
}

// courierToken says whether r's bearer token has the form of a courier's token ("dc_…", as the daemon makes them).
func courierToken(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(strings.TrimSpace(token), "dc_")
}

// maxPeek is the most of a body the router reads to find its region (the API's own limit is lower: a body over
// it is passed on whole, and refused by the API).
const maxPeek = 1 << 20

// peekJSON decodes r's body into v without consuming it: the body is put back for whoever serves r. False when it
// is not JSON (the API will say so).
func peekJSON(r *http.Request, v any) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxPeek))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || len(b) == maxPeek {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// NearestStoreRegion is the default DropoffRegion: the region of the store nearest at, over every region's
// replica on this node, within 15 km (the rule of an order by items: docs/operations.md, "Regions").
func NearestStoreRegion(d Directory, at service.Location) (string, bool) {
	best, bestD := "", math.Inf(1)
	for _, region := range d.Regions() {
		rep, _ := d.Local(region)
		if rep == nil || rep.View() == nil {
			continue
		}
		near := rep.View().StoresNear(at, 15_000)
		if len(near) == 0 {
			continue
		}
		if dist := orbgeo.DistanceHaversine(orb.Point{at.Lon, at.Lat}, orb.Point{near[0].Location.Lon, near[0].Location.Lat}); dist < bestD {
			best, bestD = region, dist
		}
	}
	return best, best != ""
}

// writeError answers as the API does: {"error": {"code", "message", "field"}}.
func writeError(w http.ResponseWriter, status int, code dispatch.ErrorCode, field, msg string) {
	type detail struct {
		Code    dispatch.ErrorCode `json:"code"`
		Message string             `json:"message"`
		Field   string             `json:"field,omitempty"`
	}
	b, _ := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{code, msg, field}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WithControlKeys wraps a region's service so that its API also authenticates the API keys made in the control
// region (API keys live there: every node follows it) and lists them; control is this node's replica of the
// control region's view (nil while it opens). Couriers authenticate in their own region only.
func WithControlKeys(s service.Service, control func() service.View) service.Service {
	return keyedService{Service: s, control: control}
}

type keyedService struct {
	service.Service
	control func() service.View
}

func (k keyedService) View() service.View {
	v := k.Service.View()
	if v == nil {
		return nil
	}
	return keyedView{View: v, control: k.control}
}

type keyedView struct {
	service.View
	control func() service.View
}

func (k keyedView) Authenticate(tokenHash []byte) (service.Principal, bool) {
	if p, ok := k.View.Authenticate(tokenHash); ok {
		return p, true
	}
	if c := k.control(); c != nil {
		if p, ok := c.Authenticate(tokenHash); ok && p.Role != service.RoleCourier {
			return p, true
		}
	}
	return service.Principal{}, false
}

func (k keyedView) APIKeys() []*service.APIKey {
	if c := k.control(); c != nil {
		return c.APIKeys()
	}
	return k.View.APIKeys()
}

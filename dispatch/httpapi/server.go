package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Instrumenter wraps a route's handler for metrics (metrics.Metrics.InstrumentHTTP).
type Instrumenter func(route string, h http.Handler) http.Handler

// Config configures the API.
type Config struct {
	// AdminToken is the admin's bearer token (required).
	AdminToken string
	// Logger receives one line per request (never a body, a token or customer data).
	Logger zerolog.Logger
	// Instrument, when set, wraps every route for metrics.
	Instrument Instrumenter
	// Metrics, when set, is served at GET /metrics (readable without a token unless MetricsNeedAdmin).
	Metrics          http.Handler
	MetricsNeedAdmin bool
	// Heartbeat is the interval of the courier stream's keep-alive comments. Default 15 s.
	Heartbeat time.Duration
	// Now is the clock for "late" on reads (default time.Now).
	Now func() time.Time
	// Limits bound what one caller may do (see DefaultLimits; the zero value limits nothing).
	Limits Limits
	// Roads answers POST /v1/travel-times from the road map; nil when no map is loaded (the call answers 503).
	Roads geo.TableModel
	// Travel is the daemon's travel model (straight lines, or the road map), for POST /v1/plans; nil answers 503.
	// Plans ask it from the request's goroutine, never through the daemon's loop: it must be safe for concurrent
	// use, as the daemon's models are.
	Travel geo.TravelModel
	// MaxPlans bounds the plans made at once (default: one per CPU); a plan beyond it answers 503 with Retry-After.
	MaxPlans int
	// Rounds, when set, gives the console the last dispatch round's duration (cmd/dispatchd passes the daemon's
	// Observer wrapped by daemon.NewRoundTimes).
	Rounds RoundTimer
	// Cluster, when set, answers GET /v1/cluster (a daemon run with --cluster: the node's view of the cluster);
	// without it the route answers 404.
	Cluster func(ctx context.Context) (*service.ClusterStatus, error)
}

// RoundTimer reports how long the last dispatch round took (false before the first).
type RoundTimer interface {
	// Last is the last round's duration; false before the first round.
	Last() (time.Duration, bool)
}

// Server is dispatchd's HTTP API over the dispatcher's service.
type Server struct {
	d         service.Service
	cfg       Config
	adminHash []byte
	mux       *http.ServeMux
	limits    *limiter
	planSlots chan struct{}
	// patterns lists every route as registered ("METHOD /path"), for the test that holds the OpenAPI document to it.
	patterns []string

	// The console (console.go, consolestream.go): its files, the road map of its base layer (nil without one),
	// road tiles and courier routes once drawn, stores' opening hours once read, and the latest frame the streams
	// share.
	pages       map[string]*consolePage
	roadMap     RoadMap
	tiles       roadTiles
	drawnRoutes consoleRoutes
	hours       service.OpenHours
	frames      consoleFrames
}

// New makes the API for d.
func New(d service.Service, cfg Config) *Server {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Instrument == nil {
		cfg.Instrument = func(_ string, h http.Handler) http.Handler { return h }
	}
	if cfg.MaxPlans <= 0 {
		cfg.MaxPlans = runtime.GOMAXPROCS(0)
	}
	s := &Server{d: d, cfg: cfg, adminHash: service.HashToken(cfg.AdminToken), mux: http.NewServeMux(), limits: newLimiter(cfg.Limits),
		planSlots: make(chan struct{}, cfg.MaxPlans)}
	s.roadMap, _ = cfg.Travel.(RoadMap)
	s.routes()
	return s
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.mux }

const (
	admin    = service.RoleAdmin
	orders   = service.RoleOrders
	courier  = service.RoleCourier
	operator = service.RoleOperator
	public   = "public"
)

// handlerFunc is an API handler: it gets the authenticated principal and returns an error to be written.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p service.Principal) error

func (s *Server) routes() {
	s.handle("POST /v1/orders", s.placeOrder, orders, admin)
	s.handle("GET /v1/orders", s.listOrders, orders, admin, operator)
	s.handle("GET /v1/orders/{id}", s.getOrder, orders, admin, operator)
	s.handle("POST /v1/orders/{id}/cancel", s.cancelOrder, orders, admin, operator)
	s.handle("POST /v1/quotes", s.quote, orders, admin)
	s.handle("POST /v1/travel-times", s.travelTimes, orders, admin)
	s.handle("POST /v1/plans", s.plans, orders, admin)
	s.handle("GET /v1/events", s.events, orders, admin, operator)

	s.handle("PUT /v1/stores/{store_id}", s.putStore, admin)
	s.handle("GET /v1/stores/{store_id}", s.getStore, admin, orders, operator)
	s.handle("DELETE /v1/stores/{store_id}", s.deleteStore, admin)
	s.handle("GET /v1/stores", s.listStores, admin, orders, operator)
	s.handle("PATCH /v1/stores/{store_id}/inventory", s.patchInventory, admin)
	s.handle("POST /v1/stores/{store_id}/orders/{order_id}/{action}", s.storeOrderAction, admin, orders)

	s.handle("PUT /v1/couriers/{courier_id}", s.putCourier, admin)
	s.handle("GET /v1/couriers/{courier_id}", s.getCourier, admin, operator)
	s.handle("GET /v1/couriers", s.listCouriers, admin, operator)

	s.handle("PUT /v1/webhooks/{webhook_id}", s.putWebhook, admin)
	s.handle("GET /v1/webhooks/{webhook_id}", s.getWebhook, admin)
	s.handle("DELETE /v1/webhooks/{webhook_id}", s.deleteWebhook, admin)
	s.handle("GET /v1/webhooks", s.listWebhooks, admin)

	s.handle("POST /v1/api-keys", s.createKey, admin)
	s.handle("GET /v1/api-keys", s.listKeys, admin)
	s.handle("DELETE /v1/api-keys/{id}", s.revokeKey, admin)

	s.handle("POST /v1/courier/shift", s.shift, courier)
	s.handle("POST /v1/courier/location", s.location, courier)
	s.handle("POST /v1/courier-locations", s.locationBatch, admin)
	s.handle("GET /v1/courier/route", s.route, courier)
	s.handle("GET /v1/courier/stream", s.stream, courier)
	s.handle("POST /v1/courier/orders/{order_id}/{action}", s.courierAction, courier)

	s.consoleRoutes()
	s.overrideRoutes()

	s.handle("GET /v1/cluster", s.cluster, admin, operator)

	s.handle("GET /healthz", s.healthz, public)
	s.handle("GET /readyz", s.readyz, public)
	if s.cfg.Metrics != nil {
		if s.cfg.MetricsNeedAdmin {
			s.handle("GET /metrics", s.metrics, admin, operator)
		} else {
			s.handle("GET /metrics", s.metrics, public)
		}
	}
	s.handle("/", s.unmatched, public)
}

// routeMethods are the methods a route may be registered with, in the order an Allow header lists them.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers a request no route took: 405 with Allow when the path is a route's with another method (the
// catch-all "/" matches any method, so the mux's own 405 never happens), else 404. OPTIONS is answered the same
// way: no route takes it.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var allow []string
	for _, m := range routeMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return apiError(dispatch.ENotFound, "", "no such endpoint")
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return apiError(dispatch.EMethodNotAllowed, "", "%s is not allowed here; use %s", r.Method, strings.Join(allow, ", "))
}

// handle registers a route: request id, log line, metrics, authentication and the role check around h.
func (s *Server) handle(pattern string, h handlerFunc, roles ...string) {
	s.patterns = append(s.patterns, pattern)
	route := pattern
	if pattern == "/" {
		route = "unmatched"
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r, roles)
		if err == nil {
			setPrincipal(r, p)
			err = s.limits.allow(p)
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
	s.mux.Handle(pattern, s.logged(route, s.cfg.Instrument(route, inner)))
}

// authenticate finds who the bearer token belongs to and checks that the role may use the route.
func (s *Server) authenticate(r *http.Request, roles []string) (service.Principal, error) {
	if slices.Contains(roles, public) {
		return service.Principal{Role: public}, nil
	}
	token, ok := bearerToken(r)
	if !ok {
		return service.Principal{}, apiError(dispatch.EUnauthenticated, "", "an Authorization: Bearer token is required")
	}
	h := service.HashToken(token)
	var p service.Principal
	if subtle.ConstantTimeCompare(h, s.adminHash) == 1 {
		p = service.Principal{Role: admin}
	} else if p, ok = s.d.View().Authenticate(h); !ok {
		return service.Principal{}, apiError(dispatch.EUnauthenticated, "", "the token is not valid")
	}
	if !slices.Contains(roles, p.Role) {
		return p, apiError(dispatch.EPermissionDenied, "", "the %s role may not use this endpoint", p.Role)
	}
	return p, nil
}

// bearerToken reads "Authorization: Bearer <token>". The scheme is case-insensitive (RFC 9110); the token is not.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// RequireAdmin guards a handler served outside the API (the metrics on their own address, with --metrics-auth)
// with the admin token, answering like the API does.
func RequireAdmin(adminToken string, h http.Handler) http.Handler {
	want := service.HashToken(adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok || subtle.ConstantTimeCompare(service.HashToken(token), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorBody{errorDetail{Code: dispatch.EUnauthenticated, Message: "the admin token is required"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

type ctxKey int

const keyRequest ctxKey = iota

// requestInfo is one request's part of the log: its id, the principal the handler reports back to the line
// written when the request ends, and the logger for what a handler logs on the way, tagged with the id. That
// logger is made the first time a handler asks for it: most requests log nothing but the last line, and making it
// for each of thousands of requests a second was a tenth of what the daemon allocated.
type requestInfo struct {
	id   string
	base *zerolog.Logger
	p    service.Principal
	once sync.Once
	log  zerolog.Logger
}

func (i *requestInfo) logger() *zerolog.Logger {
	i.once.Do(func() { i.log = i.base.With().Str("request_id", i.id).Logger() })
	return &i.log
}

func setPrincipal(r *http.Request, p service.Principal) {
	if i, ok := r.Context().Value(keyRequest).(*requestInfo); ok {
		i.p = p
	}
}

// logFrom is the request's logger, which tags what it writes with the request's id.
func logFrom(r *http.Request) *zerolog.Logger {
	if i, ok := r.Context().Value(keyRequest).(*requestInfo); ok {
		return i.logger()
	}
	return zerolog.Ctx(r.Context())
}

// logged gives the request an id (the caller's X-Request-Id when it is sane) and writes one log line when it ends:
// method, route, status, bytes, took_ms (milliseconds), role. Never the body, the query, a token or customer data.
func (s *Server) logged(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		info := &requestInfo{id: id, base: &s.cfg.Logger}
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), keyRequest, info)))
		l := &s.cfg.Logger
		ev := l.Info()
		switch {
		case rw.status == http.StatusServiceUnavailable || rw.status == http.StatusTooManyRequests:
			ev = l.Warn() // load shedding: expected under overload, and far too many to be errors
		case rw.status >= 500:
			ev = l.Error()
		}
		ev = ev.Str("request_id", id).Str("method", r.Method).Str("route", route).Int("status", rw.status).Int64("bytes", rw.bytes).
			Float64("took_ms", millis(time.Since(start)))
		if info.p.Role != "" && info.p.Role != public {
			ev = ev.Str("role", info.p.Role)
			if info.p.ID != "" {
				ev = ev.Str("principal", info.p.ID)
			}
		}
		ev.Msg("request")
	})
}

// statusWriter records the status and size of a response. It passes Flush through (the courier stream needs it)
// and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ service.Principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ service.Principal) error {
	if !s.d.Ready() {
		return apiError(dispatch.EUnavailable, "", "not ready")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// cluster is GET /v1/cluster: the nodes, and each region's owner, lease, journal and replicas.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if s.cfg.Cluster == nil {
		return apiError(dispatch.ENotFound, "", "this dispatchd does not run in a cluster (see --cluster)")
	}
	st, err := s.cfg.Cluster(r.Context())
	if err != nil {
		logFrom(r).Warn().Err(err).Msg("cluster status")
		return apiError(dispatch.EUnavailable, "", "the cluster's state cannot be read now: %v", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

// newRequestID is a short random id for a request that came without a usable X-Request-Id (96 bits: unique enough
// to find a request in the logs; it protects nothing).
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

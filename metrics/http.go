package metrics

import (
	"net/http"
	"runtime/trace"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// InstrumentHTTP wraps h, the handler of one named route, to count its requests in
// dispatchd_http_requests_total{route,code} and time them in dispatchd_http_request_duration_seconds{route}.
//
// route is the route pattern (for example "POST /v1/orders"), never the raw path: a path carries ids, and every
// distinct label value is a series of its own.
//
// The code is the one the handler wrote, 200 if it wrote a body or nothing at all without calling WriteHeader,
// as net/http then sends. The wrapped ResponseWriter keeps the optional interfaces of the one it wraps
// (http.Flusher, http.Hijacker, io.ReaderFrom) and implements Unwrap, so http.NewResponseController works
// through it and streaming handlers such as server-sent events keep working. For such a route the duration is
// the life of the stream. A request whose handler panics is not recorded.
func (m *Metrics) InstrumentHTTP(route string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	// The route's duration series is created now, so that the route shows up (with a zero count) from the
	// first scrape rather than from its first request. Codes are not known in advance, so requests_total waits.
	m.httpDuration.With(labels)
	// promhttp's middleware is used rather than a hand-made ResponseWriter wrapper because it already picks a
	// wrapper type per combination of optional interfaces the underlying writer has, so a type assertion on
	// the wrapped writer gives the same answer as on the original.
	counted := promhttp.InstrumentHandlerCounter(m.httpRequests.MustCurryWith(labels), h)
	timed := promhttp.InstrumentHandlerDuration(m.httpDuration.MustCurryWith(labels), counted)
	// Each request is also a runtime/trace region named for its route (free when no trace is being taken), so
	// that a trace shows where a slow request's time went.
	region := "http: " + route
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer trace.StartRegion(r.Context(), region).End()
		timed.ServeHTTP(w, r)
	})
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// maxBody is the largest request body the API reads (the contract's 64 KiB).
const maxBody = 64 << 10

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[dispatch.ErrorCode]int{
	dispatch.EInvalid:             http.StatusBadRequest,
	dispatch.EUnauthenticated:     http.StatusUnauthorized,
	dispatch.EPermissionDenied:    http.StatusForbidden,
	dispatch.ENotFound:            http.StatusNotFound,
	dispatch.EMethodNotAllowed:    http.StatusMethodNotAllowed,
	dispatch.EConflict:            http.StatusConflict,
	dispatch.ETooLarge:            http.StatusRequestEntityTooLarge,
	dispatch.EIdempotencyMismatch: http.StatusUnprocessableEntity,
	dispatch.EUnservable:          http.StatusUnprocessableEntity,
	dispatch.ERateLimited:         http.StatusTooManyRequests,
	dispatch.EUnavailable:         http.StatusServiceUnavailable,
	dispatch.EInternal:            http.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    dispatch.ErrorCode `json:"code"`
	Message string             `json:"message"`
	Field   string             `json:"field,omitempty"`
	Reasons []string           `json:"reasons,omitempty"`
	// Candidates: why each store looked at cannot serve the order (unservable orders chosen by items).
	Candidates []dispatch.StoreRejection `json:"candidates,omitempty"`
	// Reach: the figures for an order no vehicle could deliver in time.
	Reach *service.Reach `json:"reach,omitempty"`
}

func apiError(code dispatch.ErrorCode, field, format string, args ...any) *dispatch.Error {
	return &dispatch.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// writeError answers with the error's status and the contract's error body. Errors that are not application
// errors are internal: their text is logged, not shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *dispatch.Error
	var limited *rateLimited
	switch {
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(max(limited.retryAfter, 1)))
		e = limited.appError()
	case errors.As(err, &e):
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e = apiError(dispatch.EUnavailable, "", "the request was cancelled or timed out before it was answered")
	default:
		logFrom(r).Error().Err(err).Msg("internal error")
		e = apiError(dispatch.EInternal, "", "internal error")
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{errorDetail{Code: e.Code, Message: e.Message, Field: e.Field, Reasons: e.Reasons,
		Candidates: e.Candidates, Reach: service.NewReach(e.Reach)}})
}

// millis is a duration in milliseconds, to the microsecond, as logs and the console show durations.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"could not encode the response"}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// decode reads a JSON body into v: at most 64 KiB, valid UTF-8, no unknown or repeated fields, at most maxDepth
// levels deep, nothing after the value. An empty body is allowed when optional (actions whose body carries only
// an optional reason).
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	return decodeUpTo(w, r, v, optional, maxBody)
}

// decodeUpTo is decode with a body of at most limit bytes, for the few routes whose bodies are large by nature.
func decodeUpTo(w http.ResponseWriter, r *http.Request, v any, optional bool, limit int64) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apiError(dispatch.ETooLarge, "", "the request body is over %d bytes", limit)
		}
		return apiError(dispatch.EInvalid, "", "could not read the request body")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if optional {
			return nil
		}
		return apiError(dispatch.EInvalid, "", "a JSON body is required")
	}
	if trimmed[0] != '{' {
		// Every body is an object; null would otherwise decode as {} and a PUT would take it.
		return apiError(dispatch.EInvalid, "", "the body must be a JSON object")
	}
	if err := checkShape(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return apiError(dispatch.EInvalid, "", "the body has data after the JSON value")
	}
	return nil
}

// decodeError turns the decoder's error about body (decoded into a value of type t) into the API's.
func decodeError(err error, body []byte, t reflect.Type) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apiError(dispatch.EInvalid, "", "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if p := pathAt(body, t, typ.Offset); p != "" {
			field = p
		}
		want := typeName(typ.Type.String())
		if want == "a number" && strings.HasPrefix(typ.Value, "number") {
			return apiError(dispatch.EInvalid, field, "%s is out of range (%s)", field, strings.TrimPrefix(typ.Value, "number "))
		}
		return apiError(dispatch.EInvalid, field, "%s must be %s, not %s", orBody(field), want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if e := walkCheck(body, t); e != nil {
			return e // the field with its path
		}
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apiError(dispatch.EInvalid, field, "unknown field %q", field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiError(dispatch.EInvalid, "", "the JSON body ends too early")
	}
	// Errors from a field's own decoder (a time that is not RFC 3339, a location out of range).
	var e *dispatch.Error
	if errors.As(err, &e) {
		return e
	}
	return apiError(dispatch.EInvalid, "", "invalid JSON: %v", err)
}

func orBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string", t == "*string":
		return "a string"
	case t == "time.Time":
		return "an RFC 3339 time"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "an object"
}

package dispatch

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error so that adapters can map it to a protocol status (the HTTP layer keeps the one
// table from codes to status codes).
type ErrorCode string

// Error codes returned by the engine.
const (
	// EInvalid: the event is malformed (a missing id, a coordinate out of range, a deadline before creation).
	EInvalid ErrorCode = "invalid_argument"
	// ENotFound: the event names a store, courier or order the engine does not know.
	ENotFound ErrorCode = "not_found"
	// EConflict: the event is well formed but not allowed in the current state (a second placement of the
	// same order id, a pick-up of an order that is not assigned to that courier).
	EConflict ErrorCode = "conflict"
	// EInternal: a bug; the state is unchanged.
	EInternal ErrorCode = "internal"
)

// Error codes the engine never returns but its adapters do (the daemon and its HTTP API share this one error type,
// so that one table maps every code to a protocol status).
const (
	// EUnauthenticated: no credentials, or unknown ones.
	EUnauthenticated ErrorCode = "unauthenticated"
	// EPermissionDenied: known credentials whose role may not do this.
	EPermissionDenied ErrorCode = "permission_denied"
	// ETooLarge: a request body over the limit.
	ETooLarge ErrorCode = "payload_too_large"
	// EIdempotencyMismatch: an idempotency key reused with a different request.
	EIdempotencyMismatch ErrorCode = "idempotency_mismatch"
	// EUnservable: well formed, but no store or courier can serve it (Error.Reasons says why).
	EUnservable ErrorCode = "unservable"
	// ERateLimited: the caller sends too fast; it should retry later.
	ERateLimited ErrorCode = "rate_limited"
	// EUnavailable: overloaded, shutting down or not ready; the client should retry later.
	EUnavailable ErrorCode = "unavailable"
	// EMethodNotAllowed: the path exists, but not with this method (the HTTP API lists the allowed ones).
	EMethodNotAllowed ErrorCode = "method_not_allowed"
)

// Error is the engine's application error. An event that returns an Error leaves the state unchanged.
type Error struct {
	Code ErrorCode
	// Field names the offending field of the event, in the API's dotted form ("dropoff.lat"), when one is to blame.
	Field   string
	Message string
	// Reasons lists machine-readable causes (for EUnservable).
	Reasons []string
	// Candidates says, for an order no store can serve, why each of the stores looked at turned it down.
	Candidates []StoreRejection
	// Reach gives the figures, for an order no vehicle could deliver in time (Reasons holds Reach.Reason).
	Reach *Reach
}

// StoreRejection is why one store cannot serve an order.
type StoreRejection struct {
	StoreID string `json:"store_id,omitempty"`
	// Reason is machine-readable: out_of_stock, closed, store_busy, too_far, store_not_found, no_store_in_reach.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("dispatch: %s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("dispatch: %s: %s", e.Code, e.Message)
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EInternal for any other non-nil error, and ""
// for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *Error {
	return &Error{Code: ENotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf(format, args...)}
}

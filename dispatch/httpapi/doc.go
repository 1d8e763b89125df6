// Package httpapi is dispatchd's HTTP API (the contract in docs/openapi.yaml) over a service.Service (the daemon,
// wired in by cmd/dispatchd): JSON in and
// out, bearer-token roles (admin, orders, courier), one error body and one table from error codes to statuses,
// and the courier's server-sent event stream. Handlers decode and check requests, then either read the service's
// latest snapshot (service.View) or send it a command; they hold no state of their own.
package httpapi

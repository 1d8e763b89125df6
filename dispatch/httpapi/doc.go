// Package httpapi is dispatchd's HTTP API (the contract in docs/openapi.yaml) over a daemon.Daemon: JSON in and
// out, bearer-token roles (admin, orders, courier), one error body and one table from error codes to statuses,
// and the courier's server-sent event stream. Handlers decode and check requests, then either read the daemon's
// latest snapshot or send a command into its loop; they hold no state of their own.
package httpapi

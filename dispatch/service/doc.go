// Package service is what the dispatcher offers its clients: the domain types the API shows (orders, stores,
// couriers and their routes, API keys and principals, webhooks, order events), the inputs it takes, and Service,
// the interface the HTTP API (dispatch/httpapi) is written against. The daemon (dispatch/daemon) implements it;
// cmd/dispatchd wires one to the other, so the API never imports the daemon.
//
// Service is made of small interfaces, one per kind of thing (Orders, Stores, Couriers, Keys, Webhooks, Events,
// Overrides) and Reader for the published snapshot (View). Errors are *dispatch.Error values: their code says what
// went wrong and the field they name says where; the API maps each code to one status.
//
// The package holds data and no behaviour beyond reading it (LateAt, Final, OpenHours.Open): it imports the
// engine's package for its error and figure types, never the daemon, the journal or net/http.
package service

// Package sim is dispatchd's discrete-event simulator: it replays a day in virtual time through the very same
// dispatch engine the daemon runs, so that analysts can compare dispatch policies and size a fleet, and so that
// every KPI it reports measures the production engine rather than a copy.
//
// It is built in the simulator issue; this file reserves the package and states its role.
package sim

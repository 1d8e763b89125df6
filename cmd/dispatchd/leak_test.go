package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the program starts has an owner that stops it: after the tests (which run Main in-process and
// stop it), none may be left. Idle HTTP client connections belong to the test's client, not to the program.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

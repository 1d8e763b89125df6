package daemon

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the daemon starts has an owner that stops it: after the tests, none may be left.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

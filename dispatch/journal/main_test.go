package journal

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine started here has an owner that stops it: after the tests, none may be left.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

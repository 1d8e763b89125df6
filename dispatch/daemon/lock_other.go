//go:build !unix

package daemon

// lockDataDir does nothing where flock is not available: run one daemon per data directory.
func lockDataDir(string) (func(), error) { return func() {}, nil }

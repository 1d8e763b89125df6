//go:build !race

package geo_test

// raceEnabled tells tests that measure allocations to stand down: under the
// race detector sync.Pool drops items on purpose.
const raceEnabled = false

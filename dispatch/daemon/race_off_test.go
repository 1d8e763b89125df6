//go:build !race

package daemon

// raceOn is true under the race detector, which slows these tests tenfold: the ones sized for coverage check fewer
// cases there, and `make test` runs them at full size without it too (FULL_SIZE_TESTS in the Makefile).
const raceOn = false

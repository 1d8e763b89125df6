//go:build !race

package sim

// raceOn is true under the race detector, which slows these tests tenfold: see sized.
const raceOn = false

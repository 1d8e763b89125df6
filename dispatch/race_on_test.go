//go:build race

package dispatch

// raceOn is true under the race detector, which slows these tests tenfold: see sized.
const raceOn = true

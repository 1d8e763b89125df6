//go:build race

package roads

// raceOn is true when the race detector slows every test down tenfold: the largest tests check fewer pairs.
const raceOn = true

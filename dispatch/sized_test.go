package dispatch

// sized is full, or underRace under the race detector (raceOn): the tests sized for coverage check fewer cases
// there, and `make test` runs them at full size without it too (FULL_SIZE_TESTS in the Makefile).
func sized[T int | uint64](full, underRace T) T {
	if raceOn {
		return underRace
	}
	return full
}

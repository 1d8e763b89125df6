//go:build unix

package main

import "syscall"

// cpuSeconds is the processor time (user and system) this process has used so far: on a shared machine it says
// how much work a run did when its wall-clock time does not.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

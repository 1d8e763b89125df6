//go:build linux

package daemon

import (
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// threadCPU is the CPU time of the calling thread, user and system: what a step of the loop cost it, whatever
// else runs on the machine (a goroutine that moves to another thread mid-step makes it wrong, which a step of a
// few milliseconds seldom does). 0 where it cannot be read.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

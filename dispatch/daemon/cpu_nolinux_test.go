//go:build !linux

package daemon

import "time"

// threadCPU is 0 where a thread's CPU time is not read (BenchmarkRoundOnTheLoop's step-cpu figures then say 0).
func threadCPU() time.Duration { return 0 }

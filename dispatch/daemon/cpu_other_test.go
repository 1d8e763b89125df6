//go:build !unix

package daemon

import "time"

// processCPU is 0 where the process's CPU time is not read (BenchmarkRestart's cpu-ms then says 0).
func processCPU() time.Duration { return 0 }

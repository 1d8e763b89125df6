//go:build !linux

package load

import (
	"syscall"
	"time"
)

// sysProcAttr keeps the defaults away from Linux; see sysproc_linux.go for what Linux adds.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processCPU and machineCPU read /proc, which only Linux has: elsewhere the report leaves CPU use out.
func processCPU(int) (time.Duration, bool) { return 0, false }

func machineCPU() (busy, total time.Duration, ok bool) { return 0, 0, false }

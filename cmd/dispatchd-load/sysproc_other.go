//go:build !linux

package main

import "syscall"

// sysProcAttr keeps the defaults away from Linux; see sysproc_linux.go for what Linux adds.
func sysProcAttr() *syscall.SysProcAttr { return nil }

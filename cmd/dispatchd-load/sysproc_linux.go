package main

import "syscall"

// sysProcAttr puts the spawned daemon in its own process group, so that a Ctrl-C in the terminal reaches only the
// load generator, which then stops the daemon with one SIGTERM (dispatchd takes a second signal as "exit now",
// skipping its final checkpoint). Pdeathsig stops the daemon too if the load generator is killed outright.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

package bench

import "syscall"

// childAttr makes the kernel kill a child when the bench dies, even by
// SIGKILL, so that no node outlives an interrupted bench.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

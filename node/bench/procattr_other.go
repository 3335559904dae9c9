//go:build !linux

package bench

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// the bench stops its children when it returns.
func childAttr() *syscall.SysProcAttr { return nil }

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseSequential tells the kernel f is about to be read from start to
// end, so that it reads ahead generously (a hint: errors do not matter).
func adviseSequential(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

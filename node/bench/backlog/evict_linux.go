package backlog

import (
	"os"

	"golang.org/x/sys/unix"
)

// evict drops one file's pages from the page cache, so that the next
// reader finds it on disk: a cold start without dropping every other
// process's cache.
func evict(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

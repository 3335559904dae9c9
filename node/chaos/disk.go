package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Disk-full methods, in the order the harness tries them.
const (
	// DiskTmpfs gives each node's data_dir a small tmpfs of its own and
	// fills it with a file: the real thing (needs mount(2): root, or
	// CAP_SYS_ADMIN).
	DiskTmpfs = "tmpfs"
	// DiskRlimit lowers the node process's RLIMIT_FSIZE to its store's size
	// (prlimit(2)): writes that grow a file fail with EFBIG, writes inside
	// it succeed, so it is a weaker fault than a full disk.
	DiskRlimit = "rlimit-fsize"
	// DiskNone is used when neither works.
	DiskNone = "none"
)

// tmpfsSize is each node's tmpfs: room for the store (a run's stores stay
// under a few MiB) and its growth steps.
const tmpfsSize = "64m"

// mountTmpfs mounts a tmpfs at dir, reporting whether it could.
func mountTmpfs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+tmpfsSize+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	return nil
}

func unmount(dir string) error {
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("umount %s: %v: %s", dir, err, out)
	}
	return nil
}

// fillerName is the file that fills a node's tmpfs.
const fillerName = "chaos-filler"

// fill writes a file into dir until the filesystem is full.
func fill(dir string) (int64, error) {
	f, err := os.OpenFile(filepath.Join(dir, fillerName), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if n > 1<<30 {
			return n, errors.New("wrote 1 GiB without filling the disk: not a small tmpfs")
		}
	}
}

func unfill(dir string) error {
	err := os.Remove(filepath.Join(dir, fillerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// limitFileSize sets RLIMIT_FSIZE of process pid (0: lift it).
func limitFileSize(pid int, limit uint64) error {
	if limit == 0 {
		limit = unix.RLIM_INFINITY
	}
	var old unix.Rlimit
	return unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}, &old)
}

package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// listenFDsStart is the first file descriptor a supervisor passes, by the
// systemd socket-activation protocol (sd_listen_fds(3)).
const listenFDsStart = 3

// inheritedListeners returns the listening sockets a supervisor passed to
// this process by the systemd socket-activation protocol: LISTEN_FDS
// sockets from fd 3, named by LISTEN_FDNAMES (a systemd .socket unit's
// FileDescriptorName=), for this process when LISTEN_PID names it or is
// absent (a supervisor that starts the process through exec cannot know
// its pid in advance). The names must be among allowed, the config keys
// whose addresses they stand for. It unsets the variables, so that a child
// of the process takes nothing. A process that holds its listening sockets
// across a restart neither loses connections that arrive meanwhile nor
// its port to another process.
func inheritedListeners(allowed ...string) (map[string]net.Listener, error) {
	defer func() {
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			os.Unsetenv(v)
		}
	}()
	fds := os.Getenv("LISTEN_FDS")
	if fds == "" {
		return nil, nil
	}
	if pid := os.Getenv("LISTEN_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 1 || n > 16 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want the number of sockets passed, 1 to 16", fds)
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	if len(names) != n {
		return nil, fmt.Errorf("LISTEN_FDNAMES=%q names %d socket(s) for LISTEN_FDS=%d: name each by the config key it stands for (%s)",
			os.Getenv("LISTEN_FDNAMES"), len(names), n, strings.Join(allowed, ", "))
	}
	out := map[string]net.Listener{}
	for i, name := range names {
		if !slices.Contains(allowed, name) {
			closeAll(out)
			return nil, fmt.Errorf("LISTEN_FDNAMES names a socket %q: this command takes %s", name, strings.Join(allowed, ", "))
		}
		f := os.NewFile(uintptr(listenFDsStart+i), name)
		l, err := net.FileListener(f)
		f.Close() // FileListener holds a duplicate
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("socket %q passed as fd %d: %w", name, listenFDsStart+i, err)
		}
		out[name] = l
	}
	return out, nil
}

func closeAll(ls map[string]net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

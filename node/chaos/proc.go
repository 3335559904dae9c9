package chaos

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one jiexu process the harness runs, restartable.
type process struct {
	name string
	args []string
	log  string
	bin  string

	// sockets are listening sockets the harness holds for the process's
	// whole life and passes at every start (systemd's socket-activation
	// protocol: from fd 3, named by LISTEN_FDNAMES), so that its port
	// stays its own while it is down.
	sockets []socket

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts the process, appending its output to its log.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running", p.name)
		}
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if len(p.sockets) > 0 {
		names := make([]string, len(p.sockets))
		for i, s := range p.sockets {
			cmd.ExtraFiles = append(cmd.ExtraFiles, s.file)
			names[i] = s.name
		}
		cmd.Env = append(os.Environ(), "LISTEN_FDS="+strconv.Itoa(len(p.sockets)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// running reports whether the process is up.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// pid returns the process id, 0 when it is not running.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop sends sig and waits (bounded) for the process to exit; a process
// that ignores SIGTERM for 20s gets SIGKILL.
func (p *process) stop(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(20 * time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
		return fmt.Errorf("%s ignored %v for 20s and was killed", p.name, sig)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not exit", p.name)
	}
}

// callers labels a fault proxy's connections with the region of the node
// process that opened them, from Linux's /proc: the connection's client
// port names a socket in /proc/net/tcp, whose inode one of the node
// processes holds open. Elsewhere every connection gets "".
type callers struct {
	mu   sync.Mutex
	pids map[int]string // pid → region
}

func (c *callers) set(pid int, region string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, r := range c.pids {
		if r == region {
			delete(c.pids, p)
		}
	}
	c.pids[pid] = region
}

// classify returns the region of the node that opened conn, or "".
func (c *callers) classify(conn net.Conn) string {
	ra, ok := conn.RemoteAddr().(*net.TCPAddr)
	la, ok2 := conn.LocalAddr().(*net.TCPAddr)
	if !ok || !ok2 {
		return ""
	}
	// The socket may take a moment to appear; the connection is new.
	for range 3 {
		if inode := socketInode(ra.Port, la.Port); inode != "" {
			c.mu.Lock()
			pids := make(map[int]string, len(c.pids))
			for p, r := range c.pids {
				pids[p] = r
			}
			c.mu.Unlock()
			for pid, region := range pids {
				if holds(pid, inode) {
					return region
				}
			}
			return ""
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ""
}

// socketInode finds the inode of the TCP socket whose local port is local
// and remote port remote.
func socketInode(local, remote int) string {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", local)) ||
				!strings.HasSuffix(fields[2], fmt.Sprintf(":%04X", remote)) {
				continue
			}
			f.Close()
			return fields[9]
		}
		f.Close()
	}
	return ""
}

// holds reports whether process pid has socket inode open.
func holds(pid int, inode string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, e := range entries {
		if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == want {
			return true
		}
	}
	return false
}

// socket is a listening socket passed to a process under a name.
type socket struct {
	name string
	file *os.File
}

// socketOf takes the file of a listener the layout bound, for a process to
// inherit under name; the harness keeps it open for the run.
func socketOf(name string, l net.Listener) (socket, error) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return socket{}, fmt.Errorf("socket %s: not a TCP listener", name)
	}
	f, err := tl.File() // a duplicate, blocking: what a child expects
	tl.Close()
	if err != nil {
		return socket{}, fmt.Errorf("socket %s: %w", name, err)
	}
	return socket{name: name, file: f}, nil
}

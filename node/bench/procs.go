package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process the bench started: a registry or a node.
type Proc struct {
	Name string
	Log  string // file holding its stdout and stderr
	Args []string

	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has been reaped
	mu      sync.Mutex    // guards err
	err     error         // how it exited
}

// StartProc starts binary with args, its output appended to logFile. The
// child is killed if the bench itself dies (Linux), so an interrupted bench
// leaves no node running.
func StartProc(name, binary, logFile string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Log: logFile, Args: args, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = childAttr()
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, binary, err)
	}
	go func() {
		err := p.cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Started returns when the process was started.
func (p *Proc) Started() time.Time { return p.started }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited returns an error describing the exit, with the end of its log,
// if the process has exited; nil while it runs.
func (p *Proc) Exited() error {
	select {
	case <-p.done:
	default:
		return nil
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err == nil {
		err = errors.New("exit status 0")
	}
	return fmt.Errorf("%w: %s: %w; the end of %s:\n%s", ErrNodeExited, p.Name, err, p.Log, tail(p.Log, 12))
}

// Stop asks the process to stop (SIGTERM), waits up to grace, then kills it.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Procs is a set of child processes stopped together.
type Procs []*Proc

// Stop stops every process, in parallel, each within grace.
func (ps Procs) Stop(grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.Stop(grace) })
	}
	wg.Wait()
}

// Exited returns the first process that has exited, as an error.
func (ps Procs) Exited() error {
	for _, p := range ps {
		if err := p.Exited(); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"io"
	"os"
	"time"

	"jiexu/node/render"
)

// isTerminal reports whether w is a terminal (progress then redraws in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// countingReader counts the bytes read through it into a Progress.
type countingReader struct {
	r io.Reader
	p *render.Progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	return n, err
}

// ticking redraws p every interval until the returned stop is called, for
// work that reports nothing while it runs (one long transaction).
func ticking(p *render.Progress, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.Tick()
			}
		}
	}()
	return func() { close(done); <-finished; p.Finish() }
}

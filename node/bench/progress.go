package bench

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress prints a line a second while cases run: on a terminal one line
// rewritten in place, elsewhere a line every 5 s.
type progress struct {
	w           io.Writer
	tty         bool
	total       int
	start, last time.Time
	every       time.Duration
	lastDone    int
	lastAt      time.Time
}

func newProgress(w io.Writer, total int, start time.Time) *progress {
	p := &progress{w: w, total: total, start: start, lastAt: start, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, ScrapeEvery
		}
	}
	return p
}

// line prints the state if a line is due.
func (p *progress) line(applied int, st state) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := float64(st.done-p.lastDone) / now.Sub(p.lastAt).Seconds()
	p.lastDone, p.lastAt = st.done, now
	avg := float64(st.done) / elapsed.Seconds()
	eta := "—"
	if avg > 0 {
		eta = (time.Duration(float64(p.total-st.done) / avg * float64(time.Second))).Round(time.Second).String()
	}
	text := fmt.Sprintf("[%6.1fs] applied %d/%d  done %d/%d  %.0f cases/s (now %.0f)  %.0f msg/s  ETA %s",
		elapsed.Seconds(), applied, p.total, st.done, p.total, avg, rate, st.delivered/elapsed.Seconds(), eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-100s", text)
	} else {
		fmt.Fprintln(p.w, text)
	}
}

// finish ends the rewritten line on a terminal.
func (p *progress) finish() {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

package render

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports long work (an import, a backup, a redrive) on one line:
// a bar, the count against the total, the rate and the time left. On a
// terminal it redraws the line in place several times a second; elsewhere
// (a log, a pipe) it writes a line every few seconds. It is safe to use from
// one goroutine updating and another ticking.
type Progress struct {
	w     io.Writer
	what  string
	unit  Unit
	total int64
	tty   bool
	now   func() time.Time

	mu    sync.Mutex // guards the fields below
	done  int64
	start time.Time
	drawn time.Time
	shown int64 // done as of the last line drawn, -1 before the first
	width int   // of the last line drawn on a terminal
}

// Unit formats the counts of a Progress.
type Unit func(n int64) string

// Count writes a plain count with a noun: "12,345 rows".
func Count(noun string) Unit {
	return func(n int64) string { return Thousands(n) + " " + noun }
}

// Bytes writes a size: "512 B", "3.2 MiB".
func Bytes(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(k*k*k))
}

// Thousands writes n with commas: 1,234,567.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// NewProgress starts reporting what (e.g. "importing") to w, out of total
// (0 when unknown: no bar and no time left). tty says whether w is a
// terminal.
func NewProgress(w io.Writer, what string, total int64, unit Unit, tty bool) *Progress {
	return newProgress(w, what, total, unit, tty, time.Now)
}

func newProgress(w io.Writer, what string, total int64, unit Unit, tty bool, now func() time.Time) *Progress {
	return &Progress{w: w, what: what, unit: unit, total: total, tty: tty, now: now, start: now(), shown: -1}
}

// Set records how much is done and redraws when it is time to.
func (p *Progress) Set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.maybeDraw(false)
}

// Add records n more done.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.maybeDraw(false)
}

// Tick redraws when it is time to, so that the elapsed time moves while
// nothing is counted (one long transaction).
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maybeDraw(false)
}

// Finish draws the last state and ends the line.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maybeDraw(true)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) maybeDraw(force bool) {
	now := p.now()
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if !force && now.Sub(p.drawn) < every {
		return
	}
	if force && !p.tty && p.shown == p.done {
		return // off a terminal the last line already says it: a small file printed it twice
	}
	p.drawn, p.shown = now, p.done
	line := p.line(now)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := len([]rune(line)); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = len([]rune(line))
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// line is the report as of now.
func (p *Progress) line(now time.Time) string {
	elapsed := now.Sub(p.start)
	var b strings.Builder
	b.WriteString(p.what)
	if p.total > 0 {
		frac := min(float64(p.done)/float64(p.total), 1)
		const width = 24
		full := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%% %s/%s", strings.Repeat("#", full), strings.Repeat(".", width-full), frac*100,
			strings.TrimSuffix(p.unit(p.done), unitNoun(p.unit)), p.unit(p.total))
	} else {
		fmt.Fprintf(&b, " %s", p.unit(p.done))
	}
	if secs := elapsed.Seconds(); secs >= 0.5 && p.done > 0 {
		rate := float64(p.done) / secs
		fmt.Fprintf(&b, "  %s/s", p.unit(int64(rate)))
		if p.total > 0 && p.done < p.total {
			left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", Human(left.Round(time.Second)))
		}
	}
	fmt.Fprintf(&b, "  %s", Human(elapsed.Round(time.Second)))
	return b.String()
}

// unitNoun is the noun a Count unit appends (" rows"), so that "45/100 rows"
// names it once; "" for other units.
func unitNoun(u Unit) string {
	s := u(0)
	if i := strings.Index(s, " "); i >= 0 && strings.HasPrefix(s, "0 ") {
		if s[i+1:] == "B" {
			return ""
		}
		return s[i:]
	}
	return ""
}

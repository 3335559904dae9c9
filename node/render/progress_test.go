package render

import (
	"strings"
	"testing"
	"time"
)

func TestProgressShowsRateAndETA(t *testing.T) {
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var b strings.Builder
	p := newProgress(&b, "importing", 100000, Count("rows"), false, now)
	clock = clock.Add(2 * time.Second)
	p.Set(10000) // the first line: drawn at once
	clock = clock.Add(time.Second)
	p.Set(20000) // not yet: lines are 5 s apart off a terminal
	clock = clock.Add(7 * time.Second)
	p.Set(50000)
	clock = clock.Add(time.Second)
	p.Set(60000) // not drawn until Finish
	p.Finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (first, after 5 s, finish):\n%s", len(lines), b.String())
	}
	for _, want := range []string{"[############............]  50%", "50,000/100,000 rows", "5,000 rows/s", "ETA 10s"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("line %q lacks %q", lines[1], want)
		}
	}

	// Without a total: the count, the rate and the elapsed time.
	b.Reset()
	p = newProgress(&b, "backup", 0, Bytes, true, now)
	clock = clock.Add(4 * time.Second)
	p.Set(8 << 20)
	p.Finish()
	if s := b.String(); !strings.Contains(s, "\rbackup 8.0 MiB  2.0 MiB/s  4s") || strings.Contains(s, "ETA") {
		t.Errorf("backup progress %q", s)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// Off a terminal, work that finished before the second line (a small
// file) prints one line, not the same line twice.
func TestProgressQuickWorkPrintsOneLine(t *testing.T) {
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var b strings.Builder
	p := newProgress(&b, "checking records.csv", 3300, Bytes, false, func() time.Time { return clock })
	p.Add(3300)
	p.Finish()
	if n := strings.Count(b.String(), "checking records.csv"); n != 1 {
		t.Errorf("%d lines, want 1:\n%s", n, b.String())
	}
}

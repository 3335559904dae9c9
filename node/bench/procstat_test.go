package bench

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime …
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (jiexu) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 3 * time.Second, false},
		{"command with spaces and parentheses", "42 (my (odd) cmd) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5", 100 * time.Millisecond, false},
		{"no parenthesis", "42 jiexu S 1", 0, true},
		{"too few fields", "42 (jiexu) S 1 2 3", 0, true},
		{"not a number", "42 (jiexu) S 1 42 42 0 -1 0 0 0 0 0 x 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, ErrProcFormat) {
				t.Errorf("parseStat err = %v, want ErrProcFormat", err)
			}
			if got != tt.want {
				t.Errorf("parseStat = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tjiexu\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1300000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n"
	got, err := parseStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStat{RSS: 20 << 20, PeakRSS: 40 << 20, Threads: 9}
	if got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
	// A zombie has no Vm lines: zero memory, not an error.
	if got, err := parseStatus([]byte("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n")); err != nil || got.RSS != 0 {
		t.Errorf("parseStatus(zombie) = %+v, %v; want zero memory and no error", got, err)
	}
	for name, bad := range map[string]string{
		"no threads line": "VmRSS:\t 1 kB\n",
		"bad unit":        "VmRSS:\t 1 MB\nThreads:\t1\n",
		"bad number":      "VmRSS:\t x kB\nThreads:\t1\n",
		"bad threads":     "Threads:\tmany\n",
	} {
		if _, err := parseStatus([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseStatus(%s) err = %v, want ErrProcFormat", name, err)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	// Burn a little CPU so that the reading cannot be zero.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	ps, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ps.CPU <= 0 || ps.RSS <= 0 || ps.PeakRSS < ps.RSS || ps.Threads < 1 {
		t.Errorf("ReadProc(self) = %+v; want CPU > 0, 0 < RSS <= PeakRSS, threads >= 1", ps)
	}
	if _, err := ReadProc(1 << 30); !errors.Is(err, ErrNoProc) {
		t.Errorf("ReadProc(no such pid) err = %v, want ErrNoProc", err)
	}
}

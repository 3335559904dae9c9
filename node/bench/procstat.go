package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture it runs on.
const userHZ = 100

// ProcStat is what /proc says about one process: CPU time used so far and
// memory.
type ProcStat struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration `json:"cpu_ns"`
	// RSS is the resident set now (VmRSS); PeakRSS the highest it has been (VmHWM).
	RSS     int64 `json:"rss_bytes"`
	PeakRSS int64 `json:"peak_rss_bytes"`
	Threads int   `json:"threads"`
}

// ReadProc reads /proc/PID/stat and /proc/PID/status (Linux only).
func ReadProc(pid int) (ProcStat, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	cpu, err := parseStat(stat)
	if err != nil {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	ps, err := parseStatus(status)
	if err != nil {
		return ProcStat{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	ps.CPU = cpu
	return ps, nil
}

// parseStat returns utime+stime from the contents of /proc/PID/stat. The
// second field, the command name in parentheses, may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parseStat(data []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: no ')' after the command name", ErrProcFormat)
	}
	// After ") " come field 3 (state) onwards; utime and stime are fields
	// 14 and 15, so indexes 11 and 12 here.
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("%w: %d fields after the command name, want at least 13", ErrProcFormat, len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: cpu time %q: %w", ErrProcFormat, f, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatus reads VmRSS, VmHWM and Threads from /proc/PID/status. A
// process that has exited but not been reaped has no Vm lines: its memory
// reads as zero.
func parseStatus(data []byte) (ProcStat, error) {
	var ps ProcStat
	seenThreads := false
	for line := range strings.Lines(string(data)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "VmRSS", "VmHWM":
			num, unit, _ := strings.Cut(val, " ")
			kb, err := strconv.ParseInt(num, 10, 64)
			if err != nil || strings.TrimSpace(unit) != "kB" {
				return ps, fmt.Errorf("%w: %s: %q", ErrProcFormat, key, val)
			}
			if key == "VmRSS" {
				ps.RSS = kb << 10
			} else {
				ps.PeakRSS = kb << 10
			}
		case "Threads":
			n, err := strconv.Atoi(val)
			if err != nil {
				return ps, fmt.Errorf("%w: Threads: %q", ErrProcFormat, val)
			}
			ps.Threads, seenThreads = n, true
		}
	}
	if !seenThreads {
		return ps, fmt.Errorf("%w: no Threads line", ErrProcFormat)
	}
	return ps, nil
}

package store

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder names the process holding a lock on path, as well as Linux's
// /proc/locks can tell: "pid 1234 (jiexu node serve --config node.json)".
// It returns "" when it cannot tell (another OS, another PID namespace).
func lockHolder(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer f.Close()
	major, minor := (st.Dev>>8)&0xfff|(st.Dev>>32)&^0xfff, st.Dev&0xff|(st.Dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 3: FLOCK  ADVISORY  WRITE 16575 fe:00:9978083 0 EOF
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		return describeProcess(pid)
	}
	return ""
}

// describeProcess returns "pid N (its command line)".
func describeProcess(pid int) string {
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	line := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	if err != nil || line == "" {
		return fmt.Sprintf("pid %d", pid)
	}
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return fmt.Sprintf("pid %d (%s)", pid, line)
}

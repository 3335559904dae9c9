package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A supervisor's socket-activation variables that do not add up are
// refused with what to write, before anything is served.
func TestInheritedListenersRefuseBadVariables(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"count not a number", []string{"LISTEN_FDS=two"}, `LISTEN_FDS="two"`},
		{"names fewer than sockets", []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=listen"}, "names 1 socket(s) for LISTEN_FDS=2"},
		{"a name the command does not take", []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=agency"}, `names a socket "agency": this command takes listen, metrics_listen`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, "node", "serve", "--config", "node.json")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), tc.env...)
			_ = os.WriteFile(dir+"/node.json", []byte(`{}`), 0o600)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("node serve with %v: %v\n%s\nwant an error naming %q", tc.env, err, out, tc.want)
			}
		})
	}
}

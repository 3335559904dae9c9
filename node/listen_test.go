package node

import (
	"net"
	"strings"
	"testing"
)

// A node pointed at a port another process holds says which key to change,
// not only what the kernel said.
func TestListenErrorSaysWhatToDo(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, key, addr string
		want            []string
	}{
		{"port in use", "listen", taken.Addr().String(), []string{"listen: ", "address already in use", "what to do: another process listens there", `set "listen" in the config`}},
		{"metrics port in use", "metrics_listen", taken.Addr().String(), []string{`set "metrics_listen" in the config`}},
		{"not this machine's address", "listen", "192.0.2.1:7443", []string{"what to do: the address is not one of this machine's"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := listen(tt.addr)
			if err == nil {
				l.Close()
				t.Skipf("listen %s succeeded on this machine", tt.addr)
			}
			got := listenError(tt.key, err).Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

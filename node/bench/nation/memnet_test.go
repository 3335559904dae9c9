package nation

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
)

func TestMemNet(t *testing.T) {
	m := newMemNet()
	l := m.Listen("127.0.0.1:7443")
	if l.Addr().String() != "127.0.0.1:7443" {
		t.Errorf("Addr = %s, want the registered address", l.Addr())
	}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo
		c.Close()
	}()
	c, err := m.Dial(context.Background(), "127.0.0.1:7443")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("接续")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("接续"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "接续" {
		t.Errorf("echo = %q, %v; want 接续", buf, err)
	}
	c.Close()
	if _, err := m.Dial(context.Background(), "127.0.0.1:1"); err == nil {
		t.Error("Dial to an address nobody listens on succeeded")
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if _, err := m.Dial(context.Background(), "127.0.0.1:7443"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial to a closed listener = %v, want net.ErrClosed", err)
	}
}

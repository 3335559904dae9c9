package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return lis.Addr().String()
}

func newProxy(t *testing.T, target string, opts ...Option) *Proxy {
	t.Helper()
	p, err := New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// roundTrip sends a line and waits up to wait for its echo.
func (c *client) roundTrip(line string, wait time.Duration) (string, error) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	got, err := c.r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestFaults(t *testing.T) {
	target := echoServer(t)
	// "Silent" waits are short: they only show that nothing arrived yet;
	// answers get a long bound.
	const silent, answer = 300 * time.Millisecond, 10 * time.Second

	t.Run("pass", func(t *testing.T) {
		p := newProxy(t, target)
		if got, err := dial(t, p.Addr()).roundTrip("hello", answer); err != nil || got != "hello" {
			t.Fatalf("roundTrip = %q, %v; want hello", got, err)
		}
	})
	t.Run("black hole outlives heal", func(t *testing.T) {
		p := newProxy(t, target)
		old := dial(t, p.Addr())
		if _, err := old.roundTrip("before", answer); err != nil {
			t.Fatal(err)
		}
		p.Set(Both(BlackHole))
		if _, err := old.roundTrip("during", silent); !isTimeout(err) {
			t.Fatalf("black-holed connection answered: %v", err)
		}
		fresh := dial(t, p.Addr()) // accepted, then swallowed
		if _, err := fresh.roundTrip("new during", silent); !isTimeout(err) {
			t.Fatalf("new connection during the black hole answered: %v", err)
		}
		p.Heal()
		if _, err := old.roundTrip("after", silent); !isTimeout(err) {
			t.Fatalf("a swallowed connection came back after Heal: %v", err)
		}
		if got, err := dial(t, p.Addr()).roundTrip("new after", answer); err != nil || got != "new after" {
			t.Fatalf("new connection after Heal = %q, %v", got, err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		p := newProxy(t, target)
		old := dial(t, p.Addr())
		if _, err := old.roundTrip("before", answer); err != nil {
			t.Fatal(err)
		}
		p.Set(Partition())
		if _, err := old.roundTrip("during", answer); err == nil || isTimeout(err) {
			t.Fatalf("open connection after a reset: %v, want a connection error", err)
		}
		// A new connection is reset: during connect, or on first use.
		if c, err := net.Dial("tcp", p.Addr()); err == nil {
			defer c.Close()
			cl := &client{t: t, c: c, r: bufio.NewReader(c)}
			if _, err := cl.roundTrip("new", answer); err == nil || isTimeout(err) {
				t.Fatalf("new connection during a partition: %v, want a connection error", err)
			}
		} else if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial during a partition: %v, want a reset", err)
		}
		p.Heal()
		if got, err := dial(t, p.Addr()).roundTrip("healed", answer); err != nil || got != "healed" {
			t.Fatalf("after Heal = %q, %v", got, err)
		}
	})
	t.Run("hang resumes", func(t *testing.T) {
		p := newProxy(t, target)
		c := dial(t, p.Addr())
		p.Set(Both(Hang))
		if _, err := c.roundTrip("held", silent); !isTimeout(err) {
			t.Fatalf("hung connection answered: %v", err)
		}
		p.Heal()
		_ = c.c.SetReadDeadline(time.Now().Add(answer))
		if got, err := c.r.ReadString('\n'); err != nil || got != "held\n" {
			t.Fatalf("after Heal = %q, %v; want the held line delivered", got, err)
		}
	})
	t.Run("drop one direction", func(t *testing.T) {
		p := newProxy(t, target)
		c := dial(t, p.Addr())
		p.Set(Fault{Down: Drop})
		if _, err := c.roundTrip("lost", silent); !isTimeout(err) {
			t.Fatalf("dropped answer arrived: %v", err)
		}
		if s := p.Stats(); s.Lost == 0 {
			t.Errorf("stats = %+v, want lost bytes counted", s)
		}
		p.Heal()
		if got, err := c.roundTrip("kept", answer); err != nil || got != "kept" {
			t.Fatalf("after Heal = %q, %v", got, err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		p := newProxy(t, target)
		p.Set(Latency(50 * time.Millisecond))
		if got, err := dial(t, p.Addr()).roundTrip("slow", answer); err != nil || got != "slow" {
			t.Fatalf("delayed roundTrip = %q, %v", got, err)
		}
	})
	t.Run("per label", func(t *testing.T) {
		// Label connections by the client's local port, which the test
		// reads back: a stand-in for "which node is calling".
		partitioned := map[int]bool{}
		var mu sync.Mutex
		classify := func(c net.Conn) string {
			mu.Lock()
			defer mu.Unlock()
			if partitioned[c.RemoteAddr().(*net.TCPAddr).Port] {
				return "cut"
			}
			return ""
		}
		p := newProxy(t, target, WithClassifier(classify))
		p.SetFor("cut", Partition())
		for i, cut := range []bool{false, true, false, true} {
			laddr, err := net.ResolveTCPAddr("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lis, err := net.ListenTCP("tcp", laddr) // reserve a port to dial from
			if err != nil {
				t.Fatal(err)
			}
			port := lis.Addr().(*net.TCPAddr).Port
			lis.Close()
			mu.Lock()
			partitioned[port] = cut
			mu.Unlock()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
			c, err := d.Dial("tcp", p.Addr())
			if err != nil {
				if cut && errors.Is(err, syscall.ECONNRESET) {
					continue // reset before connect returned
				}
				t.Fatalf("dial %d: %v", i, err)
			}
			got, err := (&client{t: t, c: c, r: bufio.NewReader(c)}).roundTrip("x", answer)
			c.Close()
			switch {
			case cut && err == nil:
				t.Errorf("connection %d: partitioned label answered %q", i, got)
			case !cut && (err != nil || got != "x"):
				t.Errorf("connection %d: unfaulted label = %q, %v", i, got, err)
			}
		}
	})
}

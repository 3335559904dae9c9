package nation

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// memNet is an in-memory network: listeners named by the host:port their
// node is registered under, and a dialer that connects to them through
// net.Pipe. Hundreds of nodes in one process then talk mutual TLS to each
// other without a file descriptor per connection: over loopback TCP every
// pair of peers costs four (a connection each way, both ends), and a
// national mix of 10,000 cases has some 5,000 pairs, past this machine's
// hard limit of 20,000 descriptors.
type memNet struct {
	mu        sync.Mutex
	listeners map[string]*memListener
}

func newMemNet() *memNet { return &memNet{listeners: map[string]*memListener{}} }

// Listen makes a listener for addr.
func (m *memNet) Listen(addr string) *memListener {
	l := &memListener{addr: memAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	m.mu.Lock()
	m.listeners[addr] = l
	m.mu.Unlock()
	return l
}

// Dial connects to the listener for addr (grpc.WithContextDialer).
func (m *memNet) Dial(ctx context.Context, addr string) (net.Conn, error) {
	m.mu.Lock()
	l := m.listeners[addr]
	m.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("memnet: nothing listens on %s", addr)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, fmt.Errorf("memnet: %s: %w", addr, net.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memListener struct {
	addr  memAddr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

// memAddr is the host:port a node is registered under.
type memAddr string

func (a memAddr) Network() string { return "memnet" }
func (a memAddr) String() string  { return string(a) }

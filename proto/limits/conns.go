package limits

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake on
// every jiexu listener (grpc.ConnectionTimeout; gRPC's default is 120 s).
const HandshakeTimeout = 10 * time.Second

// ErrTooManyConnections refuses a caller's handshake when its certificate
// already holds ConnGuard's per-caller number of connections.
var ErrTooManyConnections = errors.New("too many connections with this certificate")

// ConnGuard caps a listener's open connections so that no caller can take
// every place:
//
//   - A connection whose handshake has not finished holds a place only
//     until a new connection needs it: when the listener is full, the
//     oldest such connection is closed for the new one. A slowloris (TCP
//     connections that never send a TLS ClientHello) can therefore no
//     longer keep out callers who complete their handshake.
//   - Connections whose handshake finished count against their client
//     certificate; beyond perCaller the next handshake with it fails, so
//     one authenticated caller cannot hold every place either.
//   - When every place holds a finished handshake, a new connection waits
//     (as with netutil.LimitListener) until one closes.
//
// Use Listener for the listener and Credentials around the server's
// transport credentials; they must be used together.
type ConnGuard struct {
	max, perCaller int

	mu        sync.Mutex
	cond      *sync.Cond
	open      int
	pending   map[*guardedConn]struct{}
	byCaller  map[string]int
	closed    bool
	evictions int
}

// NewConnGuard returns a guard for max connections, perCaller of them per
// client certificate (0: no per-caller bound).
func NewConnGuard(max, perCaller int) *ConnGuard {
	g := &ConnGuard{max: max, perCaller: perCaller, pending: map[*guardedConn]struct{}{}, byCaller: map[string]int{}}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Evictions reports how many unfinished handshakes were closed to make
// room for a new connection.
func (g *ConnGuard) Evictions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.evictions
}

// Listener wraps l.
func (g *ConnGuard) Listener(l net.Listener) net.Listener { return &guardedListener{Listener: l, g: g} }

// Credentials wraps a server's transport credentials, so that a finished
// handshake is counted against its client certificate.
func (g *ConnGuard) Credentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return &guardedCreds{TransportCredentials: c, g: g}
}

type guardedListener struct {
	net.Listener
	g *ConnGuard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := l.g
	g.mu.Lock()
	for g.open >= g.max && !g.closed {
		var oldest *guardedConn
		for p := range g.pending {
			if oldest == nil || p.at.Before(oldest.at) {
				oldest = p
			}
		}
		if oldest == nil {
			g.cond.Wait() // every place holds a finished handshake
			continue
		}
		delete(g.pending, oldest)
		g.evictions++
		g.mu.Unlock()
		oldest.Close() // gives its place back
		g.mu.Lock()
	}
	if g.closed {
		g.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	gc := &guardedConn{Conn: c, g: g, at: time.Now()}
	g.open++
	g.pending[gc] = struct{}{}
	g.mu.Unlock()
	return gc, nil
}

func (l *guardedListener) Close() error {
	l.g.mu.Lock()
	l.g.closed = true
	l.g.cond.Broadcast()
	l.g.mu.Unlock()
	return l.Listener.Close()
}

type guardedConn struct {
	net.Conn
	g      *ConnGuard
	at     time.Time
	once   sync.Once
	caller string // set when the handshake finished
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		g := c.g
		g.mu.Lock()
		defer g.mu.Unlock()
		g.open--
		delete(g.pending, c)
		if c.caller != "" {
			if g.byCaller[c.caller]--; g.byCaller[c.caller] <= 0 {
				delete(g.byCaller, c.caller)
			}
		}
		g.cond.Signal()
	})
	return err
}

// established records a finished handshake by caller; it fails when the
// caller holds its share of connections already, or when the connection
// was closed meanwhile.
func (c *guardedConn) established(caller string) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.pending[c]; !ok {
		return net.ErrClosed // evicted while it finished
	}
	delete(g.pending, c)
	if g.perCaller > 0 && g.byCaller[caller] >= g.perCaller {
		return fmt.Errorf("%w (%d)", ErrTooManyConnections, g.perCaller)
	}
	g.byCaller[caller]++
	c.caller = caller
	return nil
}

type guardedCreds struct {
	credentials.TransportCredentials
	g *ConnGuard
}

func (c *guardedCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return nil, nil, err
	}
	if gc, ok := raw.(*guardedConn); ok {
		if err := gc.established(callerOf(info)); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, info, nil
}

func (c *guardedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ClientHandshake(ctx, authority, raw)
}

func (c *guardedCreds) Clone() credentials.TransportCredentials {
	return &guardedCreds{TransportCredentials: c.TransportCredentials.Clone(), g: c.g}
}

// callerOf names the client certificate of a finished handshake.
func callerOf(info credentials.AuthInfo) string {
	var leaf *x509.Certificate
	if ti, ok := info.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		leaf = ti.State.PeerCertificates[0]
	}
	if leaf == nil {
		return "no certificate"
	}
	sum := sha256.Sum256(leaf.Raw)
	return string(sum[:])
}

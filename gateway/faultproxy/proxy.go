package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is what a direction of a connection does with the bytes it carries.
type Mode int

const (
	// Pass forwards bytes as they come.
	Pass Mode = iota
	// Delay forwards bytes after the fault's Delay (latency, not a
	// bandwidth limit).
	Delay
	// Drop reads and discards bytes while it is set: the link loses them
	// and the connection stays open. Healing forwards again, so the two
	// ends see a stream with a hole in it.
	Drop
	// Hang stops reading: the sender's buffers fill and its writes block.
	// Healing resumes the connection where it stopped.
	Hang
	// BlackHole loses every byte for the rest of the connection's life,
	// even after Heal: a link whose middlebox forgot the flow (packets
	// vanish, nobody sends a reset). New connections after Heal pass.
	BlackHole
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Delay:
		return "delay"
	case Drop:
		return "drop"
	case Hang:
		return "hang"
	case BlackHole:
		return "black-hole"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Direction names one half of a proxied connection.
type Direction int

const (
	// Up is from the client (the dialer) to the target.
	Up Direction = iota
	// Down is from the target to the client.
	Down
)

func (d Direction) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// Fault is what the proxy does to a class of connections.
type Fault struct {
	// Up and Down are the modes of the two directions.
	Up, Down Mode
	// Delay is the latency added in a direction whose mode is Delay.
	Delay time.Duration
	// Reset closes every open connection with a TCP reset when the fault
	// is set, and resets new ones as soon as they are accepted: a
	// partition that the ends notice at once.
	Reset bool
}

// Healthy is the fault that does nothing.
var Healthy = Fault{}

// Both returns a fault with the same mode in both directions.
func Both(m Mode) Fault { return Fault{Up: m, Down: m} }

// Partition is a fault that resets every connection, old and new.
func Partition() Fault { return Fault{Reset: true} }

// Latency delays both directions by d.
func Latency(d time.Duration) Fault { return Fault{Up: Delay, Down: Delay, Delay: d} }

func (f Fault) mode(d Direction) Mode {
	if d == Up {
		return f.Up
	}
	return f.Down
}

func (f Fault) String() string {
	switch {
	case f.Reset:
		return "reset"
	case f == Healthy:
		return "healthy"
	case f.Up == f.Down && f.Up == Delay:
		return "delay " + f.Delay.String()
	case f.Up == f.Down:
		return f.Up.String()
	}
	return fmt.Sprintf("up %s, down %s", f.Up, f.Down)
}

// Option configures a Proxy.
type Option func(*Proxy)

// WithClassifier labels each accepted connection (by its source, say), so
// that faults can be set for one label with SetFor. Connections the
// classifier cannot label get "". It runs once per connection, before any
// byte is forwarded.
func WithClassifier(fn func(net.Conn) string) Option {
	return func(p *Proxy) { p.classify = fn }
}

// WithListenAddress makes the proxy listen on addr instead of 127.0.0.1:0.
func WithListenAddress(addr string) Option {
	return func(p *Proxy) { p.listenAddr = addr }
}

// Stats counts what a proxy did.
type Stats struct {
	Accepted, Reset, Active int
	// Forwarded and Lost count bytes.
	Forwarded, Lost int64
}

// Proxy forwards TCP connections from its listener to a target address,
// applying the current fault. It is safe for concurrent use.
type Proxy struct {
	classify   func(net.Conn) string
	listenAddr string
	lis        net.Listener

	mu      sync.Mutex // guards everything below
	target  string
	def     Fault
	byLabel map[string]Fault
	conns   map[*conn]struct{}
	changed chan struct{} // closed and replaced whenever a fault changes
	stats   Stats
	closed  bool
	wg      sync.WaitGroup
}

// New starts a proxy to target.
func New(target string, opts ...Option) (*Proxy, error) {
	p := &Proxy{target: target, listenAddr: "127.0.0.1:0", byLabel: map[string]Fault{}, conns: map[*conn]struct{}{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(p)
	}
	lis, err := net.Listen("tcp", p.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p.lis = lis
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the target.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget changes where new connections go (a restarted server on a new
// port); open connections keep their target.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Set sets the fault for every connection whose label has no fault of its
// own.
func (p *Proxy) Set(f Fault) { p.set("", f, true) }

// SetFor sets the fault for connections labelled label.
func (p *Proxy) SetFor(label string, f Fault) { p.set(label, f, false) }

// Heal clears every fault. Connections a black hole swallowed stay dead.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.def = Healthy
	p.byLabel = map[string]Fault{}
	p.notifyLocked()
	p.mu.Unlock()
}

// HealFor clears the fault of one label.
func (p *Proxy) HealFor(label string) { p.set(label, Healthy, false) }

// Fault returns the fault in force for label.
func (p *Proxy) Fault(label string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faultLocked(label)
}

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Active = len(p.conns)
	return s
}

func (p *Proxy) faultLocked(label string) Fault {
	if f, ok := p.byLabel[label]; ok && label != "" {
		return f
	}
	return p.def
}

func (p *Proxy) set(label string, f Fault, isDefault bool) {
	p.mu.Lock()
	if isDefault {
		p.def = f
	} else if f == Healthy {
		delete(p.byLabel, label)
	} else {
		p.byLabel[label] = f
	}
	var reset []*conn
	for c := range p.conns {
		cf := p.faultLocked(c.label)
		if cf.Reset {
			reset = append(reset, c)
			continue
		}
		for _, d := range []Direction{Up, Down} {
			if cf.mode(d) == BlackHole {
				c.dead[d] = true
			}
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
	for _, c := range reset {
		p.reset(c)
	}
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.notifyLocked()
	p.mu.Unlock()
	err := p.lis.Close()
	for _, c := range conns {
		c.close()
	}
	p.wg.Wait()
	return err
}

// conn is one proxied connection.
type conn struct {
	label          string
	client, server net.Conn
	dead           [2]bool // guarded by Proxy.mu: directions a black hole swallowed
	once           sync.Once
	gone           chan struct{} // closed with the connection
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.gone)
		c.client.Close()
		if c.server != nil {
			c.server.Close()
		}
	})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		cl, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.serve(cl) }()
	}
}

// resetConn closes a TCP connection with a reset rather than a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) reset(c *conn) {
	p.mu.Lock()
	p.stats.Reset++
	p.mu.Unlock()
	c.once.Do(func() {
		close(c.gone)
		resetConn(c.client)
		if c.server != nil {
			resetConn(c.server)
		}
	})
}

func (p *Proxy) serve(cl net.Conn) {
	label := ""
	if p.classify != nil {
		label = p.classify(cl)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cl.Close()
		return
	}
	p.stats.Accepted++
	f := p.faultLocked(label)
	target := p.target
	p.mu.Unlock()
	if f.Reset {
		p.mu.Lock()
		p.stats.Reset++
		p.mu.Unlock()
		resetConn(cl)
		return
	}
	c := &conn{label: label, client: cl, gone: make(chan struct{})}
	p.mu.Lock()
	for _, d := range []Direction{Up, Down} {
		c.dead[d] = f.mode(d) == BlackHole
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	if c.dead[Up] && c.dead[Down] {
		// Swallowed from the start: the target never hears of it.
		_, _ = io.Copy(io.Discard, cl)
		return
	}
	srv, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		resetConn(cl)
		return
	}
	p.mu.Lock()
	c.server = srv
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(c, Up, cl, srv) }()
	go func() { defer wg.Done(); p.pump(c, Down, srv, cl) }()
	wg.Wait()
}

// chunk is bytes read and the time they may be written.
type chunk struct {
	data []byte
	due  time.Time
}

// state returns a direction's mode, its delay and the channel that closes
// when the fault next changes.
func (p *Proxy) state(c *conn, d Direction) (Mode, time.Duration, <-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.dead[d] {
		return BlackHole, 0, p.changed, p.closed
	}
	f := p.faultLocked(c.label)
	return f.mode(d), f.Delay, p.changed, p.closed
}

// pump moves one direction: a reader that applies the mode as each chunk
// arrives, and a writer that writes chunks when they are due.
func (p *Proxy) pump(c *conn, d Direction, src, dst net.Conn) {
	queue := make(chan chunk, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range queue {
			if wait := time.Until(ch.due); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(ch.data); err != nil {
				c.close()
				for range queue { // drain so the reader never blocks
				}
				return
			}
			p.mu.Lock()
			p.stats.Forwarded += int64(len(ch.data))
			p.mu.Unlock()
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	defer func() { close(queue); <-done }()
	buf := make([]byte, 32<<10)
	for {
		mode, _, changed, closed := p.state(c, d)
		if closed {
			return
		}
		if mode == Hang {
			select {
			case <-changed:
			case <-c.gone:
				return
			}
			continue
		}
		n, err := src.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			for {
				mode, delay, changed, closed := p.state(c, d)
				if closed {
					return
				}
				switch mode {
				case Hang: // set while this chunk was on its way: hold it
					select {
					case <-changed:
					case <-c.gone:
						return
					}
					continue
				case Drop, BlackHole:
					p.mu.Lock()
					p.stats.Lost += int64(n)
					p.mu.Unlock()
				case Delay:
					queue <- chunk{data: data, due: time.Now().Add(delay)}
				default:
					queue <- chunk{data: data}
				}
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.close()
			}
			return
		}
	}
}

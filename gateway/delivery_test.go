package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"jiexu/certs"
	"jiexu/certs/certtest"
	"jiexu/gateway/faultproxy"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// fakePeer is node 150700's TransferService: NotifyTransfer answers with
// whatever answer returns for the message's case id.
type fakePeer struct {
	jiexuv1.UnimplementedTransferServiceServer
	mu     sync.Mutex
	answer func(caseID string) error
	seen   map[string]int // message id → calls
	addr   string
	signer *certs.Signer
}

func (p *fakePeer) NotifyTransfer(_ context.Context, req *jiexuv1.NotifyTransferRequest) (*jiexuv1.NotifyTransferResponse, error) {
	p.mu.Lock()
	p.seen[req.GetHeader().GetMessageId()]++
	answer := p.answer
	p.mu.Unlock()
	if answer != nil {
		if err := answer(req.GetHeader().GetCaseId()); err != nil {
			return nil, err
		}
	}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, err
	}
	receipt, err := Acknowledge(p.signer, jiexuv1.TransferService_NotifyTransfer_FullMethodName, wire, time.Now()) // sealed, as a node's
	if err != nil {
		return nil, err
	}
	return &jiexuv1.NotifyTransferResponse{Receipt: receipt}, nil
}

func (p *fakePeer) setAnswer(fn func(caseID string) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer = fn
}

// startPeer serves 150700 on a real TLS listener with the servers'
// keepalive policy.
func (f *fixture) startPeer(t *testing.T) *fakePeer {
	t.Helper()
	issued := certtest.Node(t, f.ca, "150700")
	kp, err := certs.LoadKeyPair(issued.CertFile(), issued.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(issued.CAFile())
	srv := grpc.NewServer(append(ServerOptions(), grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots))))...)
	p := &fakePeer{seen: map[string]int{}, signer: issued.Signer}
	jiexuv1.RegisterTransferServiceServer(srv, p)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	p.addr = lis.Addr().String()
	return p
}

// route registers 150700 at addr and installs the signed snapshot.
func (f *fixture) route(t *testing.T, g *Gateway, addr string) {
	t.Helper()
	if err := registry.AddNode(f.snapDir, f.table, &jiexuv1.Node{Region: "150700", AgencyName: "150700", Address: addr}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Directory().Install(f.sign(t)); err != nil {
		t.Fatal(err)
	}
}

// running starts a gateway with fast retries; mutate adjusts its config.
func (f *fixture) running(t *testing.T, mutate func(*Config)) *Gateway {
	t.Helper()
	g := f.gateway(t, func(c *Config) {
		c.RetryMin, c.RetryMax = 10*time.Millisecond, 50*time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); g.Wait() })
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return g
}

// enqueue queues a notification for case caseID to 150700.
func enqueue(t *testing.T, g *Gateway, caseID string) {
	t.Helper()
	err := g.cfg.DB.Update(func(tx *bolt.Tx) error {
		return g.Enqueue(tx, "150700", jiexuv1.TransferService_NotifyTransfer_FullMethodName, caseID,
			&jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: "王伟", IdNumber: "11010519491231002X"}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond (bounded) and fails with what() when it never holds.
func waitUntil(t *testing.T, bound time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", bound, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func list(t *testing.T, g *Gateway, dead bool) []*jiexuv1.OutboxMessage {
	t.Helper()
	ms, _, err := g.List(ListQuery{Dead: dead, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func describe(ms []*jiexuv1.OutboxMessage) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[%s attempts=%d code=%q dead=%v reason=%q err=%q] ", m.GetCaseId(), m.GetAttempts(), m.GetLastCode(), m.GetDead(), m.GetDeadReason(), m.GetLastError())
	}
	return b.String()
}

// Each status code a peer can answer is retried or dead-lettered as the
// policy table says, and a dead letter says why.
func TestDeliveryPolicyPerCode(t *testing.T) {
	f := newFixture(t)
	peer := f.startPeer(t)
	g := f.running(t, func(c *Config) { c.RefusalGrace = 300 * time.Millisecond })
	f.route(t, g, peer.addr)
	retryInfo, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Hour)})
	tests := []struct {
		code   codes.Code
		answer error
		want   string // "dead": a dead letter at once; "grace": dead after the grace; "retry": still queued after several attempts; "hour": next attempt an hour away
	}{
		{codes.InvalidArgument, nil, "dead"},
		{codes.FailedPrecondition, nil, "dead"},
		{codes.AlreadyExists, nil, "dead"},
		{codes.OutOfRange, nil, "dead"},
		{codes.Unimplemented, nil, "dead"},
		{codes.PermissionDenied, nil, "grace"},
		{codes.Unauthenticated, nil, "grace"},
		{codes.NotFound, nil, "grace"},
		{codes.Unavailable, nil, "retry"},
		{codes.Internal, nil, "retry"},
		{codes.Aborted, nil, "retry"},
		{codes.Unknown, nil, "retry"},
		{codes.DataLoss, nil, "retry"},
		{codes.ResourceExhausted, retryInfo.Err(), "hour"},
	}
	answers := map[string]error{}
	for _, tt := range tests {
		err := tt.answer
		if err == nil {
			err = status.Error(tt.code, "peer says "+tt.code.String())
		}
		answers["case-"+tt.code.String()] = err
	}
	peer.setAnswer(func(caseID string) error { return answers[caseID] })
	for _, tt := range tests {
		enqueue(t, g, "case-"+tt.code.String())
	}
	find := func(caseID string) (*jiexuv1.OutboxMessage, bool) {
		for _, dead := range []bool{false, true} {
			for _, m := range list(t, g, dead) {
				if m.GetCaseId() == caseID {
					return m, dead
				}
			}
		}
		return nil, false
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			id := "case-" + tt.code.String()
			var m *jiexuv1.OutboxMessage
			var dead bool
			waitUntil(t, 20*time.Second, func() bool {
				m, dead = find(id)
				switch tt.want {
				case "dead", "grace":
					return dead
				case "retry":
					return m.GetAttempts() >= 5
				}
				return m.GetAttempts() >= 1
			}, func() string { return "message is " + describe([]*jiexuv1.OutboxMessage{m}) })
			switch tt.want {
			case "dead":
				if m.GetAttempts() != 1 || !strings.HasPrefix(m.GetDeadReason(), "refused for good") || m.GetLastCode() != tt.code.String() {
					t.Errorf("dead letter %s; want dead after 1 attempt, refused for good, code %s", describe([]*jiexuv1.OutboxMessage{m}), tt.code)
				}
			case "grace":
				if m.GetAttempts() < 2 || !strings.Contains(m.GetDeadReason(), "grace period") {
					t.Errorf("dead letter %s; want retried, then dead after the grace period", describe([]*jiexuv1.OutboxMessage{m}))
				}
			case "retry":
				if dead || m.GetLastCode() != tt.code.String() {
					t.Errorf("message %s; want still queued with code %s", describe([]*jiexuv1.OutboxMessage{m}), tt.code)
				}
			case "hour":
				if wait := time.Until(m.GetNextAttemptAt().AsTime()); dead || wait < 59*time.Minute {
					t.Errorf("next attempt in %s (dead %v); want the peer's RetryInfo of 1h honoured", wait, dead)
				}
			}
		})
	}
}

// A business hook that fails on one acknowledgement isolates that message
// (a dead letter marked delivered, with the reason) and the rest of the
// peer's outbox goes on; a redrive applies the acknowledgement once the
// hook works.
func TestAckFailureIsIsolated(t *testing.T) {
	f := newFixture(t)
	peer := f.startPeer(t)
	var mu sync.Mutex
	broken := true
	acked := map[string]int{}
	g := f.gateway(t, func(c *Config) { c.RetryMin, c.RetryMax = 10*time.Millisecond, 50*time.Millisecond })
	g.OnAck(func(tx *bolt.Tx, m *jiexuv1.OutboxMessage) error {
		mu.Lock()
		defer mu.Unlock()
		if m.GetCaseId() == "bad" && broken {
			return fmt.Errorf("hook cannot advance case %s", m.GetCaseId())
		}
		if m.GetCaseId() == "panics" && broken {
			panic("hook bug")
		}
		// Counted when the acknowledgement commits: a transaction that is
		// run again without the failing message counts once.
		tx.OnCommit(func() { mu.Lock(); acked[m.GetCaseId()]++; mu.Unlock() })
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); g.Wait() }()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.route(t, g, peer.addr)
	for _, id := range []string{"a", "bad", "b", "panics", "c"} {
		enqueue(t, g, id)
	}
	waitUntil(t, 20*time.Second, func() bool { return len(list(t, g, false)) == 0 && len(list(t, g, true)) == 2 },
		func() string {
			return "outbox " + describe(list(t, g, false)) + "; dead " + describe(list(t, g, true))
		})
	mu.Lock()
	for _, id := range []string{"a", "b", "c"} {
		if acked[id] != 1 {
			t.Errorf("case %s acknowledged %d times, want 1", id, acked[id])
		}
	}
	broken = false
	mu.Unlock()
	for _, m := range list(t, g, true) {
		if !m.GetDelivered() || !strings.Contains(m.GetDeadReason(), ErrAckFailed.Error()) {
			t.Errorf("dead letter %s: want delivered with the ack failure as its reason", describe([]*jiexuv1.OutboxMessage{m}))
		}
	}
	if n, err := g.Redrive(nil); err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want 2", n, err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return acked["bad"] == 1 && acked["panics"] == 1
	}, func() string { return fmt.Sprintf("acknowledged %v after the redrive", acked) })
	if d := list(t, g, true); len(d) != 0 {
		t.Errorf("dead letters after a successful redrive: %s", describe(d))
	}
}

// A link that swallows packets without a reset leaves gRPC with a
// connection that looks healthy and on which every call times out. The
// dispatcher notices the calls making no progress and dials afresh: once
// the link heals, the backlog drains.
func TestBlackHoledLinkDrainsAfterHeal(t *testing.T) {
	f := newFixture(t)
	peer := f.startPeer(t)
	proxy, err := faultproxy.New(peer.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// Keepalive at its slowest, so that only the dispatcher can recover
	// within the test's bound.
	g := f.running(t, func(c *Config) { c.CallTimeout, c.KeepaliveTime = 300*time.Millisecond, time.Hour })
	f.route(t, g, proxy.Addr())
	enqueue(t, g, "warm-up")
	waitUntil(t, 20*time.Second, func() bool { return len(list(t, g, false)) == 0 }, func() string { return describe(list(t, g, false)) })

	proxy.Set(faultproxy.Both(faultproxy.BlackHole))
	for i := range 5 {
		enqueue(t, g, fmt.Sprintf("queued-%d", i))
	}
	waitUntil(t, 20*time.Second, func() bool {
		ms := list(t, g, false)
		return len(ms) == 5 && ms[0].GetAttempts() >= 2 && ms[0].GetLastCode() == codes.DeadlineExceeded.String()
	}, func() string { return "during the black hole: " + describe(list(t, g, false)) })
	proxy.Heal()
	waitUntil(t, 30*time.Second, func() bool { return len(list(t, g, false)) == 0 },
		func() string { return "after healing, still queued: " + describe(list(t, g, false)) })
	if n := testutilCount(g.metrics.replaced.WithLabelValues("150700")); n < 1 {
		t.Errorf("connections replaced = %v, want at least 1", n)
	}
}

// With the dispatcher's detector off, keepalive alone closes a connection
// whose packets vanish, and the next attempt dials afresh.
func TestKeepaliveClosesASwallowedConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for gRPC's minimum keepalive interval (10s)")
	}
	f := newFixture(t)
	peer := f.startPeer(t)
	proxy, err := faultproxy.New(peer.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	g := f.running(t, func(c *Config) {
		c.StallAfter, c.CallTimeout = 0, time.Second
		c.KeepaliveTime, c.KeepaliveTimeout = 10*time.Second, time.Second
	})
	f.route(t, g, proxy.Addr())
	enqueue(t, g, "warm-up")
	waitUntil(t, 20*time.Second, func() bool { return len(list(t, g, false)) == 0 }, func() string { return describe(list(t, g, false)) })
	proxy.Set(faultproxy.Both(faultproxy.BlackHole))
	proxy.Heal() // the open connection stays swallowed; new ones pass
	enqueue(t, g, "after")
	waitUntil(t, 60*time.Second, func() bool { return len(list(t, g, false)) == 0 },
		func() string { return "still queued: " + describe(list(t, g, false)) })
}

// The registry client dials again as soon as it tries, whatever gRPC's
// reconnect backoff says, and logs an outage once.
func TestRegistryReturnIsNoticedAtOnce(t *testing.T) {
	f := newFixture(t)
	f.sign(t)
	serve := func(addr string) (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		addrc, done := make(chan string, 1), make(chan struct{})
		go func() {
			defer close(done)
			_ = registry.Serve(ctx, registry.ServeConfig{Dir: f.snapDir, Listen: addr,
				CertFile: f.reg.CertFile(), KeyFile: f.reg.KeyFile(), CAFile: f.reg.CAFile(),
				Ready: func(a net.Addr) { addrc <- a.String() }})
		}()
		select {
		case a := <-addrc:
			return a, func() { cancel(); <-done }
		case <-done:
			t.Fatalf("registry did not start on %s", addr)
		}
		return "", nil
	}
	addr, stop := serve("127.0.0.1:0")
	var logs bytes.Buffer
	var logMu sync.Mutex
	g := f.running(t, func(c *Config) {
		c.RegistryAddress, c.RegistryRefresh = addr, 50*time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
		// gRPC's own reconnect backoff as long as a real outage makes it:
		// without a reset, the client would not dial again for a minute.
		c.DialOptions = []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoffConfig(time.Minute), MinConnectTimeout: time.Second})}
	})
	waitUntil(t, 20*time.Second, func() bool { return g.Directory().Version() == 1 }, func() string { return "no first snapshot" })
	stop()
	waitUntil(t, 20*time.Second, func() bool {
		logMu.Lock()
		defer logMu.Unlock()
		return strings.Count(logs.String(), "registry unreachable") == 1
	}, func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return "the outage was not logged:\n" + logs.String()
	})
	time.Sleep(300 * time.Millisecond) // several more attempts fail, in gRPC's backoff
	f.sign(t)
	_, stop = serve(addr)
	defer stop()
	waitUntil(t, 10*time.Second, func() bool { return g.Directory().Version() == 2 },
		func() string {
			return fmt.Sprintf("version %d after the registry returned, want 2", g.Directory().Version())
		})
	logMu.Lock()
	defer logMu.Unlock()
	if n, m := strings.Count(logs.String(), "registry unreachable"), strings.Count(logs.String(), "registry reachable again"); n != 1 || m != 1 {
		t.Errorf("logged the outage %d times and its end %d times, want once each:\n%s", n, m, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Peers get a code and a generic message; the detail (a path, a local
// error) stays in the error this node logs.
func TestStatusOfKeepsLocalDetail(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code codes.Code
	}{
		{"unclassified", fmt.Errorf("open /var/lib/jiexu/data/jiexu.db: something broke"), codes.Internal},
		{"disk full", fmt.Errorf("write /var/lib/jiexu/data/jiexu.db: %w", errNoSpace), codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := StatusOf(tt.err)
			st, _ := status.FromError(err)
			if st.Code() != tt.code {
				t.Errorf("code = %s, want %s", st.Code(), tt.code)
			}
			if strings.Contains(st.Message(), "/var/lib") || strings.Contains(st.Message(), "broke") {
				t.Errorf("peer's message %q carries local detail", st.Message())
			}
			if !strings.Contains(err.Error(), "/var/lib/jiexu") || !strings.Contains(err.Error(), "ref ") {
				t.Errorf("logged error %q lost the detail or the reference", err)
			}
			ref := err.Error()[strings.Index(err.Error(), "ref ")+4:][:8]
			if !strings.Contains(st.Message(), ref) {
				t.Errorf("peer's message %q lacks the reference %s", st.Message(), ref)
			}
			if wrapped := StatusOf(fmt.Errorf("context: %w", err)); wrapped != err {
				t.Errorf("StatusOf of a wrapped local error = %v, want the same error", wrapped)
			}
		})
	}
}

var errNoSpace = syscall.ENOSPC

func testutilCount(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func backoffConfig(d time.Duration) backoff.Config {
	return backoff.Config{BaseDelay: d, Multiplier: 1.6, MaxDelay: d}
}

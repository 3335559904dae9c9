package devnet_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"jiexu/gateway"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// holdOpen opens n TCP connections to addr that never send a byte (no TLS
// ClientHello): a slowloris from another address of this machine.
func holdOpen(t *testing.T, addr string, n int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slowloris connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// Attack: anyone who can reach the inter-node port (no certificate needed)
// opens max_connections TCP connections and never starts TLS. Before, each
// held a place under the listener's connection cap for gRPC's 120 s
// handshake timeout, and renewing them was enough to keep every peer out:
// a registered peer's call got no answer. Now a connection that has not
// finished its handshake gives its place to a new one when the listener is
// full, and handshakes have 10 s.
func TestSlowlorisDoesNotLockPeersOut(t *testing.T) {
	tn := startNet(t, devnet.Options{Limits: tightLimits()}, hohhot)
	holdOpen(t, tn.Node(hohhot).Addrs().Listen, tightLimits().MaxConnections)
	time.Sleep(200 * time.Millisecond) // all accepted
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(bt.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a registered peer's call while %d silent connections are open: %v; want an answer", tightLimits().MaxConnections, err)
	}
}

// Attack: a registered peer, with its valid certificate, opens
// max_connections connections and lets them idle (the server closes an idle
// connection only after 15 minutes). Before, every other peer was kept out.
// Now one certificate holds at most max_connections_per_caller of them; the
// next handshake with it fails, and other peers still get in.
func TestOnePeerCannotHoldEveryConnection(t *testing.T) {
	lim := tightLimits()
	lim.MaxConnectionsPerCaller = 4
	tn := startNet(t, devnet.Options{Limits: lim}, hohhot)
	check := func(p *peer, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := healthpb.NewHealthClient(p.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	dir := layoutOf(t, tn.Layout, baotou).Dir
	var answered int
	for i := 0; i < lim.MaxConnections; i++ {
		if check(dialAs(t, tn, baotou, dir, hohhot), 2*time.Second) == nil {
			answered++
		}
	}
	if answered != lim.MaxConnectionsPerCaller {
		t.Errorf("one peer got %d of %d connections answered, want %d (max_connections_per_caller)", answered, lim.MaxConnections, lim.MaxConnectionsPerCaller)
	}
	other := dialAs(t, tn, hulunbuir, layoutOf(t, tn.Layout, hulunbuir).Dir, hohhot)
	if err := check(other, 10*time.Second); err != nil {
		t.Fatalf("another peer while the first holds its connections: %v; want an answer", err)
	}
}

// Attack: a registered peer (包头) probes case ids that are not its own.
// Case ids are sequential (REGION-YYYYMMDD-NNNNNN), and before, a message
// about a case shared with another region was refused with
// PermissionDenied "case … is shared with 150700, not 150200", while an
// unknown id got NotFound: the peer learnt which cases exist here and which
// region each person is moving to or from. Now a case not shared with the
// sender is answered exactly as a case that does not exist.
func TestPeerCannotProbeCasesOfOthers(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	// 呼和浩特 holds a case shared with 呼伦贝尔 (queued there, not running).
	shared := tn.enrolAndApply(tn.firstEmployee(hulunbuir, 0), hulunbuir, hohhot).GetCaseId()
	missing := hohhot + "-" + time.Now().In(rules.CST).Format("20060102") + "-999999"
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	person := tn.people(hohhot)[1].GetPerson()
	probes := []struct {
		name string
		send func(caseID string) error
	}{
		{"ConfirmRemittance", func(id string) error {
			m := &jiexuv1.ConfirmRemittanceRequest{Header: bt.header(hohhot, id, gateway.NewMessageID()), AmountFen: 1}
			bt.seal(t, m)
			_, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ConfirmRemittance(ctx, m)
			return err
		}},
		{"RejectTransfer", func(id string) error {
			m := &jiexuv1.RejectTransferRequest{Header: bt.header(hohhot, id, gateway.NewMessageID()), Reason: jiexuv1.RejectReason_REJECT_REASON_OTHER, Detail: "x"}
			bt.seal(t, m)
			_, err := jiexuv1.NewTransferServiceClient(bt.conn).RejectTransfer(ctx, m)
			return err
		}},
		{"WithdrawTransfer", func(id string) error {
			m := &jiexuv1.WithdrawTransferRequest{Header: bt.header(hohhot, id, gateway.NewMessageID())}
			bt.seal(t, m)
			_, err := jiexuv1.NewTransferServiceClient(bt.conn).WithdrawTransfer(ctx, m)
			return err
		}},
		{"NotifyTransfer", func(id string) error {
			m := notice(bt, hohhot, id, gateway.NewMessageID(), person)
			bt.seal(t, m)
			_, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, m)
			return err
		}},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			onShared, onMissing := status.Convert(p.send(shared)), status.Convert(p.send(missing))
			if onShared.Code() == codes.OK {
				t.Fatalf("a message about a case shared with 呼伦贝尔 was accepted")
			}
			if onShared.Code() != onMissing.Code() || strings.ReplaceAll(onShared.Message(), shared, "ID") != strings.ReplaceAll(onMissing.Message(), missing, "ID") {
				t.Errorf("the answers tell the cases apart:\n existing, shared with 呼伦贝尔: %s %q\n none:                          %s %q",
					onShared.Code(), onShared.Message(), onMissing.Code(), onMissing.Message())
			}
			if strings.Contains(onShared.Message(), hulunbuir) {
				t.Errorf("the answer names the case's counterparty: %q", onShared.Message())
			}
		})
	}
}

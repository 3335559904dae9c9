package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// callerContext is what a server sees of a caller presenting cert.
func callerContext(t *testing.T, i certtest.Issued) context.Context {
	t.Helper()
	cert, err := certs.LoadCertificate(i.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	return peer.NewContext(context.Background(), &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}},
	})
}

// serveRegistry serves f's registry folder on 127.0.0.1 and returns its address.
func serveRegistry(t *testing.T, f *fixture) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- registry.Serve(ctx, registry.ServeConfig{Dir: f.snapDir, Listener: lis,
			CertFile: f.reg.CertFile(), KeyFile: f.reg.KeyFile(), CAFile: f.reg.CAFile()})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

func TestAnUnknownCallerMakesTheNodeRefreshAtOnce(t *testing.T) {
	f := newFixture(t)
	f.sign(t)
	addr := serveRegistry(t, f)
	g := f.gateway(t, func(c *Config) { c.RegistryAddress, c.RegistryRefresh = addr, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); g.Wait() }()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; g.Directory().Version() == 0; i++ {
		if i > 200 {
			t.Fatal("no first snapshot from the registry")
		}
		time.Sleep(25 * time.Millisecond)
	}

	// Before any refusal, every reason is counted from 0.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(g.Metrics())
	if n := seriesCount(t, reg, "jiexu_peers_refused_total"); n != len(refusalReasons) {
		t.Errorf("jiexu_peers_refused_total has %d series before any refusal, want %d at 0", n, len(refusalReasons))
	}
	if n := seriesCount(t, reg, "jiexu_outbox_deliveries_total"); n != 2 {
		t.Errorf("jiexu_outbox_deliveries_total has %d series, want ok and error for peer 150700", n)
	}

	// A region that joins after this node's last refresh is accepted on its
	// first call, without waiting an hour for the next refresh.
	joined := certtest.Node(t, f.ca, "150781")
	if _, err := g.Authorize(callerContext(t, joined)); !errors.Is(err, ErrUnregistered) {
		t.Fatalf("Authorize(unregistered 150781) = %v, want ErrUnregistered", err)
	}
	cert, _ := certs.LoadCertificate(joined.CertFile())
	if err := registry.AddNode(f.snapDir, f.table, &jiexuv1.Node{Region: "150781", AgencyName: "x", Address: "127.0.0.1:1",
		CertificateFingerprints: []string{certs.Fingerprint(cert)}}); err != nil {
		t.Fatal(err)
	}
	f.sign(t)
	g.refreshMu.Lock()
	g.lastForced = time.Time{} // the refusal above just refreshed; this is a later call
	g.refreshMu.Unlock()
	if region, err := g.Authorize(callerContext(t, joined)); err != nil || region != "150781" {
		t.Fatalf("Authorize(just joined) = %q, %v; want 150781 accepted after a refresh", region, err)
	}

	// A renewed certificate the registry does not list yet is refused with
	// the fix, and counted under its own reason.
	renewed := certtest.Node(t, f.ca, "150781")
	_, err := g.Authorize(callerContext(t, renewed))
	if !errors.Is(err, ErrCertificateNotListed) || !strings.Contains(err.Error(), "jiexu registry add") || !strings.Contains(err.Error(), "jiexu registry sign") {
		t.Errorf("Authorize(renewed) = %v, want ErrCertificateNotListed naming 'jiexu registry add … --cert NEW.pem' and 'jiexu registry sign'", err)
	}
	if got := refusalReason(err); got != "certificate_not_listed" {
		t.Errorf("refusalReason = %q, want certificate_not_listed", got)
	}
}

// seriesCount counts the series of one metric family.
func seriesCount(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

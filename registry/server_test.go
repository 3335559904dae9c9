package registry_test

import (
	"context"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
	"jiexu/registry"
)

// serveRegistry runs the registry service on a folder with one signed
// snapshot and returns its address.
func serveRegistry(t *testing.T, f fixture, mutate func(*registry.ServeConfig)) string {
	t.Helper()
	dir := t.TempDir()
	if err := registry.InitDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := registry.AddNode(dir, registry.DefaultTable(), &jiexuv1.Node{Region: "150100", AgencyName: "x", Address: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	crl, err := f.ca.Revoked()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.SignDirectory(dir, registry.DefaultTable(), f.registry.Signer, crl.DER, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	cfg := registry.ServeConfig{Dir: dir, Listen: "127.0.0.1:0", CertFile: f.registry.CertFile(), KeyFile: f.registry.KeyFile(), CAFile: f.registry.CAFile(),
		Ready: func(a net.Addr) { addr <- a.String() }}
	if mutate != nil {
		mutate(&cfg)
	}
	go func() { done <- registry.Serve(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatal(err)
	}
	return ""
}

func dialRegistry(t *testing.T, addr string, as certtest.Issued) jiexuv1.RegistryServiceClient {
	t.Helper()
	kp, err := certs.LoadKeyPair(as.CertFile(), as.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(filepath.Join(as.Dir, certs.CACertFile))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(certs.ClientTLS(kp, roots, certs.RegistryRole))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return jiexuv1.NewRegistryServiceClient(conn)
}

// The registry gives each caller a rate and bounds what it reads.
func TestRegistryLimits(t *testing.T) {
	f := newFixture(t)
	addr := serveRegistry(t, f, func(c *registry.ServeConfig) { c.Rate, c.Burst = 0.01, 3 })
	c := dialRegistry(t, addr, f.node)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := c.GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{})
	if _, hint := limits.RetryAfter(err); !hint {
		t.Fatalf("fourth call: %v, want ResourceExhausted with a retry hint", err)
	}
	// Another caller has its own bucket.
	other := dialRegistry(t, addr, certtest.Node(t, f.ca, "150700"))
	if _, err := other.GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{}); err != nil {
		t.Fatalf("another caller: %v", err)
	}
	big := &jiexuv1.GetSnapshotRequest{}
	big.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), make([]byte, 100<<10)))
	if _, err := other.GetSnapshot(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 100 KiB request: %v, want ResourceExhausted", err)
	}
}

// Finding 6: the registry (and its health service) answered revoked callers.
func TestRegistryRefusesRevokedCallers(t *testing.T) {
	f := newFixture(t)
	revoked := certtest.Node(t, f.ca, "150700")
	if _, err := f.ca.Revoke([]*big.Int{revoked.Signer.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	addr := serveRegistry(t, f, nil) // its snapshot carries the list
	ctx := context.Background()
	if _, err := dialRegistry(t, addr, f.node).GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{}); err != nil {
		t.Fatalf("a good caller: %v", err)
	}
	c := dialRegistry(t, addr, revoked)
	if _, err := c.GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetSnapshot from a revoked caller: %v, want Unauthenticated", err)
	}
	conn := dialConn(t, addr, revoked)
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("health check from a revoked caller: %v, want Unauthenticated", err)
	}
}

func dialConn(t *testing.T, addr string, as certtest.Issued) *grpc.ClientConn {
	t.Helper()
	kp, err := certs.LoadKeyPair(as.CertFile(), as.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(filepath.Join(as.Dir, certs.CACertFile))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(certs.ClientTLS(kp, roots, certs.RegistryRole))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

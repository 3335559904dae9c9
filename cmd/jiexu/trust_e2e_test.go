package main

import (
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// trustNet is a devnet of separate processes for the trust tests: the
// registry and the given nodes, refreshing the registry every 100ms.
type trustNet struct {
	dir, caDir, regDir string
	registry           *process
	cfgs               map[string]string
	clients            map[string]jiexuv1.AgencyServiceClient
	registryAddr       string
}

func startTrustNet(t *testing.T, regions ...string) *trustNet {
	t.Helper()
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", strings.Join(regions, ","), "--people", "4")
	tn := &trustNet{dir: dir, caDir: filepath.Join(dir, "ca"), regDir: filepath.Join(dir, "registry"),
		cfgs: map[string]string{}, clients: map[string]jiexuv1.AgencyServiceClient{}}
	for _, r := range regions {
		path := filepath.Join(dir, "nodes", r, "node.json")
		cfg, err := node.LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RegistryRefresh = node.Duration(100 * time.Millisecond)
		if err := node.WriteConfig(path, cfg); err != nil {
			t.Fatal(err)
		}
		tn.cfgs[r], tn.registryAddr = path, cfg.RegistryAddress
	}
	tn.registry = start(t, filepath.Join(dir, "registry.log"), "registry", "serve", "--dir", tn.regDir, "--listen", tn.registryAddr, "--tls", filepath.Join(tn.regDir, "tls"))
	for _, r := range regions {
		start(t, filepath.Join(dir, r+".log"), "node", "serve", "--config", tn.cfgs[r])
		tn.clients[r] = agencyOf(t, tn.cfgs[r])
	}
	return tn
}

// registryVersion is what a node reports as its snapshot version.
func (tn *trustNet) registryVersion(t *testing.T, region string) uint64 {
	t.Helper()
	s, err := tn.clients[region].GetStatus(context.Background(), &jiexuv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return s.GetRegistryVersion()
}

// waitRegistryVersion waits (bounded) until every node reports version want.
func (tn *trustNet) waitRegistryVersion(t *testing.T, want uint64) {
	t.Helper()
	for r := range tn.clients {
		var got uint64
		for i := 0; i < 300; i++ {
			if got = tn.registryVersion(t, r); got == want {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got != want {
			t.Fatalf("node %s holds registry version %d, want %d", r, got, want)
		}
	}
}

// stolenSnapshot is what the holder of the registry's stolen key publishes:
// the directory at the highest version there is, with the current list.
func stolenSnapshot(t *testing.T, regDir, keyDir string) *jiexuv1.SignedSnapshot {
	t.Helper()
	kp, err := certs.LoadKeyPair(filepath.Join(keyDir, certs.CertFile), filepath.Join(keyDir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := registry.LoadDirectory(regDir)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := registry.LoadSigned(filepath.Join(regDir, registry.SnapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	var old jiexuv1.Snapshot
	_ = proto.Unmarshal(prev.GetSnapshot(), &old)
	registry.Stamp(snap, math.MaxUint64, time.Now(), 24*time.Hour)
	snap.RevocationList, snap.RegistryEpoch = old.GetRevocationList(), 0
	signed, err := registry.Sign(snap, kp.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// The registry's key is stolen and used to publish the highest version
// there is, which locks every node out of later snapshots. The documented
// recovery, with the CLI only: the CA revokes the registry certificate,
// issues a new one and announces it (epoch 1); the registry signs with it and
// serves again. Every node follows, and the stolen key is refused from then
// on whatever version it claims.
func TestRegistryKeyRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	tn := startTrustNet(t, "150100", "150700")
	tn.waitRegistryVersion(t, 1)
	oldTLS := filepath.Join(tn.regDir, "tls")

	// Whoever stole the registry's key serves the highest version there is
	// from a registry of their own on its address.
	tn.registry.kill(syscall.SIGKILL)
	stop := rogue(t, tn.registryAddr, oldTLS, stolenSnapshot(t, tn.regDir, oldTLS))
	tn.waitRegistryVersion(t, math.MaxUint64)
	stop()
	// The real registry is back and signs as usual, but no node can take a
	// lower version: they are locked out.
	tn.registry = start(t, filepath.Join(tn.dir, "registry-1.log"), "registry", "serve", "--dir", tn.regDir, "--listen", tn.registryAddr, "--tls", oldTLS)
	jiexu(t, "registry", "sign", "--dir", tn.regDir, "--ca", tn.caDir, "--tls", oldTLS)
	time.Sleep(500 * time.Millisecond) // five refreshes
	if v := tn.registryVersion(t, "150100"); v != math.MaxUint64 {
		t.Fatalf("locked-out node holds %d", v)
	}

	// The recovery, step by step as the README gives it.
	newTLS := filepath.Join(tn.regDir, "tls-2")
	jiexu(t, "ca", "revoke", "--ca", tn.caDir, "--cert", filepath.Join(oldTLS, certs.CertFile))
	jiexu(t, "ca", "issue", "--ca", tn.caDir, "--registry", "--name", "jiexu registry", "--out", newTLS, "--host", "127.0.0.1")
	out := jiexu(t, "ca", "announce-registry", "--ca", tn.caDir, "--cert", filepath.Join(newTLS, certs.CertFile), "--epoch", "1",
		"--out", filepath.Join(tn.regDir, registry.AnnouncementFile))
	if !strings.Contains(out, "epoch 1") {
		t.Fatalf("announce-registry said %q", out)
	}
	if out, err := runJiexu("registry", "sign", "--dir", tn.regDir, "--ca", tn.caDir, "--tls", oldTLS); err == nil {
		t.Fatalf("registry sign with the revoked certificate succeeded: %s", out)
	}
	out = jiexu(t, "registry", "sign", "--dir", tn.regDir, "--ca", tn.caDir, "--tls", newTLS)
	if !strings.Contains(out, "version 3") { // the registry's own count: 1, 2 before the recovery
		t.Fatalf("registry sign said %q", out)
	}
	tn.registry.kill(syscall.SIGTERM)
	tn.registry = start(t, filepath.Join(tn.dir, "registry-2.log"), "registry", "serve", "--dir", tn.regDir, "--listen", tn.registryAddr, "--tls", newTLS)
	tn.waitRegistryVersion(t, 3)
	if show := jiexu(t, "registry", "show", "--dir", tn.regDir, "--ca-file", filepath.Join(tn.caDir, certs.CACertFile)); !strings.Contains(show, "registry epoch 1") {
		t.Errorf("registry show does not name the epoch:\n%s", show)
	}

	// The stolen key tries again from a registry of its own, with the
	// current revocation list and the highest version: every node refuses it.
	forged := stolenSnapshot(t, tn.regDir, oldTLS)
	tn.registry.kill(syscall.SIGKILL)
	rogue(t, tn.registryAddr, oldTLS, forged)
	for _, r := range []string{"150100", "150700"} {
		for i := 0; i < 200 && !strings.Contains(readFile(t, filepath.Join(tn.dir, r+".log")), "not announced"); i++ {
			time.Sleep(25 * time.Millisecond)
		}
	}
	tn.waitRegistryVersion(t, 3)
	for _, r := range []string{"150100", "150700"} {
		if !strings.Contains(readFile(t, filepath.Join(tn.dir, r+".log")), "registry certificate the CA has not announced") {
			t.Errorf("node %s's log does not say why it refused the stolen key's snapshot", r)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// runJiexu runs the binary and returns its output and error.
func runJiexu(args ...string) (string, error) {
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}

// rogueRegistry answers every request with one snapshot, whatever the
// caller holds: a registry run by whoever stole its key.
type rogueRegistry struct {
	jiexuv1.UnimplementedRegistryServiceServer
	signed *jiexuv1.SignedSnapshot
}

func (r rogueRegistry) GetSnapshot(context.Context, *jiexuv1.GetSnapshotRequest) (*jiexuv1.GetSnapshotResponse, error) {
	return &jiexuv1.GetSnapshotResponse{Snapshot: r.signed, Version: math.MaxUint64}, nil
}

// rogue serves a rogueRegistry on addr with the TLS key in keyDir until
// stopped or the test ends.
func rogue(t *testing.T, addr, keyDir string, signed *jiexuv1.SignedSnapshot) (stop func()) {
	t.Helper()
	kp, err := certs.LoadKeyPair(filepath.Join(keyDir, certs.CertFile), filepath.Join(keyDir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := certs.LoadPool(filepath.Join(keyDir, certs.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for i := 0; i < 100; i++ { // the killed registry's port is free again shortly
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots))))
	jiexuv1.RegisterRegistryServiceServer(srv, rogueRegistry{signed: signed})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return srv.Stop
}

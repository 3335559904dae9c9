package main

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// trustNet is a devnet of separate processes for the trust tests: the
// registry and the given nodes, refreshing the registry every 100ms.
type trustNet struct {
	dir, caDir, regDir string
	registry           *process
	procs              map[string][]*process
	cfgs               map[string]string
	clients            map[string]jiexuv1.AgencyServiceClient
	registryAddr       string
}

func startTrustNet(t *testing.T, regions ...string) *trustNet {
	t.Helper()
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", strings.Join(regions, ","), "--people", "4")
	tn := &trustNet{dir: dir, caDir: filepath.Join(dir, "ca"), regDir: filepath.Join(dir, "registry"),
		cfgs: map[string]string{}, clients: map[string]jiexuv1.AgencyServiceClient{}, procs: map[string][]*process{}}
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
		tn.procs[r] = append(tn.procs[r], start(t, filepath.Join(dir, r+".log"), "node", "serve", "--config", tn.cfgs[r]))
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

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// asNobody runs the binary as user nobody (the test must run as root).
func asNobody(args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Finding 2: with agency_listen on loopback TCP, user nobody listed every
// record (whole ID numbers, names, balances), streamed a backup and wrote
// records. Now TCP needs mutual TLS with an operator certificate from the
// node's own operator CA, and the certificate's role decides what it may do.
func TestAgencyAPIWantsAnOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", "150100,150700", "--people", "4")
	cfgFile := filepath.Join(dir, "nodes", "150100", "node.json")
	cfg, err := node.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	start(t, filepath.Join(dir, "registry.log"), "registry", "serve", "--dir", filepath.Join(dir, "registry"), "--listen", cfg.RegistryAddress, "--tls", filepath.Join(dir, "registry", "tls"))

	// The old way: the agency API on loopback TCP, unauthenticated.
	tcp := freePort(t)
	cfg.AgencyListen = tcp
	if err := node.WriteConfig(cfgFile, cfg); err != nil {
		t.Fatal(err)
	}
	if out, err := runJiexu("node", "serve", "--config", cfgFile); err == nil || !strings.Contains(out, "agency_listen") {
		t.Fatalf("node serve with agency_listen %s: %v\n%s\nwant it refused, naming agency_listen", tcp, err, out)
	}
	for _, bad := range []string{"127.attacker.example:7444", "localhost:7444"} {
		cfg.AgencyListen, cfg.AgencyTLSListen = "", bad
		_ = node.WriteConfig(cfgFile, cfg)
		if out, err := runJiexu("node", "serve", "--config", cfgFile); err == nil || !strings.Contains(out, "agency_tls_listen") {
			t.Errorf("node serve with agency_tls_listen %s: %v\n%s\nwant it refused", bad, err, out)
		}
	}

	// The new way: the socket, and TCP for operators with certificates.
	cfg.AgencyListen, cfg.AgencyTLSListen = "", tcp
	cfg.Limits.AgencyRate, cfg.Limits.AgencyBurst = 0.1, 10
	if err := node.WriteConfig(cfgFile, cfg); err != nil {
		t.Fatal(err)
	}
	jiexu(t, "operator", "init", "--config", cfgFile)
	ops := map[string]string{}
	for _, role := range []string{"reader", "clerk", "admin", "flood"} {
		ops[role] = filepath.Join(dir, "operator-"+role)
		r := role
		if role == "flood" {
			r = "reader"
		}
		jiexu(t, "operator", "issue", "--config", cfgFile, "--name", "经办员"+role, "--role", r, "--out", ops[role])
	}
	logFile := filepath.Join(dir, "150100.log")
	start(t, logFile, "node", "serve", "--config", cfgFile)
	agencyOf(t, cfgFile) // the socket, as the node's own user: ready
	people := filepath.Join(dir, "nodes", "150100", "records.csv")
	jiexu(t, "records", "import", "--config", cfgFile, people)

	as := func(role string, args ...string) (string, error) {
		return runJiexu(append(args, "--agency", tcp, "--operator", ops[role])...)
	}
	// 包头's genuine node certificate from the national CA is not an operator's.
	nodeCert := filepath.Join(dir, "nodes", "150700")
	fake := filepath.Join(dir, "operator-fake")
	if err := os.MkdirAll(fake, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certs.CertFile, certs.KeyFile} {
		data, _ := os.ReadFile(filepath.Join(nodeCert, f))
		_ = os.WriteFile(filepath.Join(fake, f), data, 0o600)
	}
	id := "150123196501218148"
	put := []string{"records", "put", "--id", id, "--name", "赵勇", "--scheme", "employee", "--division", "150100"}
	tests := []struct {
		name   string
		run    func() (string, error)
		wantOK bool
	}{
		{"no certificate", func() (string, error) { return runJiexu("records", "list", "--agency", tcp) }, false},
		{"a node's certificate", func() (string, error) {
			return runJiexu("records", "list", "--agency", tcp, "--operator", fake)
		}, false},
		{"reader lists", func() (string, error) { return as("reader", "records", "list") }, true},
		{"reader writes", func() (string, error) { return as("reader", put...) }, false},
		{"reader backs up", func() (string, error) {
			return as("reader", "node", "backup", "--out", filepath.Join(dir, "r.db"))
		}, false},
		{"clerk writes", func() (string, error) { return as("clerk", put...) }, true},
		{"clerk backs up", func() (string, error) {
			return as("clerk", "node", "backup", "--out", filepath.Join(dir, "c.db"))
		}, false},
		{"admin backs up", func() (string, error) {
			return as("admin", "node", "backup", "--out", filepath.Join(dir, "a.db"))
		}, true},
	}
	if os.Geteuid() == 0 {
		sock := strings.TrimPrefix(cfg.AgencyAddress(), "unix:")
		tests = append(tests,
			struct {
				name   string
				run    func() (string, error)
				wantOK bool
			}{"nobody on the socket", func() (string, error) { return asNobody("records", "list", "--agency", "unix:"+sock) }, false},
			struct {
				name   string
				run    func() (string, error)
				wantOK bool
			}{"nobody on the socket made 0666", func() (string, error) {
				// Only the kernel's word on the caller's uid keeps nobody out now.
				for d := filepath.Dir(sock); strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
					fi, _ := os.Stat(d)
					_ = os.Chmod(d, 0o755)
					defer os.Chmod(d, fi.Mode().Perm())
				}
				_ = os.Chmod(sock, 0o666)
				defer os.Chmod(sock, 0o600)
				out, err := asNobody("records", "list", "--agency", "unix:"+sock)
				if err != nil && (strings.Contains(out, "permission denied") || !strings.Contains(out, "the node closed the connection")) { // the handshake refused it: the server closed the connection
					t.Errorf("refused for another reason than the peer check: %s", out)
				}
				return out, err
			}, false},
			struct {
				name   string
				run    func() (string, error)
				wantOK bool
			}{"nobody on TCP", func() (string, error) { return asNobody("records", "list", "--agency", tcp) }, false},
		)
	} else {
		t.Log("not root: the checks as user nobody are skipped")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.run()
			if (err == nil) != tt.wantOK {
				t.Fatalf("succeeded = %v, want %v\n%s", err == nil, tt.wantOK, out)
			}
			if tt.wantOK && strings.Contains(out, id) {
				t.Errorf("output shows a whole ID number:\n%s", out)
			}
		})
	}

	// Each operator has a rate (here a burst of 10, then one call in 10 s).
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		out, err := as("flood", "node", "status")
		limited = err != nil && strings.Contains(out, "too many calls")
	}
	if !limited {
		t.Error("an operator's 12 quick calls were never limited")
	}
	// A revoked operator is refused from the next connection on.
	jiexu(t, "operator", "revoke", "--config", cfgFile, "--cert", filepath.Join(ops["reader"], certs.CertFile))
	if out, err := as("reader", "records", "list"); err == nil {
		t.Errorf("revoked reader still lists records:\n%s", out)
	}
	// Every call is logged with who made it, and no whole ID number is.
	log := readFile(t, logFile)
	for _, want := range []string{"operator=经办员clerk", "method=PutRecord", "operator=经办员reader", "code=PermissionDenied", "method=Backup"} {
		if !strings.Contains(log, want) {
			t.Errorf("node log lacks %q", want)
		}
	}
	if strings.Contains(log, id) {
		t.Error("node log holds a whole ID number")
	}
}

// sealFor seals a certificate with a node's key, as the node would.
func sealFor(t *testing.T, keyDir string, balance int64, issued time.Time) *jiexuv1.SealedCertificate {
	t.Helper()
	kp, err := certs.LoadKeyPair(filepath.Join(keyDir, certs.CertFile), filepath.Join(keyDir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	c := &jiexuv1.Certificate{
		Number: "蒙呼和浩特2026第00042号", Year: 2026, Serial: 42,
		Person:       &jiexuv1.Person{Name: "赵勇", IdNumber: "150123196501218148"},
		Scheme:       jiexuv1.Scheme_SCHEME_EMPLOYEE,
		OriginRegion: "150100", OriginName: "内蒙古自治区呼和浩特市", MonthsPaid: 40,
		BalanceFen: balance, BalanceFigures: rules.AmountFigures(balance), IssuedAt: timestamppb.New(issued),
	}
	c.BalanceWords, _ = rules.AmountWords(balance)
	sc, err := node.SealCertificate(kp.Signer(), c)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func writeProto(t *testing.T, path string, m proto.Message) {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Finding 4: 'jiexu cert verify' took no revocation list, so a certificate
// re-sealed with a revoked key and ￥1,000,000 added reported OK. With the
// CA's list (or a snapshot's), one sealed before the revocation is valid at
// the time, with the caveat, and one sealed after it is refused.
func TestCertVerifyKnowsRevocation(t *testing.T) {
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", "150100,150700", "--people", "1")
	caDir, keyDir := filepath.Join(dir, "ca"), filepath.Join(dir, "nodes", "150100")
	caFile, crlFile := filepath.Join(caDir, certs.CACertFile), filepath.Join(caDir, certs.CRLFile)
	genuine := filepath.Join(dir, "genuine.pb")
	writeProto(t, genuine, sealFor(t, keyDir, 102400, time.Now().Add(-time.Hour)))

	// 呼和浩特's key is stolen and revoked; the registry publishes the list.
	jiexu(t, "ca", "revoke", "--ca", caDir, "--cert", filepath.Join(keyDir, certs.CertFile))
	jiexu(t, "registry", "sign", "--dir", filepath.Join(dir, "registry"), "--ca", caDir, "--tls", filepath.Join(dir, "registry", "tls"))
	snapFile := filepath.Join(dir, "registry", registry.SnapshotFile)
	time.Sleep(1100 * time.Millisecond) // the revocation time has whole seconds
	forged := filepath.Join(dir, "forged.pb")
	writeProto(t, forged, sealFor(t, keyDir, 100000000+102400, time.Now()))
	backdated := filepath.Join(dir, "backdated.pb")
	writeProto(t, backdated, sealFor(t, keyDir, 100000000+102400, time.Now().Add(-30*time.Minute)))

	tests := []struct {
		name   string
		args   []string
		wantOK bool
		want   string
	}{
		{"genuine, no list", []string{genuine}, true, "No revocation list was given"},
		{"genuine, with the CRL", []string{"--crl", crlFile, genuine}, true, "VALID AT THE TIME"},
		{"genuine, with the snapshot", []string{"--snapshot", snapFile, genuine}, true, "VALID AT THE TIME"},
		{"forged after the revocation, with the CRL", []string{"--crl", crlFile, forged}, false, "sealed after its sealing key was revoked"},
		{"forged after the revocation, with the snapshot", []string{"--snapshot", snapFile, forged}, false, "sealed after its sealing key was revoked"},
		{"forged and backdated", []string{"--crl", crlFile, backdated}, true, "the sealing time is the sealer's own claim"},
		{"both sources", []string{"--crl", crlFile, "--snapshot", snapFile, genuine}, false, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runJiexu(append([]string{"cert", "verify", "--ca", caFile}, tt.args...)...)
			if (err == nil) != tt.wantOK || !strings.Contains(out, tt.want) {
				t.Fatalf("succeeded = %v, want %v, and output mentioning %q:\n%s", err == nil, tt.wantOK, tt.want, out)
			}
		})
	}
	// A snapshot altered after signing is no source of truth.
	data, _ := os.ReadFile(snapFile)
	data[len(data)/2] ^= 1
	bad := filepath.Join(dir, "bad-snapshot.pb")
	_ = os.WriteFile(bad, data, 0o600)
	if out, err := runJiexu("cert", "verify", "--ca", caFile, "--snapshot", bad, genuine); err == nil {
		t.Errorf("a tampered snapshot was accepted:\n%s", out)
	}
}

// copyFile copies a file (a stopped node's store) for tampering.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tamperStore changes a copy of a store's audit chain with bbolt directly,
// as someone with the file but not the node's key would.
func tamperStore(t *testing.T, path string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("gateway.audit"))) }); err != nil {
		t.Fatal(err)
	}
}

func auditKey(n uint64) []byte {
	k := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		k[i], n = byte(n), n>>8
	}
	return k
}

// Finding: nothing recorded what went in and out. Now every message, receipt
// and case transition is chained in the store; 'jiexu audit verify' finds any
// edit, and 'jiexu audit export' gives one case's evidence, with the peers'
// sealed receipts, which verifies offline against the CA.
func TestAuditTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	tn := startTrustNet(t, "150100", "150700")
	ctx := context.Background()
	origin, dest := tn.clients["150100"], tn.clients["150700"]
	jiexu(t, "records", "import", "--config", tn.cfgs["150100"], filepath.Join(tn.dir, "nodes", "150100", "records.csv"))
	var caseIDs []string
	var ids []string
	people := devnetPeople(t, ctx, origin)
	for id := range people {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids[:2] {
		e := people[id]
		p := e.GetPeriods()[len(e.GetPeriods())-1]
		last := rules.YearMonthOf(time.Now().AddDate(0, -1, 0))
		if rules.MonthIndex(last) < rules.MonthIndex(p.GetEnrolledFrom()) {
			last = p.GetEnrolledFrom()
		}
		sus, err := origin.SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: last, ConfirmWaiting: true})
		if err != nil {
			t.Fatal(err)
		}
		r := &jiexuv1.Record{Person: e.GetPerson(), Scheme: p.GetScheme()}
		if _, err := dest.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: devnet.DestinationRecord(r, devnet.NodeLayout{Region: "150700", Kind: "insurance"}, time.Now())}); err != nil {
			t.Fatal(err)
		}
		resp, err := dest.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: id, Name: e.GetPerson().GetName(), OriginDivision: "150100",
			CertificateNumber: certNumber(t, sus.GetCertificate()), VerificationCode: rules.VerificationCode(sus.GetCertificate())})
		if err != nil {
			t.Fatal(err)
		}
		caseIDs = append(caseIDs, resp.GetCase().GetCaseId())
	}
	for _, id := range caseIDs {
		for i := 0; ; i++ {
			c, err := origin.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: id})
			if err == nil && c.GetCase().GetState() == jiexuv1.CaseState_CASE_STATE_CLOSED {
				break
			}
			if i > 600 {
				t.Fatalf("case %s did not close: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	caFile := filepath.Join(tn.caDir, certs.CACertFile)
	for _, r := range []string{"150100", "150700"} {
		if out := jiexu(t, "audit", "verify", "--config", tn.cfgs[r]); !strings.HasPrefix(out, "OK:") {
			t.Errorf("audit verify at %s: %s", r, out)
		}
	}
	// One case's evidence, from each side.
	for _, r := range []string{"150100", "150700"} {
		file := filepath.Join(tn.dir, "evidence-"+r+".pb")
		jiexu(t, "audit", "export", "--config", tn.cfgs[r], caseIDs[0], "--out", file)
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("export mode %v, %v; want 0600", fi.Mode().Perm(), err)
		}
		out := jiexu(t, "audit", "verify-export", "--ca", caFile, file)
		for _, want := range []string{"OK: case " + caseIDs[0], "sealed receipt for", "received ", "sent ", "case "} {
			if !strings.Contains(out, want) {
				t.Errorf("verify-export at %s lacks %q:\n%s", r, want, out)
			}
		}
		if strings.Contains(out, caseIDs[1]) {
			t.Errorf("the evidence for %s shows case %s", caseIDs[0], caseIDs[1])
		}
		data, _ := os.ReadFile(file)
		data[len(data)/2] ^= 1
		bad := file + ".bad"
		_ = os.WriteFile(bad, data, 0o600)
		if out, err := runJiexu("audit", "verify-export", "--ca", caFile, bad); err == nil {
			t.Errorf("a tampered export verifies:\n%s", out)
		}
	}

	// Stop the destination and tamper with copies of its store.
	cfg, _ := node.LoadConfig(tn.cfgs["150700"])
	store := filepath.Join(cfg.DataDir, node.DBFile)
	for _, p := range tn.procs["150700"] {
		p.kill(syscall.SIGTERM)
	}
	good := filepath.Join(tn.dir, "good.db")
	copyFile(t, store, good)
	if out := jiexu(t, "audit", "verify", "--store", good, "--ca", caFile); !strings.HasPrefix(out, "OK:") {
		t.Fatalf("audit verify --store: %s", out)
	}
	var n uint64
	tamperStore(t, good, func(b *bolt.Bucket) error { n = uint64(b.Stats().KeyN); return nil })
	tests := []struct {
		name string
		fn   func(b *bolt.Bucket) error
	}{
		{"one entry edited", func(b *bolt.Bucket) error {
			v := bytes.Clone(b.Get(auditKey(3)))
			v[len(v)-3] ^= 1
			return b.Put(auditKey(3), v)
		}},
		{"truncated", func(b *bolt.Bucket) error { return b.Delete(auditKey(n)) }},
		{"reordered", func(b *bolt.Bucket) error {
			a, c := bytes.Clone(b.Get(auditKey(2))), bytes.Clone(b.Get(auditKey(3)))
			if err := b.Put(auditKey(2), c); err != nil {
				return err
			}
			return b.Put(auditKey(3), a)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			copyFile(t, good, path)
			tamperStore(t, path, tt.fn)
			out, err := runJiexu("audit", "verify", "--store", path, "--ca", caFile)
			if err == nil || !strings.Contains(out, "audit chain does not verify") {
				t.Fatalf("audit verify of a store %s: %v\n%s", tt.name, err, out)
			}
		})
	}
}

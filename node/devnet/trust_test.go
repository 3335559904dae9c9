package devnet_test

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node/devnet"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Tests of issue 10's findings, each against running nodes: the attack as
// an attacker would make it, and what the node answers.

// countIn counts occurrences of s in a file.
func countIn(t *testing.T, path, s string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), s)
}

// waitLog waits (bounded) until a node's log holds more than n lines with s.
func waitLog(t *testing.T, tn *testNet, region, s string, n int) {
	t.Helper()
	path := filepath.Join(layoutOf(t, tn.Layout, region).Dir, "node.log")
	for i := 0; i < 400; i++ {
		if countIn(t, path, s) > n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s's log never showed %q", region, s)
}

// waitVersion waits (bounded) until a node holds a snapshot version.
func waitVersion(t *testing.T, tn *testNet, region string, want uint64) {
	t.Helper()
	var got uint64
	for i := 0; i < 400; i++ {
		if got = tn.Node(region).Gateway().Directory().Version(); got == want {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s holds snapshot version %d, want %d", region, got, want)
}

// publish signs the registry folder with signer and the CA's current list,
// which the running registry then serves.
func publish(t *testing.T, tn *testNet, signer *certs.Signer) *jiexuv1.SignedSnapshot {
	t.Helper()
	crl, err := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.SignDirectory(tn.Layout.RegistryDir, registry.DefaultTable(), signer, crl, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge signs a snapshot of the registry's directory with any key, any
// version and any revocation list, as the holder of a stolen key would, and
// puts it where the registry serves it.
func forge(t *testing.T, tn *testNet, signer *certs.Signer, version uint64, crl []byte) {
	t.Helper()
	snap, err := registry.LoadDirectory(tn.Layout.RegistryDir)
	if err != nil {
		t.Fatal(err)
	}
	registry.Stamp(snap, version, time.Now(), 24*time.Hour)
	snap.RevocationList = crl
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	seal, err := signer.Seal(certs.DomainSnapshot, data)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := proto.Marshal(&jiexuv1.SignedSnapshot{Snapshot: data, Seal: seal})
	path := filepath.Join(tn.Layout.RegistryDir, registry.SnapshotFile)
	if err := os.WriteFile(path+".tmp", wire, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func loadSigner(t *testing.T, dir string) *certs.Signer {
	t.Helper()
	kp, err := certs.LoadKeyPair(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return kp.Signer()
}

// Finding 1: with the registry's certificate revoked, a snapshot signed with
// the old key and carrying the network's first, empty revocation list was
// installed, and a revoked node was accepted again; a snapshot of the held
// version with other content was installed too.
func TestRevokedRegistryKeyCannotRollBackRevocation(t *testing.T) {
	tn := startNet(t, devnet.Options{RegistryRefresh: 50 * time.Millisecond}, hohhot)
	ctx := context.Background()
	firstCRL, err := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	stolen := loadSigner(t, tn.Layout.RegistryTLS)
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	notify := func(id string) error {
		req := notice(bt, hohhot, "150200-20261123-000031", id, tn.people(hohhot)[0].GetPerson())
		bt.seal(t, req)
		_, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, req)
		return err
	}

	// The CA revokes 包头's certificate and the registry's (its key was
	// stolen); a new registry certificate publishes that list.
	ca, err := certs.LoadCA(tn.Layout.CADir)
	if err != nil {
		t.Fatal(err)
	}
	baotouCert, _ := certs.LoadCertificate(filepath.Join(layoutOf(t, tn.Layout, baotou).Dir, certs.CertFile))
	if _, err := ca.Revoke([]*big.Int{baotouCert.SerialNumber, stolen.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	successorDir := filepath.Join(t.TempDir(), "registry-tls-2")
	if _, err := ca.Issue(certs.IssueRequest{Role: certs.RoleRegistry, Name: "jiexu registry 2"}, successorDir); err != nil {
		t.Fatal(err)
	}
	successor := loadSigner(t, successorDir)
	publish(t, tn, successor)
	waitVersion(t, tn, hohhot, 2)
	if err := notify("before-attack"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked 包头 before the attack: %v, want Unauthenticated", err)
	}

	// The attack: version 401 with the stolen key and the first list.
	logFile := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "node.log")
	refused := countIn(t, logFile, "refused")
	forge(t, tn, stolen, 401, firstCRL)
	for i := 0; i < 400 && countIn(t, logFile, "refused") == refused && tn.Node(hohhot).Gateway().Directory().Version() == 2; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if v := tn.Node(hohhot).Gateway().Directory().Version(); v != 2 {
		t.Errorf("after the forged snapshot the node holds version %d, want 2", v)
	}
	if err := notify("after-attack"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked 包头 after the forged snapshot: %v, want Unauthenticated", err)
	}

	// The registry, misused, signs version 2 again with other content: the
	// node refuses it rather than quietly replacing what it holds.
	dir, err := registry.LoadDirectory(tn.Layout.RegistryDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range dir.GetNodes() {
		if n.GetRegion() == baotou {
			n.Address = "203.0.113.9:7443"
		}
	}
	crl, _ := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	registry.Stamp(dir, 2, time.Now(), time.Hour)
	dir.RevocationList = crl
	other, err := registry.Sign(dir, successor)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := tn.Node(hohhot).Gateway().Directory().Install(other); err == nil {
		t.Errorf("a snapshot of the held version with other content was accepted (changed %v)", changed)
	}
	if n, _ := tn.Node(hohhot).Gateway().Directory().Router(); n != nil {
		if node, _ := n.Node(baotou); node.GetAddress() == "203.0.113.9:7443" {
			t.Fatal("the node routes by the conflicting snapshot")
		}
	}
}

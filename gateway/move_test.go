package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// table2016 is the embedded table as it was before 临安市 330185 became
// 临安区 330112 in 2017.
func table2016(t *testing.T) *registry.Table {
	t.Helper()
	dir := filepath.Join("..", "registry", "gbt2260")
	mca, err := os.ReadFile(filepath.Join(dir, "mca-2024.txt"))
	if err != nil {
		t.Fatal(err)
	}
	hist, err := os.ReadFile(filepath.Join(dir, "history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mca = bytes.Replace(mca, []byte("330112 临安区\n"), []byte("330185 临安市\n"), 1)
	hist = bytes.Replace(hist, []byte("330112,浙江省,杭州市,临安区,县级,在用,2017,,\n"), nil, 1)
	hist = bytes.Replace(hist, []byte("330185,浙江省,杭州市,临安市,县级,弃用,1996,2017,330112"), []byte("330185,浙江省,杭州市,临安市,县级,在用,1996,,"), 1)
	tab, err := registry.LoadTable(fstest.MapFS{"mca-2016.txt": {Data: mca}, "history.csv": {Data: hist}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// received records what a test peer applied, once per message.
var bucketApplied = []byte("test.applied")

// testPeer is a gateway with a TransferService that applies RejectTransfer
// messages by recording their message id.
type testPeer struct {
	jiexuv1.UnimplementedTransferServiceServer
	g      *Gateway
	db     *bolt.DB
	srv    *grpc.Server
	lis    net.Listener
	ctx    context.Context
	cancel context.CancelFunc
}

func (p *testPeer) RejectTransfer(ctx context.Context, req *jiexuv1.RejectTransferRequest) (*jiexuv1.RejectTransferResponse, error) {
	r, err := p.g.Receive(ctx, req, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketApplied)
		if err != nil {
			return err
		}
		key := []byte(req.GetDetail()) // the test's own id, unique per message
		if b.Get(key) != nil {
			return fmt.Errorf("message %s applied twice", key)
		}
		return b.Put(key, []byte(req.GetHeader().GetSenderRegion()+">"+req.GetHeader().GetReceiverRegion()))
	})
	if err != nil {
		return nil, StatusOf(err)
	}
	return &jiexuv1.RejectTransferResponse{Receipt: r}, nil
}

func startPeer(t *testing.T, dbPath, region string, issued certtest.Issued, ca *certs.CA, table *registry.Table, snap *jiexuv1.SignedSnapshot, lis net.Listener) *testPeer {
	t.Helper()
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := certs.LoadKeyPair(issued.CertFile(), issued.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Region, cfg.DB, cfg.KeyPair, cfg.CA, cfg.Table = region, db, kp, ca.Cert, table
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Directory().Install(snap); err != nil {
		t.Fatal(err)
	}
	p := &testPeer{g: g, db: db, lis: lis}
	roots, _ := certs.LoadPool(issued.CAFile())
	p.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots))), grpc.UnaryInterceptor(g.UnaryServerInterceptor()))
	jiexuv1.RegisterTransferServiceServer(p.srv, p)
	go p.srv.Serve(lis)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.Cleanup(p.stop)
	return p
}

func (p *testPeer) start(t *testing.T) {
	t.Helper()
	if err := p.g.Start(p.ctx); err != nil {
		t.Fatal(err)
	}
}

func (p *testPeer) stop() {
	if p.srv == nil {
		return
	}
	p.srv.Stop()
	p.cancel()
	p.g.Wait()
	p.db.Close()
	p.srv = nil
}

// enqueue queues n RejectTransfer messages to peer, labelled label-i.
func (p *testPeer) enqueue(t *testing.T, peer, label string, n int) {
	t.Helper()
	err := p.db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < n; i++ {
			msg := &jiexuv1.RejectTransferRequest{Reason: jiexuv1.RejectReason_REJECT_REASON_OTHER, Detail: fmt.Sprintf("%s-%d", label, i)}
			if err := p.g.Enqueue(tx, peer, jiexuv1.TransferService_RejectTransfer_FullMethodName, "case-"+label, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// applied returns what the peer applied: test id → "sender>receiver".
func (p *testPeer) applied() map[string]string {
	out := map[string]string{}
	_ = p.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketApplied); b != nil {
			return b.ForEach(func(k, v []byte) error { out[string(k)] = string(v); return nil })
		}
		return nil
	})
	return out
}

func (p *testPeer) pending() int {
	n := 0
	_ = p.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketOutbox).Stats().KeyN; return nil })
	return n
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRegionMovesToItsNewCode moves 临安 from 330185 to 330112 (临安市
// became 临安区 in 2017) while messages wait in both directions, and checks
// that every one is delivered and applied exactly once: those 杭州 330100
// queued to 330185 reach the node under its new code, and those the node
// sealed as 330185 are accepted from it as 330112. The registry publishes
// the move with the table that has the new code, and the nodes adopt it.
func TestRegionMovesToItsNewCode(t *testing.T) {
	ca := certtest.NewCA(t)
	reg := certtest.Registry(t, ca)
	hz, oldLA, newLA := certtest.Node(t, ca, "330100"), certtest.Node(t, ca, "330185"), certtest.Node(t, ca, "330112")
	old := table2016(t)
	dir := t.TempDir()
	regDir := filepath.Join(dir, "registry")
	if err := registry.InitDir(regDir); err != nil {
		t.Fatal(err)
	}
	hzLis, laLis := listen(t), listen(t)
	fp := func(i certtest.Issued) []string { return []string{certs.Fingerprint(i.Signer.Cert)} }
	for _, n := range []*jiexuv1.Node{
		{Region: "330100", AgencyName: "杭州", Address: hzLis.Addr().String(), CertificateFingerprints: fp(hz)},
		{Region: "330185", AgencyName: "临安", Address: laLis.Addr().String(), CertificateFingerprints: fp(oldLA)},
	} {
		if err := registry.AddNode(regDir, old, n); err != nil {
			t.Fatal(err)
		}
	}
	crl, err := ca.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := registry.SignDirectory(regDir, old, reg.Signer, crl, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// Both nodes run the 2024 table themselves; v1 makes them route by 2016's.
	now := registry.DefaultTable()
	a := startPeer(t, filepath.Join(dir, "hz.db"), "330100", hz, ca, now, v1, hzLis)
	b := startPeer(t, filepath.Join(dir, "la.db"), "330185", oldLA, ca, now, v1, laLis)
	for _, p := range []*testPeer{a, b} {
		if got := p.g.Directory().Table().Version(); got != "mca-2016" {
			t.Fatalf("after v1 the node routes by %s, want the registry's mca-2016", got)
		}
	}
	// Traffic before the move is delivered as usual.
	a.start(t)
	b.start(t)
	a.enqueue(t, "330185", "before-hz", 3)
	b.enqueue(t, "330100", "before-la", 3)
	// Applied at the receiver comes before the sender commits the
	// acknowledgement: wait for both, or the count below includes the three.
	waitFor(t, "traffic before the move", func() bool {
		return len(a.applied()) == 3 && len(b.applied()) == 3 && a.pending() == 0 && b.pending() == 0
	})

	// Both sides go down with messages queued to each other.
	b.stop()
	a.srv.Stop()
	a.enqueue(t, "330185", "queued-hz", 20) // cases at 杭州 name the old code
	b2db, err := bolt.Open(filepath.Join(dir, "la.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bq := &testPeer{g: mustGateway(t, b2db, "330185", oldLA, ca, now), db: b2db}
	bq.enqueue(t, "330100", "queued-la", 20) // sealed by the old certificate, sender 330185
	b2db.Close()
	if n := a.pending(); n != 20 {
		t.Fatalf("杭州 holds %d queued messages, want 20", n)
	}

	// The move: a certificate for the new code, the registry lists the node
	// under it with the old code as former region, and signs with the table
	// that has 330112.
	laLis2 := listen(t)
	if err := registry.AddNode(regDir, now, &jiexuv1.Node{Region: "330112", AgencyName: "临安", Address: laLis2.Addr().String(),
		CertificateFingerprints: append(fp(newLA), fp(oldLA)...), FormerRegions: []string{"330185"}}); err != nil {
		t.Fatal(err)
	}
	snap, _ := registry.LoadDirectory(regDir)
	if len(snap.GetNodes()) != 2 {
		t.Fatalf("the directory lists %d nodes after the move, want 2 (330185 replaced)", len(snap.GetNodes()))
	}
	v2, err := registry.SignDirectory(regDir, now, reg.Signer, crl, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.g.Directory().Install(v2); err != nil {
		t.Fatal(err)
	}
	if got := a.g.Directory().Canonical("330185"); got != "330112" {
		t.Errorf("杭州: Canonical(330185) = %s, want 330112", got)
	}
	if a.g.Directory().Table().Digest() != now.Digest() {
		t.Errorf("杭州 routes by %s after v2, want %s", a.g.Directory().Table().Identity(), now.Identity())
	}
	// 临安 restarts as 330112 on the same store.
	b = startPeer(t, filepath.Join(dir, "la.db"), "330112", newLA, ca, now, v2, laLis2)
	a.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(a.g.cfg.KeyPair, mustPool(t, hz)))), grpc.UnaryInterceptor(a.g.UnaryServerInterceptor()))
	jiexuv1.RegisterTransferServiceServer(a.srv, a)
	hzLis2, err := net.Listen("tcp", hzLis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go a.srv.Serve(hzLis2)
	b.start(t)
	a.g.WakeAll()
	// New traffic after the move, under both codes.
	a.enqueue(t, "330185", "after-hz-old", 2)
	a.enqueue(t, "330112", "after-hz-new", 2)
	b.enqueue(t, "330100", "after-la", 2)

	waitFor(t, "every queued message", func() bool {
		return a.pending() == 0 && b.pending() == 0 && len(a.applied()) == 25 && len(b.applied()) == 27
	})
	got := b.applied()
	for i := 0; i < 20; i++ {
		if got[fmt.Sprintf("queued-hz-%d", i)] != "330100>330185" {
			t.Errorf("临安 applied queued-hz-%d as %q, want it once, addressed to 330185", i, got[fmt.Sprintf("queued-hz-%d", i)])
		}
	}
	if got["after-hz-new-0"] != "330100>330112" {
		t.Errorf("after the move: %q", got["after-hz-new-0"])
	}
	from := a.applied()
	for i := 0; i < 20; i++ {
		if from[fmt.Sprintf("queued-la-%d", i)] != "330185>330100" {
			t.Errorf("杭州 applied queued-la-%d as %q, want it once, sealed by 330185", i, from[fmt.Sprintf("queued-la-%d", i)])
		}
	}
	if from["after-la-0"] != "330112>330100" {
		t.Errorf("after the move: %q", from["after-la-0"])
	}
	dead := 0
	for _, p := range []*testPeer{a, b} {
		_ = p.db.View(func(tx *bolt.Tx) error { dead += tx.Bucket(bucketDead).Stats().KeyN; return nil })
	}
	if dead != 0 {
		t.Errorf("%d dead letters, want none", dead)
	}
}

func mustGateway(t *testing.T, db *bolt.DB, region string, issued certtest.Issued, ca *certs.CA, table *registry.Table) *Gateway {
	t.Helper()
	kp, err := certs.LoadKeyPair(issued.CertFile(), issued.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Region, cfg.DB, cfg.KeyPair, cfg.CA, cfg.Table = region, db, kp, ca.Cert, table
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustPool(t *testing.T, i certtest.Issued) *x509.CertPool {
	t.Helper()
	p, err := certs.LoadPool(i.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

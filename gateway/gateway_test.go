package gateway

import (
	"context"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Every inter-node request has a header and a seal, and every response a
// receipt in field 1: the dispatcher relies on this shape.
func TestInterNodeContractShape(t *testing.T) {
	for _, fd := range []protoreflect.FileDescriptor{jiexuv1.File_jiexu_v1_transfer_proto} {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				if md.Name() == "LookupCertificate" {
					continue // a direct query, not a queued message
				}
				in, out := md.Input(), md.Output()
				if h := in.Fields().ByName("header"); h == nil || h.Message().FullName() != "jiexu.v1.MessageHeader" {
					t.Errorf("%s: request has no MessageHeader header", md.FullName())
				}
				if s := in.Fields().ByName("seal"); s == nil || s.Message().FullName() != "jiexu.v1.Seal" {
					t.Errorf("%s: request has no Seal seal", md.FullName())
				}
				if r := out.Fields().ByNumber(1); r == nil || r.Name() != "receipt" || r.Message().FullName() != "jiexu.v1.Receipt" {
					t.Errorf("%s: response field 1 is not the receipt", md.FullName())
				}
				if _, err := methodResponse("/" + string(sd.FullName()) + "/" + string(md.Name())); err != nil {
					t.Errorf("methodResponse(%s): %v", md.FullName(), err)
				}
			}
		}
	}
	for _, bad := range []string{"", "/x", "/jiexu.v1.TransferService/Nope", "/jiexu.v1.Nope/NotifyTransfer"} {
		if _, err := methodResponse(bad); err == nil {
			t.Errorf("methodResponse(%q) succeeded", bad)
		}
	}
}

type fixture struct {
	ca       *certs.CA
	reg      certtest.Issued
	node     certtest.Issued
	dbPath   string
	snapDir  string
	table    *registry.Table
	nodeKP   *certs.KeyPair
	registry string
}

func newFixture(t testing.TB) *fixture {
	ca := certtest.NewCA(t)
	f := &fixture{ca: ca, reg: certtest.Registry(t, ca), node: certtest.Node(t, ca, "150100"), table: registry.DefaultTable()}
	f.dbPath = filepath.Join(t.TempDir(), "node.db")
	f.snapDir = t.TempDir()
	if err := registry.InitDir(f.snapDir); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"150100", "150700"} {
		if err := registry.AddNode(f.snapDir, f.table, &jiexuv1.Node{Region: r, AgencyName: r, Address: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if f.nodeKP, err = certs.LoadKeyPair(f.node.CertFile(), f.node.KeyFile()); err != nil {
		t.Fatal(err)
	}
	return f
}

// sign publishes the next snapshot with the CA's current revocation list.
func (f *fixture) sign(t *testing.T) *jiexuv1.SignedSnapshot {
	t.Helper()
	crl, err := f.ca.Revoked()
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.SignDirectory(f.snapDir, f.table, f.reg.Signer, crl.DER, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) gateway(t testing.TB, mutate func(*Config)) *Gateway {
	t.Helper()
	db, err := bolt.Open(f.dbPath, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := NewConfig()
	cfg.Region, cfg.DB, cfg.KeyPair, cfg.CA, cfg.Table = "150100", db, f.nodeKP, f.ca.Cert, f.table
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDirectoryPersistsAndRefusesRollback(t *testing.T) {
	f := newFixture(t)
	v1 := f.sign(t)
	v2 := f.sign(t)
	g := f.gateway(t, nil)
	if _, err := g.Directory().Router(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Router before any snapshot: %v, want ErrNoSnapshot", err)
	}
	if changed, err := g.Directory().Install(v2); !changed || err != nil {
		t.Fatalf("Install(v2) = %v, %v", changed, err)
	}
	if _, err := g.Directory().Install(v1); !errors.Is(err, registry.ErrRollback) {
		t.Fatalf("Install(v1) after v2: %v, want ErrRollback", err)
	}
	if changed, err := g.Directory().Install(v2); changed || err != nil {
		t.Fatalf("Install(v2) again = %v, %v; want no change", changed, err)
	}
	g.cfg.DB.Close()
	g2 := f.gateway(t, nil)
	if v := g2.Directory().Version(); v != 2 {
		t.Fatalf("after reopening the store, version = %d, want 2", v)
	}
	if n, err := g2.Directory().Router(); err != nil || len(n.Regions()) != 2 {
		t.Fatalf("restored router: %v, %v", n, err)
	}
}

func TestRegistryRefreshAndOutage(t *testing.T) {
	f := newFixture(t)
	f.sign(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- registry.Serve(ctx, registry.ServeConfig{Dir: f.snapDir, Listen: "127.0.0.1:0",
			CertFile: f.reg.CertFile(), KeyFile: f.reg.KeyFile(), CAFile: f.reg.CAFile(),
			Ready: func(a net.Addr) { addrc <- a.String() }})
	}()
	addr := <-addrc
	g := f.gateway(t, func(c *Config) { c.RegistryAddress, c.RegistryRefresh = addr, 20*time.Millisecond })
	gctx, gcancel := context.WithCancel(context.Background())
	defer func() { gcancel(); g.Wait() }()
	if err := g.Start(gctx); err != nil {
		t.Fatal(err)
	}
	waitVersion := func(want uint64) {
		t.Helper()
		for i := 0; i < 250 && g.Directory().Version() != want; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if got := g.Directory().Version(); got != want {
			t.Fatalf("snapshot version = %d, want %d", got, want)
		}
	}
	waitVersion(1)
	f.sign(t) // publish v2: the node picks it up without a restart
	waitVersion(2)
	cancel() // the registry goes away
	<-done
	fetched := g.Directory().LastFetched()
	time.Sleep(100 * time.Millisecond) // several refreshes fail meanwhile
	if n, err := g.Directory().Router(); err != nil || len(n.Regions()) != 2 || g.Directory().Version() != 2 {
		t.Fatalf("routing during a registry outage: %v, version %d", err, g.Directory().Version())
	}
	if !g.Directory().LastFetched().Equal(fetched) {
		t.Error("LastFetched moved while the registry was down")
	}
	// The registry comes back with a newer snapshot: the refresher survived.
	f.sign(t)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() {
		_ = registry.Serve(ctx2, registry.ServeConfig{Dir: f.snapDir, Listen: addr,
			CertFile: f.reg.CertFile(), KeyFile: f.reg.KeyFile(), CAFile: f.reg.CAFile()})
	}()
	waitVersion(3)
}

func TestSealAndHeader(t *testing.T) {
	f := newFixture(t)
	other := certtest.Node(t, f.ca, "150700")
	roots, _ := certs.LoadPool(f.node.CAFile())
	msg := &jiexuv1.RejectTransferRequest{
		Header: &jiexuv1.MessageHeader{MessageId: "m1", SenderRegion: "150100", ReceiverRegion: "150700", CaseId: "c1", CreatedAt: timestamppb.Now()},
		Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED,
	}
	if err := SealMessage(f.node.Signer, msg); err != nil {
		t.Fatal(err)
	}
	check := func() error { // a new view remembers nothing: the full check each time
		_, err := (&view{roots: roots, verified: &registry.Verified{}}).verifySeal(msg, time.Now())
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("verifyMessage(good) = %v", err)
	}
	msg.Detail = "changed"
	if err := check(); !errors.Is(err, ErrBadMessageSeal) {
		t.Errorf("tampered: %v, want ErrBadMessageSeal", err)
	}
	msg.Detail = ""
	if err := SealMessage(other.Signer, msg); err != nil { // sealed by 150700, header says 150100
		t.Fatal(err)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "sealed by region 150700") {
		t.Errorf("foreign sealer: %v", err)
	}
	for _, h := range []*jiexuv1.MessageHeader{
		nil,
		{SenderRegion: "150100", ReceiverRegion: "150700", CaseId: "c"},
		{MessageId: "m", SenderRegion: "15010", ReceiverRegion: "150700", CaseId: "c"},
		{MessageId: "m", SenderRegion: "150100", ReceiverRegion: "x", CaseId: "c"},
		{MessageId: "m", SenderRegion: "150100", ReceiverRegion: "150700"},
		{MessageId: strings.Repeat("m", 129), SenderRegion: "150100", ReceiverRegion: "150700", CaseId: "c"},
	} {
		if err := checkHeader(h); !errors.Is(err, ErrBadHeader) {
			t.Errorf("checkHeader(%v) = %v, want ErrBadHeader", h, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	g := &Gateway{cfg: Config{RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second}}
	for attempt, want := range map[uint32]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: 1600 * time.Millisecond, 9: 2 * time.Second, 60: 2 * time.Second} {
		for i := 0; i < 20; i++ {
			if d := g.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	f := newFixture(t)
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := func() Config {
		c := NewConfig()
		c.Region, c.DB, c.KeyPair, c.CA, c.Table = "150100", db, f.nodeKP, f.ca.Cert, f.table
		return c
	}
	for _, tt := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Region = "150700" }, "region"},
		{func(c *Config) { c.DB = nil }, "db"},
		{func(c *Config) { c.RetryMax = time.Millisecond }, "retry"},
		{func(c *Config) { c.Window = 0 }, "window"},
	} {
		c := base()
		tt.mutate(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
}

// A remembered chain still answers to validity and revocation.
func TestRememberedChainStillChecksRevocationAndExpiry(t *testing.T) {
	f := newFixture(t)
	m := &jiexuv1.RejectTransferRequest{
		Header: &jiexuv1.MessageHeader{MessageId: "m", SenderRegion: "150100", ReceiverRegion: "150700", CaseId: "c", CreatedAt: timestamppb.Now()},
		Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED,
	}
	if err := SealMessage(f.node.Signer, m); err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(f.node.CAFile())
	v := &view{roots: roots, verified: &registry.Verified{}}
	now := time.Now()
	if _, err := v.verifySeal(m, now); err != nil {
		t.Fatalf("first check: %v", err)
	}
	if _, err := v.verifySeal(m, now.AddDate(2, 0, 0)); !errors.Is(err, certs.ErrExpired) {
		t.Errorf("remembered but expired: %v, want ErrExpired", err)
	}
	crl, err := f.ca.Revoke([]*big.Int{f.node.Signer.Cert.SerialNumber})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := certs.ParseRevoked(crl, f.ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	v.verified.Revoked = revoked
	if _, err := v.verifySeal(m, now); !errors.Is(err, certs.ErrRevoked) {
		t.Errorf("remembered but revoked: %v, want ErrRevoked", err)
	}
}

// A certificate the CA issued for a registered region but the registry does
// not list does not seal, when the registry pins fingerprints for it.
func TestUnlistedSealerRefused(t *testing.T) {
	f := newFixture(t)
	listed, unlisted := f.node, certtest.Node(t, f.ca, "150100")
	roots, _ := certs.LoadPool(f.node.CAFile())
	router, err := registry.NewRouter(f.table, []*jiexuv1.Node{
		{Region: "150100", CertificateFingerprints: []string{certs.Fingerprint(listed.Signer.Cert)}},
		{Region: "150700"}, // lists none: any of its certificates seals
	})
	if err != nil {
		t.Fatal(err)
	}
	v := &view{roots: roots, verified: &registry.Verified{}, router: router}
	other := certtest.Node(t, f.ca, "150700")
	tests := []struct {
		name   string
		signer certtest.Issued
		sender string
		ok     bool
	}{
		{"listed", listed, "150100", true},
		{"unlisted, same region", unlisted, "150100", false},
		{"region without pins", other, "150700", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &jiexuv1.RejectTransferRequest{
				Header: &jiexuv1.MessageHeader{MessageId: "m", SenderRegion: tt.sender, ReceiverRegion: "150200", CaseId: "c", CreatedAt: timestamppb.Now()},
				Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED,
			}
			if err := SealMessage(tt.signer.Signer, m); err != nil {
				t.Fatal(err)
			}
			_, err := v.verifyMessage(m, time.Now())
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadMessageSeal)) {
				t.Fatalf("verifyMessage = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

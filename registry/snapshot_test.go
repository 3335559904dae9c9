package registry_test

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

type fixture struct {
	ca       *certs.CA
	registry certtest.Issued
	node     certtest.Issued
	now      time.Time
}

func newFixture(t *testing.T) fixture {
	ca := certtest.NewCA(t)
	return fixture{ca: ca, registry: certtest.Registry(t, ca), node: certtest.Node(t, ca, "150100"), now: time.Now()}
}

// snapOpts shape one test snapshot.
type snapOpts struct {
	version      uint64
	ttl          time.Duration
	issued       time.Time // default f.now
	crl          []byte    // default a fresh list from the CA
	noCRL        bool
	epoch        uint64
	announcement *jiexuv1.RegistryAnnouncement
	agency       string // varies the content
}

func (f fixture) signed(t *testing.T, version uint64, ttl time.Duration, signer *certs.Signer) *jiexuv1.SignedSnapshot {
	t.Helper()
	return f.make(t, signer, snapOpts{version: version, ttl: ttl})
}

func (f fixture) make(t *testing.T, signer *certs.Signer, o snapOpts) *jiexuv1.SignedSnapshot {
	t.Helper()
	if o.crl == nil && !o.noCRL {
		var err error
		if o.crl, err = f.ca.Revoke(nil); err != nil {
			t.Fatal(err)
		}
	}
	if o.issued.IsZero() {
		o.issued = f.now
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	if o.agency == "" {
		o.agency = "呼和浩特市医疗保险管理局"
	}
	snap := &jiexuv1.Snapshot{Nodes: []*jiexuv1.Node{{Region: "150100", AgencyName: o.agency}}, RevocationList: o.crl, RegistryEpoch: o.epoch}
	registry.Stamp(snap, o.version, o.issued, o.ttl)
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	seal, err := signer.Seal(certs.DomainSnapshot, data)
	if err != nil {
		t.Fatal(err)
	}
	return &jiexuv1.SignedSnapshot{Snapshot: data, Seal: seal, Announcement: o.announcement}
}

func (f fixture) verify(t *testing.T, s *jiexuv1.SignedSnapshot, held *registry.Verified) *registry.Verified {
	t.Helper()
	v, err := registry.VerifySnapshot(s, f.ca.Cert, held, f.now)
	if err != nil {
		t.Fatalf("VerifySnapshot = %v", err)
	}
	return v
}

func TestVerifySnapshot(t *testing.T) {
	f := newFixture(t)
	other := certtest.NewCA(t)
	otherRegistry := certtest.Registry(t, other)
	crl, err := f.ca.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := f.make(t, f.registry.Signer, snapOpts{version: 5, crl: crl})

	v, err := registry.VerifySnapshot(good, f.ca.Cert, nil, f.now)
	if err != nil {
		t.Fatalf("VerifySnapshot(good) = %v", err)
	}
	if v.Snapshot.GetVersion() != 5 || len(v.Snapshot.GetNodes()) != 1 {
		t.Errorf("verified snapshot = version %d, %d nodes", v.Snapshot.GetVersion(), len(v.Snapshot.GetNodes()))
	}
	held6 := f.verify(t, f.make(t, f.registry.Signer, snapOpts{version: 6, crl: crl}), nil)

	tampered := proto.Clone(good).(*jiexuv1.SignedSnapshot)
	tampered.Snapshot[len(tampered.Snapshot)-1] ^= 0xff
	unsigned := proto.Clone(good).(*jiexuv1.SignedSnapshot)
	unsigned.Seal = nil

	// A registry certificate revoked by the list the snapshot carries.
	revokedReg := certtest.Registry(t, f.ca)
	if _, err := f.ca.Revoke([]*big.Int{revokedReg.Signer.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signed *jiexuv1.SignedSnapshot
		held   *registry.Verified
		now    time.Time
		want   error
	}{
		{"unsigned", unsigned, nil, f.now, registry.ErrUnsigned},
		{"nil", nil, nil, f.now, registry.ErrUnsigned},
		{"tampered", tampered, nil, f.now, registry.ErrBadSignature},
		{"signed by a node, not the registry", f.signed(t, 5, time.Hour, f.node.Signer), nil, f.now, registry.ErrBadSignature},
		{"signed by another CA's registry", f.signed(t, 5, time.Hour, otherRegistry.Signer), nil, f.now, registry.ErrBadSignature},
		{"older than held", good, held6, f.now, registry.ErrRollback},
		{"expired", good, nil, f.now.Add(2 * time.Hour), registry.ErrSnapshotExpired},
		{"signer revoked", f.signed(t, 5, time.Hour, revokedReg.Signer), nil, f.now, registry.ErrBadSignature},
		{"no revocation list", f.make(t, f.registry.Signer, snapOpts{version: 7, noCRL: true}), held6, f.now, registry.ErrStaleCRL},
		{"issued in the future", f.make(t, f.registry.Signer, snapOpts{version: 7, issued: f.now.Add(time.Hour)}), nil, f.now, registry.ErrFutureSnapshot},
		{"valid for ten years", f.make(t, f.registry.Signer, snapOpts{version: 7, ttl: 10 * 365 * 24 * time.Hour}), nil, f.now, registry.ErrFutureSnapshot},
		{"names an epoch without its announcement", f.make(t, f.registry.Signer, snapOpts{version: 7, epoch: 1}), nil, f.now, registry.ErrNotPinned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := registry.VerifySnapshot(tt.signed, f.ca.Cert, tt.held, tt.now); !errors.Is(err, tt.want) {
				t.Fatalf("VerifySnapshot error = %v, want %v", err, tt.want)
			}
		})
	}
}

// What a node already holds decides too: the held revocation list, its CRL
// number, and the held version's content (issue 10, finding 1).
func TestVerifySnapshotAgainstHeld(t *testing.T) {
	f := newFixture(t)
	firstCRL, err := f.ca.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	stolen := f.registry // its key is stolen; the CA revokes it
	successor := certtest.Registry(t, f.ca)
	revokedNode := certtest.Node(t, f.ca, "150700")
	laterCRL, err := f.ca.Revoke([]*big.Int{stolen.Signer.Cert.SerialNumber, revokedNode.Signer.Cert.SerialNumber})
	if err != nil {
		t.Fatal(err)
	}
	held := f.verify(t, f.make(t, successor.Signer, snapOpts{version: 400, crl: laterCRL}), nil)
	if !held.Revoked.Contains(revokedNode.Signer.Cert) {
		t.Fatal("held list does not revoke the node")
	}

	tests := []struct {
		name   string
		signed *jiexuv1.SignedSnapshot
		want   error
	}{
		// The attack of the finding: v401 signed with the revoked key and
		// carrying the network's first, empty list.
		{"revoked signer bringing the first list", f.make(t, stolen.Signer, snapOpts{version: 401, crl: firstCRL}), certs.ErrRevoked},
		{"older list from a good signer", f.make(t, successor.Signer, snapOpts{version: 401, crl: firstCRL}), registry.ErrStaleCRL},
		{"same version, other content", f.make(t, successor.Signer, snapOpts{version: 400, crl: laterCRL, agency: "改名"}), registry.ErrConflict},
		{"lower version", f.make(t, successor.Signer, snapOpts{version: 399, crl: laterCRL}), registry.ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := registry.VerifySnapshot(tt.signed, f.ca.Cert, held, f.now); !errors.Is(err, tt.want) {
				t.Fatalf("VerifySnapshot error = %v, want %v", err, tt.want)
			}
		})
	}
	// The same snapshot again is fine, and so is the next version.
	same := proto.Clone(held.Signed).(*jiexuv1.SignedSnapshot)
	f.verify(t, same, held)
	f.verify(t, f.make(t, successor.Signer, snapOpts{version: 401, crl: laterCRL}), held)
}

// A stolen registry key publishes the highest version there is; the CA's
// announcement of a new registry certificate starts a new epoch that every
// node follows, and from then on only the announced certificate signs.
func TestAnnouncementRecoversFromAStolenRegistryKey(t *testing.T) {
	f := newFixture(t)
	stolen := f.registry
	held := f.verify(t, f.make(t, stolen.Signer, snapOpts{version: math.MaxUint64}), nil)
	successor := certtest.Registry(t, f.ca)
	if f.verify(t, f.make(t, successor.Signer, snapOpts{version: 402}), nil) == nil {
		t.Fatal("successor cannot sign")
	}
	if _, err := registry.VerifySnapshot(f.make(t, successor.Signer, snapOpts{version: 402}), f.ca.Cert, held, f.now); !errors.Is(err, registry.ErrRollback) {
		t.Fatalf("without an announcement the huge version locks the successor out: %v, want ErrRollback", err)
	}

	if _, err := f.ca.Revoke([]*big.Int{stolen.Signer.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Announce(f.ca, stolen.Signer.Cert, 1, f.now); !errors.Is(err, registry.ErrBadAnnouncement) {
		t.Fatalf("Announce(revoked certificate) = %v, want ErrBadAnnouncement", err)
	}
	a1, err := registry.Announce(f.ca, successor.Signer.Cert, 1, f.now)
	if err != nil {
		t.Fatal(err)
	}
	recovered := f.verify(t, f.make(t, successor.Signer, snapOpts{version: 402, epoch: 1, announcement: a1}), held)
	if recovered.Epoch() != 1 || recovered.Version() != 402 {
		t.Fatalf("after the announcement: epoch %d version %d, want 1, 402", recovered.Epoch(), recovered.Version())
	}

	// Another registry certificate of the CA, not revoked and not announced.
	third := certtest.Registry(t, f.ca)
	// An announcement forged with the stolen registry key.
	forged := proto.Clone(a1).(*jiexuv1.RegistryAnnouncement)
	st := &jiexuv1.RegistryStatement{}
	_ = proto.Unmarshal(forged.GetStatement(), st)
	st.Epoch, st.CertificateFingerprint = 2, certs.Fingerprint(third.Signer.Cert)
	forged.Statement, _ = proto.Marshal(st)
	forged.Seal, _ = stolen.Signer.Seal(certs.DomainRegistryAnnouncement, forged.Statement)
	a1b, err := registry.Announce(f.ca, third.Signer.Cert, 1, f.now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signed *jiexuv1.SignedSnapshot
		want   error
	}{
		{"old key, higher version, old epoch", f.make(t, stolen.Signer, snapOpts{version: math.MaxUint64}), registry.ErrNotPinned},
		{"another registry certificate", f.make(t, third.Signer, snapOpts{version: 403, epoch: 1}), registry.ErrNotPinned},
		{"announcement forged with the stolen key", f.make(t, third.Signer, snapOpts{version: 1, epoch: 2, announcement: forged}), registry.ErrBadAnnouncement},
		{"two announcements for one epoch", f.make(t, third.Signer, snapOpts{version: 403, epoch: 1, announcement: a1b}), registry.ErrBadAnnouncement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := registry.VerifySnapshot(tt.signed, f.ca.Cert, recovered, f.now); !errors.Is(err, tt.want) {
				t.Fatalf("VerifySnapshot error = %v, want %v", err, tt.want)
			}
		})
	}
	// A later snapshot without the announcement keeps the pin, and what
	// the node stores carries the announcement so it verifies on its own.
	next := f.verify(t, f.make(t, successor.Signer, snapOpts{version: 403, epoch: 1}), recovered)
	if next.Epoch() != 1 || next.Signed.GetAnnouncement() == nil {
		t.Fatalf("next: epoch %d, stored announcement %v", next.Epoch(), next.Signed.GetAnnouncement())
	}
	if again := f.verify(t, next.Signed, nil); again.Epoch() != 1 {
		t.Fatalf("stored snapshot re-verified alone: epoch %d, want 1", again.Epoch())
	}
}

func FuzzVerifySnapshot(f *testing.F) {
	ca, err := certs.InitCA(f.TempDir()+"/ca", "")
	if err != nil {
		f.Fatal(err)
	}
	reg := certtest.Registry(f, ca)
	snap := &jiexuv1.Snapshot{Nodes: []*jiexuv1.Node{{Region: "150100"}}}
	registry.Stamp(snap, 1, time.Now(), time.Hour)
	signed, err := registry.Sign(snap, reg.Signer)
	if err != nil {
		f.Fatal(err)
	}
	wire, _ := proto.Marshal(signed)
	f.Add(wire)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s jiexuv1.SignedSnapshot
		if proto.Unmarshal(data, &s) != nil {
			return
		}
		v, err := registry.VerifySnapshot(&s, ca.Cert, nil, time.Now())
		if err != nil {
			return
		}
		// Anything accepted must carry exactly the signed bytes.
		if !proto.Equal(v.Signed, &s) || string(s.GetSnapshot()) != string(signed.GetSnapshot()) {
			t.Fatalf("accepted a snapshot that is not the one signed")
		}
	})
}

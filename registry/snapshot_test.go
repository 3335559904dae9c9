package registry_test

import (
	"errors"
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

func (f fixture) signed(t *testing.T, version uint64, ttl time.Duration, signer *certs.Signer) *jiexuv1.SignedSnapshot {
	t.Helper()
	crl, err := f.ca.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := &jiexuv1.Snapshot{Nodes: []*jiexuv1.Node{{Region: "150100", AgencyName: "呼和浩特市医疗保险管理局"}}, RevocationList: crl}
	registry.Stamp(snap, version, f.now, ttl)
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	seal, err := signer.Seal(certs.DomainSnapshot, data)
	if err != nil {
		t.Fatal(err)
	}
	return &jiexuv1.SignedSnapshot{Snapshot: data, Seal: seal}
}

func TestVerifySnapshot(t *testing.T) {
	f := newFixture(t)
	other := certtest.NewCA(t)
	otherRegistry := certtest.Registry(t, other)
	good := f.signed(t, 5, time.Hour, f.registry.Signer)

	v, err := registry.VerifySnapshot(good, f.ca.Cert, 4, f.now)
	if err != nil {
		t.Fatalf("VerifySnapshot(good) = %v", err)
	}
	if v.Snapshot.GetVersion() != 5 || len(v.Snapshot.GetNodes()) != 1 {
		t.Errorf("verified snapshot = version %d, %d nodes", v.Snapshot.GetVersion(), len(v.Snapshot.GetNodes()))
	}

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
		held   uint64
		now    time.Time
		want   error
	}{
		{"unsigned", unsigned, 0, f.now, registry.ErrUnsigned},
		{"nil", nil, 0, f.now, registry.ErrUnsigned},
		{"tampered", tampered, 0, f.now, registry.ErrBadSignature},
		{"signed by a node, not the registry", f.signed(t, 5, time.Hour, f.node.Signer), 0, f.now, registry.ErrBadSignature},
		{"signed by another CA's registry", f.signed(t, 5, time.Hour, otherRegistry.Signer), 0, f.now, registry.ErrBadSignature},
		{"older than held", good, 6, f.now, registry.ErrRollback},
		{"expired", good, 0, f.now.Add(2 * time.Hour), registry.ErrSnapshotExpired},
		{"signer revoked", f.signed(t, 5, time.Hour, revokedReg.Signer), 0, f.now, registry.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := registry.VerifySnapshot(tt.signed, f.ca.Cert, tt.held, tt.now); !errors.Is(err, tt.want) {
				t.Fatalf("VerifySnapshot error = %v, want %v", err, tt.want)
			}
		})
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
		v, err := registry.VerifySnapshot(&s, ca.Cert, 0, time.Now())
		if err != nil {
			return
		}
		// Anything accepted must carry exactly the signed bytes.
		if !proto.Equal(v.Signed, &s) || string(s.GetSnapshot()) != string(signed.GetSnapshot()) {
			t.Fatalf("accepted a snapshot that is not the one signed")
		}
	})
}

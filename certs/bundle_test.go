package certs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"jiexu/certs"
	"jiexu/certs/certtest"
)

func TestKindTravelsFromRequestToCertificate(t *testing.T) {
	ca := certtest.NewCA(t)
	tests := []struct {
		name, asked, certified, want string
		wantErr                      error
	}{
		{name: "asked and certified", asked: certs.KindNCMS, want: certs.KindNCMS},
		{name: "asked, confirmed by the CA", asked: certs.KindNCMS, certified: certs.KindNCMS, want: certs.KindNCMS},
		{name: "supplied by the CA", certified: certs.KindInsurance, want: certs.KindInsurance},
		{name: "named by neither", want: ""},
		{name: "request and CA disagree", asked: certs.KindNCMS, certified: certs.KindInsurance, wantErr: certs.ErrBadKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := certs.CreateCSR(dir, "150781", "满洲里市合作医疗管理办公室", tt.asked); err != nil {
				t.Fatal(err)
			}
			cert, err := ca.SignCSRKind(filepath.Join(dir, certs.CSRFile), []string{"10.1.2.3"}, tt.certified, dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SignCSRKind = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := certs.KindOf(cert); got != tt.want {
				t.Errorf("KindOf = %q, want %q", got, tt.want)
			}
		})
	}
	if err := certs.CreateCSR(t.TempDir(), "150781", "x", "hospital"); !errors.Is(err, certs.ErrBadKind) {
		t.Errorf("CreateCSR(kind hospital) = %v, want ErrBadKind", err)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	ca := certtest.NewCA(t)
	node := certtest.Node(t, ca, "150781")
	cert, err := certs.LoadCertificate(node.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), certs.BundleFile)
	if err := certs.WriteBundle(path, certs.Bundle{Cert: cert, CA: ca.Cert, RegistryAddress: "10.0.0.1:7400"}); err != nil {
		t.Fatal(err)
	}
	b, err := certs.LoadBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Cert.Equal(cert) || !b.CA.Equal(ca.Cert) || b.RegistryAddress != "10.0.0.1:7400" {
		t.Errorf("LoadBundle = cert %s, CA %s, registry %q; want what was written", b.Cert.Subject, b.CA.Subject, b.RegistryAddress)
	}
	// The first certificate of the file is the node's, for tools that read one.
	if first, err := certs.LoadCertificate(path); err != nil || !first.Equal(cert) {
		t.Errorf("first certificate of the bundle: %v, want the node's", err)
	}

	// A certificate from another CA, or a bundle without its CA, is refused.
	other := certtest.NewCA(t)
	if err := certs.WriteBundle(path, certs.Bundle{Cert: cert, CA: other.Cert}); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadBundle(path); !errors.Is(err, certs.ErrBadBundle) {
		t.Errorf("LoadBundle(foreign CA) = %v, want ErrBadBundle", err)
	}
	data, _ := os.ReadFile(node.CertFile())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadBundle(path); !errors.Is(err, certs.ErrBadBundle) {
		t.Errorf("LoadBundle(no CA) = %v, want ErrBadBundle", err)
	}
}

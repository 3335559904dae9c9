package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestIssueBindsRegion(t *testing.T) {
	ca := certtest.NewCA(t)
	n := certtest.Node(t, ca, "150100")
	region, err := certs.RegionOf(n.Signer.Cert)
	if err != nil || region != "150100" {
		t.Fatalf("RegionOf = %q, %v; want 150100", region, err)
	}
	if got := n.Signer.Cert.URIs[0].String(); got != "spiffe://jiexu/region/150100" {
		t.Errorf("URI SAN = %s", got)
	}
	fi, err := os.Stat(filepath.Join(n.Dir, certs.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestRegionCheckRefuses(t *testing.T) {
	ca := certtest.NewCA(t, certs.WithRegionCheck(func(code string) error {
		if code != "150100" {
			return errors.New("not in table")
		}
		return nil
	}))
	for _, region := range []string{"159999", "15010", "abcdef", ""} {
		_, err := ca.Issue(certs.IssueRequest{Region: region, Name: "x"}, t.TempDir())
		if !errors.Is(err, certs.ErrBadRegion) {
			t.Errorf("Issue(region %q) error = %v, want ErrBadRegion", region, err)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	now := time.Now()
	ca := certtest.NewCA(t)
	other := certtest.NewCA(t)
	good := certtest.Node(t, ca, "150100")
	foreign := certtest.Node(t, other, "150100")
	registry := certtest.Registry(t, ca)
	crl, err := ca.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	revokedCert := certtest.Node(t, ca, "150700")
	crl, err = ca.Revoke([]*big.Int{revokedCert.Signer.Cert.SerialNumber})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := certs.ParseRevoked(crl, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(good.CAFile())

	tests := []struct {
		name string
		cert certtest.Issued
		at   time.Time
		want error
	}{
		{"unknown CA", foreign, now, certs.ErrUnknownCA},
		{"expired", good, now.AddDate(2, 0, 0), certs.ErrExpired},
		{"not yet valid", good, now.AddDate(-1, 0, 0), certs.ErrExpired},
		{"revoked", revokedCert, now, certs.ErrRevoked},
		{"no region", registry, now, certs.ErrNoRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.Verify(tt.cert.Signer.Cert, roots, revoked, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
	if region, err := certs.Verify(good.Signer.Cert, roots, revoked, now); err != nil || region != "150100" {
		t.Fatalf("Verify(good) = %q, %v", region, err)
	}
	if revoked.Len() != 1 {
		t.Errorf("revoked.Len() = %d, want 1", revoked.Len())
	}
	if _, err := certs.ParseRevoked(crl, other.Cert); err == nil {
		t.Error("ParseRevoked accepted a CRL checked against another CA")
	}
}

func TestSealRoundTripAndTamper(t *testing.T) {
	ca := certtest.NewCA(t)
	n := certtest.Node(t, ca, "150100")
	roots, _ := certs.LoadPool(n.CAFile())
	content := []byte("参保凭证 蒙呼和浩特2025第00042号")
	seal, err := n.Signer.Seal(certs.DomainCertificate, content)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.CheckSeal(seal, certs.DomainCertificate, content, roots, nil, time.Now()); err != nil {
		t.Fatalf("CheckSeal(good) = %v", err)
	}
	tampered := append([]byte{}, content...)
	tampered[0] ^= 1
	if _, err := certs.CheckSeal(seal, certs.DomainCertificate, tampered, roots, nil, time.Now()); !errors.Is(err, certs.ErrBadSeal) {
		t.Errorf("CheckSeal(tampered) = %v, want ErrBadSeal", err)
	}
	if _, err := certs.CheckSeal(seal, certs.DomainMessage, content, roots, nil, time.Now()); !errors.Is(err, certs.ErrBadSeal) {
		t.Errorf("CheckSeal(other domain) = %v, want ErrBadSeal", err)
	}
	if _, err := certs.CheckSeal(nil, certs.DomainCertificate, content, roots, nil, time.Now()); !errors.Is(err, certs.ErrUnsealed) {
		t.Errorf("CheckSeal(nil) = %v, want ErrUnsealed", err)
	}
}

func TestCSRPath(t *testing.T) {
	ca := certtest.NewCA(t)
	dir := t.TempDir()
	if err := certs.CreateCSR(dir, "150781", "满洲里市医疗保险事业管理局", certs.KindNCMS); err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignCSR(filepath.Join(dir, certs.CSRFile), []string{"127.0.0.1"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if region, err := certs.RegionOf(cert); err != nil || region != "150781" {
		t.Fatalf("RegionOf(signed CSR) = %q, %v", region, err)
	}
	if _, err := certs.LoadKeyPair(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile)); err != nil {
		t.Fatalf("key and signed certificate do not pair: %v", err)
	}

	// A request that names no region is refused.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "no region"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(t.TempDir(), "bare.pem")
	if err := certs.WritePEM(bare, "CERTIFICATE REQUEST", der, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SignCSR(bare, nil, t.TempDir()); !errors.Is(err, certs.ErrNoRegion) {
		t.Errorf("SignCSR(no region) = %v, want ErrNoRegion", err)
	}
}

func TestMutualTLSAndReload(t *testing.T) {
	ca := certtest.NewCA(t)
	srvCert := certtest.Node(t, ca, "150100")
	cliCert := certtest.Node(t, ca, "150700")
	roots, _ := certs.LoadPool(srvCert.CAFile())
	srvKP, err := certs.LoadKeyPair(srvCert.CertFile(), srvCert.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	cliKP, _ := certs.LoadKeyPair(cliCert.CertFile(), cliCert.KeyFile())
	lis, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerTLS(srvKP, roots))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	dial := func(want string) (*tls.Conn, error) {
		d := tls.Dialer{Config: certs.ClientTLS(cliKP, roots, want)}
		d.Config.ServerName = "127.0.0.1"
		c, err := d.DialContext(context.Background(), "tcp", lis.Addr().String())
		if err != nil {
			return nil, err
		}
		return c.(*tls.Conn), nil
	}
	c, err := dial("150100")
	if err != nil {
		t.Fatalf("dial with right region: %v", err)
	}
	if c.ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("TLS version = %x, want 1.3", c.ConnectionState().Version)
	}
	c.Close()
	if _, err := dial("150781"); err == nil || !strings.Contains(err.Error(), "want 150781") {
		t.Errorf("dial expecting another region: err = %v, want refusal", err)
	}

	// Rotate the server's certificate on disk and reload without restarting.
	old := srvKP.Leaf().SerialNumber
	rotated := certtest.Node(t, ca, "150100")
	for _, f := range []string{certs.CertFile, certs.KeyFile} {
		data, _ := os.ReadFile(filepath.Join(rotated.Dir, f))
		if err := os.WriteFile(filepath.Join(srvCert.Dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	future := time.Now().Add(time.Second)
	os.Chtimes(srvCert.CertFile(), future, future)
	if changed, err := srvKP.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("ReloadIfChanged = %v, %v", changed, err)
	}
	c, err = dial("150100")
	if err != nil {
		t.Fatalf("dial after reload: %v", err)
	}
	if got := c.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(old) == 0 {
		t.Error("server still presents the old certificate after reload")
	}
	c.Close()
}

func TestOpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed: skipping the interoperability check")
	}
	ca := certtest.NewCA(t)
	n := certtest.Node(t, ca, "150781")
	out, err := exec.Command(openssl, "verify", "-CAfile", n.CAFile(), n.CertFile()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	out, err = exec.Command(openssl, "x509", "-in", n.CertFile(), "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "URI:spiffe://jiexu/region/150781") {
		t.Fatalf("openssl x509 -text does not show the region: %v\n%s", err, out)
	}
}

// Signer certificates are parsed once and remembered by their bytes: a
// seal that carries another node's certificate, or another's key id, is
// still refused after both certificates were seen.
func TestSealSignerMemory(t *testing.T) {
	ca := certtest.NewCA(t)
	a, b := certtest.Node(t, ca, "150100"), certtest.Node(t, ca, "150700")
	roots, _ := certs.LoadPool(a.CAFile())
	content := []byte("message")
	sa, err := a.Signer.Seal(certs.DomainMessage, content)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Signer.Seal(certs.DomainMessage, content)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time from memory
		for _, s := range []*jiexuv1.Seal{sa, sb} {
			if _, err := certs.CheckSeal(s, certs.DomainMessage, content, roots, nil, time.Now()); err != nil {
				t.Fatalf("CheckSeal(good) = %v", err)
			}
		}
	}
	c1, err := certs.SignerCertificate(sa)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := certs.SignerCertificate(sa); c1 != c2 {
		t.Errorf("the same certificate was parsed twice")
	}
	if region, _ := certs.RegionOf(c1); region != "150100" {
		t.Errorf("SignerCertificate(a's seal) is for %q, want 150100", region)
	}
	tests := []struct {
		name string
		seal *jiexuv1.Seal
	}{
		{"a's signature, b's certificate and key id", &jiexuv1.Seal{KeyId: sb.GetKeyId(), Algorithm: sa.GetAlgorithm(), Signature: sa.GetSignature(), Certificate: sb.GetCertificate()}},
		{"a's signature and key id, b's certificate", &jiexuv1.Seal{KeyId: sa.GetKeyId(), Algorithm: sa.GetAlgorithm(), Signature: sa.GetSignature(), Certificate: sb.GetCertificate()}},
		{"b's signature, a's certificate and key id", &jiexuv1.Seal{KeyId: sa.GetKeyId(), Algorithm: sa.GetAlgorithm(), Signature: sb.GetSignature(), Certificate: sa.GetCertificate()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := certs.CheckSeal(tt.seal, certs.DomainMessage, content, roots, nil, time.Now()); !errors.Is(err, certs.ErrBadSeal) {
				t.Errorf("CheckSeal = %v, want ErrBadSeal", err)
			}
		})
	}
}

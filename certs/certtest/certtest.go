// Package certtest makes CAs and certificates for tests from the project's
// own CA code, in temporary folders, so no private key is ever committed.
package certtest

import (
	"path/filepath"
	"testing"

	"jiexu/certs"
)

// NewCA creates a CA in a temporary folder.
func NewCA(tb testing.TB, opts ...certs.Option) *certs.CA {
	tb.Helper()
	ca, err := certs.InitCA(filepath.Join(tb.TempDir(), "ca"), "", opts...)
	if err != nil {
		tb.Fatalf("InitCA: %v", err)
	}
	return ca
}

// Issued is a certificate issued into a folder.
type Issued struct {
	Dir    string
	Signer *certs.Signer
}

// CertFile, KeyFile and CAFile are the paths inside Dir.
func (i Issued) CertFile() string { return filepath.Join(i.Dir, certs.CertFile) }

// KeyFile returns the key's path.
func (i Issued) KeyFile() string { return filepath.Join(i.Dir, certs.KeyFile) }

// CAFile returns the CA certificate's path.
func (i Issued) CAFile() string { return filepath.Join(i.Dir, certs.CACertFile) }

// Issue issues a certificate for 127.0.0.1 and localhost.
func Issue(tb testing.TB, ca *certs.CA, req certs.IssueRequest) Issued {
	tb.Helper()
	if req.Name == "" {
		req.Name = "test agency " + req.Region
	}
	if req.Hosts == nil {
		req.Hosts = []string{"127.0.0.1", "localhost"}
	}
	dir := filepath.Join(tb.TempDir(), "cert")
	cert, err := ca.Issue(req, dir)
	if err != nil {
		tb.Fatalf("Issue(%+v): %v", req, err)
	}
	key, err := certs.LoadKey(filepath.Join(dir, certs.KeyFile))
	if err != nil {
		tb.Fatal(err)
	}
	return Issued{Dir: dir, Signer: certs.NewSigner(cert, key)}
}

// Node issues a node certificate for region.
func Node(tb testing.TB, ca *certs.CA, region string) Issued {
	return Issue(tb, ca, certs.IssueRequest{Role: certs.RoleNode, Region: region})
}

// Registry issues the registry's certificate.
func Registry(tb testing.TB, ca *certs.CA) Issued {
	return Issue(tb, ca, certs.IssueRequest{Role: certs.RoleRegistry, Name: "jiexu registry"})
}

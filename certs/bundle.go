package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Agency kinds a node certificate may carry in its subject's organizational
// unit: the national CA certifies what kind of agency runs the node, so the
// registry and the node's own config can be checked against it.
const (
	// KindInsurance is a social (medical) insurance agency (社会（医疗）保险经办机构).
	KindInsurance = "insurance"
	// KindNCMS is an NCMS office (新型农村合作医疗经办机构).
	KindNCMS = "ncms"
)

// CheckKind returns ErrBadKind unless kind is KindInsurance or KindNCMS.
func CheckKind(kind string) error {
	if kind != KindInsurance && kind != KindNCMS {
		return fmt.Errorf("%w: %q must be %q or %q", ErrBadKind, kind, KindInsurance, KindNCMS)
	}
	return nil
}

// KindOf returns the agency kind a node certificate carries, or "" when it
// names none (certificates issued before kinds were certified).
func KindOf(cert *x509.Certificate) string { return kindOf(cert.Subject.OrganizationalUnit) }

func kindOf(ous []string) string {
	for _, ou := range ous {
		if CheckKind(ou) == nil {
			return ou
		}
	}
	return ""
}

// BundleFile is the one file the national CA sends back to an agency: its
// node certificate, the CA's certificate and, when the CA operator gives it,
// the registry's address.
const BundleFile = "bundle.pem"

// bundleNetworkBlock is the PEM block type carrying the network's settings
// in a bundle; it comes after the certificates, so that tools reading the
// first certificate (openssl x509) still work on the file.
const bundleNetworkBlock = "JIEXU NETWORK"

// Bundle is what a node needs from the national level to join.
type Bundle struct {
	// Cert is the node's certificate; CA is the national root that signed it.
	Cert, CA *x509.Certificate
	// RegistryAddress is host:port of the registry, or "" when not given.
	RegistryAddress string
}

// WriteBundle writes b to path: the node certificate, then the CA, then the
// network block.
func WriteBundle(path string, b Bundle) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# jiexu node bundle for %s: the node certificate, the national CA, the registry address.\n", b.Cert.Subject.CommonName)
	fmt.Fprintf(&buf, "# Install it on the node's machine with: jiexu node init --bundle %s\n", filepath.Base(path))
	if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: b.Cert.Raw}); err != nil {
		return err
	}
	if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Raw}); err != nil {
		return err
	}
	if b.RegistryAddress != "" {
		if err := pem.Encode(&buf, &pem.Block{Type: bundleNetworkBlock, Headers: map[string]string{"Registry-Address": b.RegistryAddress}}); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// LoadBundle reads a bundle and checks that its certificate is a node
// certificate signed by its CA. It does not decide whether that CA is the
// national root: the caller shows its fingerprint for the operator to check.
func LoadBundle(path string) (*Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b Bundle
	var certsFound []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrBadBundle, path, err)
			}
			certsFound = append(certsFound, c)
		case bundleNetworkBlock:
			b.RegistryAddress = strings.TrimSpace(block.Headers["Registry-Address"])
		}
	}
	for _, c := range certsFound {
		if c.IsCA {
			b.CA = c
		} else if b.Cert == nil {
			b.Cert = c
		}
	}
	switch {
	case b.Cert == nil:
		return nil, fmt.Errorf("%w: %s holds no node certificate (it should come from 'jiexu ca sign')", ErrBadBundle, path)
	case b.CA == nil:
		return nil, fmt.Errorf("%w: %s holds no CA certificate (it should come from 'jiexu ca sign')", ErrBadBundle, path)
	}
	if err := b.Cert.CheckSignatureFrom(b.CA); err != nil {
		return nil, fmt.Errorf("%w: %s: its certificate is not signed by its CA: %v", ErrBadBundle, path, err)
	}
	if _, err := RegionOf(b.Cert); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadBundle, path, err)
	}
	return &b, nil
}

package certs

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File names inside a CA folder and a node's certificate folder.
const (
	CACertFile  = "ca.pem"
	CAKeyFile   = "ca-key.pem"
	CRLFile     = "crl.pem"
	revokedFile = "revoked.json"
	CertFile    = "cert.pem"
	KeyFile     = "key.pem"
	CSRFile     = "csr.pem"
)

// WritePEM writes one PEM block to path; keys get mode 0600. It refuses to
// overwrite an existing file when exclusive is set.
func WritePEM(path, blockType string, der []byte, exclusive bool) error {
	mode := os.FileMode(0o644)
	if blockType == "EC PRIVATE KEY" || blockType == "PRIVATE KEY" {
		mode = 0o600
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if exclusive {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite it (move it away first)", path)
		}
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readPEM(path, blockType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no %s PEM block", path, blockType)
		}
		if b.Type == blockType {
			return b.Bytes, nil
		}
	}
}

// LoadCertificate reads the first certificate of a PEM file.
func LoadCertificate(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// LoadPool reads a PEM file of CA certificates into a pool.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no certificates", path)
	}
	return pool, nil
}

// LoadKey reads an EC private key.
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, "EC PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	return x509.ParseECPrivateKey(der)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return WritePEM(path, "EC PRIVATE KEY", der, true)
}

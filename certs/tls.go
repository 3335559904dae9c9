package certs

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// KeyPair holds a node's certificate and key, reloadable from disk without a
// restart. It serves them to TLS through GetCertificate and
// GetClientCertificate.
type KeyPair struct {
	certFile, keyFile string
	current           atomic.Pointer[loadedPair]

	mu      sync.Mutex // guards modTime
	modTime time.Time
}

// loadedPair is one reading of the files: the TLS pair and a signer for it,
// swapped together so that TLS and seals never use different certificates.
type loadedPair struct {
	tls    *tls.Certificate
	signer *Signer
}

// LoadKeyPair reads a certificate and key.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	kp := &KeyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.Reload(); err != nil {
		return nil, err
	}
	return kp, nil
}

// Reload reads the files again; on error the previous pair stays in use.
func (kp *KeyPair) Reload() error {
	pair, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		return fmt.Errorf("load %s: %w", kp.certFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	pair.Leaf = leaf
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("load %s: private key cannot sign", kp.keyFile)
	}
	kp.current.Store(&loadedPair{tls: &pair, signer: NewSigner(leaf, key)})
	if fi, err := os.Stat(kp.certFile); err == nil {
		kp.mu.Lock()
		kp.modTime = fi.ModTime()
		kp.mu.Unlock()
	}
	return nil
}

// ReloadIfChanged reloads when the certificate file's modification time has
// changed; it reports whether it did.
func (kp *KeyPair) ReloadIfChanged() (bool, error) {
	fi, err := os.Stat(kp.certFile)
	if err != nil {
		return false, err
	}
	kp.mu.Lock()
	same := fi.ModTime().Equal(kp.modTime)
	kp.mu.Unlock()
	if same {
		return false, nil
	}
	return true, kp.Reload()
}

// Leaf returns the certificate in use.
func (kp *KeyPair) Leaf() *x509.Certificate { return kp.current.Load().tls.Leaf }

// Signer returns a signer for the pair in use.
func (kp *KeyPair) Signer() *Signer { return kp.current.Load().signer }

// Certificate returns the pair in use.
func (kp *KeyPair) Certificate() *tls.Certificate { return kp.current.Load().tls }

// ServerTLS returns a TLS 1.3 server configuration that requires and verifies
// a client certificate from roots.
func ServerTLS(kp *KeyPair, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      roots,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.Certificate(), nil },
	}
}

// MetricsTLS returns the TLS 1.3 configuration of a node's /metrics
// listener: the node's own certificate, and a client certificate from roots
// with the monitoring role (the national Prometheus's) required. Metrics
// carry no personal data, but they say what a region's agency is doing.
func MetricsTLS(kp *KeyPair, roots *x509.CertPool) *tls.Config {
	cfg := ServerTLS(kp, roots)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || !IsMonitoring(cs.VerifiedChains[0][0]) {
			return fmt.Errorf("%w: /metrics answers the monitoring certificate only ('jiexu ca issue --role monitoring')", ErrNotMonitoring)
		}
		return nil
	}
	return cfg
}

// ClientTLS returns a TLS 1.3 client configuration presenting kp. When
// wantRegion is set, the server's certificate must be bound to that region
// (wantRegion "registry" expects the registry's certificate).
func ClientTLS(kp *KeyPair, roots *x509.CertPool, wantRegion string) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.Certificate(), nil },
		VerifyConnection: func(cs tls.ConnectionState) error {
			if wantRegion == "" || len(cs.VerifiedChains) == 0 {
				return nil
			}
			leaf := cs.VerifiedChains[0][0]
			if wantRegion == RegistryRole {
				if !IsRegistry(leaf) {
					return fmt.Errorf("server %s: %w", cs.ServerName, ErrNotRegistry)
				}
				return nil
			}
			got, err := RegionOf(leaf)
			if err != nil {
				return fmt.Errorf("server %s: %w", cs.ServerName, err)
			}
			if got != wantRegion {
				return fmt.Errorf("server %s is region %s, want %s", cs.ServerName, got, wantRegion)
			}
			return nil
		},
	}
}

// RegistryRole is the wantRegion of ClientTLS for a connection to the registry.
const RegistryRole = "registry"

// PeerCertificate returns the verified leaf certificate of a gRPC peer.
func PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, ErrNoPeerCertificate
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, ErrNoPeerCertificate
	}
	if len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil, ErrNoPeerCertificate
	}
	return info.State.VerifiedChains[0][0], nil
}

// PeerRegion returns the pooling region of a gRPC peer from its verified chain.
func PeerRegion(ctx context.Context) (string, *x509.Certificate, error) {
	cert, err := PeerCertificate(ctx)
	if err != nil {
		return "", nil, err
	}
	region, err := RegionOf(cert)
	return region, cert, err
}

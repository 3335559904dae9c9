package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Sealing domains keep a signature made for one kind of content from being
// accepted as another.
const (
	DomainMessage     = "jiexu/v1 message"
	DomainCertificate = "jiexu/v1 certificate"
	DomainSnapshot    = "jiexu/v1 snapshot"
	// DomainRegistryAnnouncement is the CA's statement naming the registry
	// certificate to trust.
	DomainRegistryAnnouncement = "jiexu/v1 registry announcement"
	// DomainReceipt is a receiver's receipt for a message.
	DomainReceipt = "jiexu/v1 receipt"
	// DomainAuditCheckpoint is a node's seal over its audit chain's head.
	DomainAuditCheckpoint = "jiexu/v1 audit checkpoint"
)

// Signer seals content with a node's (or the registry's) key.
type Signer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	fp   string
}

// NewSigner returns a signer for a certificate and its private key.
func NewSigner(cert *x509.Certificate, key crypto.Signer) *Signer {
	return &Signer{Cert: cert, Key: key, fp: Fingerprint(cert)}
}

func digest(domain string, content []byte) []byte {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write(content)
	return h.Sum(nil)
}

// Seal signs content under a domain.
func (s *Signer) Seal(domain string, content []byte) (*jiexuv1.Seal, error) {
	sig, err := s.Key.Sign(rand.Reader, digest(domain, content), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &jiexuv1.Seal{
		KeyId:       s.fp,
		Algorithm:   jiexuv1.SealAlgorithm_SEAL_ALGORITHM_ECDSA_P256_SHA256,
		Signature:   sig,
		Certificate: s.Cert.Raw,
	}, nil
}

// signers remembers parsed signer certificates by their DER bytes: a node
// sees the same few peer certificates on every message and receipt, and
// parsing one costs more than checking its signature's hash. The memory is
// bounded (emptied when full); the certificates it hands out are shared and
// must not be modified.
var signers = struct {
	sync.Mutex
	m map[string]parsedSigner
}{m: map[string]parsedSigner{}}

// maxSigners bounds the signer memory: far more than a node's peers.
const maxSigners = 1024

type parsedSigner struct {
	cert *x509.Certificate
	fp   string
}

// parseSigner parses a seal's certificate (remembered) and returns it with
// its fingerprint.
func parseSigner(der []byte) (*x509.Certificate, string, error) {
	signers.Lock()
	p, ok := signers.m[string(der)]
	signers.Unlock()
	if ok {
		return p.cert, p.fp, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	p = parsedSigner{cert: cert, fp: Fingerprint(cert)}
	signers.Lock()
	if len(signers.m) >= maxSigners {
		clear(signers.m)
	}
	signers.m[string(der)] = p
	signers.Unlock()
	return p.cert, p.fp, nil
}

// SignerCertificate returns the certificate a seal carries, parsed once and
// remembered (see parseSigner), without checking anything: CheckSignature
// and CheckSeal check. Do not modify it.
func SignerCertificate(seal *jiexuv1.Seal) (*x509.Certificate, error) {
	cert, _, err := parseSigner(seal.GetCertificate())
	return cert, err
}

// CheckSeal verifies a seal over content under a domain: the signature, and
// that the signer's certificate chains to roots, was valid at the given time
// and is not revoked. It returns the signer's certificate.
func CheckSeal(seal *jiexuv1.Seal, domain string, content []byte, roots *x509.CertPool, revoked *Revoked, at time.Time) (*x509.Certificate, error) {
	cert, err := CheckSignature(seal, domain, content)
	if err != nil {
		return nil, err
	}
	if err := VerifyChain(cert, roots, revoked, at); err != nil {
		return nil, err
	}
	return cert, nil
}

// CheckCASeal verifies a seal made by the CA itself (Signer of the CA's own
// certificate and key): the signature, and that the sealing certificate is
// exactly ca.
func CheckCASeal(seal *jiexuv1.Seal, domain string, content []byte, ca *x509.Certificate) error {
	cert, err := CheckSignature(seal, domain, content)
	if err != nil {
		return err
	}
	if !bytes.Equal(cert.Raw, ca.Raw) {
		return fmt.Errorf("%w: sealed by %q, not the CA", ErrUnknownCA, cert.Subject.CommonName)
	}
	return nil
}

// CheckSignature verifies a seal's signature over content under a domain
// and returns the signer's certificate, whose chain the caller must still
// check (VerifyChain): CheckSeal does both. A batch seal (batch_proof, see
// SealBatch) is accepted for messages only, and proves what a seal of the
// content alone proves: its proof must lead from content to the root the
// signature covers.
func CheckSignature(seal *jiexuv1.Seal, domain string, content []byte) (*x509.Certificate, error) {
	if seal == nil || len(seal.GetSignature()) == 0 || len(seal.GetCertificate()) == 0 {
		return nil, ErrUnsealed
	}
	if seal.GetAlgorithm() != jiexuv1.SealAlgorithm_SEAL_ALGORITHM_ECDSA_P256_SHA256 {
		return nil, fmt.Errorf("%w: unsupported algorithm %v", ErrBadSeal, seal.GetAlgorithm())
	}
	cert, fp, err := parseSigner(seal.GetCertificate())
	if err != nil {
		return nil, fmt.Errorf("%w: signer certificate: %v", ErrBadSeal, err)
	}
	if fp != seal.GetKeyId() {
		return nil, fmt.Errorf("%w: key id does not match the signer certificate", ErrBadSeal)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: signer key is not ECDSA", ErrBadSeal)
	}
	if p := seal.GetBatchProof(); p != nil {
		if domain != DomainMessage {
			return nil, fmt.Errorf("%w: a batch seal seals messages only, not %q", ErrBadSeal, domain)
		}
		signed, err := batchSigned(p, domain, content)
		if err != nil {
			return nil, err
		}
		key := rootKey(fp, domain, p.GetRoot(), seal.GetSignature())
		if rootVerified(key) {
			return cert, nil
		}
		if !ecdsa.VerifyASN1(pub, signed, seal.GetSignature()) {
			return nil, ErrBadSeal
		}
		rememberRoot(key)
		return cert, nil
	}
	if !ecdsa.VerifyASN1(pub, digest(domain, content), seal.GetSignature()) {
		return nil, ErrBadSeal
	}
	return cert, nil
}

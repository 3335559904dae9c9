package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revoked is a set of revoked certificate serials taken from a CRL that the
// CA signed.
type Revoked struct {
	serials map[string]struct{}
	// Number is the CRL's sequence number; NextUpdate its stated expiry.
	Number     *big.Int
	NextUpdate time.Time
}

// ParseRevoked checks a CRL's signature against the CA and returns its
// serials. An empty input is an empty set.
func ParseRevoked(der []byte, ca *x509.Certificate) (*Revoked, error) {
	r := &Revoked{serials: map[string]struct{}{}}
	if len(der) == 0 {
		return r, nil
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("revocation list not signed by the CA: %w", err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		r.serials[e.SerialNumber.String()] = struct{}{}
	}
	r.Number, r.NextUpdate = crl.Number, crl.NextUpdate
	return r, nil
}

// Contains reports whether a certificate is revoked. A nil set holds nothing.
func (r *Revoked) Contains(cert *x509.Certificate) bool {
	if r == nil {
		return false
	}
	_, ok := r.serials[cert.SerialNumber.String()]
	return ok
}

// Len returns the number of revoked serials.
func (r *Revoked) Len() int {
	if r == nil {
		return 0
	}
	return len(r.serials)
}

// Verify checks that cert chains to roots, is valid at the given time and is
// not revoked, and returns its pooling region. Each refusal wraps one of
// ErrUnknownCA, ErrExpired, ErrRevoked or ErrNoRegion.
func Verify(cert *x509.Certificate, roots *x509.CertPool, revoked *Revoked, at time.Time) (string, error) {
	if err := VerifyChain(cert, roots, revoked, at); err != nil {
		return "", err
	}
	return RegionOf(cert)
}

// VerifyChain checks that cert chains to roots, is valid at the given time
// and is not revoked.
func VerifyChain(cert *x509.Certificate, roots *x509.CertPool, revoked *Revoked, at time.Time) error {
	if err := verifyChain(cert, roots, at); err != nil {
		return err
	}
	if revoked.Contains(cert) {
		return fmt.Errorf("%w: serial %s", ErrRevoked, cert.SerialNumber)
	}
	return nil
}

func verifyChain(cert *x509.Certificate, roots *x509.CertPool, at time.Time) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return fmt.Errorf("%w: valid %s to %s, checked at %s", ErrExpired,
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %v", ErrUnknownCA, err)
}

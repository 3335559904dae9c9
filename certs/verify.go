package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revoked is a set of revoked certificate serials taken from a CRL that the
// CA signed.
type Revoked struct {
	// serials maps a revoked serial to its revocation time.
	serials map[string]time.Time
	// Number is the CRL's sequence number (nil for an empty input);
	// ThisUpdate and NextUpdate its issue time and stated expiry.
	Number                 *big.Int
	ThisUpdate, NextUpdate time.Time
	// DER is the CRL as signed (nil for an empty input).
	DER []byte
}

// ParseRevoked checks a CRL's signature against the CA and returns its
// serials. An empty input is an empty set.
func ParseRevoked(der []byte, ca *x509.Certificate) (*Revoked, error) {
	r := &Revoked{serials: map[string]time.Time{}}
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
	if crl.Number == nil {
		return nil, errors.New("revocation list has no CRL number")
	}
	for _, e := range crl.RevokedCertificateEntries {
		r.serials[e.SerialNumber.String()] = e.RevocationTime
	}
	r.Number, r.ThisUpdate, r.NextUpdate = crl.Number, crl.ThisUpdate, crl.NextUpdate
	r.DER = bytes.Clone(der)
	return r, nil
}

// Contains reports whether a certificate is revoked. A nil set holds nothing.
func (r *Revoked) Contains(cert *x509.Certificate) bool {
	_, ok := r.RevokedAt(cert)
	return ok
}

// RevokedAt returns when a certificate was revoked, and whether it is.
func (r *Revoked) RevokedAt(cert *x509.Certificate) (time.Time, bool) {
	if r == nil {
		return time.Time{}, false
	}
	at, ok := r.serials[cert.SerialNumber.String()]
	return at, ok
}

// CompareNumber orders two lists by CRL number; a nil list or an empty one
// (no number) comes before every signed list.
func (r *Revoked) CompareNumber(o *Revoked) int {
	var a, b *big.Int
	if r != nil {
		a = r.Number
	}
	if o != nil {
		b = o.Number
	}
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Cmp(b)
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

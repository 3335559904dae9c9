package node

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Verdict is what an offline check of a certificate concludes.
type Verdict int

const (
	// VerdictValid: the seal verifies and its key is not on the list given
	// (or no list was given).
	VerdictValid Verdict = iota + 1
	// VerdictValidAtTheTime: the seal verifies, and the certificate says it
	// was sealed before its key was revoked. That time is the sealer's own
	// claim: whoever held the key after the revocation could write an
	// earlier one.
	VerdictValidAtTheTime
)

// ErrSealedAfterRevocation is returned when a certificate was sealed after
// its sealing key was revoked.
var ErrSealedAfterRevocation = errors.New("sealed after its sealing key was revoked")

// CertificateReport is the result of CheckCertificateOffline.
type CertificateReport struct {
	Certificate *jiexuv1.Certificate
	Verdict     Verdict
	// SealedAt is when the certificate says it was sealed (issued_at).
	SealedAt time.Time
	// Signer is the sealing certificate.
	Signer *x509.Certificate
	// Revocation is the list checked (nil when none was given); RevokedAt
	// when it revoked the signer (zero when it does not).
	Revocation *certs.Revoked
	RevokedAt  time.Time
	// Code is the printed page's verification code.
	Code string
}

// CheckCertificateOffline checks an exported certificate against the CA and,
// when revoked is given, the sealing key's revocation: a certificate sealed
// before its key was revoked is valid at the time (VerdictValidAtTheTime),
// one sealed after it is refused with ErrSealedAfterRevocation.
func CheckCertificateOffline(sc *jiexuv1.SealedCertificate, ca *x509.Certificate, revoked *certs.Revoked) (*CertificateReport, error) {
	c, err := VerifyCertificate(sc, ca, nil)
	if err != nil {
		return nil, err
	}
	signer, err := x509.ParseCertificate(sc.GetSeal().GetCertificate()) // checked by VerifyCertificate
	if err != nil {
		return nil, err
	}
	r := &CertificateReport{Certificate: c, Verdict: VerdictValid, SealedAt: c.GetIssuedAt().AsTime(), Signer: signer,
		Revocation: revoked, Code: rules.VerificationCode(sc)}
	at, isRevoked := revoked.RevokedAt(signer)
	if !isRevoked {
		return r, nil
	}
	r.RevokedAt = at
	if !r.SealedAt.Before(at) {
		return r, fmt.Errorf("%w: %s says it was sealed on %s; the key (serial %s) was revoked on %s", ErrSealedAfterRevocation,
			c.GetNumber(), cst(r.SealedAt), signer.SerialNumber, cst(at))
	}
	r.Verdict = VerdictValidAtTheTime
	return r, nil
}

func cst(t time.Time) string { return t.In(rules.CST).Format("2006-01-02 15:04:05") }

// LoadRevocation reads the CA's revocation list for an offline check from a
// CRL file (PEM or DER, as 'jiexu ca revoke' writes it) or from a signed
// registry snapshot (verified against the CA as of its issue time: an
// expired snapshot still tells what was revoked by then). Exactly one of
// crlFile and snapshotFile is given.
func LoadRevocation(ca *x509.Certificate, crlFile, snapshotFile string) (*certs.Revoked, error) {
	switch {
	case crlFile != "" && snapshotFile != "":
		return nil, errors.New("give a CRL or a snapshot, not both")
	case crlFile != "":
		der, err := certs.LoadCRL(crlFile)
		if err != nil { // not PEM: DER as it is
			if der, err = os.ReadFile(crlFile); err != nil {
				return nil, err
			}
		}
		r, err := certs.ParseRevoked(der, ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", crlFile, err)
		}
		return r, nil
	case snapshotFile != "":
		signed, err := registry.LoadSigned(snapshotFile)
		if err != nil {
			return nil, err
		}
		var snap jiexuv1.Snapshot
		if err := proto.Unmarshal(signed.GetSnapshot(), &snap); err != nil {
			return nil, fmt.Errorf("%s: %w", snapshotFile, err)
		}
		v, err := registry.VerifySnapshot(signed, ca, nil, snap.GetIssuedAt().AsTime().Add(time.Second))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", snapshotFile, err)
		}
		return v.Revoked, nil
	}
	return nil, nil
}

// WriteCertificateReport says what the check found, in a sentence or three.
func WriteCertificateReport(w io.Writer, r *CertificateReport) {
	c := r.Certificate
	region, _ := certs.RegionOf(r.Signer)
	sealed := fmt.Sprintf("%s was sealed by region %s on %s and has not been altered (verification code %s)",
		c.GetNumber(), region, cst(r.SealedAt), r.Code)
	switch {
	case r.Verdict == VerdictValidAtTheTime:
		fmt.Fprintf(w, "VALID AT THE TIME: %s, before its sealing key (serial %s) was revoked on %s (CRL number %v).\n",
			sealed, r.Signer.SerialNumber, cst(r.RevokedAt), r.Revocation.Number)
		fmt.Fprintf(w, "  Caveat: the sealing time is the sealer's own claim; whoever held the key after %s could have written an earlier one.\n"+
			"  Ask the issuer for its record ('jiexu cert check') before relying on the amounts.\n", cst(r.RevokedAt))
	case r.Revocation == nil:
		fmt.Fprintf(w, "OK: %s.\n  No revocation list was given (--crl or --snapshot): a revoked sealing key would go unnoticed.\n", sealed)
	default:
		fmt.Fprintf(w, "OK: %s; its sealing key is not on CRL number %v of %s.\n", sealed, r.Revocation.Number, cst(r.Revocation.ThisUpdate))
	}
}

package registry

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Bounds on a snapshot's times. A snapshot issued further in the future than
// MaxClockSkew, or valid for longer than MaxLifetime, is refused: a stolen
// registry key must not be able to mint one snapshot that outlives its
// revocation.
const (
	MaxClockSkew = 5 * time.Minute
	MaxLifetime  = 366 * 24 * time.Hour
)

// Sign seals a snapshot with the registry's signer. The snapshot's exact
// bytes are kept, so the seal never depends on re-encoding.
func Sign(snap *jiexuv1.Snapshot, signer *certs.Signer) (*jiexuv1.SignedSnapshot, error) {
	if !certs.IsRegistry(signer.Cert) {
		return nil, fmt.Errorf("sign snapshot: %w", certs.ErrNotRegistry)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	if err != nil {
		return nil, err
	}
	seal, err := signer.Seal(certs.DomainSnapshot, data)
	if err != nil {
		return nil, err
	}
	return &jiexuv1.SignedSnapshot{Snapshot: data, Seal: seal}, nil
}

// Pin is a verified registry announcement: from Epoch on, only the registry
// certificate with Fingerprint signs snapshots.
type Pin struct {
	Epoch        uint64
	Fingerprint  string
	IssuedAt     time.Time
	Announcement *jiexuv1.RegistryAnnouncement
}

// Announce makes the CA's statement that regCert signs snapshots from epoch
// on (epoch ≥ 1, higher than any announced before). The certificate must be
// a registry certificate from this CA that its current list does not revoke.
// It is the recovery from a lost or stolen registry key: nodes that verify
// the announcement pin regCert and refuse every other signer, and versions
// count afresh within the new epoch, so a stolen key's huge version number
// locks nobody out.
func Announce(ca *certs.CA, regCert *x509.Certificate, epoch uint64, now time.Time) (*jiexuv1.RegistryAnnouncement, error) {
	if epoch == 0 {
		return nil, fmt.Errorf("%w: epoch must be at least 1", ErrBadAnnouncement)
	}
	if !certs.IsRegistry(regCert) {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, certs.ErrNotRegistry)
	}
	revoked, err := ca.Revoked()
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if err := certs.VerifyChain(regCert, roots, revoked, now); err != nil {
		return nil, fmt.Errorf("%w: registry certificate: %w", ErrBadAnnouncement, err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&jiexuv1.RegistryStatement{
		Epoch: epoch, CertificateFingerprint: certs.Fingerprint(regCert), IssuedAt: timestamppb.New(now),
	})
	if err != nil {
		return nil, err
	}
	seal, err := ca.Signer().Seal(certs.DomainRegistryAnnouncement, data)
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RegistryAnnouncement{Statement: data, Seal: seal}, nil
}

// VerifyAnnouncement checks that an announcement is sealed by the CA itself
// and returns what it pins.
func VerifyAnnouncement(a *jiexuv1.RegistryAnnouncement, ca *x509.Certificate) (*Pin, error) {
	if err := certs.CheckCASeal(a.GetSeal(), certs.DomainRegistryAnnouncement, a.GetStatement(), ca); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	st := &jiexuv1.RegistryStatement{}
	if err := proto.Unmarshal(a.GetStatement(), st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAnnouncement, err)
	}
	if st.GetEpoch() == 0 || len(st.GetCertificateFingerprint()) != 64 {
		return nil, fmt.Errorf("%w: epoch %d, fingerprint %q", ErrBadAnnouncement, st.GetEpoch(), st.GetCertificateFingerprint())
	}
	return &Pin{Epoch: st.GetEpoch(), Fingerprint: st.GetCertificateFingerprint(), IssuedAt: st.GetIssuedAt().AsTime(), Announcement: a}, nil
}

// Verified is a snapshot that passed VerifySnapshot, and the trust a node
// holds with it.
type Verified struct {
	Snapshot *jiexuv1.Snapshot
	Revoked  *certs.Revoked
	// Signed is what to store: the snapshot as signed, carrying the
	// announcement that Pin came from (attached when the registry sent the
	// snapshot without it), so that it verifies again on its own.
	Signed *jiexuv1.SignedSnapshot
	// Pin is the announced registry certificate in force, nil before any
	// announcement (epoch 0: any registry certificate of the CA signs).
	Pin *Pin
	// Signer is the registry certificate that sealed the snapshot.
	Signer *x509.Certificate
}

// Epoch returns the registry epoch in force, 0 before any announcement.
func (v *Verified) Epoch() uint64 {
	if v == nil || v.Pin == nil {
		return 0
	}
	return v.Pin.Epoch
}

// Version returns the snapshot's version, 0 for nil.
func (v *Verified) Version() uint64 {
	if v == nil {
		return 0
	}
	return v.Snapshot.GetVersion()
}

// VerifySnapshot checks a snapshot against the CA and against what the node
// already holds (held; nil when it holds nothing) as of now. It refuses a
// snapshot that is unsigned or not sealed by a registry certificate of the CA;
// sealed by a certificate that the held revocation list or the new one
// revokes; sealed by any certificate but the one the CA announced, once an
// announcement is held; carrying a revocation list with a lower CRL number
// than the held one; older than the held version in the same epoch, or of the
// same version with other content; issued in the future, expired, or valid
// for longer than MaxLifetime.
//
// An announcement inside the snapshot with a higher epoch than the held one
// becomes the new pin, and versions count afresh from it.
func VerifySnapshot(signed *jiexuv1.SignedSnapshot, ca *x509.Certificate, held *Verified, now time.Time) (*Verified, error) {
	if signed == nil || signed.GetSeal() == nil {
		return nil, ErrUnsigned
	}
	var pin *Pin
	if held != nil {
		pin = held.Pin
	}
	if a := signed.GetAnnouncement(); a != nil {
		p, err := VerifyAnnouncement(a, ca)
		if err != nil {
			return nil, err
		}
		switch {
		case pin == nil || p.Epoch > pin.Epoch:
			pin = p
		case p.Epoch == pin.Epoch && p.Fingerprint != pin.Fingerprint:
			return nil, fmt.Errorf("%w: epoch %d names registry certificate %.12s…, the held one names %.12s…",
				ErrBadAnnouncement, p.Epoch, p.Fingerprint, pin.Fingerprint)
		}
		// A lower epoch than the held one is stale: the held pin stays.
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	signer, err := certs.CheckSeal(signed.GetSeal(), certs.DomainSnapshot, signed.GetSnapshot(), roots, nil, now)
	if err != nil {
		if errors.Is(err, certs.ErrUnsealed) {
			return nil, ErrUnsigned
		}
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if !certs.IsRegistry(signer) {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, certs.ErrNotRegistry)
	}
	if pin != nil && certs.Fingerprint(signer) != pin.Fingerprint {
		return nil, fmt.Errorf("%w: sealed by %.12s…, epoch %d names %.12s…", ErrNotPinned, certs.Fingerprint(signer), pin.Epoch, pin.Fingerprint)
	}
	snap := &jiexuv1.Snapshot{}
	if err := proto.Unmarshal(signed.GetSnapshot(), snap); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	revoked, err := certs.ParseRevoked(snap.GetRevocationList(), ca)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	var heldRevoked *certs.Revoked
	if held != nil {
		heldRevoked = held.Revoked
	}
	// The signer is checked against the list the node already holds as well
	// as the new one: a revoked key cannot bring an older list with it.
	if heldRevoked.Contains(signer) || revoked.Contains(signer) {
		return nil, fmt.Errorf("%w: registry certificate serial %s: %w", ErrBadSignature, signer.SerialNumber, certs.ErrRevoked)
	}
	switch c := revoked.CompareNumber(heldRevoked); {
	case c < 0:
		return nil, fmt.Errorf("%w: CRL number %v, hold %v", ErrStaleCRL, revoked.Number, heldRevoked.Number)
	case c == 0 && heldRevoked != nil && heldRevoked.Number != nil && !bytes.Equal(revoked.DER, heldRevoked.DER):
		return nil, fmt.Errorf("%w: CRL number %v with other content than the held one", ErrStaleCRL, revoked.Number)
	}
	var epoch uint64
	if pin != nil {
		epoch = pin.Epoch
	}
	if snap.GetRegistryEpoch() != epoch {
		return nil, fmt.Errorf("%w: snapshot names registry epoch %d, the announcement in force is epoch %d", ErrNotPinned, snap.GetRegistryEpoch(), epoch)
	}
	if held != nil && epoch == held.Epoch() {
		switch v, h := snap.GetVersion(), held.Version(); {
		case v < h:
			return nil, fmt.Errorf("%w: got version %d, hold %d", ErrRollback, v, h)
		case v == h && !bytes.Equal(signed.GetSnapshot(), held.Signed.GetSnapshot()):
			return nil, fmt.Errorf("%w: version %d", ErrConflict, v)
		}
	}
	issued, exp := snap.GetIssuedAt(), snap.GetExpiresAt()
	switch {
	case issued == nil || exp == nil:
		return nil, fmt.Errorf("%w: issue time or expiry missing", ErrBadSignature)
	case issued.AsTime().After(now.Add(MaxClockSkew)):
		return nil, fmt.Errorf("%w: issued at %s, now is %s", ErrFutureSnapshot, issued.AsTime().Format(time.RFC3339), now.Format(time.RFC3339))
	case exp.AsTime().Sub(issued.AsTime()) > MaxLifetime:
		return nil, fmt.Errorf("%w: valid from %s to %s, more than %s", ErrFutureSnapshot,
			issued.AsTime().Format(time.RFC3339), exp.AsTime().Format(time.RFC3339), MaxLifetime)
	case !now.Before(exp.AsTime()):
		return nil, fmt.Errorf("%w: expired at %s", ErrSnapshotExpired, exp.AsTime().Format(time.RFC3339))
	}
	store := signed
	if pin != nil && signed.GetAnnouncement() != pin.Announcement {
		store = proto.Clone(signed).(*jiexuv1.SignedSnapshot)
		store.Announcement = pin.Announcement
	}
	return &Verified{Snapshot: snap, Revoked: revoked, Signed: store, Pin: pin, Signer: signer}, nil
}

// Stamp sets a snapshot's version, issue time and expiry before signing.
func Stamp(snap *jiexuv1.Snapshot, version uint64, now time.Time, ttl time.Duration) {
	snap.Version = version
	snap.IssuedAt = timestamppb.New(now)
	snap.ExpiresAt = timestamppb.New(now.Add(ttl))
}

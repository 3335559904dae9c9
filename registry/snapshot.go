package registry

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
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

// Verified is a snapshot that passed VerifySnapshot.
type Verified struct {
	Snapshot *jiexuv1.Snapshot
	Revoked  *certs.Revoked
	Signed   *jiexuv1.SignedSnapshot
}

// VerifySnapshot refuses a snapshot that is unsigned, signed by anyone but a
// registry certificate from the CA (and not revoked by the list it carries),
// older than heldVersion, or expired at now. The revocation list inside must
// be signed by the CA.
func VerifySnapshot(signed *jiexuv1.SignedSnapshot, ca *x509.Certificate, heldVersion uint64, now time.Time) (*Verified, error) {
	if signed == nil || signed.GetSeal() == nil {
		return nil, ErrUnsigned
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
	snap := &jiexuv1.Snapshot{}
	if err := proto.Unmarshal(signed.GetSnapshot(), snap); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	revoked, err := certs.ParseRevoked(snap.GetRevocationList(), ca)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if revoked.Contains(signer) {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, certs.ErrRevoked)
	}
	if snap.GetVersion() < heldVersion {
		return nil, fmt.Errorf("%w: got version %d, hold %d", ErrRollback, snap.GetVersion(), heldVersion)
	}
	if exp := snap.GetExpiresAt(); exp == nil || !now.Before(exp.AsTime()) {
		return nil, fmt.Errorf("%w: expired at %s", ErrSnapshotExpired, exp.AsTime().Format(time.RFC3339))
	}
	return &Verified{Snapshot: snap, Revoked: revoked, Signed: signed}, nil
}

// Stamp sets a snapshot's version, issue time and expiry before signing.
func Stamp(snap *jiexuv1.Snapshot, version uint64, now time.Time, ttl time.Duration) {
	snap.Version = version
	snap.IssuedAt = timestamppb.New(now)
	snap.ExpiresAt = timestamppb.New(now.Add(ttl))
}

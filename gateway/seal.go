package gateway

import (
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Message is an inter-node request: a header, a body and a seal. Every
// request in the TransferService, CertificateService and RemittanceService
// has this shape (fields "header" and "seal").
type Message interface {
	proto.Message
	GetHeader() *jiexuv1.MessageHeader
	GetSeal() *jiexuv1.Seal
}

func field(m proto.Message, name protoreflect.Name) (protoreflect.FieldDescriptor, error) {
	fd := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.MessageKind {
		return nil, fmt.Errorf("%s has no %s field", m.ProtoReflect().Descriptor().FullName(), name)
	}
	return fd, nil
}

func setMessageField(m proto.Message, name protoreflect.Name, v proto.Message) error {
	fd, err := field(m, name)
	if err != nil {
		return err
	}
	if v == nil {
		m.ProtoReflect().Clear(fd)
		return nil
	}
	m.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(v.ProtoReflect()))
	return nil
}

// sealedBytes is the content a message seal covers: the deterministic
// encoding of the message without its seal.
func sealedBytes(m Message) ([]byte, error) {
	c := proto.Clone(m).(Message)
	if err := setMessageField(c, "seal", nil); err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// SealMessage signs m and sets its seal.
func SealMessage(s *certs.Signer, m Message) error {
	content, err := sealedBytes(m)
	if err != nil {
		return err
	}
	seal, err := s.Seal(certs.DomainMessage, content)
	if err != nil {
		return err
	}
	return setMessageField(m, "seal", seal)
}

// verifyMessage checks m's seal, the signer certificate with chain, and
// that the signer's region is the header's sender.
func verifyMessage(m Message, now time.Time, chain func(*x509.Certificate) error) (*x509.Certificate, error) {
	content, err := sealedBytes(m)
	if err != nil {
		return nil, err
	}
	cert, err := certs.CheckSignature(m.GetSeal(), certs.DomainMessage, content)
	if err == nil {
		err = chain(cert)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessageSeal, err)
	}
	region, err := certs.RegionOf(cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessageSeal, err)
	}
	if region != m.GetHeader().GetSenderRegion() {
		return nil, fmt.Errorf("%w: sealed by region %s, header says %s", ErrBadMessageSeal, region, m.GetHeader().GetSenderRegion())
	}
	return cert, nil
}

// verifyMessage checks a received message's seal, remembering signer
// certificates whose chain verified so that each message costs one
// signature check, not two. Validity and revocation are checked every time;
// the memory lives as long as the snapshot (and so its revocation list).
// When the registry pins certificate fingerprints for the sender's region,
// the sealer must be one of them: a certificate the CA issued for the
// region but the registry does not list does not seal.
func (v *view) verifyMessage(m Message, now time.Time) (*x509.Certificate, error) {
	cert, err := v.verifySeal(m, now)
	if err != nil {
		return nil, err
	}
	if err := v.listed(m.GetHeader().GetSenderRegion(), cert); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessageSeal, err) // a bad seal (Unauthenticated), whoever the caller is
	}
	return cert, nil
}

func (v *view) verifySeal(m Message, now time.Time) (*x509.Certificate, error) {
	return verifyMessage(m, now, func(cert *x509.Certificate) error { return v.verifyChain(cert, now) })
}

// verifyChain checks a signer certificate's chain to the roots at a time,
// remembering certificates whose chain verified (the CA's signature on them
// is the costly part): for those, validity at that time and revocation are
// checked every time. Messages and peers' receipts share the memory, which
// lives as long as the snapshot (and so its revocation list).
func (v *view) verifyChain(cert *x509.Certificate, at time.Time) error {
	fp := certs.Fingerprint(cert)
	if _, ok := v.chains.Load(fp); ok {
		if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
			return fmt.Errorf("%w: valid %s to %s", certs.ErrExpired, cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
		}
		if v.verified.Revoked.Contains(cert) {
			return fmt.Errorf("%w: serial %s", certs.ErrRevoked, cert.SerialNumber)
		}
		return nil
	}
	if err := certs.VerifyChain(cert, v.roots, v.verified.Revoked, at); err != nil {
		return err
	}
	v.chains.Store(fp, struct{}{})
	return nil
}

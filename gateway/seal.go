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

// VerifyMessage checks m's seal against the CA and the revocation list, and
// that the signer's region is the header's sender.
func VerifyMessage(m Message, roots *x509.CertPool, revoked *certs.Revoked, now time.Time) (*x509.Certificate, error) {
	content, err := sealedBytes(m)
	if err != nil {
		return nil, err
	}
	cert, err := certs.CheckSeal(m.GetSeal(), certs.DomainMessage, content, roots, revoked, now)
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

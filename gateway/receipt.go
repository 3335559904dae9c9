package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Receipts are sealed by the receiver: its proof, kept in the sender's audit
// chain, that it received exactly this message (non-repudiation of
// receipt). The seal covers the receipt without its seal and with duplicate
// false, so the stored receipt answers every duplicate too.

// messageDigest is SHA-256 of the content a message's seal covers.
func messageDigest(m Message) ([]byte, error) {
	content, err := sealedBytes(m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	return sum[:], nil
}

func receiptContent(r *jiexuv1.Receipt) ([]byte, error) {
	c := proto.Clone(r).(*jiexuv1.Receipt)
	c.Seal, c.Duplicate = nil, false
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// sealReceipt sets r's seal with signer.
func sealReceipt(signer *certs.Signer, r *jiexuv1.Receipt) error {
	content, err := receiptContent(r)
	if err != nil {
		return err
	}
	seal, err := signer.Seal(certs.DomainReceipt, content)
	if err != nil {
		return err
	}
	r.Seal = seal
	return nil
}

// checkReceipt verifies a receipt for a message: the seal over it (chain
// checks the signer's chain to the roots, valid when it was accepted, not
// revoked: chainTo, or a view's remembering verifyChain), that it names the
// message and its digest, and that by accepts the sealing node's region
// (the peer the message went to, under its code now or a former one). It
// returns the sealing certificate.
func checkReceipt(r *jiexuv1.Receipt, by func(region string) bool, messageID string, digest []byte, chain func(*x509.Certificate, time.Time) error) (*x509.Certificate, error) {
	if r.GetMessageId() != messageID {
		return nil, fmt.Errorf("%w: receipt for message %q, sent %q", ErrBadReceipt, r.GetMessageId(), messageID)
	}
	if r.GetSeal() == nil || len(r.GetMessageDigest()) == 0 {
		return nil, fmt.Errorf("%w: receipt for message %s is not sealed", ErrBadReceipt, messageID)
	}
	if !bytes.Equal(r.GetMessageDigest(), digest) {
		return nil, fmt.Errorf("%w: receipt for other content than message %s", ErrBadReceipt, messageID)
	}
	content, err := receiptContent(r)
	if err != nil {
		return nil, err
	}
	at := r.GetAcceptedAt().AsTime()
	cert, err := certs.CheckSignature(r.GetSeal(), certs.DomainReceipt, content)
	if err == nil {
		err = chain(cert, at)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	if region, err := certs.RegionOf(cert); err != nil || !by(region) {
		return nil, fmt.Errorf("%w: sealed by region %q, not the peer's", ErrBadReceipt, region)
	}
	return cert, nil
}

// receiptRegion is the region whose certificate sealed a (verified)
// receipt: the peer under its code now, which may differ from the code its
// messages are queued under after a move.
func receiptRegion(r *jiexuv1.Receipt, fallback string) string {
	if cert, err := certs.SignerCertificate(r.GetSeal()); err == nil {
		if region, err := certs.RegionOf(cert); err == nil {
			return region
		}
	}
	return fallback
}

// chainTo checks a signer's chain to roots at a time, with no revocation
// list and no memory (offline verification of the audit trail).
func chainTo(roots *x509.CertPool) func(*x509.Certificate, time.Time) error {
	return func(cert *x509.Certificate, at time.Time) error { return certs.VerifyChain(cert, roots, nil, at) }
}

// anyNode accepts a receipt sealed by any node of the CA.
func anyNode(string) bool { return true }

// methodRequest finds the request type of a full method name.
func methodRequest(method string) (protoreflect.MessageType, error) {
	parts := strings.Split(strings.TrimPrefix(method, "/"), "/")
	if len(parts) != 2 {
		return nil, fmt.Errorf("method %q: want /package.Service/Method", method)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("method %q: %w", method, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("method %q: %s is not a service", method, parts[0])
	}
	md := sd.Methods().ByName(protoreflect.Name(parts[1]))
	if md == nil {
		return nil, fmt.Errorf("method %q: no such method", method)
	}
	return protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
}

// decodeMessage decodes a sealed request of a method.
func decodeMessage(method string, data []byte) (Message, error) {
	typ, err := methodRequest(method)
	if err != nil {
		return nil, err
	}
	m, ok := typ.New().Interface().(Message)
	if !ok {
		return nil, fmt.Errorf("method %s: its request carries no header and seal", method)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkSealedMessage verifies a stored message's seal offline: the signer's
// chain to roots when the message was created and that it is the sender the
// header names.
func checkSealedMessage(method string, data []byte, roots *x509.CertPool) (Message, error) {
	m, err := decodeMessage(method, data)
	if err != nil {
		return nil, err
	}
	created := m.GetHeader().GetCreatedAt().AsTime()
	if _, err := verifyMessage(m, created, func(cert *x509.Certificate) error {
		return certs.VerifyChain(cert, roots, nil, created)
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// Acknowledge makes the sealed receipt a receiver owes for a request of a
// method, given as its wire bytes: what Receive answers, for a peer that
// is not a Gateway (a stand-in in tests, another implementation).
func Acknowledge(signer *certs.Signer, method string, request []byte, at time.Time) (*jiexuv1.Receipt, error) {
	m, err := decodeMessage(method, request)
	if err != nil {
		return nil, err
	}
	digest, err := messageDigest(m)
	if err != nil {
		return nil, err
	}
	r := &jiexuv1.Receipt{MessageId: m.GetHeader().GetMessageId(), AcceptedAt: timestamppb.New(at), MessageDigest: digest}
	if err := sealReceipt(signer, r); err != nil {
		return nil, err
	}
	return r, nil
}

package gateway

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// ApplyFunc applies a received message's business effect inside the
// transaction that records it in the inbox. It may run more than once (a
// group commit retries it), so it must only touch tx.
type ApplyFunc func(tx *bolt.Tx) error

// maxMessageID bounds message ids.
const maxMessageID = 128

// checkHeader validates the header fields every message must carry.
func checkHeader(h *jiexuv1.MessageHeader) error {
	switch {
	case h == nil:
		return fmt.Errorf("%w: header: missing", ErrBadHeader)
	case h.GetMessageId() == "" || len(h.GetMessageId()) > maxMessageID:
		return fmt.Errorf("%w: header.message_id: must be 1..%d characters", ErrBadHeader, maxMessageID)
	case registry.CheckCodeSyntax(h.GetSenderRegion()) != nil:
		return fmt.Errorf("%w: header.sender_region: %q is not a 6-digit region code", ErrBadHeader, h.GetSenderRegion())
	case registry.CheckCodeSyntax(h.GetReceiverRegion()) != nil:
		return fmt.Errorf("%w: header.receiver_region: %q is not a 6-digit region code", ErrBadHeader, h.GetReceiverRegion())
	case h.GetCaseId() == "" || len(h.GetCaseId()) > maxMessageID:
		return fmt.Errorf("%w: header.case_id: must be 1..%d characters", ErrBadHeader, maxMessageID)
	}
	return nil
}

// Receive authenticates a message and applies it exactly once. It checks the
// header, that the caller's certificate region is the sender, that the
// message is addressed here (either up to a former region of the same node,
// see registry.Router.SameNode), and the seal, whose signer must be the
// header's sender; then, in one transaction, either
// finds (sender, message id) in the inbox (a duplicate: acknowledged, not
// applied) or runs apply and records it. Errors are the gateway's sentinels
// or whatever apply returned; translate them with StatusOf.
func (g *Gateway) Receive(ctx context.Context, msg Message, apply ApplyFunc) (*jiexuv1.Receipt, error) {
	h := msg.GetHeader()
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	peer, _, err := certs.PeerRegion(ctx)
	if err != nil {
		return nil, err
	}
	v, err := g.dir.view()
	if err != nil {
		return nil, err
	}
	// A node whose region's code changed delivers, under its new
	// certificate, messages it sealed under the old code; and messages
	// queued to it before the change name the old code as receiver. The
	// registry lists the old code in the node's former_regions.
	if !v.router.SameNode(h.GetSenderRegion(), peer) {
		return nil, fmt.Errorf("%w: header.sender_region is %s, certificate is for %s", ErrWrongSender, h.GetSenderRegion(), peer)
	}
	if !v.router.SameNode(h.GetReceiverRegion(), g.cfg.Region) {
		return nil, fmt.Errorf("%w: header.receiver_region is %s, this node is %s", ErrWrongReceiver, h.GetReceiverRegion(), g.cfg.Region)
	}
	if _, err := v.verifyMessage(msg, g.cfg.Now()); err != nil {
		return nil, err
	}
	digest, err := messageDigest(msg)
	if err != nil {
		return nil, err
	}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	method, _ := grpc.Method(ctx)
	// The receipt is sealed before the transaction (a seal is slow, and the
	// batch may run the function again); it is stored only if applied.
	fresh := &jiexuv1.Receipt{MessageId: h.GetMessageId(), AcceptedAt: timestamppb.New(g.cfg.Now()), MessageDigest: digest}
	if err := sealReceipt(g.Signer(), fresh); err != nil {
		return nil, err
	}
	key := inboxKey(h.GetSenderRegion(), h.GetMessageId())
	var receipt *jiexuv1.Receipt
	err = g.commit.Update(func(tx *bolt.Tx) error {
		in := tx.Bucket(bucketInbox)
		if old := in.Get(key); old != nil {
			r := &jiexuv1.Receipt{}
			if err := proto.Unmarshal(old, r); err != nil {
				return err
			}
			r.Duplicate = true
			receipt = r
			return nil
		}
		// The message enters the chain before what it causes.
		if err := g.Audit().Append(tx, &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_IN, CaseId: h.GetCaseId(),
			PeerRegion: h.GetSenderRegion(), Method: method, MessageId: h.GetMessageId(), Message: wire, Receipt: fresh}); err != nil {
			return err
		}
		if err := apply(tx); err != nil {
			return err
		}
		data, err := proto.Marshal(fresh)
		if err != nil {
			return err
		}
		receipt = proto.Clone(fresh).(*jiexuv1.Receipt)
		return in.Put(key, data)
	})
	if err != nil {
		return nil, err
	}
	if receipt.GetDuplicate() {
		g.metrics.duplicates.WithLabelValues(h.GetSenderRegion()).Inc()
	}
	return receipt, nil
}

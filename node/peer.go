package node

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"jiexu/gateway"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// peerServer implements the inter-node services. Each handler validates the
// body, then lets the gateway authenticate the message and apply it exactly
// once.
type peerServer struct {
	jiexuv1.UnimplementedTransferServiceServer
	jiexuv1.UnimplementedCertificateServiceServer
	jiexuv1.UnimplementedRemittanceServiceServer
	n *Node
}

// receive validates, authenticates and applies a message, translating errors
// to gRPC status once.
func (s *peerServer) receive(ctx context.Context, msg gateway.Message, vs *violations, apply func(tx *bolt.Tx) error) (*jiexuv1.Receipt, error) {
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	r, err := s.n.gw.Receive(ctx, msg, apply)
	return r, toStatus(err)
}

func (s *peerServer) NotifyTransfer(ctx context.Context, req *jiexuv1.NotifyTransferRequest) (*jiexuv1.NotifyTransferResponse, error) {
	var vs violations
	s.n.v.checkPerson(&vs, "person", req.GetPerson())
	switch req.GetDestinationScheme() {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT, jiexuv1.Scheme_SCHEME_NCMS:
	default:
		vs.add("destination_scheme", "must be employee, resident or NCMS")
	}
	checkPeerDivision(&vs, "origin_division", req.GetOriginDivision())
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onNotify(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.NotifyTransferResponse{Receipt: r}, nil
}

func (s *peerServer) RejectTransfer(ctx context.Context, req *jiexuv1.RejectTransferRequest) (*jiexuv1.RejectTransferResponse, error) {
	var vs violations
	if _, ok := jiexuv1.RejectReason_name[int32(req.GetReason())]; !ok || req.GetReason() == jiexuv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		vs.add("reason", "must be a known reject reason")
	}
	if len(req.GetDetail()) > 500 {
		vs.add("detail", "at most 500 bytes")
	}
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onReject(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RejectTransferResponse{Receipt: r}, nil
}

func (s *peerServer) DeliverCertificate(ctx context.Context, req *jiexuv1.DeliverCertificateRequest) (*jiexuv1.DeliverCertificateResponse, error) {
	var vs violations
	if len(req.GetCertificate().GetCertificate()) == 0 || req.GetCertificate().GetSeal() == nil {
		vs.add("certificate", "required: the certificate bytes and their seal")
	}
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onCertificate(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.DeliverCertificateResponse{Receipt: r}, nil
}

func (s *peerServer) Remit(ctx context.Context, req *jiexuv1.RemitRequest) (*jiexuv1.RemitResponse, error) {
	var vs violations
	s.n.v.checkID(&vs, "id_number", req.GetIdNumber())
	if req.GetAmountFen() <= 0 || req.GetAmountFen() > rules.MaxFen {
		vs.add("amount_fen", "%d must be between 1 and %d", req.GetAmountFen(), int64(rules.MaxFen))
	}
	if _, err := rules.ParseCertNumber(req.GetCertificateNumber()); err != nil {
		vs.add("certificate_number", "%v", err)
	}
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onRemit(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RemitResponse{Receipt: r}, nil
}

func (s *peerServer) ConfirmRemittance(ctx context.Context, req *jiexuv1.ConfirmRemittanceRequest) (*jiexuv1.ConfirmRemittanceResponse, error) {
	var vs violations
	if req.GetAmountFen() < 0 || req.GetAmountFen() > rules.MaxFen {
		vs.add("amount_fen", "%d must be between 0 and %d", req.GetAmountFen(), int64(rules.MaxFen))
	}
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onConfirm(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.ConfirmRemittanceResponse{Receipt: r}, nil
}

// LookupCertificate returns a certificate this node issued to a caller who
// knows its number and the person's ID number. A wrong ID number gets the
// same NotFound as a wrong number, so numbers cannot be probed for names.
func (s *peerServer) LookupCertificate(_ context.Context, req *jiexuv1.LookupCertificateRequest) (*jiexuv1.LookupCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	sc, cert, err := s.n.certificate(req.GetNumber())
	if err == nil && (cert.GetPerson().GetIdNumber() != id || cert.GetOriginRegion() != s.n.cfg.Region) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.LookupCertificateResponse{Certificate: sc}, nil
}

func (s *peerServer) RequestTransfer(ctx context.Context, req *jiexuv1.RequestTransferRequest) (*jiexuv1.RequestTransferResponse, error) {
	var vs violations
	s.n.v.checkPerson(&vs, "person", req.GetPerson())
	checkPeerDivision(&vs, "destination_division", req.GetDestinationDivision())
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx) error { return s.n.onRequest(tx, req, s.n.now()) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RequestTransferResponse{Receipt: r}, nil
}

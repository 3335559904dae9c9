package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"jiexu/gateway"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// peerServer implements the inter-node services. Each handler validates the
// body, then lets the gateway authenticate the message and apply it exactly
// once; the apply function finds the case (enforcing who may act on it),
// gathers the facts and runs one step of the state machine.
type peerServer struct {
	jiexuv1.UnimplementedTransferServiceServer
	jiexuv1.UnimplementedCertificateServiceServer
	jiexuv1.UnimplementedRemittanceServiceServer
	n *Node
}

// receive validates, authenticates and applies a message, translating errors
// to gRPC status once.
func (s *peerServer) receive(ctx context.Context, msg gateway.Message, vs *violations, apply func(tx *bolt.Tx, now time.Time) error) (*jiexuv1.Receipt, error) {
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	r, err := s.n.gw.Receive(ctx, msg, func(tx *bolt.Tx) error { return apply(tx, s.n.now()) })
	return r, toStatus(err)
}

func (s *peerServer) NotifyTransfer(ctx context.Context, req *jiexuv1.NotifyTransferRequest) (*jiexuv1.NotifyTransferResponse, error) {
	var vs violations
	s.n.v.checkPerson(&vs, "person", req.GetPerson())
	checkScheme(&vs, "destination_scheme", req.GetDestinationScheme())
	checkPeerDivision(&vs, "origin_division", req.GetOriginDivision())
	s.n.v.checkDate(&vs, "enrolled_on", req.GetEnrolledOn())
	s.n.v.checkYearMonth(&vs, "destination_from", req.GetDestinationFrom(), true)
	checkProof(&vs, req.GetCertificateNumber(), req.GetVerificationCode(), req.GetOriginInsuranceNumber())
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error { return s.n.onNotice(tx, req, now) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.NotifyTransferResponse{Receipt: r}, nil
}

// onNotice is the origin's handling of a notification: the case is created
// (or an application lodged here is confirmed) and the state machine checks
// the conditions against the person's enrolment here.
func (n *Node) onNotice(tx *bolt.Tx, req *jiexuv1.NotifyTransferRequest, now time.Time) error {
	h := req.GetHeader()
	c, isNew, err := n.caseFor(tx, h, sideOrigin, true)
	if err != nil {
		return err
	}
	id := req.GetPerson().GetIdNumber()
	if isNew {
		c.Person, c.OriginDivision, c.OriginRegion, c.DestinationRegion = req.GetPerson(), req.GetOriginDivision(), n.cfg.Region, h.GetSenderRegion()
	} else if err := samePerson(c, id); err != nil {
		return err
	}
	if isNew || c.GetState() == jiexuv1.CaseState_CASE_STATE_REQUESTED {
		c.DestinationScheme, c.DestinationFrom, c.EnrolledOn = req.GetDestinationScheme(), req.GetDestinationFrom(), req.GetEnrolledOn()
	}
	e, err := getEnrolment(tx, id)
	if err != nil {
		return err
	}
	other := openCase(tx, id)
	if other == c.GetCaseId() {
		other = ""
	}
	in := n.facts(e, transfer.Input{Event: transfer.Notice}, req.GetPerson().GetName(), other)
	if in.Proof, err = n.proofOf(tx, e, req); err != nil {
		return err
	}
	in.ProofIsCard = req.GetCertificateNumber() == "" && req.GetOriginInsuranceNumber() != ""
	if other != "" && in.Proof == transfer.ProofMatches {
		gave, err := n.supersede(tx, other, h.GetSenderRegion(), now)
		if err != nil {
			return err
		}
		if gave {
			in = n.facts(e, transfer.Input{Event: transfer.Notice, Proof: transfer.ProofMatches, ProofIsCard: in.ProofIsCard}, req.GetPerson().GetName(), "")
		}
	}
	if in.Standing == transfer.Gone { // say where to, and when
		in.Detail = latest(e).GetNote()
	}
	return n.step(tx, c, in, now)
}

// supersede refuses the person's open case id if it waits for confirmation
// without proof, because a notice from sender carries the applicant's proof:
// otherwise any registered peer could hold a person's suspended enrolment
// with a notice of its own until an operator noticed. It reports whether
// the case gave way.
func (n *Node) supersede(tx *bolt.Tx, id, sender string, now time.Time) (bool, error) {
	c, err := getCase(tx, id)
	if err != nil || c == nil {
		return false, err
	}
	if c.GetSide() != sideOrigin || c.GetState() != jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION {
		return false, nil
	}
	n.log.Warn("a notice without proof gave way to one with the applicant's certificate", "case", id, "to", c.GetDestinationRegion(), "proven_by", sender)
	return true, n.step(tx, c, transfer.Input{Event: transfer.Superseded,
		Detail: fmt.Sprintf("申请人已持参保凭证向其他转入地（%s）申请转移，本申请未附凭证 (the applicant presented the certificate with an application from %s; this one carried no proof)", sender, sender)}, now)
}

// proofOf checks the applicant's proof a notice carries against what this
// node issued: for a suspended enrolment, the certificate of the suspension
// (its number and the verification code of its current, unvoided version);
// for an active NCMS or resident participation that ends on joining, the
// member's card number.
func (n *Node) proofOf(tx *bolt.Tx, e *jiexuv1.Enrolment, req *jiexuv1.NotifyTransferRequest) (transfer.Proof, error) {
	p := latest(e)
	switch {
	case p == nil:
		return transfer.NoProof, nil
	case req.GetCertificateNumber() != "" || req.GetVerificationCode() != "":
		if p.GetStatus() != statusSuspended || req.GetCertificateNumber() != p.GetCertificateNumber() {
			return transfer.ProofWrong, nil
		}
		sc, err := getCertificate(tx, p.GetCertificateNumber())
		if err != nil || sc == nil {
			return transfer.ProofWrong, err
		}
		if on, _ := certificateVoided(tx, p.GetCertificateNumber()); on != nil || !sameCode(req.GetVerificationCode(), rules.VerificationCode(sc)) {
			return transfer.ProofWrong, nil
		}
		return transfer.ProofMatches, nil
	case req.GetOriginInsuranceNumber() != "":
		if p.GetStatus() == statusActive && transfer.EndsOnJoining(p.GetScheme(), req.GetDestinationScheme()) && e.GetPerson().GetInsuranceNumber() != "" &&
			req.GetOriginInsuranceNumber() == e.GetPerson().GetInsuranceNumber() {
			return transfer.ProofMatches, nil
		}
		return transfer.ProofWrong, nil
	}
	return transfer.NoProof, nil
}

// sameCode compares verification codes as people type them: case and
// dashes do not matter.
func sameCode(a, b string) bool {
	norm := func(s string) string { return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "")) }
	return a != "" && norm(a) == norm(b)
}

func (s *peerServer) RequestTransfer(ctx context.Context, req *jiexuv1.RequestTransferRequest) (*jiexuv1.RequestTransferResponse, error) {
	var vs violations
	s.n.v.checkPerson(&vs, "person", req.GetPerson())
	checkPeerDivision(&vs, "destination_division", req.GetDestinationDivision())
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error { return s.n.onRequest(tx, req, now) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RequestTransferResponse{Receipt: r}, nil
}

// onRequest is the destination's handling of an application lodged at the
// origin: if the person is enrolled here it opens its side of the case and
// notifies the origin as if applied here; otherwise it refuses.
func (n *Node) onRequest(tx *bolt.Tx, req *jiexuv1.RequestTransferRequest, now time.Time) error {
	h := req.GetHeader()
	c, isNew, err := n.caseFor(tx, h, sideDestination, true)
	if err != nil {
		return err
	}
	id := req.GetPerson().GetIdNumber()
	if !isNew {
		if err := samePerson(c, id); err != nil {
			return err
		}
		return n.step(tx, c, transfer.Input{Event: transfer.Request}, now)
	}
	c.Person, c.OriginDivision, c.OriginRegion, c.DestinationRegion = req.GetPerson(), h.GetSenderRegion(), h.GetSenderRegion(), n.cfg.Region
	c.AppliedAtOrigin = true
	e, err := getEnrolment(tx, id)
	if err != nil {
		return err
	}
	in := n.facts(e, transfer.Input{Event: transfer.Request}, req.GetPerson().GetName(), openCase(tx, id))
	if in.Standing == transfer.Active {
		p := latest(e)
		c.Person, c.DestinationScheme, c.DestinationFrom, c.EnrolledOn = e.GetPerson(), p.GetScheme(), p.GetEnrolledFrom(), p.GetRegisteredOn()
	}
	return n.step(tx, c, in, now)
}

func (s *peerServer) RejectTransfer(ctx context.Context, req *jiexuv1.RejectTransferRequest) (*jiexuv1.RejectTransferResponse, error) {
	var vs violations
	if _, ok := jiexuv1.RejectReason_name[int32(req.GetReason())]; !ok || req.GetReason() == jiexuv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		vs.add("reason", "must be a known reject reason")
	}
	checkText(&vs, "detail", req.GetDetail(), 500)
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error { return s.n.onRefusal(tx, req, now) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.RejectTransferResponse{Receipt: r}, nil
}

// onRefusal handles the other side's refusal or decline. A withdrawal made
// at the origin may overtake the request it ends: then this node records the
// destination case as withdrawn, so that the request finds it ended.
func (n *Node) onRefusal(tx *bolt.Tx, req *jiexuv1.RejectTransferRequest, now time.Time) error {
	h := req.GetHeader()
	c, err := getCase(tx, h.GetCaseId())
	if err != nil {
		return err
	}
	side := c.GetSide()
	if c == nil {
		side = sideDestination // only a destination case can be opened by a refusal
	}
	withdrawal := req.GetReason() == jiexuv1.RejectReason_REJECT_REASON_WITHDRAWN
	c, isNew, err := n.caseFor(tx, h, side, withdrawal)
	if err != nil {
		return err
	}
	if isNew {
		c.OriginRegion, c.OriginDivision, c.DestinationRegion, c.AppliedAtOrigin = h.GetSenderRegion(), h.GetSenderRegion(), n.cfg.Region, true
	}
	return n.step(tx, c, transfer.Input{Event: transfer.Refusal, Reason: req.GetReason(), Detail: req.GetDetail()}, now)
}

func (s *peerServer) WithdrawTransfer(ctx context.Context, req *jiexuv1.WithdrawTransferRequest) (*jiexuv1.WithdrawTransferResponse, error) {
	var vs violations
	checkText(&vs, "detail", req.GetDetail(), 500)
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error {
		c, isNew, err := s.n.caseFor(tx, req.GetHeader(), sideOrigin, true)
		if err != nil {
			return err
		}
		if isNew { // the withdrawal overtook the notice
			c.OriginRegion, c.DestinationRegion = s.n.cfg.Region, req.GetHeader().GetSenderRegion()
		}
		return s.n.step(tx, c, transfer.Input{Event: transfer.WithdrawRequest, Detail: req.GetDetail()}, now)
	})
	if err != nil {
		return nil, err
	}
	return &jiexuv1.WithdrawTransferResponse{Receipt: r}, nil
}

func (s *peerServer) DeliverCertificate(ctx context.Context, req *jiexuv1.DeliverCertificateRequest) (*jiexuv1.DeliverCertificateResponse, error) {
	var vs violations
	if len(req.GetCertificate().GetCertificate()) == 0 || req.GetCertificate().GetSeal() == nil {
		vs.add("certificate", "required: the certificate bytes and their seal")
	}
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error { return s.n.onCertificate(tx, req, now) })
	if err != nil {
		return nil, err
	}
	return &jiexuv1.DeliverCertificateResponse{Receipt: r}, nil
}

// onCertificate verifies a delivered certificate against the case it is for
// and steps the destination case.
func (n *Node) onCertificate(tx *bolt.Tx, req *jiexuv1.DeliverCertificateRequest, now time.Time) error {
	c, _, err := n.caseFor(tx, req.GetHeader(), sideDestination, false)
	if err != nil {
		return err
	}
	cert, err := n.verifyDelivered(req.GetCertificate())
	if err != nil {
		var vs violations
		vs.add("certificate", "%v", err)
		return vs.err()
	}
	switch {
	case cert.GetPerson().GetIdNumber() != c.GetPerson().GetIdNumber():
		return fmt.Errorf("%w: the certificate is for another person", ErrMismatch)
	case !n.same(cert.GetOriginRegion(), c.GetOriginRegion()):
		return fmt.Errorf("%w: the certificate was issued by %s, the case's origin is %s", ErrMismatch, cert.GetOriginRegion(), c.GetOriginRegion())
	}
	return n.stepCertificate(tx, c, cert, req.GetCertificate(), now)
}

// stepCertificate steps a destination case with a verified certificate:
// the delivered one, or the one a restore rolls the case forward from.
func (n *Node) stepCertificate(tx *bolt.Tx, c *jiexuv1.Case, cert *jiexuv1.Certificate, sealed *jiexuv1.SealedCertificate, now time.Time) error {
	e, err := getEnrolment(tx, c.GetPerson().GetIdNumber())
	if err != nil {
		return err
	}
	in := n.facts(e, transfer.Input{Event: transfer.Certificate}, "", "")
	in.CertificateScheme, in.CertificateBalance, in.CertificateMonths = cert.GetScheme(), cert.GetBalanceFen(), cert.GetMonthsPaid()
	in.EmployeeMonths = transfer.EmployeeMonths(cert.GetScheme(), cert.GetMonthsPaid(), cert.GetMonthsRecognised(), overlapMonths(cert, c.GetDestinationFrom()))
	return n.stepEvent(tx, c, event{Input: in, cert: cert, sealed: sealed}, now)
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
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error {
		c, _, err := s.n.caseFor(tx, req.GetHeader(), sideDestination, false)
		if err != nil {
			return err
		}
		if err := samePerson(c, req.GetIdNumber()); err != nil {
			return err
		}
		if have := c.GetCertificateNumber(); have != "" && have != req.GetCertificateNumber() {
			return fmt.Errorf("%w: the remittance names certificate %s, the case has %s", ErrMismatch, req.GetCertificateNumber(), have)
		}
		e, err := getEnrolment(tx, req.GetIdNumber())
		if err != nil {
			return err
		}
		in := s.n.facts(e, transfer.Input{Event: transfer.Funds, Amount: req.GetAmountFen()}, "", "")
		return s.n.step(tx, c, in, now)
	})
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
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error {
		c, _, err := s.n.caseFor(tx, req.GetHeader(), sideOrigin, false)
		if err != nil {
			return err
		}
		return s.n.step(tx, c, transfer.Input{Event: transfer.Confirmation, Amount: req.GetAmountFen()}, now)
	})
	if err != nil {
		return nil, err
	}
	return &jiexuv1.ConfirmRemittanceResponse{Receipt: r}, nil
}

func (s *peerServer) ReturnRemittance(ctx context.Context, req *jiexuv1.ReturnRemittanceRequest) (*jiexuv1.ReturnRemittanceResponse, error) {
	var vs violations
	if req.GetAmountFen() <= 0 || req.GetAmountFen() > rules.MaxFen {
		vs.add("amount_fen", "%d must be between 1 and %d", req.GetAmountFen(), int64(rules.MaxFen))
	}
	if _, ok := jiexuv1.ReturnReason_name[int32(req.GetReason())]; !ok || req.GetReason() == jiexuv1.ReturnReason_RETURN_REASON_UNSPECIFIED {
		vs.add("reason", "must be a known return reason")
	}
	checkText(&vs, "detail", req.GetDetail(), 500)
	r, err := s.receive(ctx, req, &vs, func(tx *bolt.Tx, now time.Time) error {
		c, _, err := s.n.caseFor(tx, req.GetHeader(), sideOrigin, false)
		if err != nil {
			return err
		}
		return s.n.step(tx, c, transfer.Input{Event: transfer.FundsReturned, Amount: req.GetAmountFen(),
			ReturnReason: req.GetReason(), Detail: req.GetDetail()}, now)
	})
	if err != nil {
		return nil, err
	}
	return &jiexuv1.ReturnRemittanceResponse{Receipt: r}, nil
}

// LookupCertificate returns a certificate this node issued to a caller who
// knows its number and the person's ID number. A wrong ID number gets the
// same NotFound as a wrong number, so numbers cannot be probed for names.
func (s *peerServer) LookupCertificate(ctx context.Context, req *jiexuv1.LookupCertificateRequest) (*jiexuv1.LookupCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	checkCode(&vs, "verification_code", req.GetVerificationCode())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	got, err := s.n.lookupCertificate(peerCaller(ctx), req.GetNumber(), id, req.GetVerificationCode())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.n.auditLookup(peerKey(ctx), req.GetNumber(), id); err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.LookupCertificateResponse{Certificate: got.sealed, VoidedOn: got.voidedOn, VoidReason: got.voidReason}, nil
}

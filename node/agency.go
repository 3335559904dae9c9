package node

import (
	"context"
	"strconv"

	"jiexu/gateway"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// agencyServer implements the local agency API: each method validates,
// calls the node and translates errors to gRPC status once.
type agencyServer struct {
	jiexuv1.UnimplementedAgencyServiceServer
	n *Node
}

func (s *agencyServer) ApplyTransfer(_ context.Context, req *jiexuv1.ApplyTransferRequest) (*jiexuv1.ApplyTransferResponse, error) {
	c, err := s.n.apply(application{id: req.GetIdNumber(), name: req.GetName(), division: req.GetOriginDivision(),
		divisionField: "origin_division", side: sideDestination,
		certificate: req.GetCertificateNumber(), code: req.GetVerificationCode(), card: req.GetOriginInsuranceNumber()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ApplyTransferResponse{Case: c}, nil
}

func (s *agencyServer) ApplyTransferOut(_ context.Context, req *jiexuv1.ApplyTransferOutRequest) (*jiexuv1.ApplyTransferOutResponse, error) {
	c, err := s.n.apply(application{id: req.GetIdNumber(), name: req.GetName(), division: req.GetDestinationDivision(),
		divisionField: "destination_division", side: sideOrigin})
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ApplyTransferOutResponse{Case: c}, nil
}

func (s *agencyServer) WithdrawCase(_ context.Context, req *jiexuv1.WithdrawCaseRequest) (*jiexuv1.WithdrawCaseResponse, error) {
	c, err := s.n.withdraw(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.WithdrawCaseResponse{Case: c}, nil
}

func (s *agencyServer) ConfirmCase(_ context.Context, req *jiexuv1.ConfirmCaseRequest) (*jiexuv1.ConfirmCaseResponse, error) {
	c, err := s.n.confirmCase(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ConfirmCaseResponse{Case: c}, nil
}

func (s *agencyServer) RefuseCase(_ context.Context, req *jiexuv1.RefuseCaseRequest) (*jiexuv1.RefuseCaseResponse, error) {
	c, err := s.n.refuseCase(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.RefuseCaseResponse{Case: c}, nil
}

func (s *agencyServer) GetCase(_ context.Context, req *jiexuv1.GetCaseRequest) (*jiexuv1.GetCaseResponse, error) {
	var vs violations
	checkCaseID(&vs, req.GetCaseId())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	c, err := s.n.getCase(req.GetCaseId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.GetCaseResponse{Case: c}, nil
}

func (s *agencyServer) ListCases(_ context.Context, req *jiexuv1.ListCasesRequest) (*jiexuv1.ListCasesResponse, error) {
	resp, err := s.n.listCases(req)
	return resp, toStatus(err)
}

func (s *agencyServer) PutRecord(_ context.Context, req *jiexuv1.PutRecordRequest) (*jiexuv1.PutRecordResponse, error) {
	if r := req.GetRecord(); r != nil && r.GetRegisteredOn() == nil && r.GetEnrolledFrom() != nil &&
		rules.MonthIndex(r.GetEnrolledFrom()) == rules.MonthIndex(rules.YearMonthOf(s.n.now())) {
		// An operator enrolling a person at the counter this month: registered today.
		r.RegisteredOn = rules.DateOf(s.n.now())
	}
	res, err := s.n.putRecords([]*jiexuv1.Record{req.GetRecord()}, func(int) string { return "record" })
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.PutRecordResponse{Enrolment: res.last, Warnings: res.warnings}, nil
}

func (s *agencyServer) ImportRecords(_ context.Context, req *jiexuv1.ImportRecordsRequest) (*jiexuv1.ImportRecordsResponse, error) {
	res, err := s.n.putRecords(req.GetRecords(), func(i int) string { return "records[" + strconv.Itoa(i) + "]" })
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ImportRecordsResponse{Imported: int32(len(req.GetRecords())), Created: int32(res.created),
		Updated: int32(res.updated), Unchanged: int32(res.unchanged), Suspended: int32(res.suspended), Warnings: res.warnings}, nil
}

func (s *agencyServer) GetEnrolment(_ context.Context, req *jiexuv1.GetEnrolmentRequest) (*jiexuv1.GetEnrolmentResponse, error) {
	e, err := s.n.getEnrolment(req.GetIdNumber())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &jiexuv1.GetEnrolmentResponse{Enrolment: e}
	if o, err := s.n.divisions().IssuedAt(e.GetPerson().GetIdNumber()); err == nil {
		resp.IdIssuedAt = o.String()
	}
	return resp, nil
}

func (s *agencyServer) ListEnrolments(_ context.Context, req *jiexuv1.ListEnrolmentsRequest) (*jiexuv1.ListEnrolmentsResponse, error) {
	resp, err := s.n.listEnrolments(req)
	return resp, toStatus(err)
}

func (s *agencyServer) SuspendEnrolment(_ context.Context, req *jiexuv1.SuspendEnrolmentRequest) (*jiexuv1.SuspendEnrolmentResponse, error) {
	resp, err := s.n.suspend(req)
	return resp, toStatus(err)
}

func (s *agencyServer) ResumeEnrolment(_ context.Context, req *jiexuv1.ResumeEnrolmentRequest) (*jiexuv1.ResumeEnrolmentResponse, error) {
	resp, err := s.n.resume(req)
	return resp, toStatus(err)
}

func (s *agencyServer) PayOutHeld(_ context.Context, req *jiexuv1.PayOutHeldRequest) (*jiexuv1.PayOutHeldResponse, error) {
	resp, err := s.n.payOutHeld(req)
	return resp, toStatus(err)
}

func (s *agencyServer) GetCertificate(_ context.Context, req *jiexuv1.GetCertificateRequest) (*jiexuv1.GetCertificateResponse, error) {
	var vs violations
	if _, err := rules.ParseCertNumber(req.GetNumber()); err != nil {
		vs.add("number", "%v", err)
	}
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	got, err := s.n.certificate(req.GetNumber())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.GetCertificateResponse{Certificate: got.sealed, VoidedOn: got.voidedOn, VoidReason: got.voidReason}, nil
}

func (s *agencyServer) ReissueCertificate(_ context.Context, req *jiexuv1.ReissueCertificateRequest) (*jiexuv1.ReissueCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	sc, err := s.n.reissue(req.GetNumber(), id)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ReissueCertificateResponse{Certificate: sc}, nil
}

func (s *agencyServer) CheckCertificate(ctx context.Context, req *jiexuv1.CheckCertificateRequest) (*jiexuv1.CheckCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	checkCode(&vs, "verification_code", req.GetVerificationCode())
	if d := req.GetIssuerDivision(); d != "" {
		s.n.v.checkDivision(&vs, "issuer_division", d)
	}
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	got, err := s.n.fetchCertificate(ctx, req.GetNumber(), id, req.GetVerificationCode(), req.GetIssuerDivision())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.CheckCertificateResponse{Certificate: got.sealed, IssuerRegion: got.issuer, VoidedOn: got.voidedOn, VoidReason: got.voidReason}, nil
}

func (s *agencyServer) RegisterCertificate(ctx context.Context, req *jiexuv1.RegisterCertificateRequest) (*jiexuv1.RegisterCertificateResponse, error) {
	resp, err := s.n.registerCertificate(ctx, req)
	return resp, toStatus(err)
}

func (s *agencyServer) ListOutbox(_ context.Context, req *jiexuv1.ListOutboxRequest) (*jiexuv1.ListOutboxResponse, error) {
	if p := req.GetPeerRegion(); p != "" {
		var vs violations
		s.n.v.checkDivision(&vs, "peer_region", p)
		if err := vs.err(); err != nil {
			return nil, toStatus(err)
		}
	}
	q := gateway.ListQuery{Dead: req.GetDead(), Peer: req.GetPeerRegion(), Limit: pageSize(req.GetLimit())}
	if t := req.GetPageToken(); t != "" {
		after, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			var vs violations
			vs.add("page_token", "not a token this node gave (use next_page_token of the previous page)")
			return nil, toStatus(vs.err())
		}
		q.After = after
	}
	ms, next, err := s.n.gw.List(q)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &jiexuv1.ListOutboxResponse{Messages: ms}
	if next != 0 {
		resp.NextPageToken = strconv.FormatUint(next, 10)
	}
	return resp, nil
}

func (s *agencyServer) RedriveOutbox(_ context.Context, req *jiexuv1.RedriveOutboxRequest) (*jiexuv1.RedriveOutboxResponse, error) {
	n, err := s.n.gw.Redrive(req.GetSequences())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.RedriveOutboxResponse{Redriven: int32(n)}, nil
}

package devnet_test

// Regression tests from a review that played a registered peer against the
// transfer core (and a domain expert against the measures). Each failed on
// the commit reviewed.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"jiexu/gateway"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func todayCaseID(seq int) string {
	return fmt.Sprintf("150200-%s-%06d", time.Now().In(rules.CST).Format("20060102"), seq)
}

func (tn *testNet) total(t *testing.T) int64 {
	t.Helper()
	s, err := tn.TotalBalance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A destination "returned" ￥1,000,000 it was never sent, or the owed
// amount while the remittance was still queued here: the origin restored or
// held whatever was claimed.
func TestReviewReturnsCannotMakeMoney(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount func(owed int64) int64
	}{{"a million", func(int64) int64 { return 100_000_000 }}, {"the owed amount, early", func(owed int64) int64 { return owed }}} {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNet(t, devnet.Options{}, hohhot)
			ctx := context.Background()
			bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
			p := tn.firstEmployee(hohhot, 0)
			tn.suspend(hohhot, p)
			before := tn.total(t)
			caseID := todayCaseID(900001)
			n := notice(bt, hohhot, caseID, gateway.NewMessageID(), p.GetPerson())
			withProof(n, tn.proof(hohhot, p))
			bt.seal(t, n)
			if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); err != nil {
				t.Fatal(err)
			}
			owed := tn.getCase(hohhot, caseID).GetAmountFen()
			for _, reason := range []jiexuv1.ReturnReason{jiexuv1.ReturnReason_RETURN_REASON_WITHDRAWN, jiexuv1.ReturnReason_RETURN_REASON_NO_ACCOUNT} {
				ret := &jiexuv1.ReturnRemittanceRequest{Header: bt.header(hohhot, caseID, gateway.NewMessageID()), AmountFen: tc.amount(owed), Reason: reason}
				bt.seal(t, ret)
				if _, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ReturnRemittance(ctx, ret); err == nil {
					t.Errorf("%s return accepted while the remittance was still queued here", reason)
				}
			}
			// The network holds what it held, minus what is on its way to 包头.
			if after := tn.total(t); after != before-owed {
				t.Errorf("network money before %d, after %d, in flight %d", before, after, owed)
			}
		})
	}
}

// A peer noticed an active employee; when the employer reported the person
// leaving, the suspension sent her certificate and balance to that peer.
func TestReviewSuspensionDoesNotReleaseToAStranger(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := tn.firstEmployee(hohhot, 0)
	caseID := todayCaseID(900002)
	n := notice(bt, hohhot, caseID, gateway.NewMessageID(), p.GetPerson())
	bt.seal(t, n)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); err != nil {
		t.Fatal(err)
	}
	// The employer reports the end of employment; the operator does not
	// vouch for 包头's application.
	resp, err := tn.Clients[hohhot].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber(), LastMonth: lastMonth()})
	if err != nil {
		t.Fatal(err)
	}
	if c := tn.getCase(hohhot, caseID); c.GetState() != jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION || len(resp.GetCases()) != 1 {
		t.Fatalf("the suspension moved 包头's case to %s", c.GetState())
	}
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED || got.GetBalanceFen() != p.GetBalanceFen() {
		t.Errorf("the balance left for a stranger: %s, %d fen", got.GetStatus(), got.GetBalanceFen())
	}
	// The operator refuses it.
	if _, err := tn.Clients[hohhot].RefuseCase(ctx, &jiexuv1.RefuseCaseRequest{CaseId: caseID, Reason: jiexuv1.RejectReason_REJECT_REASON_OTHER,
		Detail: "申请人未向本机构申请 (the person made no such application)"}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
}

// A peer's bare claim that an NCMS member joined its urban scheme ended the
// participation at once.
func TestReviewNCMSDoesNotEndOnABareClaim(t *testing.T) {
	tn := startNet(t, devnet.Options{}, manzhouli)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, manzhouli)
	p := tn.people(manzhouli)[0]
	n := notice(bt, manzhouli, todayCaseID(900003), gateway.NewMessageID(), p.GetPerson())
	n.OriginDivision = manzhouli
	bt.seal(t, n)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := tn.period(manzhouli, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		t.Errorf("an unproven notice ended the NCMS participation: %s", got.GetStatus())
	}
}

// Suspending the destination's enrolment while a transfer-in was open jammed
// the case: the certificate could never apply.
func TestReviewDestinationEnrolmentHeldWhileCaseOpen(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	_, err := tn.Clients[hulunbuir].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: rules.YearMonthOf(time.Now())})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), c.GetCaseId()) {
		t.Fatalf("suspending while a transfer-in is open: %v, want FailedPrecondition naming the case", err)
	}
	tn.suspend(hohhot, p)
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
}

// A registered origin certified 2,147,483,647 months twice and the
// recognised months overflowed.
func TestReviewCertificateFiguresAreBounded(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hulunbuir)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hulunbuir)
	q := tn.firstEmployee(hulunbuir, 0)
	caseID := todayCaseID(900004)
	req := &jiexuv1.RequestTransferRequest{Header: bt.header(hulunbuir, caseID, gateway.NewMessageID()), Person: q.GetPerson(), DestinationDivision: hulunbuir}
	bt.seal(t, req)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).RequestTransfer(ctx, req); err != nil {
		t.Fatal(err)
	}
	c := certOf(t, sealedCertificate(t, bt, q, 0))
	c.MonthsPaid = 2147483647
	sc, err := node.SealCertificate(bt.signer, c)
	if err != nil {
		t.Fatal(err)
	}
	d := &jiexuv1.DeliverCertificateRequest{Header: bt.header(hulunbuir, caseID, gateway.NewMessageID()), Certificate: sc}
	bt.seal(t, d)
	if _, err := jiexuv1.NewCertificateServiceClient(bt.conn).DeliverCertificate(ctx, d); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a certificate of 2,147,483,647 months: %v, want InvalidArgument", err)
	}
	if m := tn.period(hulunbuir, q.GetPerson().GetIdNumber()).GetMonthsRecognised(); m != 0 {
		t.Errorf("recognised months %d", m)
	}
}

// Withdrawals under the sender's own ids store ended cases; they carry no
// person and block no one.
func TestReviewTombstonesBlockNoOne(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	for i := range 5 {
		w := &jiexuv1.WithdrawTransferRequest{Header: bt.header(hohhot, todayCaseID(800000+i), gateway.NewMessageID())}
		bt.seal(t, w)
		if _, err := jiexuv1.NewTransferServiceClient(bt.conn).WithdrawTransfer(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	n := notice(bt, hohhot, todayCaseID(800010), gateway.NewMessageID(), p.GetPerson())
	withProof(n, tn.proof(hohhot, p))
	bt.seal(t, n)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := tn.getCase(hohhot, todayCaseID(800010)); got.GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT {
		t.Errorf("a person's transfer after 5 tombstones: %s", got.GetState())
	}
}

// A person who came back before any transfer got a new period whose note
// claimed the old balance was carried while the new one showed ￥0.00.
func TestReviewReturningBeforeATransferResumes(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	back := &jiexuv1.Record{Person: p.GetPerson(), Scheme: p.GetScheme(), Division: p.GetDivision(), EnrolledFrom: rules.YearMonthOf(time.Now())}
	_, err := tn.Clients[hohhot].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: back})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "records resume") {
		t.Fatalf("a new period after an unused suspension: %v, want the advice to resume", err)
	}
	if _, err := tn.Clients[hohhot].ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber()}); err != nil {
		t.Fatal(err)
	}
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetBalanceFen() != p.GetBalanceFen() || got.GetMonthsPaid() != p.GetMonthsPaid() {
		t.Errorf("resumed period %d fen %d months, want the period's own %d, %d", got.GetBalanceFen(), got.GetMonthsPaid(), p.GetBalanceFen(), p.GetMonthsPaid())
	}
}

// A destination enrolment that began before the origin's 参保止 (a double
// enrolment, 2009 §2) counted the overlapping months twice and showed no
// gap and no remark.
func TestReviewOverlapCountedOnce(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p) // 参保止 last month
	rec := devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now())
	now := time.Now().In(rules.CST)
	rec.EnrolledFrom = rules.YearMonthOf(time.Date(now.Year(), now.Month()-3, 1, 0, 0, 0, 0, rules.CST)) // began 3 months ago: 2 months overlap
	rec.RegisteredOn = rules.DateOf(time.Date(now.Year(), now.Month()-3, 2, 0, 0, 0, 0, rules.CST))
	if rules.MonthIndex(rec.EnrolledFrom) <= rules.MonthIndex(p.GetEnrolledFrom()) {
		t.Skip("synthetic person enrolled too recently")
	}
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	proof := tn.proof(hohhot, p)
	resp, err := tn.Clients[hulunbuir].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(),
		OriginDivision: hohhot, CertificateNumber: proof.Certificate, VerificationCode: proof.Code})
	if err != nil {
		t.Fatal(err)
	}
	done := tn.waitState(hulunbuir, resp.GetCase().GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if done.GetOverlapMonths() != 3 || !strings.Contains(done.GetNote(), "重叠") {
		t.Errorf("overlap %d months, note %q; want 3 and a remark", done.GetOverlapMonths(), done.GetNote())
	}
	if got := tn.period(hulunbuir, p.GetPerson().GetIdNumber()).GetMonthsRecognised(); got != p.GetMonthsPaid()-3 {
		t.Errorf("recognised %d months, want %d (the overlap once)", got, p.GetMonthsPaid()-3)
	}
}

package devnet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// The tests in this file each reproduce a finding of the transfer issue on
// real nodes; each failed on the previous case model.

// The origin suspended an employee whose employer still paid because
// another agency asked. Now the case waits, visibly, and the enrolment is
// untouched until the origin itself suspends it.
func TestOriginWaitsForItsOwnSuspension(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	w := tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_NOTIFIED)
	if got := tn.period(hohhot, id); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE || got.GetBalanceFen() != p.GetBalanceFen() ||
		got.GetEnrolledTo() != nil {
		t.Fatalf("after the notice the origin's period is %s, %d fen, to %v; want untouched", got.GetStatus(), got.GetBalanceFen(), got.GetEnrolledTo())
	}
	if !strings.Contains(w.GetNote(), "waiting") {
		t.Errorf("waiting case note %q does not say what it waits for", w.GetNote())
	}
	// The origin suspends, with the real last month: the case proceeds in
	// the same transaction.
	resp := tn.suspend(hohhot, p)
	if len(resp.GetCases()) != 1 || resp.GetCases()[0].GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT {
		t.Fatalf("SuspendEnrolment moved cases %v, want this one to CERTIFICATE_SENT", resp.GetCases())
	}
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)
	if done.GetAmountFen() != p.GetBalanceFen() || done.GetCertificateNumber() != certOf(t, resp.GetCertificate()).GetNumber() {
		t.Errorf("completed with %d fen and certificate %s; want %d and the one issued at the suspension", done.GetAmountFen(), done.GetCertificateNumber(), p.GetBalanceFen())
	}
}

// A registered peer could take over a person knowing only the name and the
// ID number: the origin sent the certificate and the balance to whichever
// region asked. Now a suspended enrolment leaves only on the applicant's
// proof (the certificate's number and verification code, presented at the
// destination) or on the origin operator's own confirmation.
func TestOriginActsOnProofOrConfirmation(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	suspendUnconfirmed := func(p *jiexuv1.Record) {
		t.Helper()
		if _, err := tn.Clients[hohhot].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber(), LastMonth: lastMonth()}); err != nil {
			t.Fatal(render.DescribeError(err))
		}
	}
	// Suspended, applied without the certificate: the case waits for it.
	p := tn.firstEmployee(hohhot, 0)
	suspendUnconfirmed(p)
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	w := tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION)
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED || w.GetNote() == "" {
		t.Fatalf("without proof the origin moved: period %s, note %q", got.GetStatus(), w.GetNote())
	}
	// The person brings the certificate to the destination, which registers
	// it: the notice goes again with the proof, and the origin acts.
	proof := tn.proof(hohhot, p)
	reg, err := tn.Clients[hulunbuir].RegisterCertificate(ctx, &jiexuv1.RegisterCertificateRequest{Number: proof.Certificate, IdNumber: p.GetPerson().GetIdNumber(), VerificationCode: proof.Code})
	if err != nil || reg.GetAssessment().GetCaseId() != c.GetCaseId() {
		t.Fatalf("RegisterCertificate: %v, attached to case %q", err, reg.GetAssessment().GetCaseId())
	}
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)

	// Still enrolled when applying, suspended later without confirming: the
	// origin's operator confirms with ConfirmCase.
	q := tn.firstEmployee(hohhot, 1)
	c = tn.enrolAndApply(q, hohhot, hulunbuir)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	if _, err := tn.Clients[hohhot].ConfirmCase(ctx, &jiexuv1.ConfirmCaseRequest{CaseId: c.GetCaseId()}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("confirming before the suspension: %v, want FailedPrecondition", err)
	}
	suspendUnconfirmed(q)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION)
	if _, err := tn.Clients[hohhot].ConfirmCase(ctx, &jiexuv1.ConfirmCaseRequest{CaseId: c.GetCaseId()}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)

	// A wrong code is refused: 信息不符.
	r := tn.firstEmployee(hohhot, 2)
	suspendUnconfirmed(r)
	wrong := tn.proof(hohhot, r)
	wrong.Code = "0000-0000-0000"
	c = tn.enrolAndApplyWith(r, hohhot, hulunbuir, wrong)
	got := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_REFUSED)
	if got.GetRejectReason() != jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH {
		t.Errorf("wrong code refused with %s", got.GetRejectReason())
	}
	if got := tn.period(hohhot, r.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
		t.Errorf("a wrong code moved the enrolment: %s", got.GetStatus())
	}
}

// The window was counted from the issue date, so it was always "in time";
// the gap was always 0 and no waiting period ever applied. Now the window
// runs from the suspension and the gap from the origin's real 参保止.
func TestWindowGapAndWaitingPeriod(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	now := time.Now().In(rules.CST)
	last := rules.YearMonthOf(time.Date(now.Year(), now.Month()-6, 1, 0, 0, 0, 0, rules.CST)) // 参保止 six months ago
	suspendedOn := rules.DateOf(time.Date(now.Year(), now.Month()-5, 3, 0, 0, 0, 0, rules.CST))
	if rules.MonthIndex(last) < rules.MonthIndex(p.GetEnrolledFrom()) {
		t.Skip("synthetic person enrolled too recently for this test")
	}
	if _, err := tn.Clients[hohhot].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{
		IdNumber: p.GetPerson().GetIdNumber(), LastMonth: last, SuspendedOn: suspendedOn}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	c := tn.enrolAndApplyWith(p, hohhot, hulunbuir, tn.proof(hohhot, p)) // enrolled here this month, registered today
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	wantBy := rules.DateOf(rules.AddMonths(rules.DateTime(suspendedOn), 3))
	if done.GetRegisteredInTime() || done.GetRegisterBy().GetYear() != wantBy.GetYear() || done.GetRegisterBy().GetMonth() != wantBy.GetMonth() {
		t.Errorf("register by %v in time %v; want about %v and not in time", done.GetRegisterBy(), done.GetRegisteredInTime(), wantBy)
	}
	if done.GetGapMonths() != 5 || done.GetWaitingMonths() != 3 || !strings.Contains(done.GetWaitingReason(), "缴费中断5个月") {
		t.Errorf("gap %d, waiting %d (%q); want 5 and the region's 3", done.GetGapMonths(), done.GetWaitingMonths(), done.GetWaitingReason())
	}
	// Someone who leaves and registers at once: in time, no gap, no waiting.
	q := tn.firstEmployee(hohhot, 1)
	c = tn.move(q, hohhot, hohhot, hulunbuir)
	done = tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if !done.GetRegisteredInTime() || done.GetGapMonths() != 0 || done.GetWaitingMonths() != 0 {
		t.Errorf("immediate move: in time %v, gap %d, waiting %d; want true, 0, 0", done.GetRegisteredInTime(), done.GetGapMonths(), done.GetWaitingMonths())
	}
}

// A transferred-out person was made active again by import or put, and a
// second transfer moved the balance again. Now the row is refused with the
// reason, and every path to a second transfer is closed.
func TestMoneyCannotMoveTwice(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir, baotou)
	ctx := context.Background()
	before, err := tn.TotalBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	c := tn.move(p, hohhot, hohhot, hulunbuir)
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)

	// Re-import the person's original row, and put it: refused, saying why.
	_, err = tn.Clients[hohhot].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{p}})
	if status.Code(err) != codes.FailedPrecondition && status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "transferred out") {
		t.Fatalf("re-import of a transferred-out person: %v, want a refusal naming the transfer", err)
	}
	if _, err := tn.Clients[hohhot].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: p}); err == nil {
		t.Fatal("PutRecord reactivated a transferred-out period")
	}
	// Nor can it be suspended again, resumed, or transferred again, here or from elsewhere.
	if _, err := tn.Clients[hohhot].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: lastMonth()}); err == nil {
		t.Error("a transferred-out period was suspended again")
	}
	if _, err := tn.Clients[hohhot].ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: id}); err == nil {
		t.Error("a transferred-out period was resumed")
	}
	again := tn.enrolAndApply(p, hohhot, baotou)
	got := tn.waitState(baotou, again.GetCaseId(), jiexuv1.CaseState_CASE_STATE_REFUSED)
	if got.GetRejectReason() != jiexuv1.RejectReason_REJECT_REASON_ALREADY_TRANSFERRED {
		t.Errorf("second transfer refused with %s, want ALREADY_TRANSFERRED", got.GetRejectReason())
	}
	// The balance arrived once, and the network still holds the same money
	// (baotou's new enrolment adds none).
	if bal := tn.period(hulunbuir, id).GetBalanceFen(); bal != p.GetBalanceFen() {
		t.Errorf("destination balance %d, want %d (once)", bal, p.GetBalanceFen())
	}
	after, err := tn.TotalBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("balances: %d fen before, %d after", before, after)
	}
	// A person who comes back later is enrolled in a new period.
	back := proto.Clone(p).(*jiexuv1.Record)
	back.EnrolledFrom, back.MonthsPaid, back.BalanceFen, back.BenefitsFrom = rules.YearMonthOf(time.Now()), 0, 0, nil
	resp, err := tn.Clients[hohhot].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: back})
	if err != nil {
		t.Fatalf("a returning person: %v", render.DescribeError(err))
	}
	if ps := resp.GetEnrolment().GetPeriods(); len(ps) != 2 || ps[0].GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT ||
		ps[1].GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		t.Errorf("returning person's periods = %v", ps)
	}
}

// NCMS months were added to employee months and a balance was credited
// into an NCMS record; the resulting records then failed the node's own
// validation on re-import. Now only employee years cross, money goes only
// account to account, and what a destination holds re-imports cleanly.
func TestSchemesAcrossATransfer(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir, baotou)
	ctx := context.Background()
	// Employee → resident: the resident scheme has no personal account. The
	// balance stays at the origin, held for the person; the employee months
	// are carried, counting in no scheme there.
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	rec := devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now())
	rec.Scheme = jiexuv1.Scheme_SCHEME_RESIDENT
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec}); err != nil {
		t.Fatal(err)
	}
	proof := tn.proof(hohhot, p)
	resp, err := tn.Clients[hulunbuir].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(),
		OriginDivision: hohhot, CertificateNumber: proof.Certificate, VerificationCode: proof.Code})
	if err != nil {
		t.Fatal(err)
	}
	done := tn.waitState(hulunbuir, resp.GetCase().GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, resp.GetCase().GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)
	dp, op := tn.period(hulunbuir, p.GetPerson().GetIdNumber()), tn.period(hohhot, p.GetPerson().GetIdNumber())
	if dp.GetBalanceFen() != 0 || dp.GetMonthsRecognised() != p.GetMonthsPaid() || done.GetAmountFen() != 0 {
		t.Errorf("employee → resident credited %d fen and carries %d months, want 0 fen and the %d employee months", dp.GetBalanceFen(), dp.GetMonthsRecognised(), p.GetMonthsPaid())
	}
	if op.GetHeldFen() != p.GetBalanceFen() || op.GetBalanceFen() != 0 {
		t.Errorf("origin holds %d (balance %d), want the %d fen held for the person", op.GetHeldFen(), op.GetBalanceFen(), p.GetBalanceFen())
	}
	// Resident → employee elsewhere: the employee years carried through
	// the resident period are recognised there (2015 §3: 各地互认, 累计计入).
	// They were lost when a resident period lay in between.
	id := p.GetPerson().GetIdNumber()
	sus, err := tn.Clients[hulunbuir].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: rules.YearMonthOf(time.Now())})
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if rc := certOf(t, sus.GetCertificate()); rc.GetMonthsRecognised() != p.GetMonthsPaid() {
		t.Errorf("the resident certificate carries %d employee months, want %d", rc.GetMonthsRecognised(), p.GetMonthsPaid())
	}
	third := tn.enrolAndApplyWith(p, hulunbuir, baotou, tn.proof(hulunbuir, p))
	tn.waitState(baotou, third.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if got := tn.period(baotou, id).GetMonthsRecognised(); got != p.GetMonthsPaid() {
		t.Errorf("employee at %s after a resident period: %d months recognised, want the %d employee months", baotou, got, p.GetMonthsPaid())
	}
	// Employee → employee: the months are recognised in their own field, so
	// months paid here stay checkable against the period.
	q := tn.firstEmployee(hohhot, 1)
	c := tn.move(q, hohhot, hohhot, hulunbuir)
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	// Whatever the destination now holds re-imports without a violation:
	// its own rows, as its system would export them.
	list, err := tn.Clients[hulunbuir].ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []*jiexuv1.Record
	for _, e := range list.GetEnrolments() {
		last := e.GetPeriods()[len(e.GetPeriods())-1]
		if last.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
			continue // what left is not in the bureau's export
		}
		rows = append(rows, &jiexuv1.Record{Person: e.GetPerson(), Scheme: last.GetScheme(), Division: last.GetDivision(),
			EnrolledFrom: last.GetEnrolledFrom(), MonthsPaid: last.GetMonthsPaid(), BalanceFen: last.GetBalanceFen(), RegisteredOn: last.GetRegisteredOn()})
	}
	if _, err := tn.Clients[hulunbuir].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: rows}); err != nil {
		t.Errorf("the destination's own records fail re-import: %v", render.DescribeError(err))
	}
}

// Withdrawal (撤销): before the origin acts the case ends on both sides and
// the person may apply again; the enrolment at the origin is untouched.
func TestWithdrawBeforeTheOriginActs(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	if _, err := tn.Clients[hulunbuir].WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: c.GetCaseId(), Detail: "changed my mind"}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WITHDRAWN)
	oc := tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WITHDRAWN)
	if oc.GetWithdrawDetail() != "changed my mind" {
		t.Errorf("origin case withdrawal detail %q", oc.GetWithdrawDetail())
	}
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
		t.Errorf("origin period %s after a withdrawal", got.GetStatus())
	}
	// Withdrawing again, or a finished case, is refused with the reason.
	if _, err := tn.Clients[hulunbuir].WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: c.GetCaseId()}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("second withdrawal: %v, want FailedPrecondition", err)
	}
	// The person is free to apply again.
	if _, err := tn.Clients[hulunbuir].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(), OriginDivision: hohhot}); err != nil {
		t.Errorf("applying again after a withdrawal: %v", err)
	}
}

// Withdrawal after the origin acted, seen from the destination: the
// certificate and the money that arrive for the withdrawn case are
// declined and returned (退回), never credited. The origin is played by
// 包头 with its own certificate, so that its messages arrive after the
// withdrawal.
func TestWithdrawnCaseDeclinesAndReturns(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	person := devnet.SyntheticPeople(rng, registry.DefaultTable(), baotou, "insurance", 1, time.Now())[0]
	c := tn.enrolAndApply(person, baotou, hohhot)
	if _, err := tn.Clients[hohhot].WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: c.GetCaseId()}); err != nil {
		t.Fatal(err)
	}
	sc := sealedCertificate(t, bt, person, 123456)
	deliver := &jiexuv1.DeliverCertificateRequest{Header: bt.header(hohhot, c.GetCaseId(), "c-1"), Certificate: sc}
	bt.seal(t, deliver)
	if _, err := jiexuv1.NewCertificateServiceClient(bt.conn).DeliverCertificate(ctx, deliver); err != nil {
		t.Fatal(err)
	}
	remit := &jiexuv1.RemitRequest{Header: bt.header(hohhot, c.GetCaseId(), "r-1"), IdNumber: person.GetPerson().GetIdNumber(), AmountFen: 123456,
		CertificateNumber: certOf(t, sc).GetNumber()}
	bt.seal(t, remit)
	if _, err := jiexuv1.NewRemittanceServiceClient(bt.conn).Remit(ctx, remit); err != nil {
		t.Fatal(err)
	}
	if got := tn.getCase(hohhot, c.GetCaseId()); got.GetState() != jiexuv1.CaseState_CASE_STATE_WITHDRAWN || !got.GetDeclined() ||
		got.GetReturnedFen() != 123456 {
		t.Fatalf("withdrawn case after the late messages: %s declined=%v returned=%d", got.GetState(), got.GetDeclined(), got.GetReturnedFen())
	}
	if bal := tn.period(hohhot, person.GetPerson().GetIdNumber()).GetBalanceFen(); bal != 0 {
		t.Errorf("a withdrawn case credited %d fen", bal)
	}
	out, err := tn.Clients[hohhot].ListOutbox(ctx, &jiexuv1.ListOutboxRequest{PeerRegion: baotou})
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, m := range out.GetMessages() {
		methods = append(methods, m.GetMethod()[strings.LastIndex(m.GetMethod(), "/")+1:])
	}
	if got := strings.Join(methods, ","); got != "NotifyTransfer,WithdrawTransfer,RejectTransfer,ReturnRemittance" {
		t.Errorf("queued to the origin: %s; want the notice, the withdrawal, the decline and the returned money", got)
	}
}

// Withdrawal after the origin acted, seen from the origin: when the
// destination declines and returns the money, the origin restores the
// suspended enrolment with its balance, and the person can transfer
// elsewhere. The destination is played by 包头, which receives the origin's
// messages at its registered address and answers them.
func TestOriginRestoresADeclinedTransfer(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	cert := certOf(t, tn.suspend(hohhot, p).GetCertificate())
	caseID := "150200-20261125-000001"
	send := func(msgID string, m interface {
		proto.Message
		GetHeader() *jiexuv1.MessageHeader
		GetSeal() *jiexuv1.Seal
	}, call func() error) {
		t.Helper()
		bt.seal(t, m)
		if err := call(); err != nil {
			t.Fatalf("%s: %v", msgID, err)
		}
	}
	n := notice(bt, hohhot, caseID, "n-1", p.GetPerson())
	withProof(n, tn.proof(hohhot, p))
	send("notice", n, func() error { _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); return err })
	if got := tn.getCase(hohhot, caseID); got.GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT {
		t.Fatalf("origin case %s, want CERTIFICATE_SENT", got.GetState())
	}
	// A return before the remittance reached 包头 is refused for now: the
	// money is still here, and returning it would count it twice.
	early := &jiexuv1.ReturnRemittanceRequest{Header: bt.header(hohhot, caseID, "r-0"), AmountFen: p.GetBalanceFen(),
		Reason: jiexuv1.ReturnReason_RETURN_REASON_WITHDRAWN}
	bt.seal(t, early)
	if _, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ReturnRemittance(ctx, early); status.Code(err) != codes.Aborted {
		t.Fatalf("a return before the remittance was acknowledged: %v, want Aborted (retry)", err)
	}
	// Now 包头 answers at its address: the certificate and the money arrive.
	received := servePeer(t, tn, baotou)
	tn.Node(hohhot).Gateway().WakeAll()
	tn.waitState(hohhot, caseID, jiexuv1.CaseState_CASE_STATE_REMITTED)
	if got := received("Remit"); got != 1 {
		t.Fatalf("包头 received %d remittances, want 1", got)
	}
	decline := &jiexuv1.RejectTransferRequest{Header: bt.header(hohhot, caseID, "d-1"), Reason: jiexuv1.RejectReason_REJECT_REASON_WITHDRAWN}
	send("decline", decline, func() error {
		_, err := jiexuv1.NewTransferServiceClient(bt.conn).RejectTransfer(ctx, decline)
		return err
	})
	if got := tn.getCase(hohhot, caseID); got.GetState() != jiexuv1.CaseState_CASE_STATE_REMITTED || !got.GetDeclined() {
		t.Fatalf("after the decline: %s declined=%v; want REMITTED, waiting for the money", got.GetState(), got.GetDeclined())
	}
	// A return of more than was remitted is refused: money is never made.
	more := &jiexuv1.ReturnRemittanceRequest{Header: bt.header(hohhot, caseID, "r-9"), AmountFen: p.GetBalanceFen() + 100_000_000,
		Reason: jiexuv1.ReturnReason_RETURN_REASON_WITHDRAWN}
	bt.seal(t, more)
	if _, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ReturnRemittance(ctx, more); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a return of more than was remitted: %v, want FailedPrecondition", err)
	}
	ret := &jiexuv1.ReturnRemittanceRequest{Header: bt.header(hohhot, caseID, "r-1"), AmountFen: p.GetBalanceFen(),
		Reason: jiexuv1.ReturnReason_RETURN_REASON_WITHDRAWN, Detail: "申请已撤销"}
	send("return", ret, func() error {
		_, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ReturnRemittance(ctx, ret)
		return err
	})
	if got := tn.getCase(hohhot, caseID); got.GetState() != jiexuv1.CaseState_CASE_STATE_RETURNED {
		t.Fatalf("origin case %s, want RETURNED", got.GetState())
	}
	op := tn.period(hohhot, id)
	if op.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED || op.GetBalanceFen() != p.GetBalanceFen() ||
		op.GetCertificateNumber() != cert.GetNumber() || op.GetCaseId() != "" {
		t.Fatalf("restored period = %s, %d fen, certificate %s, case %q; want SUSPENDED with %d fen and %s",
			op.GetStatus(), op.GetBalanceFen(), op.GetCertificateNumber(), op.GetCaseId(), p.GetBalanceFen(), cert.GetNumber())
	}
	// The person transfers elsewhere with the same certificate.
	c := tn.enrolAndApplyWith(p, hohhot, hulunbuir, tn.proof(hohhot, p))
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if done.GetAmountFen() != p.GetBalanceFen() || done.GetCertificateNumber() != cert.GetNumber() {
		t.Errorf("the transfer after the restore moved %d fen with %s", done.GetAmountFen(), done.GetCertificateNumber())
	}
}

// A remittance the destination cannot credit was dead-lettered; now it goes
// back (退回) and the origin holds it for the person.
func TestReturnedRemittance(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	c := tn.enrolAndApply(p, hohhot, hulunbuir) // still enrolled at the origin: the case waits
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	// The new job ends: the person now pays into the resident scheme, which
	// has no personal account, before the origin acts.
	rec := devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now())
	rec.Scheme = jiexuv1.Scheme_SCHEME_RESIDENT
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	tn.suspend(hohhot, p)
	dest := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	origin := tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_RETURNED)
	if dest.GetReturnReason() != jiexuv1.ReturnReason_RETURN_REASON_NO_ACCOUNT || dest.GetReturnedFen() != p.GetBalanceFen() {
		t.Errorf("destination returned %d fen (%s), want %d for no account", dest.GetReturnedFen(), dest.GetReturnReason(), p.GetBalanceFen())
	}
	if origin.GetReturnedFen() != p.GetBalanceFen() || origin.GetNote() == "" {
		t.Errorf("origin case: returned %d, note %q", origin.GetReturnedFen(), origin.GetNote())
	}
	if op := tn.period(hohhot, p.GetPerson().GetIdNumber()); op.GetHeldFen() != p.GetBalanceFen() || op.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT {
		t.Errorf("origin period %s holding %d fen, want TRANSFERRED_OUT holding %d", op.GetStatus(), op.GetHeldFen(), p.GetBalanceFen())
	}
	if dp := tn.period(hulunbuir, p.GetPerson().GetIdNumber()); dp.GetBalanceFen() != 0 || dp.GetMonthsRecognised() != p.GetMonthsPaid() {
		t.Errorf("resident period credited %d fen, carries %d months; want 0 and the %d employee months", dp.GetBalanceFen(), dp.GetMonthsRecognised(), p.GetMonthsPaid())
	}

	// The origin pays the held balance to the person and records how: all
	// of it, once.
	id, held := p.GetPerson().GetIdNumber(), tn.period(hohhot, p.GetPerson().GetIdNumber())
	pay := &jiexuv1.PayOutHeldRequest{IdNumber: id, Period: held.GetNumber(), AmountFen: held.GetHeldFen() - 1, How: "一次性支付至本人银行账户"}
	if _, err := tn.Clients[hohhot].PayOutHeld(ctx, pay); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("paying out less than is held: %v, want FailedPrecondition", err)
	}
	pay.AmountFen, pay.How = held.GetHeldFen(), ""
	if _, err := tn.Clients[hohhot].PayOutHeld(ctx, pay); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "how") {
		t.Errorf("paying out without saying how: %v, want InvalidArgument naming how", err)
	}
	pay.How = "一次性支付至本人银行账户"
	resp, err := tn.Clients[hohhot].PayOutHeld(ctx, pay)
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if got := resp.GetEnrolment().GetPeriods()[held.GetNumber()-1]; got.GetHeldFen() != 0 || !strings.Contains(got.GetNote(), "paid out") {
		t.Errorf("after the pay-out the period holds %d fen, note %q", got.GetHeldFen(), got.GetNote())
	}
	if _, err := tn.Clients[hohhot].PayOutHeld(ctx, pay); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("paying out twice: %v, want FailedPrecondition", err)
	}
}

// A peer chose header.case_id freely: it could take another region's case
// id, and a message for an existing case from another region or about
// another person was applied. Now cases are owned.
func TestCasesAreOwned(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	// 包头 takes 呼伦贝尔's next case id for a real person: refused, and the
	// person's enrolment is untouched.
	stolen := notice(bt, hohhot, "150700-"+time.Now().In(rules.CST).Format("20060102")+"-000001", "s-1", p.GetPerson())
	bt.seal(t, stolen)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, stolen); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a case opened under another region's id: %v, want PermissionDenied", err)
	}
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
		t.Fatalf("the stolen id changed the enrolment: %s", got.GetStatus())
	}
	// The genuine notice from 呼伦贝尔, under that very id, goes through.
	c := tn.enrolAndApplyWith(p, hohhot, hulunbuir, tn.proof(hohhot, p))
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	// 包头 confirms, or renotifies, a case it does not share: refused, as
	// if the case did not exist (TestPeerCannotProbeCasesOfOthers).
	confirm := &jiexuv1.ConfirmRemittanceRequest{Header: bt.header(hohhot, c.GetCaseId(), "x-1"), AmountFen: 1}
	bt.seal(t, confirm)
	if _, err := jiexuv1.NewRemittanceServiceClient(bt.conn).ConfirmRemittance(ctx, confirm); status.Code(err) != codes.NotFound {
		t.Errorf("a message about a case shared with another region: %v, want NotFound", err)
	}
	// A second notice of 包头's own case, about another person: refused;
	// the case is never overwritten.
	own := "150200-20261125-000007"
	first := notice(bt, hohhot, own, "o-1", tn.people(hohhot)[4].GetPerson())
	bt.seal(t, first)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, first); err != nil {
		t.Fatal(err)
	}
	other := notice(bt, hohhot, own, "o-2", tn.people(hohhot)[5].GetPerson())
	bt.seal(t, other)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, other); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("a notice of an existing case about another person: %v, want FailedPrecondition", err)
	}
	if got := tn.getCase(hohhot, own); got.GetPerson().GetIdNumber() != tn.people(hohhot)[4].GetPerson().GetIdNumber() {
		t.Errorf("case %s now names %s", own, rules.MaskID(got.GetPerson().GetIdNumber()))
	}
}

// An application lodged at the origin (REQUESTED) accepted the
// destination's notice about any person. Now the person must be the case's.
func TestRequestedCaseChecksThePerson(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p, q := tn.firstEmployee(hohhot, 0), tn.firstEmployee(hohhot, 1)
	tn.suspend(hohhot, p)
	tn.suspend(hohhot, q)
	resp, err := tn.Clients[hohhot].ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(), DestinationDivision: baotou})
	if err != nil {
		t.Fatal(err)
	}
	wrong := notice(bt, hohhot, resp.GetCase().GetCaseId(), "w-1", q.GetPerson())
	bt.seal(t, wrong)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, wrong); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("confirming a requested case with another person: %v, want FailedPrecondition", err)
	}
	if got := tn.period(hohhot, q.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
		t.Errorf("the other person's period is %s", got.GetStatus())
	}
}

// The paper path: a person brings the printed certificate; the destination
// registers it by number, ID number and the verification code on the paper,
// and sees the window, gap and waiting period before anyone applies.
func TestPaperCertificateRegistration(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	sc := tn.suspend(hohhot, p).GetCertificate()
	cert := certOf(t, sc)
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now())}); err != nil {
		t.Fatal(err)
	}
	req := &jiexuv1.RegisterCertificateRequest{Number: cert.GetNumber(), IdNumber: p.GetPerson().GetIdNumber(), VerificationCode: rules.VerificationCode(sc)}
	resp, err := tn.Clients[hulunbuir].RegisterCertificate(ctx, req)
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	a := resp.GetAssessment()
	if resp.GetIssuerRegion() != hohhot || !a.GetRegisteredInTime() || a.GetWaitingReason() == "" || a.GetExpectedAmountFen() != p.GetBalanceFen() {
		t.Errorf("registration: issuer %s, in time %v, waiting %q, balance %d", resp.GetIssuerRegion(), a.GetRegisteredInTime(), a.GetWaitingReason(), a.GetExpectedAmountFen())
	}
	bad := proto.Clone(req).(*jiexuv1.RegisterCertificateRequest)
	bad.VerificationCode = "0000-0000-0000"
	if _, err := tn.Clients[hulunbuir].RegisterCertificate(ctx, bad); status.Code(err) != codes.NotFound {
		t.Errorf("a wrong verification code: %v, want NotFound (the issuer gives nothing without the code)", err)
	}
	// A voided certificate (the suspension was cancelled) is refused.
	if _, err := tn.Clients[hohhot].ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber(), Reason: "employer's report was wrong"}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if _, err := tn.Clients[hulunbuir].RegisterCertificate(ctx, req); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(status.Convert(err).Message(), "voided") {
		t.Errorf("a voided certificate: %v, want FailedPrecondition naming the void", err)
	}
}

// ResumeEnrolment cancels a suspension no transfer used: active again, the
// certificate void, and an application then waits for a new suspension.
func TestResumeVoidsTheCertificate(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	cert := certOf(t, tn.suspend(hohhot, p).GetCertificate())
	resp, err := tn.Clients[hohhot].ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber()})
	if err != nil || resp.GetVoidedCertificate() != cert.GetNumber() {
		t.Fatalf("ResumeEnrolment = %v, %v", resp, err)
	}
	got, err := tn.Clients[hohhot].GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: cert.GetNumber()})
	if err != nil || got.GetVoidedOn() == nil {
		t.Fatalf("voided certificate shows voided_on %v (%v)", got.GetVoidedOn(), err)
	}
	if _, err := tn.Clients[hohhot].ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: cert.GetNumber(), IdNumber: p.GetPerson().GetIdNumber()}); err == nil {
		t.Error("a void certificate was re-issued")
	}
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	// The new suspension issues a new certificate, which the transfer carries.
	second := certOf(t, tn.suspend(hohhot, p).GetCertificate())
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if second.GetNumber() == cert.GetNumber() || done.GetCertificateNumber() != second.GetNumber() {
		t.Errorf("transfer carried %s; first %s, second %s", done.GetCertificateNumber(), cert.GetNumber(), second.GetNumber())
	}
}

// The serial stopped dead at 99,999 (the message dead-lettered); the
// template allows six digits, as the 2009 one has.
func TestSerialBeyond99999(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	year := time.Now().In(rules.CST).Year()
	tn.StopNode(hohhot)
	db, err := bolt.Open(filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "data", node.DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("node.counters")).Put([]byte(fmt.Sprintf("cert/%d", year)), []byte{0, 0, 0, 0, 0, 1, 0x86, 0x9f}) // 99,999
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	cert := certOf(t, tn.suspend(hohhot, tn.firstEmployee(hohhot, 0)).GetCertificate())
	want := fmt.Sprintf("蒙呼和浩特%d第100000号", year)
	if cert.GetNumber() != want || cert.GetSerial() != 100000 {
		t.Fatalf("certificate %s serial %d, want %s", cert.GetNumber(), cert.GetSerial(), want)
	}
	if _, err := rules.ParseCertNumber(cert.GetNumber()); err != nil {
		t.Errorf("the six-digit number does not parse: %v", err)
	}
}

// An import's suspended rows are suspensions: each gets its certificate,
// and the same file imported again changes nothing.
func TestImportSuspendsAndIsIdempotent(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	var rows []*jiexuv1.Record
	rng := rand.New(rand.NewPCG(9, 9))
	for _, r := range devnet.SyntheticPeople(rng, registry.DefaultTable(), hohhot, "insurance", 4, time.Now()) {
		r.Status, r.EnrolledTo, r.SuspendedOn = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED, r.GetEnrolledFrom(), rules.DateOf(time.Now())
		r.MonthsPaid = 1
		rows = append(rows, r)
	}
	first, err := tn.Clients[hohhot].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: rows})
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if first.GetCreated() != 4 || first.GetSuspended() != 4 {
		t.Fatalf("first import = %+v, want 4 created and suspended", first)
	}
	// The review's finding: a suspended row without its day restarted the
	// 3-month window from the import. The day is required.
	undated := proto.Clone(rows[0]).(*jiexuv1.Record)
	undated.Person.IdNumber = makeTestID("150102", "19700101", "017")
	undated.SuspendedOn = nil
	if _, err := tn.Clients[hohhot].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{undated}}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "suspended_on") {
		t.Errorf("a suspended row without its day: %v, want InvalidArgument naming suspended_on", err)
	}
	for _, r := range rows {
		if p := tn.period(hohhot, r.GetPerson().GetIdNumber()); p.GetCertificateNumber() == "" || p.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
			t.Errorf("imported suspension: %s, certificate %q", p.GetStatus(), p.GetCertificateNumber())
		}
	}
	again, err := tn.Clients[hohhot].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: rows})
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if again.GetUnchanged() != 4 || again.GetSuspended() != 0 {
		t.Errorf("second import = %+v, want 4 unchanged and no new certificate", again)
	}
}

// An origin that never answers makes the case overdue and visible, and the
// person is never locked: the destination withdraws on its own and the
// person may apply elsewhere.
func TestOriginThatNeverAnswers(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	tn.StopNode(hohhot) // gone for good
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	// Seen 20 days later, the case is overdue on the destination's side.
	tn.StopNode(hulunbuir)
	if err := tn.StartNode(hulunbuir, node.WithClock(func() time.Time { return time.Now().Add(20 * 24 * time.Hour) })); err != nil {
		t.Fatal(err)
	}
	var got *jiexuv1.Case
	for i := 0; i < 200; i++ { // the restarted node's first delivery attempt fails soon
		if got = tn.getCase(hulunbuir, c.GetCaseId()); got.GetLastError() != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !got.GetOverdue() || got.GetTransferOutDue() == nil || !strings.Contains(got.GetLastError(), "NotifyTransfer to 150100") {
		t.Errorf("case of an unanswered origin: overdue %v, due %v, last error %q", got.GetOverdue(), got.GetTransferOutDue(), got.GetLastError())
	}
	if _, err := tn.Clients[hulunbuir].WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: c.GetCaseId(), Detail: "the origin never answered"}); err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if got := tn.getCase(hulunbuir, c.GetCaseId()); got.GetState() != jiexuv1.CaseState_CASE_STATE_WITHDRAWN || got.GetOverdue() {
		t.Errorf("after the withdrawal: %s overdue %v", got.GetState(), got.GetOverdue())
	}
	if _, err := tn.Clients[hulunbuir].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(), OriginDivision: hohhot}); err != nil {
		t.Errorf("the person is locked after withdrawing: %v", err)
	}
}

// servePeer answers, as a registered region that runs no node, the messages
// nodes send it at its registered address, acknowledging each; it returns a
// counter of what arrived, by method name.
func servePeer(t *testing.T, tn *testNet, region string) func(method string) int {
	t.Helper()
	nl := layoutOf(t, tn.Layout, region)
	kp, err := certs.LoadKeyPair(filepath.Join(nl.Dir, certs.CertFile), filepath.Join(nl.Dir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := certs.LoadPool(filepath.Join(tn.Layout.CADir, certs.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(nl.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("the address registered for %s is taken: %v", region, err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots))), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		var raw emptypb.Empty // read the request as unknown fields: its bytes as sent
		if err := stream.RecvMsg(&raw); err != nil {
			return err
		}
		mu.Lock()
		got[method[strings.LastIndex(method, "/")+1:]]++
		mu.Unlock()
		receipt, err := gateway.Acknowledge(kp.Signer(), method, rawBytes(&raw), time.Now()) // sealed, as a node's
		if err != nil {
			return err
		}
		return stream.SendMsg(&jiexuv1.RemitResponse{Receipt: receipt})
	}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return func(method string) int {
		for range 200 { // wait (bounded) for the dispatcher's delivery
			mu.Lock()
			n := got[method]
			mu.Unlock()
			if n > 0 {
				return n
			}
			time.Sleep(10 * time.Millisecond)
		}
		return 0
	}
}

// rawBytes is the encoding of a message read with unknown fields only.
func rawBytes(m *emptypb.Empty) []byte { return m.ProtoReflect().GetUnknown() }

func makeTestID(addr, birth, seq string) string {
	s := addr + birth + seq
	return s + string(rules.IDCheckChar(s))
}

// A registered peer sent a notice without proof for a suspended person: the
// case waited for the origin's confirmation and refused every genuine
// application with CASE_OPEN until an operator noticed. Now the applicant's
// certificate, presented with another application, wins: the proofless case
// is refused and the proven one proceeds.
func TestProofSupersedesAWaitingNotice(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	squat := "150200-" + time.Now().In(rules.CST).Format("20060102") + "-000001"
	n := notice(bt, hohhot, squat, "sq-1", p.GetPerson())
	bt.seal(t, n)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, n); err != nil {
		t.Fatal(err)
	}
	tn.waitState(hohhot, squat, jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION)

	c := tn.enrolAndApplyWith(p, hohhot, hulunbuir, tn.proof(hohhot, p))
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if done.GetAmountFen() != p.GetBalanceFen() {
		t.Errorf("moved %d fen, want %d", done.GetAmountFen(), p.GetBalanceFen())
	}
	gone := tn.getCase(hohhot, squat)
	if gone.GetState() != jiexuv1.CaseState_CASE_STATE_REFUSED || !strings.Contains(gone.GetRejectDetail(), hulunbuir) {
		t.Errorf("the proofless case is %s (%q), want REFUSED naming %s", gone.GetState(), gone.GetRejectDetail(), hulunbuir)
	}
	// A second proven application finds the enrolment transferred out.
	if got := tn.period(hohhot, p.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT {
		t.Errorf("origin period %s, want TRANSFERRED_OUT", got.GetStatus())
	}
}

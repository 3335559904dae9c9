package devnet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Findings of the domain review, each reproduced on a running network.

// monthsAgo is the month k months before this one.
func monthsAgo(k int) *jiexuv1.YearMonth {
	i := rules.MonthIndex(rules.YearMonthOf(time.Now())) - k
	return &jiexuv1.YearMonth{Year: int32(i / 12), Month: int32(i%12 + 1)}
}

// put stores a record at region, failing the test on a refusal.
func (tn *testNet) put(region string, r *jiexuv1.Record) *jiexuv1.PutRecordResponse {
	tn.t.Helper()
	resp, err := tn.Clients[region].PutRecord(context.Background(), &jiexuv1.PutRecordRequest{Record: r})
	if err != nil {
		tn.t.Fatalf("PutRecord at %s: %v", region, render.DescribeError(err))
	}
	return resp
}

// suspendAt suspends the person's period at region with the given last month.
func (tn *testNet) suspendAt(region, id string, last *jiexuv1.YearMonth) {
	tn.t.Helper()
	if _, err := tn.Clients[region].SuspendEnrolment(context.Background(), &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: last}); err != nil {
		tn.t.Fatalf("SuspendEnrolment at %s: %v", region, render.DescribeError(err))
	}
}

// apply applies at dest for a person already enrolled there, with proof.
func (tn *testNet) apply(dest, origin string, person *jiexuv1.Person, proof devnet.Proof) *jiexuv1.Case {
	tn.t.Helper()
	resp, err := tn.Clients[dest].ApplyTransfer(context.Background(), &jiexuv1.ApplyTransferRequest{IdNumber: person.GetIdNumber(), Name: person.GetName(),
		OriginDivision: origin, CertificateNumber: proof.Certificate, VerificationCode: proof.Code, OriginInsuranceNumber: proof.Card})
	if err != nil {
		tn.t.Fatalf("ApplyTransfer at %s: %v", dest, render.DescribeError(err))
	}
	return resp.GetCase()
}

// A resident enrolled for ten years moved region (resident to resident,
// no gap) and then took a job elsewhere with a 2-month gap, back-paid. The
// switch rule counted only the months paid in the last period (6), not the
// ten years of the chain, and gave a waiting period; and any update of the
// active period erased the chain (continuous_from).
func TestContinuityCountsTheWholeChain(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir, baotou)
	person := &jiexuv1.Person{Name: "徐明", IdNumber: makeTestID("150102", "19800304", "031"),
		HouseholdType: jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL}
	id := person.GetIdNumber()
	tn.put(hohhot, &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_RESIDENT, Division: hohhot,
		EnrolledFrom: &jiexuv1.YearMonth{Year: 2016, Month: 1}, MonthsPaid: 100})
	tn.suspendAt(hohhot, id, monthsAgo(8))
	// Resident at 呼伦贝尔 from the next month: no gap.
	tn.put(hulunbuir, &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_RESIDENT, Division: hulunbuir,
		EnrolledFrom: monthsAgo(7), MonthsPaid: 4})
	rec := &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_RESIDENT}
	c := tn.apply(hulunbuir, hohhot, person, tn.proof(hohhot, rec))
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if got := tn.period(hulunbuir, id).GetContinuousFrom(); got.GetYear() != 2016 || got.GetMonth() != 1 {
		t.Fatalf("continuous_from at %s = %v, want 2016-01", hulunbuir, got)
	}
	// The bureau's monthly update of the active period keeps the chain.
	tn.put(hulunbuir, &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_RESIDENT, Division: hulunbuir,
		EnrolledFrom: monthsAgo(7), MonthsPaid: 3})
	if got := tn.period(hulunbuir, id).GetContinuousFrom(); got.GetYear() != 2016 || got.GetMonth() != 1 {
		t.Fatalf("after an update continuous_from = %v, want 2016-01 kept", got)
	}
	tn.suspendAt(hulunbuir, id, monthsAgo(4))
	// An employee at 包头 from last month: a 2-month gap, back-paid.
	tn.put(baotou, &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: baotou,
		EnrolledFrom: monthsAgo(1), GapBackPaid: true})
	d := tn.apply(baotou, hulunbuir, person, tn.proof(hulunbuir, rec))
	done := tn.waitState(baotou, d.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if done.GetGapMonths() != 2 || done.GetWaitingMonths() != 0 {
		t.Errorf("switch after ten years' resident enrolment, 2-month gap back-paid: gap %d, waiting %d (%s); want 2 and none",
			done.GetGapMonths(), done.GetWaitingMonths(), done.GetWaitingReason())
	}
}

// The person back-paid the gap after the certificate had arrived: the case
// kept the waiting period. Recording the back-pay now assesses it again.
func TestBackPayAfterTheCertificate(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	tn.suspendAt(hohhot, id, monthsAgo(3))
	c := tn.enrolAndApplyWith(p, hohhot, hulunbuir, tn.proof(hohhot, p))
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if done.GetGapMonths() != 2 || done.GetWaitingMonths() != 3 {
		t.Fatalf("gap %d, waiting %d; want a 2-month gap and the region's 3 months before the back-pay", done.GetGapMonths(), done.GetWaitingMonths())
	}
	if b := tn.period(hulunbuir, id).GetBenefitsFrom(); rules.MonthIndex(b) != rules.MonthIndex(monthsAgo(-3)) {
		t.Errorf("benefits from %v, want three months after the enrolment", b)
	}
	cur := tn.period(hulunbuir, id)
	tn.put(hulunbuir, &jiexuv1.Record{Person: tn.enrolment(hulunbuir, id).GetPerson(), Scheme: cur.GetScheme(), Division: cur.GetDivision(),
		EnrolledFrom: cur.GetEnrolledFrom(), MonthsPaid: cur.GetMonthsPaid(), BalanceFen: cur.GetBalanceFen(), RegisteredOn: cur.GetRegisteredOn(),
		GapBackPaid: true})
	again := tn.getCase(hulunbuir, c.GetCaseId())
	if again.GetWaitingMonths() != 0 || !strings.Contains(again.GetWaitingReason(), "assessed again") {
		t.Errorf("after the back-pay: waiting %d (%s), want none, assessed again", again.GetWaitingMonths(), again.GetWaitingReason())
	}
	if b := tn.period(hulunbuir, id).GetBenefitsFrom(); rules.MonthIndex(b) != rules.MonthIndex(monthsAgo(0)) {
		t.Errorf("benefits from %v after the back-pay, want the month of enrolment", b)
	}
}

// A re-import from the bureau's system that had not booked a transfer's
// credit set the balance back silently. It is stored (that system speaks
// for the balance) but reported, once.
func TestImportReportsALoweredCredit(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	id := p.GetPerson().GetIdNumber()
	c := tn.move(p, hohhot, hohhot, hulunbuir)
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	cur := tn.period(hulunbuir, id)
	if cur.GetCreditedFen() != p.GetBalanceFen() {
		t.Fatalf("credited %d, want %d", cur.GetCreditedFen(), p.GetBalanceFen())
	}
	row := &jiexuv1.Record{Person: tn.enrolment(hulunbuir, id).GetPerson(), Scheme: cur.GetScheme(), Division: cur.GetDivision(),
		EnrolledFrom: cur.GetEnrolledFrom(), MonthsPaid: cur.GetMonthsPaid(), RegisteredOn: cur.GetRegisteredOn()} // balance 0: not booked
	resp, err := tn.Clients[hulunbuir].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{row}})
	if err != nil {
		t.Fatal(render.DescribeError(err))
	}
	if w := resp.GetWarnings(); len(w) != 1 || !strings.HasPrefix(w[0], "records[0]: balance lowered") || strings.Contains(w[0], id) {
		t.Errorf("warnings %q, want one about records[0]'s lowered balance, without the whole ID number", w)
	}
	row.BalanceFen = 100
	again, err := tn.Clients[hulunbuir].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{row}})
	if err != nil || len(again.GetWarnings()) != 0 {
		t.Errorf("the next import: %v, warnings %q; want none, the credit was spoken for", err, again.GetWarnings())
	}
}

// A resident member who took a job in another region stayed enrolled in
// both until an operator acted: the 2015 measures end the resident
// enrolment (已参加…居民医保的…参加职工医保的，不再享受原参保地…待遇). It
// now ends on the member's card number, as an NCMS participation does, and
// its certificate gives no window to register in. A wrong card number is
// refused in words about the card, not a certificate.
func TestResidentJoiningTheEmployeeSchemeEnds(t *testing.T) {
	tn := startNet(t, devnet.Options{People: 10}, hohhot, hulunbuir) // every fifth is a resident
	var r, s *jiexuv1.Record
	for _, q := range tn.people(hohhot) {
		if q.GetScheme() == jiexuv1.Scheme_SCHEME_RESIDENT {
			if r == nil {
				r = q
			} else if s == nil {
				s = q
			}
		}
	}
	if r == nil || s == nil {
		t.Fatal("no two residents at 呼和浩特")
	}
	c := tn.enrolAndApplyWith(r, hohhot, hulunbuir, devnet.Proof{Card: r.GetPerson().GetInsuranceNumber()})
	done := tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)
	op := tn.period(hohhot, r.GetPerson().GetIdNumber())
	if op.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT || rules.MonthIndex(op.GetEnrolledTo()) != rules.MonthIndex(monthsAgo(1)) {
		t.Errorf("origin period %s to %v, want transferred out, ending the month before the employee enrolment", op.GetStatus(), op.GetEnrolledTo())
	}
	resp, err := tn.Clients[hohhot].GetCertificate(context.Background(), &jiexuv1.GetCertificateRequest{Number: op.GetCertificateNumber()})
	if err != nil {
		t.Fatal(err)
	}
	if cert := certOf(t, resp.GetCertificate()); !cert.GetEndedOnJoining() || cert.GetRegisterBy() != nil {
		t.Errorf("certificate ended_on_joining %v, register_by %v; want true and none", cert.GetEndedOnJoining(), cert.GetRegisterBy())
	}
	if done.GetRegisterBy() != nil || !done.GetRegisteredInTime() {
		t.Errorf("destination case register by %v, in time %v; want none and in time", done.GetRegisterBy(), done.GetRegisteredInTime())
	}
	w := tn.enrolAndApplyWith(s, hohhot, hulunbuir, devnet.Proof{Card: "15010099999999"})
	refused := tn.waitState(hulunbuir, w.GetCaseId(), jiexuv1.CaseState_CASE_STATE_REFUSED)
	if !strings.Contains(refused.GetRejectDetail(), "card number") || strings.Contains(refused.GetRejectDetail(), "参保凭证号") {
		t.Errorf("a wrong card number refused with %q, want words about the card", refused.GetRejectDetail())
	}
}

package node

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

const personX, personY = "150102198001010013", "150102198502020021"

// restoreRoller is a restore's roll-forward over n's store and gateway,
// as 'jiexu node restore' builds it, for calling applyCase directly.
func restoreRoller(n *Node) *roller {
	key := []byte("a key of the restore's own, 32 b")
	return &roller{cfg: n.cfg, db: n.db, gw: n.gw, log: n.log, now: time.Now, idKey: key, report: &store.RollForwardReport{}, backupAt: time.Now()}
}

// issueTestCertificate seals a certificate of this region for a
// suspended period of the person id, with balance bal.
func issueTestCertificate(t *testing.T, n *Node, id string, bal int64) (*jiexuv1.SealedCertificate, *jiexuv1.Certificate) {
	var sealed *jiexuv1.SealedCertificate
	var cert *jiexuv1.Certificate
	err := n.db.Update(func(tx *bolt.Tx) error {
		e := &jiexuv1.Enrolment{Person: &jiexuv1.Person{IdNumber: id, Name: "某某"}}
		p := &jiexuv1.Period{Number: 1, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: "150100", Status: statusSuspended,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, EnrolledTo: &jiexuv1.YearMonth{Year: 2025, Month: 10},
			SuspendedOn: &jiexuv1.Date{Year: 2025, Month: 11, Day: 3}, MonthsPaid: 120, BalanceFen: bal}
		var err error
		sealed, cert, err = n.issueCertificate(tx, e, p, false, time.Now().Add(-time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sealed, cert
}

// The tests below answer a restoring node as a hostile registered peer
// would (a peer is trusted for nothing beyond its own region), each with
// the answer a first review found to get through.

// A voided certificate of this region, which the peer holds from an
// earlier transfer, does not let it close a case it invents and end the
// person's active period.
func TestRestoreRefusesAVoidedCertificate(t *testing.T) {
	n, _ := fuzzNode(t)
	sealed, cert := issueTestCertificate(t, n, personX, 2_000_000)
	err := n.db.Update(func(tx *bolt.Tx) error {
		// the suspension was cancelled (恢复参保): the certificate is voided, the period active again
		if err := tx.Bucket(bucketCertificateVoids).Put([]byte(cert.GetNumber()), []byte(`{"on":"2025-12-01","reason":"恢复参保"}`)); err != nil {
			return err
		}
		return putEnrolment(tx, &jiexuv1.Enrolment{Person: &jiexuv1.Person{IdNumber: personX, Name: "某某"}, Periods: []*jiexuv1.Period{{Number: 1,
			Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: "150100", Status: statusActive,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, MonthsPaid: 130, BalanceFen: 3_000_000}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ro := restoreRoller(n)
	claim := &jiexuv1.SharedCase{CaseId: "150700-20261208-000777", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Ended: true,
		AmountFen: 2_000_000, CertificateNumber: cert.GetNumber(), Certificate: sealed, IdHash: idHash(ro.idKey, personX), MaskedIdNumber: rules.MaskID(personX)}
	if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) }); err != nil {
		t.Fatal(err)
	}
	_ = n.db.View(func(tx *bolt.Tx) error {
		e, _ := getEnrolment(tx, personX)
		p := latest(e)
		c, _ := getCase(tx, claim.GetCaseId())
		t.Logf("period: %s balance %d held %d; case: %v %s", p.GetStatus(), p.GetBalanceFen(), p.GetHeldFen(), c.GetState(), c.GetNote())
		if p.GetStatus() != statusActive {
			t.Errorf("active period is now %s, balance %d (was active, 3000000)", p.GetStatus(), p.GetBalanceFen())
		}
		return nil
	})
	t.Logf("recovered %q\ndecide %q", ro.report.Recovered, ro.report.Decide)
}

// A case id with a 20-digit sequence does not wrap this region's case
// counter: the next applications get new ids.
func TestRestoreBoundsTheCaseIdsAPeerNames(t *testing.T) {
	n, _ := fuzzNode(t)
	ro := restoreRoller(n)
	day := time.Now().In(rules.CST).AddDate(0, 0, 1)
	d := day.Format("20060102")
	existing := &jiexuv1.Case{CaseId: "150100-" + d + "-000001", Side: sideOrigin, State: jiexuv1.CaseState_CASE_STATE_REQUESTED, DestinationRegion: "150700", OriginRegion: "150100"}
	if err := n.db.Update(func(tx *bolt.Tx) error { return putCase(tx, existing) }); err != nil {
		t.Fatal(err)
	}
	claim := &jiexuv1.SharedCase{CaseId: "150100-" + d + "-18446744073709551615", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_APPLIED}
	if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) }); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		err := n.db.Update(func(tx *bolt.Tx) error {
			id, err := n.newCaseID(tx, day)
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("next case ids: %v", ids)
	if ids[1] == existing.GetCaseId() {
		t.Errorf("case id %s handed out again (counter wrapped)", ids[1])
	}
}

// A certificate number with serial 4294967295 does not use up this
// region's certificate serials for the year.
func TestRestoreBoundsTheSerialsAPeerNames(t *testing.T) {
	n, _ := fuzzNode(t)
	ro := restoreRoller(n)
	year := time.Now().In(rules.CST).Year()
	claim := &jiexuv1.SharedCase{CaseId: "150700-20261208-000001", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_APPLIED,
		CertificateNumber: rules.FormatCertNumber("蒙", "呼和浩特", year, 4294967295)}
	if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) }); err != nil {
		t.Fatal(err)
	}
	err := n.db.Update(func(tx *bolt.Tx) error {
		e := &jiexuv1.Enrolment{Person: &jiexuv1.Person{IdNumber: personY, Name: "某某"}}
		p := &jiexuv1.Period{Number: 1, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: "150100", Status: statusSuspended,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, EnrolledTo: &jiexuv1.YearMonth{Year: 2025, Month: 10},
			SuspendedOn: &jiexuv1.Date{Year: 2025, Month: 11, Day: 3}, MonthsPaid: 120, BalanceFen: 1}
		_, _, err := n.issueCertificate(tx, e, p, false, time.Now())
		return err
	})
	t.Logf("issueCertificate after the answer: %v", err)
	if err != nil {
		t.Errorf("%v", err)
	}
}

// On a case this origin acted on, the destination's answer does not
// rewrite the case's certificate number (after which the peer would be
// served another person's certificate) or its amount.
func TestRestoreKeepsItsOwnRecordOfAnActedCase(t *testing.T) {
	n, _ := fuzzNode(t)
	_, other := issueTestCertificate(t, n, personY, 9_999_999) // Y's certificate, never sent to 150700
	mine, _ := issueTestCertificate(t, n, personX, 1_000_000)
	_ = mine
	k := &jiexuv1.Case{CaseId: "150100-20261201-000003", Side: sideOrigin, State: jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, Acted: true,
		Person: &jiexuv1.Person{IdNumber: personX, Name: "某某"}, OriginRegion: "150100", DestinationRegion: "150700", AmountFen: 1_000_000,
		CertificateNumber: rules.FormatCertNumber("蒙", "呼和浩特", time.Now().In(rules.CST).Year(), 2)}
	err := n.db.Update(func(tx *bolt.Tx) error {
		if err := putEnrolment(tx, &jiexuv1.Enrolment{Person: k.GetPerson(), Periods: []*jiexuv1.Period{{Number: 1, Status: statusTransferred,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, CaseId: k.GetCaseId()}}}); err != nil {
			return err
		}
		return putCase(tx, k)
	})
	if err != nil {
		t.Fatal(err)
	}
	ro := restoreRoller(n)
	claim := &jiexuv1.SharedCase{CaseId: k.GetCaseId(), Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Ended: true,
		AmountFen: 1, CertificateNumber: other.GetNumber()}
	if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) }); err != nil {
		t.Fatal(err)
	}
	resp, err := n.sharedCases("150700", sharedQuery{ids: []string{k.GetCaseId()}, certs: true, size: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range resp.GetCases() {
		t.Logf("after: case %s amount %d cert %s", sc.GetCaseId(), sc.GetAmountFen(), sc.GetCertificateNumber())
		if sc.GetCertificate() != nil {
			got := &jiexuv1.Certificate{}
			_ = proto.Unmarshal(sc.GetCertificate().GetCertificate(), got)
			t.Logf("certificate served to 150700: %s person %s balance %d", got.GetNumber(), got.GetPerson().GetIdNumber(), got.GetBalanceFen())
			if got.GetPerson().GetIdNumber() == personY {
				t.Errorf("150700 is served %s's certificate (full ID %s)", rules.MaskID(personY), got.GetPerson().GetIdNumber())
			}
		}
	}
}

// The peer's masked_id_number and case id do not reach the report as
// they came: no full ID number, no forged lines, no case under a
// malformed id.
func TestRestoreEchoesNoPeerText(t *testing.T) {
	n, _ := fuzzNode(t)
	ro := restoreRoller(n)
	junk := personY + " 张三 13800000000"
	claims := []*jiexuv1.SharedCase{
		{CaseId: "150700 bogus\n    recovered: case 150100-20261208-000001: forged line", Side: sideDestination,
			State: jiexuv1.CaseState_CASE_STATE_NOTIFIED, MaskedIdNumber: junk},
		{CaseId: "150700-20261208-000042", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_NOTIFIED, MaskedIdNumber: junk},
	}
	for _, claim := range claims {
		if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) }); err != nil {
			t.Fatal(err)
		}
	}
	all := strings.Join(append(ro.report.Recovered, ro.report.Decide...), "\n")
	t.Logf("report:\n%s", all)
	if strings.Contains(all, personY) || strings.Contains(all, "13800000000") || strings.Contains(all, "forged line") {
		t.Errorf("the report echoes the peer's text:\n%s", all)
	}
	_ = n.db.View(func(tx *bolt.Tx) error {
		if c, _ := getCase(tx, claims[0].GetCaseId()); c != nil {
			t.Errorf("a case was stored under the malformed id %q", claims[0].GetCaseId())
		}
		return nil
	})
}

// An origin replaying one certificate of its own on two invented case
// ids does not have the person credited twice.
func TestRestoreCreditsACertificateOnce(t *testing.T) {
	n, other := fuzzNode(t)
	err := n.db.Update(func(tx *bolt.Tx) error {
		return putEnrolment(tx, &jiexuv1.Enrolment{Person: &jiexuv1.Person{IdNumber: personX, Name: "某某"}, Periods: []*jiexuv1.Period{{Number: 1,
			Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: "150100", Status: statusActive,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2026, Month: 1}, MonthsPaid: 10, BalanceFen: 100}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	const bal = 5_000_000
	cert := &jiexuv1.Certificate{Number: rules.FormatCertNumber("蒙", "包头", 2026, 7), Year: 2026, Serial: 7, GeneratedOn: rules.DateOf(time.Now()),
		Person: &jiexuv1.Person{IdNumber: personX, Name: "某某"}, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, OriginRegion: "150700", OriginName: "包头",
		OriginDivision: "150700", EnrolledFrom: &jiexuv1.YearMonth{Year: 2010, Month: 1}, EnrolledTo: &jiexuv1.YearMonth{Year: 2025, Month: 12},
		MonthsPaid: 190, BalanceFen: bal, BalanceFigures: rules.AmountFigures(bal), SuspendedOn: &jiexuv1.Date{Year: 2025, Month: 12, Day: 20},
		IssuedAt: timestamppb.New(time.Now().Add(-time.Minute)), AgencyName: "x", AgencyKind: n.kind}
	cert.BalanceWords, _ = rules.AmountWords(bal)
	sealed, err := SealCertificate(other.Signer, cert)
	if err != nil {
		t.Fatal(err)
	}
	ro := restoreRoller(n)
	for _, id := range []string{"150700-20261208-000555", "150100-20261208-000556"} {
		claim := &jiexuv1.SharedCase{CaseId: id, Side: sideOrigin, State: jiexuv1.CaseState_CASE_STATE_CLOSED, Ended: true, Acted: true,
			AmountFen: bal, CertificateNumber: cert.GetNumber(), Certificate: sealed, IdHash: idHash(ro.idKey, personX)}
		err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150700", claim) })
		t.Logf("%s: %v", id, err)
	}
	_ = n.db.View(func(tx *bolt.Tx) error {
		e, _ := getEnrolment(tx, personX)
		t.Logf("period balance %d months %d recognised %d", latest(e).GetBalanceFen(), latest(e).GetMonthsPaid(), latest(e).GetMonthsRecognised())
		if latest(e).GetBalanceFen() >= 100+2*bal {
			t.Errorf("credited twice from one certificate")
		}
		return nil
	})
	t.Logf("recovered %q\ndecide %q", ro.report.Recovered, ro.report.Decide)
}

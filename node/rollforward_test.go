package node

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// A restored origin takes a suspension from a certificate only when the
// certificate records one made after the backup, of the period the store
// holds active, and not cancelled since: an older certificate — of a
// suspension the backup saw cancelled (恢复参保), or of another period — is
// left for the operator.
func TestLaterSuspension(t *testing.T) {
	db := testDB(t)
	backupAt := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCertificateVoids).Put([]byte("蒙呼和浩特2026第00007号"), []byte(`{"on":"2026-05-20","reason":"恢复参保"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	period := &jiexuv1.Period{Status: statusActive, EnrolledFrom: &jiexuv1.YearMonth{Year: 2019, Month: 3}}
	cert := func(number string, issued time.Time, from int32) *jiexuv1.Certificate {
		return &jiexuv1.Certificate{Number: number, IssuedAt: timestamppb.New(issued),
			EnrolledFrom: &jiexuv1.YearMonth{Year: from, Month: 3}, EnrolledTo: &jiexuv1.YearMonth{Year: 2026, Month: 5},
			SuspendedOn: &jiexuv1.Date{Year: 2026, Month: 6, Day: 3}}
	}
	tests := []struct {
		name string
		cert *jiexuv1.Certificate
		want bool
	}{
		{"issued after the backup", cert("蒙呼和浩特2026第00009号", backupAt.Add(48*time.Hour), 2019), true},
		{"no certificate", nil, false},
		{"issued before the backup", cert("蒙呼和浩特2026第00008号", backupAt.Add(-time.Hour), 2019), false},
		{"voided here", cert("蒙呼和浩特2026第00007号", backupAt.Add(time.Hour), 2019), false},
		{"another period", cert("蒙呼和浩特2026第00010号", backupAt.Add(time.Hour), 2017), false},
		{"no suspension day", func() *jiexuv1.Certificate {
			c := cert("蒙呼和浩特2026第00011号", backupAt.Add(time.Hour), 2019)
			c.SuspendedOn = nil
			return c
		}(), false},
	}
	ro := &roller{backupAt: backupAt}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = db.View(func(tx *bolt.Tx) error {
				if got := ro.laterSuspension(tx, period, tt.cert); got != tt.want {
					t.Errorf("laterSuspension = %v, want %v", got, tt.want)
				}
				return nil
			})
		})
	}
}

// A peer that claims, while this origin is restored, to have completed a
// transfer this store has no record of acting on is not believed without
// this region's certificate for the person: the period and its balance
// stay, and the claim is listed for the operator. (A registered peer is
// trusted for nothing beyond its own region; it may know the person's ID
// number from its own records.)
func TestRestoreDoesNotCloseOnAPeersWord(t *testing.T) {
	n, _ := fuzzNode(t) // a node's store and gateway, as a restore has them
	db := n.db
	const id = "150102198001010013"
	period := &jiexuv1.Period{Number: 1, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, Division: "150100", Status: statusSuspended,
		EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, EnrolledTo: &jiexuv1.YearMonth{Year: 2026, Month: 10},
		MonthsPaid: 130, BalanceFen: 2_345_678, CertificateNumber: "蒙呼和浩特2026第00005号"}
	err := db.Update(func(tx *bolt.Tx) error {
		return putEnrolment(tx, &jiexuv1.Enrolment{Person: &jiexuv1.Person{IdNumber: id, Name: "张三"}, Periods: []*jiexuv1.Period{period}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ro := restoreRoller(n)
	key := ro.idKey
	claim := &jiexuv1.SharedCase{CaseId: "150100-20261208-000999", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_COMPLETED,
		Ended: true, AmountFen: 2_345_678, IdHash: idHash(key, id), MaskedIdNumber: "150102********0013"}
	if err := db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150200", claim) }); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		if p := latest(e); p.GetStatus() != statusSuspended || p.GetBalanceFen() != 2_345_678 {
			t.Errorf("after the claim the period is %s with %d fen; want suspended with 2345678", p.GetStatus(), p.GetBalanceFen())
		}
		if c, err := getCase(tx, claim.GetCaseId()); err != nil || c != nil {
			t.Errorf("the claim made case %v (%v); want none", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.report.Decide) != 1 || !strings.Contains(ro.report.Decide[0], "sends no certificate") || len(ro.report.Recovered) != 0 {
		t.Errorf("report: recovered %q, decide %q; want one decision naming the missing certificate", ro.report.Recovered, ro.report.Decide)
	}
}

// A peer answers only for the cases it shares with the restored region:
// one this store holds with another peer, or one opened by a third region,
// is left alone whatever the answer says.
func TestRestoreHearsAPeerOnlyOnItsOwnCases(t *testing.T) {
	n, _ := fuzzNode(t)
	const id = "150102198001010013"
	shared := &jiexuv1.Case{CaseId: "150100-20261208-000001", Side: sideOrigin, State: jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, Acted: true,
		Person: &jiexuv1.Person{IdNumber: id, Name: "张三"}, OriginRegion: "150100", DestinationRegion: "150700", AmountFen: 2_345_678}
	err := n.db.Update(func(tx *bolt.Tx) error {
		if err := putEnrolment(tx, &jiexuv1.Enrolment{Person: shared.GetPerson(), Periods: []*jiexuv1.Period{{Number: 1, Status: statusSuspended,
			EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, BalanceFen: 2_345_678, CaseId: shared.GetCaseId()}}}); err != nil {
			return err
		}
		return putCase(tx, shared)
	})
	if err != nil {
		t.Fatal(err)
	}
	ro := restoreRoller(n)
	key := ro.idKey
	for _, claim := range []*jiexuv1.SharedCase{
		{CaseId: shared.GetCaseId(), Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Ended: true, AmountFen: 2_345_678, IdHash: idHash(key, id)},
		{CaseId: "150300-20261208-000001", Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Ended: true, AmountFen: 1, IdHash: idHash(key, id)},
	} {
		if err := n.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, "150200", claim) }); err != nil {
			t.Fatal(err)
		}
	}
	err = n.db.View(func(tx *bolt.Tx) error {
		c, err := getCase(tx, shared.GetCaseId())
		if err != nil {
			return err
		}
		if c.GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT {
			t.Errorf("the case shared with 150700 is %s after 150200's answer; want CERTIFICATE_SENT", c.GetState())
		}
		if c, err := getCase(tx, "150300-20261208-000001"); err != nil || c != nil {
			t.Errorf("a third region's case: %v (%v); want none", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.report.Decide) != 2 || !strings.Contains(ro.report.Decide[0], "shares the case with 150700") ||
		!strings.Contains(ro.report.Decide[1], "opened by neither region") || len(ro.report.Recovered) != 0 {
		t.Errorf("report: recovered %q, decide %q; want both answers ignored", ro.report.Recovered, ro.report.Decide)
	}
}

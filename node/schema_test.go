package node

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/node/render"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestCaseCountsKeptAndRebuilt(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "n.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(side jiexuv1.CaseSide, state jiexuv1.CaseState) (n int) {
		_ = db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketCaseCounts).Get([]byte{byte(side), byte(state)}); len(v) == 8 {
				n = int(v[7]) | int(v[6])<<8
			}
			return nil
		})
		return n
	}
	dest, origin := jiexuv1.CaseSide_CASE_SIDE_DESTINATION, jiexuv1.CaseSide_CASE_SIDE_ORIGIN
	applied, completed, closed := jiexuv1.CaseState_CASE_STATE_APPLIED, jiexuv1.CaseState_CASE_STATE_COMPLETED, jiexuv1.CaseState_CASE_STATE_CLOSED
	err = db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		for _, c := range []*jiexuv1.Case{
			{CaseId: "a", Side: dest, State: applied},
			{CaseId: "b", Side: dest, State: applied},
			{CaseId: "c", Side: origin, State: closed},
			{CaseId: "a", Side: dest, State: completed}, // a moves on
			{CaseId: "a", Side: dest, State: completed}, // written again: no change
		} {
			if err := putCase(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, tt := range []struct {
			side  jiexuv1.CaseSide
			state jiexuv1.CaseState
			want  int
		}{{dest, applied, 1}, {dest, completed, 1}, {origin, closed, 1}, {origin, applied, 0}} {
			if got := count(tt.side, tt.state); got != tt.want {
				t.Errorf("%s: count(%s, %s) = %d, want %d", when, render.Label(tt.side), render.Label(tt.state), got, tt.want)
			}
		}
	}
	check("kept by putCase")
	// A store from before the counts were kept gets them rebuilt on opening.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketCaseCounts) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

// A store written by the previous version holds one record per person and
// origin cases in its SUSPENDED state (now WAITING_SUSPENSION): opening it
// turns the records into periods — a suspended or ended one into a
// transferred-out period, which no import makes active again — and the
// cases into this version's states.
func TestMigrateAStoreOfThePreviousVersion(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "n.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	active := &jiexuv1.Record{Person: &jiexuv1.Person{IdNumber: "150102198503121234", Name: "甲"}, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE,
		EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, MonthsPaid: 20, BalanceFen: 500, Status: jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE}
	gone := &jiexuv1.Record{Person: &jiexuv1.Person{IdNumber: "150102198503125678", Name: "乙"}, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE,
		EnrolledFrom: &jiexuv1.YearMonth{Year: 2015, Month: 1}, EnrolledTo: &jiexuv1.YearMonth{Year: 2026, Month: 11}, Status: jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketLegacyRecords, bucketCases} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		for _, r := range []*jiexuv1.Record{active, gone} {
			if err := putProto(tx, bucketLegacyRecords, []byte(r.GetPerson().GetIdNumber()), r); err != nil {
				return err
			}
		}
		old := &jiexuv1.Case{CaseId: "150700-20261124-000001", Side: jiexuv1.CaseSide_CASE_SIDE_ORIGIN, State: jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION}
		return putProto(tx, bucketCases, []byte(old.GetCaseId()), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketLegacyRecords) != nil {
			t.Error("the old records bucket is still there")
		}
		for _, tt := range []struct {
			r    *jiexuv1.Record
			want jiexuv1.EnrolmentStatus
		}{{active, statusActive}, {gone, statusTransferred}} {
			e, err := getEnrolment(tx, tt.r.GetPerson().GetIdNumber())
			if err != nil || e == nil {
				t.Fatalf("enrolment of %s: %v", tt.r.GetPerson().GetName(), err)
			}
			if p := latest(e); p.GetStatus() != tt.want || p.GetBalanceFen() != tt.r.GetBalanceFen() || p.GetNumber() != 1 {
				t.Errorf("%s migrated to %s, %d fen, period %d; want %s", tt.r.GetPerson().GetName(), render.Label(p.GetStatus()), p.GetBalanceFen(), p.GetNumber(), render.Label(tt.want))
			}
		}
		c, err := getCase(tx, "150700-20261124-000001")
		if err != nil || c.GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT || !c.GetActed() {
			t.Errorf("old origin case migrated to %s acted=%v (%v); want CERTIFICATE_SENT, acted", c.GetState(), c.GetActed(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCaseCounts is what a /metrics scrape and GetStatus read: the
// kept counts plus the open cases (10 of 20,010 here).
func BenchmarkCaseCounts(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "n.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		for i := 0; i < 20010; i++ {
			c := &jiexuv1.Case{CaseId: fmt.Sprintf("150700-20261123-%06d", i), Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION,
				State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Person: &jiexuv1.Person{Name: "王伟", IdNumber: fmt.Sprintf("%018d", i)}}
			if i < 10 {
				c.State = jiexuv1.CaseState_CASE_STATE_APPLIED
				if err := tx.Bucket(bucketOpenCases).Put([]byte(c.Person.IdNumber), []byte(c.CaseId)); err != nil {
					return err
				}
			}
			if err := putCase(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	n := &Node{db: db, now: time.Now}
	for b.Loop() {
		if st := n.caseCounts(); st.byState[caseKey{jiexuv1.CaseSide_CASE_SIDE_DESTINATION, jiexuv1.CaseState_CASE_STATE_COMPLETED}] != 20000 {
			b.Fatalf("counts = %v", st.byState)
		}
	}
	b.StopTimer()
	// For comparison, what every scrape did before the counts were kept.
	start := time.Now()
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(_, v []byte) error { return proto.Unmarshal(v, &jiexuv1.Case{}) })
	})
	b.ReportMetric(float64(time.Since(start).Microseconds()), "us-full-scan")
}

package node

import (
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

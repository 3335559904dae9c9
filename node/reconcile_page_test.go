package node

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// A page of shared cases ends when it is full in bytes, whatever its size
// in cases, and the next page continues after the last case given: every
// case once, certificates and all.
func TestSharedPagesAreBoundedInBytes(t *testing.T) {
	db := testDB(t)
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	const cases = 30
	err := db.Update(func(tx *bolt.Tx) error {
		for i := range cases {
			c := &jiexuv1.Case{CaseId: fmt.Sprintf("150100-20261125-%06d", i+1), Side: sideOrigin,
				State: jiexuv1.CaseState_CASE_STATE_CLOSED, OpenedAt: timestamppb.New(start.Add(time.Duration(i) * time.Second))}
			if err := putCase(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		perCase   int // bytes each case adds to the page
		wantPages int
	}{
		{"small cases: one page of all", 100, 1},
		{"a certificate each: pages of 4", maxSharedPageBytes / 4, 8},
		{"a case over the bound: one a page", maxSharedPageBytes + 1, cases},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sharedQuery{from: start.Add(-time.Hour), to: start.Add(time.Hour), size: maxSharedPage}
			seen := map[string]int{}
			pages := 0
			for pages < 2*cases {
				pages++
				size := 0
				err := db.View(func(tx *bolt.Tx) error {
					var err error
					q.after, err = eachCaseOpened(tx, q, func(c *jiexuv1.Case) (bool, error) {
						seen[c.GetCaseId()]++
						size += tc.perCase
						return true, nil
					}, func() bool { return size >= maxSharedPageBytes })
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if q.after == nil {
					break
				}
			}
			if pages != tc.wantPages || len(seen) != cases {
				t.Errorf("%d pages, %d cases; want %d pages, %d cases", pages, len(seen), tc.wantPages, cases)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("case %s given %d times; want once", id, n)
				}
			}
		})
	}
}

package gateway

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// outboxPeers finds every peer with queued messages, once each, whatever
// their sequences, including one whose sequence begins with 0xff and a
// peer whose code is all 0xff bytes.
func TestOutboxPeers(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := map[string][]uint64{
		"110000":                   {1, 2, 3},
		"150100":                   {7, math.MaxUint64 - 1, math.MaxUint64},
		"150700":                   {1 << 56},
		"15070\xff":                {5},
		"\xff\xff\xff\xff\xff\xff": {1, 2},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := CreateBuckets(tx); err != nil {
			return err
		}
		for peer, seqs := range keys {
			for _, seq := range seqs {
				if err := tx.Bucket(bucketOutbox).Put(outboxKey(peer, seq), []byte("m")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = db.View(func(tx *bolt.Tx) error {
		got = outboxPeers(tx.Bucket(bucketOutbox).Cursor())
		return nil
	})
	want := []string{"110000", "150100", "150700", "15070\xff", "\xff\xff\xff\xff\xff\xff"}
	if !slices.Equal(got, want) {
		t.Errorf("outboxPeers = %q, want %q", got, want)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		got = outboxPeers(tx.Bucket(bucketDead).Cursor()) // empty
		return nil
	})
	if len(got) != 0 {
		t.Errorf("outboxPeers of an empty bucket = %q", got)
	}
}

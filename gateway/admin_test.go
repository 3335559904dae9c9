package gateway

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Pages of the outbox and the dead letters come oldest first, each message
// once, whatever the peers, and each page reads no more than it must.
func TestListPages(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, nil)
	peers := []string{"150700", "150200", "110000"}
	const n = 17
	if err := g.cfg.DB.Update(func(tx *bolt.Tx) error {
		for i := 0; i < n; i++ {
			msg := &jiexuv1.RejectTransferRequest{Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED}
			if err := g.Enqueue(tx, peers[i%len(peers)], jiexuv1.TransferService_RejectTransfer_FullMethodName, fmt.Sprintf("c%d", i), msg); err != nil {
				return err
			}
		}
		// Four of them are dead letters.
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			if k[13]%4 == 0 {
				if err := tx.Bucket(bucketDead).Put(k[6:], v); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	_ = g.cfg.DB.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if k[13]%4 == 0 {
				_ = c.Delete()
			}
		}
		return nil
	})
	all := func(q ListQuery) []uint64 {
		t.Helper()
		var seqs []uint64
		for pages := 0; ; pages++ {
			ms, next, err := g.List(q)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) > q.Limit || pages > n {
				t.Fatalf("page of %d with limit %d (page %d)", len(ms), q.Limit, pages)
			}
			for _, m := range ms {
				if len(seqs) > 0 && m.GetSequence() <= seqs[len(seqs)-1] {
					t.Fatalf("sequence %d after %d", m.GetSequence(), seqs[len(seqs)-1])
				}
				if q.Peer != "" && m.GetPeerRegion() != q.Peer {
					t.Fatalf("message to %s in a listing for %s", m.GetPeerRegion(), q.Peer)
				}
				if m.GetPayload() != nil {
					t.Fatal("payload listed")
				}
				seqs = append(seqs, m.GetSequence())
			}
			if next == 0 {
				return seqs
			}
			q.After = next
		}
	}
	tests := []struct {
		name string
		q    ListQuery
		want int
	}{
		{"pending, pages of 2", ListQuery{Limit: 2}, 13},
		{"pending, one page", ListQuery{Limit: 100}, 13},
		{"pending to one peer, pages of 1", ListQuery{Peer: "150200", Limit: 1}, 0},
		{"dead, pages of 3", ListQuery{Dead: true, Limit: 3}, 4},
		{"dead to one peer", ListQuery{Dead: true, Peer: "150700", Limit: 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := all(tt.q)
			if tt.want > 0 && len(got) != tt.want {
				t.Errorf("listed %d messages %v, want %d", len(got), got, tt.want)
			}
		})
	}
	// Per peer plus the rest add up to everything pending.
	sum := 0
	for _, p := range peers {
		sum += len(all(ListQuery{Peer: p, Limit: 1}))
	}
	if sum != 13 {
		t.Errorf("per-peer listings hold %d messages, want 13", sum)
	}
}

package gateway

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// ListQuery chooses a page of pending messages or dead letters.
type ListQuery struct {
	// Dead lists dead letters instead of pending messages.
	Dead bool
	// Peer, if set, keeps only messages to that region.
	Peer string
	// After skips messages up to and including this sequence (the last
	// sequence of the previous page; 0 for the first).
	After uint64
	// Limit is the page size (at least 1).
	Limit int
	// WithPayload keeps the sealed payloads (they are dropped otherwise).
	WithPayload bool
}

// List returns a page of pending messages or dead letters, oldest first,
// and the sequence to pass as After for the next page (0 on the last page).
// It reads at most Limit+1 messages per peer, never the whole queue.
func (g *Gateway) List(q ListQuery) ([]*jiexuv1.OutboxMessage, uint64, error) {
	if q.Limit < 1 {
		q.Limit = 1
	}
	var out []*jiexuv1.OutboxMessage
	keep := func(v []byte) error {
		e := &jiexuv1.OutboxMessage{}
		if err := proto.Unmarshal(v, e); err != nil {
			return err
		}
		if !q.WithPayload {
			e.Payload = nil
		}
		out = append(out, e)
		return nil
	}
	err := g.cfg.DB.View(func(tx *bolt.Tx) error {
		if q.Dead { // keyed by sequence alone
			c := tx.Bucket(bucketDead).Cursor()
			for k, v := c.Seek(seqKey(q.After + 1)); k != nil && len(out) <= q.Limit; k, v = c.Next() {
				if q.Peer != "" {
					var e jiexuv1.OutboxMessage
					if err := proto.Unmarshal(v, &e); err != nil {
						return err
					}
					if e.GetPeerRegion() != q.Peer {
						continue
					}
				}
				if err := keep(v); err != nil {
					return err
				}
			}
			return nil
		}
		// Keyed by peer, then sequence: take up to Limit+1 from each peer.
		c := tx.Bucket(bucketOutbox).Cursor()
		peers := []string{q.Peer}
		if q.Peer == "" {
			peers = outboxPeers(c)
		}
		for _, p := range peers {
			n := 0
			for k, v := c.Seek(outboxKey(p, q.After+1)); k != nil && bytes.HasPrefix(k, []byte(p)) && n <= q.Limit; k, v = c.Next() {
				if err := keep(v); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sortBySequence(out)
	var next uint64
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].GetSequence()
	}
	return out, next, nil
}

func sortBySequence(ms []*jiexuv1.OutboxMessage) {
	slices.SortFunc(ms, func(a, b *jiexuv1.OutboxMessage) int { return cmp.Compare(a.GetSequence(), b.GetSequence()) })
}

// Redrive moves dead letters (all when seqs is empty) back to the outbox,
// due now, with their attempts reset and their payload unchanged. A dead
// letter marked delivered (its acknowledgement could not be applied) is
// sent again too: the peer answers it as a duplicate, and the
// acknowledgement is applied then.
func (g *Gateway) Redrive(seqs []uint64) (int, error) {
	var n int
	peers := map[string]bool{}
	err := g.cfg.DB.Update(func(tx *bolt.Tx) error {
		n = 0
		dead := tx.Bucket(bucketDead)
		var keys [][]byte
		if len(seqs) == 0 {
			_ = dead.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil })
		} else {
			for _, s := range seqs {
				if dead.Get(seqKey(s)) == nil {
					return ErrNotFound
				}
				keys = append(keys, seqKey(s))
			}
		}
		for _, k := range keys {
			e := &jiexuv1.OutboxMessage{}
			if err := proto.Unmarshal(dead.Get(k), e); err != nil {
				return err
			}
			e.Dead, e.Attempts, e.Delivered = false, 0, false
			e.DeadReason, e.LastCode, e.RefusedSince = "", "", nil
			e.NextAttemptAt = timestamppb.New(g.cfg.Now())
			// The dead-letter horizon counts from creation; restart it.
			e.CreatedAt = e.NextAttemptAt
			data, err := proto.Marshal(e)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutbox).Put(outboxKey(e.GetPeerRegion(), e.GetSequence()), data); err != nil {
				return err
			}
			if err := dead.Delete(k); err != nil {
				return err
			}
			peers[e.GetPeerRegion()] = true
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for p := range peers {
		g.wake(p)
	}
	return n, nil
}

// PeerStats counts pending messages and dead letters per peer region, with
// the oldest pending message's creation time and last error. Every region in
// the snapshot other than this node's appears, even with nothing queued.
func (g *Gateway) PeerStats() []*jiexuv1.PeerStatus {
	stats := map[string]*jiexuv1.PeerStatus{}
	get := func(p string) *jiexuv1.PeerStatus {
		if stats[p] == nil {
			stats[p] = &jiexuv1.PeerStatus{Region: p}
		}
		return stats[p]
	}
	if router, err := g.dir.Router(); err == nil {
		for _, r := range router.Regions() {
			if r != g.cfg.Region {
				get(r)
			}
		}
	}
	_ = g.cfg.DB.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var e jiexuv1.OutboxMessage
			if proto.Unmarshal(v, &e) != nil {
				return nil
			}
			s := get(e.GetPeerRegion())
			s.Pending++
			if s.OldestPendingAt == nil || e.GetCreatedAt().AsTime().Before(s.OldestPendingAt.AsTime()) {
				s.OldestPendingAt = e.GetCreatedAt()
			}
			if e.GetLastError() != "" {
				s.LastError = e.GetLastError()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDead).ForEach(func(_, v []byte) error {
			var e jiexuv1.OutboxMessage
			if proto.Unmarshal(v, &e) == nil {
				get(e.GetPeerRegion()).Dead++
			}
			return nil
		})
	})
	out := make([]*jiexuv1.PeerStatus, 0, len(stats))
	for _, s := range stats {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *jiexuv1.PeerStatus) int { return cmp.Compare(a.GetRegion(), b.GetRegion()) })
	return out
}

// StoreStats is what InspectStore finds in the gateway's buckets.
type StoreStats struct {
	Pending, Dead   int
	SnapshotVersion uint64
}

// InspectStore checks that the gateway's buckets exist and every queued
// message and the stored snapshot decode, and counts them (for backup
// verification).
func InspectStore(tx *bolt.Tx) (StoreStats, error) {
	var st StoreStats
	for _, b := range requiredBuckets {
		if tx.Bucket(b) == nil {
			return st, fmt.Errorf("bucket %s missing", b)
		}
	}
	for _, q := range []struct {
		bucket []byte
		n      *int
	}{{bucketOutbox, &st.Pending}, {bucketDead, &st.Dead}} {
		err := tx.Bucket(q.bucket).ForEach(func(k, v []byte) error {
			if err := proto.Unmarshal(v, &jiexuv1.OutboxMessage{}); err != nil {
				return fmt.Errorf("%s/%x: %w", q.bucket, k, err)
			}
			*q.n++
			return nil
		})
		if err != nil {
			return st, err
		}
	}
	if v := tx.Bucket(bucketMeta).Get(keySnapshot); v != nil {
		signed := &jiexuv1.SignedSnapshot{}
		snap := &jiexuv1.Snapshot{}
		if err := proto.Unmarshal(v, signed); err != nil {
			return st, fmt.Errorf("stored snapshot: %w", err)
		}
		if err := proto.Unmarshal(signed.GetSnapshot(), snap); err != nil {
			return st, fmt.Errorf("stored snapshot: %w", err)
		}
		st.SnapshotVersion = snap.GetVersion()
	}
	return st, nil
}

// ReadQueue returns every pending message (dead=false) or dead letter in
// tx's store, with payloads, for inspecting a stopped node's store.
func ReadQueue(tx *bolt.Tx, dead bool) ([]*jiexuv1.OutboxMessage, error) {
	bucket := bucketOutbox
	if dead {
		bucket = bucketDead
	}
	b := tx.Bucket(bucket)
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing", bucket)
	}
	var out []*jiexuv1.OutboxMessage
	err := b.ForEach(func(k, v []byte) error {
		e := &jiexuv1.OutboxMessage{}
		if err := proto.Unmarshal(v, e); err != nil {
			return fmt.Errorf("%s/%x: %w", bucket, k, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// PendingFor returns the queued messages of one case (without payloads), so
// that a case can show why it is not moving.
func (g *Gateway) PendingFor(caseID string) ([]*jiexuv1.OutboxMessage, error) {
	var out []*jiexuv1.OutboxMessage
	err := g.cfg.DB.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketDead} {
			err := tx.Bucket(b).ForEach(func(_, v []byte) error {
				e := &jiexuv1.OutboxMessage{}
				if err := proto.Unmarshal(v, e); err != nil {
					return err
				}
				if e.GetCaseId() == caseID {
					e.Payload = nil
					out = append(out, e)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// QueuedByCase counts, per case id, the messages in tx's store queued for
// the peers peer accepts (pending) and the dead letters to them that were
// never acknowledged (dead): what is still on its way to a peer, or stuck.
func QueuedByCase(tx *bolt.Tx, peer func(string) bool) (pending, dead map[string]int, err error) {
	pending, dead = map[string]int{}, map[string]int{}
	for _, b := range [][]byte{bucketOutbox, bucketDead} {
		bucket := tx.Bucket(b)
		if bucket == nil {
			return nil, nil, fmt.Errorf("bucket %s missing", b)
		}
		err := bucket.ForEach(func(k, v []byte) error {
			e := &jiexuv1.OutboxMessage{}
			if err := proto.Unmarshal(v, e); err != nil {
				return fmt.Errorf("%s/%x: %w", b, k, err)
			}
			switch {
			case !peer(e.GetPeerRegion()):
			case !e.GetDead():
				pending[e.GetCaseId()]++
			case !e.GetDelivered():
				dead[e.GetCaseId()]++
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return pending, dead, nil
}

package gateway

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The gateway's buckets, declared once. They share the node's bbolt file so
// that business changes and messages commit in one transaction; the node
// declares its own buckets in its own schema file.
var (
	// bucketOutbox: peer region (6 bytes) + sequence (8, big-endian) → OutboxMessage.
	bucketOutbox = []byte("gateway.outbox")
	// bucketDead: sequence (8, big-endian) → OutboxMessage with dead=true.
	bucketDead = []byte("gateway.dead")
	// bucketInbox: sender region (6) + message id → Receipt.
	bucketInbox = []byte("gateway.inbox")
	// bucketMeta: named values: the registry snapshot, the outbox sequence,
	// the audit chain's head.
	bucketMeta = []byte("gateway.meta")
	// bucketAudit: sequence (8, big-endian) → AuditEntry as hashed (see audit.go).
	bucketAudit = []byte("gateway.audit")

	keySnapshot = []byte("registry.snapshot")
	// keyAuditHead: the audit chain's last sequence (8) and hash (32).
	keyAuditHead = []byte("audit.head")
	// keyAuditCheckpoint: the sequence (8) of the last checkpoint entry.
	keyAuditCheckpoint = []byte("audit.checkpoint")
)

var allBuckets = [][]byte{bucketOutbox, bucketDead, bucketInbox, bucketMeta, bucketAudit}

// requiredBuckets are those a store from before the audit chain has too.
var requiredBuckets = [][]byte{bucketOutbox, bucketDead, bucketInbox, bucketMeta}

// CreateBuckets creates the gateway's buckets if missing.
func CreateBuckets(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// OutboxPeers lists the peers with messages queued in tx's store, as
// Start does to wake their dispatchers.
func OutboxPeers(tx *bolt.Tx) []string { return outboxPeers(tx.Bucket(bucketOutbox).Cursor()) }

// outboxPeers lists the peers with messages in the outbox, in key order.
// It seeks from one peer's keys to the next instead of reading every key,
// so that a node restarting with a large backlog reads a few pages per
// peer, not the whole outbox.
func outboxPeers(c *bolt.Cursor) []string {
	var peers []string
	for k, _ := c.First(); k != nil; {
		peers = append(peers, string(k[:6]))
		next, ok := successor(k[:6])
		if !ok {
			break
		}
		k, _ = c.Seek(next)
	}
	return peers
}

// successor returns the least byte string of prefix's length greater than
// prefix (every key with prefix sorts before it), or false when prefix is
// all 0xff.
func successor(prefix []byte) ([]byte, bool) {
	next := bytes.Clone(prefix)
	for i := len(next) - 1; i >= 0; i-- {
		if next[i]++; next[i] != 0 {
			return next, true
		}
	}
	return nil, false
}

func outboxKey(peer string, seq uint64) []byte {
	k := make([]byte, 6+8)
	copy(k, peer)
	binary.BigEndian.PutUint64(k[6:], seq)
	return k
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func inboxKey(sender, messageID string) []byte {
	return append([]byte(sender), messageID...)
}

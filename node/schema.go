package node

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/node/render"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The node's buckets, declared once. Keys are fixed-width or natural ids,
// values are protobuf. The gateway declares its own buckets in the same file
// (gateway/schema.go) so that one transaction spans both.
var (
	// bucketRecords: ID number (18 bytes) → Record.
	bucketRecords = []byte("node.records")
	// bucketCases: case id → Case.
	bucketCases = []byte("node.cases")
	// bucketOpenCases: ID number → case id of the person's open case on this
	// node. It holds exactly the cases not yet in a terminal state.
	bucketOpenCases = []byte("node.open_cases")
	// bucketCertificates: certificate number → SealedCertificate (issued here or received).
	bucketCertificates = []byte("node.certificates")
	// bucketCertificateHistory: number + "#" + re-issue count → the SealedCertificate a re-issue replaced.
	bucketCertificateHistory = []byte("node.certificate_history")
	// bucketCaseCounts: side (1 byte) + state (1 byte) → number of cases
	// (uint64 big-endian), kept by putCase so metrics never scan all cases.
	bucketCaseCounts = []byte("node.case_counts")
	// bucketCounters: name → uint64 big-endian (case ids per day, certificate serials per year).
	bucketCounters = []byte("node.counters")
)

var nodeBuckets = [][]byte{bucketRecords, bucketCases, bucketOpenCases, bucketCertificates, bucketCertificateHistory, bucketCaseCounts, bucketCounters}

func createBuckets(tx *bolt.Tx) error {
	rebuild := tx.Bucket(bucketCaseCounts) == nil
	for _, b := range nodeBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if rebuild { // a store from before the counts were kept
		return tx.Bucket(bucketCases).ForEach(func(_, v []byte) error {
			var c jiexuv1.Case
			if err := proto.Unmarshal(v, &c); err != nil {
				return err
			}
			return addCaseCount(tx, c.GetSide(), c.GetState(), 1)
		})
	}
	return nil
}

// getProto reads key from bucket into m; it reports whether the key existed.
// Unmarshal copies, so m stays valid after the transaction.
func getProto(tx *bolt.Tx, bucket, key []byte, m proto.Message) (bool, error) {
	v := tx.Bucket(bucket).Get(key)
	if v == nil {
		return false, nil
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("%s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func putProto(tx *bolt.Tx, bucket, key []byte, m proto.Message) error {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, data)
}

func getRecord(tx *bolt.Tx, id string) (*jiexuv1.Record, error) {
	r := &jiexuv1.Record{}
	ok, err := getProto(tx, bucketRecords, []byte(id), r)
	if !ok || err != nil {
		return nil, err
	}
	return r, nil
}

func putRecord(tx *bolt.Tx, r *jiexuv1.Record) error {
	return putProto(tx, bucketRecords, []byte(r.GetPerson().GetIdNumber()), r)
}

func getCase(tx *bolt.Tx, id string) (*jiexuv1.Case, error) {
	c := &jiexuv1.Case{}
	ok, err := getProto(tx, bucketCases, []byte(id), c)
	if !ok || err != nil {
		return nil, err
	}
	return c, nil
}

// putCase stores a case and keeps the count of cases by side and state.
func putCase(tx *bolt.Tx, c *jiexuv1.Case) error {
	old, err := getCase(tx, c.GetCaseId())
	if err != nil {
		return err
	}
	if old == nil || old.GetSide() != c.GetSide() || old.GetState() != c.GetState() {
		if old != nil {
			if err := addCaseCount(tx, old.GetSide(), old.GetState(), -1); err != nil {
				return err
			}
		}
		if err := addCaseCount(tx, c.GetSide(), c.GetState(), 1); err != nil {
			return err
		}
	}
	return putProto(tx, bucketCases, []byte(c.GetCaseId()), c)
}

func addCaseCount(tx *bolt.Tx, side jiexuv1.CaseSide, state jiexuv1.CaseState, delta int64) error {
	key := []byte{byte(side), byte(state)}
	b := tx.Bucket(bucketCaseCounts)
	var n int64
	if v := b.Get(key); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("case count of %s/%s would go below zero", render.Label(side), render.Label(state))
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(n))
	return b.Put(key, buf[:])
}

func getCertificate(tx *bolt.Tx, number string) (*jiexuv1.SealedCertificate, error) {
	c := &jiexuv1.SealedCertificate{}
	ok, err := getProto(tx, bucketCertificates, []byte(number), c)
	if !ok || err != nil {
		return nil, err
	}
	return c, nil
}

// nextCounter increments and returns a named counter.
func nextCounter(tx *bolt.Tx, name string) (uint64, error) {
	b := tx.Bucket(bucketCounters)
	var n uint64
	if v := b.Get([]byte(name)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n)
	return n, b.Put([]byte(name), buf[:])
}

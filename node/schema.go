package node

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

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
	// bucketOpenCases: ID number → case id of the person's open case on this node.
	bucketOpenCases = []byte("node.open_cases")
	// bucketCertificates: certificate number → SealedCertificate (issued here or received).
	bucketCertificates = []byte("node.certificates")
	// bucketCertificateHistory: number + "#" + re-issue count → the SealedCertificate a re-issue replaced.
	bucketCertificateHistory = []byte("node.certificate_history")
	// bucketCounters: name → uint64 big-endian (case ids per day, certificate serials per year).
	bucketCounters = []byte("node.counters")
)

var nodeBuckets = [][]byte{bucketRecords, bucketCases, bucketOpenCases, bucketCertificates, bucketCertificateHistory, bucketCounters}

func createBuckets(tx *bolt.Tx) error {
	for _, b := range nodeBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
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

func putCase(tx *bolt.Tx, c *jiexuv1.Case) error {
	return putProto(tx, bucketCases, []byte(c.GetCaseId()), c)
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

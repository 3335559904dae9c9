package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/node/render"
	"jiexu/node/store"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The node's buckets, declared once. Keys are fixed-width or natural ids,
// values are protobuf. The gateway declares its own buckets in the same file
// (gateway/schema.go) so that one transaction spans both.
var (
	// bucketEnrolments: ID number (18 bytes) → Enrolment, the person's periods here.
	bucketEnrolments = []byte("node.enrolments")
	// bucketCases: case id → Case.
	bucketCases = []byte("node.cases")
	// bucketCasesByTime: opened-at (8 bytes, unix nanoseconds, big-endian) +
	// case id → nothing; ListCases pages through it newest first.
	bucketCasesByTime = []byte("node.cases_by_time")
	// bucketOpenCases: ID number → case id of the person's open case on this
	// node. It holds exactly the cases not yet in a terminal state.
	bucketOpenCases = []byte("node.open_cases")
	// bucketCertificates: certificate number → SealedCertificate (issued here or received).
	bucketCertificates = []byte("node.certificates")
	// bucketCertificateHistory: number + "#" + re-issue count → the SealedCertificate a re-issue replaced.
	bucketCertificateHistory = []byte("node.certificate_history")
	// bucketCertificateVoids: certificate number → CertificateVoid, for a
	// certificate issued here whose suspension was cancelled (恢复参保).
	bucketCertificateVoids = []byte("node.certificate_voids")
	// bucketCaseCounts: side (1 byte) + state (1 byte) → number of cases
	// (uint64 big-endian), kept by putCase so metrics never scan all cases.
	bucketCaseCounts = []byte("node.case_counts")
	// bucketCounters: name → uint64 big-endian (case ids per day, certificate serials per year).
	bucketCounters = []byte("node.counters")

	// bucketLegacyRecords is the one-record-per-person bucket of stores
	// written before enrolment periods; createBuckets migrates it.
	bucketLegacyRecords = []byte("node.records")
)

var nodeBuckets = [][]byte{bucketEnrolments, bucketCases, bucketCasesByTime, bucketOpenCases, bucketCertificates,
	bucketCertificateHistory, bucketCertificateVoids, bucketCaseCounts, bucketCounters}

func createBuckets(tx *bolt.Tx) error {
	rebuild := tx.Bucket(bucketCaseCounts) == nil || tx.Bucket(bucketCasesByTime) == nil
	for _, b := range nodeBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if err := migrateRecords(tx); err != nil {
		return fmt.Errorf("migrate records to enrolment periods: %w", err)
	}
	if rebuild { // a store from before the counts and the time index were kept
		if err := migrateCases(tx); err != nil {
			return fmt.Errorf("migrate cases: %w", err)
		}
	}
	return nil
}

// migrateRecords turns the one record a person had in a store of the
// previous version into an enrolment with one period. That version suspended
// a record when it transferred it out, so a suspended or ended record becomes
// a transferred-out period, which no import can make active again.
func migrateRecords(tx *bolt.Tx) error {
	old := tx.Bucket(bucketLegacyRecords)
	if old == nil {
		return nil
	}
	err := old.ForEach(func(_, v []byte) error {
		var r jiexuv1.Record
		if err := proto.Unmarshal(v, &r); err != nil {
			return err
		}
		p := periodOf(&r, 1)
		if r.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
			p.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT
			p.Note = "transferred out by an earlier version of jiexu"
		}
		return putEnrolment(tx, &jiexuv1.Enrolment{Person: r.GetPerson(), Periods: []*jiexuv1.Period{p}})
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketLegacyRecords)
}

// migrateCases rebuilds the case counts and the time index, and brings the
// cases of the previous version to this one's states: its origin went from
// SUSPENDED (state 8, now WAITING_SUSPENSION) straight on, having acted.
func migrateCases(tx *bolt.Tx) error {
	counts := tx.Bucket(bucketCaseCounts)
	if err := counts.ForEach(func(k, _ []byte) error { return counts.Delete(k) }); err != nil {
		return err
	}
	var all []*jiexuv1.Case
	err := tx.Bucket(bucketCases).ForEach(func(_, v []byte) error {
		c := &jiexuv1.Case{}
		if err := proto.Unmarshal(v, c); err != nil {
			return err
		}
		all = append(all, c)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_ORIGIN {
			switch c.GetState() {
			case jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION:
				c.State, c.Acted = jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, true
			case jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, jiexuv1.CaseState_CASE_STATE_REMITTED, jiexuv1.CaseState_CASE_STATE_CLOSED:
				c.Acted = true
			}
		}
		if err := putProto(tx, bucketCases, []byte(c.GetCaseId()), c); err != nil {
			return err
		}
		if err := addCaseCount(tx, c.GetSide(), c.GetState(), 1); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCasesByTime).Put(timeKey(c), nil); err != nil {
			return err
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

func getEnrolment(tx *bolt.Tx, id string) (*jiexuv1.Enrolment, error) {
	e := &jiexuv1.Enrolment{}
	ok, err := getProto(tx, bucketEnrolments, []byte(id), e)
	if !ok || err != nil {
		return nil, err
	}
	return e, nil
}

func putEnrolment(tx *bolt.Tx, e *jiexuv1.Enrolment) error {
	return putProto(tx, bucketEnrolments, []byte(e.GetPerson().GetIdNumber()), e)
}

func getCase(tx *bolt.Tx, id string) (*jiexuv1.Case, error) {
	c := &jiexuv1.Case{}
	ok, err := getProto(tx, bucketCases, []byte(id), c)
	if !ok || err != nil {
		return nil, err
	}
	return c, nil
}

// timeKey is a case's key in the time index.
func timeKey(c *jiexuv1.Case) []byte {
	k := make([]byte, 8, 8+len(c.GetCaseId()))
	binary.BigEndian.PutUint64(k, uint64(c.GetOpenedAt().AsTime().UnixNano()))
	return append(k, c.GetCaseId()...)
}

// putCase stores a case, keeps the count of cases by side and state and the
// time index, and keeps the person's open-case mark: set while the case is
// open, removed when it ends.
func putCase(tx *bolt.Tx, c *jiexuv1.Case) error {
	old, err := getCase(tx, c.GetCaseId())
	if err != nil {
		return err
	}
	if old == nil {
		if err := tx.Bucket(bucketCasesByTime).Put(timeKey(c), nil); err != nil {
			return err
		}
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
	if id := c.GetPerson().GetIdNumber(); id != "" {
		open := tx.Bucket(bucketOpenCases)
		mark := open.Get([]byte(id))
		switch {
		case !transfer.Terminal(c.GetState()) && mark == nil:
			if err := open.Put([]byte(id), []byte(c.GetCaseId())); err != nil {
				return err
			}
		case transfer.Terminal(c.GetState()) && bytes.Equal(mark, []byte(c.GetCaseId())):
			if err := open.Delete([]byte(id)); err != nil {
				return err
			}
		}
	}
	return putProto(tx, bucketCases, []byte(c.GetCaseId()), c)
}

// openCase returns the id of the person's open case here, or "".
func openCase(tx *bolt.Tx, id string) string {
	return string(tx.Bucket(bucketOpenCases).Get([]byte(id)))
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

// nextCounter increments and returns a named counter. The store keeper
// reserves the value outside the store first (node/store), so that a
// restored store never hands it out again.
func nextCounter(tx *bolt.Tx, name string) (uint64, error) {
	b := tx.Bucket(bucketCounters)
	var n uint64
	if v := b.Get([]byte(name)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	if n == math.MaxUint64 {
		return 0, fmt.Errorf("counter %s is exhausted", name)
	}
	n++
	if err := store.Reserve(tx, name, n); err != nil {
		return 0, err
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n)
	return n, b.Put([]byte(name), buf[:])
}

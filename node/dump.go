package node

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/gateway"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// StoreDump is what a node's store holds, read in one transaction: what a
// checker of the network's invariants compares across nodes (the chaos
// harness, and the reconciliation a later version does).
type StoreDump struct {
	Identity   *jiexuv1.StoreIdentity
	Enrolments []*jiexuv1.Enrolment
	Cases      []*jiexuv1.Case
	// Certificates are the certificates held here, issued here or received,
	// decoded from their sealed bytes.
	Certificates []*jiexuv1.Certificate
	// Counters are the named counters and the outbox sequence.
	Counters map[string]uint64
	// Pending and Dead are the outbox and the dead letters, with payloads.
	Pending, Dead []*jiexuv1.OutboxMessage
}

// DumpStore reads a stopped node's store (or a backup) read-only, after
// checking the file (store.CheckFile).
func DumpStore(path string) (*StoreDump, error) {
	db, _, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	d := &StoreDump{}
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		if d.Identity, err = store.ReadIdentity(tx); err != nil {
			return err
		}
		if d.Counters, err = (counters{}).Read(tx); err != nil {
			return err
		}
		each := func(bucket []byte, fn func(k, v []byte) error) error {
			b := tx.Bucket(bucket)
			if b == nil {
				return fmt.Errorf("bucket %s missing: not a jiexu node store", bucket)
			}
			return b.ForEach(fn)
		}
		if err := each(bucketEnrolments, func(k, v []byte) error {
			e := &jiexuv1.Enrolment{}
			d.Enrolments = append(d.Enrolments, e)
			return unmarshal(bucketEnrolments, k, v, e)
		}); err != nil {
			return err
		}
		if err := each(bucketCases, func(k, v []byte) error {
			c := &jiexuv1.Case{}
			d.Cases = append(d.Cases, c)
			return unmarshal(bucketCases, k, v, c)
		}); err != nil {
			return err
		}
		if err := each(bucketCertificates, func(k, v []byte) error {
			sc := &jiexuv1.SealedCertificate{}
			if err := unmarshal(bucketCertificates, k, v, sc); err != nil {
				return err
			}
			c := &jiexuv1.Certificate{}
			d.Certificates = append(d.Certificates, c)
			return unmarshal(bucketCertificates, k, sc.GetCertificate(), c)
		}); err != nil {
			return err
		}
		if d.Pending, err = gateway.ReadQueue(tx, false); err != nil {
			return err
		}
		d.Dead, err = gateway.ReadQueue(tx, true)
		return err
	})
	return d, err
}

func unmarshal(bucket, key, value []byte, m proto.Message) error {
	if err := proto.Unmarshal(value, m); err != nil {
		return fmt.Errorf("%s/%s: %w", bucket, key, err)
	}
	return nil
}

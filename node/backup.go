package node

import (
	"crypto/x509"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/gateway"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// chunkWriter sends what is written to it as backup chunks.
type chunkWriter struct {
	stream jiexuv1.AgencyService_BackupServer
}

func (w chunkWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += 64 << 10 {
		end := min(off+64<<10, len(p))
		if err := w.stream.Send(&jiexuv1.BackupResponse{Chunk: p[off:end]}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// Backup streams a consistent copy of the store from one read transaction,
// while the node keeps working.
func (s *agencyServer) Backup(_ *jiexuv1.BackupRequest, stream jiexuv1.AgencyService_BackupServer) error {
	err := s.n.db.View(func(tx *bolt.Tx) error {
		if err := stream.Send(&jiexuv1.BackupResponse{TotalBytes: tx.Size()}); err != nil {
			return err
		}
		_, err := tx.WriteTo(chunkWriter{stream: stream})
		return err
	})
	if err != nil {
		return toStatus(err)
	}
	s.n.log.Info("backup streamed")
	return nil
}

// BackupSummary is what VerifyBackup found in a backup file.
type BackupSummary struct {
	// Enrolments counts the people, Periods their enrolment periods.
	Enrolments, Periods, Cases, Certificates int
	Pending, Dead                            int
	RegistryVersion                          uint64
	// Identity is the store's identity (nil for a store from before
	// identities); a backup written by 'jiexu node backup' carries its mark.
	Identity *jiexuv1.StoreIdentity
}

// VerifyBackup checks a backup file: its pages before anything maps it
// (store.CheckFile: a truncated or damaged file is reported, never a crash),
// bbolt's own consistency check, every bucket present, every record, case
// and queued message decoding, and, when ca is given, every certificate's
// seal.
func VerifyBackup(path string, ca *x509.Certificate) (sum BackupSummary, err error) {
	defer func() { // a last line of defence: CheckFile has passed every page
		if p := recover(); p != nil {
			err = fmt.Errorf("store structure damaged: %v", p)
		}
	}()
	// A last defence besides CheckFile: a bad page pointer that faults on
	// the mmap becomes a panic here.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, _, err := store.OpenReadOnly(path)
	if err != nil {
		return sum, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		for err := range tx.Check() {
			return fmt.Errorf("bbolt consistency: %w", err)
		}
		var err error
		sum, err = inspectStore(tx, ca)
		return err
	})
	return sum, err
}

// inspectStore checks that every bucket is present and every record, case,
// certificate and queued message decodes (and, with ca, that every
// certificate's seal verifies), and counts them. A node runs it on its store
// when it starts, so a damaged record is found then, not by the peer whose
// message needs it.
func inspectStore(tx *bolt.Tx, ca *x509.Certificate) (BackupSummary, error) {
	var sum BackupSummary
	for _, b := range nodeBuckets {
		if tx.Bucket(b) == nil {
			return sum, fmt.Errorf("bucket %s missing: not a jiexu node store", b)
		}
	}
	var err error
	if sum.Identity, err = store.ReadIdentity(tx); err != nil {
		return sum, err
	}
	count := func(bucket []byte, m func() proto.Message, n *int) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if err := proto.Unmarshal(v, m()); err != nil {
				return fmt.Errorf("%s/%s: %w", bucket, k, err)
			}
			*n++
			return nil
		})
	}
	err = tx.Bucket(bucketEnrolments).ForEach(func(k, v []byte) error {
		var e jiexuv1.Enrolment
		if err := proto.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("%s/%s: %w", bucketEnrolments, k, err)
		}
		sum.Enrolments++
		sum.Periods += len(e.GetPeriods())
		return nil
	})
	if err != nil {
		return sum, err
	}
	if err := count(bucketCases, func() proto.Message { return &jiexuv1.Case{} }, &sum.Cases); err != nil {
		return sum, err
	}
	err = tx.Bucket(bucketCertificates).ForEach(func(k, v []byte) error {
		sc := &jiexuv1.SealedCertificate{}
		if err := proto.Unmarshal(v, sc); err != nil {
			return fmt.Errorf("certificate %s: %w", k, err)
		}
		if err := proto.Unmarshal(sc.GetCertificate(), &jiexuv1.Certificate{}); err != nil {
			return fmt.Errorf("certificate %s: %w", k, err)
		}
		if ca != nil {
			if _, err := VerifyCertificate(sc, ca, nil); err != nil {
				return fmt.Errorf("certificate %s: %w", k, err)
			}
		}
		sum.Certificates++
		return nil
	})
	if err != nil {
		return sum, err
	}
	st, err := gateway.InspectStore(tx)
	if err != nil {
		return sum, err
	}
	sum.Pending, sum.Dead, sum.RegistryVersion = st.Pending, st.Dead, st.SnapshotVersion
	return sum, nil
}

// walk reads every key and value of a bucket and its sub-buckets.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				return walk(sub)
			}
		}
		return nil
	})
}

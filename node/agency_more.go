package node

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/gateway"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func (s *agencyServer) ApplyTransferOut(_ context.Context, req *jiexuv1.ApplyTransferOutRequest) (*jiexuv1.ApplyTransferOutResponse, error) {
	c, err := s.n.applyTransferOut(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ApplyTransferOutResponse{Case: c}, nil
}

// reissue re-issues a lost certificate (补办): the same content and number,
// marked as a re-issue with its date, sealed anew. The replaced version is
// kept in the certificate history.
func (n *Node) reissue(number, id string) (*jiexuv1.SealedCertificate, error) {
	now := n.now()
	var out *jiexuv1.SealedCertificate
	err := n.db.Update(func(tx *bolt.Tx) error {
		sc, err := getCertificate(tx, number)
		if err != nil {
			return err
		}
		if sc == nil {
			return fmt.Errorf("%w: certificate %s", ErrNotFound, number)
		}
		cert, err := VerifyCertificate(sc, n.ca, nil)
		if err != nil {
			return err
		}
		if cert.GetOriginRegion() != n.cfg.Region {
			return fmt.Errorf("%w: %s was issued by %s; only the issuing agency re-issues it", ErrMismatch, number, cert.GetOriginRegion())
		}
		if cert.GetPerson().GetIdNumber() != id {
			return fmt.Errorf("%w: certificate %s", ErrNotFound, number) // no hint that the number exists
		}
		histKey := fmt.Sprintf("%s#%d", number, cert.GetReissueCount())
		if err := putProto(tx, bucketCertificateHistory, []byte(histKey), sc); err != nil {
			return err
		}
		cert.Reissue = true
		cert.ReissuedOn = rules.DateOf(now)
		cert.ReissueCount++
		cert.IssuedAt = timestamppb.New(now)
		if out, err = SealCertificate(n.gw.Signer(), cert); err != nil {
			return err
		}
		return putProto(tx, bucketCertificates, []byte(number), out)
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("certificate re-issued", "number", number, "id", rules.MaskID(id))
	return out, nil
}

func (s *agencyServer) ReissueCertificate(_ context.Context, req *jiexuv1.ReissueCertificateRequest) (*jiexuv1.ReissueCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	sc, err := s.n.reissue(req.GetNumber(), id)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ReissueCertificateResponse{Certificate: sc}, nil
}

// issuerOf finds the region that issued a certificate number from its
// province abbreviation and region name.
func (n *Node) issuerOf(num rules.CertNumber) (string, error) {
	router, err := n.gw.Directory().Router()
	if err != nil {
		return "", err
	}
	for _, r := range router.Regions() {
		a, _ := n.table.Abbrev(r)
		short, _ := n.table.ShortName(r)
		if a == num.Abbrev && short == num.Region {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w: no registered node is %s%s; give issuer_division", registry.ErrUnserved, num.Abbrev, num.Region)
}

func (s *agencyServer) CheckCertificate(ctx context.Context, req *jiexuv1.CheckCertificateRequest) (*jiexuv1.CheckCertificateResponse, error) {
	var vs violations
	id := s.n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	if d := req.GetIssuerDivision(); d != "" {
		s.n.v.checkDivision(&vs, "issuer_division", d)
	}
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	var issuer string
	var err error
	if d := req.GetIssuerDivision(); d != "" {
		router, err := s.n.gw.Directory().Router()
		if err != nil {
			return nil, toStatus(err)
		}
		node, err := router.Resolve(d)
		if err != nil {
			return nil, toStatus(err)
		}
		issuer = node.GetRegion()
	} else {
		num, _ := rules.ParseCertNumber(req.GetNumber()) // checked above
		if issuer, err = s.n.issuerOf(num); err != nil {
			return nil, toStatus(err)
		}
	}
	var sc *jiexuv1.SealedCertificate
	if issuer == s.n.cfg.Region {
		sc, _, err = s.n.certificate(req.GetNumber())
	} else {
		resp := &jiexuv1.LookupCertificateResponse{}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = s.n.gw.Invoke(cctx, issuer, jiexuv1.CertificateService_LookupCertificate_FullMethodName,
			&jiexuv1.LookupCertificateRequest{Number: req.GetNumber(), IdNumber: id}, resp)
		cancel()
		sc = resp.GetCertificate()
	}
	if err != nil {
		return nil, toStatus(err)
	}
	cert, err := VerifyCertificate(sc, s.n.ca, s.n.gw.Directory().Revoked())
	if err != nil {
		return nil, toStatus(fmt.Errorf("%w: the issuer's answer does not verify: %v", ErrMismatch, err))
	}
	if cert.GetNumber() != req.GetNumber() || cert.GetPerson().GetIdNumber() != id || cert.GetOriginRegion() != issuer {
		return nil, toStatus(fmt.Errorf("%w: the issuer answered with another certificate", ErrMismatch))
	}
	return &jiexuv1.CheckCertificateResponse{Certificate: sc, IssuerRegion: issuer}, nil
}

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
	Records, Cases, Certificates int
	Pending, Dead                int
	RegistryVersion              uint64
}

// VerifyBackup opens a backup read-only and checks it: bbolt's own
// consistency check, every bucket present, every record, case and queued
// message decoding, and, when ca is given, every certificate's seal.
//
// A damaged file can make bbolt panic while following a bad page pointer;
// the walk runs in this goroutine, so that is recovered and reported, and
// bbolt's own check (which runs in a goroutine of its own) runs only after
// every page the walk reaches has proved readable.
func VerifyBackup(path string, ca *x509.Certificate) (sum BackupSummary, err error) {
	if _, err := os.Stat(path); err != nil {
		return sum, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store structure damaged: %v", p)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return sum, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		for err := range tx.Check() {
			return fmt.Errorf("bbolt consistency: %w", err)
		}
		for _, b := range nodeBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s missing: not a jiexu node store", b)
			}
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
		if err := count(bucketRecords, func() proto.Message { return &jiexuv1.Record{} }, &sum.Records); err != nil {
			return err
		}
		if err := count(bucketCases, func() proto.Message { return &jiexuv1.Case{} }, &sum.Cases); err != nil {
			return err
		}
		err := tx.Bucket(bucketCertificates).ForEach(func(k, v []byte) error {
			sc := &jiexuv1.SealedCertificate{}
			if err := proto.Unmarshal(v, sc); err != nil {
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
			return err
		}
		st, err := gateway.InspectStore(tx)
		if err != nil {
			return err
		}
		sum.Pending, sum.Dead, sum.RegistryVersion = st.Pending, st.Dead, st.SnapshotVersion
		return nil
	})
	return sum, err
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

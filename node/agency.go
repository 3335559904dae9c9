package node

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// maxList bounds every listing.
const maxList = 10000

// agencyServer implements the local agency API.
type agencyServer struct {
	jiexuv1.UnimplementedAgencyServiceServer
	n *Node
}

func (s *agencyServer) ApplyTransfer(_ context.Context, req *jiexuv1.ApplyTransferRequest) (*jiexuv1.ApplyTransferResponse, error) {
	c, err := s.n.applyTransfer(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ApplyTransferResponse{Case: c}, nil
}

func (s *agencyServer) GetCase(_ context.Context, req *jiexuv1.GetCaseRequest) (*jiexuv1.GetCaseResponse, error) {
	if req.GetCaseId() == "" {
		var vs violations
		vs.add("case_id", "required")
		return nil, toStatus(vs.err())
	}
	var c *jiexuv1.Case
	err := s.n.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getCase(tx, req.GetCaseId())
		if err == nil && c == nil {
			err = fmt.Errorf("%w: case %s", ErrNotFound, req.GetCaseId())
		}
		return err
	})
	if err != nil {
		return nil, toStatus(err)
	}
	c.Overdue = Overdue(c, s.n.now())
	if c.GetLastError() == "" {
		c.LastError = s.n.deliveryError(c.GetCaseId())
	}
	return &jiexuv1.GetCaseResponse{Case: c}, nil
}

func limitOf(l int32) int {
	if l <= 0 || l > maxList {
		return maxList
	}
	return int(l)
}

func (s *agencyServer) ListCases(_ context.Context, req *jiexuv1.ListCasesRequest) (*jiexuv1.ListCasesResponse, error) {
	var out []*jiexuv1.Case
	now := s.n.now()
	err := s.n.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(_, v []byte) error {
			c := &jiexuv1.Case{}
			if err := proto.Unmarshal(v, c); err != nil {
				return err
			}
			c.Overdue = Overdue(c, now)
			if (req.GetSide() == 0 || c.GetSide() == req.GetSide()) && (req.GetState() == 0 || c.GetState() == req.GetState()) {
				out = append(out, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, toStatus(err)
	}
	slices.SortFunc(out, func(a, b *jiexuv1.Case) int { return b.GetOpenedAt().AsTime().Compare(a.GetOpenedAt().AsTime()) })
	if l := limitOf(req.GetLimit()); len(out) > l {
		out = out[:l]
	}
	return &jiexuv1.ListCasesResponse{Cases: out}, nil
}

// normalizeRecord fills defaults before validation.
func normalizeRecord(r *jiexuv1.Record) {
	if r == nil || r.Person == nil {
		return
	}
	r.Person.IdNumber = rules.NormalizeID(r.Person.IdNumber)
	r.Person.HouseholdHeadIdNumber = rules.NormalizeID(r.Person.HouseholdHeadIdNumber)
	if r.Status == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_UNSPECIFIED {
		r.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE
	}
}

func (s *agencyServer) PutRecord(_ context.Context, req *jiexuv1.PutRecordRequest) (*jiexuv1.PutRecordResponse, error) {
	r := req.GetRecord()
	normalizeRecord(r)
	var vs violations
	s.n.v.checkRecord(&vs, "record", r)
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	if err := s.n.putRecords([]*jiexuv1.Record{r}); err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.PutRecordResponse{Record: r}, nil
}

// putRecords stores records in one transaction. A person with an open case
// here cannot be overwritten, and NCMS participation ends when the same
// person is enrolled here in an urban scheme (one scheme at a time).
func (n *Node) putRecords(rs []*jiexuv1.Record) error {
	now := timestamppb.New(n.now())
	return n.db.Update(func(tx *bolt.Tx) error {
		var vs violations
		for i, r := range rs {
			id := r.GetPerson().GetIdNumber()
			if open := tx.Bucket(bucketOpenCases).Get([]byte(id)); open != nil {
				vs.add(fmt.Sprintf("records[%d].person.id_number", i), "has open transfer case %s; wait for it to end", open)
				continue
			}
			old, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if old != nil && old.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS && r.GetScheme() != jiexuv1.Scheme_SCHEME_NCMS &&
				old.GetStatus() == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
				n.log.Info("NCMS participation ends on joining an urban scheme", "id", rules.MaskID(id))
			}
			r.UpdatedAt = now
			if err := putRecord(tx, r); err != nil {
				return err
			}
		}
		return vs.err()
	})
}

func (s *agencyServer) GetRecord(_ context.Context, req *jiexuv1.GetRecordRequest) (*jiexuv1.GetRecordResponse, error) {
	id := rules.NormalizeID(req.GetIdNumber())
	var vs violations
	s.n.v.checkID(&vs, "id_number", id)
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	var r *jiexuv1.Record
	err := s.n.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, id)
		if err == nil && r == nil {
			err = fmt.Errorf("%w: no record for %s", ErrNotFound, rules.MaskID(id))
		}
		return err
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.GetRecordResponse{Record: r}, nil
}

func (s *agencyServer) ListRecords(_ context.Context, req *jiexuv1.ListRecordsRequest) (*jiexuv1.ListRecordsResponse, error) {
	var out []*jiexuv1.Record
	limit := limitOf(req.GetLimit())
	err := s.n.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			r := &jiexuv1.Record{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ListRecordsResponse{Records: out}, nil
}

func (s *agencyServer) ImportRecords(_ context.Context, req *jiexuv1.ImportRecordsRequest) (*jiexuv1.ImportRecordsResponse, error) {
	var vs violations
	seen := map[string]int{}
	for i, r := range req.GetRecords() {
		normalizeRecord(r)
		prefix := fmt.Sprintf("records[%d]", i)
		s.n.v.checkRecord(&vs, prefix, r)
		id := r.GetPerson().GetIdNumber()
		if j, dup := seen[id]; dup && id != "" {
			vs.add(prefix+".person.id_number", "same ID number as records[%d]", j)
		}
		seen[id] = i
	}
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	if err := s.n.putRecords(req.GetRecords()); err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ImportRecordsResponse{Imported: int32(len(req.GetRecords()))}, nil
}

// certificate returns a stored certificate, verified.
func (n *Node) certificate(number string) (*jiexuv1.SealedCertificate, *jiexuv1.Certificate, error) {
	var sc *jiexuv1.SealedCertificate
	err := n.db.View(func(tx *bolt.Tx) error {
		var err error
		sc, err = getCertificate(tx, number)
		if err == nil && sc == nil {
			err = fmt.Errorf("%w: certificate %s", ErrNotFound, number)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := VerifyCertificate(sc, n.ca, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("stored certificate %s fails verification: %w", number, err)
	}
	return sc, c, nil
}

func (s *agencyServer) GetCertificate(_ context.Context, req *jiexuv1.GetCertificateRequest) (*jiexuv1.GetCertificateResponse, error) {
	if _, err := rules.ParseCertNumber(req.GetNumber()); err != nil {
		var vs violations
		vs.add("number", "%v", err)
		return nil, toStatus(vs.err())
	}
	sc, _, err := s.n.certificate(req.GetNumber())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.GetCertificateResponse{Certificate: sc}, nil
}

func (s *agencyServer) ListOutbox(_ context.Context, req *jiexuv1.ListOutboxRequest) (*jiexuv1.ListOutboxResponse, error) {
	if p := req.GetPeerRegion(); p != "" {
		var vs violations
		s.n.v.checkDivision(&vs, "peer_region", p)
		if err := vs.err(); err != nil {
			return nil, toStatus(err)
		}
	}
	ms, err := s.n.gw.List(req.GetDead(), req.GetPeerRegion(), limitOf(req.GetLimit()), false)
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.ListOutboxResponse{Messages: ms}, nil
}

func (s *agencyServer) RedriveOutbox(_ context.Context, req *jiexuv1.RedriveOutboxRequest) (*jiexuv1.RedriveOutboxResponse, error) {
	n, err := s.n.gw.Redrive(req.GetSequences())
	if err != nil {
		return nil, toStatus(err)
	}
	return &jiexuv1.RedriveOutboxResponse{Redriven: int32(n)}, nil
}

func (s *agencyServer) GetStatus(context.Context, *jiexuv1.GetStatusRequest) (*jiexuv1.GetStatusResponse, error) {
	n := s.n
	resp := &jiexuv1.GetStatusResponse{
		Version:              Version,
		Region:               n.cfg.Region,
		AgencyName:           n.cfg.AgencyName,
		RegistryVersion:      n.gw.Directory().Version(),
		CertificateExpiresAt: timestamppb.New(n.kp.Leaf().NotAfter),
		Peers:                n.gw.PeerStats(),
	}
	if snap := n.gw.Directory().Snapshot(); snap != nil {
		resp.RegistryExpiresAt = snap.GetExpiresAt()
	}
	if at := n.gw.Directory().LastFetched(); !at.IsZero() {
		resp.RegistryFetchedAt = timestamppb.New(at)
	}
	st := n.caseCounts()
	resp.OverdueDestination = int32(st.overdue[jiexuv1.CaseSide_CASE_SIDE_DESTINATION])
	resp.OverdueOrigin = int32(st.overdue[jiexuv1.CaseSide_CASE_SIDE_ORIGIN])
	resp.CertificateSerial = n.kp.Leaf().SerialNumber.String()
	for k, v := range st.byState {
		if v == 0 {
			continue
		}
		resp.Cases = append(resp.Cases, &jiexuv1.CaseCount{Side: k.side, State: k.state, Count: int32(v)})
	}
	slices.SortFunc(resp.Cases, func(a, b *jiexuv1.CaseCount) int {
		if a.GetSide() != b.GetSide() {
			return int(a.GetSide() - b.GetSide())
		}
		return int(a.GetState() - b.GetState())
	})
	_ = n.db.View(func(tx *bolt.Tx) error {
		resp.Records = int32(tx.Bucket(bucketRecords).Stats().KeyN)
		return nil
	})
	return resp, nil
}

// deliveryError describes why a case's messages have not been delivered,
// or "" when none is failing.
func (n *Node) deliveryError(caseID string) string {
	ms, err := n.gw.PendingFor(caseID)
	if err != nil {
		return ""
	}
	for _, m := range ms {
		if m.GetLastError() == "" {
			continue
		}
		what := "retrying"
		if m.GetDead() {
			what = "dead letter, see 'jiexu deadletters'"
		}
		method := m.GetMethod()[strings.LastIndex(m.GetMethod(), "/")+1:]
		return fmt.Sprintf("%s to %s: %d attempts (%s): %s", method, m.GetPeerRegion(), m.GetAttempts(), what, m.GetLastError())
	}
	return ""
}

package node

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Bounds of a ListSharedCases call.
const (
	defaultSharedPage = 200
	maxSharedPage     = 500
	maxSharedIDs      = 100
	maxSharedDays     = 366
	// sharedScanFactor bounds the index entries one page reads, as a
	// multiple of its size: a caller that shares few cases cannot make a
	// page read the whole index.
	sharedScanFactor = 20
	minIDKey         = 16
	maxIDKey         = 64
	// maxCaseIDLen bounds the case id in a page token.
	maxCaseIDLen = 64
	// maxSharedPageBytes bounds the cases of one page in bytes, below the
	// MaxPeerMessage a peer's client accepts as an answer (the gateway's
	// bound) with room for one more case: with certificates a case is a
	// few KB.
	maxSharedPageBytes = MaxPeerMessage * 3 / 4
)

// reconcileServer answers peers' reconciliation (ReconcileService).
type reconcileServer struct {
	jiexuv1.UnimplementedReconcileServiceServer
	n *Node
}

// sharedQuery is a validated ListSharedCasesRequest.
type sharedQuery struct {
	from, to time.Time // [from, to) in China Standard Time
	ids      []string
	size     int
	after    []byte // the time-index key to continue after
	idKey    []byte
	certs    bool // with_certificates
}

// ListSharedCases pages through the cases this node shares with the
// caller. The caller is the region its certificate names (the interceptor
// has checked it against the registry); a case whose other side is any
// other region is never answered, not even as absent.
func (s *reconcileServer) ListSharedCases(ctx context.Context, req *jiexuv1.ListSharedCasesRequest) (*jiexuv1.ListSharedCasesResponse, error) {
	q, err := s.n.checkSharedQuery(req)
	if err != nil {
		return nil, toStatus(err)
	}
	caller, _, err := certs.PeerRegion(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp, err := s.n.sharedCases(caller, q)
	if err != nil {
		s.n.log.Error("reconciliation answer failed", "peer", caller, "err", err)
		return nil, toStatus(err)
	}
	return resp, nil
}

// checkSharedQuery validates a request, naming each bad field.
func (n *Node) checkSharedQuery(req *jiexuv1.ListSharedCasesRequest) (sharedQuery, error) {
	var vs violations
	q := sharedQuery{ids: req.GetCaseIds(), size: int(req.GetPageSize()), idKey: req.GetIdKey(), certs: req.GetWithCertificates()}
	switch {
	case q.size < 0 || q.size > maxSharedPage:
		vs.add("page_size", "%d must be between 0 and %d", q.size, maxSharedPage)
	case q.size == 0:
		q.size = defaultSharedPage
	}
	if k := len(q.idKey); k != 0 && (k < minIDKey || k > maxIDKey) {
		vs.add("id_key", "%d bytes; must be empty or %d to %d bytes", k, minIDKey, maxIDKey)
	}
	if len(q.ids) > 0 {
		n.checkSharedIDs(&vs, req)
		return q, vs.err()
	}
	q.from, q.to = n.checkDayRange(&vs, "opened_from", "opened_to", req.GetOpenedFrom(), req.GetOpenedTo())
	if t := req.GetPageToken(); len(t) > 0 {
		if len(t) < 8 || len(t) > 8+maxCaseIDLen {
			vs.add("page_token", "not a token this node gave: pass next_page_token unchanged")
		}
		q.after = t
	}
	return q, vs.err()
}

// checkSharedIDs validates a request that names cases.
func (n *Node) checkSharedIDs(vs *violations, req *jiexuv1.ListSharedCasesRequest) {
	if req.GetOpenedFrom() != nil || req.GetOpenedTo() != nil || len(req.GetPageToken()) > 0 {
		vs.add("case_ids", "names cases: leave opened_from, opened_to and page_token unset")
	}
	if len(req.GetCaseIds()) > maxSharedIDs {
		vs.add("case_ids", "at most %d ids, got %d", maxSharedIDs, len(req.GetCaseIds()))
	}
	for i, id := range req.GetCaseIds() {
		if !caseIDPattern.MatchString(id) {
			vs.add("case_ids", "[%d] %q is not a case id (REGION-YYYYMMDD-NNNNNN)", i, truncate(id))
			return
		}
	}
}

// checkDayRange validates a range of days: from required, to (today when
// unset) not before it, at most maxSharedDays long. It returns [from, to+1
// day) in China Standard Time.
func (n *Node) checkDayRange(vs *violations, fromField, toField string, from, to *jiexuv1.Date) (time.Time, time.Time) {
	if !n.v.checkDate(vs, fromField, from) {
		return time.Time{}, time.Time{}
	}
	start := rules.DateTime(from)
	end := rules.DateTime(rules.DateOf(n.now()))
	if to != nil {
		if !n.v.checkDate(vs, toField, to) {
			return time.Time{}, time.Time{}
		}
		end = rules.DateTime(to)
	}
	switch days := int(end.Sub(start).Hours() / 24); {
	case days < 0:
		vs.add(toField, "is before %s", fromField)
	case days >= maxSharedDays:
		vs.add(toField, "the range is %d days; at most %d", days+1, maxSharedDays)
	}
	return start, end.AddDate(0, 0, 1)
}

// sharedCases reads the answer in one read transaction.
func (n *Node) sharedCases(caller string, q sharedQuery) (*jiexuv1.ListSharedCasesResponse, error) {
	resp := &jiexuv1.ListSharedCasesResponse{AsOf: timestamppb.New(n.now())}
	err := n.db.View(func(tx *bolt.Tx) error {
		pending, dead, err := gateway.QueuedByCase(tx, func(peer string) bool { return n.same(peer, caller) })
		if err != nil {
			return err
		}
		for _, k := range pending {
			resp.PendingToYou += uint32(k)
		}
		for _, k := range dead {
			resp.DeadToYou += uint32(k)
		}
		size := 0
		add := func(c *jiexuv1.Case) (bool, error) {
			if !n.same(counterparty(c), caller) {
				return false, nil
			}
			sc := sharedCase(c, pending[c.GetCaseId()], dead[c.GetCaseId()], q.idKey)
			if q.certs && size < maxSharedPageBytes { // by id, no page to end: the rest go without
				cert, err := caseCertificate(tx, c)
				if err != nil {
					return false, err
				}
				sc.Certificate = cert
			}
			size += proto.Size(sc)
			resp.Cases = append(resp.Cases, sc)
			return true, nil
		}
		if len(q.ids) > 0 {
			return eachNamedCase(tx, q.ids, add)
		}
		resp.NextPageToken, err = eachCaseOpened(tx, q, add, func() bool { return size >= maxSharedPageBytes })
		return err
	})
	return resp, err
}

// caseCertificate is the sealed certificate of a case, when this node
// holds it: at the origin once it acted (the certificate it sent), at the
// destination once it took it. The caller has checked that the case is
// shared with the one who asks, the case's other side, which was sent the
// certificate (the destination) or sealed it (the origin): it crosses no
// boundary it has not crossed.
func caseCertificate(tx *bolt.Tx, c *jiexuv1.Case) (*jiexuv1.SealedCertificate, error) {
	if c.GetCertificateNumber() == "" || c.GetSide() == sideOrigin && !c.GetActed() ||
		c.GetSide() == sideDestination && !c.GetCertified() && !transfer.Terminal(c.GetState()) {
		return nil, nil
	}
	return getCertificate(tx, c.GetCertificateNumber())
}

// eachNamedCase calls fn for each named case held here. At most
// maxSharedIDs cases of a few KB each stay below maxSharedPageBytes.
func eachNamedCase(tx *bolt.Tx, ids []string, fn func(*jiexuv1.Case) (bool, error)) error {
	for _, id := range ids {
		c, err := getCase(tx, id)
		if err != nil {
			return err
		}
		if c != nil {
			if _, err := fn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachCaseOpened calls fn for the cases opened in [q.from, q.to) after
// q.after, oldest first, until fn has taken q.size of them (fn reports
// whether it took one), q.size*sharedScanFactor index entries were read or
// full reports the page full (in bytes); it returns the token to continue
// from (the last key read), nil after the last page.
func eachCaseOpened(tx *bolt.Tx, q sharedQuery, fn func(*jiexuv1.Case) (bool, error), full func() bool) ([]byte, error) {
	end := timePrefix(q.to)
	cur := tx.Bucket(bucketCasesByTime).Cursor()
	start := timePrefix(q.from)
	k, _ := cur.Seek(start)
	if q.after != nil && bytes.Compare(q.after, start) >= 0 {
		if k, _ = cur.Seek(q.after); bytes.Equal(k, q.after) {
			k, _ = cur.Next()
		}
	}
	var last []byte
	given, read := 0, 0
	for ; k != nil && bytes.Compare(k, end) < 0; k, _ = cur.Next() {
		if given == q.size || read == q.size*sharedScanFactor || full() {
			return last, nil
		}
		read++
		last = bytes.Clone(k)
		c, err := getCase(tx, string(k[8:]))
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		took, err := fn(c)
		if err != nil {
			return nil, err
		}
		if took {
			given++
		}
	}
	return nil, nil
}

// timePrefix is the time index's key prefix for t.
func timePrefix(t time.Time) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	return k
}

// sharedCase is what a peer is told of a case: its state and money, the
// certificate, and the person only masked (or keyed with the caller's key).
func sharedCase(c *jiexuv1.Case, pending, dead int, idKey []byte) *jiexuv1.SharedCase {
	sc := &jiexuv1.SharedCase{
		CaseId: c.GetCaseId(), Side: c.GetSide(), State: c.GetState(), Ended: transfer.Terminal(c.GetState()),
		AmountFen: c.GetAmountFen(), ReturnedFen: c.GetReturnedFen(), Confirmed: c.GetConfirmed(),
		Acted: c.GetActed(), Certified: c.GetCertified(), Funded: c.GetFunded(), RejectReason: c.GetRejectReason(),
		CertificateNumber: c.GetCertificateNumber(), UpdatedAt: c.GetUpdatedAt(),
		PendingMessages: uint32(pending), DeadLetters: uint32(dead),
	}
	if id := c.GetPerson().GetIdNumber(); id != "" {
		sc.MaskedIdNumber = rules.MaskID(id)
		if len(idKey) > 0 {
			sc.IdHash = idHash(idKey, id)
		}
	}
	return sc
}

// idHash keys an ID number with a caller's key.
func idHash(key []byte, id string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return m.Sum(nil)
}

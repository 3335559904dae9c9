package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The audit chain: every message in and out, every peer's receipt and every
// case transition, appended in the transaction of the effect. Entry n is
// stored as its exact bytes under n, and the chain hash after it is
//
//	hash(n) = SHA-256("jiexu/v1 audit chain" 0x00 || hash(n-1) || SHA-256(bytes(n)))
//
// from 32 zero bytes. A checkpoint entry carries the node's seal over
// (region, n-1, hash(n-1)). Editing, removing or reordering an entry
// changes every hash after it, which no later checkpoint then matches; an
// export of one case carries the other entries as digests only, so it
// proves the case's entries without showing anyone else's.

var auditChainDomain = []byte("jiexu/v1 audit chain\x00")

// chainNext is the chain hash after an entry with the given stored bytes.
func chainNext(prev []byte, entry []byte) []byte {
	d := sha256.Sum256(entry)
	return chainNextDigest(prev, d[:])
}

func chainNextDigest(prev, digest []byte) []byte {
	h := sha256.New()
	h.Write(auditChainDomain)
	h.Write(prev)
	h.Write(digest)
	return h.Sum(nil)
}

var zeroHash = make([]byte, sha256.Size)

// Audit appends to the node's audit chain and reads it.
type Audit struct{ g *Gateway }

// Audit returns the node's audit chain.
func (g *Gateway) Audit() *Audit { return &Audit{g: g} }

// CaseTransition is the entry for a case entering a state; a case with no
// state before ("" or the enums' "unspecified") is opened.
func CaseTransition(caseID, from, to string) *jiexuv1.AuditEntry {
	detail := from + " → " + to
	if from == "" || from == "unspecified" {
		detail = "opened, " + to
	}
	return &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_CASE_TRANSITION, CaseId: caseID, Detail: detail}
}

// auditHead reads the chain's last sequence and hash.
func auditHead(tx *bolt.Tx) (uint64, []byte) {
	v := tx.Bucket(bucketMeta).Get(keyAuditHead)
	if len(v) != 8+sha256.Size {
		return 0, zeroHash
	}
	return binary.BigEndian.Uint64(v[:8]), bytes.Clone(v[8:])
}

func putAuditHead(tx *bolt.Tx, seq uint64, hash []byte) error {
	v := make([]byte, 8, 8+len(hash))
	binary.BigEndian.PutUint64(v, seq)
	return tx.Bucket(bucketMeta).Put(keyAuditHead, append(v, hash...))
}

func lastCheckpoint(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyAuditCheckpoint); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Append adds an entry to the chain inside tx, the transaction of what it
// records; it sets the entry's sequence (and its time when unset). Every
// AuditCheckpointEvery entries it seals a checkpoint too.
func (a *Audit) Append(tx *bolt.Tx, e *jiexuv1.AuditEntry) error {
	if err := a.append(tx, e); err != nil {
		return err
	}
	if every := uint64(a.g.cfg.AuditCheckpointEvery); every > 0 && e.GetSequence()%every == 0 {
		return a.checkpoint(tx)
	}
	return nil
}

func (a *Audit) append(tx *bolt.Tx, e *jiexuv1.AuditEntry) error {
	seq, hash := auditHead(tx)
	e.Sequence = seq + 1
	if e.At == nil {
		e.At = timestamppb.New(a.g.cfg.Now())
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketAudit).Put(seqKey(e.Sequence), data); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return putAuditHead(tx, e.Sequence, chainNext(hash, data))
}

// checkpoint seals the chain's head, unless a checkpoint already covers it.
func (a *Audit) checkpoint(tx *bolt.Tx) error {
	seq, hash := auditHead(tx)
	if seq == 0 || lastCheckpoint(tx) == seq {
		return nil
	}
	head, err := proto.MarshalOptions{Deterministic: true}.Marshal(&jiexuv1.AuditHead{Region: a.g.cfg.Region, Sequence: seq, Hash: hash})
	if err != nil {
		return err
	}
	seal, err := a.g.Signer().Seal(certs.DomainAuditCheckpoint, head)
	if err != nil {
		return err
	}
	e := &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT, Checkpoint: &jiexuv1.AuditCheckpoint{Head: head, Seal: seal}}
	if err := a.append(tx, e); err != nil {
		return err
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], e.GetSequence())
	return tx.Bucket(bucketMeta).Put(keyAuditCheckpoint, v[:])
}

// Checkpoint seals the chain's head now when entries came after the last
// checkpoint (the gateway does it every AuditCheckpointInterval).
func (a *Audit) Checkpoint() error {
	return a.g.cfg.DB.Update(a.checkpoint)
}

// run checkpoints every interval until the gateway stops.
func (a *Audit) run(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if err := a.Checkpoint(); err != nil {
				a.g.log.Error("audit checkpoint failed", "err", err)
			}
		}
	}
}

// checkpointHead verifies a checkpoint entry's seal and returns what it seals.
func checkpointHead(e *jiexuv1.AuditEntry, roots *x509.CertPool) (*jiexuv1.AuditHead, error) {
	cp := e.GetCheckpoint()
	cert, err := certs.CheckSeal(cp.GetSeal(), certs.DomainAuditCheckpoint, cp.GetHead(), roots, nil, e.GetAt().AsTime())
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d: seal: %w", e.GetSequence(), err)
	}
	h := &jiexuv1.AuditHead{}
	if err := proto.Unmarshal(cp.GetHead(), h); err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", e.GetSequence(), err)
	}
	if region, err := certs.RegionOf(cert); err != nil || region != h.GetRegion() {
		return nil, fmt.Errorf("checkpoint %d: sealed by region %q for region %s", e.GetSequence(), region, h.GetRegion())
	}
	return h, nil
}

// checkEntrySeals verifies the seals an entry carries: its message's
// sender's, and the receipt's (a peer's for RECEIPT, this node's for
// MESSAGE_IN), against the CA as of when they were made.
func checkEntrySeals(e *jiexuv1.AuditEntry, roots *x509.CertPool, sent map[string][]byte) error {
	switch e.GetKind() {
	case jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_OUT, jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_IN:
		m, err := checkSealedMessage(e.GetMethod(), e.GetMessage(), roots)
		if err != nil {
			return fmt.Errorf("entry %d: message %s: %w", e.GetSequence(), e.GetMessageId(), err)
		}
		digest, err := messageDigest(m)
		if err != nil {
			return err
		}
		if e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_OUT {
			if sent != nil {
				sent[e.GetMessageId()] = digest
			}
			return nil
		}
		// This node's own receipt, under this node's checkpoints: any region
		// (a node whose code changed seals with its new certificate).
		if _, err := checkReceipt(e.GetReceipt(), anyNode, e.GetMessageId(), digest, chainTo(roots)); err != nil {
			return fmt.Errorf("entry %d: this node's receipt: %w", e.GetSequence(), err)
		}
	case jiexuv1.AuditKind_AUDIT_KIND_RECEIPT:
		digest := e.GetReceipt().GetMessageDigest()
		if sent != nil {
			if d, ok := sent[e.GetMessageId()]; ok {
				digest = d // the message is in hand: the receipt must be for it
			}
		}
		peer := func(region string) bool { return region == e.GetPeerRegion() }
		if _, err := checkReceipt(e.GetReceipt(), peer, e.GetMessageId(), digest, chainTo(roots)); err != nil {
			return fmt.Errorf("entry %d: %s's receipt: %w", e.GetSequence(), e.GetPeerRegion(), err)
		}
	}
	return nil
}

// VerifyAudit walks the whole chain in tx and reports it: every entry in
// sequence, every checkpoint's seal matching the chain before it, every
// message's and receipt's seal, and the stored head matching the entries.
// The report's Problem says what is wrong, if anything.
func VerifyAudit(tx *bolt.Tx, ca *x509.Certificate) *jiexuv1.VerifyAuditResponse {
	r := &jiexuv1.VerifyAuditResponse{}
	b := tx.Bucket(bucketAudit)
	if b == nil {
		return r
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	hash := zeroHash
	sent := map[string][]byte{}
	fail := func(format string, args ...any) *jiexuv1.VerifyAuditResponse {
		r.Problem = fmt.Sprintf(format, args...)
		return r
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		want := r.GetEntries() + 1
		if len(k) != 8 || binary.BigEndian.Uint64(k) != want {
			return fail("entry %d missing: the next key is %x", want, k)
		}
		e := &jiexuv1.AuditEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return fail("entry %d does not decode: %v", want, err)
		}
		if r.Kinds == nil {
			r.Kinds = map[string]uint64{}
		}
		r.Kinds[strings.ToLower(strings.TrimPrefix(e.GetKind().String(), "AUDIT_KIND_"))]++
		if e.GetSequence() != want {
			return fail("entry %d holds entry %d: entries were moved", want, e.GetSequence())
		}
		if e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT {
			h, err := checkpointHead(e, roots)
			if err != nil {
				return fail("%v", err)
			}
			// A node whose code changed seals later checkpoints as its new
			// region: each checkpoint is checked for the chain, not the code.
			if h.GetSequence() != want-1 || !bytes.Equal(h.GetHash(), hash) {
				return fail("checkpoint %d seals entry %d of region %s with another hash than the entries before it give: an entry up to %d was changed, removed or reordered",
					want, h.GetSequence(), h.GetRegion(), want-1)
			}
			r.Checkpoints++
			r.LastCheckpoint = want - 1
		} else if err := checkEntrySeals(e, roots, sent); err != nil {
			return fail("%v", err)
		}
		hash = chainNext(hash, v)
		r.Entries = want
	}
	seq, stored := auditHead(tx)
	if seq != r.GetEntries() || !bytes.Equal(stored, hash) {
		return fail("the store's chain head is entry %d, the entries end at %d with another hash: entries after %d were changed or removed",
			seq, r.GetEntries(), r.GetLastCheckpoint())
	}
	if last := lastCheckpoint(tx); last > r.GetEntries() {
		return fail("the last checkpoint was entry %d but the chain ends at %d: it was cut short", last, r.GetEntries())
	}
	return r
}

// ExportCase returns the evidence for one case: the chain from the
// checkpoint before its first entry (or the start) to a checkpoint after its
// last one (sealed now if need be), its entries and the checkpoints in full,
// every other entry as a digest.
func (a *Audit) ExportCase(caseID string) (*jiexuv1.AuditExport, error) {
	if err := a.Checkpoint(); err != nil {
		return nil, err
	}
	x := &jiexuv1.AuditExport{CaseId: caseID, Region: a.g.cfg.Region, StartHash: zeroHash, ExportedAt: timestamppb.New(a.g.cfg.Now())}
	err := a.g.cfg.DB.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var first, last, start uint64
		var startHash []byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e := &jiexuv1.AuditEntry{}
			if err := proto.Unmarshal(v, e); err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			switch {
			case e.GetCaseId() == caseID:
				if first == 0 {
					first = e.GetSequence()
				}
				last = e.GetSequence()
			case e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT && first == 0:
				h := &jiexuv1.AuditHead{}
				if err := proto.Unmarshal(e.GetCheckpoint().GetHead(), h); err != nil {
					return err
				}
				start, startHash = h.GetSequence(), h.GetHash()
			}
		}
		if first == 0 {
			return fmt.Errorf("%w: %s", ErrNoAuditEntries, caseID)
		}
		if start > 0 {
			x.StartSequence, x.StartHash = start, startHash
		}
		sealed := false
		for k, v := c.Seek(seqKey(x.GetStartSequence() + 1)); k != nil && !sealed; k, v = c.Next() {
			e := &jiexuv1.AuditEntry{}
			if err := proto.Unmarshal(v, e); err != nil {
				return err
			}
			l := &jiexuv1.AuditLink{Sequence: e.GetSequence()}
			if e.GetCaseId() == caseID || e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT {
				l.Entry = bytes.Clone(v)
				sealed = e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT && e.GetSequence() > last
			} else {
				d := sha256.Sum256(v)
				l.Digest = d[:]
			}
			x.Links = append(x.Links, l)
		}
		if !sealed {
			return fmt.Errorf("no checkpoint after entry %d", last)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// ExportReport is what VerifyExport found.
type ExportReport struct {
	CaseID, Region string
	// Entries are the case's entries, in order.
	Entries []*jiexuv1.AuditEntry
	// Checkpoints are the heads the export's checkpoints seal.
	Checkpoints []*jiexuv1.AuditHead
	// Links counts the export's links, case entries or not.
	Links int
}

// VerifyExport checks an export offline against the CA: it starts at the
// chain's start or at a sealed checkpoint, every link follows the one
// before, every checkpoint's seal matches the chain before it, the case's
// last entry is followed by a checkpoint, and every message and receipt
// seal verifies, each receipt for the message it names.
func VerifyExport(x *jiexuv1.AuditExport, ca *x509.Certificate) (*ExportReport, error) {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	r := &ExportReport{CaseID: x.GetCaseId(), Region: x.GetRegion(), Links: len(x.GetLinks())}
	fail := func(format string, args ...any) (*ExportReport, error) {
		return nil, fmt.Errorf("%w: %s", ErrAuditTampered, fmt.Sprintf(format, args...))
	}
	hash, seq := x.GetStartHash(), x.GetStartSequence()
	if len(hash) != sha256.Size || (seq == 0 && !bytes.Equal(hash, zeroHash)) {
		return fail("start hash %x does not begin a chain", hash)
	}
	anchored := seq == 0
	var lastCase, sealedTo uint64
	sent := map[string][]byte{}
	for i, l := range x.GetLinks() {
		if l.GetSequence() != seq+1 {
			return fail("link %d is entry %d, want %d", i, l.GetSequence(), seq+1)
		}
		seq++
		if l.GetEntry() == nil {
			if len(l.GetDigest()) != sha256.Size {
				return fail("entry %d: neither entry nor digest", seq)
			}
			hash = chainNextDigest(hash, l.GetDigest())
			continue
		}
		e := &jiexuv1.AuditEntry{}
		if err := proto.Unmarshal(l.GetEntry(), e); err != nil {
			return fail("entry %d does not decode: %v", seq, err)
		}
		if e.GetSequence() != seq {
			return fail("entry %d holds entry %d", seq, e.GetSequence())
		}
		if e.GetKind() == jiexuv1.AuditKind_AUDIT_KIND_CHECKPOINT {
			h, err := checkpointHead(e, roots)
			if err != nil {
				return fail("%v", err)
			}
			if h.GetSequence() != seq-1 || !bytes.Equal(h.GetHash(), hash) {
				return fail("checkpoint %d does not seal the chain before it", seq)
			}
			if i == 0 {
				anchored = true
			}
			sealedTo = seq - 1
			r.Checkpoints = append(r.Checkpoints, h)
		} else {
			if e.GetCaseId() != x.GetCaseId() {
				return fail("entry %d is of case %s, not %s", seq, e.GetCaseId(), x.GetCaseId())
			}
			if err := checkEntrySeals(e, roots, sent); err != nil {
				return fail("%v", err)
			}
			lastCase = seq
			r.Entries = append(r.Entries, e)
		}
		hash = chainNext(hash, l.GetEntry())
	}
	switch {
	case !anchored:
		return fail("the export starts at entry %d without the checkpoint that seals it", x.GetStartSequence()+1)
	case len(r.Entries) == 0:
		return fail("no entry of case %s", x.GetCaseId())
	case sealedTo < lastCase:
		return fail("no checkpoint seals entry %d, the case's last", lastCase)
	}
	return r, nil
}

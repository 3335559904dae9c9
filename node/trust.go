package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// errNoSuchCertificate is the one answer to a look-up that finds nothing:
// a wrong number and a wrong ID number look the same.
var errNoSuchCertificate = fmt.Errorf("%w: no certificate with this number, ID number and verification code was issued here: check all three against the person's copy", ErrNotFound)

// lookupCertificate answers a look-up by certificate number and ID number
// (the person's consent: who knows both): the certificate when this node
// issued it to that person, else errNoSuchCertificate, whichever of the two
// was wrong; the seal is verified only for a match. Every look-up is logged
// with its caller, the number and the masked ID number.
func (n *Node) lookupCertificate(caller, number, id, code string) (*storedCertificate, error) {
	var got *storedCertificate
	err := n.db.View(func(tx *bolt.Tx) error {
		sealed, err := getCertificate(tx, number)
		if err != nil || sealed == nil {
			return err
		}
		c := &jiexuv1.Certificate{}
		if err := proto.Unmarshal(sealed.GetCertificate(), c); err != nil {
			return err
		}
		if c.GetPerson().GetIdNumber() == id && n.same(c.GetOriginRegion(), n.cfg.Region) && issuedCode(tx, number, sealed, code) {
			got = &storedCertificate{sealed: sealed}
			got.voidedOn, got.voidReason = certificateVoided(tx, number)
		}
		return nil
	})
	if err == nil && got == nil {
		err = errNoSuchCertificate
	}
	if err == nil {
		if got.cert, err = VerifyCertificate(got.sealed, n.ca, nil); err != nil {
			err = fmt.Errorf("stored certificate %s fails verification: %w", number, err)
		}
	}
	n.logLookup(caller, number, id, "", err)
	if err != nil {
		return nil, err
	}
	return got, nil
}

// issuedCode reports whether code is the verification code of the stored
// certificate or of an earlier version of it (a copy from before a 补办):
// the person's consent to a look-up.
func issuedCode(tx *bolt.Tx, number string, current *jiexuv1.SealedCertificate, code string) bool {
	if sameCode(code, rules.VerificationCode(current)) {
		return true
	}
	c := tx.Bucket(bucketCertificateHistory).Cursor()
	prefix := []byte(number + "#")
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		old := &jiexuv1.SealedCertificate{}
		if proto.Unmarshal(v, old) == nil && sameCode(code, rules.VerificationCode(old)) {
			return true
		}
	}
	return false
}

// auditLookup appends to the audit trail that a peer was given a
// certificate: who, which, for whom (masked).
func (n *Node) auditLookup(peer, number, id string) error {
	return n.gw.Update(func(tx *bolt.Tx) error {
		return n.gw.Audit().Append(tx, &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_LOOKUP, PeerRegion: peer,
			Detail: rules.Clip(number, 64) + " " + rules.MaskID(id)})
	})
}

// logLookup leaves the line every certificate look-up leaves, here or at
// the issuer: who asked, for which number, the masked ID number, the
// answer.
func (n *Node) logLookup(caller, number, id, issuer string, err error) {
	answer := "found"
	if err != nil {
		answer = "not found"
		if !errors.Is(err, ErrNotFound) {
			answer = "error"
		}
	}
	n.log.Info("certificate look-up", "caller", caller, "number", rules.Clip(number, 64), "id", rules.MaskID(id), "issuer", issuer, "answer", answer)
}

// peerCaller names a peer for the look-up log.
func peerCaller(ctx context.Context) string {
	return "peer " + peerKey(ctx)
}

// operatorCaller names an operator for the look-up log.
func operatorCaller(ctx context.Context) string {
	op, _ := OperatorFrom(ctx)
	return "operator " + op.String()
}

// verifyDelivered checks a certificate another node delivered: its seal
// against the CA and the current revocation list (VerifyCertificate), and
// its sealer against the snapshot, which must list the sealing certificate
// when it pins fingerprints for the region.
func (n *Node) verifyDelivered(sc *jiexuv1.SealedCertificate) (*jiexuv1.Certificate, error) {
	c, err := VerifyCertificate(sc, n.ca, n.gw.Directory().Revoked())
	if err != nil {
		return nil, err
	}
	signer, err := certs.SignerCertificate(sc.GetSeal()) // checked by VerifyCertificate
	if err != nil {
		return nil, err
	}
	if err := n.gw.Directory().CheckSealer(signer); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return c, nil
}

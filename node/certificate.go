package node

import (
	"crypto/x509"
	"fmt"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// SealCertificate encodes and seals a certificate.
func SealCertificate(s *certs.Signer, c *jiexuv1.Certificate) (*jiexuv1.SealedCertificate, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, err
	}
	seal, err := s.Seal(certs.DomainCertificate, data)
	if err != nil {
		return nil, err
	}
	return &jiexuv1.SealedCertificate{Certificate: data, Seal: seal}, nil
}

// VerifyCertificate checks a sealed certificate offline: the seal over its
// exact bytes, the issuing node's certificate chaining to the CA as of the
// issue time (so it still verifies years later), that the issuer is the
// origin region the certificate names, and that its amounts and number agree
// with themselves. revoked may be nil.
func VerifyCertificate(sc *jiexuv1.SealedCertificate, ca *x509.Certificate, revoked *certs.Revoked) (*jiexuv1.Certificate, error) {
	c := &jiexuv1.Certificate{}
	if err := proto.Unmarshal(sc.GetCertificate(), c); err != nil {
		return nil, fmt.Errorf("certificate bytes: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	at := c.GetIssuedAt().AsTime()
	signer, err := certs.CheckSeal(sc.GetSeal(), certs.DomainCertificate, sc.GetCertificate(), roots, revoked, at)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	region, err := certs.RegionOf(signer)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if region != c.GetOriginRegion() {
		return nil, fmt.Errorf("sealed by region %s but names origin %s", region, c.GetOriginRegion())
	}
	words, err := rules.AmountWords(c.GetBalanceFen())
	if err != nil || words != c.GetBalanceWords() || rules.AmountFigures(c.GetBalanceFen()) != c.GetBalanceFigures() {
		return nil, fmt.Errorf("balance %d fen disagrees with its words %q or figures %q", c.GetBalanceFen(), c.GetBalanceWords(), c.GetBalanceFigures())
	}
	num, err := rules.ParseCertNumber(c.GetNumber())
	if err != nil || num.Year != int(c.GetYear()) || num.Serial != c.GetSerial() {
		return nil, fmt.Errorf("number %q disagrees with year %d serial %d", c.GetNumber(), c.GetYear(), c.GetSerial())
	}
	return c, nil
}

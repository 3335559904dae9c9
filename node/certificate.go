package node

import (
	"crypto/x509"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	if err := checkFigures(c); err != nil {
		return nil, err
	}
	return c, nil
}

// issueCertificate numbers, fills and seals the certificate of a period at
// its suspension, and stores it. The serial is allocated in the caller's
// transaction, so it never repeats and never skips. The certificate names no
// destination: it is the person's record of rights, issued before anyone
// knows where the person goes.
func (n *Node) issueCertificate(tx *bolt.Tx, e *jiexuv1.Enrolment, p *jiexuv1.Period, joined bool, now time.Time) (*jiexuv1.SealedCertificate, *jiexuv1.Certificate, error) {
	year := now.In(rules.CST).Year()
	serial, err := nextCounter(tx, fmt.Sprintf("cert/%d", year))
	if err != nil {
		return nil, nil, err
	}
	if serial > math.MaxUint32 {
		return nil, nil, fmt.Errorf("certificate serials for %d exhausted", year)
	}
	abbrev, err := n.divisions().Abbrev(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	short, err := n.divisions().ShortName(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	full, err := n.divisions().FullName(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	words, err := rules.AmountWords(p.GetBalanceFen())
	if err != nil {
		return nil, nil, err
	}
	on := rules.DateTime(p.GetSuspendedOn())
	registerBy, certain := n.cal.RegisterBy(on)
	from, to := p.GetEnrolledFrom(), p.GetEnrolledTo()
	// Employee years recognised here travel on (2015 §3), through resident
	// and NCMS periods too, where they count in no scheme.
	months, recognised := p.GetMonthsPaid(), p.GetMonthsRecognised()
	if p.GetScheme() == jiexuv1.Scheme_SCHEME_EMPLOYEE {
		months += recognised
	}
	// 待遇享受起止时间: from the first month of benefits, where known, to
	// the end of the last month; unknown (printed —) otherwise.
	var benefitFrom, benefitTo *jiexuv1.Date
	if b := p.GetBenefitsFrom(); b != nil && rules.MonthIndex(b) <= rules.MonthIndex(to) {
		benefitFrom = &jiexuv1.Date{Year: b.GetYear(), Month: b.GetMonth(), Day: 1}
		benefitTo = rules.DateOf(time.Date(int(to.GetYear()), time.Month(to.GetMonth())+1, 0, 0, 0, 0, 0, rules.CST))
	}
	if joined { // enrolled already: no window to register in
		registerBy, certain = time.Time{}, true
	}
	continuous := p.GetContinuousFrom()
	if continuous == nil {
		continuous = from
	}
	cert := &jiexuv1.Certificate{
		Number:              rules.FormatCertNumber(abbrev, short, year, uint32(serial)),
		Year:                int32(year),
		Serial:              uint32(serial),
		GeneratedOn:         rules.DateOf(now),
		Person:              e.GetPerson(),
		Scheme:              p.GetScheme(),
		OriginRegion:        n.cfg.Region,
		OriginName:          full,
		OriginDivision:      p.GetDivision(),
		EnrolledFrom:        from,
		EnrolledTo:          to,
		MonthsPaid:          months,
		BalanceFen:          p.GetBalanceFen(),
		BalanceWords:        words,
		BalanceFigures:      rules.AmountFigures(p.GetBalanceFen()),
		AgencyName:          n.cfg.AgencyName,
		AgencyKind:          n.kind,
		AgencyContact:       n.contact,
		BenefitFrom:         benefitFrom,
		BenefitTo:           benefitTo,
		RegisterBy:          dateOrNil(registerBy),
		RegisterByUncertain: !certain,
		SuspendedOn:         p.GetSuspendedOn(),
		IssuedAt:            timestamppb.New(now),
		ContinuousFrom:      continuous,
		MonthsRecognised:    recognised,
		EndedOnJoining:      joined,
	}
	sealed, err := SealCertificate(n.gw.Signer(), cert)
	if err != nil {
		return nil, nil, err
	}
	if err := putProto(tx, bucketCertificates, []byte(cert.GetNumber()), sealed); err != nil {
		return nil, nil, err
	}
	tx.OnCommit(func() { n.metrics.certificates.Inc() })
	return sealed, cert, nil
}

// checkFigures refuses a certificate whose figures cannot be true, whoever
// sealed it: an unknown scheme, months paid beyond the person's age, or
// recognised months beyond the months paid.
func checkFigures(c *jiexuv1.Certificate) error {
	switch c.GetScheme() {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT, jiexuv1.Scheme_SCHEME_NCMS:
	default:
		return fmt.Errorf("scheme %v is not a scheme", c.GetScheme())
	}
	at := c.GetIssuedAt().AsTime()
	if most := rules.MonthsSinceBirth(c.GetPerson().GetIdNumber(), at); c.GetMonthsPaid() < 0 || int(c.GetMonthsPaid()) > most {
		return fmt.Errorf("months paid %d: the person was born %d months before the certificate", c.GetMonthsPaid(), most)
	}
	if cf := c.GetContinuousFrom(); cf != nil {
		born := rules.MonthIndex(rules.YearMonthOf(at)) - rules.MonthsSinceBirth(c.GetPerson().GetIdNumber(), at)
		if rules.MonthIndex(cf) < born || c.GetEnrolledFrom() != nil && rules.MonthIndex(cf) > rules.MonthIndex(c.GetEnrolledFrom()) {
			return fmt.Errorf("continuous_from %04d-%02d: before the person was born or after enrolled_from", cf.GetYear(), cf.GetMonth())
		}
	}
	switch r := c.GetMonthsRecognised(); {
	case r < 0:
		return fmt.Errorf("months recognised %d is negative", r)
	case c.GetScheme() == jiexuv1.Scheme_SCHEME_EMPLOYEE && r > c.GetMonthsPaid():
		return fmt.Errorf("months recognised %d exceed the months paid %d", r, c.GetMonthsPaid())
	case int(r) > rules.MonthsSinceBirth(c.GetPerson().GetIdNumber(), at):
		return fmt.Errorf("months recognised %d: more than the person's age in months", r)
	}
	return nil
}

// dateOrNil is t's date, or nil for the zero time.
func dateOrNil(t time.Time) *jiexuv1.Date {
	if t.IsZero() {
		return nil
	}
	return rules.DateOf(t)
}

package node

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// ErrCertNumber is returned for a malformed certificate number.
var ErrCertNumber = errors.New("certificate number must look like 蒙呼和浩特2025第00042号")

// FormatCertNumber writes （省简称）（统筹区名）年份（第NNNNN号）.
func FormatCertNumber(abbrev, region string, year int, serial uint32) string {
	return fmt.Sprintf("%s%s%04d第%05d号", abbrev, region, year, serial)
}

// CertNumber is a parsed certificate number.
type CertNumber struct {
	Abbrev, Region string
	Year           int
	Serial         uint32
}

// ParseCertNumber reads a certificate number written by FormatCertNumber.
func ParseCertNumber(s string) (CertNumber, error) {
	var n CertNumber
	if !utf8.ValidString(s) || !strings.HasSuffix(s, "号") {
		return n, ErrCertNumber
	}
	body := strings.TrimSuffix(s, "号")
	i := strings.LastIndex(body, "第")
	if i < 0 {
		return n, ErrCertNumber
	}
	serial := body[i+len("第"):]
	head := body[:i]
	if len(serial) != 5 || len(head) < 4 {
		return n, ErrCertNumber
	}
	sv, err := strconv.ParseUint(serial, 10, 32)
	if err != nil || sv == 0 {
		return n, ErrCertNumber
	}
	year, err := strconv.Atoi(head[len(head)-4:])
	if err != nil || year < 1990 || year > 9999 || strings.ContainsAny(head[len(head)-4:], "+-") {
		return n, ErrCertNumber
	}
	rest := head[:len(head)-4]
	abbrev, size := utf8.DecodeRuneInString(rest)
	if size == 0 || abbrev == utf8.RuneError || utf8.RuneCountInString(rest) < 3 || strings.ContainsAny(rest, "0123456789") {
		return n, ErrCertNumber
	}
	n = CertNumber{Abbrev: string(abbrev), Region: rest[size:], Year: year, Serial: uint32(sv)}
	if FormatCertNumber(n.Abbrev, n.Region, n.Year, n.Serial) != s {
		return CertNumber{}, ErrCertNumber
	}
	return n, nil
}

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
	words, err := AmountWords(c.GetBalanceFen())
	if err != nil || words != c.GetBalanceWords() || AmountFigures(c.GetBalanceFen()) != c.GetBalanceFigures() {
		return nil, fmt.Errorf("balance %d fen disagrees with its words %q or figures %q", c.GetBalanceFen(), c.GetBalanceWords(), c.GetBalanceFigures())
	}
	num, err := ParseCertNumber(c.GetNumber())
	if err != nil || num.Year != int(c.GetYear()) || num.Serial != c.GetSerial() {
		return nil, fmt.Errorf("number %q disagrees with year %d serial %d", c.GetNumber(), c.GetYear(), c.GetSerial())
	}
	return c, nil
}

// VerificationCode is a short code printed on paper copies: the first 12 hex
// digits of the seal's signature hash, grouped, so a reader can compare a
// printout with the electronic certificate from a look-up.
func VerificationCode(sc *jiexuv1.SealedCertificate) string {
	h := sha256.New()
	h.Write(sc.GetCertificate())
	h.Write(sc.GetSeal().GetSignature())
	code := strings.ToUpper(hex.EncodeToString(h.Sum(nil))[:12])
	return code[:4] + "-" + code[4:8] + "-" + code[8:]
}

func fmtDate(d *jiexuv1.Date) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%04d年%02d月%02d日", d.GetYear(), d.GetMonth(), d.GetDay())
}

func fmtYM(ym *jiexuv1.YearMonth) string {
	if ym == nil {
		return "—"
	}
	return fmt.Sprintf("%04d年%02d月", ym.GetYear(), ym.GetMonth())
}

// SchemeName is the scheme's Chinese name.
func SchemeName(s jiexuv1.Scheme) string {
	switch s {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE:
		return "城镇职工基本医疗保险"
	case jiexuv1.Scheme_SCHEME_RESIDENT:
		return "城镇居民基本医疗保险"
	case jiexuv1.Scheme_SCHEME_NCMS:
		return "新型农村合作医疗"
	}
	return "—"
}

// HouseholdName is the household type's Chinese name.
func HouseholdName(h jiexuv1.HouseholdType) string {
	switch h {
	case jiexuv1.HouseholdType_HOUSEHOLD_TYPE_AGRICULTURAL:
		return "农业"
	case jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL:
		return "非农业"
	}
	return "—"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// RenderText writes a certificate for the terminal.
func RenderText(sc *jiexuv1.SealedCertificate, c *jiexuv1.Certificate) string {
	var b strings.Builder
	title := "基本医疗保险参保(合)凭证"
	if c.GetReissue() {
		title += "（补办，" + fmtDate(c.GetReissuedOn()) + "）"
	}
	p := c.GetPerson()
	rows := [][2]string{
		{"编号", c.GetNumber()},
		{"生成日期", fmtDate(c.GetGeneratedOn())},
		{"姓名", p.GetName()},
		{"社会保障号", p.GetIdNumber()},
		{"医疗保障编号", orDash(p.GetInsuranceNumber())},
		{"户籍类型", HouseholdName(p.GetHouseholdType())},
		{"户籍所在地", orDash(p.GetHouseholdPlace())},
		{"户主姓名", orDash(p.GetHouseholdHeadName())},
		{"户主身份号码", orDash(p.GetHouseholdHeadIdNumber())},
		{"险种类型", SchemeName(c.GetScheme())},
		{"参保地", c.GetOriginName() + "（" + c.GetOriginRegion() + "）"},
		{"参保起止时间", fmtYM(c.GetEnrolledFrom()) + " 至 " + fmtYM(c.GetEnrolledTo())},
		{"累计实际缴费月数", strconv.Itoa(int(c.GetMonthsPaid()))},
		{"个人账户余额（大写）", c.GetBalanceWords()},
		{"个人账户余额（小写）", c.GetBalanceFigures()},
		{"待遇享受起止时间", fmtDate(c.GetBenefitFrom()) + " 至 " + fmtDate(c.GetBenefitTo())},
		{"须在此日前到新参保地登记", fmtDate(c.GetRegisterBy())},
		{"经办机构", c.GetAgencyName()},
		{"地址", orDash(c.GetAgencyContact().GetAddress())},
		{"邮编", orDash(c.GetAgencyContact().GetPostcode())},
		{"行政区划代码", c.GetOriginRegion()},
		{"联系电话", orDash(c.GetAgencyContact().GetPhone())},
		{"联系人", orDash(c.GetAgencyContact().GetContactPerson())},
		{"转入地", c.GetDestinationRegion()},
		{"盖章（电子签章）", sc.GetSeal().GetKeyId()[:16] + "…"},
		{"核验码", VerificationCode(sc)},
	}
	b.WriteString(title + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "  %s：%s\n", r[0], r[1])
	}
	return b.String()
}

func dateOf(t time.Time) *jiexuv1.Date {
	t = t.In(CST)
	return &jiexuv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

func yearMonthOf(t time.Time) *jiexuv1.YearMonth {
	t = t.In(CST)
	return &jiexuv1.YearMonth{Year: int32(t.Year()), Month: int32(t.Month())}
}

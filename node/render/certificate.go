package render

import (
	"fmt"
	"strconv"
	"strings"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func FmtDate(d *jiexuv1.Date) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%04d年%02d月%02d日", d.GetYear(), d.GetMonth(), d.GetDay())
}

func FmtYM(ym *jiexuv1.YearMonth) string {
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

func OrDash(s string) string {
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
		title += "（补办，" + FmtDate(c.GetReissuedOn()) + "）"
	}
	p := c.GetPerson()
	rows := [][2]string{
		{"编号", c.GetNumber()},
		{"生成日期", FmtDate(c.GetGeneratedOn())},
		{"姓名", p.GetName()},
		{"社会保障号", p.GetIdNumber()},
		{"医疗保障编号", OrDash(p.GetInsuranceNumber())},
		{"户籍类型", HouseholdName(p.GetHouseholdType())},
		{"户籍所在地", OrDash(p.GetHouseholdPlace())},
		{"户主姓名", OrDash(p.GetHouseholdHeadName())},
		{"户主身份号码", OrDash(p.GetHouseholdHeadIdNumber())},
		{"险种类型", SchemeName(c.GetScheme())},
		{"参保地", c.GetOriginName() + "（" + c.GetOriginRegion() + "）"},
		{"参保起止时间", FmtYM(c.GetEnrolledFrom()) + " 至 " + FmtYM(c.GetEnrolledTo())},
		{"累计实际缴费月数", strconv.Itoa(int(c.GetMonthsPaid()))},
		{"个人账户余额（大写）", c.GetBalanceWords()},
		{"个人账户余额（小写）", c.GetBalanceFigures()},
		{"待遇享受起止时间", FmtDate(c.GetBenefitFrom()) + " 至 " + FmtDate(c.GetBenefitTo())},
		{"须在此日前到新参保地登记", FmtDate(c.GetRegisterBy())},
		{"经办机构", c.GetAgencyName()},
		{"地址", OrDash(c.GetAgencyContact().GetAddress())},
		{"邮编", OrDash(c.GetAgencyContact().GetPostcode())},
		{"行政区划代码", c.GetOriginRegion()},
		{"联系电话", OrDash(c.GetAgencyContact().GetPhone())},
		{"联系人", OrDash(c.GetAgencyContact().GetContactPerson())},
		{"转入地", c.GetDestinationRegion()},
		{"盖章（电子签章）", sc.GetSeal().GetKeyId()[:16] + "…"},
		{"核验码", rules.VerificationCode(sc)},
	}
	b.WriteString(title + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "  %s：%s\n", r[0], r[1])
	}
	return b.String()
}

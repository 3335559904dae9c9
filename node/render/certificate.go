package render

import (
	"fmt"
	"strconv"
	"strings"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// FmtDate writes a date as 2026年11月25日, or — when unset.
func FmtDate(d *jiexuv1.Date) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%04d年%02d月%02d日", d.GetYear(), d.GetMonth(), d.GetDay())
}

// FmtYM writes a month as 2026年11月, or — when unset.
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

// OrDash writes — for an empty field.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// The 2015 template's title, filling notes and notes to the holder
// (人社部发〔2015〕80号 附件), word for word, and the 2009 template's note on
// the three parts (人社部发〔2009〕191号 附件, 注意事项 2).
const (
	CertificateTitle = "基本医疗保障参保（合）凭证"
	fillNote1        = "①尚未将社会保障号作为职工基本医疗保险、城镇居民基本医疗保险参保人唯一识别码的统筹地区填写医疗保险编号。"
	fillNote2        = "②此表由参保人转出地社会保险经办机构提供。"
	supervisedBy     = "人力资源和社会保障部、国家卫生和计划生育委员会监制"
	threePartsNote   = "本凭证一式三联。第一联用于参保（合）人员办理医疗保障关系转移手续，第二联由原参保（合）统筹地区经办机构存档备查；第三联由参保（合）人员自己留存。"
	// ncmsCardNote is the 2009 template's note on the NCMS card number,
	// printed on an NCMS certificate.
	ncmsCardNote = "＊尚未将身份证号码作为新型农村合作医疗参合人员唯一身份识别码的统筹地区填写新型农村合作医疗卡证号。"
)

// CertificateNotes are the template's 注意事项 1–4.
var CertificateNotes = []string{
	"1、本凭证是根据国家有关规定制发，是参保的权益记录以及申请办理基本医疗保险关系转移接续的重要凭证，请妥善保存。",
	"2、跨统筹地区流动就业人员，有接收单位的，将此凭证交由单位按照规定办理参保手续。",
	"3、其他跨统筹地区流动就业人员，应携带此凭证及有效证件在3个月内到指定办理机构办理相关登记手续。",
	"4、本凭证如不慎遗失，请与出具此凭证的社会保险经办机构联系，申请补办。",
}

// certificateView is a certificate's fields as the template prints them.
type certificateView struct {
	C                                    *jiexuv1.Certificate
	P                                    *jiexuv1.Person
	Contact                              *jiexuv1.Contact
	Number, GeneratedOn, ReissuedOn      string
	Household, Scheme, From, To          string
	BenefitFrom, BenefitTo               string
	SuspendedOn, RegisterBy, Code, KeyID string
	Months, MonthsNote                   string
	ContinuousFrom, NCMSNote             string
	Notes                                []string
	FillNotes                            []string
	SupervisedBy, ThreeParts, Title      string
	Parts                                []certPart
}

func viewOf(sc *jiexuv1.SealedCertificate, c *jiexuv1.Certificate) certificateView {
	keyID := sc.GetSeal().GetKeyId()
	if len(keyID) > 16 {
		keyID = keyID[:16]
	}
	registerBy := FmtDate(c.GetRegisterBy())
	if c.GetRegisterByUncertain() {
		registerBy += "（该年节假日安排未公布，遇节假日顺延）"
	}
	if c.GetEndedOnJoining() {
		registerBy = "—（已参加城镇基本医疗保险，原参保（合）关系自动终止，无需另行登记）"
	}
	months, monthsNote := strconv.Itoa(int(c.GetMonthsPaid())), ""
	if r := c.GetMonthsRecognised(); r > 0 {
		if c.GetScheme() == jiexuv1.Scheme_SCHEME_EMPLOYEE {
			monthsNote = fmt.Sprintf("（其中转入认定%d月）", r)
		} else {
			monthsNote = fmt.Sprintf("（另有职工医保缴费年限认定%d月，随关系转移）", r)
		}
	}
	continuous := ""
	if cf := c.GetContinuousFrom(); cf != nil && (cf.GetYear() != c.GetEnrolledFrom().GetYear() || cf.GetMonth() != c.GetEnrolledFrom().GetMonth()) {
		continuous = FmtYM(cf)
	}
	ncmsNote := ""
	if c.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		ncmsNote = ncmsCardNote
	}
	return certificateView{
		C: c, P: c.GetPerson(), Contact: c.GetAgencyContact(),
		Number: c.GetNumber(), GeneratedOn: FmtDate(c.GetGeneratedOn()), ReissuedOn: FmtDate(c.GetReissuedOn()),
		Household: HouseholdName(c.GetPerson().GetHouseholdType()), Scheme: SchemeName(c.GetScheme()),
		From: FmtYM(c.GetEnrolledFrom()), To: FmtYM(c.GetEnrolledTo()),
		BenefitFrom: FmtDate(c.GetBenefitFrom()), BenefitTo: FmtDate(c.GetBenefitTo()),
		SuspendedOn: FmtDate(c.GetSuspendedOn()), RegisterBy: registerBy,
		Code: rules.VerificationCode(sc), KeyID: keyID,
		Notes: CertificateNotes, FillNotes: []string{fillNote1, fillNote2},
		SupervisedBy: supervisedBy, ThreeParts: threePartsNote, Title: CertificateTitle, Parts: certParts,
		Months: months, MonthsNote: monthsNote, ContinuousFrom: continuous, NCMSNote: ncmsNote,
	}
}

// RenderText writes a certificate for the terminal, with the 2015
// template's labels, the 2009 template's household head and benefit period,
// and what the electronic certificate adds (the day of suspension, the last
// day to register, the verification code and the seal's key).
func RenderText(sc *jiexuv1.SealedCertificate, c *jiexuv1.Certificate) string {
	v := viewOf(sc, c)
	var b strings.Builder
	title := v.Title
	if c.GetReissue() {
		title += "（补办，" + v.ReissuedOn + "）"
	}
	b.WriteString(title + "\n")
	fmt.Fprintf(&b, "凭证号：%s　　生成日期：%s\n", v.Number, v.GeneratedOn)
	section := func(name string, rows [][2]string) {
		b.WriteString("【" + name + "】\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "  %s：%s\n", r[0], r[1])
		}
	}
	p, ct := v.P, v.Contact
	section("基本信息", [][2]string{
		{"参保人姓名", p.GetName()},
		{"身份证号(社会保障号)", p.GetIdNumber()},
		{"医疗保障编号", OrDash(p.GetInsuranceNumber())},
		{"户籍类型", v.Household},
		{"户籍所在地", OrDash(p.GetHouseholdPlace())},
		{"户主姓名", OrDash(p.GetHouseholdHeadName())},
		{"户主身份证号", OrDash(p.GetHouseholdHeadIdNumber())},
	})
	section("参保信息", [][2]string{
		{"基本医疗保险类型", v.Scheme},
		{"转出地", c.GetOriginName() + "（" + c.GetOriginRegion() + "）"},
		{"参保（合）时间", "起：" + v.From + "　止：" + v.To + "　其中累计实际缴费月数 " + v.Months + " 月" + v.MonthsNote},
		{"待遇享受起止时间", "起：" + v.BenefitFrom + "　止：" + v.BenefitTo},
		{"个人账户余额", "(大写) " + c.GetBalanceWords() + "　(小写) " + c.GetBalanceFigures()},
	})
	section("转出地社会医疗保险信息 (盖章)", [][2]string{
		{"机构名称", c.GetAgencyName()},
		{"地址", OrDash(ct.GetAddress())},
		{"邮政编码", OrDash(ct.GetPostcode())},
		{"行政区划代码", c.GetOriginRegion()},
		{"联系电话", OrDash(ct.GetPhone())},
		{"联系人", OrDash(ct.GetContactPerson())},
		{"盖章", "电子签章 " + v.KeyID + "…"},
	})
	info := [][2]string{
		{"中止参保日期", v.SuspendedOn},
		{"最迟登记日（中止参保之日起3个月）", v.RegisterBy},
	}
	if v.ContinuousFrom != "" {
		info = append(info, [2]string{"连续参保起始", v.ContinuousFrom})
	}
	section("电子凭证信息", append(info, [2]string{"核验码", v.Code}))
	b.WriteString("填表说明：" + strings.Join(v.FillNotes, " ") + "\n")
	if v.NCMSNote != "" {
		b.WriteString(v.NCMSNote + "\n")
	}
	b.WriteString("注意事项：\n")
	for _, n := range v.Notes {
		b.WriteString("  " + n + "\n")
	}
	b.WriteString(v.SupervisedBy + "\n")
	return b.String()
}

package render

import (
	"bytes"
	"html/template"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// certPart is one of the three parts of a paper copy (一式三联).
type certPart struct {
	Title, Note string
}

var certParts = []certPart{
	{"第一联 转移接续联", "此联随转移接续信息交转入地经办机构"},
	{"第二联 转出地存档联", "此联由转出地经办机构存档备查"},
	{"第三联 参保人留存联", "此联由参保人留存，请妥善保管"},
}

var certTemplate = template.Must(template.New("cert").Funcs(template.FuncMap{"dash": OrDash}).Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>基本医疗保险参保(合)凭证 {{.C.Number}}</title>
<style>
  @page { size: A4; margin: 12mm; }
  body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "WenQuanYi Zen Hei", "SimSun", serif; color: #000; margin: 0; }
  .part { page-break-after: always; border: 1px solid #000; padding: 10mm 12mm; margin: 0 auto 8mm; max-width: 180mm; position: relative; }
  .part:last-child { page-break-after: auto; }
  h1 { text-align: center; font-size: 20pt; letter-spacing: 2pt; margin: 0 0 2mm; }
  .sub { display: flex; justify-content: space-between; font-size: 10.5pt; margin-bottom: 3mm; }
  .reissue { color: #b00; font-weight: bold; text-align: center; margin-bottom: 2mm; }
  table { width: 100%; border-collapse: collapse; font-size: 10.5pt; }
  td, th { border: 1px solid #000; padding: 2mm 2.5mm; vertical-align: middle; }
  th { font-weight: normal; background: #f3f3f3; white-space: nowrap; width: 18%; text-align: left; }
  .amount { font-weight: bold; }
  td.sealcell { position: relative; height: 30mm; }
  .seal { position: absolute; left: 50%; top: 50%; width: 30mm; height: 30mm; margin: -15mm 0 0 -15mm; border: 2px solid #c00; border-radius: 50%;
          color: #c00; display: flex; align-items: center; justify-content: center; text-align: center; font-size: 7pt; transform: rotate(-12deg); opacity: .85; }
  .foot { font-size: 9pt; margin-top: 3mm; display: flex; justify-content: space-between; }
  .code { font-family: monospace; font-size: 12pt; letter-spacing: 1pt; }
  .notes { font-size: 8.5pt; margin-top: 2mm; line-height: 1.5; }
  .parttitle { position: absolute; top: 3mm; right: 6mm; font-size: 9pt; }
</style>
</head>
<body>
{{range .Parts}}
<section class="part">
  <div class="parttitle">{{.Title}}</div>
  <h1>基本医疗保险参保(合)凭证</h1>
  {{if $.C.Reissue}}<div class="reissue">补办（{{$.ReissuedOn}}，第{{$.C.ReissueCount}}次）</div>{{end}}
  <div class="sub"><span>编号：{{$.C.Number}}</span><span>生成日期：{{$.GeneratedOn}}</span></div>
  <table>
    <tr><th>姓名</th><td>{{$.P.Name}}</td><th>社会保障号</th><td>{{$.P.IdNumber}}</td></tr>
    <tr><th>医疗保障编号</th><td>{{dash $.P.InsuranceNumber}}</td><th>户籍类型</th><td>{{$.Household}}</td></tr>
    <tr><th>户籍所在地</th><td colspan="3">{{dash $.P.HouseholdPlace}}</td></tr>
    <tr><th>户主姓名</th><td>{{dash $.P.HouseholdHeadName}}</td><th>户主身份号码</th><td>{{dash $.P.HouseholdHeadIdNumber}}</td></tr>
    <tr><th>险种类型</th><td>{{$.Scheme}}</td><th>参保地</th><td>{{$.C.OriginName}}</td></tr>
    <tr><th>参保起止时间</th><td>{{$.From}} 至 {{$.To}}</td><th>累计实际缴费月数</th><td>{{$.C.MonthsPaid}}</td></tr>
    <tr><th>待遇享受起止时间</th><td colspan="3">{{$.BenefitFrom}} 至 {{$.BenefitTo}}</td></tr>
    <tr><th>个人账户余额</th><td colspan="3" class="amount">（大写）人民币{{$.C.BalanceWords}}　　（小写）{{$.C.BalanceFigures}}</td></tr>
    <tr><th>经办机构</th><td colspan="3">{{$.C.AgencyName}}</td></tr>
    <tr><th>地址</th><td>{{dash $.Contact.Address}}</td><th>邮政编码</th><td>{{dash $.Contact.Postcode}}</td></tr>
    <tr><th>行政区划代码</th><td>{{$.C.OriginRegion}}</td><th>联系电话</th><td>{{dash $.Contact.Phone}}</td></tr>
    <tr><th>联系人</th><td>{{dash $.Contact.ContactPerson}}</td><th>经办机构（盖章）</th><td class="sealcell"><div class="seal">{{$.C.AgencyName}}<br>电子签章</div></td></tr>
  </table>
  <div class="notes">
    注：1. 参保人员中止参保关系后，无接收单位的，须在 {{$.RegisterBy}} 前到新就业地或户籍所在地经办机构办理登记手续。
    2. 本凭证以电子凭证为准；纸质凭证可凭核验码及社会保障号向出具机构核对。{{.Note}}。
  </div>
  <div class="foot"><span>核验码：<span class="code">{{$.Code}}</span></span><span>签章证书：{{$.KeyID}}</span></div>
</section>
{{end}}
</body>
</html>
`))

// RenderHTML writes a printable page of the certificate in the 2015
// template's layout, three parts (一式三联), each with the issuing agency's
// contact block and the verification code.
func RenderHTML(sc *jiexuv1.SealedCertificate, c *jiexuv1.Certificate) ([]byte, error) {
	var buf bytes.Buffer
	keyID := sc.GetSeal().GetKeyId()
	if len(keyID) > 16 {
		keyID = keyID[:16]
	}
	err := certTemplate.Execute(&buf, map[string]any{
		"C": c, "P": c.GetPerson(), "Contact": c.GetAgencyContact(), "Parts": certParts,
		"GeneratedOn": FmtDate(c.GetGeneratedOn()), "ReissuedOn": FmtDate(c.GetReissuedOn()),
		"Household": HouseholdName(c.GetPerson().GetHouseholdType()), "Scheme": SchemeName(c.GetScheme()),
		"From": FmtYM(c.GetEnrolledFrom()), "To": FmtYM(c.GetEnrolledTo()),
		"BenefitFrom": FmtDate(c.GetBenefitFrom()), "BenefitTo": FmtDate(c.GetBenefitTo()),
		"RegisterBy": FmtDate(c.GetRegisterBy()), "Code": rules.VerificationCode(sc), "KeyID": keyID,
	})
	return buf.Bytes(), err
}

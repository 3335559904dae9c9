package render

import (
	"bytes"
	"html/template"

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
<title>{{.Title}} {{.Number}}</title>
<style>
  @page { size: A4; margin: 12mm; }
  body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "WenQuanYi Zen Hei", "SimSun", serif; color: #000; margin: 0; }
  .part { page-break-after: always; border: 1px solid #000; padding: 10mm 12mm; margin: 0 auto 8mm; max-width: 180mm; position: relative; }
  .part:last-child { page-break-after: auto; }
  h1 { text-align: center; font-size: 20pt; letter-spacing: 2pt; margin: 0 0 2mm; }
  .sub { display: flex; justify-content: space-between; font-size: 10.5pt; margin-bottom: 3mm; }
  .reissue { color: #b00; font-weight: bold; text-align: center; margin-bottom: 2mm; }
  table { width: 100%; border-collapse: collapse; font-size: 10pt; }
  td, th { border: 1px solid #000; padding: 1.6mm 2mm; vertical-align: middle; }
  th { font-weight: normal; background: #f3f3f3; white-space: nowrap; text-align: left; }
  th.section { text-align: center; letter-spacing: 6pt; background: #e6e6e6; }
  .amount { font-weight: bold; }
  td.sealcell { position: relative; height: 26mm; width: 32mm; }
  .seal { position: absolute; left: 50%; top: 50%; width: 26mm; height: 26mm; margin: -13mm 0 0 -13mm; border: 2px solid #c00; border-radius: 50%;
          color: #c00; display: flex; align-items: center; justify-content: center; text-align: center; font-size: 6.5pt; transform: rotate(-12deg); opacity: .85; }
  .foot { font-size: 9pt; margin-top: 3mm; display: flex; justify-content: space-between; }
  .code { font-family: monospace; font-size: 12pt; letter-spacing: 1pt; }
  .notes { font-size: 8.5pt; margin-top: 2mm; line-height: 1.5; }
  .notes p { margin: 0.6mm 0; }
  .supervised { text-align: right; font-size: 8.5pt; margin-top: 1mm; }
  .parttitle { position: absolute; top: 3mm; right: 6mm; font-size: 9pt; }
</style>
</head>
<body>
{{range .Parts}}
<section class="part">
  <div class="parttitle">{{.Title}}</div>
  <h1>{{$.Title}}</h1>
  {{if $.C.Reissue}}<div class="reissue">补办（{{$.ReissuedOn}}，第{{$.C.ReissueCount}}次）</div>{{end}}
  <div class="sub"><span>凭证号：{{$.Number}}</span><span>生成日期：{{$.GeneratedOn}}</span></div>
  <table>
    <tr><th class="section" colspan="6">基 本 信 息</th></tr>
    <tr><th rowspan="2">参保人</th><th>姓名</th><th>身份证号(社会保障号)</th><th>医疗保障编号</th><th colspan="2">户籍类型</th></tr>
    <tr><td>{{$.P.Name}}</td><td>{{$.P.IdNumber}}</td><td>{{dash $.P.InsuranceNumber}}</td><td colspan="2">{{$.Household}}</td></tr>
    <tr><th>户籍所在地</th><td colspan="5">{{dash $.P.HouseholdPlace}}</td></tr>
    <tr><th>户主</th><th>姓名</th><td>{{dash $.P.HouseholdHeadName}}</td><th>身份证号</th><td colspan="2">{{dash $.P.HouseholdHeadIdNumber}}</td></tr>
    <tr><th class="section" colspan="6">参 保 信 息</th></tr>
    <tr><th>基本医疗保险类型</th><td colspan="2">{{$.Scheme}}</td><th>转出地</th><td colspan="2">{{$.C.OriginName}}</td></tr>
    <tr><th>参保（合）时间</th><td>起：{{$.From}}</td><td>止：{{$.To}}</td><td colspan="3">其中累计实际缴费月数 {{$.Months}} 月{{$.MonthsNote}}</td></tr>
    <tr><th>待遇享受起止时间</th><td colspan="2">起：{{$.BenefitFrom}}</td><td colspan="3">止：{{$.BenefitTo}}</td></tr>
    <tr><th>个人账户余额</th><td colspan="3" class="amount">(大写) {{$.C.BalanceWords}}　(小写) {{$.C.BalanceFigures}}</td>
        <th>转出地社会医疗保险信息<br>(盖章)</th><td class="sealcell"><div class="seal">{{$.C.AgencyName}}<br>电子签章</div></td></tr>
    <tr><th>机构名称</th><td colspan="5">{{$.C.AgencyName}}</td></tr>
    <tr><th>地址</th><td colspan="3">{{dash $.Contact.Address}}</td><th>邮政编码</th><td>{{dash $.Contact.Postcode}}</td></tr>
    <tr><th>行政区划代码</th><td colspan="3">{{$.C.OriginRegion}}</td><th>联系电话</th><td>{{dash $.Contact.Phone}}</td></tr>
    <tr><th>联系人</th><td colspan="5">{{dash $.Contact.ContactPerson}}</td></tr>
  </table>
  <div class="notes">
    <p>填表说明：{{range $.FillNotes}}{{.}}{{end}}</p>
    {{if $.NCMSNote}}<p>{{$.NCMSNote}}</p>{{end}}
    <p>注意事项：</p>
    {{range $.Notes}}<p>{{.}}</p>{{end}}
    <p>{{$.ThreeParts}} {{.Note}}。</p>
    <p>中止参保日期：{{$.SuspendedOn}}；最迟登记日（中止参保之日起3个月）：{{$.RegisterBy}}{{if $.ContinuousFrom}}；连续参保起始：{{$.ContinuousFrom}}{{end}}。本页为电子凭证的打印件，以电子凭证为准，可凭核验码及身份证号向出具机构核对。</p>
  </div>
  <div class="supervised">{{$.SupervisedBy}}</div>
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
	err := certTemplate.Execute(&buf, viewOf(sc, c))
	return buf.Bytes(), err
}

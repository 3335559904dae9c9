package render

import (
	"strings"
	"testing"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func sampleCertificate() (*jiexuv1.SealedCertificate, *jiexuv1.Certificate) {
	words, _ := rules.AmountWords(1640902)
	c := &jiexuv1.Certificate{
		Number: "蒙呼和浩特2026第00042号", Year: 2026, Serial: 42, GeneratedOn: &jiexuv1.Date{Year: 2026, Month: 11, Day: 25},
		Person: &jiexuv1.Person{Name: "赵芳<script>alert(1)</script>", IdNumber: "150103198402262665", HouseholdType: jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL,
			HouseholdPlace: "内蒙古自治区呼和浩特市"},
		Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, OriginRegion: "150100", OriginName: "内蒙古自治区呼和浩特市",
		EnrolledFrom: &jiexuv1.YearMonth{Year: 2011, Month: 12}, EnrolledTo: &jiexuv1.YearMonth{Year: 2026, Month: 10}, MonthsPaid: 158,
		BalanceFen: 1640902, BalanceWords: words, BalanceFigures: rules.AmountFigures(1640902),
		AgencyName: "内蒙古自治区呼和浩特市医疗保险事业管理局", AgencyContact: &jiexuv1.Contact{Address: "政务服务中心", Postcode: "010000", Phone: "12393", ContactPerson: "经办窗口"},
		BenefitFrom: &jiexuv1.Date{Year: 2011, Month: 12, Day: 1}, BenefitTo: &jiexuv1.Date{Year: 2026, Month: 10, Day: 31},
		SuspendedOn: &jiexuv1.Date{Year: 2026, Month: 11, Day: 25}, RegisterBy: &jiexuv1.Date{Year: 2027, Month: 2, Day: 25},
	}
	return &jiexuv1.SealedCertificate{Seal: &jiexuv1.Seal{KeyId: strings.Repeat("ab", 32), Signature: []byte{1, 2, 3}}}, c
}

// The finding: the labels, title and notes were other text than the 2015
// template's, and 待遇享受起止时间 printed "— 至 —" for urban schemes.
func TestCertificateFollowsThe2015Template(t *testing.T) {
	sc, c := sampleCertificate()
	text := RenderText(sc, c)
	page, err := RenderHTML(sc, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"基本医疗保障参保（合）凭证", "凭证号", "生成日期", "身份证号(社会保障号)", "医疗保障编号", "户籍类型", "户籍所在地",
		"基本医疗保险类型", "转出地", "参保（合）时间", "其中累计实际缴费月数", "个人账户余额", "(大写)", "(小写)",
		"转出地社会医疗保险信息", "(盖章)", "机构名称", "地址", "邮政编码", "行政区划代码", "联系电话", "联系人",
		"填表说明", "①尚未将社会保障号作为职工基本医疗保险、城镇居民基本医疗保险参保人唯一识别码的统筹地区填写医疗保险编号。",
		"②此表由参保人转出地社会保险经办机构提供。", "注意事项",
		"人力资源和社会保障部、国家卫生和计划生育委员会监制",
		// the 2009 template's fields, kept
		"户主", "待遇享受起止时间",
		// the urban scheme's benefit period is printed, not dashes
		"2011年12月01日", "2026年10月31日",
		"壹万陆仟肆佰零玖元零贰分", "￥16,409.02", "158",
	}
	want = append(want, CertificateNotes...)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q", w)
		}
		if !strings.Contains(string(page), w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	for _, old := range []string{"险种类型", "参保(合)凭证\n", "\n  社会保障号：", "\n  编号：", "— 至 —"} {
		if strings.Contains(text, old) {
			t.Errorf("text still has the old wording %q", old)
		}
	}
	if strings.Contains(string(page), "<script>alert") {
		t.Error("a hostile name reached the page unescaped")
	}
	for _, part := range []string{"第一联", "第二联", "第三联", "一式三联"} {
		if !strings.Contains(string(page), part) {
			t.Errorf("HTML lacks %s", part)
		}
	}
}

func TestFormatCaseSaysWhereItStands(t *testing.T) {
	c := &jiexuv1.Case{CaseId: "150700-20261125-000001", Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION, State: jiexuv1.CaseState_CASE_STATE_COMPLETED,
		Person: &jiexuv1.Person{Name: "赵芳", IdNumber: "150103198402262665"}, OriginRegion: "150100", DestinationRegion: "150700",
		RegisterBy: &jiexuv1.Date{Year: 2026, Month: 9, Day: 7}, GapMonths: 5, WaitingMonths: 3, WaitingReason: "缴费中断5个月：按本统筹地区规定设待遇等待期3个月",
		DeadlineUncertain: true}
	var b strings.Builder
	FormatCase(&b, c)
	out := b.String()
	for _, w := range []string{"NO — not in time", "gap", "5 months", "waiting period", "3 months", "uncertain", "150103********2665"} {
		if !strings.Contains(out, w) {
			t.Errorf("case lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "150103198402262665") {
		t.Error("the whole ID number is printed")
	}
}

// The domain review: the months line read "147（含转入认定147月） 月";
// employee months carried through a resident period were not shown; an
// NCMS participation that ended on joining printed a window to register in.
func TestCertificateMonthsAndEndings(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(c *jiexuv1.Certificate)
		want []string
		not  []string
	}{
		{"employee with recognised months", func(c *jiexuv1.Certificate) { c.MonthsRecognised = 40 },
			[]string{"其中累计实际缴费月数 158 月（其中转入认定40月）"}, []string{"含转入认定"}},
		{"resident carrying employee months", func(c *jiexuv1.Certificate) {
			c.Scheme, c.MonthsPaid, c.MonthsRecognised = jiexuv1.Scheme_SCHEME_RESIDENT, 24, 82
		}, []string{"其中累计实际缴费月数 24 月（另有职工医保缴费年限认定82月，随关系转移）"}, nil},
		{"benefit start unknown", func(c *jiexuv1.Certificate) { c.BenefitFrom, c.BenefitTo = nil, nil },
			[]string{"起：—", "止：—"}, []string{"2011年12月01日"}},
		{"ended on joining an urban scheme", func(c *jiexuv1.Certificate) {
			c.Scheme, c.EndedOnJoining, c.RegisterBy = jiexuv1.Scheme_SCHEME_NCMS, true, nil
		}, []string{"无需另行登记"}, []string{"2027年02月25日"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, c := sampleCertificate()
			tt.edit(c)
			text := RenderText(sc, c)
			page, err := RenderHTML(sc, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) || !strings.Contains(string(page), w) {
					t.Errorf("text or HTML lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(text, w) {
					t.Errorf("text has %q", w)
				}
			}
		})
	}
}

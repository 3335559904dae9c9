package registry

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Names on certificate numbers (统筹区名).
//
// A certificate number is 省简称 + the pooling region's name as people write
// it + year + serial (蒙呼和浩特2026第00001号), and the number alone must
// find its issuer: every place in force gets a name that no other place of
// its province has. The name is the official one shortened by these rules:
//
//	official name ends in     the number writes                      e.g.                       exceptions
//	省, 自治区, 特别行政区,    the province's short name              河北, 内蒙古, 广西, 香港,   —
//	  a municipality's 市                                            北京
//	市                        the name without 市                    呼和浩特, 满洲里, 津市      —
//	地区                      the name without 地区                  大兴安岭, 喀什              —
//	盟                        the name without 盟                    阿拉善, 锡林郭勒            兴安盟 (兴安 alone is 桂林's 兴安县
//	                                                                                          and part of 大兴安岭)
//	自治州                    the place's name before its peoples    延边, 恩施, 西双版纳        海南州 (海南藏族自治州: 海南 is a
//	                                                                                          province)
//	自治县, 自治旗            the place's name before its peoples    长阳, 孟村, 莫力达瓦        the whole name when it is only the
//	                                                                                          people's: 鄂伦春自治旗, 东乡族自治县
//	县, 区                    the name without 县 or 区 when two     商水, 鼓楼, 浦东 (新区),    沛县, 城区 (one character left);
//	                          or more characters remain              神农架 (林区), 六枝 (特区)  …矿区 stays whole (井陉矿区)
//	旗                        the whole name                         土默特左旗                  —
//
// Then, within a province, where two places would get the same name:
//   - the lower-level place keeps its official name: 吉林 (吉林省) and 吉林市,
//     通化 and 通化县, 恩施 and 恩施市, 本溪 and 本溪满族自治县;
//   - places of one level are prefixed with their prefectures' names:
//     南京鼓楼 and 徐州鼓楼, 阳泉城区 and 晋城城区;
//   - and keep their official names when they share the prefecture too:
//     伊宁市 and 伊宁县.
//
// A table where this still leaves two places with one name is refused (no
// edition since 1981 needs more).

// provinceShort is each province's short name.
var provinceShort = map[string]string{
	"11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林", "23": "黑龙江",
	"31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西", "37": "山东", "41": "河南",
	"42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南", "50": "重庆", "51": "四川", "52": "贵州",
	"53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆", "71": "台湾",
	"81": "香港", "82": "澳门",
}

// peoples are the 55 minority nationalities, as division names write them
// before 族.
var peoples = strings.Fields(`蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水
	东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂
	保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺`)

// peoplesBare are the peoples some names write without 族 (博尔塔拉蒙古自治州).
var peoplesBare = []string{"蒙古", "哈萨克", "柯尔克孜", "塔吉克", "锡伯", "鄂伦春"}

// certExceptions are official names whose certificate name no rule gives.
var certExceptions = map[string]string{"兴安盟": "兴安盟", "神农架林区": "神农架", "六枝特区": "六枝"}

// placeBeforePeoples strips the trailing peoples from the part of an
// autonomous division's name before 自治州/自治县/自治旗.
func placeBeforePeoples(s string) string {
	for {
		trimmed := false
		for _, p := range peoples {
			if rest, ok := strings.CutSuffix(s, p+"族"); ok {
				s, trimmed = rest, true
				break
			}
		}
		if !trimmed {
			for _, p := range peoplesBare {
				if rest, ok := strings.CutSuffix(s, p); ok {
					s, trimmed = rest, true
					break
				}
			}
		}
		if !trimmed {
			return s
		}
	}
}

// baseCertName applies the rules of the table above to one place.
func baseCertName(code, name string, level Level) string {
	if level == LevelProvince {
		if s, ok := provinceShort[code[:2]]; ok {
			return s
		}
		for _, suffix := range []string{"特别行政区", "自治区", "省", "市"} {
			if rest, ok := strings.CutSuffix(name, suffix); ok && rest != "" {
				return placeBeforePeoples(rest)
			}
		}
		return name
	}
	if s, ok := certExceptions[name]; ok {
		return s
	}
	for _, suffix := range []string{"自治州", "自治县", "自治旗"} {
		if rest, ok := strings.CutSuffix(name, suffix); ok {
			place := placeBeforePeoples(rest)
			switch {
			case place == "":
				return name
			case suffix == "自治州" && slices.Contains(provinceNames(), place):
				return place + "州"
			}
			return place
		}
	}
	if strings.HasSuffix(name, "矿区") || strings.HasSuffix(name, "旗") {
		return name
	}
	for _, suffix := range []string{"新区", "地区", "盟", "市", "县", "区"} {
		if rest, ok := strings.CutSuffix(name, suffix); ok && utf8.RuneCountInString(rest) >= 2 {
			return rest
		}
	}
	return name
}

func provinceNames() []string {
	out := make([]string, 0, len(provinceShort))
	for _, s := range provinceShort {
		out = append(out, s)
	}
	return out
}

// nameCertificates gives every place in force its certificate name.
func (t *Table) nameCertificates() error {
	t.certName = make(map[string]string, len(t.byCode))
	for code, d := range t.byCode {
		t.certName[code] = baseCertName(code, d.Name, d.Level)
	}
	groups := map[string][]string{}
	for code, name := range t.certName {
		key := code[:2] + name
		groups[key] = append(groups[key], code)
	}
	for _, codes := range groups {
		if len(codes) < 2 {
			continue
		}
		top := LevelCounty
		for _, c := range codes {
			top = min(top, t.byCode[c].Level)
		}
		var tops []string
		for _, c := range codes {
			if d := t.byCode[c]; d.Level > top {
				t.certName[c] = d.Name
			} else {
				tops = append(tops, c)
			}
		}
		if len(tops) < 2 {
			continue
		}
		parents := map[string]int{}
		for _, c := range tops {
			parents[t.byCode[c].Parent]++
		}
		for _, c := range tops {
			d := t.byCode[c]
			if parents[d.Parent] > 1 || t.byCode[d.Parent].Level != LevelPrefecture {
				t.certName[c] = d.Name
				continue
			}
			t.certName[c] = baseCertName(d.Parent, t.byCode[d.Parent].Name, LevelPrefecture) + t.certName[c]
		}
	}
	t.byCertName = make(map[string]string, len(t.certName))
	for _, code := range t.Codes() {
		a, err := abbrevOf(code)
		if err != nil {
			return fmt.Errorf("%w: %s %s: no province abbreviation for a certificate number", ErrBadTable, code, t.byCode[code].Name)
		}
		key := a + t.certName[code]
		if other, dup := t.byCertName[key]; dup {
			return fmt.Errorf("%w: %s %s and %s %s would both number certificates %s…; a rule in certname.go must separate them",
				ErrBadTable, other, t.byCode[other].Name, code, t.byCode[code].Name, key)
		}
		t.byCertName[key] = code
	}
	return nil
}

// ShortName returns the name a place's certificate numbers carry, unique in
// its province (see the rules above): 呼和浩特市 → 呼和浩特, 延边朝鲜族自治州
// → 延边, 鼓楼区 320106 → 南京鼓楼.
func (t *Table) ShortName(code string) (string, error) {
	if _, err := t.Lookup(code); err != nil {
		return "", err
	}
	return t.certName[code], nil
}

// CertRegion returns the place in force whose certificate numbers begin
// with abbrev and name (蒙, 呼和浩特 → 150100).
func (t *Table) CertRegion(abbrev, name string) (string, bool) {
	code, ok := t.byCertName[abbrev+name]
	return code, ok
}

// formerCertName is the name a code no longer in force gave its
// certificates while it was: the rules without the uniqueness step, which
// was settled by the table of the time.
func (t *Table) formerCertName(code string) (abbrev, name string, ok bool) {
	ps := t.history[code]
	if len(ps) == 0 {
		return "", "", false
	}
	a, err := abbrevOf(code)
	if err != nil {
		return "", "", false
	}
	return a, baseCertName(code, ps[0].Name, ps[0].Level), true
}

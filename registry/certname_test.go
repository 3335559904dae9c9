package registry

import (
	"testing"
)

func TestCertNames(t *testing.T) {
	tab := DefaultTable()
	tests := []struct{ code, want, why string }{
		{"150100", "蒙呼和浩特", "市 dropped"},
		{"150781", "蒙满洲里", "county-level 市 dropped"},
		{"430781", "湘津市", "津市市: one 市 dropped"},
		{"110000", "京北京", "municipality"},
		{"150000", "蒙内蒙古", "autonomous region"},
		{"450000", "桂广西", "autonomous region with its people"},
		{"810000", "港香港", "special administrative region"},
		{"232700", "黑大兴安岭", "地区 dropped"},
		{"653100", "新喀什", "地区 dropped"},
		{"152900", "蒙阿拉善", "盟 dropped"},
		{"152500", "蒙锡林郭勒", "盟 dropped"},
		{"152200", "蒙兴安盟", "exception: 兴安 alone is ambiguous"},
		{"222400", "吉延边", "自治州: the place before its peoples"},
		{"433100", "湘湘西", "自治州 with two peoples"},
		{"532800", "云西双版纳", "自治州"},
		{"652700", "新博尔塔拉", "people written without 族"},
		{"632500", "青海南州", "exception: 海南 is a province"},
		{"420528", "鄂长阳", "自治县"},
		{"620924", "甘阿克塞", "自治县"},
		{"622927", "甘积石山", "自治县 with three peoples"},
		{"150723", "蒙鄂伦春自治旗", "the name is only the people's"},
		{"150724", "蒙鄂温克族自治旗", "the name is only the people's"},
		{"622926", "甘东乡族自治县", "the name is only the people's"},
		{"150722", "蒙莫力达瓦", "自治旗"},
		{"150121", "蒙土默特左旗", "旗 kept"},
		{"411623", "豫商水", "县 dropped"},
		{"320322", "苏沛县", "one character left: 县 kept"},
		{"140302", "晋阳泉城区", "城区: kept, then prefixed (晋城 has one)"},
		{"130107", "冀井陉矿区", "矿区 kept whole"},
		{"310115", "沪浦东", "新区 dropped"},
		{"441803", "粤清新", "清新区: 新区 would leave one character"},
		{"429021", "鄂神农架", "林区"},
		{"520203", "贵六枝", "特区"},
		{"140109", "晋万柏林", "万柏林区 is not a 林区"},
		{"320106", "苏南京鼓楼", "same name in one province: prefecture prefixed"},
		{"320302", "苏徐州鼓楼", "same name in one province: prefecture prefixed"},
		{"220000", "吉吉林", "province and prefecture share a name"},
		{"220200", "吉吉林市", "the lower keeps its official name"},
		{"220521", "吉通化县", "county shares its prefecture's name"},
		{"220500", "吉通化", "the prefecture keeps the short name"},
		{"210521", "辽本溪满族自治县", "autonomous county shares its prefecture's name"},
		{"422801", "鄂恩施市", "county-level city shares its 自治州's name"},
		{"654002", "新伊宁市", "same name, same prefecture: official names"},
		{"654021", "新伊宁县", "same name, same prefecture: official names"},
		{"330113", "浙临平", "created 2021"},
	}
	for _, tt := range tests {
		a, err := tab.Abbrev(tt.code)
		if err != nil {
			t.Errorf("Abbrev(%s): %v", tt.code, err)
			continue
		}
		name, err := tab.ShortName(tt.code)
		if err != nil || a+name != tt.want {
			t.Errorf("%s: certificate name %s%s, %v; want %s (%s)", tt.code, a, name, err, tt.want, tt.why)
		}
		if code, ok := tab.CertRegion(a, name); !ok || code != tt.code {
			t.Errorf("CertRegion(%s, %s) = %s, %v; want %s", a, name, code, ok, tt.code)
		}
	}
}

// TestCertNamesUnique checks the whole table: every place gets an
// (abbreviation, name) pair no other place has, so a certificate number
// finds its issuer.
func TestCertNamesUnique(t *testing.T) {
	tab := DefaultTable()
	seen := map[string]string{}
	for _, code := range tab.Codes() {
		a, err := tab.Abbrev(code)
		if err != nil {
			t.Fatalf("Abbrev(%s): %v", code, err)
		}
		name, _ := tab.ShortName(code)
		if name == "" {
			t.Errorf("%s has no certificate name", code)
		}
		if other, dup := seen[a+name]; dup {
			t.Errorf("%s and %s both number certificates %s%s…", other, code, a, name)
		}
		seen[a+name] = code
		if got, ok := tab.CertRegion(a, name); !ok || got != code {
			t.Errorf("CertRegion(%s%s) = %s, want %s", a, name, got, code)
		}
	}
	if len(seen) != tab.Len() {
		t.Errorf("%d names for %d places", len(seen), tab.Len())
	}
}
